//! A part file opened for reading: mapped into memory, or read with `read` calls.
//!
//! A mapped part's pages are decompressed and decoded straight from the page cache. Read with
//! `read` calls, every byte of the columns a query needs is first copied from the page cache
//! into a buffer: 3–5% of a query's time over a warm part (`docs/performance.md`, "Session
//! 19"). Either way only the column chunks a query needs are touched.
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

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

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
/// calls instead).
pub fn open_part(path: &Path, map: bool) -> std::io::Result<PartFile> {
    let file = File::open(path)?;
    if !map || file.metadata()?.len() == 0 || on_network_fs(&file) {
        return Ok(PartFile::Read(file));
    }
    // SAFETY: the mapping is read-only and lives as long as the `Bytes` that owns it. What the
    // type system cannot promise is that the file's length stays: a file truncated in place
    // while mapped raises SIGBUS on a read past its new end (see the module's docs; parts are
    // written whole and replaced by renames, which leave the mapping intact).
    match unsafe { memmap2::Mmap::map(&file) } {
        Ok(mapped) => Ok(PartFile::Mapped(Bytes::from_owner(mapped))),
        Err(_) => Ok(PartFile::Read(file)),
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

    #[test]
    fn an_empty_or_missing_file() {
        let (_dir, path) = part(b"");
        assert!(matches!(open_part(&path, true), Ok(PartFile::Read(_))));
        assert!(open_part(&path.with_extension("gone"), true).is_err());
    }
}
