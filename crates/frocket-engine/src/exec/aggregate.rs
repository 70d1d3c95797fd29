//! Aggregations over the rows of a set of groups.
//!
//! A column used as a map key is first *coded*: every row gets a dense code per distinct
//! value (dictionary strings are coded from their keys, deduplicating the dictionary once),
//! so counting is array indexing, and the value is rendered to its string key once per
//! distinct value, not per row. LIST columns count each distinct element of a row once.

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Int32Array};
use arrow::buffer::BooleanBuffer;
use arrow::datatypes::{DataType, Float64Type, Int32Type, Int64Type};
use arrow::error::ArrowError;

use super::column::Column;
use super::groups::{Groups, Members};
use super::FastMap;
use crate::partial::{top_entries, PartialAggregation, PartialValue};
use crate::query::{Aggregation, AggregationType};

/// Code of a null cell.
const NULL: u32 = u32::MAX;

/// A column as dense value codes.
#[derive(Debug, Clone)]
pub(crate) struct Coded {
    rows: RowCodesOf,
    /// Key (rendered value) of every code.
    keys: Vec<String>,
}

/// How rows find their codes.
#[derive(Debug, Clone)]
enum RowCodesOf {
    /// A scalar column: `codes[r]` is row `r`'s code (or [`NULL`]).
    Scalar(Vec<u32>),
    /// A LIST column: row `r`'s distinct codes are `codes[offsets[r]..offsets[r + 1]]`.
    List { offsets: Vec<u32>, codes: Vec<u32> },
    /// A dictionary column, not recoded row by row (nothing per row is allocated): chunk `c`'s
    /// key `k` has code `tables[start + k]` where `(start, len) = chunk_tables[c]`.
    Dict {
        keys: Vec<Int32Array>,
        chunk_tables: Vec<(u32, u32)>,
        tables: Vec<u32>,
        shift: u32,
    },
}

/// The codes of rows, looked up the same way for every row of a loop: aggregation loops are
/// compiled once per kind of column instead of branching on it per row.
trait RowCodes {
    /// Calls `f(row, code)` with each code of each row of `rows` (none for a null cell).
    fn each_in(&self, rows: Range<usize>, f: impl FnMut(usize, usize));
}

/// A scalar column: one code per row.
struct ScalarCodes<'a>(&'a [u32]);

impl RowCodes for ScalarCodes<'_> {
    #[inline(always)]
    fn each_in(&self, rows: Range<usize>, mut f: impl FnMut(usize, usize)) {
        let start = rows.start;
        for (i, &c) in self.0[rows].iter().enumerate() {
            if c != NULL {
                f(start + i, c as usize);
            }
        }
    }
}

/// One chunk of a dictionary column: its row keys and the codes of its dictionary's keys.
struct DictChunk<'a> {
    keys: &'a [i32],
    nulls: Option<&'a arrow::buffer::NullBuffer>,
    codes: &'a [u32],
}

/// A dictionary column: the code of each row's key in its chunk's dictionary.
struct DictCodes<'a> {
    chunks: Vec<DictChunk<'a>>,
    shift: u32,
}

impl RowCodes for DictCodes<'_> {
    #[inline(always)]
    fn each_in(&self, rows: Range<usize>, mut f: impl FnMut(usize, usize)) {
        // Split the range at chunk boundaries; look each chunk up once.
        let mut r = rows.start;
        while r < rows.end {
            let c = r >> self.shift;
            let base = c << self.shift;
            let end = rows.end.min(base + (1usize << self.shift));
            let Some(chunk) = self.chunks.get(c) else { return };
            let (from, to) = (r - base, end - base);
            // Keys of valid rows are in range; a bad one reads as null, never panics.
            match chunk.nulls {
                None => {
                    for (i, &key) in chunk.keys.get(from..to).unwrap_or(&[]).iter().enumerate() {
                        if let Some(&code) = chunk.codes.get(key as usize) {
                            if code != NULL {
                                f(r + i, code as usize);
                            }
                        }
                    }
                }
                Some(nulls) => {
                    for i in from..to {
                        if nulls.is_null(i) {
                            continue;
                        }
                        if let Some(&code) = chunk.codes.get(chunk.keys[i] as usize) {
                            if code != NULL {
                                f(base + i, code as usize);
                            }
                        }
                    }
                }
            }
            r = end;
        }
    }
}

/// A LIST column: the row's distinct element codes.
struct ListCodes<'a> {
    offsets: &'a [u32],
    codes: &'a [u32],
}

impl RowCodes for ListCodes<'_> {
    #[inline(always)]
    fn each_in(&self, rows: Range<usize>, mut f: impl FnMut(usize, usize)) {
        for r in rows {
            for &c in &self.codes[self.offsets[r] as usize..self.offsets[r + 1] as usize] {
                f(r, c as usize);
            }
        }
    }
}

/// Renders a float like Python's `repr` for the common cases (`10.0`, `2.5`).
pub(crate) fn render_f64(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e16 {
        format!("{x:.1}")
    } else {
        format!("{x}")
    }
}

