//! Listing a dataset's part files under a local base path.

use std::path::Path;

use crate::info::PartRef;
use crate::register::RegisterError;

/// Lists files directly under `basepath` whose name matches `pattern` (glob syntax, e.g.
/// `*.parquet`), sorted by name.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// std::fs::write(dir.path().join("a.parquet"), b"x").unwrap();
/// std::fs::write(dir.path().join("b.txt"), b"x").unwrap();
/// let parts = frocket_dataset::list_parts(&dir.path().display().to_string(), "*.parquet").unwrap();
/// assert_eq!(parts.len(), 1);
/// ```
pub fn list_parts(basepath: &str, pattern: &str) -> Result<Vec<PartRef>, RegisterError> {
    let pat = glob::Pattern::new(pattern)
        .map_err(|e| RegisterError::Invalid(format!("invalid file name pattern '{pattern}': {e}")))?;
    let dir = Path::new(basepath);
    let entries = std::fs::read_dir(dir)
        .map_err(|e| RegisterError::Invalid(format!("cannot list base path '{basepath}': {e}")))?;
    let mut parts = Vec::new();
    for e in entries {
        let e = e.map_err(|e| RegisterError::Invalid(format!("cannot list base path '{basepath}': {e}")))?;
        let name = e.file_name().to_string_lossy().to_string();
        let meta = e
            .metadata()
            .map_err(|err| RegisterError::Invalid(format!("{}: {err}", e.path().display())))?;
        if meta.is_file() && pat.matches(&name) {
            parts.push(PartRef {
                path: e.path().display().to_string(),
                size: meta.len(),
            });
        }
    }
    parts.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(parts)
}
