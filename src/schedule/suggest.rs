//! "Did you mean ...?": closest valid policy name or key by edit distance.

use super::params::policy_table;

/// The canonical policy name closest to `name` (matching canonical names and aliases,
/// case-insensitively), or `None` when nothing is plausibly close.
pub fn suggest(name: &str) -> Option<&'static str> {
    let lower = name.to_ascii_lowercase();
    let mut best: Option<(usize, &'static str)> = None;
    for info in policy_table() {
        for candidate in std::iter::once(&info.name).chain(info.aliases) {
            let d = edit_distance(&lower, candidate);
            if best.is_none_or(|(bd, _)| d < bd) {
                best = Some((d, info.name));
            }
        }
    }
    best.filter(|&(d, _)| close_enough(d, &lower))
        .map(|(_, n)| n)
}

/// The candidate closest to `word`, or `None` when nothing is plausibly close.
pub(crate) fn suggest_from(
    word: &str,
    candidates: impl IntoIterator<Item = &'static str>,
) -> Option<&'static str> {
    let lower = word.to_ascii_lowercase();
    candidates
        .into_iter()
        .map(|c| (edit_distance(&lower, c), c))
        .min_by_key(|&(d, _)| d)
        .filter(|&(d, _)| close_enough(d, &lower))
        .map(|(_, c)| c)
}

/// Allow about one typo per three characters, at least one and at most three.
fn close_enough(distance: usize, word: &str) -> bool {
    distance <= (word.chars().count() / 3).clamp(1, 3)
}

/// Optimal-string-alignment distance: Levenshtein plus adjacent transpositions (`stpe` → `step`).
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    d[0] = (0..=b.len()).collect();
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            d[i][j] = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
            }
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names() {
        assert_eq!(suggest("cosin"), Some("cosine"));
        assert_eq!(suggest("stpe"), Some("step"));
        assert_eq!(suggest("OneCycle"), Some("onecycle"));
        assert_eq!(suggest("multistpe"), Some("multistep"));
        assert_eq!(suggest("tri3"), Some("tri"));
        assert_eq!(suggest("exponentail"), Some("exp"));
        assert_eq!(suggest("zzzzzzzz"), None);
    }

    #[test]
    fn suggests_keys() {
        assert_eq!(
            suggest_from("stepsize", ["lr", "step_size", "gamma"]),
            Some("step_size")
        );
        assert_eq!(suggest_from("qq", ["lr", "gamma"]), None);
    }
}
