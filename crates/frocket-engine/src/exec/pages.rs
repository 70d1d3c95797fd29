//! Our own decoding of flat column chunks' pages: INT64 and DOUBLE chunks (DOUBLE values as
//! their bits) and STRING chunks whose data pages are all dictionary-encoded. A page gives each
//! row's entry in the chunk's dictionary instead of its value, so group ids are numbered once
//! per distinct id of a row group (see [`IntNumbering::push_entries`](super::groups::IntNumbering))
//! instead of once per row, held values coded once per entry, and the dictionary gather arrow-rs
//! would do is skipped; kept columns get their values placed straight into one buffer.
//!
//! Only chunks whose encodings this module knows are decoded here ([`decodable_numbers`],
//! [`decodable_strings`]): dictionary pages, `RLE_DICTIONARY` / `PLAIN_DICTIONARY` and `PLAIN`
//! data pages (format v1 and v2), definition levels of an optional column; anything else is
//! read by arrow-rs. Pages come from arrow-rs' [`SerializedPageReader`]: decompressed by it,
//! except Snappy pages, which it hands over as written and which are decompressed here into a
//! buffer kept from page to page and from chunk to chunk ([`PageBuffers`]; arrow-rs would
//! zero-fill a new one for every page). Every length, bit width and entry is checked: a damaged
//! page is an error naming the column and row group, never a panic, an entry past the
//! dictionary or a buffer larger than its page could fill.

use std::mem::MaybeUninit;
use std::sync::Arc;

use arrow::array::BooleanBufferBuilder;
use arrow::array::{Array, StringArray};
use arrow::buffer::{BooleanBuffer, Buffer, OffsetBuffer, ScalarBuffer};
use bytes::Bytes;
use parquet::basic::{Compression, Encoding, PageType, Type as PhysicalType};
use parquet::column::page::Page;
use parquet::file::metadata::ColumnChunkMetaData;
use parquet::file::reader::ChunkReader;
use parquet::file::serialized_reader::SerializedPageReader;

/// Whether [`ChunkPages`] can decode `chunk`: a flat INT64 or DOUBLE column (optional or
/// required) written with dictionary, plain and RLE encodings only. (A DOUBLE's values come
/// as the `i64` of their bits: [`f64::from_bits`] turns them back.)
pub(crate) fn decodable_numbers(chunk: &ColumnChunkMetaData) -> bool {
    let descr = chunk.column_descr();
    matches!(descr.physical_type(), PhysicalType::INT64 | PhysicalType::DOUBLE)
        && descr.max_rep_level() == 0
        && descr.max_def_level() <= 1
        && chunk.encodings().all(|e| {
            matches!(
                e,
                Encoding::PLAIN | Encoding::PLAIN_DICTIONARY | Encoding::RLE_DICTIONARY | Encoding::RLE
            )
        })
}

/// Whether [`ChunkPages`] can decode `chunk` as a STRING column's dictionary entries: a flat
/// BYTE_ARRAY column (optional or required) whose data pages are all dictionary-encoded, as
/// the footer's page encoding statistics say (without them, arrow-rs reads it).
pub(crate) fn decodable_strings(chunk: &ColumnChunkMetaData) -> bool {
    let dictionary_only = |e: Encoding| matches!(e, Encoding::PLAIN_DICTIONARY | Encoding::RLE_DICTIONARY);
    let all_pages = chunk
        .page_encoding_stats_mask()
        .is_some_and(|m| m.is_only(Encoding::PLAIN_DICTIONARY) || m.is_only(Encoding::RLE_DICTIONARY))
        || chunk.page_encoding_stats().is_some_and(|stats| {
            stats
                .iter()
                .filter(|p| matches!(p.page_type, PageType::DATA_PAGE | PageType::DATA_PAGE_V2))
                .all(|p| dictionary_only(p.encoding))
        });
    let descr = chunk.column_descr();
    descr.physical_type() == PhysicalType::BYTE_ARRAY
        && descr.max_rep_level() == 0
        && descr.max_def_level() <= 1
        && chunk.dictionary_page_offset().is_some()
        && all_pages
}

/// Up to a batch of rows of a dictionary-encoded STRING column, from [`decode_string_column`].
pub(crate) struct StringKeys {
    /// The dictionary of the rows' row group.
    pub dictionary: StringArray,
    /// Each row's entry in `dictionary` (0 for a row without a value); every one within it.
    pub keys: Vec<u32>,
    /// Which rows have a value; `None` when all do.
    pub present: Option<BooleanBuffer>,
}

/// Decodes leaf column `leaf` (see [`decodable_strings`]) of the row groups `row_groups` (in
/// that order) of the part `meta` describes, calling `out` with the keys of each `batch` rows
/// in turn (fewer at a row group's end: batches never span row groups). Batches small enough
/// to stay in cache, so that what `out` does with them finds them there. An error names the
/// row group.
pub(crate) fn decode_string_column<R: ChunkReader>(
    reader: &Arc<R>,
    meta: &parquet::file::metadata::ParquetMetaData,
    row_groups: &[usize],
    leaf: usize,
    batch: usize,
    mut out: impl FnMut(StringKeys) -> Result<(), String>,
) -> Result<(), String> {
    let batch = batch.max(1);
    let mut buffers = PageBuffers::default();
    for &rg in row_groups {
        let in_group = |m: String| format!("row group {rg}: {m}");
        let (mut chunk, expected) = ChunkPages::of_row_group(reader, meta, rg, leaf, &mut buffers).map_err(in_group)?;
        let capacity = batch.min(expected).min(1 << 25);
        // Room for a batch and the 8 places past a page's entries that decoding may write:
        // pages that fit are decoded straight into the batch's keys; the one that straddles
        // the batch's end, and pages with rows without a value, through the chunk's buffer.
        let room = capacity + 8;
        let mut keys: Vec<u32> = Vec::with_capacity(room);
        let mut valid: Option<BooleanBufferBuilder> = None;
        let mut dictionary: Option<StringArray> = None;
        let mut emit =
            |keys: &mut Vec<u32>, valid: &mut Option<BooleanBufferBuilder>, dictionary: &Option<StringArray>| {
                out(StringKeys {
                    dictionary: dictionary
                        .clone()
                        .unwrap_or_else(|| StringArray::from(Vec::<&str>::new())),
                    keys: std::mem::replace(keys, Vec::with_capacity(room)),
                    present: valid.take().map(|mut v| v.finish()),
                })
            };
        while let Some(page) = chunk.next_page_into(Some((&mut keys, batch))).map_err(in_group)? {
            if dictionary.is_none() {
                dictionary = page.strings.cloned();
            }
            let entries = match page.values {
                PageValues::Appended => {
                    // (Within the batch: `next_page_into` appends no more.)
                    let rows = page.rows;
                    if let Some(v) = valid.as_mut() {
                        v.append_n(rows, true);
                    }
                    if keys.len() == batch {
                        emit(&mut keys, &mut valid, &dictionary)?;
                    }
                    continue;
                }
                PageValues::Entries { entries, .. } => entries,
                PageValues::Plain(_) => return Err(in_group("a plain-encoded page of strings".into())),
            };
            // The page's rows `r..`, cut at batch boundaries; `entries[used..]` not yet placed.
            let mut used = 0;
            let mut r = 0;
            while r < page.rows {
                let take = (batch - keys.len()).min(page.rows - r);
                let dense = entries.get(used..).unwrap_or_default();
                match page.present {
                    None => {
                        let Some(next) = dense.get(..take) else {
                            return Err(in_group("a page with fewer values than rows".into()));
                        };
                        keys.extend_from_slice(next);
                        used += take;
                        if let Some(v) = valid.as_mut() {
                            v.append_n(take, true);
                        }
                    }
                    Some(bits) => {
                        let v = valid.get_or_insert_with(|| {
                            let mut v = BooleanBufferBuilder::new(capacity);
                            v.append_n(keys.len(), true);
                            v
                        });
                        v.append_packed_range(r..r + take, bits);
                        used += spread(&mut keys, bits, r..r + take, dense.len(), |j| dense[j]);
                    }
                }
                r += take;
                if keys.len() == batch {
                    emit(&mut keys, &mut valid, &dictionary)?;
                }
            }
        }
        chunk.check_rows(expected).map_err(in_group)?;
        if !keys.is_empty() {
            emit(&mut keys, &mut valid, &dictionary)?;
        }
        buffers = chunk.take_buffers();
    }
    Ok(())
}

