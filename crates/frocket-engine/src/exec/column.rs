//! One column of a part as the reader decoded it: a list of chunks, never copied into one
//! array.
//!
//! The reader returns a part in batches; appending them into one array per column cost about
//! a third of reading (a copy of every value, dictionaries remapped row by row). A [`Column`]
//! keeps the batches' arrays as they are. All chunks but the last have the same length, a power
//! of two, so row `r` (numbered across the part) is row `r & mask` of chunk `r >> shift`: random
//! access stays two instructions. Parts whose batches are not like that (a timeframe filtered
//! rows out, row groups of odd sizes) are assembled into a single chunk.

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::buffer::{BooleanBuffer, NullBuffer};
use arrow::datatypes::{ArrowPrimitiveType, DataType, Int32Type};
use arrow::error::ArrowError;

/// A column of one part in chunks (see the module documentation).
///
/// ```text
/// chunks of 65536 rows: row 70000 is row 70000 & 65535 = 4464 of chunk 70000 >> 16 = 1
/// ```
#[derive(Debug, Clone)]
pub(crate) struct Column {
    chunks: Vec<ArrayRef>,
    shift: u32,
    len: usize,
    /// The smallest and largest value of an INT column without nulls, when found as it was
    /// decoded ([`with_range`](Self::with_range)).
    range: Option<(i64, i64)>,
}

/// A single chunk's shift: every row `< 2^32` is in chunk 0.
const ONE_CHUNK: u32 = 32;

impl Column {
    /// A column of one array.
    pub(crate) fn single(array: ArrayRef) -> Self {
        Column {
            len: array.len(),
            chunks: vec![array],
            shift: ONE_CHUNK,
            range: None,
        }
    }

    /// A column of chunks of the same data type, if all but the last have the same length, a
    /// power of two; otherwise the chunks are given back (the caller assembles them).
    pub(crate) fn from_chunks(chunks: Vec<ArrayRef>) -> Result<Self, Vec<ArrayRef>> {
        let shift = match chunks.split_last() {
            None => None,
            Some((_, [])) => Some(ONE_CHUNK),
            Some((last, rest)) => {
                let size = rest[0].len();
                let uniform = size.is_power_of_two()
                    && rest.iter().all(|c| c.len() == size)
                    && last.len() <= size
                    && chunks.iter().all(|c| c.data_type() == rest[0].data_type());
                uniform.then(|| size.trailing_zeros())
            }
        };
        match shift {
            Some(shift) => Ok(Column {
                len: chunks.iter().map(|c| c.len()).sum(),
                chunks,
                shift,
                range: None,
            }),
            None => Err(chunks),
        }
    }

    /// The column with the smallest and largest of its values, found as it was decoded (while
    /// in cache): `range` must be exactly those of its values, none null.
    pub(crate) fn with_range(self, range: Option<(i64, i64)>) -> Self {
        Column { range, ..self }
    }

    /// The smallest and largest value, when [`with_range`](Self::with_range) gave them.
    pub(crate) fn range(&self) -> Option<(i64, i64)> {
        self.range
    }

    /// Rows in the column.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The chunks, in row order, taken (to release each once used).
    pub(crate) fn into_chunks(self) -> Vec<ArrayRef> {
        self.chunks
    }

    /// The chunks, in row order.
    pub(crate) fn chunks(&self) -> &[ArrayRef] {
        &self.chunks
    }

    /// The data type of the chunks.
    pub(crate) fn data_type(&self) -> &DataType {
        self.chunks[0].data_type()
    }

    /// Null cells in all chunks.
    pub(crate) fn null_count(&self) -> usize {
        self.chunks.iter().map(|c| c.null_count()).sum()
    }

    /// Row `r` is row `r & ((1 << shift) - 1)` of chunk `r >> shift`.
    pub(crate) fn shift(&self) -> u32 {
        self.shift
    }

    #[inline(always)]
    fn mask(&self) -> usize {
        (1usize << self.shift) - 1
    }

    /// One bit per row from one bit buffer per chunk (`f` gets each chunk in turn).
    pub(crate) fn map_bits(
        &self,
        mut f: impl FnMut(&ArrayRef) -> Result<BooleanBuffer, ArrowError>,
    ) -> Result<BooleanBuffer, ArrowError> {
        if let [only] = self.chunks.as_slice() {
            return f(only);
        }
        let mut out = arrow::array::BooleanBufferBuilder::new(self.len);
        for c in &self.chunks {
            out.append_buffer(&f(c)?);
        }
        Ok(out.finish())
    }

