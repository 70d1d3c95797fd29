//! Dense group numbering for one part, and the rows of each group in time order.

use std::cell::OnceCell;

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::buffer::ScalarBuffer;
use arrow::datatypes::{DataType, Float64Type, Int32Type, Int64Type};

use super::FastMap;
use crate::error::EngineError;

/// Timestamps of a part's rows, never null.
#[derive(Debug, Clone)]
pub(crate) enum Timestamps {
    /// Integer timestamps.
    Int(ScalarBuffer<i64>),
    /// Float timestamps.
    Float(ScalarBuffer<f64>),
}

impl Timestamps {
    pub(crate) fn from_array(file: &str, column: &str, arr: &ArrayRef) -> Result<Self, EngineError> {
        if arr.null_count() > 0 {
            return Err(EngineError::BadData {
                file: file.to_string(),
                column: column.to_string(),
                message: format!(
                    "{} null timestamps (the timestamp column may not have nulls)",
                    arr.null_count()
                ),
            });
        }
        match arr.data_type() {
            DataType::Int64 => Ok(Timestamps::Int(arr.as_primitive::<Int64Type>().values().clone())),
            DataType::Float64 => Ok(Timestamps::Float(arr.as_primitive::<Float64Type>().values().clone())),
            other => Err(EngineError::ColumnType {
                file: file.to_string(),
                column: column.to_string(),
                found: other.to_string(),
                expected: "INT or FLOAT".into(),
            }),
        }
    }
}

