//! A part file opened for reading: mapped into memory, or read with `read` calls.
//!
//! A mapped part's pages are decompressed and decoded straight from the page cache. Read with
//! `read` calls, every byte of the columns a query needs is first copied from the page cache
//! into a buffer: 3–5% of a query's time over a warm part (`docs/performance.md`, "Session
//! 19"). Either way only the column chunks a query needs are touched.
//!
//! A part mapped for one query stays mapped for the next ([`MappedParts`]: up to
//! `FROCKET_READ_MMAP_KEEP` parts a process, 256 by default, the least recently used let go
//! first): a process that queries the same parts again (a queue worker, a warm Lambda,
//! `frocket serve`) finds their pages already mapped — mapping them anew took 6% of a query
//! over a warm part, page faults and unmapping (`docs/performance.md`, "Session 27"). The
//! mapping is taken again when the path names another file, or the file's length or
//! modification time changed; one of a file removed or replaced is let go the next time a part
//! is mapped anew, or when [`let_go_removed`] is called (a worker does after each fetch from
//! S3, whose cache removes parts), so that a removed file's space is given back.
//!
//! A mapping has one hazard that `read` calls do not: a file truncated in place while it is
//! mapped (not replaced by a rename, nor removed: both leave the mapping whole), or a read
//! error of a network file system, raises `SIGBUS` in the process instead of an error. So a
//! file on a network or FUSE file system (NFS, SMB/CIFS, Ceph, AFS, 9P, Lustre, GPFS, FUSE
//! mounts of object stores) is always read with `read` calls; the worker's own cache only
//! ever renames and removes its files; and `FROCKET_READ_MMAP=false` turns mapping off
//! altogether (`docs/datasets.md`, "Reading parts").
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use frocket_engine::part_file::{open_part, PartFile};
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("part.parquet");
//! std::fs::write(&path, b"PAR1")?;
//! assert!(matches!(open_part(&path, true)?, PartFile::Mapped(_)));
//! assert!(matches!(open_part(&path, false)?, PartFile::Read(_)));
//! # Ok(())
//! # }
//! ```

use std::fs::{File, Metadata};
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use bytes::Bytes;
use parquet::errors::{ParquetError, Result as ParquetResult};
use parquet::file::reader::{ChunkReader, Length};

/// An open part file, as [`read_part`](crate::read_part) reads it.
#[derive(Debug)]
pub enum PartFile {
    /// The file mapped into memory (read without a copy).
    Mapped(Bytes),
    /// The file, read with `read` calls.
    Read(File),
}

/// Opens the part at `path`: mapped into memory when `map` (and the system maps it; an empty
/// file, one on a network file system, or one the system cannot map, is read with `read`
/// calls instead), through the process's [`MappedParts`] (see [`keep_mapped`]).
pub fn open_part(path: &Path, map: bool) -> std::io::Result<PartFile> {
    MAPPED.open(path, map)
}

/// The process's mapped parts, kept from query to query.
static MAPPED: MappedParts = MappedParts::new(DEFAULT_KEPT_MAPPINGS);

/// Parts [`open_part`] keeps mapped between queries until [`keep_mapped`] says otherwise
/// (`FROCKET_READ_MMAP_KEEP`'s default).
pub const DEFAULT_KEPT_MAPPINGS: usize = 256;

/// Sets how many parts [`open_part`] keeps mapped between queries (`FROCKET_READ_MMAP_KEEP`,
/// set once at start-up); 0: each query maps its part and lets it go. Mappings past the new
/// number are let go now, the least recently used first.
///
/// ```
/// frocket_engine::part_file::keep_mapped(16);
/// # frocket_engine::part_file::keep_mapped(frocket_engine::part_file::DEFAULT_KEPT_MAPPINGS);
/// ```
pub fn keep_mapped(parts: usize) {
    MAPPED.keep(parts);
}

/// Lets go of the kept mappings of files removed or replaced since they were mapped, so that
/// a removed file's disk space is given back now: for a cache that removes part files, after
/// it may have (the worker calls it after each fetch from S3).
pub fn let_go_removed() {
    MAPPED.let_go_removed();
}

/// Mapped part files kept from query to query (see the module's docs), at most `keep` of
/// them, each under the path it was opened by, with the identity of the file it maps.
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use frocket_engine::part_file::{MappedParts, PartFile};
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("part.parquet");
/// std::fs::write(&path, b"PAR1")?;
/// let parts = MappedParts::new(8);
/// let (PartFile::Mapped(a), PartFile::Mapped(b)) = (parts.open(&path, true)?, parts.open(&path, true)?) else {
///     panic!("mapped");
/// };
/// assert_eq!(a.as_ptr(), b.as_ptr()); // the same mapping, kept
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct MappedParts {
    kept: Mutex<Kept>,
}