/// Codes a scalar column given as chunks (values of a LIST are coded the same way): one code
/// per row of all chunks, in order. Dictionary columns are coded by [`code_column`].
fn code_scalar(chunks: &[ArrayRef]) -> Result<(Vec<u32>, Vec<String>), ArrowError> {
    let mut coder = ScalarCoder::new(chunks.iter().map(|c| c.len()).sum());
    for c in chunks {
        coder.push(c)?;
    }
    Ok((coder.codes, coder.keys))
}

/// Codes a scalar column (BOOL, INT, FLOAT or plain STRING, normalized) chunk by chunk: the
/// codes [`code_column`] gives, for a reader that codes each batch as it is decoded and does
/// not keep the values (see `read.rs`).
///
/// Equal values share a code, numbered in order of first appearance; null (and NaN) rows get
/// none.
pub(crate) struct ScalarCoder {
    /// The type of the first chunk: every chunk must have it.
    data_type: Option<DataType>,
    codes: Vec<u32>,
    keys: Vec<String>,
    /// INT values in a small known range: the code of value `lo + i` at `table[i]` (or
    /// [`NULL`] until met); others go through `ints`.
    table: Option<(i64, Vec<u32>)>,
    ints: FastMap<i64, u32>,
    floats: FastMap<u64, u32>,
    strings: FastMap<String, u32>,
    /// The code of each entry of the current dictionary (INT columns decoded by our own page
    /// decoder: see [`ValueSink`](super::pages::ValueSink)).
    entry_codes: Vec<u32>,
}

/// An INT column without nulls from our own page decoder: a dictionary's entries are coded once
/// (in dictionary order), then each row's code is its entry's.
impl super::pages::ValueSink for ScalarCoder {
    fn entries(&mut self, dictionary: &[i64], entries: &[u32]) {
        if self.entry_codes.len() < dictionary.len() {
            let codes: Vec<u32> = dictionary.iter().map(|&v| self.int_code(v)).collect();
            self.entry_codes = codes;
        }
        let codes = &self.entry_codes[..];
        self.codes.extend(entries.iter().map(|&e| codes[e as usize]));
    }

    fn values(&mut self, values: &[i64]) {
        for &v in values {
            let c = self.int_code(v);
            self.codes.push(c);
        }
    }

    fn end_chunk(&mut self, _dictionary: &[i64], nulls: usize) -> Result<(), String> {
        self.entry_codes.clear();
        match nulls {
            0 => Ok(()),
            n => Err(format!("{n} nulls in a column chunk whose statistics say none")),
        }
    }
}

impl ScalarCoder {
    /// A coder for a column of about `rows` rows.
    pub(crate) fn new(rows: usize) -> Self {
        Self::with_range(rows, None)
    }

    /// A coder for an INT column of about `rows` rows whose values are in `range` (as the
    /// footer's statistics say; values outside it are coded all the same): a direct table when
    /// the range is small (at most a slot per 4 rows).
    pub(crate) fn with_range(rows: usize, range: Option<(i64, i64)>) -> Self {
        let table = range.and_then(|(lo, hi)| {
            let span = hi as i128 - lo as i128 + 1;
            (span >= 1 && span <= (rows as i128 / 4).max(1024)).then(|| (lo, vec![NULL; span as usize]))
        });
        ScalarCoder {
            data_type: None,
            codes: Vec::with_capacity(rows),
            keys: Vec::new(),
            table,
            ints: FastMap::default(),
            floats: FastMap::default(),
            strings: FastMap::default(),
            entry_codes: Vec::new(),
        }
    }

    /// The code of INT value `v` (a new one when first met).
    fn int_code(&mut self, v: i64) -> u32 {
        let keys = &mut self.keys;
        let slot = match &mut self.table {
            Some((lo, t)) => t.get_mut(v.wrapping_sub(*lo) as usize),
            None => None,
        };
        match slot {
            Some(c) if *c != NULL => *c,
            Some(c) => {
                *c = keys.len() as u32;
                keys.push(v.to_string());
                *c
            }
            None => *self.ints.entry(v).or_insert_with(|| {
                keys.push(v.to_string());
                (keys.len() - 1) as u32
            }),
        }
    }

