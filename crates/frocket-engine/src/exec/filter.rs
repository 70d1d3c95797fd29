//! Evaluating filters column-at-a-time into row masks.
//!
//! Comparisons on numbers use Arrow's vectorized kernels; string predicates on dictionary
//! columns are evaluated once per distinct dictionary value and mapped through the keys.
//! Null cells match nothing, except for the negated operators (`!=`, `not contains`,
//! `not includes`), which are the complement of their positive form and so match nulls.

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, Float64Array, Int64Array, Scalar, StringArray};
use arrow::buffer::BooleanBuffer;
use arrow::compute::kernels::cmp;
use arrow::datatypes::{DataType, Int32Type, Int64Type};
use arrow::error::ArrowError;

use super::column::Column;
use crate::query::{CmpOp, Filter, FilterOp, Literal};

/// A string predicate, compiled once per filter.
enum StrPred<'a> {
    Cmp(CmpOp, &'a str),
    Contains(&'a str),
    Regex(&'a regex::Regex),
}

impl StrPred<'_> {
    #[inline]
    fn eval(&self, s: &str) -> bool {
        match self {
            StrPred::Cmp(op, v) => op.apply(&s, v),
            StrPred::Contains(v) => s.contains(v),
            StrPred::Regex(r) => r.is_match(s),
        }
    }
}

fn type_err(f: &Filter, dt: &DataType) -> ArrowError {
    ArrowError::InvalidArgumentError(format!(
        "filter on column '{}' ({:?}) cannot use a value {:?}",
        f.column, dt, f.value
    ))
}

/// Drops the validity of a kernel result: null → false.
fn nulls_false(a: BooleanArray) -> BooleanBuffer {
    match a.nulls() {
        Some(n) => a.values() & n.inner(),
        None => a.values().clone(),
    }
}

/// Evaluates `f` on `arr` (a normalized column): one bit per row, nulls resolved.
pub(crate) fn filter_mask(arr: &ArrayRef, f: &Filter) -> Result<BooleanBuffer, ArrowError> {
    let (op, negate) = match f.op {
        FilterOp::Cmp(CmpOp::Ne) => (FilterOp::Cmp(CmpOp::Eq), true),
        FilterOp::NotContains => (FilterOp::Contains, true),
        FilterOp::NotIncludes => (FilterOp::Includes, true),
        op => (op, false),
    };
    let positive = positive_mask(arr, f, op)?;
    Ok(if negate { !&positive } else { positive })
}

fn positive_mask(arr: &ArrayRef, f: &Filter, op: FilterOp) -> Result<BooleanBuffer, ArrowError> {
    let n = arr.len();
    match (arr.data_type(), op) {
        (DataType::Int64 | DataType::Float64 | DataType::Boolean, FilterOp::Cmp(c)) => {
            let rhs: ArrayRef = match (arr.data_type(), &f.value) {
                (DataType::Int64, Literal::Int(v)) => std::sync::Arc::new(Int64Array::from(vec![*v])),
                (DataType::Float64, v) => match v.as_f64() {
                    Some(x) => std::sync::Arc::new(Float64Array::from(vec![x])),
                    None => return Err(type_err(f, arr.data_type())),
                },
                (DataType::Boolean, Literal::Bool(b)) => std::sync::Arc::new(BooleanArray::from(vec![*b])),
                _ => return Err(type_err(f, arr.data_type())),
            };
            let rhs = Scalar::new(rhs);
            let res = match c {
                CmpOp::Eq => cmp::eq(arr, &rhs),
                CmpOp::Ne => cmp::neq(arr, &rhs),
                CmpOp::Gt => cmp::gt(arr, &rhs),
                CmpOp::Ge => cmp::gt_eq(arr, &rhs),
                CmpOp::Lt => cmp::lt(arr, &rhs),
                CmpOp::Le => cmp::lt_eq(arr, &rhs),
            }?;
            Ok(nulls_false(res))
        }
        (DataType::Utf8, _) => {
            let pred = str_pred(f, op)?;
            let a = arr.as_string::<i32>();
            Ok(str_mask(a, &pred))
        }
        (DataType::Dictionary(_, _), _) => {
            let pred = str_pred(f, op)?;
            let d = arr.as_dictionary::<Int32Type>();
            let values = d.values().as_string::<i32>();
            let on_values = str_mask(values, &pred);
            let keys = d.keys();
            let kv = keys.values();
            let mask = match on_values.count_set_bits() {
                0 => BooleanBuffer::new_unset(n),
                // One matching value (the usual `==`): compare keys, no lookup.
                1 => {
                    let k = on_values.set_indices().next().unwrap_or(0) as i32;
                    bits_of(kv, |x| x == k)
                }
                _ => {
                    // A byte per dictionary value; keys under nulls may be out of range.
                    let table: Vec<bool> = on_values.iter().collect();
                    bits_of(kv, |x| table.get(x as usize).copied().unwrap_or(false))
                }
            };
            Ok(match keys.nulls() {
                Some(nulls) => &mask & nulls.inner(),
                None => mask,
            })
        }
        (DataType::List(_), FilterOp::Includes) => {
            let l = arr.as_list::<i32>();
            let values = l.values();
            let elem: BooleanBuffer = match (values.data_type(), &f.value) {
                (DataType::Utf8, Literal::Str(s)) => {
                    let v = values.as_string::<i32>();
                    str_mask(v, &StrPred::Cmp(CmpOp::Eq, s))
                }
                (DataType::Int64, Literal::Int(x)) => {
                    let v = values.as_primitive::<Int64Type>();
                    nulls_false(cmp::eq(v, &Scalar::new(Int64Array::from(vec![*x])))?)
                }
                (dt, _) => return Err(type_err(f, dt)),
            };
            let offsets = l.value_offsets();
            let nulls = l.nulls();
            Ok(BooleanBuffer::collect_bool(n, |i| {
                if nulls.is_some_and(|nl| nl.is_null(i)) {
                    return false;
                }
                let (s, e) = (offsets[i] as usize, offsets[i + 1] as usize);
                (s..e).any(|j| elem.value(j))
            }))
        }
        (dt, _) => Err(type_err(f, dt)),
    }
}

/// One bit per value of `values`, 64 values to a word: a byte per value first (a loop the
/// compiler vectorizes), then eight bytes packed into eight bits with one multiplication.
/// (`BooleanBuffer::collect_bool` calls its closure by index, one bit at a time.)
fn bits_of<T: Copy>(values: &[T], pred: impl Fn(T) -> bool) -> BooleanBuffer {
    let mut words: Vec<u64> = Vec::with_capacity(values.len().div_ceil(64));
    let mut bytes = [0u8; 64];
    for chunk in values.chunks(64) {
        for (b, &v) in bytes.iter_mut().zip(chunk) {
            *b = u8::from(pred(v));
        }
        bytes[chunk.len()..].fill(0);
        let mut w = 0u64;
        for (j, eight) in bytes.chunks_exact(8).enumerate() {
            let mut le = [0u8; 8];
            le.copy_from_slice(eight);
            // Byte j (0 or 1) of `x` lands on bit 56 + j of the product, and nothing else does.
            let x = u64::from_le_bytes(le);
            w |= (x.wrapping_mul(0x0102_0408_1020_4080) >> 56) << (8 * j);
        }
        words.push(w);
    }
    BooleanBuffer::new(arrow::buffer::Buffer::from_vec(words), 0, values.len())
}

fn str_pred(f: &Filter, op: FilterOp) -> Result<StrPred<'_>, ArrowError> {
    let Literal::Str(v) = &f.value else {
        return Err(ArrowError::InvalidArgumentError(format!(
            "filter on string column '{}' needs a string value",
            f.column
        )));
    };
    Ok(match op {
        FilterOp::Cmp(c) => StrPred::Cmp(c, v),
        FilterOp::Contains => StrPred::Contains(v),
        // Compiled once per query, shared by every batch and dictionary.
        FilterOp::Regex => StrPred::Regex(
            f.regex
                .get(v)
                .map_err(|e| ArrowError::InvalidArgumentError(format!("invalid regex on '{}': {e}", f.column)))?,
        ),
        other => {
            return Err(ArrowError::InvalidArgumentError(format!(
                "operator {other:?} cannot apply to string column '{}'",
                f.column
            )))
        }
    })
}

