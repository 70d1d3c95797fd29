//! Where registered datasets are kept. [`FileCatalog`] is the embedded one: a directory with
//! one JSON file per dataset, replaced atomically (write to a temporary file, then rename).

use std::future::Future;
use std::path::{Path, PathBuf};

use crate::info::DatasetInfo;

/// Catalog failures.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// Storage I/O failed.
    #[error("catalog at '{path}': {message}")]
    Io {
        /// Path involved.
        path: String,
        /// What failed.
        message: String,
    },
    /// The catalog's store does not answer (the datastore is down or failing over): worth
    /// retrying later.
    #[error("catalog unavailable: {0}")]
    Unavailable(String),
    /// A dataset name that breaks the naming rule (never turned into a path).
    #[error(transparent)]
    InvalidName(#[from] crate::InvalidName),
    /// A stored entry cannot be read.
    #[error("catalog entry '{path}' is corrupt: {message}")]
    Corrupt {
        /// Path involved.
        path: String,
        /// Parse error.
        message: String,
    },
}

/// Registered datasets: put, get, list, remove, and the time each was last used.
///
/// The embedded [`FileCatalog`] and the Redis datastore implement it.
pub trait Catalog: Send + Sync {
    /// Stores (or atomically replaces) a dataset.
    fn put(&self, info: &DatasetInfo) -> impl Future<Output = Result<(), CatalogError>> + Send;
    /// A dataset by name.
    fn get(&self, name: &str) -> impl Future<Output = Result<Option<DatasetInfo>, CatalogError>> + Send;
    /// All datasets, by name.
    fn list(&self) -> impl Future<Output = Result<Vec<DatasetInfo>, CatalogError>> + Send;
    /// Removes a dataset; false when it did not exist.
    fn remove(&self, name: &str) -> impl Future<Output = Result<bool, CatalogError>> + Send;
    /// Records a use of the dataset at `unix_secs`.
    fn touch(&self, name: &str, unix_secs: u64) -> impl Future<Output = Result<(), CatalogError>> + Send;
    /// When the dataset was last used (unix seconds).
    fn last_used(&self, name: &str) -> impl Future<Output = Result<Option<u64>, CatalogError>> + Send;
}

/// The embedded catalog: `<root>/datasets/<name>.json` and `<root>/last-used/<name>`.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let cat = frocket_dataset::FileCatalog::new(dir.path());
/// assert_eq!(cat.root(), dir.path());
/// ```
#[derive(Debug, Clone)]
pub struct FileCatalog {
    root: PathBuf,
}

fn io(path: &Path, e: impl std::fmt::Display) -> CatalogError {
    CatalogError::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

impl FileCatalog {
    /// A catalog under `root` (created on first write).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        FileCatalog { root: root.into() }
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Paths are built only from names that pass [`crate::check_dataset_name`].
    fn dataset_path(&self, name: &str) -> Result<PathBuf, CatalogError> {
        crate::check_dataset_name(name)?;
        Ok(self.root.join("datasets").join(format!("{name}.json")))
    }

    fn used_path(&self, name: &str) -> Result<PathBuf, CatalogError> {
        crate::check_dataset_name(name)?;
        Ok(self.root.join("last-used").join(name))
    }

    fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), CatalogError> {
        let dir = path.parent().ok_or_else(|| io(path, "no parent directory"))?;
        std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
        // Unique per write, in this process and others: concurrent writes never share one.
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let tmp = dir.join(format!(
            ".{}.tmp-{}-{}",
            path.file_name().map_or("x".into(), |f| f.to_string_lossy()),
            std::process::id(),
            NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        std::fs::write(&tmp, bytes).map_err(|e| io(&tmp, e))?;
        std::fs::rename(&tmp, path).map_err(|e| io(path, e))
    }

    fn read(path: &Path) -> Result<Option<DatasetInfo>, CatalogError> {
        match std::fs::read(path) {
            Ok(b) => serde_json::from_slice(&b).map(Some).map_err(|e| CatalogError::Corrupt {
                path: path.display().to_string(),
                message: e.to_string(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(path, e)),
        }
    }
}

impl FileCatalog {
    fn put_blocking(&self, info: &DatasetInfo) -> Result<(), CatalogError> {
        let path = self.dataset_path(&info.name)?;
        let bytes = serde_json::to_vec_pretty(info).map_err(|e| io(&path, e))?;
        Self::write_atomic(&path, &bytes)
    }

    fn get_blocking(&self, name: &str) -> Result<Option<DatasetInfo>, CatalogError> {
        Self::read(&self.dataset_path(name)?)
    }

    fn list_blocking(&self) -> Result<Vec<DatasetInfo>, CatalogError> {
        let dir = self.root.join("datasets");
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
            Err(e) => return Err(io(&dir, e)),
        };
        let mut out = Vec::new();
        for e in entries {
            let p = e.map_err(|e| io(&dir, e))?.path();
            if p.extension().is_some_and(|x| x == "json")
                && !p.file_name().is_some_and(|f| f.to_string_lossy().starts_with('.'))
            {
                if let Some(info) = Self::read(&p)? {
                    out.push(info);
                }
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    fn remove_blocking(&self, name: &str) -> Result<bool, CatalogError> {
        let path = self.dataset_path(name)?;
        let _ = std::fs::remove_file(self.used_path(name)?);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(io(&path, e)),
        }
    }

    fn touch_blocking(&self, name: &str, unix_secs: u64) -> Result<(), CatalogError> {
        Self::write_atomic(&self.used_path(name)?, unix_secs.to_string().as_bytes())
    }

    fn last_used_blocking(&self, name: &str) -> Result<Option<u64>, CatalogError> {
        let p = self.used_path(name)?;
        match std::fs::read_to_string(&p) {
            Ok(s) => Ok(s.trim().parse().ok()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(&p, e)),
        }
    }
}

/// Runs a catalog operation on a blocking thread: the file catalog's I/O never holds up the
/// async runtime (whose threads also answer `/health`).
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, CatalogError> + Send + 'static,
) -> Result<T, CatalogError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| CatalogError::Io {
        path: "catalog".into(),
        message: format!("the catalog operation stopped: {e}"),
    })?
}

impl Catalog for FileCatalog {
    async fn put(&self, info: &DatasetInfo) -> Result<(), CatalogError> {
        let (c, info) = (self.clone(), info.clone());
        blocking(move || c.put_blocking(&info)).await
    }

    async fn get(&self, name: &str) -> Result<Option<DatasetInfo>, CatalogError> {
        let (c, name) = (self.clone(), name.to_string());
        blocking(move || c.get_blocking(&name)).await
    }

    async fn list(&self) -> Result<Vec<DatasetInfo>, CatalogError> {
        let c = self.clone();
        blocking(move || c.list_blocking()).await
    }

    async fn remove(&self, name: &str) -> Result<bool, CatalogError> {
        let (c, name) = (self.clone(), name.to_string());
        blocking(move || c.remove_blocking(&name)).await
    }

    async fn touch(&self, name: &str, unix_secs: u64) -> Result<(), CatalogError> {
        let (c, name) = (self.clone(), name.to_string());
        blocking(move || c.touch_blocking(&name, unix_secs)).await
    }

    async fn last_used(&self, name: &str) -> Result<Option<u64>, CatalogError> {
        let (c, name) = (self.clone(), name.to_string());
        blocking(move || c.last_used_blocking(&name)).await
    }
}