    /// Codes the next chunk's rows.
    pub(crate) fn push(&mut self, arr: &ArrayRef) -> Result<(), ArrowError> {
        if self.data_type.get_or_insert_with(|| arr.data_type().clone()) != arr.data_type() {
            return Err(mixed(arr));
        }
        if arr.data_type() == &DataType::Int64 {
            let a = arr.as_primitive_opt::<Int64Type>().ok_or_else(|| mixed(arr))?;
            self.codes.reserve(a.len());
            match a.nulls().filter(|n| n.null_count() > 0) {
                None => super::pages::ValueSink::values(self, a.values()),
                Some(nulls) => {
                    for (&v, valid) in a.values().iter().zip(nulls.iter()) {
                        let c = if valid { self.int_code(v) } else { NULL };
                        self.codes.push(c);
                    }
                }
            }
            return Ok(());
        }
        let (codes, keys) = (&mut self.codes, &mut self.keys);
        match arr.data_type() {
            DataType::Boolean => {
                if keys.is_empty() {
                    *keys = vec!["false".into(), "true".into()];
                }
                let a = arr.as_boolean_opt().ok_or_else(|| mixed(arr))?;
                codes.extend((0..a.len()).map(|i| if a.is_null(i) { NULL } else { a.value(i) as u32 }));
            }
            DataType::Float64 => {
                let a = arr.as_primitive_opt::<Float64Type>().ok_or_else(|| mixed(arr))?;
                let map = &mut self.floats;
                for (i, &v) in a.values().iter().enumerate() {
                    if a.is_null(i) || v.is_nan() {
                        codes.push(NULL);
                        continue;
                    }
                    let v = if v == 0.0 { 0.0 } else { v };
                    let c = *map.entry(v.to_bits()).or_insert_with(|| {
                        keys.push(render_f64(v));
                        (keys.len() - 1) as u32
                    });
                    codes.push(c);
                }
            }
            DataType::Utf8 => {
                let a = arr.as_string_opt::<i32>().ok_or_else(|| mixed(arr))?;
                let map = &mut self.strings;
                for i in 0..a.len() {
                    if a.is_null(i) {
                        codes.push(NULL);
                        continue;
                    }
                    let v = a.value(i);
                    let c = match map.get(v) {
                        Some(&c) => c,
                        None => {
                            let c = keys.len() as u32;
                            keys.push(v.to_string());
                            map.insert(v.to_string(), c);
                            c
                        }
                    };
                    codes.push(c);
                }
            }
            other => {
                return Err(ArrowError::InvalidArgumentError(format!(
                    "cannot aggregate values of type {other}"
                )))
            }
        }
        Ok(())
    }

    /// The column's codes.
    pub(crate) fn finish(self) -> Coded {
        debug_assert!(self.entry_codes.is_empty(), "a dictionary not ended");
        Coded {
            rows: RowCodesOf::Scalar(self.codes),
            keys: self.keys,
        }
    }
}

fn mixed(arr: &ArrayRef) -> ArrowError {
    ArrowError::InvalidArgumentError(format!("a column's chunks have different types ({})", arr.data_type()))
}

/// Codes a normalized column.
pub(crate) fn code_column(col: &Column) -> Result<Coded, ArrowError> {
    let chunks = col.chunks();
    match col.data_type() {
        DataType::Dictionary(_, _) => {
            // Code each dictionary's values once (equal strings share a code), keep the row
            // keys. Batches of one row group share their dictionary.
            let mut keys: Vec<String> = Vec::new();
            let mut map: FastMap<&str, u32> = FastMap::default();
            let mut tables: Vec<u32> = Vec::new();
            let mut chunk_tables = Vec::with_capacity(chunks.len());
            let mut row_keys = Vec::with_capacity(chunks.len());
            let mut previous: Option<(&ArrayRef, (u32, u32))> = None;
            for c in chunks {
                let d = c.as_dictionary_opt::<Int32Type>().ok_or_else(|| mixed(c))?;
                let range = match previous {
                    Some((p, range)) if Arc::ptr_eq(p, d.values()) => range,
                    _ => {
                        let values = d.values().as_string::<i32>();
                        let start = tables.len() as u32;
                        for k in 0..values.len() {
                            tables.push(if values.is_null(k) {
                                NULL
                            } else {
                                let v = values.value(k);
                                *map.entry(v).or_insert_with(|| {
                                    keys.push(v.to_string());
                                    (keys.len() - 1) as u32
                                })
                            });
                        }
                        let range = (start, values.len() as u32);
                        previous = Some((d.values(), range));
                        range
                    }
                };
                chunk_tables.push(range);
                row_keys.push(d.keys().clone());
            }
            Ok(Coded {
                rows: RowCodesOf::Dict {
                    keys: row_keys,
                    chunk_tables,
                    tables,
                    shift: col.shift(),
                },
                keys,
            })
        }
        DataType::List(_) => {
            let lists: Vec<&arrow::array::ListArray> = chunks
                .iter()
                .map(|c| c.as_list_opt::<i32>().ok_or_else(|| mixed(c)))
                .collect::<Result<_, _>>()?;
            let values: Vec<ArrayRef> = lists.iter().map(|l| l.values().clone()).collect();
            let (elem_codes, keys) = code_scalar(&values)?;
            let mut offsets = Vec::with_capacity(col.len() + 1);
            let mut codes = Vec::with_capacity(elem_codes.len());
            offsets.push(0u32);
            let mut base = 0usize;
            for l in lists {
                let offsets_in = l.value_offsets();
                for r in 0..l.len() {
                    let start = codes.len();
                    if l.is_valid(r) {
                        let (s, e) = (base + offsets_in[r] as usize, base + offsets_in[r + 1] as usize);
                        for &c in &elem_codes[s..e] {
                            if c != NULL && !codes[start..].contains(&c) {
                                codes.push(c);
                            }
                        }
                    }
                    offsets.push(codes.len() as u32);
                }
                base += l.values().len();
            }
            Ok(Coded {
                rows: RowCodesOf::List { offsets, codes },
                keys,
            })
        }
        _ => {
            let (codes, keys) = code_scalar(chunks)?;
            Ok(Coded {
                rows: RowCodesOf::Scalar(codes),
                keys,
            })
        }
    }
}