fn str_mask(a: &StringArray, pred: &StrPred<'_>) -> BooleanBuffer {
    match a.nulls() {
        Some(nulls) => BooleanBuffer::collect_bool(a.len(), |i| nulls.is_valid(i) && pred.eval(a.value(i))),
        None => BooleanBuffer::collect_bool(a.len(), |i| pred.eval(a.value(i))),
    }
}

/// One byte per row of a column: the OR of the `flag` of every filter the row matches
/// (`filters` all on this column), built a chunk at a time. On dictionary chunks each filter is
/// evaluated once per dictionary value (a dictionary shared by several chunks once), then every
/// row is one table lookup; on other chunks, one mask per filter.
pub(crate) struct FlagBytes {
    filters: Vec<(Filter, u8)>,
    /// The flags of a null dictionary cell (the negated operators match nulls).
    null_flags: Option<u8>,
    /// Flags per value of the last dictionary met, and that dictionary.
    table: Vec<u8>,
    dictionary: Option<ArrayRef>,
    bytes: Vec<u8>,
}

impl FlagBytes {
    /// Flag bytes for `rows` rows (a capacity), filters given with their flag.
    pub(crate) fn new(filters: Vec<(Filter, u8)>, rows: usize) -> Self {
        FlagBytes {
            filters,
            null_flags: None,
            table: Vec::new(),
            dictionary: None,
            bytes: Vec::with_capacity(rows),
        }
    }