/// Appends to `out` the values of a page's rows `rows` whose present bits are `bits` (see
/// [`DataPage::present`]): `dense(j)` for the row with the `j`-th value (`j < dense_len`;
/// `T::default()` once they run out, in a damaged page), `T::default()` for a row without one.
/// Returns how many values were used.
///
/// Eight rows at a time where a byte of bits is whole: those with every row present (most,
/// when nulls are rare) are copied straight, the others placed without a branch per row.
///
/// ```text
/// bits 0b0000_0101, rows 0..4, dense [7, 9] → out [7, 0, 9, 0], 2 used
/// ```
pub(crate) fn spread<T: Copy + Default>(
    out: &mut Vec<T>,
    bits: &[u8],
    rows: std::ops::Range<usize>,
    dense_len: usize,
    dense: impl Fn(usize) -> T,
) -> usize {
    out.reserve(rows.len());
    let mut j = 0;
    let mut r = rows.start;
    while r < rows.end {
        if r.is_multiple_of(8) && r + 8 <= rows.end && j + 8 <= dense_len {
            let b = bits.get(r / 8).copied().unwrap_or(0);
            if b == 0xFF {
                out.extend((j..j + 8).map(&dense));
                j += 8;
            } else {
                for k in 0..8 {
                    // (j stays below the byte's first j + 8: within the values.)
                    let bit = (b >> k) & 1;
                    let v = dense(j);
                    out.push(if bit == 1 { v } else { T::default() });
                    j += bit as usize;
                }
            }
            r += 8;
            continue;
        }
        let present = bits.get(r / 8).is_some_and(|b| b >> (r % 8) & 1 == 1);
        match present {
            true if j < dense_len => {
                out.push(dense(j));
                j += 1;
            }
            _ => out.push(T::default()),
        }
        r += 1;
    }
    j
}

/// What takes an INT64 or DOUBLE column's values (DOUBLEs as their bits) from
/// [`decode_number_column`].
pub(crate) trait ValueSink {
    /// The next values, as entries of their chunk's `dictionary` (each within it).
    fn entries(&mut self, dictionary: &[i64], entries: &[u32]);
    /// The next values, as such (a plain page).
    fn values(&mut self, values: &[i64]);
    /// A chunk ended: its `dictionary` (empty if none) and its rows without a value.
    fn end_chunk(&mut self, dictionary: &[i64], nulls: usize) -> Result<(), String>;
    /// The next page has rows without a value: `present` has a bit for each of its `rows` rows
    /// (least significant first), 1 where the row has a value. Called before that page's
    /// `entries` or `values` (which hold the values of those rows only), and only for pages
    /// with such rows. Sinks that need no row's place ignore it.
    fn absent(&mut self, _present: &[u8], _rows: usize) {}
}

/// Decodes leaf column `leaf` of the row groups `row_groups` (in that order) of the part
/// `meta` describes into `sink`. An error names the row group.
pub(crate) fn decode_number_column<R: ChunkReader>(
    reader: &Arc<R>,
    meta: &parquet::file::metadata::ParquetMetaData,
    row_groups: &[usize],
    leaf: usize,
    sink: &mut (impl ValueSink + ?Sized),
) -> Result<(), String> {
    let mut buffers = PageBuffers::default();
    for &rg in row_groups {
        let in_group = |m: String| format!("row group {rg}: {m}");
        let (mut chunk, expected) = ChunkPages::of_row_group(reader, meta, rg, leaf, &mut buffers).map_err(in_group)?;
        while let Some(page) = chunk.next_page().map_err(in_group)? {
            if let Some(present) = page.present {
                sink.absent(present, page.rows);
            }
            match page.values {
                PageValues::Entries { dictionary, entries } => sink.entries(dictionary, entries),
                PageValues::Plain(values) => sink.values(values),
                // (Only for a buffer given: none is.)
                PageValues::Appended => return Err(in_group("entries appended to no buffer".into())),
            }
        }
        chunk.check_rows(expected).map_err(in_group)?;
        sink.end_chunk(chunk.dictionary(), chunk.nulls()).map_err(in_group)?;
        buffers = chunk.take_buffers();
    }
    Ok(())
}

/// One page's non-null values, as [`ChunkPages::next_page`] returns them.
#[derive(Debug, PartialEq)]
pub(crate) enum PageValues<'a> {
    /// Each value's entry in the chunk's dictionary; every entry is within it.
    Entries {
        /// The chunk's dictionary.
        dictionary: &'a [i64],
        /// Each value's entry.
        entries: &'a [u32],
    },
    /// The values themselves (a page written plain, e.g. after the dictionary grew too large).
    Plain(&'a [i64]),
    /// Each value's entry, appended to the buffer given to [`ChunkPages::next_page_into`]
    /// (every one within the dictionary).
    Appended,
}

/// One data page, as [`ChunkPages::next_page`] returns it.
#[derive(Debug, PartialEq)]
pub(crate) struct DataPage<'a> {
    /// The values of the page's rows that have one.
    pub values: PageValues<'a>,
    /// Which of the page's rows have a value: a bit a row, least significant first; `None`
    /// when every row has one.
    pub present: Option<&'a [u8]>,
    /// The page's rows.
    pub rows: usize,
    /// A STRING column's dictionary, which [`PageValues::Entries`] index.
    pub strings: Option<&'a StringArray>,
}

/// The buffers a [`ChunkPages`] decodes its pages into, handed on from chunk to chunk.
#[derive(Default)]
pub(crate) struct PageBuffers {
    scratch: Vec<i64>,
    entries: Vec<u32>,
}

/// What [`ChunkPages`] decoded a data page's values into.
enum Decoded {
    Entries,
    Plain,
    /// Plain values read in place in the chunk's scratch: `count` words from word `at`.
    PlainScratch(usize, usize),
    /// Entries appended to the caller's buffer.
    Appended,
}

/// The pages of one INT64, DOUBLE or dictionary STRING column chunk, decoded one at a time.
///
/// ```ignore
/// let mut chunk = ChunkPages::open(reader, row_group.column(i), rows)?;
/// while let Some(page) = chunk.next_page()? {
///     match page.values {
///         PageValues::Entries { dictionary, entries } => { /* dictionary[entries[k] as usize] … */ }
///         PageValues::Plain(v) => { /* … */ }
///     }
/// }
/// ```
pub(crate) struct ChunkPages<R: ChunkReader> {
    pages: SerializedPageReader<R>,
    /// A Snappy chunk's pages come from `pages` as written, and are decompressed here: data
    /// pages into `scratch`, page after page, not each into a new zero-filled buffer.
    snappy: Option<snap::raw::Decoder>,
    /// Where a Snappy chunk's data pages are decompressed, in 8-byte words: a plain page's
    /// values are read in place ([`Data::Scratch`]).
    scratch: Vec<i64>,
    optional: bool,
    /// The chunk's dictionary: read in place from its page where it can be
    /// ([`i64s_in_place`]), else copied.
    dictionary: ScalarBuffer<i64>,
    /// A STRING column's dictionary (a BYTE_ARRAY chunk: no plain pages, no `dictionary`).
    strings: Option<StringArray>,
    is_strings: bool,
    has_dictionary: bool,
    entries: Vec<u32>,
    plain: Vec<i64>,
    /// The last plain page's values, read in place from the page (see [`ChunkPages::values`]);
    /// `None` when they were copied into `plain`.
    plain_page: Option<ScalarBuffer<i64>>,
    /// The last page's rows with a value, a bit each (when some have none).
    present: Vec<u8>,
    /// Rows with no value (definition level 0) met so far.
    nulls: usize,
    /// Rows of the pages read so far.
    rows: usize,
    /// The row group's rows: no page reaches past them.
    expected: usize,
}

