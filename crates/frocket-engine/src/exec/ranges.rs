//! Reading a part from some of its bytes: which byte ranges a query needs (its columns' chunks
//! in the row groups its timeframe keeps), and a reader over the ranges fetched.
//!
//! A worker that does not hold a part fetches its footer, asks [`needed_ranges`] what to fetch,
//! fetches those ranges only and reads the part from a [`SparseFile`], instead of downloading
//! the whole file.

use std::ops::Range;

use arrow::datatypes::Schema;
use bytes::{Buf, Bytes};
use parquet::arrow::parquet_to_arrow_schema;
use parquet::errors::ParquetError;
use parquet::file::metadata::{ParquetMetaData, ParquetMetaDataReader};
use parquet::file::reader::{ChunkReader, Length};

use crate::error::EngineError;
use crate::query::ValidatedQuery;

/// Bytes of a part's end fetched first: the footer of most parts fits.
pub const FOOTER_GUESS: u64 = 64 * 1024;

/// Ranges closer than this are fetched as one (fewer requests for a few wasted bytes).
pub const COALESCE_GAP: u64 = 1024 * 1024;

/// The length of the footer (metadata and its 8-byte trailer) of a part, from its last 8
/// bytes (`tail` ends at the end of the file).
///
/// ```
/// use frocket_engine::exec::footer_len;
/// let mut tail = vec![0u8; 4];
/// tail.extend_from_slice(&100u32.to_le_bytes());
/// tail.extend_from_slice(b"PAR1");
/// assert_eq!(footer_len("p", &tail).unwrap(), 108);
/// ```
pub fn footer_len(file: &str, tail: &[u8]) -> Result<u64, EngineError> {
    let bad = |m: &str| EngineError::PartRead {
        file: file.to_string(),
        message: m.to_string(),
    };
    if tail.len() < 8 {
        return Err(bad("shorter than a Parquet trailer"));
    }
    let t = &tail[tail.len() - 8..];
    if &t[4..] != b"PAR1" {
        return Err(bad("not a Parquet file (no PAR1 trailer)"));
    }
    let len = u32::from_le_bytes([t[0], t[1], t[2], t[3]]);
    Ok(u64::from(len) + 8)
}

/// Parses a part's metadata from its footer bytes (the last [`footer_len`] bytes or more).
pub fn parse_footer(file: &str, footer: &[u8]) -> Result<ParquetMetaData, EngineError> {
    let bytes = Bytes::copy_from_slice(footer);
    ParquetMetaDataReader::new()
        .parse_and_finish(&bytes)
        .map_err(|e| EngineError::PartRead {
            file: file.to_string(),
            message: e.to_string(),
        })
}

/// The byte ranges of `file` that reading it for `query` touches: the chunks of the columns
/// the query reads, in the row groups its timeframe keeps, one range per column chunk (never
/// merged, so that a cache keyed by chunk finds them whatever other columns a query reads),
/// sorted. The footer is not among them. [`coalesce`] them into fewer requests.
pub fn needed_ranges(
    file: &str,
    meta: &ParquetMetaData,
    query: &ValidatedQuery,
) -> Result<Vec<Range<u64>>, EngineError> {
    let err = |m: String| EngineError::PartRead {
        file: file.to_string(),
        message: m,
    };
    let pschema = meta.file_metadata().schema_descr();
    let arrow: Schema =
        parquet_to_arrow_schema(pschema, meta.file_metadata().key_value_metadata()).map_err(|e| err(e.to_string()))?;
    let mut roots = Vec::new();
    for c in query.columns_to_read() {
        let idx = arrow.index_of(&c).map_err(|_| EngineError::MissingColumn {
            file: file.to_string(),
            column: c.clone(),
        })?;
        roots.push(idx);
    }
    let row_groups: Vec<usize> = if query.timeframe.is_unbounded() {
        (0..meta.num_row_groups()).collect()
    } else {
        let hinted = super::read::dictionary_hints(&arrow, meta);
        super::read::prune_row_groups(&hinted, pschema, meta, &query.timestamp_column, &query.timeframe)
            .map_err(|e| err(e.to_string()))?
            .0
    };
    let mut ranges: Vec<Range<u64>> = Vec::new();
    for rg in row_groups {
        let group = meta.row_group(rg);
        for leaf in 0..pschema.num_columns() {
            if !roots.contains(&pschema.get_column_root_idx(leaf)) {
                continue;
            }
            let (start, len) = group.column(leaf).byte_range();
            ranges.push(start..start.saturating_add(len));
        }
    }
    ranges.retain(|r| r.start < r.end);
    ranges.sort_by_key(|r| r.start);
    ranges.dedup();
    Ok(ranges)
}

