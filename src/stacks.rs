//! Which runs train together: runs of a plan that differ only in initialisation seed, LR policy,
//! momentum and weight decay form stacks (see [`crate::train::stack_run`]), capped by a member
//! count and by a memory budget.

use crate::device::ComputeDevice;
use crate::error::{Error, Result};
use crate::model::Arch;
use crate::model::stacked::{is_stackable, memory::member_bytes};
use crate::recipe::{RecipeStacking, RunSpec};
use crate::train::stack_run::shared_settings;

/// Members of an MLP stack on the CPU when no size is given: measured on 2 cores (MNIST-1D MLP
/// 40-100-100-10, batch 128, `lrcast bench --arch mlp --stack …`), one model alone makes 2700–4000
/// steps/s, stacks of 8 6700–7500 model-steps/s, 16–32 7200–8200, 64 and more fall back (5800–7600:
/// their activations leave the cache).
pub const AUTO_MAX_MEMBERS_CPU: usize = 32;

/// Members of a stack on an accelerator when no size is given (small models leave a GPU idle; not
/// yet measured on one).
pub const AUTO_MAX_MEMBERS_ACCELERATOR: usize = 64;

/// Members of a stack of `arch` on `device` when no cap is given: stack only where it is faster.
/// On the CPU that is the MLP (batched matmul); grouped convolutions cost as much per member as
/// separate ones there (measured: 8 stacked MNIST-1D CNNs 768 model-steps/s against 1068 alone;
/// ResNet-8: see the README's Performance section), so convolutional runs train alone unless
/// `--stack` or the recipe's `stack` asks. On an accelerator every stackable architecture stacks
/// (small models leave a GPU idle).
fn auto_members(arch: &Arch, device: ComputeDevice) -> usize {
    match (device, arch) {
        (ComputeDevice::Cuda(_), _) => AUTO_MAX_MEMBERS_ACCELERATOR,
        (ComputeDevice::Cpu, Arch::Mlp { .. }) => AUTO_MAX_MEMBERS_CPU,
        (ComputeDevice::Cpu, _) => 1,
    }
}

/// Memory a stack may use when no budget is given, MiB.
pub const DEFAULT_MEMORY_BUDGET_MIB: u64 = 2048;

/// How stacks are formed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StackOptions {
    /// Most members per stack (`--stack`); `None`: where stacking is faster, [`AUTO_MAX_MEMBERS_CPU`]
    /// or [`AUTO_MAX_MEMBERS_ACCELERATOR`], within the budget.
    pub max_members: Option<usize>,
    /// Memory a stack may use, MiB (`--stack-memory`).
    pub memory_budget_mib: u64,
    /// `max_members` came from the recipe (`train.stack`), not the command line: messages name
    /// the key.
    pub max_members_from_recipe: bool,
}

impl Default for StackOptions {
    fn default() -> Self {
        Self {
            max_members: None,
            memory_budget_mib: DEFAULT_MEMORY_BUDGET_MIB,
            max_members_from_recipe: false,
        }
    }
}

impl StackOptions {
    /// Options from the command line where given (`--stack`, `--stack-memory`, validated as in
    /// [`StackOptions::new`]), else from the recipe (`[train] stack`, `stack_memory_mib`, validated
    /// with the plan), else the defaults.
    pub fn resolve(
        max_members: Option<usize>,
        memory_budget_mib: Option<u64>,
        recipe: &RecipeStacking,
    ) -> Result<Self> {
        let memory = memory_budget_mib
            .or(recipe.memory_budget_mib)
            .unwrap_or(DEFAULT_MEMORY_BUDGET_MIB);
        let options = Self::new(max_members.or(recipe.max_members), memory)?;
        Ok(Self {
            max_members_from_recipe: max_members.is_none() && recipe.max_members.is_some(),
            ..options
        })
    }

    /// Options from the command line: `--stack 0` and a zero budget are refused.
    pub fn new(max_members: Option<usize>, memory_budget_mib: u64) -> Result<Self> {
        if max_members == Some(0) {
            return Err(Error::BadArgument {
                flag: "--stack".into(),
                value: "0".into(),
                message: "a stack has at least one member; pass 1 to train every run alone, or \
                          leave --stack out to size stacks automatically"
                    .into(),
            });
        }
        if memory_budget_mib == 0 {
            return Err(Error::BadArgument {
                flag: "--stack-memory".into(),
                value: "0".into(),
                message: "the memory budget must be positive (MiB)".into(),
            });
        }
        Ok(Self {
            max_members,
            memory_budget_mib,
            max_members_from_recipe: false,
        })
    }
}