#[derive(Debug)]
struct Kept {
    keep: usize,
    /// Least recently used first.
    parts: Vec<KeptPart>,
}

#[derive(Debug)]
struct KeptPart {
    path: PathBuf,
    file: FileId,
    bytes: Bytes,
}

/// What tells a file apart, and whether it changed: its device and inode (on Unix), length
/// and modification time.
#[derive(Clone, Copy, Debug, PartialEq)]
struct FileId {
    device: u64,
    inode: u64,
    len: u64,
    modified: Option<SystemTime>,
}

impl FileId {
    fn of(meta: &Metadata) -> Self {
        #[cfg(unix)]
        let (device, inode) = {
            use std::os::unix::fs::MetadataExt;
            (meta.dev(), meta.ino())
        };
        #[cfg(not(unix))]
        let (device, inode) = (0, 0);
        FileId {
            device,
            inode,
            len: meta.len(),
            modified: meta.modified().ok(),
        }
    }

    /// Whether `path` still names this file (same device and inode), as `stat` tells now.
    fn named_by(&self, path: &Path) -> bool {
        std::fs::metadata(path).is_ok_and(|m| {
            let now = FileId::of(&m);
            (now.device, now.inode) == (self.device, self.inode)
        })
    }
}

impl MappedParts {
    /// Keeping at most `keep` parts mapped (0: none).
    pub const fn new(keep: usize) -> Self {
        MappedParts {
            kept: Mutex::new(Kept {
                keep,
                parts: Vec::new(),
            }),
        }
    }

    /// Keeps at most `keep` parts mapped from now on.
    pub fn keep(&self, keep: usize) {
        let mut kept = self.lock();
        kept.keep = keep;
        kept.trim();
    }

    /// Lets go of the mappings of files removed or replaced since (see [`let_go_removed`]).
    pub fn let_go_removed(&self) {
        self.lock().parts.retain(|p| p.file.named_by(&p.path));
    }

    /// How many parts are kept mapped now.
    pub fn len(&self) -> usize {
        self.lock().parts.len()
    }

    /// Whether no part is kept mapped.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Opens the part at `path` as [`open_part`] does: mapped when `map` — the mapping kept
    /// from an earlier call when `path` still names the same file, unchanged, else a new one,
    /// kept in turn.
    pub fn open(&self, path: &Path, map: bool) -> std::io::Result<PartFile> {
        let file = File::open(path)?;
        let meta = file.metadata()?;
        if !map || meta.len() == 0 || on_network_fs(&file) {
            return Ok(PartFile::Read(file));
        }
        let id = FileId::of(&meta);
        if let Some(bytes) = self.lock().reuse(path, id) {
            return Ok(PartFile::Mapped(bytes));
        }
        // SAFETY: the mapping is read-only and lives as long as the `Bytes` that owns it. What
        // the type system cannot promise is that the file's length stays: a file truncated in
        // place while mapped raises SIGBUS on a read past its new end (see the module's docs;
        // parts are written whole and replaced by renames, which leave the mapping intact).
        let bytes = match unsafe { memmap2::Mmap::map(&file) } {
            Ok(mapped) => Bytes::from_owner(mapped),
            Err(_) => return Ok(PartFile::Read(file)),
        };
        self.lock().insert(path, id, bytes.clone());
        Ok(PartFile::Mapped(bytes))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Kept> {
        // (A panic while holding the lock leaves a list that is whole at every step.)
        self.kept.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Kept {
    /// The mapping kept for `path` if it maps file `id` as it is now (then the most recently
    /// used).
    fn reuse(&mut self, path: &Path, id: FileId) -> Option<Bytes> {
        let at = self.parts.iter().position(|p| p.path == path && p.file == id)?;
        let part = self.parts.remove(at);
        let bytes = part.bytes.clone();
        self.parts.push(part);
        Some(bytes)
    }

    /// Keeps `bytes`, the mapping of file `id` at `path`, in place of any other for `path`;
    /// lets go of the mappings of files removed or replaced since, then of the least recently
    /// used past `keep`.
    fn insert(&mut self, path: &Path, id: FileId, bytes: Bytes) {
        if self.keep == 0 {
            return;
        }
        self.parts.retain(|p| p.path != path && p.file.named_by(&p.path));
        self.parts.push(KeptPart {
            path: path.to_path_buf(),
            file: id,
            bytes,
        });
        self.trim();
    }

    /// Lets go of the least recently used mappings past `keep`.
    fn trim(&mut self) {
        let extra = self.parts.len().saturating_sub(self.keep);
        self.parts.drain(..extra);
    }
}

/// Whether `file` is on a network or FUSE file system, where a read error of a mapped page
/// would raise `SIGBUS` (Linux; elsewhere, and when the system cannot tell, `false`).
fn on_network_fs(file: &File) -> bool {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let mut fs = std::mem::MaybeUninit::<libc::statfs>::zeroed();
        // SAFETY: `fstatfs` writes one `statfs` through a valid pointer for an open descriptor
        // and nothing else; the value is read only when it reports success.
        let ok = unsafe { libc::fstatfs(file.as_raw_fd(), fs.as_mut_ptr()) } == 0;
        // SAFETY: initialised by the successful call above (and zeroed before it).
        ok && is_network_fs_type(unsafe { fs.assume_init() }.f_type as u64)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = file;
        false
    }
}

/// Whether a Linux file system type (`statfs.f_type`, as its 32 bits) is a network or FUSE
/// file system: NFS, SMB, CIFS, SMB2, Ceph, AFS, Coda, 9P, Lustre, GPFS, OCFS2, FUSE.
fn is_network_fs_type(f_type: u64) -> bool {
    const NETWORK: [u32; 12] = [
        0x0000_6969, // NFS
        0x0000_517b, // SMB
        0xff53_4d42, // CIFS
        0xfe53_4d42, // SMB2
        0x00c3_6400, // Ceph
        0x5346_414f, // AFS
        0x7375_7245, // Coda
        0x0102_1997, // 9P
        0x0bd0_0bd0, // Lustre
        0x4750_4653, // GPFS
        0x7461_636f, // OCFS2
        0x6573_5546, // FUSE
    ];
    NETWORK.contains(&((f_type & 0xffff_ffff) as u32))
}

/// A reader over a [`PartFile`] from some offset.
pub enum PartReader {
    /// Over the mapped bytes.
    Mapped(bytes::buf::Reader<Bytes>),
    /// Over the file.
    Read(BufReader<File>),
}

impl Read for PartReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            PartReader::Mapped(r) => r.read(buf),
            PartReader::Read(r) => r.read(buf),
        }
    }
}

