//! Deterministic shards of a plan, for running one recipe on many machines with no coordination
//! but the corpus files: shard `I` of `N` (0-based) is the `I`-th of `N` contiguous, equal-sized
//! slices of the plan's run order, so the shards together are exactly the plan, and runs that stack
//! together (neighbours in the plan) mostly land in the same shard.

use crate::error::{Error, Result};

/// Shard `index` of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

fn bad(flag: &str, value: &str, message: &str) -> Error {
    Error::BadArgument {
        flag: flag.into(),
        value: value.into(),
        message: message.into(),
    }
}

impl Shard {
    /// `I/N` with `0 ≤ I < N`.
    pub fn parse(text: &str) -> Result<Self> {
        let fix = "expected I/N with 0 ≤ I < N, e.g. 0/4 for the first of four shards";
        let (i, n) = text
            .split_once('/')
            .ok_or_else(|| bad("--shard", text, fix))?;
        let (Ok(index), Ok(count)) = (i.trim().parse::<usize>(), n.trim().parse::<usize>()) else {
            return Err(bad("--shard", text, fix));
        };
        if count == 0 || index >= count {
            return Err(bad("--shard", text, fix));
        }
        Ok(Self { index, count })
    }

    /// The shard a Slurm job array task runs: `SLURM_ARRAY_TASK_ID − SLURM_ARRAY_TASK_MIN` of
    /// `SLURM_ARRAY_TASK_COUNT`, when those are set.
    pub fn from_slurm(env: impl Fn(&str) -> Option<String>) -> Result<Option<Self>> {
        let (Some(id), Some(count)) = (env("SLURM_ARRAY_TASK_ID"), env("SLURM_ARRAY_TASK_COUNT"))
        else {
            return Ok(None);
        };
        let min = env("SLURM_ARRAY_TASK_MIN").unwrap_or_else(|| "0".into());
        let number = |name: &str, v: &str| {
            v.trim().parse::<usize>().map_err(|_| {
                bad(
                    name,
                    v,
                    "not a whole number; lrcast reads the Slurm job array's task variables",
                )
            })
        };
        let (id, min, count) = (
            number("SLURM_ARRAY_TASK_ID", &id)?,
            number("SLURM_ARRAY_TASK_MIN", &min)?,
            number("SLURM_ARRAY_TASK_COUNT", &count)?,
        );
        let index = id.checked_sub(min).unwrap_or(usize::MAX);
        Self::parse(&format!("{index}/{count}")).map(Some).map_err(|_| {
            bad(
                "SLURM_ARRAY_TASK_ID",
                &id.to_string(),
                &format!(
                    "task {id} of an array starting at {min} with {count} tasks is not a shard; \
                     use a contiguous array (e.g. --array=0-{})",
                    count.saturating_sub(1)
                ),
            )
        })
    }

    /// This shard's slice of `len` items.
    pub fn range(&self, len: usize) -> std::ops::Range<usize> {
        (self.index * len / self.count)..((self.index + 1) * len / self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_partition_the_plan() {
        for len in [0, 1, 7, 12, 100] {
            for count in 1..6 {
                let mut covered = Vec::new();
                for index in 0..count {
                    covered.extend(Shard { index, count }.range(len));
                }
                assert_eq!(covered, (0..len).collect::<Vec<_>>());
            }
        }
    }

    #[test]
    fn parsing_and_slurm_variables() {
        assert_eq!(Shard::parse("1/4").unwrap(), Shard { index: 1, count: 4 });
        for bad in ["4/4", "1", "a/2", "0/0", "-1/2"] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                vars.iter()
                    .find(|(name, _)| *name == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(Shard::from_slurm(env(&[])).unwrap(), None);
        let slurm = env(&[
            ("SLURM_ARRAY_TASK_ID", "3"),
            ("SLURM_ARRAY_TASK_MIN", "1"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
        ]);
        assert_eq!(
            Shard::from_slurm(slurm).unwrap(),
            Some(Shard { index: 2, count: 4 })
        );
        let beyond = env(&[
            ("SLURM_ARRAY_TASK_ID", "9"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
        ]);
        assert!(Shard::from_slurm(beyond).is_err());
    }
}
