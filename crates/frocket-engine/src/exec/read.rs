//! Reading one Parquet part: only the columns a query uses, the timeframe pushed down to the
//! reader (row groups pruned by statistics, rows filtered before other columns are decoded),
//! dictionary-encoded strings kept as Arrow dictionaries, and types normalized for execution.
//!
//! An INT64 group id column, and INT64 columns only held constant, are decoded first by our own
//! page decoder (`pages.rs`) when every chunk's encodings allow and no timeframe cuts row
//! groups: their rows are numbered or coded through each row group's dictionary — one lookup
//! per distinct value instead of one per row. INT and FLOAT columns only summed by conditions
//! are kept as each row's entry in its chunk's dictionary ([`OwnEntries`]): a sum looks up the
//! rows it adds instead of every row's value being gathered. Everything else goes through
//! arrow-rs' reader.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Datum, DictionaryArray, Float64Array, Int32Array, Int64Array,
    NullBufferBuilder, RecordBatch, Scalar, StringBuilder,
};
use arrow::buffer::{Buffer, NullBuffer, ScalarBuffer};
use arrow::compute::kernels::cmp;
use arrow::compute::{and, cast, concat};
use arrow::datatypes::{DataType, Field, Float64Type, Int32Type, Int64Type, Schema, SchemaRef};
use arrow::error::ArrowError;
use parquet::arrow::arrow_reader::statistics::StatisticsConverter;
use parquet::arrow::arrow_reader::{
    ArrowPredicateFn, ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder, RowFilter,
};
use parquet::arrow::ProjectionMask;
use parquet::file::reader::ChunkReader;

use super::aggregate::{Coded, ScalarCoder};
use super::column::Column;
use super::derive::{Derived, Deriving, Plan};
use super::groups::{min_max, Groups, IntNumbering};
use super::pages;
use super::time_offsets::{OffsetSink, TimeOffsets};
use super::FastMap;
use crate::error::EngineError;
use crate::query::{Timeframe, ValidatedQuery};
use crate::schema::ColumnType;

/// The canonical dictionary type strings are read as.
pub(crate) fn dict_type() -> DataType {
    DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
}

/// Casts a column to the representation execution works on: INT → Int64, FLOAT → Float64,
/// STRING → Utf8 or Dictionary(Int32, Utf8), LIST → List of Utf8 / Int64, BOOL unchanged.
pub(crate) fn normalize(array: &ArrayRef) -> Result<ArrayRef, ArrowError> {
    let dt = array.data_type();
    let target = match ColumnType::from_arrow(dt) {
        ColumnType::Int => DataType::Int64,
        ColumnType::Float => DataType::Float64,
        ColumnType::Bool => DataType::Boolean,
        ColumnType::String => match dt {
            DataType::Dictionary(_, _) => dict_type(),
            _ => DataType::Utf8,
        },
        ColumnType::ListString => DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true))),
        ColumnType::ListInt => DataType::List(Arc::new(Field::new_list_field(DataType::Int64, true))),
        ColumnType::Unsupported => return Ok(array.clone()),
    };
    if dt == &target {
        return Ok(array.clone());
    }
    cast(array, &target)
}

/// Normalizes every column of a batch (see [`normalize`]).
pub(crate) fn normalize_batch(batch: &RecordBatch) -> Result<RecordBatch, ArrowError> {
    let columns: Vec<ArrayRef> = batch.columns().iter().map(normalize).collect::<Result<_, _>>()?;
    let fields: Vec<Field> = batch
        .schema()
        .fields()
        .iter()
        .zip(&columns)
        .map(|(f, c)| Field::new(f.name(), c.data_type().clone(), true))
        .collect();
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
}

/// Rows of `ts` inside the timeframe, as a boolean mask (no nulls).
pub(crate) fn timeframe_mask(ts: &ArrayRef, tf: &Timeframe) -> Result<BooleanArray, ArrowError> {
    let ts = normalize(ts)?;
    let mut mask: Option<BooleanArray> = None;
    let mut add = |m: BooleanArray| -> Result<(), ArrowError> {
        mask = Some(match mask.take() {
            Some(prev) => and(&prev, &m)?,
            None => m,
        });
        Ok(())
    };
    let scalar = |v: f64| -> Box<dyn Datum> {
        if ts.data_type() == &DataType::Int64 {
            Box::new(Scalar::new(Int64Array::from(vec![v.ceil() as i64])))
        } else {
            Box::new(Scalar::new(Float64Array::from(vec![v])))
        }
    };
    if let Some(from) = tf.from {
        add(cmp::gt_eq(&ts, scalar(from).as_ref())?)?;
    }
    if let Some(to) = tf.to {
        add(cmp::lt(&ts, scalar(to).as_ref())?)?;
    }
    let m = mask.unwrap_or_else(|| BooleanArray::from(vec![true; ts.len()]));
    // Null timestamps are never inside a timeframe.
    Ok(match m.nulls() {
        Some(n) => BooleanArray::new(m.values() & n.inner(), None),
        None => m,
    })
}

/// One part's columns as [`read_part`] loaded them, ready for [`run_loaded`](super::run_loaded).
///
/// The columns keep the reader's batches as chunks (no copy into one array per column).
#[derive(Debug, Clone)]
pub struct LoadedPart {
    pub(crate) columns: Vec<(String, Column)>,
    /// The groups, when the group ids were numbered as they were read (they are then not
    /// among `columns`).
    pub(crate) groups: Option<Groups>,
    /// Filter masks and step bytes derived as the part was read.
    pub(crate) derived: Derived,
    /// Columns coded as they were read (held values: only which rows are equal matters), by
    /// name; not among `columns`.
    pub(crate) coded: Vec<(String, Coded)>,
    /// Columns read but not kept: the numbered group ids, coded columns, columns all the
    /// query needs of which was derived, and timestamps kept as offsets.
    pub(crate) dropped: Vec<String>,
    /// The timestamps as 32-bit offsets, when every scan of the query reads them so (they are
    /// then not among `columns`).
    pub(crate) time_offsets: Option<TimeOffsets>,
}

impl LoadedPart {
    /// Rows loaded (after the timeframe).
    pub fn num_rows(&self) -> usize {
        match (&self.groups, self.columns.first()) {
            (Some(g), _) => g.rows,
            (None, Some((_, c))) => c.len(),
            (None, None) => 0,
        }
    }

    /// A part from an in-memory batch already normalized (one chunk per column).
    pub(crate) fn from_batch(batch: &RecordBatch) -> Self {
        LoadedPart {
            columns: batch
                .schema()
                .fields()
                .iter()
                .zip(batch.columns())
                .map(|(f, c)| (f.name().clone(), Column::single(c.clone())))
                .collect(),
            groups: None,
            derived: Derived::default(),
            coded: Vec::new(),
            dropped: Vec::new(),
            time_offsets: None,
        }
    }
}

/// Group ids to number while reading: the column, and whether rows need their group (see
/// [`Groups::build`]).
struct NumberIds<'a> {
    column: &'a str,
    per_row: bool,
}

/// Reads the columns `query` uses from one Parquet part, applying its timeframe.
///
/// `file` names the part in errors. Columns are normalized (see [`normalize`]).
pub fn read_part<R: ChunkReader + 'static>(
    file: &str,
    reader: R,
    query: &ValidatedQuery,
) -> Result<LoadedPart, EngineError> {
    let names = query.columns_to_read();
    // Integer group ids used for nothing but grouping are numbered as each batch is decoded
    // (while in cache) and not kept.
    let number = (!query.column_used_outside_time(&query.group_id_column)).then(|| NumberIds {
        column: &query.group_id_column,
        per_row: query.rows_need_groups(),
    });
    let plan = Plan::of(query);
    // Columns only held constant are coded as they are read: a code per row instead of the
    // values (half of an INT column, far less than a STRING one).
    let code: Vec<&str> = names
        .iter()
        .filter(|c| query.column_only_held(c))
        .map(String::as_str)
        .collect();
    // Columns only summed by conditions keep each row's place in its row group's dictionary
    // (where chunks have one), not the values: the sums look up the rows they add.
    let summed: Vec<&str> = names
        .iter()
        .filter(|c| query.column_only_summed(c))
        .map(String::as_str)
        .collect();
    let read = read_guarded(file, || {
        read_chunks(
            file,
            reader,
            &names,
            &query.timestamp_column,
            &query.timeframe,
            number,
            Some(&plan),
            &Uses {
                code: &code,
                summed: &summed,
                time_offsets: query.scans_take_time_offsets(),
            },
        )
    })?;
    let mut columns = Vec::with_capacity(read.columns.len());
    for (name, chunks) in read.columns {
        let column = match Column::from_chunks(chunks) {
            Ok(c) => c,
            // Batches of uneven sizes (a timeframe filtered rows): one array.
            Err(chunks) => Column::single(assemble(chunks).map_err(|e| read_error(file, &e))?),
        };
        let range = read.time_range.filter(|_| name == query.timestamp_column);
        columns.push((name, column.with_range(range)));
    }
    Ok(LoadedPart {
        columns,
        groups: read.groups,
        derived: read.derived,
        coded: read.coded,
        dropped: read.dropped,
        time_offsets: read.time_offsets,
    })
}