impl Length for PartFile {
    fn len(&self) -> u64 {
        match self {
            PartFile::Mapped(b) => b.len() as u64,
            PartFile::Read(f) => Length::len(f),
        }
    }
}

impl ChunkReader for PartFile {
    type T = PartReader;

    fn get_read(&self, start: u64) -> ParquetResult<PartReader> {
        match self {
            PartFile::Mapped(b) => b.get_read(start).map(PartReader::Mapped),
            PartFile::Read(f) => f.get_read(start).map(PartReader::Read),
        }
    }

    fn get_bytes(&self, start: u64, length: usize) -> ParquetResult<Bytes> {
        match self {
            PartFile::Mapped(b) => mapped_range(b, start, length),
            PartFile::Read(f) => f.get_bytes(start, length),
        }
    }
}

/// `length` bytes of `b` from `start`, without a copy; an error naming both when they reach
/// past the end (offsets come from the file's footer). Checked here rather than by `Bytes`'
/// own `get_bytes`, whose `start + length` may overflow.
fn mapped_range(b: &Bytes, start: u64, length: usize) -> ParquetResult<Bytes> {
    let range = usize::try_from(start)
        .ok()
        .and_then(|from| Some(from..from.checked_add(length)?))
        .filter(|r| r.end <= b.len());
    range.map(|r| b.slice(r)).ok_or_else(|| {
        ParquetError::EOF(format!(
            "{length} bytes at offset {start} reach past the end of the file ({} bytes)",
            b.len()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(bytes: &[u8]) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("p.parquet");
        std::fs::write(&path, bytes).expect("write");
        (dir, path)
    }

    #[test]
    fn both_ways_give_the_same_bytes_and_refuse_the_same_ranges() {
        let data: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
        let (_dir, path) = part(&data);
        let mapped = open_part(&path, true).expect("open");
        let read = open_part(&path, false).expect("open");
        assert!(matches!(mapped, PartFile::Mapped(_)));
        assert!(matches!(read, PartFile::Read(_)));
        for f in [&mapped, &read] {
            assert_eq!(Length::len(f), 10_000);
            assert_eq!(&f.get_bytes(9_990, 10).expect("in range")[..], &data[9_990..]);
            let mut rest = Vec::new();
            f.get_read(9_000)
                .expect("in range")
                .read_to_end(&mut rest)
                .expect("read");
            assert_eq!(rest, &data[9_000..]);
            assert!(f.get_bytes(9_991, 10).is_err());
            assert!(f.get_bytes(u64::MAX, 1).is_err());
        }
        // Offsets past the end, or a length that overflows: an error, not a panic.
        assert!(mapped.get_bytes(5, usize::MAX).is_err());
        assert!(mapped.get_read(10_001).is_err());
    }

    #[test]
    fn network_file_systems_are_told_apart() {
        for nfs in [0x6969u64, 0xff53_4d42, 0x6573_5546, 0xffff_ffff_ff53_4d42] {
            assert!(is_network_fs_type(nfs), "{nfs:#x}");
        }
        // ext4, xfs, btrfs, tmpfs, overlayfs.
        for local in [0xef53u64, 0x5846_5342, 0x9123_683e, 0x0102_1994, 0x794c_7630] {
            assert!(!is_network_fs_type(local), "{local:#x}");
        }
        // A temporary directory is local here: its parts are mapped.
        let (_dir, path) = part(b"PAR1");
        let file = File::open(&path).expect("open");
        assert!(!on_network_fs(&file));
    }

    /// The address a mapped part's bytes start at (what tells one mapping from another).
    fn mapped_at(parts: &MappedParts, path: &Path) -> usize {
        match parts.open(path, true).expect("open") {
            PartFile::Mapped(b) => b.as_ptr() as usize,
            PartFile::Read(_) => panic!("not mapped"),
        }
    }

    #[test]
    fn a_part_stays_mapped_until_its_file_changes() {
        let (dir, path) = part(b"PAR1 first");
        let parts = MappedParts::new(4);
        let first = mapped_at(&parts, &path);
        assert_eq!(mapped_at(&parts, &path), first);
        assert_eq!(parts.len(), 1);
        // Replaced by a rename (another inode): mapped anew, the new bytes read.
        let other = dir.path().join("new");
        std::fs::write(&other, b"PAR1 second").expect("write");
        std::fs::rename(&other, &path).expect("rename");
        let PartFile::Mapped(bytes) = parts.open(&path, true).expect("open") else {
            panic!("not mapped")
        };
        assert_eq!(&bytes[..], b"PAR1 second");
        assert_eq!(parts.len(), 1);
        // Written over in place, to another length: mapped anew.
        let before = bytes.as_ptr() as usize;
        std::fs::write(&path, b"PAR1 third, longer").expect("write");
        let PartFile::Mapped(bytes) = parts.open(&path, true).expect("open") else {
            panic!("not mapped")
        };
        assert_eq!(&bytes[..], b"PAR1 third, longer");
        assert_ne!(bytes.as_ptr() as usize, before);
        // Read with `read` calls when asked: nothing kept changes.
        assert!(matches!(parts.open(&path, false), Ok(PartFile::Read(_))));
        assert_eq!(parts.len(), 1);
    }

    #[test]
    fn the_least_recently_used_part_is_let_go_first() {
        let dir = tempfile::tempdir().expect("temp dir");
        let paths: Vec<PathBuf> = (0..3)
            .map(|i| {
                let p = dir.path().join(format!("{i}.parquet"));
                std::fs::write(&p, format!("PAR1 {i}")).expect("write");
                p
            })
            .collect();
        let parts = MappedParts::new(2);
        let a = mapped_at(&parts, &paths[0]);
        let b = mapped_at(&parts, &paths[1]);
        assert_eq!(mapped_at(&parts, &paths[0]), a); // 0 used after 1
        mapped_at(&parts, &paths[2]); // 1 let go
        assert_eq!(parts.len(), 2);
        assert_eq!(mapped_at(&parts, &paths[0]), a);
        // 1 mapped anew (its old mapping is gone: the address may be reused, so only the
        // count tells), letting 2 go.
        let _ = b;
        mapped_at(&parts, &paths[1]);
        assert_eq!(parts.len(), 2);
        // Fewer kept from now on: the least recently used let go at once; none: nothing kept.
        parts.keep(1);
        assert_eq!(parts.len(), 1);
        parts.keep(0);
        assert!(parts.is_empty());
        mapped_at(&parts, &paths[0]);
        assert!(parts.is_empty());
    }

    #[test]
    fn a_removed_part_is_let_go_when_another_is_mapped() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (a, b) = (dir.path().join("a.parquet"), dir.path().join("b.parquet"));
        std::fs::write(&a, b"PAR1 a").expect("write");
        std::fs::write(&b, b"PAR1 b").expect("write");
        let parts = MappedParts::new(8);
        mapped_at(&parts, &a);
        std::fs::remove_file(&a).expect("remove");
        assert_eq!(parts.len(), 1);
        mapped_at(&parts, &b);
        // Only b's mapping is left: a's file, removed, is no longer held open by a mapping.
        assert_eq!(parts.len(), 1);
        assert!(parts.open(&a, true).is_err());
        // Or at once, when asked (as a worker does after its cache may have removed files).
        std::fs::remove_file(&b).expect("remove");
        assert_eq!(parts.len(), 1);
        parts.let_go_removed();
        assert!(parts.is_empty());
    }

    #[test]
    fn an_empty_or_missing_file() {
        let (_dir, path) = part(b"");
        assert!(matches!(open_part(&path, true), Ok(PartFile::Read(_))));
        assert!(open_part(&path.with_extension("gone"), true).is_err());
    }
}
