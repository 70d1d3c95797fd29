//! Dense group numbering for one part, and the rows of each group.

use std::cell::OnceCell;

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::buffer::{BooleanBuffer, ScalarBuffer};
use arrow::datatypes::{ArrowNativeType, ArrowPrimitiveType, DataType, Float64Type, Int32Type, Int64Type};
use arrow::util::bit_iterator::BitIndexIterator;

use super::column::Column;
use super::zeroed::{write_pages, zeroed};
use super::FastMap;
use crate::error::EngineError;

/// Timestamps of a part's rows, never null.
#[derive(Debug, Clone)]
pub(crate) enum Timestamps {
    /// Integer timestamps.
    Int(TsChunks<i64>),
    /// Float timestamps.
    Float(TsChunks<f64>),
}

/// The timestamp column's chunks, indexed by row of the part (`ts[r]`), not copied.
#[derive(Debug, Clone)]
pub(crate) struct TsChunks<T: ArrowNativeType> {
    chunks: Vec<ScalarBuffer<T>>,
    shift: u32,
    mask: usize,
    /// The smallest and largest time of integer times, found once ([`TsChunks::min_max`]) or
    /// as they were decoded ([`Column::range`]).
    range: OnceCell<Option<(i64, i64)>>,
}

impl<T: ArrowNativeType> TsChunks<T> {
    /// The timestamps of `rows` as one slice, when they lie in one chunk.
    #[inline]
    pub(crate) fn run(&self, rows: std::ops::Range<usize>) -> Option<&[T]> {
        let chunk = self.chunks.get(rows.start >> self.shift)?;
        let start = rows.start & self.mask;
        chunk.get(start..start + rows.len())
    }

    /// The chunks in row order, as slices (the first starts at row 0, each next where the
    /// previous ends).
    pub(crate) fn slices(&self) -> impl Iterator<Item = &[T]> + '_ {
        self.chunks.iter().map(|c| &c[..])
    }

    /// Every row's timestamp, in row order.
    pub(crate) fn values(&self) -> impl Iterator<Item = T> + '_ {
        self.chunks.iter().flat_map(|c| c.iter().copied())
    }

    /// The same timestamps, whose smallest and largest are `range` when known.
    pub(crate) fn with_range(mut self, range: Option<(i64, i64)>) -> Self {
        if let Some(range) = range {
            self.range = OnceCell::from(Some(range));
        }
        self
    }

    /// Timestamps in one buffer.
    pub(crate) fn single(values: ScalarBuffer<T>) -> Self {
        TsChunks {
            chunks: vec![values],
            shift: usize::BITS - 1,
            mask: usize::MAX >> 1,
            range: Default::default(),
        }
    }
}

impl TsChunks<i64> {
    /// The smallest and largest time (`None` without rows); found on first use, then kept
    /// (several scans of a part ask for it).
    pub(crate) fn min_max(&self) -> Option<(i64, i64)> {
        *self.range.get_or_init(|| {
            let slices: Vec<&[i64]> = self.slices().collect();
            min_max(&slices)
        })
    }
}

impl<T: ArrowNativeType> std::ops::Index<usize> for TsChunks<T> {
    type Output = T;

    #[inline(always)]
    fn index(&self, r: usize) -> &T {
        &self.chunks[r >> self.shift][r & self.mask]
    }
}

impl Timestamps {
    /// The timestamps of a column (sharing its buffers).
    pub(crate) fn from_column(file: &str, column: &str, col: &Column) -> Result<Self, EngineError> {
        if col.null_count() > 0 {
            return Err(EngineError::BadData {
                file: file.to_string(),
                column: column.to_string(),
                message: format!(
                    "{} null timestamps (the timestamp column may not have nulls)",
                    col.null_count()
                ),
            });
        }
        fn chunks<T: ArrowPrimitiveType>(col: &Column) -> Option<TsChunks<T::Native>> {
            let chunks = col
                .chunks()
                .iter()
                .map(|c| c.as_primitive_opt::<T>().map(|a| a.values().clone()))
                .collect::<Option<Vec<_>>>()?;
            Some(TsChunks {
                chunks,
                shift: col.shift(),
                mask: (1usize << col.shift()) - 1,
                range: Default::default(),
            })
        }
        let found = match col.data_type() {
            // The times' range, when found as they were decoded: no second pass for it.
            DataType::Int64 => chunks::<Int64Type>(col).map(|t| Timestamps::Int(t.with_range(col.range()))),
            DataType::Float64 => chunks::<Float64Type>(col).map(Timestamps::Float),
            _ => None,
        };
        found.ok_or_else(|| EngineError::ColumnType {
            file: file.to_string(),
            column: column.to_string(),
            found: col.data_type().to_string(),
            expected: "INT or FLOAT".into(),
        })
    }
}

fn type_error(file: &str, column: &str, found: &DataType) -> EngineError {
    EngineError::ColumnType {
        file: file.to_string(),
        column: column.to_string(),
        found: found.to_string(),
        expected: "INT or STRING".into(),
    }
}

/// The smallest and largest of the values of `chunks`.
pub(crate) fn min_max(chunks: &[&[i64]]) -> Option<(i64, i64)> {
    let first = *chunks.iter().find_map(|c| c.first())?;
    // Four minimums and maximums apart (no chain of dependent comparisons), then together.
    let (mut lo, mut hi) = ([first; 4], [first; 4]);
    for c in chunks {
        let quads = c.chunks_exact(4);
        for &v in quads.remainder() {
            (lo[0], hi[0]) = (lo[0].min(v), hi[0].max(v));
        }
        for q in quads {
            for i in 0..4 {
                (lo[i], hi[i]) = (lo[i].min(q[i]), hi[i].max(q[i]));
            }
        }
    }
    Some((lo.into_iter().min()?, hi.into_iter().max()?))
}

/// Slots of an id table written together on first use (4 KiB): see [`touch`].
const TABLE_BLOCK: usize = 1024;

/// Id tables of up to this many slots (16 MiB) have every page written when made
/// ([`zeroed`]) and need no [`touch`]; larger ones (footers claiming a wide range of ids
/// for many rows: honest ones only for parts of millions of rows) a block at a time, as ids are
/// met.
const EAGER_TABLE_SLOTS: usize = 1 << 22;