/// Reads `columns` of a part into one batch, keeping rows whose `timestamp_column` is inside
/// `timeframe`. Columns are in the order given, normalized (see [`normalize`]).
pub fn read_columns<R: ChunkReader + 'static>(
    file: &str,
    reader: R,
    columns: &[String],
    timestamp_column: &str,
    timeframe: &Timeframe,
) -> Result<RecordBatch, EngineError> {
    let read = read_guarded(file, || {
        read_chunks(
            file,
            reader,
            columns,
            timestamp_column,
            timeframe,
            None,
            None,
            &Uses::default(),
        )
    })?;
    let mut fields = Vec::with_capacity(read.columns.len());
    let mut arrays = Vec::with_capacity(read.columns.len());
    for (name, chunks) in read.columns {
        let a = assemble(chunks).map_err(|e| read_error(file, &e))?;
        fields.push(Field::new(name, a.data_type().clone(), true));
        arrays.push(a);
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).map_err(|e| read_error(file, &e))
}

fn read_error(file: &str, e: &dyn std::fmt::Display) -> EngineError {
    EngineError::PartRead {
        file: file.to_string(),
        message: e.to_string(),
    }
}

/// Runs a read, turning a panic of the Parquet reader into an error naming the file.
fn read_guarded<T>(file: &str, read: impl FnOnce() -> Result<T, EngineError>) -> Result<T, EngineError> {
    // The Parquet reader panics on some corrupt files instead of returning an error (e.g. a
    // negative column chunk offset in the footer, bad definition levels in a page; see
    // apache/arrow-rs#9742). A damaged part must fail with an error naming it, not take the
    // process down. Nothing is reused after a panic: the reader is consumed by `read`.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(read)).unwrap_or_else(|panic| {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown error".into());
        Err(EngineError::PartRead {
            file: file.to_string(),
            message: format!("corrupt Parquet data: {what}"),
        })
    })
}

/// One array from a column's chunks (see [`Assembler`]).
fn assemble(chunks: Vec<ArrayRef>) -> Result<ArrayRef, ArrowError> {
    match chunks.as_slice() {
        [] => Err(ArrowError::InvalidArgumentError("no data for a column".into())),
        [only] => Ok(only.clone()),
        [first, ..] => {
            let rows = chunks.iter().map(|c| c.len()).sum();
            let mut a = Assembler::new(first.data_type(), rows);
            for c in &chunks {
                a.push(c)?;
            }
            a.finish()
        }
    }
}

/// Rows at most that buffers are sized for in advance from a part's footer (larger parts grow
/// their buffers as they are read).
const MAX_PRESIZED_ROWS: usize = 1 << 25;

/// What [`read_chunks`] read.
struct Read {
    /// Each kept column's normalized batches, by name.
    columns: Vec<(String, Vec<ArrayRef>)>,
    groups: Option<Groups>,
    derived: Derived,
    coded: Vec<(String, Coded)>,
    /// Columns read but not kept (see [`LoadedPart`]).
    dropped: Vec<String>,
    /// The smallest and largest timestamp, when found as the (INT, never null) timestamps
    /// were decoded.
    time_range: Option<(i64, i64)>,
    /// The timestamps as 32-bit offsets, instead of a column (see [`Uses::time_offsets`]).
    time_offsets: Option<TimeOffsets>,
}

/// Columns read for one use only, which need less than their values (see [`read_chunks`]).
#[derive(Default)]
struct Uses<'a> {
    /// Columns only held constant: coded.
    code: &'a [&'a str],
    /// Columns only summed: dictionary entries.
    summed: &'a [&'a str],
    /// The timestamps are read by scans that take them as 32-bit offsets
    /// ([`TimeOffsets`]) over a part in any order, and by nothing else.
    time_offsets: bool,
}