/// Sums of a numeric column per code.
enum Sums {
    /// Exact: 128 bits hold the sum of 2^64 64-bit values.
    Int(Vec<i128>),
    Float(Vec<f64>),
}

/// Everything an aggregation needs from the part.
pub(crate) struct AggInput<'a> {
    pub groups: &'a Groups,
    pub column: &'a Column,
    pub coded: Option<&'a Coded>,
    pub other: Option<&'a Column>,
    pub max_distinct: usize,
}

/// Calls `f(rows)` for ranges of rows that together are the rows of the `selected` groups, in
/// row order. Groups whose rows are adjacent in the part are visited as row ranges (runs of
/// selected groups as one range), so groups that are not selected cost nothing.
fn for_selected_ranges(groups: &Groups, selected: &BooleanBuffer, mut f: impl FnMut(Range<usize>)) {
    if groups.contiguous {
        let offsets = groups.offsets();
        for (first, end) in selected.set_slices() {
            f(offsets[first] as usize..offsets[end] as usize);
        }
    } else {
        // The selection as one byte per group: a plain load per row instead of bit arithmetic.
        let sel: Vec<bool> = selected.iter().collect();
        let mut run: Option<Range<usize>> = None;
        for (r, &g) in groups.of_row().iter().enumerate() {
            if sel[g as usize] {
                match &mut run {
                    Some(range) => range.end = r + 1,
                    None => run = Some(r..r + 1),
                }
            } else if let Some(range) = run.take() {
                f(range);
            }
        }
        if let Some(range) = run {
            f(range);
        }
    }
}

/// Calls `f(group, rows)` for the rows of every `selected` group, group after group (a group's
/// rows in one range when they are adjacent in the part, else one row at a time).
fn for_selected_groups(groups: &Groups, selected: &BooleanBuffer, mut f: impl FnMut(u32, Range<usize>)) {
    match groups.members() {
        Members::Runs(offsets) => {
            for g in selected.set_indices() {
                f(g as u32, offsets[g] as usize..offsets[g + 1] as usize);
            }
        }
        Members::Listed { rows, offsets } => {
            for g in selected.set_indices() {
                for &r in &rows[offsets[g] as usize..offsets[g + 1] as usize] {
                    f(g as u32, r as usize..r as usize + 1);
                }
            }
        }
    }
}

/// The groups an aggregation runs over: one selection, or nested ones (a funnel's steps).
pub(crate) enum Selection<'a> {
    /// The selected groups.
    One(&'a BooleanBuffer),
    /// Group `g` is in selections `0..levels[g]`; `any` has the groups with a level above 0.
    Nested {
        levels: &'a [u32],
        count: usize,
        any: &'a BooleanBuffer,
    },
}

impl Selection<'_> {
    /// Number of selections.
    pub(crate) fn count(&self) -> usize {
        match self {
            Selection::One(_) => 1,
            Selection::Nested { count, .. } => *count,
        }
    }

    /// Groups in at least one selection.
    fn any(&self) -> &BooleanBuffer {
        match self {
            Selection::One(s) => s,
            Selection::Nested { any, .. } => any,
        }
    }

    /// The deepest selection (index) group `g` is in, when it is in one.
    #[inline(always)]
    fn slot(&self, g: usize) -> usize {
        match self {
            Selection::One(_) => 0,
            Selection::Nested { levels, .. } => (levels[g] as usize).saturating_sub(1),
        }
    }
}

/// Calls `f(group, slot, rows)` over the rows of the selected groups (`slot`: the deepest
/// selection the rows' group is in). With `grouped`, a group's rows come one after the other
/// and `group` is theirs; otherwise ranges may cover several groups of one slot and `group`
/// is meaningless.
fn visit(groups: &Groups, sel: &Selection<'_>, grouped: bool, mut f: impl FnMut(u32, usize, Range<usize>)) {
    match sel {
        Selection::One(s) if !grouped => for_selected_ranges(groups, s, |rows| f(u32::MAX, 0, rows)),
        Selection::Nested { levels, any, .. } if !grouped && groups.contiguous => {
            // Adjacent groups of one slot are one range of rows.
            let offsets = groups.offsets();
            let mut run: Option<(usize, Range<usize>)> = None;
            for g in any.set_indices() {
                let slot = (levels[g] as usize).saturating_sub(1);
                let rows = offsets[g] as usize..offsets[g + 1] as usize;
                match &mut run {
                    Some((s, r)) if *s == slot && r.end == rows.start => r.end = rows.end,
                    _ => {
                        if let Some((s, r)) = run.replace((slot, rows)) {
                            f(u32::MAX, s, r);
                        }
                    }
                }
            }
            if let Some((s, r)) = run {
                f(u32::MAX, s, r);
            }
        }
        Selection::Nested { levels, .. } if !grouped => {
            for (r, &g) in groups.of_row().iter().enumerate() {
                let level = levels[g as usize] as usize;
                if level > 0 {
                    f(g, level - 1, r..r + 1);
                }
            }
        }
        _ => for_selected_groups(groups, sel.any(), |g, rows| f(g, sel.slot(g as usize), rows)),
    }
}