/// Writes the pages of the block of `table` ([`TABLE_BLOCK`] slots) holding slot `at` (see
/// [`write_pages`]) unless `touched` says it was written already (nothing for a slot past the
/// table's end, nor when `touched` is empty: a table written whole when made).
///
/// A block read before it is written would be mapped to the kernel's zero page, then copied
/// on its first write, with a TLB shootdown to the other threads (see `zeroed.rs`). Every first
/// access to a slot of a table with blocks not yet written must come after this call: a block
/// is taken to hold zeroes until then.
#[inline]
fn touch(touched: &mut [u64], table: &mut [u32], at: usize) {
    let block = at / TABLE_BLOCK;
    let Some(word) = touched.get_mut(block / 64) else {
        return;
    };
    let bit = 1u64 << (block % 64);
    if *word & bit == 0 {
        *word |= bit;
        // A block spans at most two pages: a zero written at each end writes both (the block
        // holds zeroes: none of its slots was written before).
        let start = block * TABLE_BLOCK;
        let end = (start + TABLE_BLOCK).min(table.len());
        if let Some(block) = table.get_mut(start..end) {
            write_pages(block);
        }
    }
}

/// `(lo, hi - lo + 1)` when ids in `lo..=hi` are few enough for a direct lookup table (at most
/// 4 slots per row of `rows`, and under 2^28).
fn dense_span((lo, hi): (i64, i64), rows: usize) -> Option<(i64, usize)> {
    let span = hi as i128 - lo as i128 + 1;
    (span >= 1 && span <= (4 * rows as i128).max(1024) && span < (1 << 28)).then_some((lo, span as usize))
}

/// Each row's group as a dense index `0..count`, group sizes, and (built on first use) the
/// rows listed group by group.
#[derive(Debug, Clone)]
pub(crate) struct Groups {
    /// Group index of every row (empty if built without `per_row`); see [`Groups::of_row`].
    of_row: OnceCell<Vec<u32>>,
    /// Rows in the part.
    pub rows: usize,
    /// Number of groups.
    pub count: usize,
    /// Rows per group.
    pub sizes: Vec<u32>,
    /// Whether each group's rows are adjacent in the part (parts written group by group): then
    /// groups are numbered in row order and group `g`'s rows are one run.
    pub contiguous: bool,
    offsets: OnceCell<Vec<u32>>,
    members: OnceCell<Vec<u32>>,
}

/// Each group's rows, in part order (see [`Groups::members`]).
#[derive(Clone, Copy)]
pub(crate) enum Members<'a> {
    /// Contiguous groups: group `g` is rows `offsets[g]..offsets[g + 1]` of the part.
    Runs(&'a [u32]),
    /// Group `g`'s rows are `rows[offsets[g]..offsets[g + 1]]`.
    Listed { rows: &'a [u32], offsets: &'a [u32] },
}

impl Members<'_> {
    /// Where each group starts (`count + 1` entries).
    pub(crate) fn offsets(&self) -> &[u32] {
        match self {
            Members::Runs(offsets) | Members::Listed { offsets, .. } => offsets,
        }
    }
}

impl Groups {
    /// Numbers the groups of a group id column (INT or STRING, no nulls). Without `per_row`
    /// (a query that only counts groups and rows), rows are not given their group:
    /// [`Groups::of_row`] stays empty, only the count and sizes are meaningful, and groups may
    /// be numbered in another order than their rows'.
    pub(crate) fn build(file: &str, column: &str, col: Column, per_row: bool) -> Result<Self, EngineError> {
        if col.null_count() > 0 {
            return Err(EngineError::BadData {
                file: file.to_string(),
                column: column.to_string(),
                message: format!(
                    "{} null group ids (the group id column may not have nulls)",
                    col.null_count()
                ),
            });
        }
        let n = col.len();
        // Sized when first written (the INT path may never write it).
        let mut of_row: Vec<u32> = Vec::new();
        let mut sizes: Vec<u32> = Vec::new();
        let next = |sizes: &mut Vec<u32>| {
            sizes.push(0);
            (sizes.len() - 1) as u32
        };
        match col.data_type().clone() {
            DataType::Int64 => {
                let range = {
                    let values = col
                        .primitive::<Int64Type>()
                        .ok_or_else(|| type_error(file, column, col.data_type()))?;
                    min_max(values.slices())
                };
                let mut numbering = IntNumbering::new(file, column, per_row, n, range);
                // Each chunk is released once numbered (when the caller gave up the column):
                // the ids and the row groups never take memory at the same time.
                for chunk in col.into_chunks() {
                    numbering.push(&chunk)?;
                }
                return numbering.finish();
            }
            DataType::Utf8 => {
                of_row.reserve_exact(if per_row { n } else { 0 });
                let mut map: FastMap<&str, u32> = FastMap::with_capacity_and_hasher(n / 4 + 16, Default::default());
                for chunk in col.chunks() {
                    let a = chunk.as_string::<i32>();
                    for i in 0..a.len() {
                        let g = *map.entry(a.value(i)).or_insert_with(|| next(&mut sizes));
                        sizes[g as usize] += 1;
                        if per_row {
                            of_row.push(g);
                        }
                    }
                }
            }
            DataType::Dictionary(_, _) => {
                of_row.reserve_exact(if per_row { n } else { 0 });
                let mut map: FastMap<&str, u32> = FastMap::default();
                let mut by_key: Vec<u32> = Vec::new();
                let mut dictionary: Option<&ArrayRef> = None;
                for chunk in col.chunks() {
                    let d = chunk.as_dictionary::<Int32Type>();
                    // Batches of one row group share their dictionary: map its keys once.
                    if !dictionary.is_some_and(|p| Arc::ptr_eq(p, d.values())) {
                        dictionary = Some(d.values());
                        by_key.clear();
                        by_key.resize(d.values().len(), u32::MAX);
                    }
                    let values = d.values().as_string::<i32>();
                    for &k in d.keys().values().iter() {
                        let k = k as usize;
                        let slot = by_key.get_mut(k).ok_or_else(|| EngineError::BadData {
                            file: file.to_string(),
                            column: column.to_string(),
                            message: format!("dictionary key {k} out of range"),
                        })?;
                        if *slot == u32::MAX {
                            *slot = *map.entry(values.value(k)).or_insert_with(|| next(&mut sizes));
                        }
                        let g = *slot;
                        sizes[g as usize] += 1;
                        if per_row {
                            of_row.push(g);
                        }
                    }
                }
            }
            _ => return Err(type_error(file, column, col.data_type())),
        }
        let runs = of_row.windows(2).filter(|w| w[0] != w[1]).count() + usize::from(!of_row.is_empty());
        // One run per group: each group's rows are adjacent.
        let contiguous = runs == sizes.len();
        Ok(Groups::new(n, sizes, OnceCell::from(of_row), contiguous))
    }

