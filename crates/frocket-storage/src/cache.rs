//! The worker's disk cache of parts: a directory bounded in bytes, evicting the least recently
//! used files first.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

/// Downloads in progress are named with this prefix (never served, never evicted while fresh).
const TEMP_PREFIX: &str = ".tmp-";

/// A temporary file this old was left by a process that died mid-download: evicted.
const STALE_TEMP: Duration = Duration::from_secs(3600);

/// A bounded LRU cache of part files on local disk.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let cache = frocket_storage::DiskCache::new(dir.path(), 1);
/// assert!(cache.get("reg1", "s3://b/p.parquet").is_none());
/// ```
#[derive(Debug, Clone)]
pub struct DiskCache {
    dir: PathBuf,
    max_bytes: u64,
}

fn fnv(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

impl DiskCache {
    /// A cache in `dir` holding at most `max_mb` megabytes.
    pub fn new(dir: impl Into<PathBuf>, max_mb: u64) -> Self {
        DiskCache {
            dir: dir.into(),
            max_bytes: max_mb.saturating_mul(1024 * 1024),
        }
    }

    fn path(&self, registration_id: &str, part: &str) -> PathBuf {
        let name = part.rsplit('/').next().unwrap_or("part");
        let safe: String = registration_id
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' })
            .collect();
        self.dir.join(safe).join(format!("{:016x}-{name}", fnv(part)))
    }

    /// Whether the part is cached (without marking it used).
    pub fn contains(&self, registration_id: &str, part: &str) -> bool {
        self.path(registration_id, part).is_file()
    }

    /// The cached file, if present (marking it recently used).
    pub fn get(&self, registration_id: &str, part: &str) -> Option<PathBuf> {
        let p = self.path(registration_id, part);
        let f = std::fs::File::options().append(true).open(&p).ok()?;
        let _ = f.set_modified(SystemTime::now());
        Some(p)
    }

    /// Where to download a part before [`DiskCache::insert`]: a name no other download uses,
    /// in this process or another (process id and a per-process counter).
    pub fn temp_path(&self, registration_id: &str, part: &str) -> std::io::Result<PathBuf> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let p = self.path(registration_id, part);
        let dir = p.parent().unwrap_or(&self.dir).to_path_buf();
        std::fs::create_dir_all(&dir)?;
        Ok(dir.join(format!(
            "{TEMP_PREFIX}{}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed),
            p.file_name().map_or("x".into(), |f| f.to_string_lossy())
        )))
    }

    /// Moves a downloaded file into the cache, then evicts least recently used files until the
    /// cache fits its bound (never the file just inserted).
    pub fn insert(&self, registration_id: &str, part: &str, downloaded: &Path) -> std::io::Result<PathBuf> {
        let p = self.path(registration_id, part);
        std::fs::rename(downloaded, &p)?;
        self.evict(&p)?;
        Ok(p)
    }

    /// Removes least recently used files until everything held (cached parts and downloads
    /// in flight) fits the bound; `keep` is never removed.
    fn evict(&self, keep: &Path) -> std::io::Result<()> {
        let mut files: Vec<(SystemTime, u64, PathBuf)> = Vec::new();
        let mut in_flight = 0u64;
        for d in std::fs::read_dir(&self.dir)? {
            let d = d?.path();
            if !d.is_dir() {
                continue;
            }
            for f in std::fs::read_dir(&d)? {
                let f = f?;
                let m = f.metadata()?;
                let name = f.file_name().to_string_lossy().to_string();
                if !m.is_file() {
                    continue;
                }
                let modified = m.modified().unwrap_or(SystemTime::UNIX_EPOCH);
                if name.starts_with(TEMP_PREFIX) {
                    // In flight: counted against the bound, not evicted (unless stale).
                    let stale = modified.elapsed().is_ok_and(|age| age > STALE_TEMP);
                    if stale && std::fs::remove_file(f.path()).is_ok() {
                        continue;
                    }
                    in_flight += m.len();
                    continue;
                }
                files.push((modified, m.len(), f.path()));
            }
        }
        let mut total: u64 = files.iter().map(|f| f.1).sum::<u64>() + in_flight;
        files.sort_by_key(|f| f.0);
        for (_, size, path) in files {
            if total <= self.max_bytes {
                break;
            }
            if path == keep {
                continue;
            }
            if std::fs::remove_file(&path).is_ok() {
                total = total.saturating_sub(size);
            }
        }
        Ok(())
    }
}