/// Reads `columns` of a part (timeframe applied) as each column's normalized batches, in the
/// order given. There is at least one chunk per column (an empty one for an empty part).
///
/// With `number`, an INT group id column is numbered batch by batch as it is read and left
/// out of the columns returned: the groups are returned instead. With `plan`, filter masks and
/// step bytes are derived from each batch as it is read, and columns nothing else needs are
/// left out. The INT and plain STRING columns of `uses.code` are coded batch by batch (see
/// [`ScalarCoder`]) and left out of the columns: their codes are returned instead. The INT and
/// FLOAT columns of `uses.summed` whose chunks all have a dictionary are returned as a
/// dictionary array (see [`OwnEntries`]).
#[allow(clippy::too_many_arguments)]
fn read_chunks<R: ChunkReader + 'static>(
    file: &str,
    reader: R,
    columns: &[String],
    timestamp_column: &str,
    timeframe: &Timeframe,
    number: Option<NumberIds<'_>>,
    plan: Option<&Plan>,
    uses: &Uses<'_>,
) -> Result<Read, EngineError> {
    let code = uses.code;
    let read_err = |e: &dyn std::fmt::Display| read_error(file, e);
    let meta = ArrowReaderMetadata::load(&reader, ArrowReaderOptions::new()).map_err(|e| read_err(&e))?;
    let file_schema = meta.schema().clone();
    let parquet_meta = meta.metadata().clone();

    // Column indexes (roots) in the file, in the order the query lists them.
    let mut roots = Vec::with_capacity(columns.len());
    for c in columns {
        let idx = file_schema.index_of(c).map_err(|_| EngineError::MissingColumn {
            file: file.to_string(),
            column: c.clone(),
        })?;
        roots.push(idx);
    }

    // Keep strings that are dictionary-encoded in every row group as Arrow dictionaries.
    let hinted = dictionary_hints(&file_schema, &parquet_meta);
    let options = ArrowReaderOptions::new().with_schema(Arc::new(hinted.clone()));
    let meta = ArrowReaderMetadata::try_new(parquet_meta.clone(), options).map_err(|e| read_err(&e))?;
    let reader = Arc::new(reader);
    let mut builder = ParquetRecordBatchReaderBuilder::new_with_metadata(Shared(reader.clone()), meta);
    let parquet_schema = builder.parquet_schema().clone();

    let mut selected: Option<Vec<usize>> = None;
    let mut partial = false;
    if !timeframe.is_unbounded() {
        let (row_groups, some_rows) =
            prune_row_groups(&hinted, &parquet_schema, &parquet_meta, timestamp_column, timeframe)
                .map_err(|e| read_err(&e))?;
        partial = some_rows;
        selected = Some(row_groups.clone());
        builder = builder.with_row_groups(row_groups);
        if partial {
            let ts_idx = file_schema
                .index_of(timestamp_column)
                .map_err(|_| EngineError::MissingColumn {
                    file: file.to_string(),
                    column: timestamp_column.to_string(),
                })?;
            let tf = *timeframe;
            let pred = ArrowPredicateFn::new(
                ProjectionMask::roots(&parquet_schema, [ts_idx]),
                move |batch: RecordBatch| timeframe_mask(batch.column(0), &tf),
            );
            builder = builder.with_row_filter(RowFilter::new(vec![Box::new(pred)]));
        }
    }
    let row_groups: Vec<usize> = (0..parquet_meta.num_row_groups())
        .filter(|i| selected.as_ref().is_none_or(|s| s.contains(i)))
        .collect();
    let sizes: Vec<usize> = row_groups
        .iter()
        .map(|&i| parquet_meta.row_group(i).num_rows().max(0) as usize)
        .collect();
    // The rows the footer claims: only a hint for buffers sized in advance, capped — a damaged
    // or crafted footer may claim any count; the buffers grow with the rows actually decoded.
    let rows: usize = sizes
        .iter()
        .fold(0usize, |a, &n| a.saturating_add(n))
        .min(MAX_PRESIZED_ROWS);

    // Group ids whose every chunk our own page decoder knows are numbered from their
    // dictionaries (see `pages.rs`), before and apart from the other columns; so are INT
    // columns only held constant (no filter on them), when no chunk has nulls.
    let decode_err = |column: &str, m: String| read_err(&format!("column '{column}', {m}"));
    let mut own_groups = None;
    let mut own_dropped: Vec<String> = Vec::new();
    if let Some(n) = number.as_ref().filter(|_| !partial) {
        if let Some((root, leaf)) = own_leaf(&hinted, &parquet_schema, &parquet_meta, n.column, &row_groups, false) {
            let range = int_range(&hinted, &parquet_schema, &parquet_meta, n.column, selected.as_deref());
            let mut ids = IntNumbering::new(file, n.column, n.per_row, rows, range);
            pages::decode_number_column(&reader, &parquet_meta, &row_groups, leaf, &mut ids)
                .map_err(|m| decode_err(n.column, m))?;
            roots.retain(|&r| r != root);
            own_groups = Some(ids.finish()?);
            own_dropped.push(n.column.to_string());
        }
    }
    let mut own_coded = Vec::new();
    let filtered = |c: &str| plan.is_some_and(|p| p.derives_from(c));
    for &column in code.iter().filter(|&&c| !partial && !filtered(c)) {
        let Some((root, leaf)) = own_leaf(&hinted, &parquet_schema, &parquet_meta, column, &row_groups, false) else {
            continue;
        };
        let null_free = row_groups.iter().all(|&rg| {
            let chunk = parquet_meta.row_group(rg).column(leaf);
            chunk.column_descr().max_def_level() == 0 || chunk.statistics().and_then(|s| s.null_count_opt()) == Some(0)
        });
        if !null_free {
            continue;
        }
        let range = int_range(&hinted, &parquet_schema, &parquet_meta, column, selected.as_deref());
        let mut coder = ScalarCoder::with_range(rows, range);
        pages::decode_number_column(&reader, &parquet_meta, &row_groups, leaf, &mut coder)
            .map_err(|m| decode_err(column, m))?;
        roots.retain(|&r| r != root);
        own_coded.push((column.to_string(), coder.finish()));
        own_dropped.push(column.to_string());
    }

    // The other INT and FLOAT columns kept as they are (the timestamps, a sum's values) are
    // decoded by our own page decoder into one buffer each: a dictionary's values gathered
    // straight into each row's place, without the per-batch buffers and null padding of
    // arrow-rs' reader. (Not those a filter derives from, nor the group ids or coded columns
    // the reader below still has to deliver.)
    let mut own_columns: Vec<(usize, Vec<ArrayRef>)> = Vec::new();
    let mut time_range = None;
    let mut time_offsets = None;
    let arrow_only = |c: &str| filtered(c) || code.contains(&c) || number.as_ref().is_some_and(|n| n.column == c);
    for column in columns.iter().filter(|c| !partial && !arrow_only(c)) {
        let Some((root, leaf)) = own_leaf(&hinted, &parquet_schema, &parquet_meta, column, &row_groups, true) else {
            continue;
        };
        if !roots.contains(&root) || own_columns.iter().any(|(r, _)| *r == root) {
            continue;
        }
        let decode = |values: &mut dyn pages::ValueSink| {
            pages::decode_number_column(&reader, &parquet_meta, &row_groups, leaf, values)
                .map_err(|m| decode_err(column, m))
        };
        // Only summed, every chunk with a dictionary: kept as entries.
        let as_entries = uses.summed.contains(&column.as_str())
            && row_groups.iter().all(|&rg| {
                parquet_meta
                    .row_group(rg)
                    .column(leaf)
                    .dictionary_page_offset()
                    .is_some()
            });
        let float = hinted.field(root).data_type() == &DataType::Float64;
        let array: ArrayRef = match float {
            _ if as_entries => {
                let mut entries = OwnEntries::new(rows);
                decode(&mut entries)?;
                entries.finish(float).map_err(|m| decode_err(column, m))?
            }
            true => {
                let mut values = OwnValues::<f64>::new(rows);
                decode(&mut values)?;
                Arc::new(Float64Array::new(values.values.into(), values.nulls.finish()))
            }
            false => {
                // Whether the group ids were numbered as read and found contiguous.
                let contiguous = own_groups.as_ref().map(|g: &Groups| g.contiguous);
                // Offsets only when the footer's statistics say the times span less than
                // 2^32 - 2 (checked again as decoded): most parts of millisecond times do.
                // Statistics that were wrong, or rows without a time: as `i64` below.
                let fits = || {
                    let range = int_range(&hinted, &parquet_schema, &parquet_meta, column, selected.as_deref());
                    range.is_some_and(|(lo, hi)| hi.abs_diff(lo) < u64::from(u32::MAX - 1))
                };
                if column == timestamp_column && uses.time_offsets && contiguous == Some(false) && fits() {
                    let mut offsets = OffsetSink::new(rows);
                    decode(&mut offsets)?;
                    if let Some(t) = offsets.finish() {
                        time_offsets = Some(t);
                        roots.retain(|&r| r != root);
                        own_dropped.push(column.to_string());
                        continue;
                    }
                }
                let mut values = OwnValues::<i64>::new(rows);
                // The times' smallest and largest, found page by page as decoded (in cache):
                // the scans of parts in any order need them, and a pass of their own over a
                // part's times came long after they left the cache. (Not when the groups
                // are known to be contiguous: their scans do not ask.)
                values.range = (column == timestamp_column && contiguous != Some(true)).then_some(None);
                decode(&mut values)?;
                time_range = values.range.flatten();
                Arc::new(Int64Array::new(values.values.into(), values.nulls.finish()))
            }
        };
        own_columns.push((root, vec![array]));
    }
    // STRING columns whose pages are all dictionary-encoded (filtered ones too): their keys
    // decoded by our own page decoder into the batches arrow-rs would give, and derived from
    // or kept as those would be.
    let mut derived = Derived::default();
    let batch = batch_rows(&sizes);
    for column in columns
        .iter()
        .filter(|c| !partial && number.as_ref().is_none_or(|n| n.column != c.as_str()))
    {
        let Ok(root) = hinted.index_of(column) else { continue };
        if hinted.field(root).data_type() != &dict_type()
            || !roots.contains(&root)
            || own_columns.iter().any(|(r, _)| *r == root)
        {
            continue;
        }
        let Some(leaf) = single_leaf(&parquet_schema, root) else {
            continue;
        };
        if !row_groups
            .iter()
            .all(|&rg| pages::decodable_strings(parquet_meta.row_group(rg).column(leaf)))
        {
            continue;
        }
        let mut deriving = plan.and_then(|p| p.start(column, rows));
        let keep = deriving.as_ref().is_none_or(Deriving::keep);
        let mut chunks = Vec::new();
        pages::decode_string_column(&reader, &parquet_meta, &row_groups, leaf, batch, |k| {
            let n = k.keys.len();
            let keys = Int32Array::new(
                ScalarBuffer::new(Buffer::from_vec(k.keys), 0, n),
                k.present.map(NullBuffer::new),
            );
            if k.dictionary.len() > i32::MAX as usize {
                return Err(format!("a dictionary of {} strings", k.dictionary.len()));
            }
            let dict = if k.dictionary.is_empty() {
                // (Every row null: nothing to check, and key 0 is not within the dictionary.)
                DictionaryArray::<Int32Type>::try_new(keys, Arc::new(k.dictionary)).map_err(|e| e.to_string())?
            } else {
                // SAFETY: every key is within the dictionary: a row with a value has its page's
                // entry, which the page decoder checked against the dictionary's length (which
                // fits an i32), and a row without one has key 0. (`try_new` checks each key
                // again: measured at 5% of a whole query's time.)
                unsafe { DictionaryArray::<Int32Type>::new_unchecked(keys, Arc::new(k.dictionary)) }
            };
            let chunk: ArrayRef = Arc::new(dict);
            if let Some(d) = &mut deriving {
                d.push(&chunk).map_err(|e| e.to_string())?;
            }
            if keep {
                chunks.push(chunk);
            }
            Ok(())
        })
        .map_err(|m| decode_err(column, m))?;
        if let Some(d) = deriving {
            d.finish(&mut derived);
        }
        if keep {
            if chunks.is_empty() {
                chunks.push(arrow::array::new_empty_array(&dict_type()));
            }
            own_columns.push((root, chunks));
        } else {
            roots.retain(|&r| r != root);
            own_dropped.push(column.clone());
        }
    }
    let asked = roots.clone();
    roots.retain(|r| !own_columns.iter().any(|(o, _)| o == r));

    // The reader returns projected columns in file order; each batch's arrays are kept as
    // chunks. No reader when every column asked for was decoded above.
    let reader = match roots.is_empty() && !(own_dropped.is_empty() && own_columns.is_empty()) {
        true => None,
        false => Some(
            builder
                .with_projection(ProjectionMask::roots(&parquet_schema, roots.iter().copied()))
                .with_batch_size(batch_rows(&sizes))
                .build()
                .map_err(|e| read_err(&e))?,
        ),
    };
    let mut sorted_roots = roots.clone();
    sorted_roots.sort_unstable();
    let projected_schema: SchemaRef = Arc::new(hinted.project(&sorted_roots).map_err(|e| read_err(&e))?);
    let declared: Vec<DataType> = projected_schema
        .fields()
        .iter()
        .map(|f| normalize(&arrow::array::new_empty_array(f.data_type())).map(|a| a.data_type().clone()))
        .collect::<Result<_, _>>()
        .map_err(|e| read_err(&e))?;
    // The group ids' position among the projected columns, and their numbering.
    let mut numbering = number.filter(|_| own_groups.is_none()).and_then(|n| {
        let i = projected_schema.index_of(n.column).ok()?;
        (declared.get(i)? == &DataType::Int64).then(|| {
            let range = int_range(&hinted, &parquet_schema, &parquet_meta, n.column, selected.as_deref());
            (i, IntNumbering::new(file, n.column, n.per_row, rows, range))
        })
    });
    let mut deriving: Vec<Option<Deriving>> = projected_schema
        .fields()
        .iter()
        .map(|f| plan.and_then(|p| p.start(f.name(), rows)))
        .collect();
    let mut coders: Vec<Option<ScalarCoder>> = projected_schema
        .fields()
        .iter()
        .zip(&declared)
        .map(|(f, dt)| match dt {
            _ if !code.contains(&f.name().as_str()) => None,
            DataType::Int64 => {
                let range = int_range(&hinted, &parquet_schema, &parquet_meta, f.name(), selected.as_deref());
                Some(ScalarCoder::with_range(rows, range))
            }
            DataType::Utf8 => Some(ScalarCoder::new(rows)),
            _ => None,
        })
        .collect();
    let mut chunks: Vec<Vec<ArrayRef>> = vec![Vec::new(); declared.len()];
    for batch in reader.into_iter().flatten() {
        let batch = batch.map_err(|e| read_err(&e))?;
        for (i, ((chunk, c), (f, dt))) in chunks
            .iter_mut()
            .zip(batch.columns())
            .zip(projected_schema.fields().iter().zip(&declared))
            .enumerate()
        {
            let c = normalize(c).map_err(|e| read_err(&e))?;
            // The data must have the type the footer declares (a damaged file may decode
            // otherwise).
            if c.data_type() != dt {
                return Err(read_err(&format!(
                    "column '{}' decodes as {} but is declared {}",
                    f.name(),
                    c.data_type(),
                    dt
                )));
            }
            let mut keep = true;
            if let Some(d) = &mut deriving[i] {
                d.push(&c).map_err(|e| read_err(&e))?;
                keep = d.keep();
            }
            if let Some(coder) = &mut coders[i] {
                coder.push(&c).map_err(|e| read_err(&e))?;
                keep = false;
            }
            match &mut numbering {
                Some((at, ids)) if *at == i => ids.push(&c)?,
                _ if keep => chunk.push(c),
                _ => {}
            }
        }
    }
    // Columns not kept: numbered ids, and those only filters use.
    let mut dropped = vec![false; deriving.len()];
    for (i, d) in deriving.into_iter().enumerate() {
        if let Some(d) = d {
            dropped[i] = !d.keep();
            d.finish(&mut derived);
        }
    }
    let groups = match numbering {
        Some((i, ids)) => {
            dropped[i] = true;
            Some(ids.finish()?)
        }
        None => own_groups,
    };
    let mut coded = own_coded;
    for (i, (coder, f)) in coders.into_iter().zip(projected_schema.fields()).enumerate() {
        if let Some(coder) = coder {
            dropped[i] = true;
            coded.push((f.name().clone(), coder.finish()));
        }
    }
    for (chunk, dt) in chunks.iter_mut().zip(&declared) {
        if chunk.is_empty() {
            chunk.push(arrow::array::new_empty_array(dt));
        }
    }
    let named: Vec<(String, Vec<ArrayRef>)> = projected_schema
        .fields()
        .iter()
        .zip(chunks)
        .map(|(f, c)| (f.name().clone(), c))
        .collect();
    // Back to the order asked for, without the columns not kept.
    let mut ordered = Vec::with_capacity(asked.len());
    let mut dropped_names = Vec::new();
    for r in &asked {
        if let Some(at) = own_columns.iter().position(|(o, _)| o == r) {
            let (root, chunks) = own_columns.swap_remove(at);
            ordered.push((hinted.field(root).name().clone(), chunks));
            continue;
        }
        if !roots.contains(r) {
            continue;
        }
        let i = sorted_roots
            .iter()
            .position(|s| s == r)
            .ok_or_else(|| read_err(&format!("column {r} was not read")))?;
        let column = named
            .get(i)
            .cloned()
            .ok_or_else(|| read_err(&format!("column {r} was not read")))?;
        if dropped[i] {
            dropped_names.push(column.0);
        } else {
            ordered.push(column);
        }
    }
    dropped_names.extend(own_dropped);
    Ok(Read {
        columns: ordered,
        groups,
        derived,
        coded,
        dropped: dropped_names,
        time_range,
        time_offsets,
    })
}