    fn new(rows: usize, sizes: Vec<u32>, of_row: OnceCell<Vec<u32>>, contiguous: bool) -> Self {
        Groups {
            rows,
            contiguous,
            of_row,
            count: sizes.len(),
            sizes,
            offsets: OnceCell::new(),
            members: OnceCell::new(),
        }
    }

    /// Where each group starts in [`Groups::members`] (`offsets[g]..offsets[g + 1]`, `count + 1`
    /// entries). For contiguous groups these are also the row ranges of the part.
    pub(crate) fn offsets(&self) -> &[u32] {
        self.offsets.get_or_init(|| {
            let mut offsets = Vec::with_capacity(self.count + 1);
            let mut acc = 0u32;
            offsets.push(0);
            for &s in &self.sizes {
                acc += s;
                offsets.push(acc);
            }
            offsets
        })
    }

    /// Calls `f(row, group)` for every row set in `rows` (one bit per row of the part), at
    /// least for the groups of `within` (every group when `None`; others may be skipped).
    /// Contiguous groups whose rows have not been given their group yet are found through
    /// their runs, so that conditions need no per-row group array: only the runs of the
    /// groups `within` are visited, or every run in one pass along the group offsets.
    pub(crate) fn each_row_group(
        &self,
        rows: &BooleanBuffer,
        within: Option<&BooleanBuffer>,
        mut f: impl FnMut(usize, usize),
    ) {
        if self.contiguous && self.of_row.get().is_none() {
            let offsets = self.offsets();
            if let Some(within) = within {
                for g in within.set_indices() {
                    let (start, end) = (offsets[g] as usize, offsets[g + 1] as usize);
                    for r in BitIndexIterator::new(rows.values(), rows.offset() + start, end - start) {
                        f(start + r, g);
                    }
                }
                return;
            }
            let ends = &offsets[1..];
            let mut g = 0;
            for r in rows.set_indices() {
                while ends.get(g).is_some_and(|&end| end as usize <= r) {
                    g += 1;
                }
                f(r, g);
            }
        } else {
            let of_row = self.of_row();
            for r in rows.set_indices() {
                f(r, of_row[r] as usize);
            }
        }
    }

    /// The group index of every row (empty if built without `per_row`). Contiguous groups
    /// numbered from integer ids give their rows a group only here, on first use: most
    /// queries over them need only the runs.
    pub(crate) fn of_row(&self) -> &[u32] {
        self.of_row.get_or_init(|| {
            let mut of_row = Vec::with_capacity(self.rows);
            extend_with_runs(&mut of_row, &self.sizes);
            of_row
        })
    }

    /// Each group's rows in part order: the part's own runs when groups are contiguous,
    /// otherwise the rows listed group by group (built on first use). Needs groups built with
    /// `per_row`.
    pub(crate) fn members(&self) -> Members<'_> {
        let offsets = self.offsets();
        if self.contiguous {
            return Members::Runs(offsets);
        }
        Members::Listed {
            rows: self.row_list(),
            offsets,
        }
    }

    /// The part's rows group after group, each group's in part order (`offsets()[g]..[g + 1]`
    /// are group `g`'s); built on first use. Needs groups built with `per_row`.
    pub(crate) fn row_list(&self) -> &[u32] {
        // One counting-sort scatter of `of_row` (see `kept_rows`), every group kept.
        self.members.get_or_init(|| super::time_sort::kept_rows(self, None).0)
    }
}

/// Numbers the ids of an INT group id column a chunk at a time, in row order: for
/// [`Groups::build`], or for the reader as it decodes each batch (then the ids are numbered
/// while in cache and never kept).
///
/// Ids in a small range (known in advance: the column's statistics or values) go through a
/// direct table, others through a hash map. Rows of a group are usually adjacent: a run of
/// equal ids is numbered at a time, and while every group is one run, rows are not given
/// their group (see [`Groups::of_row`]).
#[derive(Debug)]
pub(crate) struct IntNumbering {
    file: String,
    column: String,
    per_row: bool,
    /// Rows the column has in all (at most), to size the per-row groups once.
    expected_rows: usize,
    rows: usize,
    nulls: usize,
    /// Ids `lo..lo + table.len()`: their group plus one (0: not met yet; a large table starts
    /// as zeroed memory of which only the blocks of ids met are ever touched), or when
    /// `counting` or `scattered` their row count.
    lo: i64,
    table: Vec<u32>,
    /// Which blocks of `table` ([`TABLE_BLOCK`] slots each) were written: see
    /// [`IntNumbering::touch`].
    touched: Vec<u64>,
    /// Other ids: their group, or when `counting` their row count.
    map: FastMap<i64, u32>,
    /// Only groups and their sizes are asked for (no `per_row`): a count per id — one add per
    /// row into the table, per run of equal ids into the map, or per entry of a dictionary —
    /// and no runs to find; groups numbered in id order (the table's, then the map's).
    counting: bool,
    sizes: Vec<u32>,
    of_row: Vec<u32>,
    /// Runs of equal ids so far.
    runs: usize,
    /// The last id of the previous chunk (a run may continue across chunks).
    previous: Option<i64>,
    /// Rows are not in runs: `of_row` holds provisional codes, `table` and `map_counts` row
    /// counts per code (see [`IntNumbering::number_rows_in_table`]).
    scattered: bool,
    /// Rows per id of `map` when `scattered` (`map` then gives the id's place here).
    map_counts: Vec<u32>,
    /// Per entry of the current dictionary: its rows counted so far and its group (or its
    /// provisional code, when `scattered`) — side by side, so that a row in any order
    /// touches one place for both (see [`IntNumbering::push_entries`]).
    entry_slots: Vec<EntrySlot>,
    /// Entries of `entry_slots` whose `code` is set (the current dictionary's, or none).
    coded: usize,
    /// Rows not in runs are numbered by dictionary entries (see
    /// [`IntNumbering::push_entries`]): groups numbered as met, every row written its group.
    by_entries: bool,
}

