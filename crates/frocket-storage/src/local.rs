//! Parts on the local file system: listing a base path.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::StorageError;

/// One part file: where it is and how big.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartRef {
    /// Full path or URL.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
}

/// Lists files directly under `basepath` whose name matches `pattern` (glob syntax, e.g.
/// `*.parquet`), sorted by path. Symbolic links are followed: a link to a file is a part (with
/// the size of the file it points to).
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// std::fs::write(dir.path().join("a.parquet"), b"x").unwrap();
/// std::fs::write(dir.path().join("b.txt"), b"x").unwrap();
/// let parts = frocket_storage::list_local(&dir.path().display().to_string(), "*.parquet").unwrap();
/// assert_eq!(parts.len(), 1);
/// ```
pub fn list_local(basepath: &str, pattern: &str) -> Result<Vec<PartRef>, StorageError> {
    let pat = glob::Pattern::new(pattern)
        .map_err(|e| StorageError::Invalid(format!("invalid file name pattern '{pattern}': {e}")))?;
    let list_err = |e: std::io::Error| StorageError::List {
        path: basepath.to_string(),
        message: e.to_string(),
    };
    let entries = std::fs::read_dir(Path::new(basepath)).map_err(list_err)?;
    let mut parts = Vec::new();
    for e in entries {
        let e = e.map_err(list_err)?;
        let name = e.file_name().to_string_lossy().to_string();
        if !pat.matches(&name) {
            continue;
        }
        // Follows symlinks; a dangling link is skipped like any non-file.
        let Ok(meta) = std::fs::metadata(e.path()) else {
            continue;
        };
        if meta.is_file() {
            parts.push(PartRef {
                path: e.path().display().to_string(),
                size: meta.len(),
            });
        }
    }
    parts.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::list_local;

    #[test]
    fn symlinked_parts_are_listed_with_their_target_size_and_dangling_links_skipped() {
        let data = tempfile::tempdir().unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(data.path().join("real.parquet"), b"12345").unwrap();
        std::fs::write(dir.path().join("a.parquet"), b"x").unwrap();
        std::os::unix::fs::symlink(data.path().join("real.parquet"), dir.path().join("b.parquet")).unwrap();
        std::os::unix::fs::symlink(data.path().join("gone.parquet"), dir.path().join("c.parquet")).unwrap();
        std::os::unix::fs::symlink(data.path(), dir.path().join("d.parquet")).unwrap(); // a directory
        let parts = list_local(&dir.path().display().to_string(), "*.parquet").unwrap();
        let got: Vec<(String, u64)> = parts
            .iter()
            .map(|p| (p.path.rsplit('/').next().unwrap().to_string(), p.size))
            .collect();
        assert_eq!(got, vec![("a.parquet".to_string(), 1), ("b.parquet".to_string(), 5)]);
    }
}