/// A value type [`OwnValues`] holds: our page decoder gives 8-byte values as `i64` bits.
trait FromBits: Copy + Default {
    fn from_bits(bits: i64) -> Self;

    /// Widens `range` to take in `values` (INT values only: FLOAT ones leave it).
    fn widen(range: &mut Option<(i64, i64)>, values: &[Self]);
}

impl FromBits for i64 {
    #[inline(always)]
    fn from_bits(bits: i64) -> Self {
        bits
    }

    fn widen(range: &mut Option<(i64, i64)>, values: &[Self]) {
        if let Some((lo, hi)) = min_max(&[values]) {
            *range = Some(range.map_or((lo, hi), |(a, b)| (a.min(lo), b.max(hi))));
        }
    }
}

impl FromBits for f64 {
    #[inline(always)]
    fn from_bits(bits: i64) -> Self {
        f64::from_bits(bits as u64)
    }

    fn widen(_range: &mut Option<(i64, i64)>, _values: &[Self]) {}
}

/// An INT or FLOAT column's rows from our own page decoder, in one buffer (a row without a value
/// holds 0 and is null); also the keys of [`OwnEntries`].
struct OwnValues<T> {
    values: Vec<T>,
    nulls: NullBufferBuilder,
    /// The next page's rows with a value (a bit a row) and its rows, when some have none.
    present: Option<(Vec<u8>, usize)>,
    /// When `Some`, the smallest and largest of the values so far (INT columns), widened page
    /// by page while the page is in cache; back to `None` at a page with rows without a value.
    range: Option<Option<(i64, i64)>>,
}

impl<T: Copy + Default> OwnValues<T> {
    /// Room for about `rows` rows.
    fn new(rows: usize) -> Self {
        OwnValues {
            values: Vec::with_capacity(rows),
            nulls: NullBufferBuilder::new(rows),
            present: None,
            range: None,
        }
    }