/// `(min, max - min + 1)` of `values` when that span is small enough (at most 4 slots per row,
/// and under 2^28) for a direct lookup table.
fn dense_range(values: &[i64], n: usize) -> Option<(i64, usize)> {
    let first = *values.first()?;
    let (lo, hi) = values
        .iter()
        .fold((first, first), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    let span = (hi as i128 - lo as i128 + 1) as u128;
    (span <= (4 * n as u128).max(1024) && span < (1 << 28)).then_some((lo, span as usize))
}

/// Each row's group as a dense index `0..count`, group sizes, and (built on first use) the
/// rows ordered by group then timestamp.
pub(crate) struct Groups {
    /// Group index of every row.
    pub of_row: Vec<u32>,
    /// Number of groups.
    pub count: usize,
    /// Rows per group.
    pub sizes: Vec<u32>,
    /// Whether each group's rows are adjacent in the part (parts written group by group): then
    /// groups are numbered in row order and group `g`'s rows are one run.
    pub contiguous: bool,
    offsets: OnceCell<Vec<u32>>,
    order: OnceCell<Vec<u32>>,
}

impl Groups {
    /// Numbers the groups of a group id column (INT or STRING, no nulls).
    pub(crate) fn build(file: &str, column: &str, arr: &ArrayRef) -> Result<Self, EngineError> {
        if arr.null_count() > 0 {
            return Err(EngineError::BadData {
                file: file.to_string(),
                column: column.to_string(),
                message: format!(
                    "{} null group ids (the group id column may not have nulls)",
                    arr.null_count()
                ),
            });
        }
        let n = arr.len();
        let mut of_row = Vec::with_capacity(n);
        let mut sizes: Vec<u32> = Vec::new();
        let next = |sizes: &mut Vec<u32>| {
            sizes.push(0);
            (sizes.len() - 1) as u32
        };
        // Runs of equal ids (counted by the INT paths; None: count them afterwards).
        let mut runs = 0usize;
        let dense = match arr.data_type() {
            DataType::Int64 => dense_range(arr.as_primitive::<Int64Type>().values(), n),
            _ => None,
        };
        match arr.data_type() {
            DataType::Int64 => {
                // Rows of a group are usually adjacent: number a run of equal ids at a time.
                let values = arr.as_primitive::<Int64Type>().values();
                // Ids in a small range: a direct table instead of a hash map.
                let (lo, span) = dense.unwrap_or((0, 0));
                let mut table = vec![u32::MAX; if dense.is_some() { span } else { 0 }];
                let mut map: FastMap<i64, u32> = if dense.is_some() {
                    FastMap::default()
                } else {
                    FastMap::with_capacity_and_hasher(n / 4 + 16, Default::default())
                };
                let mut i = 0;
                while i < n {
                    let v = values[i];
                    let end = values[i..].iter().position(|&w| w != v).map_or(n, |len| i + len);
                    let g = if dense.is_some() {
                        let slot = &mut table[(v - lo) as usize];
                        if *slot == u32::MAX {
                            *slot = next(&mut sizes);
                        }
                        *slot
                    } else {
                        *map.entry(v).or_insert_with(|| next(&mut sizes))
                    };
                    sizes[g as usize] += (end - i) as u32;
                    of_row.extend(std::iter::repeat_n(g, end - i));
                    runs += 1;
                    i = end;
                }
            }
            DataType::Utf8 => {
                let a = arr.as_string::<i32>();
                let mut map: FastMap<&str, u32> = FastMap::with_capacity_and_hasher(n / 4 + 16, Default::default());
                for i in 0..n {
                    let g = *map.entry(a.value(i)).or_insert_with(|| next(&mut sizes));
                    sizes[g as usize] += 1;
                    of_row.push(g);
                }
            }
            DataType::Dictionary(_, _) => {
                let d = arr.as_dictionary::<Int32Type>();
                let values = d.values().as_string::<i32>();
                let mut by_key = vec![u32::MAX; values.len()];
                let mut map: FastMap<&str, u32> = FastMap::default();
                for &k in d.keys().values().iter() {
                    let k = k as usize;
                    let mut g = by_key[k];
                    if g == u32::MAX {
                        g = *map.entry(values.value(k)).or_insert_with(|| next(&mut sizes));
                        by_key[k] = g;
                    }
                    sizes[g as usize] += 1;
                    of_row.push(g);
                }
            }
            other => {
                return Err(EngineError::ColumnType {
                    file: file.to_string(),
                    column: column.to_string(),
                    found: other.to_string(),
                    expected: "INT or STRING".into(),
                })
            }
        }
        if !matches!(arr.data_type(), DataType::Int64) {
            runs = of_row.windows(2).filter(|w| w[0] != w[1]).count() + usize::from(!of_row.is_empty());
        }
        // One run per group: each group's rows are adjacent.
        Ok(Groups {
            contiguous: runs == sizes.len(),
            of_row,
            count: sizes.len(),
            sizes,
            offsets: OnceCell::new(),
            order: OnceCell::new(),
        })
    }

    /// Where each group starts in [`Groups::order`] (`offsets[g]..offsets[g + 1]`, `count + 1`
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

    /// Rows ordered by group, then timestamp; and each group's range in that order
    /// (`offsets[g]..offsets[g + 1]`).
    /// Without timestamps (queries with no sequence), rows stay in part order within a group.
    pub(crate) fn order(&self, ts: Option<&Timestamps>) -> (&[u32], &[u32]) {
        let offsets = self.offsets();
        let rows = self.order.get_or_init(|| {
            let rows: Vec<u32> = if self.contiguous {
                // Groups are runs numbered in row order: the part order already is the order.
                (0..self.of_row.len() as u32).collect()
            } else {
                let mut fill: Vec<u32> = offsets[..self.count].to_vec();
                let mut rows = vec![0u32; self.of_row.len()];
                for (r, &g) in self.of_row.iter().enumerate() {
                    let slot = &mut fill[g as usize];
                    rows[*slot as usize] = r as u32;
                    *slot += 1;
                }
                rows
            };
            let mut rows = rows;
            // Groups out of time order are sorted as (timestamp, row) pairs in one reused
            // buffer: comparisons read the pairs, not the timestamp column at random.
            let mut int_pairs: Vec<(i64, u32)> = Vec::new();
            let mut float_pairs: Vec<(f64, u32)> = Vec::new();
            for g in 0..self.count {
                let slice = &mut rows[offsets[g] as usize..offsets[g + 1] as usize];
                match ts {
                    Some(Timestamps::Int(t)) if !slice.is_sorted_by_key(|&r| t[r as usize]) => {
                        int_pairs.clear();
                        int_pairs.extend(slice.iter().map(|&r| (t[r as usize], r)));
                        int_pairs.sort_unstable();
                        for (dst, &(_, r)) in slice.iter_mut().zip(&int_pairs) {
                            *dst = r;
                        }
                    }
                    Some(Timestamps::Float(t)) if !slice.is_sorted_by(|&a, &b| t[a as usize] <= t[b as usize]) => {
                        float_pairs.clear();
                        float_pairs.extend(slice.iter().map(|&r| (t[r as usize], r)));
                        float_pairs.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
                        for (dst, &(_, r)) in slice.iter_mut().zip(&float_pairs) {
                            *dst = r;
                        }
                    }
                    _ => {}
                }
            }
            rows
        });
        (rows, offsets)
    }
}
