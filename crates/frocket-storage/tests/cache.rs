//! The disk cache stays within its bound, evicting least recently used parts, and keys parts
//! by registration.

use std::time::{Duration, SystemTime};

use frocket_storage::DiskCache;

fn put(cache: &DiskCache, reg: &str, part: &str, bytes: usize) -> std::path::PathBuf {
    let tmp = cache.temp_path(reg, part).unwrap();
    std::fs::write(&tmp, vec![7u8; bytes]).unwrap();
    cache.insert(reg, part, &tmp).unwrap()
}

#[test]
fn evicts_least_recently_used_within_the_bound() {
    let dir = tempfile::tempdir().unwrap();
    let cache = DiskCache::new(dir.path(), 2); // 2 MiB
    let mib = 1024 * 1024;
    let a = put(&cache, "r1", "s3://b/a.parquet", mib - 10);
    // Make `a` look older than what follows.
    std::fs::File::options()
        .append(true)
        .open(&a)
        .unwrap()
        .set_modified(SystemTime::now() - Duration::from_secs(100))
        .unwrap();
    let b = put(&cache, "r1", "s3://b/b.parquet", mib - 10);
    std::fs::File::options()
        .append(true)
        .open(&b)
        .unwrap()
        .set_modified(SystemTime::now() - Duration::from_secs(50))
        .unwrap();
    // Using `a` makes it the most recent.
    assert_eq!(cache.get("r1", "s3://b/a.parquet"), Some(a.clone()));
    let c = put(&cache, "r1", "s3://b/c.parquet", mib - 10);
    assert!(a.exists() && c.exists());
    assert!(!b.exists(), "the least recently used part is evicted");
    assert!(cache.get("r1", "s3://b/b.parquet").is_none());
    // Another registration never sees these files.
    assert!(cache.get("r2", "s3://b/a.parquet").is_none());
    // A part larger than the bound is still kept (the one just inserted never goes).
    let big = put(&cache, "r1", "s3://b/big.parquet", 3 * mib);
    assert!(big.exists());
}