impl<R: ChunkReader> ChunkPages<R> {
    /// The pages of `chunk` (of a row group of `rows` rows) in `reader`.
    pub(crate) fn open(reader: Arc<R>, chunk: &ColumnChunkMetaData, rows: usize) -> Result<Self, String> {
        let is_strings = decodable_strings(chunk);
        if !decodable_numbers(chunk) && !is_strings {
            return Err("not a flat INT64 or DOUBLE column with dictionary or plain pages, nor a flat STRING column with dictionary pages".into());
        }
        // A Snappy chunk is read as if uncompressed: its pages as written, decompressed by
        // `data_page` (every other codec by the page reader).
        let snappy = chunk.compression() == Compression::SNAPPY;
        let raw;
        let chunk = match snappy {
            true => {
                raw = chunk
                    .clone()
                    .into_builder()
                    .set_compression(Compression::UNCOMPRESSED)
                    .build()
                    .map_err(|e| e.to_string())?;
                &raw
            }
            false => chunk,
        };
        let pages = SerializedPageReader::new(reader, chunk, rows, None).map_err(|e| e.to_string())?;
        Ok(ChunkPages {
            pages,
            snappy: snappy.then(snap::raw::Decoder::new),
            scratch: Vec::new(),
            optional: chunk.column_descr().max_def_level() > 0,
            dictionary: ScalarBuffer::from(Vec::new()),
            strings: None,
            is_strings,
            has_dictionary: false,
            entries: Vec::new(),
            plain: Vec::new(),
            plain_page: None,
            present: Vec::new(),
            nulls: 0,
            rows: 0,
            expected: rows,
        })
    }

    /// The pages of leaf column `leaf` of row group `rg` of the part `meta` describes, decoded
    /// into `buffers` (the column's previous chunk's, from
    /// [`take_buffers`](Self::take_buffers); taken), and the row group's rows.
    fn of_row_group(
        reader: &Arc<R>,
        meta: &parquet::file::metadata::ParquetMetaData,
        rg: usize,
        leaf: usize,
        buffers: &mut PageBuffers,
    ) -> Result<(Self, usize), String> {
        let group = meta.row_groups().get(rg).ok_or("not in the footer")?;
        let column = group.columns().get(leaf).ok_or_else(|| format!("no column {leaf}"))?;
        let expected = group.num_rows().max(0) as usize;
        let chunk = Self::open(reader.clone(), column, expected)?;
        Ok((chunk.with_buffers(std::mem::take(buffers)), expected))
    }

    /// The chunk with `buffers` (another chunk's, from [`take_buffers`](Self::take_buffers))
    /// to decode its pages into: the chunks of a column, one after the other, take no new
    /// memory.
    pub(crate) fn with_buffers(mut self, buffers: PageBuffers) -> Self {
        self.scratch = buffers.scratch;
        self.entries = buffers.entries;
        self.entries.clear();
        self
    }

    /// The buffers the chunk's pages were decoded into, for the next chunk.
    pub(crate) fn take_buffers(&mut self) -> PageBuffers {
        PageBuffers {
            scratch: std::mem::take(&mut self.scratch),
            entries: std::mem::take(&mut self.entries),
        }
    }

    /// An error unless the pages read held `expected` rows (the row group's, by its footer).
    fn check_rows(&self, expected: usize) -> Result<(), String> {
        match self.rows {
            rows if rows == expected => Ok(()),
            rows => Err(format!("{rows} rows where the row group has {expected}")),
        }
    }

    /// The chunk's dictionary (empty until its dictionary page is read).
    pub(crate) fn dictionary(&self) -> &[i64] {
        &self.dictionary
    }

    /// Rows with no value met so far.
    pub(crate) fn nulls(&self) -> usize {
        self.nulls
    }

    /// The next data page; `None` after the last page.
    pub(crate) fn next_page(&mut self) -> Result<Option<DataPage<'_>>, String> {
        self.next_page_into(None)
    }

    /// [`next_page`](Self::next_page), but a dictionary-encoded page whose rows all have a
    /// value has its entries appended to `into.0` when they fit: `into.0` then holds at most
    /// `into.1` entries, and 8 more places in its capacity. Its values are then
    /// [`PageValues::Appended`], nothing copied.
    pub(crate) fn next_page_into(
        &mut self,
        mut into: Option<(&mut Vec<u32>, usize)>,
    ) -> Result<Option<DataPage<'_>>, String> {
        loop {
            let page = match self.pages.next() {
                None => return Ok(None),
                Some(p) => p.map_err(|e| e.to_string())?,
            };
            match page {
                Page::DictionaryPage {
                    buf,
                    num_values,
                    encoding,
                    ..
                } => {
                    if self.has_dictionary {
                        return Err("a second dictionary page".into());
                    }
                    if !matches!(encoding, Encoding::PLAIN | Encoding::PLAIN_DICTIONARY) {
                        return Err(format!("dictionary page encoded {encoding}"));
                    }
                    let buf = match &mut self.snappy {
                        Some(decoder) => {
                            let mut out = vec![0u8; snappy_len(&buf)?];
                            unsnap(decoder, &buf, &mut out)?;
                            Bytes::from(out)
                        }
                        None => buf,
                    };
                    if self.is_strings {
                        self.strings = Some(plain_strings(&buf, num_values as usize)?);
                        self.has_dictionary = true;
                        continue;
                    }
                    let bytes = (num_values as usize)
                        .checked_mul(8)
                        .and_then(|n| buf.get(..n))
                        .ok_or_else(|| format!("dictionary page of {num_values} values is {} bytes", buf.len()))?;
                    self.dictionary = i64s_in_place(&buf, num_values as usize).unwrap_or_else(|| {
                        let mut copy = Vec::with_capacity(num_values as usize);
                        extend_le_i64(&mut copy, bytes);
                        ScalarBuffer::from(copy)
                    });
                    self.has_dictionary = true;
                }
                Page::DataPage {
                    buf,
                    num_values,
                    encoding,
                    def_level_encoding,
                    ..
                } => {
                    let rows = num_values as usize;
                    self.check_page_rows(rows)?;
                    if self.optional && def_level_encoding != Encoding::RLE {
                        return Err(format!("definition levels encoded {def_level_encoding}"));
                    }
                    // Levels (of an optional column), then values: all compressed.
                    let data = self.data_page(buf, 0, true)?;
                    let (values, present) = if self.optional {
                        let page = scratch_bytes(&self.scratch, &data)?;
                        let len = page
                            .get(..4)
                            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
                            .ok_or("page too short for its definition levels")?;
                        let levels = page
                            .get(4..4usize.saturating_add(len))
                            .ok_or("definition levels past the page's end")?;
                        let present = levels_present(levels, rows, &mut self.present)?;
                        (data.skip(4 + len), present)
                    } else {
                        (data, rows)
                    };
                    return self.page(values, encoding, rows, present, into.take()).map(Some);
                }
                Page::DataPageV2 {
                    buf,
                    num_values,
                    encoding,
                    def_levels_byte_len,
                    rep_levels_byte_len,
                    is_compressed,
                    ..
                } => {
                    if rep_levels_byte_len != 0 {
                        return Err("repetition levels in a flat column".into());
                    }
                    let rows = num_values as usize;
                    self.check_page_rows(rows)?;
                    let len = def_levels_byte_len as usize;
                    let levels = buf.get(..len).ok_or("definition levels past the page's end")?;
                    let present = if self.optional {
                        levels_present(levels, rows, &mut self.present)?
                    } else {
                        rows
                    };
                    // Levels as written, then values (compressed unless the page says not; a
                    // page of nulls only may have no values to decompress, as arrow-rs reads it).
                    let values = match present {
                        0 => Data::Shared(Bytes::new()),
                        _ => self.data_page(buf, len, is_compressed)?,
                    };
                    return self.page(values, encoding, rows, present, into.take()).map(Some);
                }
            }
        }
    }

    /// An error for a page of `rows` rows past its row group's end. (Buffers are sized by a
    /// page's rows — its levels' bits, its entries: a page claiming more than its row group
    /// holds is an error before any is allocated.)
    fn check_page_rows(&self, rows: usize) -> Result<(), String> {
        match rows > self.expected.saturating_sub(self.rows) {
            true => Err(format!(
                "a page of {rows} rows after {} of a row group of {}",
                self.rows, self.expected
            )),
            false => Ok(()),
        }
    }

    /// A data page's bytes from `from` on: decompressed into `scratch` (a Snappy chunk's page
    /// whose bytes there are `compressed`), else the page's own.
    fn data_page(&mut self, buf: Bytes, from: usize, compressed: bool) -> Result<Data, String> {
        let rest = buf.get(from..).ok_or("a page shorter than its levels")?;
        match &mut self.snappy {
            Some(decoder) if compressed => {
                let n = snappy_len(rest)?;
                if self.scratch.len() < n.div_ceil(8) {
                    self.scratch.resize(n.div_ceil(8), 0);
                }
                let out = bytemuck::cast_slice_mut::<i64, u8>(&mut self.scratch)
                    .get_mut(..n)
                    .ok_or("scratch too short")?;
                unsnap(decoder, rest, out)?;
                Ok(Data::Scratch(0..n))
            }
            _ => Ok(Data::Shared(buf.slice(from..))),
        }
    }

    /// A data page of `rows` rows (checked against the row group by the caller, before its
    /// levels), `present` of which have a value, encoded `encoding` in `data`.
    fn page(
        &mut self,
        data: Data,
        encoding: Encoding,
        rows: usize,
        present: usize,
        into: Option<(&mut Vec<u32>, usize)>,
    ) -> Result<DataPage<'_>, String> {
        self.nulls += rows - present;
        self.rows += rows;
        let into = into
            .filter(|(keys, limit)| {
                present == rows
                    && keys.len().saturating_add(rows) <= *limit
                    && keys.capacity() - keys.len() >= rows.saturating_add(8)
            })
            .map(|(keys, _)| keys);
        let values = match self.values(data, encoding, present, into)? {
            Decoded::Appended => PageValues::Appended,
            Decoded::Entries => PageValues::Entries {
                dictionary: &self.dictionary,
                entries: &self.entries,
            },
            Decoded::Plain => PageValues::Plain(match &self.plain_page {
                Some(values) => values,
                None => &self.plain,
            }),
            Decoded::PlainScratch(at, count) => PageValues::Plain(self.scratch.get(at..at + count).unwrap_or_default()),
        };
        Ok(DataPage {
            values,
            present: (present < rows).then_some(&self.present[..]),
            rows,
            strings: self.strings.as_ref(),
        })
    }

    /// Decodes `count` values encoded `encoding` from `data`; entries appended to `into` when
    /// given.
    fn values(
        &mut self,
        data: Data,
        encoding: Encoding,
        count: usize,
        into: Option<&mut Vec<u32>>,
    ) -> Result<Decoded, String> {
        match encoding {
            Encoding::RLE_DICTIONARY | Encoding::PLAIN_DICTIONARY => {
                if !self.has_dictionary {
                    return Err("a dictionary-encoded page before any dictionary page".into());
                }
                let bytes = scratch_bytes(&self.scratch, &data)?;
                let (&width, runs) = match bytes.split_first() {
                    Some(s) => s,
                    None if count == 0 => {
                        self.entries.clear();
                        return Ok(Decoded::Entries);
                    }
                    None => return Err("an empty dictionary-encoded page".into()),
                };
                let len = match &self.strings {
                    Some(strings) => strings.len(),
                    None => self.dictionary.len(),
                };
                let (entries, decoded) = match into {
                    Some(keys) => {
                        let start = keys.len();
                        decode_hybrid_append(runs, u32::from(width), count, keys)?;
                        (&keys[start..], Decoded::Appended)
                    }
                    None => {
                        decode_hybrid(runs, u32::from(width), count, &mut self.entries)?;
                        (&self.entries[..], Decoded::Entries)
                    }
                };
                // (A compare and an OR a value, no early exit: it vectorizes.)
                let limit = u32::try_from(len).unwrap_or(u32::MAX);
                if entries.iter().fold(false, |past, &e| past | (e >= limit)) {
                    let max = entries.iter().copied().max().unwrap_or(0);
                    return Err(format!("entry {max} past the dictionary of {len} values"));
                }
                Ok(decoded)
            }
            Encoding::PLAIN if self.is_strings => Err("a plain-encoded page of strings".into()),
            Encoding::PLAIN => {
                let bytes = scratch_bytes(&self.scratch, &data)?;
                let n = count
                    .checked_mul(8)
                    .filter(|&n| n <= bytes.len())
                    .ok_or_else(|| format!("plain page of {count} values is {} bytes", bytes.len()))?;
                // The values read in place where they can be (8-byte aligned, a little-endian
                // machine): in `scratch`, or the page's own bytes; a copy otherwise.
                self.plain_page = None;
                match &data {
                    Data::Scratch(r) if cfg!(target_endian = "little") && r.start % 8 == 0 => {
                        // (Within the buffer: its bytes held the values' `n`.)
                        let at = r.start / 8;
                        if self.scratch.get(at..at + count).is_none() {
                            return Err(format!("plain page of {count} values past its buffer"));
                        }
                        return Ok(Decoded::PlainScratch(at, count));
                    }
                    Data::Shared(b) => self.plain_page = i64s_in_place(b, count),
                    Data::Scratch(_) => {}
                }
                if self.plain_page.is_none() {
                    self.plain.clear();
                    extend_le_i64(&mut self.plain, bytes.get(..n).unwrap_or_default());
                }
                Ok(Decoded::Plain)
            }
            other => Err(format!("data page encoded {other}")),
        }
    }
}