    /// Random access to the values and validity of a primitive column (`None`: another type).
    pub(crate) fn primitive<T: ArrowPrimitiveType>(&self) -> Option<Values<'_, T::Native>> {
        let mut values = Vec::with_capacity(self.chunks.len());
        let mut nulls = Vec::with_capacity(self.chunks.len());
        for c in &self.chunks {
            let a = c.as_primitive_opt::<T>()?;
            values.push(a.values().as_ref());
            nulls.push(a.nulls());
        }
        Some(Values {
            any_null: nulls.iter().any(|n| n.is_some()),
            values,
            nulls,
            shift: self.shift,
            mask: self.mask(),
        })
    }

    /// Random access to the values and validity of a column of numbers kept as dictionary
    /// keys (`Dictionary(Int32, T)`, see `read.rs`; `None`: another type).
    pub(crate) fn dictionary_numbers<T: ArrowPrimitiveType>(&self) -> Option<DictionaryValues<'_, T::Native>> {
        let mut keys = Vec::with_capacity(self.chunks.len());
        let mut values = Vec::with_capacity(self.chunks.len());
        let mut nulls = Vec::with_capacity(self.chunks.len());
        for c in &self.chunks {
            let d = c.as_dictionary_opt::<Int32Type>()?;
            keys.push(d.keys().values().as_ref());
            nulls.push(d.keys().nulls());
            values.push(d.values().as_primitive_opt::<T>()?.values().as_ref());
        }
        Some(DictionaryValues {
            any_null: nulls.iter().any(|n| n.is_some()),
            keys,
            values,
            nulls,
            shift: self.shift,
            mask: self.mask(),
        })
    }

    /// Random access to the validity of any column (logical nulls: a dictionary's null values
    /// count as null).
    pub(crate) fn validity(&self) -> Validity {
        let nulls: Vec<Option<NullBuffer>> = self.chunks.iter().map(|c| c.logical_nulls()).collect();
        Validity {
            any_null: nulls.iter().any(|n| n.is_some()),
            nulls,
            shift: self.shift,
            mask: self.mask(),
        }
    }
}

/// Values and nulls of a primitive [`Column`], by row of the part.
pub(crate) struct Values<'a, T> {
    values: Vec<&'a [T]>,
    nulls: Vec<Option<&'a NullBuffer>>,
    any_null: bool,
    shift: u32,
    mask: usize,
}

impl<T: Copy> Values<'_, T> {
    /// The value of row `r` (unspecified under a null).
    #[inline(always)]
    pub(crate) fn value(&self, r: usize) -> T {
        self.values[r >> self.shift][r & self.mask]
    }

    /// Whether row `r` is not null.
    #[inline(always)]
    pub(crate) fn is_valid(&self, r: usize) -> bool {
        !self.any_null || self.nulls[r >> self.shift].is_none_or(|n| n.is_valid(r & self.mask))
    }

    /// The chunks' value slices, in row order.
    pub(crate) fn slices(&self) -> &[&[T]] {
        &self.values
    }
}

/// Values and nulls of a [`Column`] of numbers kept as dictionary keys, by row of the part.
pub(crate) struct DictionaryValues<'a, T> {
    keys: Vec<&'a [i32]>,
    values: Vec<&'a [T]>,
    nulls: Vec<Option<&'a NullBuffer>>,
    any_null: bool,
    shift: u32,
    mask: usize,
}

impl<T: Copy + Default> DictionaryValues<'_, T> {
    /// The value of row `r` (unspecified under a null).
    #[inline(always)]
    pub(crate) fn value(&self, r: usize) -> T {
        let c = r >> self.shift;
        let key = self.keys[c][r & self.mask];
        // (A dictionary array's keys are within its values.)
        self.values[c].get(key as usize).copied().unwrap_or_default()
    }

    /// Whether row `r` is not null.
    #[inline(always)]
    pub(crate) fn is_valid(&self, r: usize) -> bool {
        !self.any_null || self.nulls[r >> self.shift].is_none_or(|n| n.is_valid(r & self.mask))
    }
}

/// Validity of any [`Column`], by row of the part.
pub(crate) struct Validity {
    nulls: Vec<Option<NullBuffer>>,
    any_null: bool,
    shift: u32,
    mask: usize,
}

impl Validity {
    /// Whether the column has no null at all.
    pub(crate) fn all_valid(&self) -> bool {
        !self.any_null
    }

    /// Whether row `r` is not null.
    #[inline(always)]
    pub(crate) fn is_valid(&self, r: usize) -> bool {
        !self.any_null
            || self.nulls[r >> self.shift]
                .as_ref()
                .is_none_or(|n| n.is_valid(r & self.mask))
    }
}