    /// Appends a page's rows, from the `n` values of those that have one (`dense(j)` the
    /// `j`-th).
    #[inline(always)]
    fn push_page(&mut self, n: usize, dense: impl Fn(usize) -> T) {
        let Some((present, rows)) = self.present.take() else {
            self.values.extend((0..n).map(dense));
            self.nulls.append_n_non_nulls(n);
            return;
        };
        self.range = None;
        pages::spread(&mut self.values, &present, 0..rows, n, dense);
        let bits = arrow::buffer::BooleanBuffer::new(present.into(), 0, rows);
        self.nulls.append_buffer(&arrow::buffer::NullBuffer::new(bits));
    }
}

impl<T: FromBits> OwnValues<T> {
    /// Widens the range kept (if one is) to the values from row `start` on: a page just
    /// appended, still in cache.
    #[inline(always)]
    fn widen_from(&mut self, start: usize) {
        if let (Some(range), Some(page)) = (self.range.as_mut(), self.values.get(start..)) {
            T::widen(range, page);
        }
    }
}

impl<T: FromBits> pages::ValueSink for OwnValues<T> {
    fn entries(&mut self, dictionary: &[i64], entries: &[u32]) {
        let start = self.values.len();
        // (Every entry is within the dictionary: the decoder checks.)
        self.push_page(entries.len(), |j| {
            T::from_bits(dictionary.get(entries[j] as usize).copied().unwrap_or(0))
        });
        self.widen_from(start);
    }

    fn values(&mut self, values: &[i64]) {
        let start = self.values.len();
        self.push_page(values.len(), |j| T::from_bits(values[j]));
        self.widen_from(start);
    }

    fn end_chunk(&mut self, _dictionary: &[i64], _nulls: usize) -> Result<(), String> {
        Ok(())
    }

    fn absent(&mut self, present: &[u8], rows: usize) {
        self.present = Some((present.to_vec(), rows));
    }
}

/// An INT or FLOAT column's rows from our own page decoder as entries of one dictionary: the
/// dictionaries of its chunks one after the other (and the values of plain pages, each its own
/// entry). A row's key is its value's place there (0, and null, for a row without a value).
/// Half the bytes of the values, and no gather of every row's value: a sum looks up the rows
/// it adds.
///
/// ```text
/// chunk 0: dictionary [2.5, 9.0], entries [1, 0, 1]; chunk 1: dictionary [4.0], entries [0, 0]
/// → values [2.5, 9.0, 4.0], keys [1, 0, 1, 2, 2]
/// ```
struct OwnEntries {
    /// Each row's key, placed as [`OwnValues`] places values.
    keys: OwnValues<i32>,
    /// The dictionaries (as bits), then plain values.
    values: Vec<i64>,
    /// Where the current chunk's dictionary starts in `values`, once added.
    base: Option<usize>,
    /// Set when `values` outgrew what an `i32` key reaches.
    overflow: bool,
}

impl OwnEntries {
    /// Room for about `rows` rows.
    fn new(rows: usize) -> Self {
        OwnEntries {
            keys: OwnValues::new(rows),
            values: Vec::new(),
            base: None,
            overflow: false,
        }
    }

    /// Appends `values` to the dictionary: where they start, or `None` (and `overflow` set)
    /// when keys would not reach them.
    fn add(&mut self, values: &[i64]) -> Option<usize> {
        let base = self.values.len();
        if base.saturating_add(values.len()) > i32::MAX as usize {
            self.overflow = true;
            return None;
        }
        self.values.extend_from_slice(values);
        Some(base)
    }

    /// The column: a dictionary of FLOAT values (of INT ones unless `float`).
    fn finish(mut self, float: bool) -> Result<ArrayRef, String> {
        if self.overflow {
            return Err(format!("more than {} distinct values", i32::MAX));
        }
        if self.values.is_empty() {
            // (Every row null: key 0 must still be within the dictionary.)
            self.values.push(0);
        }
        let mut keys = self.keys;
        let n = keys.values.len();
        let keys = Int32Array::new(
            ScalarBuffer::new(Buffer::from_vec(keys.values), 0, n),
            keys.nulls.finish(),
        );
        let values: ArrayRef = match float {
            true => Arc::new(Float64Array::from_iter_values(
                self.values.iter().map(|&v| f64::from_bits(v as u64)),
            )),
            false => Arc::new(Int64Array::from(self.values)),
        };
        // SAFETY: every key is within `values`: a row with a value has its chunk's base plus
        // its entry, which the page decoder checked against that chunk's dictionary, all of
        // which was added at that base (or its plain value's own place); a row without one
        // has key 0, and `values` is not empty. (`try_new` would check each key again.)
        Ok(Arc::new(unsafe {
            DictionaryArray::<Int32Type>::new_unchecked(keys, values)
        }))
    }
}

impl pages::ValueSink for OwnEntries {
    fn entries(&mut self, dictionary: &[i64], entries: &[u32]) {
        let base = match self.base {
            Some(base) => base,
            None => match self.add(dictionary) {
                Some(base) => {
                    self.base = Some(base);
                    base
                }
                None => return,
            },
        };
        // (Every entry is within the dictionary: the decoder checks; base + entry fits an i32.)
        self.keys
            .push_page(entries.len(), |j| (base + entries[j] as usize) as i32);
    }

    fn values(&mut self, values: &[i64]) {
        if let Some(base) = self.add(values) {
            self.keys.push_page(values.len(), |j| (base + j) as i32);
        }
    }

    fn end_chunk(&mut self, _dictionary: &[i64], _nulls: usize) -> Result<(), String> {
        self.base = None;
        Ok(())
    }

    fn absent(&mut self, present: &[u8], rows: usize) {
        self.keys.present = Some((present.to_vec(), rows));
    }
}

/// The root and leaf index of `column` when our own page decoder can read its chunks in every
/// row group of `row_groups` (see [`pages::decodable_numbers`]): a flat INT64 column read as Int64, or
/// when `float` also a flat DOUBLE column read as Float64.
fn own_leaf(
    schema: &Schema,
    parquet_schema: &parquet::schema::types::SchemaDescriptor,
    meta: &parquet::file::metadata::ParquetMetaData,
    column: &str,
    row_groups: &[usize],
    float: bool,
) -> Option<(usize, usize)> {
    use parquet::basic::Type as Physical;
    let root = schema.index_of(column).ok()?;
    let physical = match schema.field(root).data_type() {
        DataType::Int64 => Physical::INT64,
        DataType::Float64 if float => Physical::DOUBLE,
        _ => return None,
    };
    let leaf = single_leaf(parquet_schema, root)?;
    row_groups
        .iter()
        .all(|&rg| {
            let chunk = meta.row_group(rg).column(leaf);
            chunk.column_descr().physical_type() == physical && pages::decodable_numbers(chunk)
        })
        .then_some((root, leaf))
}

/// The leaf column of root column `root`, when it has exactly one (a flat column).
fn single_leaf(parquet_schema: &parquet::schema::types::SchemaDescriptor, root: usize) -> Option<usize> {
    let mut leaves = (0..parquet_schema.num_columns()).filter(|&l| parquet_schema.get_column_root_idx(l) == root);
    let leaf = leaves.next()?;
    leaves.next().is_none().then_some(leaf)
}

/// One reader shared by arrow-rs' reader and our own page decoder.
struct Shared<R>(Arc<R>);

impl<R: ChunkReader> parquet::file::reader::Length for Shared<R> {
    fn len(&self) -> u64 {
        self.0.len()
    }
}

impl<R: ChunkReader> ChunkReader for Shared<R> {
    type T = R::T;

    fn get_read(&self, start: u64) -> parquet::errors::Result<Self::T> {
        self.0.get_read(start)
    }

    fn get_bytes(&self, start: u64, length: usize) -> parquet::errors::Result<bytes::Bytes> {
        self.0.get_bytes(start, length)
    }
}