/// A data page's bytes (or those past its levels): its own, or a range of its chunk's
/// `scratch`, where it was decompressed.
enum Data {
    Shared(Bytes),
    Scratch(std::ops::Range<usize>),
}

impl Data {
    /// The bytes after the first `n`.
    fn skip(self, n: usize) -> Data {
        match self {
            Data::Shared(b) => Data::Shared(b.slice(n.min(b.len())..)),
            Data::Scratch(r) => Data::Scratch((r.start + n).min(r.end)..r.end),
        }
    }
}

/// The bytes `data` stands for, in `scratch` for [`Data::Scratch`].
fn scratch_bytes<'a>(scratch: &'a [i64], data: &'a Data) -> Result<&'a [u8], String> {
    match data {
        Data::Shared(b) => Ok(b),
        Data::Scratch(r) => bytemuck::cast_slice::<i64, u8>(scratch)
            .get(r.clone())
            .ok_or_else(|| "a page past its decompressed bytes".to_string()),
    }
}

/// The length a Snappy page decompresses to, by its own header: an error past what its
/// bytes could hold (Snappy expands a byte at most 22 times: a 3-byte copy of 64), so that a
/// corrupt length never asks for more memory than the page could fill.
fn snappy_len(page: &[u8]) -> Result<usize, String> {
    if page.is_empty() {
        return Ok(0);
    }
    let n = snap::raw::decompress_len(page).map_err(|e| format!("Snappy page: {e}"))?;
    if n > page.len().saturating_mul(22) {
        return Err(format!("a Snappy page of {} bytes claims {n} decompressed", page.len()));
    }
    Ok(n)
}

/// Decompresses Snappy `page` into `out`, which it must fill exactly.
fn unsnap(decoder: &mut snap::raw::Decoder, page: &[u8], out: &mut [u8]) -> Result<(), String> {
    if page.is_empty() && out.is_empty() {
        return Ok(());
    }
    match decoder.decompress(page, out) {
        Ok(n) if n == out.len() => Ok(()),
        Ok(n) => Err(format!("a Snappy page decompressed to {n} bytes, not {}", out.len())),
        Err(e) => Err(format!("Snappy page: {e}")),
    }
}

/// The rows of a page with a value, from its definition levels; when some have none, which
/// (into `present`, a bit a row).
fn levels_present(levels: &[u8], rows: usize, present: &mut Vec<u8>) -> Result<usize, String> {
    let count = count_present(levels, rows)?;
    if count < rows {
        present_bits(levels, rows, present)?;
    }
    Ok(count)
}

/// The first `count` little-endian `i64`s of `data`, read in place (no copy) when they can be:
/// on a little-endian machine, from an 8-byte aligned page at least `8 * count` bytes long.
fn i64s_in_place(data: &Bytes, count: usize) -> Option<ScalarBuffer<i64>> {
    let n = count.checked_mul(8).filter(|&n| n <= data.len())?;
    (cfg!(target_endian = "little") && data.as_ptr().align_offset(8) == 0)
        .then(|| ScalarBuffer::new(Buffer::from(data.slice(..n)), 0, count))
}

