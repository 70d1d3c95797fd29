//! Aggregations over the rows of a set of groups.
//!
//! A column used as a map key is first *coded*: every row gets a dense code per distinct
//! value (dictionary strings are coded from their keys, deduplicating the dictionary once),
//! so counting is array indexing, and the value is rendered to its string key once per
//! distinct value, not per row. LIST columns count each distinct element of a row once.

use std::collections::BTreeMap;

use arrow::array::{Array, ArrayRef, AsArray, Int32Array};
use arrow::buffer::BooleanBuffer;
use arrow::datatypes::{DataType, Float64Type, Int32Type, Int64Type};
use arrow::error::ArrowError;

use super::groups::{Groups, Timestamps};
use super::FastMap;
use crate::partial::{top_entries, PartialAggregation, PartialValue};
use crate::query::{Aggregation, AggregationType};

/// Code of a null cell.
const NULL: u32 = u32::MAX;

/// A column as dense value codes.
pub(crate) struct Coded {
    /// For LIST columns, row `r`'s codes are `codes[offsets[r]..offsets[r + 1]]` (distinct);
    /// for scalar columns `None` and `codes[r]` is the row's code (or [`NULL`]).
    offsets: Option<Vec<u32>>,
    /// Dictionary columns are not recoded row by row: `codes[k]` is the code of dictionary
    /// key `k`, and a row's code is that of its key (nothing per row is allocated).
    dict_keys: Option<Int32Array>,
    codes: Vec<u32>,
    /// Key (rendered value) of every code.
    keys: Vec<String>,
}

/// The codes of one row, looked up the same way for every row of a loop: aggregation loops
/// are compiled once per kind of column instead of branching on it per row.
trait RowCodes {
    /// Calls `f` with each code of row `r` (none for a null cell).
    fn each(&self, r: usize, f: impl FnMut(usize));
}

/// A scalar column: one code per row.
struct ScalarCodes<'a>(&'a [u32]);

impl RowCodes for ScalarCodes<'_> {
    #[inline(always)]
    fn each(&self, r: usize, mut f: impl FnMut(usize)) {
        let c = self.0[r];
        if c != NULL {
            f(c as usize);
        }
    }
}

/// A dictionary column: the code of the row's key.
struct DictCodes<'a> {
    keys: &'a [i32],
    nulls: Option<&'a arrow::buffer::NullBuffer>,
    codes: &'a [u32],
}