/// The smallest and largest value of an integer column over the row groups `selected` (all
/// when `None`), from the footer's statistics; `None` when any is missing.
fn int_range(
    schema: &Schema,
    parquet_schema: &parquet::schema::types::SchemaDescriptor,
    meta: &parquet::file::metadata::ParquetMetaData,
    column: &str,
    selected: Option<&[usize]>,
) -> Option<(i64, i64)> {
    let conv = StatisticsConverter::try_new(column, schema, parquet_schema).ok()?;
    let mins = cast(&conv.row_group_mins(meta.row_groups().iter()).ok()?, &DataType::Int64).ok()?;
    let maxes = cast(&conv.row_group_maxes(meta.row_groups().iter()).ok()?, &DataType::Int64).ok()?;
    let (mins, maxes) = (
        mins.as_primitive_opt::<Int64Type>()?,
        maxes.as_primitive_opt::<Int64Type>()?,
    );
    let n = meta.num_row_groups();
    if mins.len() != n || maxes.len() != n {
        return None;
    }
    let mut range: Option<(i64, i64)> = None;
    for i in (0..n).filter(|i| selected.is_none_or(|s| s.contains(i))) {
        if mins.is_null(i) || maxes.is_null(i) {
            return None;
        }
        let (lo, hi) = (mins.value(i), maxes.value(i));
        range = Some(range.map_or((lo, hi), |(a, b)| (a.min(lo), b.max(hi))));
    }
    range
}

/// The batch size to read with: batches never span two row groups (a batch that did would
/// merge their dictionaries, which is slow), are small (≤ 64Ki rows) when the row group sizes
/// allow it, and a power of two when possible (then the batches are the part's chunks, see
/// `Column`; otherwise they are assembled into one array). The reader fills batches across row
/// groups, so the batch size must divide every row group's size but the last one's; otherwise
/// one batch per row group.
///
/// ```text
/// [262144, 262144, 1000] → 65536      [100000, 100000] → 50000      [70001, 5] → 70001
/// [8, 8, 3] → 8                       [24, 24, 3] → 24
/// ```
fn batch_rows(sizes: &[usize]) -> usize {
    const MAX: usize = 64 * 1024;
    const MIN: usize = 4 * 1024;
    let largest = sizes.iter().copied().max().unwrap_or(1).max(1);
    let Some((_, all_but_last)) = sizes.split_last() else {
        return MAX;
    };
    let gcd = |mut a: usize, mut b: usize| {
        while b != 0 {
            (a, b) = (b, a % b);
        }
        a
    };
    let g = all_but_last.iter().fold(0, |acc, &n| gcd(acc, n));
    if g == 0 {
        // One row group: a power of two if it is larger than that.
        return if largest > MAX { MAX } else { largest };
    }
    // A power of two lets the engine keep the batches as they are (see `Column`).
    let pow2 = (g & g.wrapping_neg()).min(MAX);
    if pow2 >= MIN.min(g) {
        return pow2;
    }
    (MIN..=MAX.min(g)).rev().find(|b| g % b == 0).unwrap_or(largest)
}

/// Builds one normalized column from its row groups' arrays, appended one at a time.
/// Dictionary-encoded strings get one dictionary for the part: each row group's dictionary is
/// mapped into it (a lookup per dictionary value) and its keys rewritten (a table lookup per
/// row); strings are never compared row by row.
enum Assembler {
    /// INT.
    Int(Vec<i64>, NullBufferBuilder),
    /// FLOAT.
    Float(Vec<f64>, NullBufferBuilder),
    /// Dictionary-encoded STRING.
    Dict {
        keys: Vec<i32>,
        nulls: NullBufferBuilder,
        ids: FastMap<Box<str>, i32>,
        values: StringBuilder,
    },
    /// Anything else: kept, concatenated at the end.
    Other(Vec<ArrayRef>),
}

impl Assembler {
    fn new(dt: &DataType, rows: usize) -> Self {
        match ColumnType::from_arrow(dt) {
            ColumnType::Int => Assembler::Int(Vec::with_capacity(rows), NullBufferBuilder::new(rows)),
            ColumnType::Float => Assembler::Float(Vec::with_capacity(rows), NullBufferBuilder::new(rows)),
            ColumnType::String if matches!(dt, DataType::Dictionary(_, _)) => Assembler::Dict {
                keys: Vec::with_capacity(rows),
                nulls: NullBufferBuilder::new(rows),
                ids: FastMap::default(),
                values: StringBuilder::new(),
            },
            _ => Assembler::Other(Vec::new()),
        }
    }

    /// Appends a normalized array.
    fn push(&mut self, a: &ArrayRef) -> Result<(), ArrowError> {
        let append_nulls = |nulls: &mut NullBufferBuilder, a: &dyn Array| match a.nulls() {
            Some(n) => nulls.append_buffer(n),
            None => nulls.append_n_non_nulls(a.len()),
        };
        match self {
            Assembler::Int(v, nulls) if a.data_type() == &DataType::Int64 => {
                v.extend_from_slice(a.as_primitive::<Int64Type>().values());
                append_nulls(nulls, a.as_ref());
            }
            Assembler::Float(v, nulls) if a.data_type() == &DataType::Float64 => {
                v.extend_from_slice(a.as_primitive::<Float64Type>().values());
                append_nulls(nulls, a.as_ref());
            }
            Assembler::Dict {
                keys,
                nulls,
                ids,
                values,
            } if a.data_type() == &dict_type() && a.as_dictionary::<Int32Type>().values().null_count() == 0 => {
                let d = a.as_dictionary::<Int32Type>();
                let local = d.values().as_string::<i32>();
                let remap: Vec<i32> = local
                    .iter()
                    .map(|v| {
                        let v = v.unwrap_or_default();
                        match ids.get(v) {
                            Some(&id) => id,
                            None => {
                                let id = ids.len() as i32;
                                ids.insert(v.into(), id);
                                values.append_value(v);
                                id
                            }
                        }
                    })
                    .collect();
                let local_keys = d.keys().values();
                let in_range = local_keys.is_empty() || (max_key(local_keys) as usize) < remap.len();
                if in_range && remap.iter().enumerate().all(|(i, &g)| g as usize == i) {
                    // The same dictionary order as the part's so far (the usual case): copy.
                    keys.extend_from_slice(local_keys);
                } else {
                    // Keys under nulls may be anything: map out-of-range ones to 0.
                    keys.extend(local_keys.iter().map(|&k| remap.get(k as usize).copied().unwrap_or(0)));
                }
                append_nulls(nulls, a.as_ref());
            }
            Assembler::Other(parts) => parts.push(a.clone()),
            _ => {
                // A type the first row group did not have (should not happen): keep both.
                let so_far = std::mem::replace(self, Assembler::Other(Vec::new())).finish()?;
                *self = Assembler::Other(vec![so_far, a.clone()]);
            }
        }
        Ok(())
    }

    fn finish(self) -> Result<ArrayRef, ArrowError> {
        Ok(match self {
            Assembler::Int(v, mut nulls) => Arc::new(Int64Array::new(v.into(), nulls.finish())),
            Assembler::Float(v, mut nulls) => Arc::new(Float64Array::new(v.into(), nulls.finish())),
            Assembler::Dict {
                keys,
                mut nulls,
                mut values,
                ..
            } => {
                let keys = Int32Array::new(keys.into(), nulls.finish());
                let values: ArrayRef = Arc::new(values.finish());
                if max_key(keys.values()) >= values.len() as u32 && !keys.is_empty() {
                    return Err(ArrowError::InvalidArgumentError(
                        "dictionary key out of range after mapping".into(),
                    ));
                }
                // SAFETY: every key (null or not) was just checked to index `values`, which
                // is all `try_new` would check, row by row through the null mask.
                Arc::new(unsafe { DictionaryArray::<Int32Type>::new_unchecked(keys, values) })
            }
            Assembler::Other(parts) => {
                let refs: Vec<&dyn Array> = parts.iter().map(|a| a.as_ref()).collect();
                match refs.len() {
                    0 => return Err(ArrowError::InvalidArgumentError("no data for a column".into())),
                    1 => parts[0].clone(),
                    _ => concat(&refs)?,
                }
            }
        })
    }
}

/// The largest key as unsigned (a negative key counts as larger than any valid one): one
/// vectorized pass to check that all keys index a dictionary.
fn max_key(keys: &[i32]) -> u32 {
    keys.iter().map(|&k| k as u32).max().unwrap_or(0)
}