/// The `count` strings of a PLAIN-encoded BYTE_ARRAY page (each a 4-byte little-endian length,
/// then its bytes), which must be UTF-8.
fn plain_strings(buf: &[u8], count: usize) -> Result<StringArray, String> {
    let mut offsets: Vec<i32> = Vec::with_capacity(count.min(buf.len() / 4) + 1);
    let mut values: Vec<u8> = Vec::with_capacity(buf.len());
    offsets.push(0);
    let mut at = 0usize;
    for i in 0..count {
        let len = buf
            .get(at..at + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
            .ok_or_else(|| format!("dictionary page cut short at string {i} of {count}"))?;
        let bytes = buf
            .get(at + 4..(at + 4).saturating_add(len))
            .ok_or_else(|| format!("dictionary page's string {i} runs past its end"))?;
        values.extend_from_slice(bytes);
        let end = i32::try_from(values.len()).map_err(|_| "dictionary page's strings past 2 GiB".to_string())?;
        offsets.push(end);
        at += 4 + len;
    }
    StringArray::try_new(
        OffsetBuffer::new(ScalarBuffer::from(offsets)),
        Buffer::from_vec(values),
        None,
    )
    .map_err(|e| format!("dictionary page: {e}"))
}

/// Appends the little-endian `i64`s of `bytes` (8 a value) to `out`. (A closure, not a function
/// passed by name: that one was called per value, not inlined.)
fn extend_le_i64(out: &mut Vec<i64>, bytes: &[u8]) {
    out.extend(
        bytes
            .chunks_exact(8)
            .map(|b| b.try_into().map(i64::from_le_bytes).unwrap_or(0)),
    );
}

/// Reads an unsigned LEB128 varint at `*at`.
fn varint(data: &[u8], at: &mut usize) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *data.get(*at)?;
        *at += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

/// Decodes `count` values of `width` bits from Parquet's RLE / bit-packed hybrid encoding into
/// `out` (replacing its contents).
///
/// ```ignore
/// // A run of 5 × value 3 (width 2): header 5 << 1, then the value in one byte.
/// let mut out = Vec::new();
/// decode_hybrid(&[10, 3], 2, 5, &mut out)?;
/// assert_eq!(out, [3; 5]);
/// ```
pub(crate) fn decode_hybrid(data: &[u8], width: u32, count: usize, out: &mut Vec<u32>) -> Result<(), String> {
    out.clear();
    decode_hybrid_append(data, width, count, out)
}

/// [`decode_hybrid`], the values appended to `out`: written straight into its spare capacity
/// (no buffer zeroed first, nothing copied). On an error `out` keeps its length.
///
/// The loop over runs is compiled once per width (`hybrid_runs`), so that a page of short
/// runs — most pages of a part written group by group: a few tens of values a run — pays no
/// dispatch on the width per run.
pub(crate) fn decode_hybrid_append(data: &[u8], width: u32, count: usize, out: &mut Vec<u32>) -> Result<(), String> {
    if width > 32 {
        return Err(format!("bit width {width}"));
    }
    let start = out.len();
    // (Runs are written 8 places at a time, so up to 7 places past `count`.)
    let room = count.saturating_add(8);
    out.reserve(room);
    let Some(spare) = out.spare_capacity_mut().get_mut(..room) else {
        return Err(format!("no room for {count} values"));
    };
    macro_rules! widths {
        ($($w:literal)*) => {
            match width {
                0 => hybrid_runs::<0>(data, count, spare),
                $($w => hybrid_runs::<$w>(data, count, spare),)*
                _ => Err(format!("bit width {width}")),
            }
        };
    }
    widths!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32)?;
    // SAFETY: `hybrid_runs` returned `Ok`, so it wrote each of the first `count` places of
    // `spare`, the spare capacity right after `start` (see its doc); the capacity holds them
    // (`room`).
    unsafe { out.set_len(start + count) };
    Ok(())
}

/// The runs of [`decode_hybrid_append`] at width `W`, written into `spare` (`count + 8`
/// places). On `Ok`, every one of the first `count` places has been written: each run writes
/// all of its places (an RLE run's 8 at a time, the bit-packed run's whole groups of 8), and
/// runs follow one another from place 0 until `count` are done; places past `count` (up to 7)
/// may be written too.
#[inline(never)]
fn hybrid_runs<const W: usize>(data: &[u8], count: usize, spare: &mut [MaybeUninit<u32>]) -> Result<(), String> {
    let value_bytes = W.div_ceil(8);
    let mut at = 0;
    let mut n = 0;
    while n < count {
        // Most headers are one byte.
        let header = match data.get(at) {
            Some(&b) if b < 0x80 => {
                at += 1;
                u64::from(b)
            }
            _ => varint(data, &mut at).ok_or_else(|| format!("{n} values where the page declares {count}"))?,
        };
        let left = count - n;
        if header & 1 == 0 {
            let run = usize::try_from(header >> 1).unwrap_or(usize::MAX).min(left);
            let bytes = data
                .get(at..at + value_bytes)
                .ok_or("a run's value past the page's end")?;
            at += value_bytes;
            let value = bytes.iter().rev().fold(0u32, |v, &b| (v << 8) | u32::from(b));
            // 8 places at a time: `n + run <= count`, so the last 8 end within `count + 8`.
            let mut place = n;
            while place < n + run {
                let eight = spare.get_mut(place..place + 8);
                if let Some(eight) = eight.and_then(|e| <&mut [MaybeUninit<u32>; 8]>::try_from(e).ok()) {
                    // (One array: two vector stores.)
                    *eight = [MaybeUninit::new(value); 8];
                }
                place += 8;
            }
            n += run;
        } else {
            let groups = usize::try_from(header >> 1).unwrap_or(usize::MAX);
            let take = groups.saturating_mul(8).min(left);
            // (n + take rounded up to 8 stays within `count + 8`.)
            let needed_groups = take.div_ceil(8);
            // The rest of the page, not only the run's bytes: each value is read as the 8 bytes
            // from its first and masked, so bytes past the run only fill bits masked off, and
            // reads stay in place up to the page's end (the run's last groups are not copied
            // out to be padded, as they would be for every run of a page of short runs).
            let packed = &data[at.min(data.len())..];
            let Some(places) = spare.get_mut(n..n + needed_groups * 8) else {
                return Err(format!("no room for {count} values"));
            };
            unpack_width::<W>(packed, places);
            n += take;
            at = at.saturating_add(groups.saturating_mul(W));
        }
    }
    Ok(())
}

/// A run of a page's definition levels (width 1), as [`level_runs`] gives them.
enum LevelRun<'a> {
    /// `len` levels of 1 from row `row` (runs of 0s are not given).
    Ones { row: usize, len: usize },
    /// `len` levels from row `row`, a bit each in `bytes` (least significant first; bits past
    /// `len`, and bytes missing at the page's end, are not levels of these rows).
    Packed { row: usize, bytes: &'a [u8], len: usize },
}

