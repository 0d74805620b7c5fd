//! Which recipe an output folder (models/NAME, reports/NAME) was made from: a copy of the recipe
//! is kept beside the outputs, and rewriting them from an edited recipe is said, not silent.

use std::path::Path;

use sha2::{Digest, Sha256};

/// File name of the recipe copy kept in an output folder.
pub const RECIPE_COPY: &str = "recipe.toml";

/// Hex SHA-256 of a recipe's text, shortened to 12 digits for messages and reports.
pub fn recipe_hash(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .take(6)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The hash of the recipe copy in `dir`, when there is one.
pub fn hash_in(dir: &Path) -> Option<String> {
    std::fs::read_to_string(dir.join(RECIPE_COPY))
        .ok()
        .map(|text| recipe_hash(&text))
}

/// A sentence when `dir` holds outputs of a recipe other than `text` (edited since), else `None`.
/// `what` names the outputs, e.g. "models/default".
pub fn changed_since(dir: &Path, text: &str, what: &str) -> Option<String> {
    let before = hash_in(dir)?;
    let now = recipe_hash(text);
    (before != now).then(|| {
        format!(
            "note: the recipe changed since {what} was written (recipe sha256 {before} then, {now} \
             now); replacing it (the previous recipe is in {})",
            dir.join(RECIPE_COPY).display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_changed_recipe_is_named_and_an_unchanged_one_is_not() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(changed_since(dir.path(), "a = 1", "x"), None, "no copy yet");
        std::fs::write(dir.path().join(RECIPE_COPY), "a = 1").unwrap();
        assert_eq!(changed_since(dir.path(), "a = 1", "x"), None);
        let note = changed_since(dir.path(), "a = 2", "models/x").unwrap();
        assert!(
            note.contains("models/x") && note.contains(&recipe_hash("a = 1")),
            "{note}"
        );
        assert_eq!(recipe_hash("a = 1").len(), 12);
    }
}