/// One dictionary entry's rows counted so far and its group (or provisional code): see
/// [`IntNumbering::push_entries`].
#[derive(Clone, Copy, Debug, Default)]
struct EntrySlot {
    code: u32,
    count: u32,
}

impl IntNumbering {
    /// A numbering of `rows` rows at most; `range`: the ids' smallest and largest when known.
    pub(crate) fn new(file: &str, column: &str, per_row: bool, rows: usize, range: Option<(i64, i64)>) -> Self {
        let dense = range.and_then(|r| dense_span(r, rows));
        // Only groups' sizes are asked for: rows are counted per id (or per dictionary entry),
        // no runs to find.
        let counting = !per_row;
        let (lo, span) = dense.unwrap_or((0, 0));
        // Every page written once now (no block read before it is written: see `touch`), or
        // for a large table block by block as ids are met.
        let (table, touched) = match span <= EAGER_TABLE_SLOTS {
            true => (zeroed(span), Vec::new()),
            false => (vec![0; span], vec![0; span.div_ceil(TABLE_BLOCK).div_ceil(64)]),
        };
        IntNumbering {
            file: file.to_string(),
            column: column.to_string(),
            per_row,
            expected_rows: rows,
            rows: 0,
            nulls: 0,
            lo,
            table,
            touched,
            map: FastMap::default(),
            counting,
            sizes: Vec::new(),
            of_row: Vec::new(),
            runs: 0,
            previous: None,
            scattered: false,
            map_counts: Vec::new(),
            entry_slots: Vec::new(),
            coded: 0,
            by_entries: false,
        }
    }

    /// Numbers the next ids, given as entries of `dictionary` (each within it, as
    /// [`ChunkPages`](super::pages::ChunkPages) checks). Once rows are known not to come in runs —
    /// or only counts are asked for — each distinct id is looked up once per dictionary instead
    /// of once per row: rows are counted per entry, and folded into the ids' counts by
    /// [`IntNumbering::end_dictionary`], which must follow a dictionary's last entries.
    pub(crate) fn push_entries(&mut self, dictionary: &[i64], entries: &[u32]) {
        let mut by_entry =
            self.counting || self.scattered || self.by_entries || (self.per_row && self.runs > self.sizes.len());
        if !by_entry && ascending(entries) {
            // Entries in order (rows grouped by user, the dictionary in order of first
            // appearance): each entry one run, found by galloping, not row by row.
            self.rows += entries.len();
            self.push_runs(AscendingRuns { entries, at: 0 }.map(|(e, n)| (dictionary[e as usize], n)));
            return;
        }
        if !by_entry && self.per_row && !entries_in_runs(entries, dictionary.len()) {
            // An id met again after others in this page: rows are not in runs. Rows so far
            // were runs of groups 0, 1, …: they get their group written, as the runs path
            // does when it finds out.
            self.of_row
                .reserve_exact(self.expected_rows.max(self.rows + entries.len()));
            extend_with_runs(&mut self.of_row, &self.sizes);
            by_entry = true;
        }
        if !by_entry {
            // Ids may still come in runs: numbered run by run.
            self.rows += entries.len();
            self.push_runs(
                entries
                    .chunk_by(|a, b| a == b)
                    .map(|run| (dictionary[run[0] as usize], run.len())),
            );
            return;
        }
        // Rows not in runs (and not yet numbered by provisional codes): each entry gets its
        // group once, numbered as met (as runs are), and each row its entry's group — no
        // renumbering at the end.
        self.by_entries |= !self.counting && !self.scattered;
        self.rows += entries.len();
        if self.entry_slots.len() < dictionary.len() {
            self.entry_slots.resize(dictionary.len(), EntrySlot::default());
        }
        if self.counting {
            let slots = &mut self.entry_slots[..];
            for &e in entries {
                slots[e as usize].count += 1;
            }
            return;
        }
        if self.coded < dictionary.len() {
            let codes: Vec<u32> = match self.scattered {
                true => dictionary.iter().map(|&v| self.code_of(v)).collect(),
                false => {
                    // The entries' slots gathered first (independent loads that overlap), then
                    // the ids not met yet (or not in the table) numbered one by one.
                    if !self.touched.is_empty() {
                        for &v in dictionary {
                            self.touch(v.wrapping_sub(self.lo) as usize);
                        }
                    }
                    let (lo, table) = (self.lo, &self.table);
                    let mut codes: Vec<u32> = dictionary
                        .iter()
                        .map(|&v| table.get(v.wrapping_sub(lo) as usize).copied().unwrap_or(0))
                        .collect();
                    for (c, &v) in codes.iter_mut().zip(dictionary) {
                        *c = match *c {
                            0 => self.group_of(v),
                            slot => slot - 1,
                        };
                    }
                    codes
                }
            };
            for (slot, code) in self.entry_slots.iter_mut().zip(codes) {
                slot.code = code;
            }
            self.coded = dictionary.len();
        }
        let slots = &mut self.entry_slots[..];
        self.of_row.extend(entries.iter().map(|&e| {
            let slot = &mut slots[e as usize];
            slot.count += 1;
            slot.code
        }));
        if let Some(&last) = entries.last() {
            self.previous = Some(dictionary[last as usize]);
        }
    }

    /// Folds the rows counted per entry of `dictionary` (see [`IntNumbering::push_entries`])
    /// into its ids' counts, before the next dictionary.
    pub(crate) fn end_dictionary(&mut self, dictionary: &[i64]) {
        let lo = self.lo;
        let span = self.table.len();
        if self.counting {
            if !self.touched.is_empty() {
                for (&v, &EntrySlot { count: c, .. }) in dictionary.iter().zip(&self.entry_slots) {
                    if c > 0 {
                        touch(&mut self.touched, &mut self.table, v.wrapping_sub(lo) as usize);
                    }
                }
            }
            for (&v, &EntrySlot { count: c, .. }) in dictionary.iter().zip(&self.entry_slots) {
                if c > 0 {
                    match self.table.get_mut(v.wrapping_sub(lo) as usize) {
                        Some(slot) => *slot += c,
                        None => *self.map.entry(v).or_insert(0) += c,
                    }
                }
            }
        } else if !self.scattered {
            for &EntrySlot { code: g, count: c } in &self.entry_slots {
                if let Some(size) = self.sizes.get_mut(g as usize) {
                    *size += c;
                }
            }
        } else {
            for &EntrySlot { code, count: c } in &self.entry_slots {
                let code = code as usize;
                match self.table.get_mut(code) {
                    Some(slot) => *slot += c,
                    None => {
                        if let Some(slot) = self.map_counts.get_mut(code - span) {
                            *slot += c;
                        }
                    }
                }
            }
        }
        self.entry_slots.clear();
        self.coded = 0;
    }