impl RowCodes for DictCodes<'_> {
    #[inline(always)]
    fn each(&self, r: usize, mut f: impl FnMut(usize)) {
        if self.nulls.is_some_and(|n| n.is_null(r)) {
            return;
        }
        // Keys of valid rows are in range; a bad one reads as null rather than panicking.
        if let Some(&c) = self.codes.get(self.keys[r] as usize) {
            if c != NULL {
                f(c as usize);
            }
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
    fn each(&self, r: usize, mut f: impl FnMut(usize)) {
        for &c in &self.codes[self.offsets[r] as usize..self.offsets[r + 1] as usize] {
            f(c as usize);
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

/// Codes a scalar column (values of a LIST are coded the same way).
fn code_scalar(arr: &ArrayRef) -> Result<(Vec<u32>, Vec<String>), ArrowError> {
    let n = arr.len();
    let mut keys: Vec<String> = Vec::new();
    let mut codes = Vec::with_capacity(n);
    match arr.data_type() {
        DataType::Boolean => {
            let a = arr.as_boolean();
            keys = vec!["false".into(), "true".into()];
            for i in 0..n {
                codes.push(if a.is_null(i) { NULL } else { a.value(i) as u32 });
            }
        }
        DataType::Int64 => {
            let a = arr.as_primitive::<Int64Type>();
            let mut map: FastMap<i64, u32> = FastMap::default();
            for (i, &v) in a.values().iter().enumerate() {
                if a.is_null(i) {
                    codes.push(NULL);
                    continue;
                }
                let c = *map.entry(v).or_insert_with(|| {
                    keys.push(v.to_string());
                    (keys.len() - 1) as u32
                });
                codes.push(c);
            }
        }
        DataType::Float64 => {
            let a = arr.as_primitive::<Float64Type>();
            let mut map: FastMap<u64, u32> = FastMap::default();
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
            let a = arr.as_string::<i32>();
            let mut map: FastMap<&str, u32> = FastMap::default();
            for i in 0..n {
                if a.is_null(i) {
                    codes.push(NULL);
                    continue;
                }
                let v = a.value(i);
                let c = *map.entry(v).or_insert_with(|| {
                    keys.push(v.to_string());
                    (keys.len() - 1) as u32
                });
                codes.push(c);
            }
        }
        DataType::Dictionary(_, _) => {
            let d = arr.as_dictionary::<Int32Type>();
            let values = d.values().as_string::<i32>();
            let mut by_key = vec![NULL; values.len()];
            let mut map: FastMap<&str, u32> = FastMap::default();
            let keys_arr = d.keys();
            for (i, &k) in keys_arr.values().iter().enumerate() {
                if keys_arr.is_null(i) || values.is_null(k as usize) {
                    codes.push(NULL);
                    continue;
                }
                let k = k as usize;
                let mut c = by_key[k];
                if c == NULL {
                    let v = values.value(k);
                    c = *map.entry(v).or_insert_with(|| {
                        keys.push(v.to_string());
                        (keys.len() - 1) as u32
                    });
                    by_key[k] = c;
                }
                codes.push(c);
            }
        }
        other => {
            return Err(ArrowError::InvalidArgumentError(format!(
                "cannot aggregate values of type {other}"
            )))
        }
    }
    Ok((codes, keys))
}

/// Codes a normalized column.
pub(crate) fn code_column(arr: &ArrayRef) -> Result<Coded, ArrowError> {
    if let DataType::Dictionary(_, _) = arr.data_type() {
        // Code the dictionary's values (equal strings share a code), keep the row keys.
        let d = arr.as_dictionary::<Int32Type>();
        let values = d.values().as_string::<i32>();
        let mut keys: Vec<String> = Vec::new();
        let mut map: FastMap<&str, u32> = FastMap::default();
        let codes = (0..values.len())
            .map(|k| {
                if values.is_null(k) {
                    return NULL;
                }
                let v = values.value(k);
                *map.entry(v).or_insert_with(|| {
                    keys.push(v.to_string());
                    (keys.len() - 1) as u32
                })
            })
            .collect();
        // Keys under nulls may be anything: only valid rows are looked up (an out-of-range
        // key would read as null, never panic).
        return Ok(Coded {
            offsets: None,
            dict_keys: Some(d.keys().clone()),
            codes,
            keys,
        });
    }
    if let DataType::List(_) = arr.data_type() {
        let l = arr.as_list::<i32>();
        let (elem_codes, keys) = code_scalar(l.values())?;
        let offsets_in = l.value_offsets();
        let mut offsets = Vec::with_capacity(l.len() + 1);
        let mut codes = Vec::with_capacity(elem_codes.len());
        offsets.push(0u32);
        for r in 0..l.len() {
            let start = codes.len();
            if l.is_valid(r) {
                for &c in &elem_codes[offsets_in[r] as usize..offsets_in[r + 1] as usize] {
                    if c != NULL && !codes[start..].contains(&c) {
                        codes.push(c);
                    }
                }
            }
            offsets.push(codes.len() as u32);
        }
        return Ok(Coded {
            offsets: Some(offsets),
            dict_keys: None,
            codes,
            keys,
        });
    }
    let (codes, keys) = code_scalar(arr)?;
    Ok(Coded {
        offsets: None,
        dict_keys: None,
        codes,
        keys,
    })
}

/// Sums of a numeric column per code.
enum Sums {
    Int(Vec<i64>),
    Float(Vec<f64>),
}

/// Everything an aggregation needs from the part.
pub(crate) struct AggInput<'a> {
    pub groups: &'a Groups,
    pub ts: Option<&'a Timestamps>,
    pub column: &'a ArrayRef,
    pub coded: Option<&'a Coded>,
    pub other: Option<&'a ArrayRef>,
    pub max_distinct: usize,
}

/// Calls `f(group, row)` for every row of the `selected` groups. With `grouped`, the rows of a
/// group come one after the other. Groups whose rows are adjacent in the part are visited as
/// row ranges, so groups that are not selected cost nothing.
fn for_selected_rows(
    groups: &Groups,
    ts: Option<&Timestamps>,
    selected: &BooleanBuffer,
    grouped: bool,
    mut f: impl FnMut(u32, usize),
) {
    if groups.contiguous {
        let offsets = groups.offsets();
        for g in selected.set_indices() {
            for r in offsets[g] as usize..offsets[g + 1] as usize {
                f(g as u32, r);
            }
        }
    } else if grouped {
        let (rows, offsets) = groups.order(ts);
        for g in selected.set_indices() {
            for &r in &rows[offsets[g] as usize..offsets[g + 1] as usize] {
                f(g as u32, r as usize);
            }
        }
    } else {
        // The selection as one byte per group: a plain load per row instead of bit arithmetic.
        let sel: Vec<bool> = selected.iter().collect();
        for (r, &g) in groups.of_row.iter().enumerate() {
            if sel[g as usize] {
                f(g, r);
            }
        }
    }
}

/// Runs one aggregation over the rows of the `selected` groups.
pub(crate) fn aggregate(
    agg: &Aggregation,
    input: &AggInput<'_>,
    selected: &BooleanBuffer,
) -> Result<PartialAggregation, ArrowError> {
    if agg.agg_type == AggregationType::Count {
        let count = match input.column.logical_nulls() {
            // Every row counts: the selected groups' sizes.
            None => selected.set_indices().map(|g| input.groups.sizes[g] as u64).sum(),
            Some(nulls) => {
                let mut count = 0u64;
                for_selected_rows(input.groups, input.ts, selected, false, |_, r| {
                    count += u64::from(nulls.is_valid(r));
                });
                count
            }
        };
        return Ok(PartialAggregation {
            value: PartialValue::Count(count),
            approximate: false,
        });
    }
    let coded = input
        .coded
        .ok_or_else(|| ArrowError::InvalidArgumentError("column not coded".into()))?;
    match (&coded.dict_keys, &coded.offsets) {
        (Some(keys), _) => aggregate_codes(
            agg,
            input,
            selected,
            &coded.keys,
            &DictCodes {
                keys: keys.values(),
                nulls: keys.nulls(),
                codes: &coded.codes,
            },
        ),
        (None, Some(offsets)) => aggregate_codes(
            agg,
            input,
            selected,
            &coded.keys,
            &ListCodes {
                offsets,
                codes: &coded.codes,
            },
        ),
        (None, None) => aggregate_codes(agg, input, selected, &coded.keys, &ScalarCodes(&coded.codes)),
    }
}

/// [`aggregate`] for one kind of coded column (`keys[c]` renders code `c`).
fn aggregate_codes<C: RowCodes>(
    agg: &Aggregation,
    input: &AggInput<'_>,
    selected: &BooleanBuffer,
    keys: &[String],
    codes: &C,
) -> Result<PartialAggregation, ArrowError> {
    let k = keys.len();
    let mut rows_per_code = vec![0u64; k];
    let mut approximate = false;
    let value = match agg.agg_type {
        AggregationType::Count => unreachable!("handled by aggregate"),
        AggregationType::CountPerValue => {
            for_selected_rows(input.groups, input.ts, selected, false, |_, r| {
                codes.each(r, |c| rows_per_code[c] += 1);
            });
            PartialValue::Counts(collect(keys, &rows_per_code, input.max_distinct, &mut approximate))
        }
        AggregationType::GroupsPerValue => {
            // The last group counted for each code: a group's rows come together.
            let mut last = vec![u32::MAX; k];
            for_selected_rows(input.groups, input.ts, selected, true, |g, r| {
                codes.each(r, |c| {
                    if last[c] != g {
                        last[c] = g;
                        rows_per_code[c] += 1;
                    }
                });
            });
            PartialValue::Counts(collect(keys, &rows_per_code, input.max_distinct, &mut approximate))
        }
        AggregationType::SumPerValue | AggregationType::MeanPerValue => {
            let other = input
                .other
                .ok_or_else(|| ArrowError::InvalidArgumentError("otherColumn not read".into()))?;
            let mut nonnull = vec![0u64; k];
            let sums = match other.data_type() {
                DataType::Int64 => {
                    let o = other.as_primitive::<Int64Type>();
                    let mut s = vec![0i64; k];
                    for_selected_rows(input.groups, input.ts, selected, false, |_, r| {
                        let valid = o.is_valid(r);
                        codes.each(r, |c| {
                            rows_per_code[c] += 1;
                            if valid {
                                s[c] = s[c].wrapping_add(o.value(r));
                                nonnull[c] += 1;
                            }
                        });
                    });
                    Sums::Int(s)
                }
                DataType::Float64 => {
                    let o = other.as_primitive::<Float64Type>();
                    let mut s = vec![0f64; k];
                    for_selected_rows(input.groups, input.ts, selected, false, |_, r| {
                        let valid = o.is_valid(r);
                        codes.each(r, |c| {
                            rows_per_code[c] += 1;
                            if valid {
                                s[c] += o.value(r);
                                nonnull[c] += 1;
                            }
                        });
                    });
                    Sums::Float(s)
                }
                other => {
                    return Err(ArrowError::InvalidArgumentError(format!(
                        "otherColumn must be numeric, is {other}"
                    )))
                }
            };
            let present = |c: usize| {
                if agg.agg_type == AggregationType::MeanPerValue {
                    nonnull[c]
                } else {
                    rows_per_code[c]
                }
            };
            let keep: Vec<u64> = (0..k).map(present).collect();
            match (agg.agg_type, sums) {
                (AggregationType::SumPerValue, Sums::Int(s)) => PartialValue::IntSums(collect_with(
                    keys,
                    &keep,
                    |c| s[c],
                    |a, b| a.cmp(b),
                    input.max_distinct,
                    &mut approximate,
                )),
                (AggregationType::SumPerValue, Sums::Float(s)) => PartialValue::FloatSums(collect_with(
                    keys,
                    &keep,
                    |c| s[c],
                    |a, b| a.total_cmp(b),
                    input.max_distinct,
                    &mut approximate,
                )),
                (_, Sums::Int(s)) => PartialValue::IntMeans(collect_with(
                    keys,
                    &keep,
                    |c| (s[c], nonnull[c]),
                    |a, b| (a.0 as f64 / a.1 as f64).total_cmp(&(b.0 as f64 / b.1 as f64)),
                    input.max_distinct,
                    &mut approximate,
                )),
                (_, Sums::Float(s)) => PartialValue::FloatMeans(collect_with(
                    keys,
                    &keep,
                    |c| (s[c], nonnull[c]),
                    |a, b| (a.0 / a.1 as f64).total_cmp(&(b.0 / b.1 as f64)),
                    input.max_distinct,
                    &mut approximate,
                )),
            }
        }
    };
    Ok(PartialAggregation { value, approximate })
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