pub(super) fn dictionary_hints(schema: &Schema, meta: &parquet::file::metadata::ParquetMetaData) -> Schema {
    let pschema = meta.file_metadata().schema_descr();
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| {
            let f = f.as_ref().clone();
            if !matches!(f.data_type(), DataType::Utf8 | DataType::LargeUtf8) {
                return f;
            }
            // Find the leaf column of this top-level field.
            let leaf = (0..pschema.num_columns()).find(|&i| pschema.column(i).path().parts() == [f.name().as_str()]);
            let Some(leaf) = leaf else { return f };
            let all_dict = meta.num_row_groups() > 0
                && meta
                    .row_groups()
                    .iter()
                    .all(|rg| rg.column(leaf).dictionary_page_offset().is_some());
            if all_dict {
                f.with_data_type(dict_type())
            } else {
                f
            }
        })
        .collect();
    Schema::new_with_metadata(fields, schema.metadata().clone())
}

/// Row groups that may hold rows inside the timeframe, and whether any of them may also hold
/// rows outside it (then rows must be filtered).
pub(super) fn prune_row_groups(
    schema: &Schema,
    parquet_schema: &parquet::schema::types::SchemaDescriptor,
    meta: &parquet::file::metadata::ParquetMetaData,
    ts_column: &str,
    tf: &Timeframe,
) -> Result<(Vec<usize>, bool), ArrowError> {
    let n = meta.num_row_groups();
    let conv = StatisticsConverter::try_new(ts_column, schema, parquet_schema)
        .map_err(|e| ArrowError::ExternalError(Box::new(e)))?;
    let mins = conv
        .row_group_mins(meta.row_groups().iter())
        .map_err(|e| ArrowError::ExternalError(Box::new(e)))?;
    let maxes = conv
        .row_group_maxes(meta.row_groups().iter())
        .map_err(|e| ArrowError::ExternalError(Box::new(e)))?;
    let mins = cast(&mins, &DataType::Float64)?;
    let maxes = cast(&maxes, &DataType::Float64)?;
    let (mins, maxes) = (
        mins.as_any().downcast_ref::<Float64Array>().cloned(),
        maxes.as_any().downcast_ref::<Float64Array>().cloned(),
    );
    let (from, to) = (tf.from.unwrap_or(f64::NEG_INFINITY), tf.to.unwrap_or(f64::INFINITY));
    let mut keep = Vec::with_capacity(n);
    let mut partial = false;
    for i in 0..n {
        let lo = mins
            .as_ref()
            .filter(|a| a.len() == n && a.is_valid(i))
            .map(|a| a.value(i));
        let hi = maxes
            .as_ref()
            .filter(|a| a.len() == n && a.is_valid(i))
            .map(|a| a.value(i));
        match (lo, hi) {
            (Some(lo), Some(hi)) => {
                if hi < from || lo >= to {
                    continue;
                }
                // Statistics are f64 here; stay conservative near the bounds.
                if !(lo > from && hi < to) {
                    partial = true;
                }
                keep.push(i);
            }
            _ => {
                partial = true;
                keep.push(i);
            }
        }
    }
    Ok((keep, partial))
}

#[cfg(test)]
mod tests {
    use arrow::array::{Int64Array, StringArray};
    use parquet::arrow::ArrowWriter;

    use super::*;
    use crate::exec::time_offsets::IntTimes;
    use crate::{validate_query, DatasetSchema};

    /// A part of users `u`, times `t`, events `e` and items `item` (INT, one null).
    fn part() -> (bytes::Bytes, DatasetSchema) {
        let batch = RecordBatch::try_from_iter([
            ("u", Arc::new(Int64Array::from(vec![1, 2, 1, 2, 1])) as ArrayRef),
            ("t", Arc::new(Int64Array::from(vec![1, 2, 3, 4, 5])) as ArrayRef),
            (
                "e",
                Arc::new(StringArray::from(vec!["a", "a", "b", "b", "b"])) as ArrayRef,
            ),
            (
                "item",
                Arc::new(Int64Array::from(vec![Some(7), Some(8), Some(7), None, Some(9)])) as ArrayRef,
            ),
        ])
        .unwrap();
        let mut buf = Vec::new();
        let mut w = ArrowWriter::try_new(&mut buf, batch.schema(), None).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
        let schema = DatasetSchema::from_arrow(&batch.schema(), "u", "t").unwrap();
        (buf.into(), schema)
    }