    /// An id's group (a new one when first met), while groups are numbered as met.
    fn group_of(&mut self, v: i64) -> u32 {
        self.touch(v.wrapping_sub(self.lo) as usize);
        let sizes = &mut self.sizes;
        let mut next = || {
            sizes.push(0);
            (sizes.len() - 1) as u32
        };
        match self.table.get_mut(v.wrapping_sub(self.lo) as usize) {
            Some(slot) => {
                if *slot == 0 {
                    *slot = next() + 1;
                }
                *slot - 1
            }
            None => *self.map.entry(v).or_insert_with(next),
        }
    }

    /// Writes `table`'s block of slot `at` (zeroes) unless it was written already, before any
    /// of its slots is read: see [`touch`].
    #[inline]
    fn touch(&mut self, at: usize) {
        touch(&mut self.touched, &mut self.table, at);
    }

    /// An id's provisional code once rows are scattered (see
    /// [`IntNumbering::number_rows_in_table`]).
    fn code_of(&mut self, v: i64) -> u32 {
        let at = v.wrapping_sub(self.lo) as usize;
        if at < self.table.len() {
            return at as u32;
        }
        let next = self.map_counts.len() as u32;
        let j = *self.map.entry(v).or_insert(next);
        if j == next {
            self.map_counts.push(0);
        }
        (self.table.len() + j as usize) as u32
    }

    /// Numbers the next chunk of ids.
    pub(crate) fn push(&mut self, chunk: &ArrayRef) -> Result<(), EngineError> {
        if chunk.null_count() > 0 {
            // Reported by `finish`, with the count over the whole column.
            self.nulls += chunk.null_count();
            return Ok(());
        }
        let values = int_ids(&self.file, &self.column, chunk)?;
        self.push_values(values);
        Ok(())
    }

    /// Numbers the next ids, given as values.
    pub(crate) fn push_values(&mut self, values: &[i64]) {
        self.rows += values.len();
        let lo = self.lo;
        if self.counting {
            if self.table.is_empty() {
                // Ids with no table: one map update per run of equal ids.
                for run in values.chunk_by(|a, b| a == b) {
                    *self.map.entry(run[0]).or_insert(0) += run.len() as u32;
                }
                return;
            }
            if !self.touched.is_empty() {
                for &v in values {
                    touch(&mut self.touched, &mut self.table, v.wrapping_sub(lo) as usize);
                }
            }
            for &v in values {
                match self.table.get_mut(v.wrapping_sub(lo) as usize) {
                    Some(c) => *c += 1,
                    None => *self.map.entry(v).or_insert(0) += 1,
                }
            }
            return;
        }
        let not_runs = self.per_row && !self.by_entries && self.runs > self.sizes.len();
        if self.scattered || (not_runs && !self.table.is_empty()) {
            // Groups are not runs (rows in any order): every row is given its group; no runs
            // to find, one table lookup per row.
            self.number_rows_in_table(values);
            return;
        }
        self.push_runs(values.chunk_by(|a, b| a == b).map(|run| (run[0], run.len())));
    }

    /// Numbers runs of equal ids, `(id, rows)`, while groups may come in runs: a group per id
    /// as met; once a group is met again, every row is written its group.
    fn push_runs(&mut self, runs: impl Iterator<Item = (i64, usize)>) {
        let mut first = true;
        let mut last = None;
        for (v, n) in runs {
            let g = self.group_of(v);
            // A run continued from the previous chunk is the same run.
            if !(first && self.previous == Some(v)) {
                self.runs += 1;
                if self.runs > self.sizes.len() && self.of_row.is_empty() && self.per_row {
                    // The first group met again: rows so far were runs of groups 0, 1, …;
                    // from here every row gets its group written.
                    self.of_row.reserve_exact(self.expected_rows.max(self.rows));
                    extend_with_runs(&mut self.of_row, &self.sizes);
                    // (The current run is not in `sizes` yet: it is written below.)
                }
            }
            self.sizes[g as usize] += n as u32;
            // While groups are runs, rows are not given their group (see `of_row`).
            if self.per_row && (self.by_entries || self.runs > self.sizes.len()) {
                self.of_row.extend(std::iter::repeat_n(g, n));
            }
            first = false;
            last = Some(v);
        }
        if last.is_some() {
            self.previous = last;
        }
    }

    /// Gives each row of `values` its id's provisional code, once rows are known not to come
    /// in runs: its slot in the table (or `table.len()` + its place among the ids of the map)
    /// and counts the rows per code; [`IntNumbering::finish`] numbers the codes. No branch
    /// depends on whether an id was met before and no lookup waits for another, so the random
    /// accesses of one chunk overlap.
    fn number_rows_in_table(&mut self, values: &[i64]) {
        if !self.scattered {
            self.start_scattered();
        }
        let lo = self.lo;
        let span = self.table.len();
        let (table, map, map_counts) = (&mut self.table, &mut self.map, &mut self.map_counts);
        self.of_row.extend(values.iter().map(|&v| {
            let at = v.wrapping_sub(lo) as usize;
            match table.get_mut(at) {
                Some(count) => {
                    *count += 1;
                    at as u32
                }
                None => {
                    let next = map_counts.len() as u32;
                    let j = *map.entry(v).or_insert(next);
                    if j == next {
                        map_counts.push(0);
                    }
                    map_counts[j as usize] += 1;
                    (span + j as usize) as u32
                }
            }
        }));
        if let Some(&last) = values.last() {
            self.previous = Some(last);
        }
    }

    /// Turns the groups numbered so far (as runs) into provisional codes and counts (see
    /// [`IntNumbering::number_rows_in_table`]).
    fn start_scattered(&mut self) {
        for at in (0..self.table.len()).step_by(TABLE_BLOCK) {
            self.touch(at);
        }
        let span = self.table.len();
        let mut code_of_group = vec![0u32; self.sizes.len()];
        for (at, slot) in self.table.iter_mut().enumerate() {
            *slot = match *slot {
                0 => 0,
                g1 => {
                    let g = g1 as usize - 1;
                    code_of_group[g] = at as u32;
                    self.sizes[g]
                }
            };
        }
        for g in self.map.values_mut() {
            let j = self.map_counts.len();
            code_of_group[*g as usize] = (span + j) as u32;
            self.map_counts.push(self.sizes[*g as usize]);
            *g = j as u32;
        }
        for g in self.of_row.iter_mut() {
            *g = code_of_group[*g as usize];
        }
        self.sizes.clear();
        self.scattered = true;
    }