/// Over a part whose groups are not contiguous (rows in any order), calls `f(row, slot, code,
/// group)` for each code of each row of a selected group, in one sequential pass over the rows:
/// `levels[g]` is group `g`'s deepest selection plus one (0: not selected). Gathering each
/// group's rows from all over the part instead would touch memory at random for every row.
fn each_selected_code<C: RowCodes>(
    groups: &Groups,
    levels: &GroupLevels<'_>,
    codes: &C,
    mut f: impl FnMut(usize, usize, usize, u32),
) {
    each_row_level(groups, levels, codes, |r, level, c, g| {
        if level > 0 {
            f(r, level - 1, c, g);
        }
    });
}

/// As [`each_selected_code`], for every row whether its group is selected or not:
/// `f(row, level, code, group)` for each code of each row, `level` 0 for a group not selected.
/// Callers that can count those rows somewhere harmless (a slot of their own, a group's bits
/// never read) have no branch per row on whether its group is selected, which rows in any
/// order would mispredict.
fn each_row_level<C: RowCodes>(
    groups: &Groups,
    levels: &GroupLevels<'_>,
    codes: &C,
    f: impl FnMut(usize, usize, usize, u32),
) {
    match levels {
        GroupLevels::Bytes(levels) => rows_with_levels(groups, levels, codes, f),
        GroupLevels::Words(levels) => rows_with_levels(groups, levels, codes, f),
    }
}

/// [`each_row_level`] over one kind of level table.
#[inline(always)]
fn rows_with_levels<C: RowCodes, L: Copy + Into<u32>>(
    groups: &Groups,
    levels: &[L],
    codes: &C,
    mut f: impl FnMut(usize, usize, usize, u32),
) {
    let of_row = groups.of_row();
    codes.each_in(0..of_row.len(), |r, c| {
        let g = of_row[r];
        f(r, levels[g as usize].into() as usize, c, g);
    });
}

/// Each group's level for a pass over rows in any order ([`each_row_level`]): its deepest
/// selection plus one (0: not selected). One byte a group when every level fits one, as they
/// do for up to 255 nested selections (a funnel's steps): every row looks its group's level
/// up at random, and a table a quarter of the size stays in L2 beside what the pass writes.
enum GroupLevels<'a> {
    Bytes(Vec<u8>),
    Words(std::borrow::Cow<'a, [u32]>),
}

impl<'a> GroupLevels<'a> {
    /// The levels of `sel`'s groups.
    fn of(sel: &Selection<'a>) -> Self {
        match sel {
            Selection::One(s) => GroupLevels::Bytes(s.iter().map(u8::from).collect()),
            Selection::Nested { levels, count, .. } if *count < 256 => {
                GroupLevels::Bytes(levels.iter().map(|&l| l.min(255) as u8).collect())
            }
            Selection::Nested { levels, .. } => GroupLevels::Words(std::borrow::Cow::Borrowed(*levels)),
        }
    }
}

/// Most distinct values `groupsPerValue` counts with one bit per value and group (a `u64` per
/// group) over rows in any order; more go through each group's gathered rows.
const MASK_BITS: usize = 64;

/// Runs one aggregation over each of nested selections of groups in one pass over the rows:
/// sums per deepest selection, then each selection's result is the sum of its own and the
/// deeper ones'. One result per selection, in order.
pub(crate) fn aggregate_nested(
    agg: &Aggregation,
    input: &AggInput<'_>,
    sel: &Selection<'_>,
) -> Result<Vec<PartialAggregation>, ArrowError> {
    let n = sel.count();
    if agg.agg_type == AggregationType::Count {
        let validity = input.column.validity();
        let mut counts = vec![0u64; n];
        if validity.all_valid() {
            // Every row counts: the selected groups' sizes.
            for g in sel.any().set_indices() {
                counts[sel.slot(g)] += input.groups.sizes[g] as u64;
            }
        } else {
            visit(input.groups, sel, false, |_, slot, rows| {
                counts[slot] += rows.filter(|&r| validity.is_valid(r)).count() as u64;
            });
        }
        suffix_sums(&mut counts, 1);
        return Ok(counts
            .into_iter()
            .map(|c| PartialAggregation {
                value: PartialValue::Count(c),
                approximate: false,
            })
            .collect());
    }
    let coded = input
        .coded
        .ok_or_else(|| ArrowError::InvalidArgumentError("column not coded".into()))?;
    match &coded.rows {
        RowCodesOf::Dict { .. } => {
            let dict = coded
                .dict_codes()
                .ok_or_else(|| ArrowError::InvalidArgumentError("not a dictionary".into()))?;
            aggregate_codes(agg, input, sel, &coded.keys, &dict)
        }
        RowCodesOf::List { offsets, codes } => {
            aggregate_codes(agg, input, sel, &coded.keys, &ListCodes { offsets, codes })
        }
        RowCodesOf::Scalar(codes) => aggregate_codes(agg, input, sel, &coded.keys, &ScalarCodes(codes)),
    }
}