/// Walks the first `rows` definition levels (width 1) of a page, run by run.
fn level_runs(levels: &[u8], rows: usize, mut f: impl FnMut(LevelRun<'_>)) -> Result<(), String> {
    let mut at = 0;
    let mut seen = 0;
    while seen < rows {
        let header = varint(levels, &mut at)
            .ok_or_else(|| format!("{seen} definition levels where the page has {rows} rows"))?;
        let left = rows - seen;
        if header & 1 == 0 {
            let run = usize::try_from(header >> 1).unwrap_or(usize::MAX).min(left);
            let value = *levels.get(at).ok_or("a run's level past the page's end")?;
            at += 1;
            if value > 1 {
                return Err(format!("definition level {value} in a column of level 1"));
            }
            if value == 1 {
                f(LevelRun::Ones { row: seen, len: run });
            }
            seen += run;
        } else {
            let groups = usize::try_from(header >> 1).unwrap_or(usize::MAX);
            let take = groups.saturating_mul(8).min(left);
            let bytes = &levels[at.min(levels.len())..];
            let bytes = &bytes[..take.div_ceil(8).min(bytes.len())];
            f(LevelRun::Packed {
                row: seen,
                bytes,
                len: take,
            });
            seen += take;
            at = at.saturating_add(groups);
        }
    }
    Ok(())
}

/// Definition levels (width 1) that are 1 among the first `rows`.
fn count_present(levels: &[u8], rows: usize) -> Result<usize, String> {
    let mut present = 0;
    level_runs(levels, rows, |run| match run {
        LevelRun::Ones { len, .. } => present += len,
        LevelRun::Packed { bytes, len, .. } => {
            let full = len / 8;
            present += bytes.iter().take(full).map(|b| b.count_ones() as usize).sum::<usize>();
            if len % 8 != 0 {
                let last = bytes.get(full).copied().unwrap_or(0);
                present += (last & ((1u8 << (len % 8)) - 1)).count_ones() as usize;
            }
        }
    })?;
    Ok(present)
}

/// Which of `rows` definition levels (width 1) are 1, into `out` as bits (least significant
/// first, `rows` bits).
fn present_bits(levels: &[u8], rows: usize, out: &mut Vec<u8>) -> Result<(), String> {
    out.clear();
    out.resize(rows.div_ceil(8), 0);
    level_runs(levels, rows, |run| match run {
        LevelRun::Ones { row, len } => set_bits(out, row, len),
        LevelRun::Packed { row, bytes, len } => {
            // Each byte's bits shifted to where row `row` is.
            let (base, shift) = (row / 8, row % 8);
            for (j, &b) in bytes.iter().enumerate() {
                let b = match len - j * 8 {
                    n if n < 8 => b & ((1u8 << n) - 1),
                    _ => b,
                };
                if let Some(o) = out.get_mut(base + j) {
                    *o |= b << shift;
                }
                if shift > 0 {
                    if let Some(o) = out.get_mut(base + j + 1) {
                        *o |= b >> (8 - shift);
                    }
                }
            }
        }
    })
}

/// Sets bits `from..from + len` of `bits` (least significant first).
fn set_bits(bits: &mut [u8], from: usize, len: usize) {
    let end = from + len;
    let mut i = from;
    while i < end && !i.is_multiple_of(8) {
        if let Some(b) = bits.get_mut(i / 8) {
            *b |= 1 << (i % 8);
        }
        i += 1;
    }
    let whole = (end - i) / 8;
    if let Some(bytes) = bits.get_mut(i / 8..i / 8 + whole) {
        bytes.fill(0xff);
    }
    i += whole * 8;
    while i < end {
        if let Some(b) = bits.get_mut(i / 8) {
            *b |= 1 << (i % 8);
        }
        i += 1;
    }
}

/// Unpacks groups of 8 values of `W` bits (LSB first) from `data` into `out` (a multiple of
/// 8 values; places past the last whole group get 0), writing every one of its places; bits
/// past `data`'s end read as 0.
#[inline(always)]
fn unpack_width<const W: usize>(data: &[u8], out: &mut [MaybeUninit<u32>]) {
    let mask = if W == 32 { u64::from(u32::MAX) } else { (1u64 << W) - 1 };
    let mut groups = out.chunks_exact_mut(8);
    for (g, group) in groups.by_ref().enumerate() {
        // Up to 8 bits a value, a group is one 8-byte word: one load for its 8 values.
        if W <= 8 {
            let at = g * W;
            let mut word = [0u8; 8];
            match data.get(at..at + 8) {
                Some(b) => word.copy_from_slice(b),
                None => {
                    let rest = data.get(at..).unwrap_or(&[]);
                    let n = rest.len().min(8);
                    word[..n].copy_from_slice(&rest[..n]);
                }
            }
            let word = u64::from_le_bytes(word);
            for (j, v) in group.iter_mut().enumerate() {
                v.write(((word >> (j * W)) & mask) as u32);
            }
            continue;
        }
        // The group's W bytes and those after it (each value read as the 8 bytes from its
        // first, then shifted and masked: one load a value): in place while 40 bytes remain
        // (W ≤ 32, so a read starts within 28 bytes), else copied with zeros past the end.
        let at = g * W;
        let mut tail = [0u8; 40];
        let bytes: &[u8; 40] = match data.get(at..at + 40).and_then(|b| b.try_into().ok()) {
            Some(b) => b,
            None => {
                let rest = data.get(at..).unwrap_or(&[]);
                let n = rest.len().min(40);
                tail[..n].copy_from_slice(&rest[..n]);
                &tail
            }
        };
        for (j, v) in group.iter_mut().enumerate() {
            let bit = j * W;
            let from = bit / 8;
            let mut word = [0u8; 8];
            word.copy_from_slice(&bytes[from..from + 8]);
            v.write(((u64::from_le_bytes(word) >> (bit % 8)) & mask) as u32);
        }
    }
    // (Never met: callers give whole groups. Written all the same, so that every place is.)
    for v in groups.into_remainder() {
        v.write(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Packs `values` of `width` bits LSB first, as Parquet's bit-packed runs do.
    fn pack(values: &[u32], width: u32) -> Vec<u8> {
        let mut out = vec![0u8; (values.len() * width as usize).div_ceil(8)];
        for (i, &v) in values.iter().enumerate() {
            for b in 0..width as usize {
                if v >> b & 1 == 1 {
                    let bit = i * width as usize + b;
                    out[bit / 8] |= 1 << (bit % 8);
                }
            }
        }
        out
    }

    #[test]
    fn bit_packed_runs_of_every_width_decode() {
        for width in 1..=32u32 {
            let max = if width == 32 { u32::MAX } else { (1u32 << width) - 1 };
            let values: Vec<u32> = (0..24u32).map(|i| i.wrapping_mul(2_654_435_761) & max).collect();
            let mut data = vec![(3 << 1) | 1]; // 3 groups of 8
            data.extend(pack(&values, width));
            let mut out = Vec::new();
            decode_hybrid(&data, width, 21, &mut out).unwrap();
            assert_eq!(out, values[..21], "width {width}");
        }
    }

    #[test]
    fn bytes_after_a_packed_run_do_not_reach_its_values() {
        // A packed run of 1–3 groups, then an RLE run whose header and value have every bit
        // of its bytes set (up to the width), for every width: the packed values are read in
        // place with the next run's bytes beside them, and come out as they were packed.
        for width in 1..=32u32 {
            let max = if width == 32 { u32::MAX } else { (1u32 << width) - 1 };
            for groups in 1..=3usize {
                let values: Vec<u32> = (0..groups as u32 * 8)
                    .map(|i| i.wrapping_mul(2_246_822_519) & max)
                    .collect();
                let mut data = vec![((groups as u8) << 1) | 1];
                data.extend(pack(&values, width));
                // 63 × `max`: header 126, then the value's bytes.
                data.push(126);
                data.extend(&max.to_le_bytes()[..width.div_ceil(8) as usize]);
                let mut out = Vec::new();
                decode_hybrid(&data, width, values.len() + 63, &mut out).unwrap();
                assert_eq!(out[..values.len()], values, "width {width}, {groups} groups");
                assert!(out[values.len()..].iter().all(|&v| v == max), "width {width}");
            }
        }
    }

    #[test]
    fn pages_of_short_runs_of_every_width_decode() {
        // Random pages of RLE runs (1 to 40 values, one- and multi-byte headers) and bit-packed
        // runs (1 to 4 groups, the last cut short by the page's count), appended after values
        // already there, for every width: each value as it was encoded.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move |n: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % n
        };
        for width in 0..=32u32 {
            let max = if width == 32 { u32::MAX } else { (1u32 << width) - 1 };
            for _ in 0..20 {
                let (mut data, mut values) = (Vec::new(), Vec::new());
                for _ in 0..next(30) + 1 {
                    let value = (next(1 << 32) as u32) & max;
                    if next(2) == 0 {
                        // A run of up to 40, sometimes with a header of two bytes (64 or more).
                        let run = if next(4) == 0 { 64 + next(100) } else { 1 + next(40) } as usize;
                        let mut header = (run as u64) << 1;
                        while header >= 0x80 {
                            data.push((header as u8 & 0x7f) | 0x80);
                            header >>= 7;
                        }
                        data.push(header as u8);
                        data.extend(&value.to_le_bytes()[..width.div_ceil(8) as usize]);
                        values.extend(std::iter::repeat_n(value, run));
                    } else {
                        let groups = 1 + next(4) as usize;
                        let packed: Vec<u32> = (0..groups * 8).map(|_| (next(1 << 32) as u32) & max).collect();
                        data.push(((groups as u8) << 1) | 1);
                        data.extend(pack(&packed, width));
                        values.extend(packed);
                    }
                }
                // The page's count may end inside the last run.
                let count = values.len() - next(8).min(values.len() as u64 - 1) as usize;
                let mut out = vec![u32::MAX; 3];
                decode_hybrid_append(&data, width, count, &mut out).unwrap();
                assert_eq!(out[..3], [u32::MAX; 3]);
                assert_eq!(out[3..], values[..count], "width {width}");
            }
        }
    }

    #[test]
    fn rle_and_packed_runs_mix() {
        // 300 × 7 (header 600 as a varint), then one group of 8 packed values of width 3.
        let mut data = vec![0xd8, 0x04, 7];
        data.push(1 << 1 | 1);
        data.extend(pack(&[0, 1, 2, 3, 4, 5, 6, 7], 3));
        let mut out = Vec::new();
        decode_hybrid(&data, 3, 305, &mut out).unwrap();
        assert_eq!(out.len(), 305);
        assert!(out[..300].iter().all(|&v| v == 7));
        assert_eq!(out[300..], [0, 1, 2, 3, 4]);
    }

    #[test]
    fn damaged_runs_are_errors() {
        let mut out = Vec::new();
        // Fewer values than declared.
        assert!(decode_hybrid(&[4, 1], 1, 5, &mut out)
            .unwrap_err()
            .contains("declares 5"));
        // A run's value cut off.
        assert!(decode_hybrid(&[4], 8, 2, &mut out).is_err());
        // A width past 32 bits.
        assert!(decode_hybrid(&[4, 1], 33, 2, &mut out).is_err());
        // An endless varint.
        assert!(decode_hybrid(&[0xff; 12], 4, 2, &mut out).is_err());
        // A packed run cut short reads zeros for the missing bits, never past the data.
        decode_hybrid(&[(4 << 1) | 1, 0xff], 8, 32, &mut out).unwrap();
        assert_eq!(out[0], 255);
        assert!(out[1..].iter().all(|&v| v == 0));
    }

    /// A part of one INT64 column `uid` (optional), written with `props`, and its bytes.
    fn part(values: &[Option<i64>], props: parquet::file::properties::WriterProperties) -> bytes::Bytes {
        part_of(values, true, props)
    }

    /// A part of one INT64 column `uid`, optional when `nullable` (else every value must be
    /// `Some`), written with `props`, and its bytes.
    fn part_of(
        values: &[Option<i64>],
        nullable: bool,
        props: parquet::file::properties::WriterProperties,
    ) -> bytes::Bytes {
        use arrow::array::{Int64Array, RecordBatch};
        use arrow::datatypes::{DataType, Field, Schema};
        let schema = Schema::new(vec![Field::new("uid", DataType::Int64, nullable)]);
        let batch = RecordBatch::try_new(
            std::sync::Arc::new(schema),
            vec![std::sync::Arc::new(values.iter().copied().collect::<Int64Array>())],
        )
        .unwrap();
        let mut out = Vec::new();
        let mut w = parquet::arrow::ArrowWriter::try_new(&mut out, batch.schema(), Some(props)).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
        bytes::Bytes::from(out)
    }

    /// Every row group's values (`None`: null) as decoded here, in row order, or the first
    /// error.
    fn decode_all(bytes: &bytes::Bytes) -> Result<Vec<Option<i64>>, String> {
        use parquet::file::reader::{FileReader, SerializedFileReader};
        let reader = SerializedFileReader::new(bytes.clone()).map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        // (Each chunk decodes into the buffers of the one before, as a column's reader does.)
        let mut buffers = PageBuffers::default();
        for rg in reader.metadata().row_groups() {
            let chunk = ChunkPages::open(Arc::new(bytes.clone()), rg.column(0), rg.num_rows() as usize)?;
            let mut chunk = chunk.with_buffers(std::mem::take(&mut buffers));
            let mut nulls = 0;
            while let Some(page) = chunk.next_page()? {
                let values: Vec<i64> = match page.values {
                    PageValues::Entries { dictionary, entries } => {
                        entries.iter().map(|&e| dictionary[e as usize]).collect()
                    }
                    PageValues::Plain(values) => values.to_vec(),
                    PageValues::Appended => return Err("appended to no buffer".into()),
                };
                match page.present {
                    None => out.extend(values.into_iter().map(Some)),
                    Some(bits) => {
                        let mut values = values.into_iter();
                        for r in 0..page.rows {
                            if bits[r / 8] >> (r % 8) & 1 == 1 {
                                out.push(Some(values.next().ok_or("fewer values than present rows")?));
                            } else {
                                out.push(None);
                                nulls += 1;
                            }
                        }
                        if values.next().is_some() {
                            return Err("more values than present rows".into());
                        }
                    }
                }
            }
            if nulls != chunk.nulls() {
                return Err(format!("{nulls} rows absent, {} counted", chunk.nulls()));
            }
            buffers = chunk.take_buffers();
        }
        Ok(out)
    }

    fn props() -> parquet::file::properties::WriterPropertiesBuilder {
        parquet::file::properties::WriterProperties::builder()
            .set_max_row_group_row_count(Some(900))
            .set_data_page_row_count_limit(128)
            .set_write_batch_size(128)
            .set_dictionary_page_size_limit(1024)
    }

    #[test]
    fn chunks_decode_to_their_values() {
        // Ids from a few hundred distinct values (dictionary pages, then plain pages once the
        // 1 KiB dictionary limit is hit), some nulls.
        let values: Vec<Option<i64>> = (0..2000i64)
            .map(|i| (i % 31 != 3).then_some((i * 7919) % 401 * 1_000_003 - 5))
            .collect();
        // The same without nulls, in a required column: its pages have no levels, so plain
        // values are read in place (from the page, or where a Snappy page was decompressed).
        let required: Vec<Option<i64>> = values.iter().map(|v| Some(v.unwrap_or(17))).collect();
        // And pages of nulls only (no values to decompress).
        let nulls: Vec<Option<i64>> = vec![None; 300];
        use parquet::basic::{Compression as C, ZstdLevel};
        use parquet::file::properties::WriterVersion::{PARQUET_1_0, PARQUET_2_0};
        // (Format v2 falls back to DELTA_BINARY_PACKED, which arrow-rs reads: not here.)
        for (version, dictionary_limit) in [(PARQUET_1_0, 1024), (PARQUET_2_0, 1 << 20)] {
            // Snappy pages are decompressed here, other codecs by the page reader.
            for codec in [C::UNCOMPRESSED, C::SNAPPY, C::ZSTD(ZstdLevel::default())] {
                for (values, nullable) in [(&values, true), (&required, false), (&nulls, true)] {
                    let props = props()
                        .set_writer_version(version)
                        .set_compression(codec)
                        .set_dictionary_page_size_limit(dictionary_limit);
                    let bytes = part_of(values, nullable, props.build());
                    let what = format!("{version:?}, {codec}, nullable {nullable}");
                    assert_eq!(&decode_all(&bytes).unwrap(), values, "{what}");
                }
            }
        }
    }

    #[test]
    fn snappy_pages_claiming_more_than_they_could_hold_are_errors() {
        let data: Vec<u8> = (0..5000u32).map(|i| (i % 7) as u8).collect();
        let page = snap::raw::Encoder::new().compress_vec(&data).unwrap();
        assert_eq!(snappy_len(&page), Ok(data.len()));
        let mut out = vec![0; data.len()];
        unsnap(&mut snap::raw::Decoder::new(), &page, &mut out).unwrap();
        assert_eq!(out, data);
        // A length past 22 times the page's bytes: refused before any buffer is sized.
        let mut huge = vec![0x80, 0x80, 0x80, 0x80, 0x04];
        huge.extend_from_slice(&page[2..]);
        let err = snappy_len(&huge).unwrap_err();
        assert!(err.contains("claims 1073741824 decompressed"), "{err}");
        // Bytes that decompress to another length than the buffer's: an error.
        let err = unsnap(&mut snap::raw::Decoder::new(), &page, &mut vec![0; data.len() + 1]).unwrap_err();
        assert!(err.contains("Snappy page"), "{err}");
        assert_eq!(snappy_len(&[]), Ok(0));
    }

    #[test]
    fn chunks_with_other_encodings_are_left_to_arrow_rs() {
        use parquet::file::reader::{FileReader, SerializedFileReader};
        let values: Vec<Option<i64>> = (0..2000i64).map(|i| Some(i * 7919 % 1500)).collect();
        let props = props().set_writer_version(parquet::file::properties::WriterVersion::PARQUET_2_0);
        let bytes = part(&values, props.build());
        let reader = SerializedFileReader::new(bytes.clone()).unwrap();
        let chunk = reader.metadata().row_group(0).column(0);
        assert!(chunk.encodings().any(|e| e == Encoding::DELTA_BINARY_PACKED));
        assert!(!decodable_numbers(chunk));
        assert!(ChunkPages::open(Arc::new(bytes.clone()), chunk, 900).is_err());
    }

    #[test]
    fn damaged_chunks_are_errors_never_panics() {
        let values: Vec<Option<i64>> = (0..2000i64).map(|i| (i % 13 != 0).then_some(i * 7 % 503)).collect();
        for codec in [
            parquet::basic::Compression::UNCOMPRESSED,
            parquet::basic::Compression::SNAPPY,
        ] {
            damaged_chunks_are_errors(&part(&values, props().set_compression(codec).build()));
        }
    }

    /// Decodes `good` damaged at random 3,000 times: errors, never panics.
    fn damaged_chunks_are_errors(good: &bytes::Bytes) {
        let mut rng = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            rng ^= rng >> 12;
            rng ^= rng << 25;
            rng ^= rng >> 27;
            rng.wrapping_mul(0x2545_F491_4F6C_DD1D)
        };
        let mut errors = 0;
        for _ in 0..3000 {
            let mut bytes = good.to_vec();
            // Damage the column chunk's pages (the file's first bytes after "PAR1").
            for _ in 0..1 + next() % 4 {
                let at = 4 + (next() as usize) % (bytes.len() / 2);
                bytes[at] = next() as u8;
            }
            if decode_all(&bytes::Bytes::from(bytes)).is_err() {
                errors += 1;
            }
        }
        assert!(errors > 0);
    }

    #[test]
    fn a_page_past_its_row_groups_rows_is_an_error_before_its_buffers() {
        use parquet::file::reader::{FileReader, SerializedFileReader};
        let values: Vec<Option<i64>> = (0..2000i64).map(|i| (i % 13 != 0).then_some(i % 50)).collect();
        let bytes = part(&values, props().build());
        let reader = SerializedFileReader::new(bytes.clone()).unwrap();
        let rg = reader.metadata().row_group(0);
        let pages = |rows: usize| -> Result<usize, String> {
            let mut chunk = ChunkPages::open(Arc::new(bytes.clone()), rg.column(0), rows)?;
            let mut seen = 0;
            while let Some(page) = chunk.next_page()? {
                seen += page.rows;
            }
            Ok(seen)
        };
        assert_eq!(pages(rg.num_rows() as usize), Ok(rg.num_rows() as usize));
        // The footer's rows bound every page's (a page claiming more is damaged).
        let err = pages(rg.num_rows() as usize - 1).unwrap_err();
        assert!(
            err.contains(&format!("of a row group of {}", rg.num_rows() - 1)),
            "{err}"
        );
    }

    #[test]
    fn present_levels_are_counted() {
        // 10 × level 1, then 8 packed levels 1,0,1,1,0,0,0,1.
        let data = [20, 1, 3, 0b1000_1101];
        assert_eq!(count_present(&data, 18).unwrap(), 14);
        assert_eq!(count_present(&data, 13).unwrap(), 12);
        assert!(count_present(&[4, 2], 2).is_err());
        assert!(count_present(&[4, 1], 3).is_err());
    }

    #[test]
    fn dictionary_strings_decode_and_damaged_ones_are_errors() {
        let page = |strings: &[&[u8]]| {
            let mut out = Vec::new();
            for s in strings {
                out.extend((s.len() as u32).to_le_bytes());
                out.extend_from_slice(s);
            }
            out
        };
        let good = page(&[b"view", b"", "caf\u{e9}".as_bytes()]);
        let strings = plain_strings(&good, 3).unwrap();
        assert_eq!(
            strings.iter().collect::<Vec<_>>(),
            [Some("view"), Some(""), Some("caf\u{e9}")]
        );
        // Fewer strings than the page declares; a length past the page's end.
        assert!(plain_strings(&good, 4).unwrap_err().contains("string 3 of 4"));
        assert!(plain_strings(&good[..good.len() - 1], 3)
            .unwrap_err()
            .contains("past its end"));
        // Not UTF-8.
        let bad = page(&[b"ok", &[0xff, 0xfe]]);
        assert!(plain_strings(&bad, 2).unwrap_err().contains("dictionary page"));
    }

    #[test]
    fn string_batches_are_whole_whichever_way_pages_are_placed() {
        use arrow::array::RecordBatch;
        use parquet::file::reader::{FileReader, SerializedFileReader};
        // Pages of 300 rows, batches of 512: pages appended in place, pages straddling a
        // batch's end, and a stretch of nulls (rows 2000..2600) among them.
        let values: Vec<Option<String>> = (0..5000)
            .map(|i| (!(2000..2600).contains(&i) || i % 3 == 0).then(|| format!("v{}", i * 7 % 40)))
            .collect();
        let batch = RecordBatch::try_from_iter([(
            "s",
            Arc::new(values.iter().cloned().collect::<StringArray>()) as arrow::array::ArrayRef,
        )])
        .unwrap();
        let props = parquet::file::properties::WriterProperties::builder()
            .set_max_row_group_row_count(Some(4000))
            .set_data_page_row_count_limit(300)
            .set_write_batch_size(300)
            .build();
        let mut out = Vec::new();
        let mut w = parquet::arrow::ArrowWriter::try_new(&mut out, batch.schema(), Some(props)).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
        let bytes = bytes::Bytes::from(out);
        let meta = SerializedFileReader::new(bytes.clone()).unwrap().metadata().clone();
        assert!(decodable_strings(meta.row_group(0).column(0)));
        let mut sizes = Vec::new();
        let mut got: Vec<Option<String>> = Vec::new();
        decode_string_column(&Arc::new(bytes), &meta, &[0, 1], 0, 512, |k| {
            sizes.push(k.keys.len());
            for (i, &key) in k.keys.iter().enumerate() {
                let present = k.present.as_ref().is_none_or(|p| p.value(i));
                got.push(present.then(|| k.dictionary.value(key as usize).to_string()));
            }
            Ok(())
        })
        .unwrap();
        assert_eq!(got, values);
        // Every batch but a row group's last is whole: 4000 rows = 7 × 512 + 416, then 1000.
        let mut want = vec![512; 7];
        want.extend([416, 512, 488]);
        assert_eq!(sizes, want);
    }

    #[test]
    fn spread_places_values_in_present_rows() {
        // Every few bits of 300 rows, ranges starting anywhere, and pages short of values.
        let mut rng = 0x2545_f491_4f6c_dd1du64;
        for density in [0u64, 1, 6, 7, 8] {
            let bits: Vec<u8> = (0..38)
                .map(|_| {
                    (0..8).fold(0u8, |b, k| {
                        rng ^= rng << 13;
                        rng ^= rng >> 7;
                        rng ^= rng << 17;
                        b | (u8::from(rng % 8 < density) << k)
                    })
                })
                .collect();
            for (start, end, short) in [(0, 300, 0), (3, 300, 0), (5, 77, 0), (0, 300, 9), (11, 200, 1)] {
                let present: Vec<usize> = (start..end).filter(|r| bits[r / 8] >> (r % 8) & 1 == 1).collect();
                let dense: Vec<u32> = (0..present.len().saturating_sub(short))
                    .map(|j| 1000 + j as u32)
                    .collect();
                let mut want = vec![0u32; end - start];
                for (j, r) in present.iter().enumerate().take(dense.len()) {
                    want[r - start] = dense[j];
                }
                let mut out = vec![7u32];
                let used = spread(&mut out, &bits, start..end, dense.len(), |j| dense[j]);
                assert_eq!(
                    out[1..],
                    want[..],
                    "density {density}/8, rows {start}..{end}, {short} short"
                );
                assert_eq!((out[0], used), (7, dense.len()));
            }
        }
    }

    #[test]
    fn present_levels_become_bits_in_place() {
        // 3 × level 1, 8 packed levels 1,0,1,1,0,0,0,1, 2 × level 0, 9 × level 1: rows
        // 0..3, then bits shifted by 3, a run of nulls, and a run of ones across bytes.
        let data = [6, 1, 3, 0b1000_1101, 4, 0, 18, 1];
        let mut bits = Vec::new();
        present_bits(&data, 22, &mut bits).unwrap();
        let rows: Vec<u8> = (0..22).map(|r| bits[r / 8] >> (r % 8) & 1).collect();
        let want = [1, 1, 1, 1, 0, 1, 1, 0, 0, 0, 1, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1];
        assert_eq!(rows, want);
        assert_eq!(bits.len(), 3);
        // No bit past the last row.
        assert_eq!(bits[2] >> 6, 0);
        // A packed run that ends mid-byte: bits past the rows stay 0.
        present_bits(&[3, 0xff], 5, &mut bits).unwrap();
        assert_eq!(bits, [0b1_1111]);
        assert!(present_bits(&[4, 2], 2, &mut bits).is_err());
    }
}