    #[test]
    fn a_column_only_held_is_read_as_codes() {
        let (bytes, schema) = part();
        let held = r#"{"funnel": {"sequence": [{"filter": ["e", "==", "a"]}, {"filter": ["e", "==", "b"]}],
                                   "holdConstant": ["item"]}}"#;
        let q = validate_query(held, &schema, 10).unwrap();
        let loaded = read_part("p", bytes.clone(), &q).unwrap();
        assert!(loaded.columns.iter().all(|(name, _)| name != "item"));
        assert!(loaded.dropped.contains(&"item".to_string()));
        let (name, coded) = &loaded.coded[0];
        assert_eq!(
            (name.as_str(), coded.row_codes(5)),
            ("item", Some(vec![0, 1, 0, u32::MAX, 2]))
        );
        // Aggregated as well: its values are kept, nothing is coded while reading.
        let both = r#"{"funnel": {"sequence": [{"filter": ["e", "==", "a"]}, {"filter": ["e", "==", "b"]}],
                                   "holdConstant": ["item"],
                                   "stepAggregations": [{"column": "item", "type": "countPerValue"}]}}"#;
        let q = validate_query(both, &schema, 10).unwrap();
        let loaded = read_part("p", bytes, &q).unwrap();
        assert!(loaded.coded.is_empty());
        assert!(loaded.columns.iter().any(|(name, _)| name == "item"));
    }

    #[test]
    fn a_column_only_summed_is_read_as_dictionary_entries() {
        let (bytes, schema) = part();
        let summed = r#"{"query": {"conditions": [{"filter": ["e", "==", "b"], "target": ["sum", "item", ">", 8]}]}}"#;
        let q = validate_query(summed, &schema, 10).unwrap();
        let loaded = read_part("p", bytes.clone(), &q).unwrap();
        let (_, item) = loaded.columns.iter().find(|(name, _)| name == "item").unwrap();
        let a = item.dictionary_numbers::<Int64Type>().unwrap();
        let rows: Vec<Option<i64>> = (0..5).map(|r| a.is_valid(r).then(|| a.value(r))).collect();
        assert_eq!(rows, vec![Some(7), Some(8), Some(7), None, Some(9)]);
        // Aggregated as well: its values are read as such.
        let both = r#"{"query": {"conditions": [{"filter": ["e", "==", "b"], "target": ["sum", "item", ">", 8]}],
                                 "aggregations": [{"column": "e", "type": "sumPerValue", "otherColumn": "item"}]}}"#;
        let q = validate_query(both, &schema, 10).unwrap();
        let loaded = read_part("p", bytes, &q).unwrap();
        let (_, item) = loaded.columns.iter().find(|(name, _)| name == "item").unwrap();
        assert_eq!(item.data_type(), &DataType::Int64);
    }

    #[test]
    fn entries_of_chunks_and_plain_pages_share_one_dictionary() {
        use pages::ValueSink;
        let mut e = OwnEntries::new(8);
        e.entries(&[25, 90], &[1, 0]);
        e.absent(&[0b101], 3);
        e.entries(&[25, 90], &[0, 1]);
        e.end_chunk(&[25, 90], 1).unwrap();
        e.entries(&[40], &[0, 0]);
        e.values(&[-3]);
        e.end_chunk(&[40], 0).unwrap();
        let column = Column::single(e.finish(false).unwrap());
        let a = column.dictionary_numbers::<Int64Type>().unwrap();
        let rows: Vec<Option<i64>> = (0..column.len()).map(|r| a.is_valid(r).then(|| a.value(r))).collect();
        assert_eq!(
            rows,
            vec![
                Some(90),
                Some(25),
                Some(25),
                None,
                Some(90),
                Some(40),
                Some(40),
                Some(-3)
            ]
        );
    }

    #[test]
    fn batches_never_span_row_groups() {
        assert_eq!(batch_rows(&[262_144, 262_144, 1000]), 65_536);
        assert_eq!(batch_rows(&[100_000, 100_000]), 50_000);
        assert_eq!(batch_rows(&[70_001, 5]), 70_001);
        assert_eq!(batch_rows(&[500]), 500);
        assert_eq!(batch_rows(&[1_000_000]), 65_536);
        assert_eq!(batch_rows(&[]), 65_536);
        assert_eq!(batch_rows(&[196_608, 196_608, 7]), 65_536);
        assert_eq!(batch_rows(&[12_288, 12_288]), 4_096);
        assert_eq!(batch_rows(&[12_288]), 12_288);
        // Small row groups of a power of two stay batches; others are one batch each.
        assert_eq!(batch_rows(&[8, 8, 3]), 8);
        assert_eq!(batch_rows(&[24, 24, 3]), 24);
    }

    /// A part of users `u`, times `t` (INT or FLOAT, `nulls` rows without one) and events
    /// `e`, written in pages of 100 rows and row groups of 1,000, dictionary-encoded until the
    /// dictionary reaches 1 KiB (then plain).
    fn paged_part(times: &[Option<i64>], float: bool) -> (bytes::Bytes, DatasetSchema) {
        use arrow::array::Float64Array;
        let n = times.len();
        let t: ArrayRef = match float {
            true => Arc::new(Float64Array::from(
                times.iter().map(|t| t.map(|t| t as f64)).collect::<Vec<_>>(),
            )),
            false => Arc::new(Int64Array::from(times.to_vec())),
        };
        let batch = RecordBatch::try_from_iter([
            (
                "u",
                Arc::new(Int64Array::from_iter_values((0..n as i64).map(|i| i % 7))) as ArrayRef,
            ),
            ("t", t),
            (
                "e",
                Arc::new(StringArray::from_iter_values((0..n).map(|i| ["a", "b"][i % 2]))) as ArrayRef,
            ),
        ])
        .unwrap();
        let props = parquet::file::properties::WriterProperties::builder()
            .set_data_page_row_count_limit(100)
            .set_write_batch_size(100)
            .set_max_row_group_row_count(Some(1000))
            .set_dictionary_page_size_limit(1024)
            .build();
        let mut buf = Vec::new();
        let mut w = ArrowWriter::try_new(&mut buf, batch.schema(), Some(props)).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
        let schema = DatasetSchema::from_arrow(&batch.schema(), "u", "t").unwrap();
        (buf.into(), schema)
    }

    /// The timestamps' range a read found as it decoded them.
    fn range_read(bytes: &bytes::Bytes, schema: &DatasetSchema, query: &str) -> Option<(i64, i64)> {
        let loaded = load(bytes, schema, query);
        let (_, t) = loaded.columns.iter().find(|(name, _)| name == "t").unwrap();
        t.range()
    }

    const SEQUENCE: &str = r#"{"funnel": {"sequence": [{"filter": ["e", "==", "a"]}, {"filter": ["e", "==", "b"]}]}}"#;

    /// The range of the times a read kept, and whether it found one as it decoded them.
    fn kept_range(bytes: &bytes::Bytes, schema: &DatasetSchema, to: i64) -> ((i64, i64), Option<(i64, i64)>) {
        let query = format!(
            r#"{{"timeframe": {{"to": {to}}}, "funnel": {}}}"#,
            &SEQUENCE[11..SEQUENCE.len() - 1]
        );
        let loaded = load(bytes, schema, &query);
        let (_, t) = loaded.columns.iter().find(|(name, _)| name == "t").unwrap();
        let v = t.primitive::<Int64Type>().unwrap();
        let read: Vec<i64> = (0..t.len()).map(|r| v.value(r)).collect();
        ((*read.iter().min().unwrap(), *read.iter().max().unwrap()), t.range())
    }

    /// Times over pages of repeated values (dictionary-encoded) first, then distinct ones
    /// (plain, once the dictionary is full); the smallest (-77) in a dictionary-encoded page,
    /// the largest (9,000,000) in a plain one of another row group, neither in the first page.
    /// Row group 0 (rows 0..1000) below 10,000, the others above.
    fn spread_times() -> Vec<Option<i64>> {
        (0..3500i64)
            .map(|i| match i {
                250 => Some(-77),
                2999 => Some(9_000_000),
                0..400 => Some(1_000 + i % 5),
                400..1000 => Some(1_000 + i * 31 % 2003),
                _ => Some(20_000 + i * 31 % 2003),
            })
            .collect()
    }

    /// What reading the part `bytes` for `query` loads.
    fn load(bytes: &bytes::Bytes, schema: &DatasetSchema, query: &str) -> LoadedPart {
        read_part("p", bytes.clone(), &validate_query(query, schema, 10).unwrap()).unwrap()
    }

    #[test]
    fn times_range_is_found_as_they_are_decoded() {
        let times = spread_times();
        let (bytes, schema) = paged_part(&times, false);
        assert_eq!(range_read(&bytes, &schema, SEQUENCE), Some((-77, 9_000_000)));
        // A timeframe that keeps row group 0 whole: the range of its rows.
        let ((lo, hi), found) = kept_range(&bytes, &schema, 10_000);
        let group_0: Vec<i64> = times[..1000].iter().flatten().copied().collect();
        assert_eq!((lo, hi), (-77, *group_0.iter().max().unwrap()));
        assert_eq!(found, Some((lo, hi)));
        // One that keeps part of a row group: none found, or that of the rows kept.
        let (kept, found) = kept_range(&bytes, &schema, 2_000);
        assert!(kept.1 < 2_000);
        assert!(found.is_none_or(|f| f == kept), "{found:?} for rows kept in {kept:?}");
    }

    #[test]
    fn times_are_kept_as_offsets_when_every_scan_takes_them() {
        // Dictionary-encoded pages, then plain ones, over row groups of 1,000 rows; groups in
        // any order.
        let times = spread_times();
        let (bytes, schema) = paged_part(&times, false);
        let strict = r#"{"funnel": {"sequence": [{"filter": ["e", "==", "a"]}, {"filter": ["e", "==", "b"]}],
                                   "order": "strict"}}"#;
        let loaded = load(&bytes, &schema, strict);
        let offsets = loaded.time_offsets.expect("a strict funnel over groups in any order");
        assert!(loaded.columns.iter().all(|(name, _)| name != "t"));
        assert!(loaded.dropped.contains(&"t".to_string()));
        let want: Vec<i64> = times.iter().flatten().copied().collect();
        assert_eq!(offsets.to_chunks().values().collect::<Vec<_>>(), want);
        assert_eq!(IntTimes::min_max(&offsets), Some((-77, 9_000_000)));
        // A plain funnel, or a strict one beside a filter on the times: as `i64`.
        let beside = r#"{"query": {"conditions": [{"filter": ["t", ">", 0]}]},
                         "funnel": {"sequence": [{"filter": ["e", "==", "a"]}, {"filter": ["e", "==", "b"]}],
                                    "order": "strict"}}"#;
        for query in [SEQUENCE, beside] {
            let loaded = load(&bytes, &schema, query);
            assert!(loaded.time_offsets.is_none(), "{query}");
            assert!(loaded.columns.iter().any(|(name, _)| name == "t"), "{query}");
        }
        // Times spanning 2^32 - 2 or more (the footer says so), or a row without a time: as
        // `i64` too.
        let wide: Vec<Option<i64>> = times.iter().map(|t| t.map(|t| t * 1_000)).collect();
        let mut null = times.clone();
        null[1200] = None;
        for times in [wide, null] {
            let (bytes, schema) = paged_part(&times, false);
            let loaded = load(&bytes, &schema, strict);
            assert!(loaded.time_offsets.is_none());
            assert!(loaded.columns.iter().any(|(name, _)| name == "t"));
        }
    }

    #[test]
    fn times_with_a_null_or_floats_have_no_range_found() {
        let mut times: Vec<Option<i64>> = (0..1500i64).map(|i| Some(i * 13 % 1499)).collect();
        let (bytes, schema) = paged_part(&times, true);
        assert_eq!(range_read(&bytes, &schema, SEQUENCE), None);
        times[1100] = None;
        let (bytes, schema) = paged_part(&times, false);
        assert_eq!(range_read(&bytes, &schema, SEQUENCE), None);
    }
}
