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

/// What [`Storage::fetch_ranges`] brought of a part: its size, its footer (the last bytes) and
/// the chunks asked for, and how many bytes came from the store and from the disk cache.
#[derive(Debug, Clone, Default)]
pub struct RangedPart {
    /// The part's size in bytes.
    pub size: u64,
    /// The last bytes of the part (at least its footer; chunks among them are also in
    /// `chunks`).
    pub footer: Vec<u8>,
    /// `(start offset, bytes)` of every chunk asked for.
    pub chunks: Vec<(u64, Vec<u8>)>,
    /// Bytes fetched from the store for this part.
    pub bytes_from_source: u64,
    /// Bytes read from the disk cache.
    pub bytes_from_cache: u64,
}

/// GETs in flight at once for one part.
#[cfg(feature = "s3")]
pub const RANGE_CONCURRENCY: usize = 8;

/// Sorts ranges and merges those closer than `gap` bytes: the GETs that fetch them.
#[cfg(feature = "s3")]
fn merge_ranges(mut ranges: Vec<std::ops::Range<u64>>, gap: u64) -> Vec<std::ops::Range<u64>> {
    ranges.sort_by_key(|r| r.start);
    let mut out: Vec<std::ops::Range<u64>> = Vec::new();
    for r in ranges {
        match out.last_mut() {
            Some(last) if r.start <= last.end.saturating_add(gap) => last.end = last.end.max(r.end),
            _ => out.push(r),
        }
    }
    out
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

    /// The footer and the chunks of an S3 part a query needs, each from the disk cache when it
    /// holds it, else by ranged GETs (chunks closer than `gap` bytes in one GET, up to
    /// [`RANGE_CONCURRENCY`] at once), which the cache then keeps.
    ///
    /// `footer_len` reads the footer's length from the part's last bytes (the first
    /// `footer_guess` are fetched); `chunks_of` reads the footer and says which byte ranges the
    /// query needs (column chunks, not merged). Their errors name what is wrong with the part.
    #[allow(clippy::too_many_arguments)]
    pub async fn fetch_ranges(
        &self,
        part: &str,
        registration_id: &str,
        cache: &DiskCache,
        footer_guess: u64,
        gap: u64,
        footer_len: impl Fn(&[u8]) -> Result<u64, String>,
        chunks_of: impl FnOnce(&[u8], u64) -> Result<Vec<std::ops::Range<u64>>, String>,
    ) -> Result<RangedPart, StorageError> {
        use futures_util::stream::{StreamExt, TryStreamExt};
        let bad = |message: String| StorageError::Fetch {
            path: part.to_string(),
            message,
        };
        let blocking = |e: tokio::task::JoinError| bad(format!("disk cache: {e}"));
        let mut out = RangedPart::default();
        // The footer.
        let (c, reg, name) = (cache.clone(), registration_id.to_string(), part.to_string());
        let cached = tokio::task::spawn_blocking(move || c.footer(&reg, &name))
            .await
            .map_err(blocking)?;
        let mut new_footer = false;
        match cached {
            Some((bytes, size)) if footer_len(&bytes).is_ok_and(|n| n <= bytes.len() as u64) => {
                out.bytes_from_cache += bytes.len() as u64;
                out.footer = bytes;
                out.size = size;
            }
            _ => {
                let (mut tail, size) = self.s3.get_tail(part, footer_guess).await?;
                out.bytes_from_source += tail.len() as u64;
                let need = footer_len(&tail).map_err(bad)?;
                if need > size {
                    return Err(bad(format!("footer of {need} bytes in a file of {size}")));
                }
                if need > tail.len() as u64 {
                    let start = size - need;
                    let mut head = self.s3.get_range(part, start..size - tail.len() as u64).await?;
                    out.bytes_from_source += head.len() as u64;
                    head.extend_from_slice(&tail);
                    tail = head;
                }
                out.footer = tail;
                out.size = size;
                new_footer = true;
            }
        }
        if out.footer.len() as u64 > out.size {
            return Err(bad(format!(
                "{} footer bytes for a file of {} (the store or the cache answered wrongly)",
                out.footer.len(),
                out.size
            )));
        }
        let mut wanted = chunks_of(&out.footer, out.size).map_err(bad)?;
        wanted.sort_by_key(|r| r.start);
        wanted.dedup();
        if let Some(r) = wanted.iter().find(|r| r.start > r.end || r.end > out.size) {
            return Err(bad(format!(
                "chunk {}..{} outside a file of {} bytes",
                r.start, r.end, out.size
            )));
        }
        // Chunks within the part's last bytes, fetched with the footer: taken from them.
        let tail_start = out.size - out.footer.len() as u64;
        let (in_tail, wanted): (Vec<_>, Vec<_>) = wanted.into_iter().partition(|r| r.start >= tail_start);
        let from_tail: Vec<(u64, Vec<u8>)> = in_tail
            .iter()
            .map(|r| {
                let at = (r.start - tail_start) as usize;
                (r.start, out.footer[at..at + (r.end - r.start) as usize].to_vec())
            })
            .collect();
        // What the cache holds.
        let (c, reg, name, want) = (
            cache.clone(),
            registration_id.to_string(),
            part.to_string(),
            wanted.clone(),
        );
        let (held, missing) = tokio::task::spawn_blocking(move || {
            let have = c.ranges(&reg, &name);
            let mut held = Vec::new();
            let mut missing = Vec::new();
            for r in want {
                match have.contains(&r).then(|| c.read_range(&reg, &name, &r)).flatten() {
                    Some(b) => held.push((r.start, b)),
                    None => missing.push(r),
                }
            }
            (held, missing)
        })
        .await
        .map_err(blocking)?;
        out.bytes_from_cache += held.iter().map(|(_, b)| b.len() as u64).sum::<u64>();
        out.chunks = held;
        out.chunks.extend(from_tail);
        // The rest from the store, a few GETs at once.
        // A wasted gap costs little beside a request on a large part; on a small one it would
        // be most of the file: gaps up to a 32nd of the part.
        let gets = merge_ranges(missing.clone(), gap.min(out.size / 32));
        let fetched: Vec<(std::ops::Range<u64>, Vec<u8>)> = futures_util::stream::iter(gets)
            .map(|r| async move { self.s3.get_range(part, r.clone()).await.map(|b| (r, b)) })
            .buffer_unordered(RANGE_CONCURRENCY)
            .try_collect()
            .await?;
        let mut new_chunks: Vec<(std::ops::Range<u64>, Vec<u8>)> = Vec::with_capacity(missing.len());
        for (get, bytes) in &fetched {
            out.bytes_from_source += bytes.len() as u64;
            for r in missing.iter().filter(|r| r.start >= get.start && r.end <= get.end) {
                let slice = &bytes[(r.start - get.start) as usize..(r.end - get.start) as usize];
                new_chunks.push((r.clone(), slice.to_vec()));
            }
        }
        drop(fetched);
        if new_footer || !new_chunks.is_empty() {
            // The chunks go to the blocking thread and come back (no copy).
            let (c, reg, name) = (cache.clone(), registration_id.to_string(), part.to_string());
            let footer = new_footer.then(|| (std::mem::take(&mut out.footer), out.size));
            let chunks = std::mem::take(&mut new_chunks);
            let (written, footer, chunks) = tokio::task::spawn_blocking(move || {
                let refs: Vec<(std::ops::Range<u64>, &[u8])> =
                    chunks.iter().map(|(r, b)| (r.clone(), b.as_slice())).collect();
                let written = c.put_ranges(&reg, &name, footer.as_ref().map(|(b, s)| (b.as_slice(), *s)), &refs);
                (written, footer, chunks)
            })
            .await
            .map_err(blocking)?;
            written.map_err(|e| bad(format!("disk cache: {e}")))?;
            if let Some((f, _)) = footer {
                out.footer = f;
            }
            new_chunks = chunks;
        }
        out.chunks.extend(new_chunks.into_iter().map(|(r, b)| (r.start, b)));
        out.chunks.sort_by_key(|(s, _)| *s);
        Ok(out)
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