impl Coded {
    /// Every row's code (`rows` rows; `u32::MAX` for a null), for a scalar or dictionary
    /// column; `None` for a LIST column (a row has many codes).
    pub(crate) fn row_codes(&self, rows: usize) -> Option<Vec<u32>> {
        let mut out = vec![NULL; rows];
        match &self.rows {
            RowCodesOf::Scalar(codes) => {
                ScalarCodes(codes).each_in(0..rows.min(codes.len()), |r, c| out[r] = c as u32);
            }
            RowCodesOf::Dict { .. } => {
                self.dict_codes()?.each_in(0..rows, |r, c| {
                    if let Some(o) = out.get_mut(r) {
                        *o = c as u32;
                    }
                });
            }
            RowCodesOf::List { .. } => return None,
        }
        Some(out)
    }

    /// Every row's code as stored, for a scalar column (rows past its end are null); `None`
    /// for other columns (see [`Coded::row_codes`]).
    pub(crate) fn scalar_codes(&self) -> Option<&[u32]> {
        match &self.rows {
            RowCodesOf::Scalar(codes) => Some(codes),
            _ => None,
        }
    }

    /// The codes of rows `order[0]`, `order[1]`, … of a part of `rows` rows ([`NULL`] for a
    /// null): [`Coded::row_codes`] in another order, without a copy in row order for a scalar
    /// column.
    pub(crate) fn codes_at(&self, order: impl Iterator<Item = u32>, rows: usize) -> Option<Vec<u32>> {
        let at = |codes: &[u32]| order.map(|r| codes.get(r as usize).copied().unwrap_or(NULL)).collect();
        match &self.rows {
            RowCodesOf::Scalar(codes) => Some(at(codes)),
            _ => Some(at(&self.row_codes(rows)?)),
        }
    }

    /// Whether any of a part's `rows` rows may be null (have no code): `false` only when
    /// none is (a LIST column's rows count as null: they have no single code).
    pub(crate) fn may_have_null(&self, rows: usize) -> bool {
        match &self.rows {
            RowCodesOf::Scalar(codes) => codes.len() < rows || codes.contains(&NULL),
            RowCodesOf::Dict { keys, tables, .. } => {
                keys.iter().map(|k| k.len()).sum::<usize>() < rows
                    || keys.iter().any(|k| k.null_count() > 0)
                    || tables.contains(&NULL)
            }
            RowCodesOf::List { .. } => true,
        }
    }

    /// A dictionary column's row codes, looked up per chunk; `None` for other columns.
    fn dict_codes(&self) -> Option<DictCodes<'_>> {
        let RowCodesOf::Dict {
            keys,
            chunk_tables,
            tables,
            shift,
        } = &self.rows
        else {
            return None;
        };
        let chunks = keys
            .iter()
            .zip(chunk_tables)
            .map(|(k, &(start, len))| DictChunk {
                keys: k.values(),
                nulls: k.nulls(),
                codes: tables.get(start as usize..(start + len) as usize).unwrap_or(&[]),
            })
            .collect();
        Some(DictCodes { chunks, shift: *shift })
    }
}

/// Turns per-slot accumulators (`width` values per slot) into per-selection totals: slot `s`
/// becomes the sum of slots `s..`.
fn suffix_sums<T: Copy + std::ops::AddAssign>(acc: &mut [T], width: usize) {
    let slots = acc.len() / width.max(1);
    for s in (0..slots.saturating_sub(1)).rev() {
        for c in 0..width {
            let deeper = acc[(s + 1) * width + c];
            acc[s * width + c] += deeper;
        }
    }
}