/// Error if a run alone would need more memory than the machine has (`MemTotal` of
/// /proc/meminfo; no check where it cannot be read): refused before training, not an abort mid-way.
fn check_host_memory(runs: &[&RunSpec]) -> Result<()> {
    let Some(total) = host_memory_bytes() else {
        return Ok(());
    };
    for run in runs {
        let bytes = member_bytes(
            &run.arch,
            &run.task.shape(),
            run.task.num_classes(),
            run.settings.batch_size,
        );
        if bytes > total {
            return Err(Error::Spec {
                context: format!(
                    "run {} (`{}` on `{}`, batch {})",
                    run.run_id,
                    run.arch.spec_string(),
                    run.task.spec_string(),
                    run.settings.batch_size
                ),
                message: format!(
                    "needs about {} MiB to train, more than this machine's {} MiB; use a smaller \
                     batch or a narrower architecture",
                    bytes >> 20,
                    total >> 20
                ),
            });
        }
    }
    Ok(())
}

/// Physical memory of this machine, bytes.
fn host_memory_bytes() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// What must be equal for two runs to share a stack.
fn stack_key(run: &RunSpec) -> String {
    let shared = shared_settings(&run.settings);
    format!(
        "{}|{:?}|{}|{:?}",
        run.task.spec_string(),
        run.validation,
        run.arch.spec_string(),
        shared
    )
}

/// Group `runs` (in order) into stacks for `device`. Runs that cannot be stacked (an architecture
/// without a stacked form) are stacks of one. An explicit `--stack K` whose stacks would exceed the
/// memory budget is refused before any work starts.
pub fn form_stacks<'a>(
    runs: &[&'a RunSpec],
    options: &StackOptions,
    device: ComputeDevice,
) -> Result<Vec<Vec<&'a RunSpec>>> {
    form_stacks_spread(runs, options, device, 1)
}

