//! The worker's disk cache of parts: a directory bounded in bytes, evicting the least recently
//! used files first.
//!
//! A part is held whole (`<registration>/<hash>-<name>`, an older layout still served) or as
//! the byte ranges queries fetched from it (`<registration>/<hash>-<name>.ranges/`: its footer
//! as `footer-<file size>`, each column chunk as `<start>-<end>`), so that a query needing other
//! columns fetches only what is missing. Eviction is per file, least recently used first.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

/// Downloads in progress are named with this prefix (never served, never evicted while fresh).
const TEMP_PREFIX: &str = ".tmp-";

/// A temporary file this old was left by a process that died mid-download: evicted.
const STALE_TEMP: Duration = Duration::from_secs(3600);

/// Reads a cached file and marks it recently used.
fn read_touch(path: &Path) -> Option<Vec<u8>> {
    let bytes = std::fs::read(path).ok()?;
    if let Ok(f) = std::fs::File::options().append(true).open(path) {
        let _ = f.set_modified(SystemTime::now());
    }
    Some(bytes)
}

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

    /// Whether the part is cached, whole or in part (without marking it used).
    pub fn contains(&self, registration_id: &str, part: &str) -> bool {
        self.path(registration_id, part).is_file() || self.ranges_dir(registration_id, part).is_dir()
    }

    /// Where the byte ranges of a part are kept.
    fn ranges_dir(&self, registration_id: &str, part: &str) -> PathBuf {
        let p = self.path(registration_id, part);
        let name = p.file_name().map_or("part".into(), |f| f.to_string_lossy().to_string());
        p.with_file_name(format!("{name}.ranges"))
    }

    /// The cached footer of a part (its last bytes) and the part's size, marking it used.
    pub fn footer(&self, registration_id: &str, part: &str) -> Option<(Vec<u8>, u64)> {
        let dir = self.ranges_dir(registration_id, part);
        for e in std::fs::read_dir(&dir).ok()?.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if let Some(size) = name.strip_prefix("footer-").and_then(|s| s.parse::<u64>().ok()) {
                let bytes = read_touch(&e.path())?;
                return Some((bytes, size));
            }
        }
        None
    }

    /// The byte ranges of a part held (not marking them used).
    pub fn ranges(&self, registration_id: &str, part: &str) -> Vec<std::ops::Range<u64>> {
        let dir = self.ranges_dir(registration_id, part);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return vec![];
        };
        let mut out: Vec<std::ops::Range<u64>> = entries
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().to_string();
                let (a, b) = name.split_once('-')?;
                Some(a.parse::<u64>().ok()?..b.parse::<u64>().ok()?)
            })
            .collect();
        out.sort_by_key(|r| r.start);
        out
    }

    /// The bytes of a range held (see [`DiskCache::ranges`]), marking it used; `None` if it is
    /// gone (evicted meanwhile) or damaged (not its length).
    pub fn read_range(&self, registration_id: &str, part: &str, range: &std::ops::Range<u64>) -> Option<Vec<u8>> {
        let f = self
            .ranges_dir(registration_id, part)
            .join(format!("{}-{}", range.start, range.end));
        read_touch(&f).filter(|b| b.len() as u64 == range.end - range.start)
    }

    /// Stores a part's footer (`size`: the part's size) and byte ranges, then evicts least
    /// recently used files until the cache fits (never this part's ranges).
    pub fn put_ranges(
        &self,
        registration_id: &str,
        part: &str,
        footer: Option<(&[u8], u64)>,
        ranges: &[(std::ops::Range<u64>, &[u8])],
    ) -> std::io::Result<()> {
        let dir = self.ranges_dir(registration_id, part);
        std::fs::create_dir_all(&dir)?;
        let write = |name: String, bytes: &[u8]| -> std::io::Result<()> {
            static NEXT: AtomicU64 = AtomicU64::new(0);
            let tmp = dir.join(format!(
                "{TEMP_PREFIX}{}-{}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            ));
            std::fs::write(&tmp, bytes)?;
            std::fs::rename(&tmp, dir.join(name)).inspect_err(|_| {
                let _ = std::fs::remove_file(&tmp);
            })
        };
        if let Some((bytes, size)) = footer {
            write(format!("footer-{size}"), bytes)?;
        }
        for (r, bytes) in ranges {
            write(format!("{}-{}", r.start, r.end), bytes)?;
        }
        self.evict(&dir)
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

    /// Removes least recently used files until everything held (cached parts, ranges and
    /// downloads in flight) fits the bound; `keep` (a file, or a directory of ranges) is never
    /// removed.
    fn evict(&self, keep: &Path) -> std::io::Result<()> {
        let mut files: Vec<(SystemTime, u64, PathBuf)> = Vec::new();
        let mut in_flight = 0u64;
        let mut listed: Vec<std::fs::DirEntry> = Vec::new();
        for d in std::fs::read_dir(&self.dir)? {
            let d = d?.path();
            if !d.is_dir() {
                continue;
            }
            for f in std::fs::read_dir(&d)? {
                let f = f?;
                if f.file_type().is_ok_and(|t| t.is_dir()) {
                    // A part's ranges: its files, one by one (a directory vanishing meanwhile
                    // is another process's eviction).
                    if let Ok(inner) = std::fs::read_dir(f.path()) {
                        listed.extend(inner.flatten());
                    }
                    continue;
                }
                listed.push(f);
            }
        }
        for f in listed {
            {
                let Ok(m) = f.metadata() else { continue };
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
            if path.starts_with(keep) {
                continue;
            }
            if std::fs::remove_file(&path).is_ok() {
                total = total.saturating_sub(size);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_kept_read_back_and_evicted_least_recently_used_first() {
        let dir = tempfile::tempdir().unwrap();
        // A 1 MB bound.
        let cache = DiskCache::new(dir.path(), 1);
        let kb = |n: usize, b: u8| vec![b; n * 1024];
        let (a, b) = ("s3://x/a.parquet", "s3://x/b.parquet");
        assert!(!cache.contains("r", a));
        let footer = kb(1, 9);
        cache
            .put_ranges("r", a, Some((&footer, 4096 * 1024)), &[(0..400 * 1024, &kb(400, 1))])
            .unwrap();
        assert!(cache.contains("r", a));
        assert_eq!(cache.footer("r", a), Some((footer.clone(), 4096 * 1024)));
        assert_eq!(cache.ranges("r", a), vec![0..400 * 1024]);
        assert_eq!(cache.read_range("r", a, &(0..400 * 1024)), Some(kb(400, 1)));
        // Another range of the same part: both held.
        cache
            .put_ranges("r", a, None, &[(500 * 1024..900 * 1024, &kb(400, 2))])
            .unwrap();
        assert_eq!(cache.ranges("r", a).len(), 2);
        // The first range used again, so the second is the least recently used.
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert!(cache.read_range("r", a, &(0..400 * 1024)).is_some());
        std::thread::sleep(std::time::Duration::from_millis(20));
        // Another part's 400 KB: past the bound, the least recently used go (the footer of
        // `a` first, then its second range), never what was just stored.
        cache.put_ranges("r", b, None, &[(0..400 * 1024, &kb(400, 3))]).unwrap();
        assert_eq!(cache.read_range("r", b, &(0..400 * 1024)), Some(kb(400, 3)));
        assert!(cache.read_range("r", a, &(0..400 * 1024)).is_some());
        assert!(cache.read_range("r", a, &(500 * 1024..900 * 1024)).is_none());
        assert!(cache.footer("r", a).is_none());
        // A range of the wrong length on disk is not served.
        assert!(cache.read_range("r", b, &(0..100)).is_none());
    }
}