    /// Appends the bytes of the next chunk's rows.
    pub(crate) fn push(&mut self, chunk: &ArrayRef) -> Result<(), ArrowError> {
        let Some(d) = chunk.as_dictionary_opt::<Int32Type>() else {
            let first = self.bytes.len();
            self.bytes.resize(first + chunk.len(), 0);
            for (f, flag) in &self.filters {
                for r in filter_mask(chunk, f)?.set_indices() {
                    self.bytes[first + r] |= flag;
                }
            }
            return Ok(());
        };
        // Batches of one row group share their dictionary: evaluate it once.
        if !self
            .dictionary
            .as_ref()
            .is_some_and(|p| std::sync::Arc::ptr_eq(p, d.values()))
        {
            self.dictionary = Some(d.values().clone());
            self.table.clear();
            self.table.resize(d.values().len(), 0);
            for (f, flag) in &self.filters {
                for v in filter_mask(d.values(), f)?.set_indices() {
                    self.table[v] |= flag;
                }
            }
        }
        let null_flags = match self.null_flags {
            Some(n) => n,
            None => {
                // A null cell matches the negated operators only: ask the filters about one.
                let null = arrow::array::new_null_array(&DataType::Utf8, 1);
                let mut flags = 0u8;
                for (f, flag) in &self.filters {
                    if filter_mask(&null, f)?.value(0) {
                        flags |= flag;
                    }
                }
                self.null_flags = Some(flags);
                flags
            }
        };
        // Keys of valid rows are in range (checked when read).
        let table = &self.table;
        let lookup = |k: i32| table.get(k as usize).copied().unwrap_or(0);
        let keys = d.keys();
        match keys.nulls() {
            None => self.bytes.extend(keys.values().iter().map(|&k| lookup(k))),
            Some(nulls) => self.bytes.extend(keys.values().iter().enumerate().map(|(i, &k)| {
                if nulls.is_valid(i) {
                    lookup(k)
                } else {
                    null_flags
                }
            })),
        }
        Ok(())
    }

    /// The filters with their flags, and the bytes of every row pushed.
    pub(crate) fn finish(self) -> (Vec<(Filter, u8)>, Vec<u8>) {
        (self.filters, self.bytes)
    }
}

/// [`FlagBytes`] of a whole dictionary column; `None` when the column is not a dictionary
/// column.
pub(crate) fn dictionary_flag_bytes(col: &Column, filters: &[(&Filter, u8)]) -> Result<Option<Vec<u8>>, ArrowError> {
    if !matches!(col.data_type(), DataType::Dictionary(..)) {
        return Ok(None);
    }
    let owned = filters.iter().map(|&(f, flag)| (f.clone(), flag)).collect();
    let mut bytes = FlagBytes::new(owned, col.len());
    for chunk in col.chunks() {
        bytes.push(chunk)?;
    }
    Ok(Some(bytes.finish().1))
}

#[cfg(test)]
mod tests {
    use super::bits_of;

    #[test]
    fn bits_of_packs_every_value_in_order() {
        for n in [0usize, 1, 7, 8, 63, 64, 65, 130] {
            let values: Vec<u32> = (0..n as u32).map(|i| i * 7 % 5).collect();
            let bits = bits_of(&values, |v| v == 2 || v == 4);
            assert_eq!(bits.len(), n);
            for (i, &v) in values.iter().enumerate() {
                assert_eq!(bits.value(i), v == 2 || v == 4, "value {i} of {n}");
            }
        }
    }
}