/// [`aggregate_nested`] for one kind of coded column (`keys[c]` renders code `c`).
fn aggregate_codes<C: RowCodes>(
    agg: &Aggregation,
    input: &AggInput<'_>,
    sel: &Selection<'_>,
    keys: &[String],
    codes: &C,
) -> Result<Vec<PartialAggregation>, ArrowError> {
    let k = keys.len();
    let n = sel.count();
    // Accumulators are `n` slots of `k` codes: index `slot * k + code`.
    let mut rows_per_code = vec![0u64; n * k];
    let mut results = Vec::with_capacity(n);
    // Rows in any order: one pass over all rows, each row's group's level looked up.
    let levels = (!input.groups.contiguous).then(|| GroupLevels::of(sel));
    match agg.agg_type {
        AggregationType::Count => unreachable!("handled by aggregate_nested"),
        AggregationType::CountPerValue | AggregationType::GroupsPerValue => {
            if agg.agg_type == AggregationType::CountPerValue {
                if let Some(levels) = &levels {
                    // Slot 0 counts the rows of groups not selected, then is dropped.
                    let mut all = vec![0u64; (n + 1) * k];
                    each_row_level(input.groups, levels, codes, |_, level, c, _| all[level * k + c] += 1);
                    rows_per_code.copy_from_slice(&all[k..]);
                } else {
                    // Two sets of counters, alternate rows into each: consecutive rows of one
                    // value (a session's device) then add to different counters, so each add
                    // does not wait on the one before.
                    let half = n * k;
                    let mut twice = vec![0u64; 2 * half];
                    visit(input.groups, sel, false, |_, slot, rows| {
                        let base = slot * k;
                        codes.each_in(rows, |r, c| twice[(r & 1) * half + base + c] += 1);
                    });
                    for (i, count) in rows_per_code.iter_mut().enumerate() {
                        *count = twice[i] + twice[half + i];
                    }
                }
            } else if let Some(levels) = levels.as_ref().filter(|_| k <= MASK_BITS) {
                // One bit per value a group has; then each selected group's bits counted.
                let mut masks = vec![0u64; input.groups.count];
                // (Groups not selected get bits too: never read.)
                each_row_level(input.groups, levels, codes, |_, _, c, g| masks[g as usize] |= 1 << c);
                for g in sel.any().set_indices() {
                    let base = sel.slot(g) * k;
                    let mut m = masks[g];
                    while m != 0 {
                        rows_per_code[base + m.trailing_zeros() as usize] += 1;
                        m &= m - 1;
                    }
                }
            } else if k <= MASK_BITS {
                // A group's rows come together: one bit per value it has, OR-ed over its rows
                // (no branch per row), then its bits counted.
                visit(input.groups, sel, true, |_, slot, rows| {
                    let mut mask = 0u64;
                    codes.each_in(rows, |_, c| mask |= 1 << c);
                    let base = slot * k;
                    while mask != 0 {
                        rows_per_code[base + mask.trailing_zeros() as usize] += 1;
                        mask &= mask - 1;
                    }
                });
            } else {
                // The last group counted for each code: a group's rows come together.
                let mut last = vec![u32::MAX; k];
                visit(input.groups, sel, true, |g, slot, rows| {
                    let base = slot * k;
                    codes.each_in(rows, |_, c| {
                        if last[c] != g {
                            last[c] = g;
                            rows_per_code[base + c] += 1;
                        }
                    });
                });
            }
            suffix_sums(&mut rows_per_code, k);
            for slot in 0..n {
                let counts = &rows_per_code[slot * k..(slot + 1) * k];
                let mut approximate = false;
                let value = PartialValue::Counts(collect(keys, counts, input.max_distinct, &mut approximate));
                results.push(PartialAggregation { value, approximate });
            }
        }
        AggregationType::SumPerValue | AggregationType::MeanPerValue => {
            let other = input
                .other
                .ok_or_else(|| ArrowError::InvalidArgumentError("otherColumn not read".into()))?;
            let mut nonnull = vec![0u64; n * k];
            let not_numeric =
                || ArrowError::InvalidArgumentError(format!("otherColumn must be numeric, is {}", other.data_type()));
            let sums = match other.data_type() {
                DataType::Int64 => {
                    let o = other.primitive::<Int64Type>().ok_or_else(not_numeric)?;
                    let mut s = vec![0i128; n * k];
                    let mut add = |r: usize, slot: usize, c: usize| {
                        let i = slot * k + c;
                        rows_per_code[i] += 1;
                        if o.is_valid(r) {
                            s[i] += i128::from(o.value(r));
                            nonnull[i] += 1;
                        }
                    };
                    if let Some(levels) = &levels {
                        each_selected_code(input.groups, levels, codes, |r, slot, c, _| add(r, slot, c));
                    } else {
                        visit(input.groups, sel, false, |_, slot, rows| {
                            codes.each_in(rows, |r, c| add(r, slot, c));
                        });
                    }
                    suffix_sums(&mut s, k);
                    Sums::Int(s)
                }
                DataType::Float64 => {
                    let o = other.primitive::<Float64Type>().ok_or_else(not_numeric)?;
                    let mut s = vec![0f64; n * k];
                    let mut add = |r: usize, slot: usize, c: usize| {
                        let i = slot * k + c;
                        rows_per_code[i] += 1;
                        if o.is_valid(r) {
                            s[i] += o.value(r);
                            nonnull[i] += 1;
                        }
                    };
                    if let Some(levels) = &levels {
                        each_selected_code(input.groups, levels, codes, |r, slot, c, _| add(r, slot, c));
                    } else {
                        visit(input.groups, sel, false, |_, slot, rows| {
                            codes.each_in(rows, |r, c| add(r, slot, c));
                        });
                    }
                    suffix_sums(&mut s, k);
                    Sums::Float(s)
                }
                _ => return Err(not_numeric()),
            };
            suffix_sums(&mut rows_per_code, k);
            suffix_sums(&mut nonnull, k);
            for slot in 0..n {
                let range = slot * k..(slot + 1) * k;
                let (rows, nonnull) = (&rows_per_code[range.clone()], &nonnull[range.clone()]);
                let keep: &[u64] = if agg.agg_type == AggregationType::MeanPerValue {
                    nonnull
                } else {
                    rows
                };
                let mut approximate = false;
                let max = input.max_distinct;
                let value = match (agg.agg_type, &sums) {
                    (AggregationType::SumPerValue, Sums::Int(s)) => {
                        let s = &s[range];
                        PartialValue::IntSums(collect_with(
                            keys,
                            keep,
                            |c| s[c],
                            |a, b| a.cmp(b),
                            max,
                            &mut approximate,
                        ))
                    }
                    (AggregationType::SumPerValue, Sums::Float(s)) => {
                        let s = &s[range];
                        PartialValue::FloatSums(collect_with(
                            keys,
                            keep,
                            |c| s[c],
                            |a, b| a.total_cmp(b),
                            max,
                            &mut approximate,
                        ))
                    }
                    (_, Sums::Int(s)) => {
                        let s = &s[range];
                        PartialValue::IntMeans(collect_with(
                            keys,
                            keep,
                            |c| (s[c], nonnull[c]),
                            |a, b| (a.0 as f64 / a.1 as f64).total_cmp(&(b.0 as f64 / b.1 as f64)),
                            max,
                            &mut approximate,
                        ))
                    }
                    (_, Sums::Float(s)) => {
                        let s = &s[range];
                        PartialValue::FloatMeans(collect_with(
                            keys,
                            keep,
                            |c| (s[c], nonnull[c]),
                            |a, b| (a.0 / a.1 as f64).total_cmp(&(b.0 / b.1 as f64)),
                            max,
                            &mut approximate,
                        ))
                    }
                };
                results.push(PartialAggregation { value, approximate });
            }
        }
    }
    Ok(results)
}