/// [`form_stacks`], splitting each group into at least `spread` stacks where it has that many
/// runs, so that `spread` workers each find a stack (a member's result does not depend on its
/// stack's size).
pub fn form_stacks_spread<'a>(
    runs: &[&'a RunSpec],
    options: &StackOptions,
    device: ComputeDevice,
    spread: usize,
) -> Result<Vec<Vec<&'a RunSpec>>> {
    if device == ComputeDevice::Cpu {
        check_host_memory(runs)?;
    }
    let mut groups: Vec<(String, Vec<&'a RunSpec>)> = Vec::new();
    for &run in runs {
        let key = stack_key(run);
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, members)) => members.push(run),
            None => groups.push((key, vec![run])),
        }
    }
    let budget = options.memory_budget_mib * 1024 * 1024;
    let mut stacks = Vec::new();
    for (_, members) in groups {
        let first = members[0];
        if !is_stackable(&first.arch) {
            stacks.extend(members.into_iter().map(|r| vec![r]));
            continue;
        }
        let shape = first.task.shape();
        let bytes = member_bytes(
            &first.arch,
            &shape,
            first.task.num_classes(),
            first.settings.batch_size,
        )
        .max(1);
        let fits = (budget / bytes).max(1) as usize;
        let cap = match options.max_members {
            Some(k) => {
                let wanted = k.min(members.len());
                if wanted > fits {
                    let size = match options.max_members_from_recipe {
                        true => "train.stack",
                        false => "--stack",
                    };
                    return Err(Error::BadArgument {
                        flag: size.into(),
                        value: k.to_string(),
                        message: format!(
                            "a stack of {wanted} `{}` runs on `{}` at batch {} needs about {} MiB, over \
                             the memory budget of {} MiB; make {size} {fits} or less, or raise the \
                             budget (--stack-memory, or train.stack_memory_mib in the recipe)",
                            first.arch.spec_string(),
                            first.task.spec_string(),
                            first.settings.batch_size,
                            (wanted as u64 * bytes).div_ceil(1024 * 1024),
                            options.memory_budget_mib
                        ),
                    });
                }
                k
            }
            None => auto_members(&first.arch, device).min(fits),
        }
        .min(members.len().div_ceil(spread.max(1)))
        .max(1);
        // Equal sizes rather than full stacks and a small remainder.
        let size = members.len().div_ceil(members.len().div_ceil(cap));
        stacks.extend(members.chunks(size).map(<[&RunSpec]>::to_vec));
    }
    Ok(stacks)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    fn default_runs() -> Vec<RunSpec> {
        crate::recipe::load_default().unwrap().runs
    }

    fn check_partition(runs: &[&RunSpec], stacks: &[Vec<&RunSpec>]) {
        let ids: Vec<&str> = stacks.iter().flatten().map(|r| r.run_id.as_str()).collect();
        let unique: HashSet<&str> = ids.iter().copied().collect();
        assert_eq!((ids.len(), unique.len()), (runs.len(), runs.len()));
        for stack in stacks {
            // Members differ in seed, policy, momentum and weight decay only.
            assert!(stack.iter().all(|r| stack_key(r) == stack_key(stack[0])));
            assert!(stack.iter().all(|r| r.arch == stack[0].arch
                && r.task.spec_string() == stack[0].task.spec_string()
                && r.settings.batch_size == stack[0].settings.batch_size
                && r.settings.data_seed == stack[0].settings.data_seed));
        }
    }

    #[test]
    fn stacks_hold_only_runs_that_differ_in_per_member_settings() {
        let runs = default_runs();
        let refs: Vec<&RunSpec> = runs.iter().collect();
        let cpu = form_stacks(&refs, &StackOptions::default(), ComputeDevice::Cpu).unwrap();
        check_partition(&refs, &cpu);
        // On the CPU the MLPs stack by 32 (2 tasks × 2 data seeds × 64 runs); CNNs train alone.
        let sizes = |stacks: &[Vec<&RunSpec>], family: &str| -> Vec<usize> {
            stacks
                .iter()
                .filter(|s| s[0].arch.family() == family)
                .map(Vec::len)
                .collect()
        };
        assert_eq!(sizes(&cpu, "mlp"), vec![32; 8]);
        assert!(sizes(&cpu, "cnn1d").iter().all(|&n| n == 1));
        let cuda = form_stacks(&refs, &StackOptions::default(), ComputeDevice::Cuda(0)).unwrap();
        check_partition(&refs, &cuda);
        assert_eq!(sizes(&cuda, "cnn1d"), vec![64, 64]);
        // An explicit size stacks convolutions too, in equal parts: 64 runs by at most 48 → 32 + 32.
        let options = StackOptions::new(Some(48), 8192).unwrap();
        let explicit = form_stacks(&refs, &options, ComputeDevice::Cpu).unwrap();
        check_partition(&refs, &explicit);
        assert!(sizes(&explicit, "cnn1d").iter().all(|&n| n == 32));
        assert!(StackOptions::new(Some(0), 1).is_err());
        // Spread over 4 workers, the MLP groups of 64 split into stacks of 16, never more runs.
        let spread =
            form_stacks_spread(&refs, &StackOptions::default(), ComputeDevice::Cpu, 4).unwrap();
        check_partition(&refs, &spread);
        assert_eq!(sizes(&spread, "mlp"), vec![16; 16]);
    }

    #[test]
    fn resnets_stack_on_cuda_and_when_asked_but_train_alone_on_the_cpu_by_default() {
        let text = r#"
[grid]
task = ["fashion10k"]
arch = ["resnet:depth=8,width=16"]
policy = ["constant", "cosine"]
base_lr = [0.01, 0.1, 1.0]
seed = [0, 1]
data_seed = [0]
"#;
        let path = std::path::Path::new("resnets.toml");
        let runs = crate::recipe::parse(text, path, "resnets").unwrap().runs;
        let refs: Vec<&RunSpec> = runs.iter().collect();
        let sizes = |options: &StackOptions, device| -> Vec<usize> {
            let stacks = form_stacks(&refs, options, device).unwrap();
            check_partition(&refs, &stacks);
            stacks.iter().map(Vec::len).collect()
        };
        let automatic = StackOptions::default();
        assert_eq!(sizes(&automatic, ComputeDevice::Cpu), vec![1; 12]);
        // About 152 MiB a member at batch 128: the default 2048 MiB holds all 12.
        assert_eq!(sizes(&automatic, ComputeDevice::Cuda(0)), vec![12]);
        let small_budget = StackOptions::new(None, 600).unwrap();
        assert_eq!(sizes(&small_budget, ComputeDevice::Cuda(0)), vec![3; 4]);
        let asked = StackOptions::new(Some(4), 2048).unwrap();
        assert_eq!(sizes(&asked, ComputeDevice::Cpu), vec![4; 3]);
        let over = StackOptions::new(Some(5), 600).unwrap();
        let err = form_stacks(&refs, &over, ComputeDevice::Cpu).unwrap_err();
        assert!(err.to_string().contains("--stack 3 or less"), "{err}");
    }
}