/// Sorts ranges and merges those that overlap or are closer than `gap`.
///
/// ```
/// use frocket_engine::exec::coalesce;
/// assert_eq!(coalesce(vec![10..20, 0..5, 22..30, 100..110], 3), vec![0..5, 10..30, 100..110]);
/// ```
pub fn coalesce(mut ranges: Vec<Range<u64>>, gap: u64) -> Vec<Range<u64>> {
    ranges.retain(|r| r.start < r.end);
    ranges.sort_by_key(|r| r.start);
    let mut out: Vec<Range<u64>> = Vec::with_capacity(ranges.len());
    for r in ranges {
        match out.last_mut() {
            Some(last) if r.start <= last.end.saturating_add(gap) => last.end = last.end.max(r.end),
            _ => out.push(r),
        }
    }
    out
}

/// A part of which only some byte ranges are at hand: enough to read it for a query when they
/// are its footer and the [`needed_ranges`]. Reading outside them is an error naming the range.
///
/// ```
/// use bytes::Bytes;
/// use frocket_engine::exec::SparseFile;
/// use parquet::file::reader::{ChunkReader, Length};
/// let mut f = SparseFile::new(100);
/// f.insert(10, Bytes::from_static(b"0123456789"));
/// assert_eq!(f.len(), 100);
/// assert_eq!(&f.get_bytes(12, 3).unwrap()[..], b"234");
/// assert!(f.get_bytes(15, 10).is_err());
/// ```
#[derive(Debug, Clone)]
pub struct SparseFile {
    size: u64,
    /// Fetched ranges by start offset, not overlapping one another's start.
    chunks: Vec<(u64, Bytes)>,
}

impl SparseFile {
    /// An empty view of a file of `size` bytes.
    pub fn new(size: u64) -> Self {
        SparseFile {
            size,
            chunks: Vec::new(),
        }
    }

    /// Adds the bytes at `start`.
    pub fn insert(&mut self, start: u64, bytes: Bytes) {
        let at = self.chunks.partition_point(|(s, _)| *s < start);
        self.chunks.insert(at, (start, bytes));
    }

    /// The bytes held, in all.
    pub fn held(&self) -> u64 {
        self.chunks.iter().map(|(_, b)| b.len() as u64).sum()
    }

    /// The chunk holding `start..start + len`, and the offset of `start` in it.
    fn find(&self, start: u64, len: u64) -> Option<(&Bytes, usize)> {
        let end = start.checked_add(len)?;
        self.chunks
            .iter()
            .rev()
            .find_map(|(s, b)| (*s <= start && s + b.len() as u64 >= end).then(|| (b, (start - s) as usize)))
    }
}

impl Length for SparseFile {
    fn len(&self) -> u64 {
        self.size
    }
}

impl ChunkReader for SparseFile {
    type T = bytes::buf::Reader<Bytes>;

    fn get_read(&self, start: u64) -> parquet::errors::Result<Self::T> {
        let (b, off) = self
            .find(start, 0)
            .ok_or_else(|| ParquetError::General(format!("bytes from {start} were not fetched")))?;
        Ok(b.slice(off..).reader())
    }

    fn get_bytes(&self, start: u64, length: usize) -> parquet::errors::Result<Bytes> {
        let (b, off) = self.find(start, length as u64).ok_or_else(|| {
            ParquetError::General(format!(
                "bytes {start}..{} were not fetched",
                start.saturating_add(length as u64)
            ))
        })?;
        Ok(b.slice(off..off + length))
    }
}