/// Keys with a non-zero count, cut to the `max` largest.
fn collect(keys: &[String], counts: &[u64], max: usize, approximate: &mut bool) -> BTreeMap<String, u64> {
    collect_with(keys, counts, |c| counts[c], |a, b| a.cmp(b), max, approximate)
}

fn collect_with<V: Copy>(
    keys: &[String],
    keep: &[u64],
    value: impl Fn(usize) -> V,
    cmp: impl Fn(&V, &V) -> std::cmp::Ordering,
    max: usize,
    approximate: &mut bool,
) -> BTreeMap<String, V> {
    let entries: Vec<(String, V)> = (0..keys.len())
        .filter(|&c| keep[c] > 0)
        .map(|c| (keys[c].clone(), value(c)))
        .collect();
    if entries.len() > max {
        *approximate = true;
        return top_entries(entries, max, cmp).into_iter().collect();
    }
    entries.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Arc;

    use arrow::array::{ArrayRef, Int64Array, StringArray};

    use super::*;

    /// Codes numbered in order of first appearance, by definition (`None`: null).
    fn reference<T: Clone + Eq + std::hash::Hash>(values: &[Option<T>]) -> Vec<u32> {
        let mut seen: HashMap<T, u32> = HashMap::new();
        values
            .iter()
            .map(|v| match v {
                None => NULL,
                Some(v) => {
                    let next = seen.len() as u32;
                    *seen.entry(v.clone()).or_insert(next)
                }
            })
            .collect()
    }

    fn coded_rows(coded: &Coded) -> Vec<u32> {
        match &coded.rows {
            RowCodesOf::Scalar(codes) => codes.clone(),
            _ => panic!("a scalar column codes as a scalar"),
        }
    }

    #[test]
    fn ints_code_alike_through_the_table_the_map_and_both() {
        // Values inside and outside the range the statistics gave, nulls, over two chunks.
        let chunks: Vec<Vec<Option<i64>>> = vec![
            vec![Some(5), Some(7), None, Some(5), Some(1000), Some(-3), Some(7)],
            vec![
                Some(1000),
                Some(6),
                None,
                Some(-3),
                Some(5),
                Some(i64::MAX),
                Some(i64::MIN),
            ],
        ];
        let all: Vec<Option<i64>> = chunks.concat();
        for range in [None, Some((5, 7)), Some((-3, 1000)), Some((0, 0))] {
            let mut coder = ScalarCoder::with_range(all.len(), range);
            for c in &chunks {
                let a: ArrayRef = Arc::new(Int64Array::from(c.clone()));
                coder.push(&a).unwrap();
            }
            let coded = coder.finish();
            assert_eq!(coded_rows(&coded), reference(&all), "range {range:?}");
            let expected_keys: Vec<String> = [
                "5",
                "7",
                "1000",
                "-3",
                "6",
                "9223372036854775807",
                "-9223372036854775808",
            ]
            .map(String::from)
            .to_vec();
            assert_eq!(coded.keys, expected_keys, "range {range:?}");
        }
    }

    #[test]
    fn strings_code_across_chunks_and_other_types_are_refused() {
        let chunks = [vec![Some("b"), None, Some("a")], vec![Some("a"), Some("c"), Some("b")]];
        let mut coder = ScalarCoder::new(6);
        for c in &chunks {
            let a: ArrayRef = Arc::new(StringArray::from(c.clone()));
            coder.push(&a).unwrap();
        }
        let all: Vec<Option<&str>> = chunks.concat();
        let coded = coder.finish();
        assert_eq!(coded_rows(&coded), reference(&all));
        assert_eq!(coded.keys, vec!["b", "a", "c"]);
        // A chunk of another type than the first is an error, not codes of mixed values.
        let mut coder = ScalarCoder::new(2);
        coder.push(&(Arc::new(Int64Array::from(vec![1])) as ArrayRef)).unwrap();
        let err = coder
            .push(&(Arc::new(StringArray::from(vec!["1"])) as ArrayRef))
            .unwrap_err();
        assert!(err.to_string().contains("different types"), "{err}");
    }
}