    /// The groups numbered.
    pub(crate) fn finish(mut self) -> Result<Groups, EngineError> {
        debug_assert!(self.entry_slots.iter().all(|s| s.count == 0), "a dictionary not ended");
        if self.nulls > 0 {
            return Err(EngineError::BadData {
                file: self.file,
                column: self.column,
                message: format!("{} null group ids (the group id column may not have nulls)", self.nulls),
            });
        }
        if self.counting {
            let sizes = self
                .table
                .into_iter()
                .chain(self.map.into_values())
                .filter(|&c| c > 0)
                .collect();
            return Ok(Groups::new(self.rows, sizes, OnceCell::from(Vec::new()), false));
        }
        if self.scattered {
            // Groups numbered in code order (ids of the table ascending, then the map's), each
            // row's code replaced by its group.
            let span = self.table.len();
            let mut sizes = Vec::new();
            let mut number = |count: &mut u32| {
                if *count > 0 {
                    sizes.push(*count);
                    *count = (sizes.len() - 1) as u32;
                }
            };
            self.table.iter_mut().for_each(&mut number);
            self.map_counts.iter_mut().for_each(&mut number);
            let (table, map_groups) = (&self.table, &self.map_counts);
            let mut of_row = self.of_row;
            for code in of_row.iter_mut() {
                let c = *code as usize;
                *code = match table.get(c) {
                    Some(&g) => g,
                    None => map_groups.get(c - span).copied().unwrap_or(0),
                };
            }
            return Ok(Groups::new(self.rows, sizes, OnceCell::from(of_row), false));
        }
        // One run per group: each group's rows are adjacent; their rows get their group on
        // first use (see `of_row`).
        let contiguous = !self.by_entries && self.runs == self.sizes.len();
        if self.by_entries && self.sizes.contains(&0) {
            // Dictionary entries no row used (a writer may leave some): groups renumbered
            // without them.
            let mut number = vec![0u32; self.sizes.len()];
            let mut kept = 0u32;
            for (n, &s) in number.iter_mut().zip(&self.sizes) {
                *n = kept;
                kept += u32::from(s > 0);
            }
            self.sizes.retain(|&s| s > 0);
            for g in self.of_row.iter_mut() {
                *g = number.get(*g as usize).copied().unwrap_or(0);
            }
        }
        let of_row = if contiguous {
            OnceCell::new()
        } else {
            OnceCell::from(self.of_row)
        };
        Ok(Groups::new(self.rows, self.sizes, of_row, contiguous))
    }
}

impl super::pages::ValueSink for IntNumbering {
    fn entries(&mut self, dictionary: &[i64], entries: &[u32]) {
        self.push_entries(dictionary, entries);
    }

    fn values(&mut self, values: &[i64]) {
        self.push_values(values);
    }

    fn end_chunk(&mut self, dictionary: &[i64], nulls: usize) -> Result<(), String> {
        self.end_dictionary(dictionary);
        self.nulls += nulls;
        Ok(())
    }
}

/// Whether `entries` never decrease (no early exit, so that the comparisons vectorize).
fn ascending(entries: &[u32]) -> bool {
    entries
        .iter()
        .zip(entries.iter().skip(1))
        .map(|(a, b)| u32::from(a > b))
        .sum::<u32>()
        == 0
}

/// The runs of equal values of ascending `entries`, `(value, length)`, each end found by
/// counting the run's value 16 entries at a time.
struct AscendingRuns<'a> {
    entries: &'a [u32],
    at: usize,
}

impl Iterator for AscendingRuns<'_> {
    type Item = (u32, usize);

    fn next(&mut self) -> Option<(u32, usize)> {
        let rest = self.entries.get(self.at..)?;
        let &e = rest.first()?;
        // Entries ascend, so the run is the prefix of each window equal to `e`: counted
        // without a branch per entry (runs are a user's rows, ten or so: one window mostly),
        // the next window only when this one is the run's throughout.
        let mut len = 0;
        for window in rest.chunks(16) {
            let equal = window.iter().map(|&x| usize::from(x == e)).sum::<usize>();
            len += equal;
            if equal < window.len() {
                break;
            }
        }
        self.at += len;
        Some((e, len))
    }
}

/// Whether each entry's rows are adjacent in `entries` (entries of a dictionary of `len`).
fn entries_in_runs(entries: &[u32], len: usize) -> bool {
    let mut seen = vec![0u64; len.div_ceil(64)];
    let mut previous = None;
    for &e in entries {
        if previous == Some(e) {
            continue;
        }
        previous = Some(e);
        let (word, bit) = (e as usize / 64, 1u64 << (e % 64));
        match seen.get_mut(word) {
            Some(w) if *w & bit != 0 => return false,
            Some(w) => *w |= bit,
            None => return false,
        }
    }
    true
}

/// The ids of one chunk of an INT group id column.
fn int_ids<'a>(file: &str, column: &str, chunk: &'a ArrayRef) -> Result<&'a [i64], EngineError> {
    chunk
        .as_primitive_opt::<Int64Type>()
        .map(|a| a.values().as_ref())
        .ok_or_else(|| type_error(file, column, chunk.data_type()))
}

