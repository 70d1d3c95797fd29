//! The one rule for dataset names, checked at every entry point (HTTP path parameters after
//! decoding, the CLI, the catalogs): a name never becomes a path outside the catalog.

/// A dataset name that breaks the rule; the message says which rule and shows (a bounded
/// excerpt of) the name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid dataset name {shown}: use 1-128 characters, letters, digits, '_', '-' or '.', starting with a letter or digit, without '..'")]
pub struct InvalidName {
    /// The name as shown in the message (escaped, at most 64 characters).
    pub shown: String,
}

/// Longest dataset name.
pub const MAX_NAME_LEN: usize = 128;

/// Checks a dataset name: `[A-Za-z0-9][A-Za-z0-9_.-]{0,127}` and no `..`.
///
/// ```
/// use frocket_dataset::check_dataset_name;
/// assert!(check_dataset_name("retail.2024_v-1").is_ok());
/// for bad in ["", "..", "a/b", "../x", "a..b", ".hidden", "-x", "a\0b", "é", &"x".repeat(129)] {
///     assert!(check_dataset_name(bad).is_err(), "{bad:?}");
/// }
/// ```
pub fn check_dataset_name(name: &str) -> Result<(), InvalidName> {
    let mut chars = name.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        && name.len() <= MAX_NAME_LEN
        && !name.contains("..");
    if ok {
        return Ok(());
    }
    let excerpt: String = name.chars().take(64).collect();
    Err(InvalidName {
        shown: format!("{excerpt:?}{}", if name.chars().count() > 64 { "…" } else { "" }),
    })
}
