//! # frocket-storage
//!
//! Where parts live. A base path is a local directory or `s3://bucket/prefix/`; [`Storage`]
//! lists parts (paginating: no 1,000-file limit) and fetches them to a local file, through the
//! worker's bounded [`DiskCache`] for S3. S3-compatible stores work through
//! `FROCKET_S3_AWS_ENDPOINT_URL` (path-style addressing).

mod cache;
mod local;
#[cfg(feature = "s3")]
mod s3;

#[cfg(feature = "s3")]
use std::path::{Path, PathBuf};

pub use cache::DiskCache;
pub use local::{list_local, PartRef};
#[cfg(feature = "s3")]
pub use s3::{aws_sdk_config, parse_s3_url, S3Store};

/// Storage failures, naming the path or URL.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// Listing failed.
    #[error("cannot list '{path}': {message}")]
    List {
        /// The base path.
        path: String,
        /// Why.
        message: String,
    },
    /// Fetching a part failed.
    #[error("cannot fetch '{path}': {message}")]
    Fetch {
        /// The part.
        path: String,
        /// Why.
        message: String,
    },
    /// A malformed path or pattern.
    #[error("{0}")]
    Invalid(String),
    /// The store refused access (S3 403: the credentials or the bucket policy).
    #[error("access to '{path}' denied: {message}")]
    Denied {
        /// The path or URL.
        path: String,
        /// The store's answer.
        message: String,
    },
    /// The store failed or did not answer in time (S3 5xx, throttling, timeouts, connection
    /// errors), after the retries: worth trying again later.
    #[error("storage unavailable for '{path}': {message}")]
    Unavailable {
        /// The path or URL.
        path: String,
        /// The last failure.
        message: String,
    },
}

#[cfg(feature = "s3")]
/// A temporary file removed when dropped (a no-op once it was renamed away).
struct TempFile(PathBuf);

#[cfg(feature = "s3")]
impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// True for `s3://` URLs.
///
/// ```
/// assert!(frocket_storage::is_s3("s3://bucket/prefix/"));
/// assert!(!frocket_storage::is_s3("/data/parts"));
/// ```
pub fn is_s3(path: &str) -> bool {
    path.starts_with("s3://")
}

/// Local directories and S3.
#[cfg(feature = "s3")]
#[derive(Debug, Clone)]
pub struct Storage {
    s3: S3Store,
}

#[cfg(feature = "s3")]
impl Storage {
    /// Storage with an optional S3 endpoint override (S3-compatible stores).
    pub fn new(s3_endpoint_url: Option<String>) -> Self {
        Storage {
            s3: S3Store::new(s3_endpoint_url),
        }
    }

    /// The S3 side (for uploads in tests and tools).
    pub fn s3(&self) -> &S3Store {
        &self.s3
    }

    /// Files directly under `basepath` whose name matches `pattern`, sorted.
    pub async fn list(&self, basepath: &str, pattern: &str) -> Result<Vec<PartRef>, StorageError> {
        let pat = glob::Pattern::new(pattern)
            .map_err(|e| StorageError::Invalid(format!("invalid file name pattern '{pattern}': {e}")))?;
        if is_s3(basepath) {
            return self.s3.list(basepath, &pat).await;
        }
        list_local(basepath, pattern)
    }

    /// A local file holding the part, and whether it came from the cache. Local parts are used
    /// in place; S3 parts are downloaded into `cache` (keyed by registration, so re-registering
    /// never serves stale parts).
    pub async fn fetch(
        &self,
        part: &str,
        registration_id: &str,
        cache: &DiskCache,
    ) -> Result<(PathBuf, bool), StorageError> {
        if !is_s3(part) {
            return Ok((Path::new(part).to_path_buf(), false));
        }
        if let Some(p) = cache.get(registration_id, part) {
            return Ok((p, true));
        }
        let tmp = cache
            .temp_path(registration_id, part)
            .map_err(|e| StorageError::Fetch {
                path: part.into(),
                message: e.to_string(),
            })?;
        // Removed on every way out but success, including this future being dropped.
        let guard = TempFile(tmp.clone());
        self.s3.download(part, &tmp).await?;
        let (cache, reg, name) = (cache.clone(), registration_id.to_string(), part.to_string());
        // Renaming and evicting touch the file system: off the async runtime's threads.
        let p = tokio::task::spawn_blocking(move || cache.insert(&reg, &name, &tmp))
            .await
            .map_err(|e| StorageError::Fetch {
                path: part.into(),
                message: format!("caching stopped: {e}"),
            })?
            .map_err(|e| StorageError::Fetch {
                path: part.into(),
                message: e.to_string(),
            })?;
        drop(guard);
        Ok((p, false))
    }
}