/// Appends group `g` repeated `sizes[g]` times, for every group in order, to `of_row`: the
/// group of every row when groups are runs numbered in row order.
fn extend_with_runs(of_row: &mut Vec<u32>, sizes: &[u32]) {
    for (g, &s) in sizes.iter().enumerate() {
        of_row.extend(std::iter::repeat_n(g as u32, s as usize));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{ArrayRef, Int64Array};

    use super::*;

    fn ids(chunks: &[&[i64]]) -> Column {
        let arrays: Vec<ArrayRef> = chunks
            .iter()
            .map(|c| Arc::new(Int64Array::from(c.to_vec())) as ArrayRef)
            .collect();
        Column::from_chunks(arrays).unwrap_or_else(|_| panic!("chunks of a power of two"))
    }

    #[test]
    fn rows_numbered_by_dictionary_entries() {
        use crate::exec::pages::ValueSink;
        // Ids 5, 6, 5: not runs. Then a dictionary whose entry 1 (id 8) no row uses, and a plain
        // page; the same for a second chunk with a new dictionary.
        for range in [Some((0, 20)), None] {
            let mut n = IntNumbering::new("f", "uid", true, 12, range);
            n.push_values(&[5, 6, 5]);
            n.entries(&[6, 8, 9], &[0, 2, 2, 0]);
            n.values(&[9, 5]);
            n.end_chunk(&[6, 8, 9], 0).unwrap();
            n.entries(&[5, 10], &[1, 0, 1]);
            n.end_chunk(&[5, 10], 0).unwrap();
            let g = n.finish().unwrap();
            assert!(!g.contiguous);
            // Groups as met: 5, 6, 9, 10 (8 dropped).
            assert_eq!(g.sizes, vec![4, 3, 3, 2], "{range:?}");
            assert_eq!(g.of_row(), &[0, 1, 0, 1, 2, 2, 1, 2, 0, 3, 0, 3], "{range:?}");
        }
    }

    #[test]
    fn entries_not_in_runs_are_numbered_by_entry_from_the_first_page() {
        use crate::exec::pages::ValueSink;
        for range in [Some((0, 20)), None] {
            let mut n = IntNumbering::new("f", "uid", true, 10, range);
            // A first page in runs (ids 3, 3, 4), then one that is not (4, 7, 4, 3), then a
            // chunk not in runs either (9, 7, 9).
            n.entries(&[3, 4, 7], &[0, 0, 1]);
            n.entries(&[3, 4, 7], &[1, 2, 1, 0]);
            n.end_chunk(&[3, 4, 7], 0).unwrap();
            n.entries(&[7, 9], &[1, 0, 1]);
            n.end_chunk(&[7, 9], 0).unwrap();
            let g = n.finish().unwrap();
            assert!(!g.contiguous);
            assert_eq!(g.sizes, vec![3, 3, 2, 2], "{range:?}");
            assert_eq!(g.of_row(), &[0, 0, 1, 1, 2, 1, 0, 3, 2, 3], "{range:?}");
        }
        assert!(ascending(&[0, 0, 1, 1, 1, 5]) && ascending(&[]) && !ascending(&[0, 2, 1]));
        let runs: Vec<(u32, usize)> = AscendingRuns {
            entries: &[0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 3, 3],
            at: 0,
        }
        .collect();
        assert_eq!(runs, [(0, 1), (1, 9), (2, 1), (3, 2)]);
        // Runs ending at, before and after a 16-entry window's edge, and a long last one.
        for lens in [[16usize, 1, 40], [15, 17, 32], [32, 16, 1], [1, 15, 100]] {
            let entries: Vec<u32> = lens
                .iter()
                .enumerate()
                .flat_map(|(e, &n)| std::iter::repeat_n(e as u32 * 3, n))
                .collect();
            let runs: Vec<(u32, usize)> = AscendingRuns {
                entries: &entries,
                at: 0,
            }
            .collect();
            let want: Vec<(u32, usize)> = lens.iter().enumerate().map(|(e, &n)| (e as u32 * 3, n)).collect();
            assert_eq!(runs, want, "{lens:?}");
        }
        assert!(entries_in_runs(&[2, 2, 0, 1, 1], 3));
        assert!(!entries_in_runs(&[2, 0, 2], 3));
    }

    #[test]
    fn contiguous_groups_give_rows_their_group_on_first_use() {
        // A run continues across chunks (id 7).
        let g = Groups::build("f", "uid", ids(&[&[5, 5, 7, 7], &[7, 9, 9]]), true).unwrap();
        assert!(g.contiguous);
        assert_eq!(g.sizes, vec![2, 3, 2]);
        assert_eq!(g.of_row(), &[0, 0, 1, 1, 1, 2, 2]);
    }

    #[test]
    fn rows_find_their_group_through_runs_or_the_row_array() {
        let rows: BooleanBuffer = [true, true, false, false, true, false, true].into_iter().collect();
        let walked = |g: &Groups| {
            let mut seen = Vec::new();
            g.each_row_group(&rows, None, |r, grp| seen.push((r, grp)));
            seen
        };
        let g = Groups::build("f", "uid", ids(&[&[5, 5, 7, 7], &[7, 9, 9]]), true).unwrap();
        // Through the runs (no per-row groups built), then through the built array.
        let expected = vec![(0, 0), (1, 0), (4, 1), (6, 2)];
        assert_eq!(walked(&g), expected);
        // Only groups 0 and 2, through their runs.
        let within: BooleanBuffer = [true, false, true].into_iter().collect();
        let mut seen = Vec::new();
        g.each_row_group(&rows, Some(&within), |r, grp| seen.push((r, grp)));
        assert_eq!(seen, vec![(0, 0), (1, 0), (6, 2)]);
        assert!(g.of_row.get().is_none());
        g.of_row();
        assert_eq!(walked(&g), expected);
        // Not contiguous: the row array.
        let g = Groups::build("f", "uid", ids(&[&[5, 5, 7, 7], &[5, 9, 7, 7]]), true).unwrap();
        assert_eq!(walked(&g), vec![(0, 0), (1, 0), (4, 0), (6, 1)]);
    }

    #[test]
    fn ids_outside_the_range_announced_are_numbered_too() {
        // Statistics may be wrong: ids below, inside and above the range given.
        let chunks: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from(vec![5, 5, 10, 11])),
            Arc::new(Int64Array::from(vec![11, 99, 99, 5])),
        ];
        let mut numbering = IntNumbering::new("f", "uid", true, 8, Some((10, 12)));
        for c in &chunks {
            numbering.push(c).unwrap();
        }
        let g = numbering.finish().unwrap();
        assert!(!g.contiguous);
        assert_eq!(g.sizes, vec![3, 1, 2, 2]);
        assert_eq!(g.of_row(), &[0, 0, 1, 2, 2, 3, 3, 0]);
        // Counting only: the same sizes, in another order.
        let mut numbering = IntNumbering::new("f", "uid", false, 8, Some((10, 12)));
        for c in &chunks {
            numbering.push(c).unwrap();
        }
        let mut sizes = numbering.finish().unwrap().sizes;
        sizes.sort_unstable();
        assert_eq!(sizes, vec![1, 2, 2, 3]);
        // Nulls are counted over every chunk.
        let mut numbering = IntNumbering::new("f", "uid", true, 4, None);
        for _ in 0..2 {
            numbering
                .push(&(Arc::new(Int64Array::from(vec![Some(1), None])) as ArrayRef))
                .unwrap();
        }
        let err = numbering.finish().unwrap_err().to_string();
        assert!(err.contains("2 null group ids"), "{err}");
    }

    /// `g` numbers `ids`: rows share a group exactly when they share an id, groups are
    /// `0..count`, and sizes count each group's rows.
    fn assert_numbers(ids: &[i64], g: &Groups) {
        let of_row = g.of_row();
        assert_eq!(of_row.len(), ids.len());
        let mut group_of_id = std::collections::HashMap::new();
        let mut id_of_group = std::collections::HashMap::new();
        let mut sizes = vec![0u32; g.count];
        for (&id, &grp) in ids.iter().zip(of_row) {
            assert_eq!(*group_of_id.entry(id).or_insert(grp), grp, "id {id}");
            assert_eq!(*id_of_group.entry(grp).or_insert(id), id, "group {grp}");
            sizes[grp as usize] += 1;
        }
        assert_eq!(g.count, group_of_id.len());
        assert_eq!(g.sizes, sizes);
    }

    #[test]
    fn rows_in_any_order_are_numbered_through_counts_then_codes() {
        // Runs first (5, 7), then 5 again: later chunks are numbered row by row, with ids
        // met before and after the switch, inside the table and outside it (100, -3).
        let chunks: &[&[i64]] = &[&[5, 5, 7, 7], &[5, 9, 7, 100], &[12, 9, 5, 100], &[-3, 7, 12, 5]];
        let all: Vec<i64> = chunks.concat();
        let numbered = |range| {
            let mut numbering = IntNumbering::new("f", "uid", true, all.len(), range);
            for c in chunks {
                numbering
                    .push(&(Arc::new(Int64Array::from(c.to_vec())) as ArrayRef))
                    .unwrap();
            }
            numbering.finish().unwrap()
        };
        for range in [Some((5, 12)), Some((0, 20)), Some((7, 7)), None] {
            let g = numbered(range);
            assert!(!g.contiguous);
            assert_numbers(&all, &g);
        }
        // An id in the map before the switch.
        let chunks: &[&[i64]] = &[&[100, 100, 6], &[100, 6, 6], &[7, 100, 6]];
        let all: Vec<i64> = chunks.concat();
        let mut numbering = IntNumbering::new("f", "uid", true, all.len(), Some((5, 8)));
        for c in chunks {
            numbering
                .push(&(Arc::new(Int64Array::from(c.to_vec())) as ArrayRef))
                .unwrap();
        }
        assert_numbers(&all, &numbering.finish().unwrap());
    }

    #[test]
    fn a_table_too_large_to_write_whole_is_written_block_by_block() {
        // A footer's range of 2^23 ids for 2^21 rows: a table past `EAGER_TABLE_SLOTS`, whose
        // blocks are written only as their ids are met — runs, then rows in any order, by
        // values and by dictionary entries, counting only or numbering every row.
        let span = 1usize << 23;
        assert!(span > EAGER_TABLE_SLOTS);
        // (Ids at a block's first and last slot first: a block must be written before them.)
        let ids: Vec<i64> = [
            5 * 1024i64,
            5 * 1024,
            7 * 1024 - 1,
            3,
            3,
            700_000,
            700_000,
            5_000_000,
            3,
            8_000_000,
        ]
        .into_iter()
        .chain((0..64).map(|i| (i * 131_071) % span as i64))
        .collect();
        let dictionary: Vec<i64> = {
            let mut d = ids.clone();
            d.sort_unstable();
            d.dedup();
            d
        };
        let entries: Vec<u32> = ids
            .iter()
            .map(|v| dictionary.binary_search(v).unwrap_or(0) as u32)
            .collect();
        for per_row in [true, false] {
            for by_entries in [false, true] {
                let mut n = IntNumbering::new("f", "uid", per_row, 1 << 21, Some((0, span as i64 - 1)));
                assert!(!n.touched.is_empty());
                for (chunk, at) in ids.chunks(4).zip((0..).step_by(4)) {
                    match by_entries {
                        true => n.push_entries(&dictionary, &entries[at..at + chunk.len()]),
                        false => n.push_values(chunk),
                    }
                }
                if by_entries {
                    n.end_dictionary(&dictionary);
                }
                // Only the blocks of ids met were written (all of them once rows were
                // scattered, which needs every slot).
                let written: u32 = n.touched.iter().map(|w| w.count_ones()).sum();
                let met: std::collections::HashSet<usize> = ids.iter().map(|&v| v as usize / TABLE_BLOCK).collect();
                match n.scattered {
                    true => assert_eq!(written as usize, span / TABLE_BLOCK),
                    false => assert_eq!(written as usize, met.len(), "per row {per_row}, entries {by_entries}"),
                }
                let g = n.finish().unwrap();
                if per_row {
                    assert_numbers(&ids, &g);
                } else {
                    let mut want: std::collections::HashMap<i64, u32> = std::collections::HashMap::new();
                    for &v in &ids {
                        *want.entry(v).or_default() += 1;
                    }
                    let mut want: Vec<u32> = want.into_values().collect();
                    let mut got = g.sizes.clone();
                    want.sort_unstable();
                    got.sort_unstable();
                    assert_eq!(got, want);
                }
            }
        }
    }

    #[test]
    fn groups_met_again_give_every_row_its_group() {
        // Contiguous for two runs, then id 5 again (in the next chunk), then a new id.
        let g = Groups::build("f", "uid", ids(&[&[5, 5, 7, 7], &[5, 9, 7, 7]]), true).unwrap();
        assert!(!g.contiguous);
        assert_eq!(g.sizes, vec![3, 4, 1]);
        assert_eq!(g.of_row(), &[0, 0, 1, 1, 0, 2, 1, 1]);
        // Ids far apart (a hash map instead of a table): the same.
        let far = [1i64 << 40, 3, 1 << 40, 3];
        let g = Groups::build("f", "uid", ids(&[&far]), true).unwrap();
        assert!(!g.contiguous);
        assert_eq!(g.of_row(), &[0, 1, 0, 1]);
    }
}
