//! Running a validated query over one part.
//!
//! Data flows one way: [`read_part`] (Parquet → a [`LoadedPart`]: the used columns, normalized,
//! in the reader's chunks, timeframe applied; integer group ids are numbered from their pages'
//! dictionaries (`pages.rs`) or while each batch is in cache, filter masks and sequence step
//! bytes derived, and columns nothing else needs are not kept — `derive.rs`; timestamps kept as
//! 32-bit offsets when every scan takes them so — `time_offsets.rs`) → group numbering (when
//! not done while reading) →
//! conditions, each only for the groups the relation leaves undecided → aggregations and
//! funnel → [`PartialResult`].

mod aggregate;
mod chain;
mod column;
mod deadline;
mod derive;
mod filter;
mod groups;
mod held_chains;
mod pages;
mod prefetch;
mod ranges;
mod read;
mod sequence;
mod time_offsets;
mod time_sort;
mod witness;
mod zeroed;

use std::borrow::Cow;
use std::cell::{OnceCell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Instant;

use arrow::array::RecordBatch;
use arrow::buffer::BooleanBuffer;
use arrow::compute::filter_record_batch;
use arrow::datatypes::{DataType, Float64Type, Int64Type};
use arrow::error::ArrowError;
use parquet::file::reader::ChunkReader;

pub use ranges::{coalesce, footer_len, needed_ranges, parse_footer, SparseFile, COALESCE_GAP, FOOTER_GUESS};
pub use read::{read_columns, read_part, LoadedPart};

use self::aggregate::{aggregate_nested, code_column, AggInput, Coded, Selection};
use self::chain::{ChainRules, ConversionSink, TimesAt, NULL_KEY};
use self::column::Column;
use self::deadline::Deadline;
use self::derive::{step_flags, Derived};
use self::filter::{dictionary_flag_bytes, filter_mask};
use self::groups::{Groups, Members, Timestamps};
use self::sequence::{SequenceMatcher, StepLayout};
use self::time_offsets::{IntTimes, TimeOffsets};
use self::time_sort::{kept_rows, KeptColumns, RowOrder, SteppedOrder, TimeOrder};
use self::zeroed::zeroed;
use crate::conversion::ConversionPartial;
use crate::error::EngineError;
use crate::partial::{PartialAggregation, PartialFunnel, PartialResult, PartialStage};
use crate::query::{
    Aggregation, CmpOp, Condition, ConditionKind, Literal, Relation, RelationExpr, Sequence, Target, ValidatedQuery,
};

/// Hash map with a fast, non-cryptographic hasher (keys come from one part).
pub(crate) type FastMap<K, V> = hashbrown::HashMap<K, V, foldhash::fast::RandomState>;

/// Execution settings.
///
/// ```
/// use std::time::{Duration, Instant};
/// let opts = frocket_engine::ExecOptions::default();
/// assert_eq!((opts.max_distinct_values, opts.deadline), (100_000, None));
/// // A run that must end within a minute (its job's run timeout):
/// let opts = frocket_engine::ExecOptions { deadline: Some(Instant::now() + Duration::from_secs(60)), ..opts };
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExecOptions {
    /// Per part and aggregation, the most distinct values a partial map may hold; beyond it
    /// the part keeps the largest and the result is marked `approximate`.
    pub max_distinct_values: usize,
    /// When the run must stop: it is checked between conditions, sequences and aggregations
    /// and every few thousand groups of a sequence scan, and a run past it fails with
    /// [`EngineError::DeadlineExceeded`]. `None`: no deadline.
    pub deadline: Option<Instant>,
}

impl Default for ExecOptions {
    fn default() -> Self {
        ExecOptions {
            max_distinct_values: 100_000,
            deadline: None,
        }
    }
}

impl ExecOptions {
    /// These options with the run stopping at `deadline`, or at the earlier deadline they
    /// already have.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let (soon, later) = (Instant::now() + Duration::from_secs(1), Instant::now() + Duration::from_secs(9));
    /// let opts = frocket_engine::ExecOptions::default().with_deadline(later).with_deadline(soon);
    /// assert_eq!(opts.with_deadline(later).deadline, Some(soon));
    /// ```
    pub fn with_deadline(self, deadline: Instant) -> Self {
        ExecOptions {
            deadline: Some(self.deadline.map_or(deadline, |d| d.min(deadline))),
            ..self
        }
    }
}

/// Reads one Parquet part and runs the query over it.
///
/// ```no_run
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use frocket_engine::{run_part, validate_query, ExecOptions, DatasetSchema};
/// # let schema: DatasetSchema = unimplemented!();
/// let q = validate_query("{}", &schema, 10)?;
/// let file = std::fs::File::open("part-00000.parquet")?;
/// let partial = run_part("part-00000.parquet", file, &q, &ExecOptions::default())?;
/// println!("{}", partial.query.groups);
/// # Ok(()) }
/// ```
pub fn run_part<R: ChunkReader + 'static>(
    file: &str,
    reader: R,
    query: &ValidatedQuery,
    opts: &ExecOptions,
) -> Result<PartialResult, EngineError> {
    let part = read_part(file, reader, query)?;
    execute(file, part, query, opts)
}

/// Runs the query over a part returned by [`read_part`] for the same query (columns read,
/// normalized, timeframe applied). Lets a caller time loading and running separately. Takes
/// the part: columns are released as soon as execution no longer needs them.
pub fn run_loaded(
    file: &str,
    part: LoadedPart,
    query: &ValidatedQuery,
    opts: &ExecOptions,
) -> Result<PartialResult, EngineError> {
    execute(file, part, query, opts)
}

/// Runs the query over an in-memory batch holding one part's rows (the timeframe is applied
/// here). `file` names the data in errors.
pub fn run_batch(
    file: &str,
    batch: &RecordBatch,
    query: &ValidatedQuery,
    opts: &ExecOptions,
) -> Result<PartialResult, EngineError> {
    let bad = |e: ArrowError| EngineError::PartRead {
        file: file.to_string(),
        message: e.to_string(),
    };
    let mut cols = Vec::with_capacity(query.columns.len());
    for c in &query.columns_to_read() {
        let idx = batch.schema().index_of(c).map_err(|_| EngineError::MissingColumn {
            file: file.to_string(),
            column: c.clone(),
        })?;
        cols.push(idx);
    }
    let batch = read::normalize_batch(&batch.project(&cols).map_err(bad)?).map_err(bad)?;
    let batch = if query.timeframe.is_unbounded() {
        batch
    } else {
        let ts = batch
            .column_by_name(&query.timestamp_column)
            .cloned()
            .ok_or_else(|| EngineError::MissingColumn {
                file: file.to_string(),
                column: query.timestamp_column.clone(),
            })?;
        let mask = read::timeframe_mask(&ts, &query.timeframe).map_err(bad)?;
        filter_record_batch(&batch, &mask).map_err(bad)?
    };
    execute(file, LoadedPart::from_batch(&batch), query, opts)
}

/// One part's data, ready for execution.
struct Part<'a> {
    file: &'a str,
    columns: HashMap<String, Column>,
    groups: Groups,
    /// Filter masks and step bytes derived as the part was read.
    derived: Derived,
    /// Present when the query needs timestamps (see `ValidatedQuery::needs_timestamps`),
    /// unless they were read as offsets.
    ts: Option<Timestamps>,
    /// The timestamps as 32-bit offsets, when read so (see `time_offsets.rs`).
    offsets: Option<TimeOffsets>,
    /// The timestamps made from `offsets`, for a scan that reads them as `i64` after all.
    from_offsets: OnceCell<Timestamps>,
    coded: RefCell<HashMap<String, Rc<Coded>>>,
    opts: &'a ExecOptions,
}

impl Part<'_> {
    fn column(&self, name: &str) -> Result<&Column, EngineError> {
        self.columns.get(name).ok_or_else(|| EngineError::MissingColumn {
            file: self.file.to_string(),
            column: name.to_string(),
        })
    }

    /// An error once the run's deadline has passed.
    fn check_deadline(&self) -> Result<(), EngineError> {
        if Deadline(self.opts.deadline).passed() {
            return Err(EngineError::DeadlineExceeded {
                file: self.file.to_string(),
            });
        }
        Ok(())
    }

    fn arrow_err(&self, e: ArrowError) -> EngineError {
        EngineError::PartRead {
            file: self.file.to_string(),
            message: e.to_string(),
        }
    }

    /// The rows matching every filter of `filters` (masks derived while reading, or evaluated
    /// on the columns).
    fn row_mask(&self, filters: &[crate::query::Filter]) -> Result<BooleanBuffer, EngineError> {
        let mut acc: Option<BooleanBuffer> = None;
        for f in filters {
            let m = match self.derived.mask(f) {
                Some(m) => m.clone(),
                None => self
                    .column(&f.column)?
                    .map_bits(|chunk| filter_mask(chunk, f))
                    .map_err(|e| self.arrow_err(e))?,
            };
            acc = Some(match acc {
                Some(a) => &a & &m,
                None => m,
            });
        }
        Ok(acc.unwrap_or_else(|| BooleanBuffer::new_set(self.groups.rows)))
    }

    fn timestamps(&self) -> Result<&Timestamps, EngineError> {
        if let Some(offsets) = &self.offsets {
            return Ok(self.from_offsets.get_or_init(|| Timestamps::Int(offsets.to_chunks())));
        }
        self.ts.as_ref().ok_or_else(|| EngineError::MissingColumn {
            file: self.file.to_string(),
            column: "(timestamps not read)".into(),
        })
    }

    /// Whether the timestamps are INT (as `i64` or offsets).
    fn int_timestamps(&self) -> Result<bool, EngineError> {
        Ok(self.offsets.is_some() || matches!(self.timestamps()?, Timestamps::Int(_)))
    }

    fn all_groups(&self) -> BooleanBuffer {
        BooleanBuffer::new_set(self.groups.count)
    }

    /// Positive steps of `m` each group in `selected` (all when `None`) reached; 0 for the
    /// others, and for groups that cannot reach `need` steps. Sequences a greedy scan decides
    /// over integer timestamps need no time order; the others scan each group's rows sorted by
    /// time.
    ///
    /// A sequence with options (`within`, `holdConstant`, `order: strict`) or whose times to
    /// convert are wanted (`sink`) runs on the exact chain matcher (`chain.rs`).
    fn reached(
        &self,
        m: &SequenceMatcher,
        seq: &Sequence,
        selected: Option<&BooleanBuffer>,
        need: usize,
        sink: Option<ConversionSink<'_>>,
    ) -> Result<Vec<u32>, EngineError> {
        self.check_deadline()?;
        let reached = self.scan_reached(m, seq, selected, need, sink)?;
        // A scan stops early once the deadline has passed: its results are then incomplete.
        self.check_deadline()?;
        Ok(reached)
    }

    /// The scans of a part in any order that put no group's rows in time order, when one
    /// applies (`None` otherwise): chains that need no order (a plain greedy chain holding a
    /// column or giving times to convert) row by row (`held_chains.rs`); strict order decided
    /// step by step, most groups shown to reach their steps by a chain found row by row and
    /// the few others put in time order (`strict_visits`, then `SteppedOrder`). Over times as
    /// `i64` or offsets.
    fn reached_unsorted<T: IntTimes>(
        &self,
        m: &SequenceMatcher,
        seq: &Sequence,
        selected: Option<&BooleanBuffer>,
        need: usize,
        sink: Option<&mut ConversionSink<'_>>,
        t: &T,
    ) -> Result<Option<Vec<u32>>, EngineError> {
        let with_sink = sink.is_some();
        if self.groups.contiguous || !(seq.has_options() || with_sink) {
            return Ok(None);
        }
        let rules = ChainRules::of(seq);
        let (of_row, count) = (self.groups.of_row(), self.groups.count);
        // (Over parts written group by group, the scan group by group is faster: it reads
        // each group's rows in place. Row by row goes over every group's rows: when a query
        // selects fewer than half the groups, the scan of those alone is faster.)
        let most = selected.is_none_or(|s| s.count_set_bits() * 2 >= count);
        if most && m.unordered_chains(&rules, true) {
            // A single held scalar column's codes are each row's held value as they are.
            let one = match seq.hold_constant.as_slice() {
                [c] => Some(self.coded(c)?),
                _ => None,
            };
            let held = self.held_rows(&seq.hold_constant, one.as_deref())?;
            return Ok(m.held_chains_rowwise(t, of_row, count, held.as_deref(), selected, sink));
        }
        if !m.strict_by_steps(&rules) || !seq.hold_constant.is_empty() || with_sink {
            return Ok(None);
        }
        let first_alone = !self.held_may_be_null(&seq.hold_constant)?;
        let rule = m.visit_rule(need.max(1), first_alone);
        let Some(visits) = m.strict_visits(rules.within(), t, of_row, count, selected, rule) else {
            return Ok(None);
        };
        let order = m
            .byte_bits(0..self.groups.rows)
            .and_then(|bits| SteppedOrder::of(&self.groups, t, Some(&visits.keep), bits));
        let Some(order) = order else {
            return Ok(None);
        };
        let mut reached = m.reached_strict(&rules, &order, selected, None);
        visits.mark_unvisited(&mut reached);
        Ok(Some(reached))
    }

    /// [`Part::reached`] without looking at the deadline.
    fn scan_reached(
        &self,
        m: &SequenceMatcher,
        seq: &Sequence,
        selected: Option<&BooleanBuffer>,
        need: usize,
        mut sink: Option<ConversionSink<'_>>,
    ) -> Result<Vec<u32>, EngineError> {
        // Times read as offsets: the scans that take them (`time_offsets.rs`), else made
        // into `i64` times below.
        if let Some(t) = &self.offsets {
            if let Some(reached) = self.reached_unsorted(m, seq, selected, need, sink.as_mut(), t)? {
                return Ok(reached);
            }
        }
        let ts = self.timestamps()?;
        if let (Timestamps::Int(t), false, false, false) =
            (ts, self.groups.contiguous, seq.has_options(), sink.is_some())
        {
            if m.is_greedy() {
                // Rows in any order: row by row, not group by group.
                return Ok(m.reached_rowwise(t, self.groups.of_row(), self.groups.count, selected));
            }
        }
        // Rows in any order: scanned in the part's time order (each group's rows adjacent and
        // sorted; see `TimeOrder`), so that scans read times and step bits sequentially. A
        // chain that needs no time order (a plain greedy one, `holdConstant` or the time to
        // convert aside) takes each group's rows adjacent but unsorted.
        let chains = (seq.has_options() || sink.is_some()).then(|| ChainRules::of(seq));
        let sorted = !chains
            .as_ref()
            .is_some_and(|rules| m.unordered_chains(rules, matches!(ts, Timestamps::Int(_))));
        let (permuted, ordered_ts, order_offsets, list);
        let mut visits = None;
        let mut at = TimesAt::Direct;
        // A single held scalar column's codes are each row's held value as they are.
        let one = match (&chains, seq.hold_constant.as_slice()) {
            (Some(_), [c]) => Some(self.coded(c)?),
            _ => None,
        };
        let (m, ts, members, held) = if self.groups.contiguous {
            let held = match chains {
                Some(_) => self.held_rows(&seq.hold_constant, one.as_deref())?,
                None => None,
            };
            (m, ts, self.groups.members(), held)
        } else {
            // Built for this sequence and not kept: once the step bits and held values are in
            // its order, the row numbers are dropped (a part rarely has two sequences). Only
            // of the groups a scan visits: those selected, with rows of the steps needed.
            // A group with rows of step 0 only reaches one step when nothing can keep a row of
            // it from starting a chain (no negative step; nothing held, or no held value null).
            // (Not again over times made from offsets.)
            if let (Timestamps::Int(t), None) = (ts, &self.offsets) {
                if let Some(reached) = self.reached_unsorted(m, seq, selected, need, sink.as_mut(), t)? {
                    return Ok(reached);
                }
            }
            let chain_need = if chains.is_some() { need.max(1) } else { need };
            let first_alone = chains.is_none() || !self.held_may_be_null(&seq.hold_constant)?;
            // A sequence with a window or negative steps (no chain rules): most groups that
            // match are shown to by a chain of rows found row by row over the part, without
            // any order (see `witness.rs`); they are not visited. Its rows of positive steps
            // (a few in ten) are kept apart first: they tell the groups to visit too.
            let positive = match (&chains, m.is_greedy(), ts) {
                (None, false, Timestamps::Int(t)) => m.positive_rows(t, self.groups.of_row()),
                _ => None,
            };
            visits = m.candidates(
                self.groups.of_row(),
                positive.as_ref().map(|p| (p.groups.as_slice(), p.bits.as_slice())),
                self.groups.count,
                selected,
                chain_need,
                first_alone,
            );
            if let (Some(positive), Timestamps::Int(t), Some(v)) = (&positive, ts, visits.as_mut()) {
                m.witness_rowwise(t, self.groups.of_row(), positive, v);
            }
            drop(positive);
            // A scan without chain rules decides most groups without order (a chain of rows
            // found to match) and sorts the others' positions itself: the order is left
            // unsorted for it.
            let keep = visits.as_ref().map(|v| v.keep.as_slice());
            // Strict order decided step by step needs each group's times and step bits in
            // time order, nothing else of a row: one key a row holds both.
            let bits = m.byte_bits(0..self.groups.rows);
            if let (Some(rules), Timestamps::Int(t), true, Some(bits)) = (
                chains.as_ref().filter(|r| m.strict_by_steps(r)),
                ts,
                seq.hold_constant.is_empty(),
                bits,
            ) {
                if let Some(order) = SteppedOrder::of(&self.groups, t, keep, bits) {
                    let mut reached = m.reached_strict(rules, &order, selected, sink);
                    visits.iter().for_each(|v| v.mark_unvisited(&mut reached));
                    return Ok(reached);
                }
            }
            if !sorted {
                // Chains that need no order: each kept group's rows adjacent, in part order —
                // their times (offsets from the part's first instant), step bits and held
                // values placed by one scatter that reads each in part order (scanned
                // sequentially after); or — times spanning 2^32 or more — a list of the
                // rows, through which the times are looked up.
                let held_rows = self.held_rows(&seq.hold_constant, one.as_deref())?;
                let kept = match (ts, bits) {
                    (Timestamps::Int(t), Some(bits)) => {
                        KeptColumns::of(&self.groups, keep, t, bits, held_rows.as_deref())
                    }
                    _ => None,
                };
                let held;
                (at, held) = match kept {
                    Some(kept) => {
                        permuted = m.with_bits(kept.bits);
                        (list, order_offsets) = (kept.times, kept.offsets);
                        (
                            TimesAt::Offsets {
                                offsets: &list,
                                base: kept.base,
                            },
                            kept.held.map(Cow::Owned),
                        )
                    }
                    None => {
                        let (rows, offsets) = kept_rows(&self.groups, keep);
                        permuted = m.permuted(&rows);
                        let held = held_rows.map(|h| {
                            Cow::Owned(
                                rows.iter()
                                    .map(|&r| h.get(r as usize).copied().unwrap_or(NULL_KEY))
                                    .collect(),
                            )
                        });
                        (list, order_offsets) = (rows, offsets);
                        (TimesAt::Rows(&list), held)
                    }
                };
                (&permuted, ts, Members::Runs(&order_offsets), held)
            } else {
                let order = TimeOrder::of(&self.groups, ts, keep, chains.is_some());
                permuted = m.permuted_by(order.rows().iter());
                let held = match chains {
                    Some(_) => self.held_keys(&seq.hold_constant, Some(order.rows()))?.map(Cow::Owned),
                    None => None,
                };
                (ordered_ts, order_offsets) = order.into_times();
                (&permuted, &ordered_ts, Members::Runs(&order_offsets), held)
            }
        };
        let mut reached = match (chains, ts) {
            (Some(rules), _) => m.reached_chains(&rules, ts, at, members, selected, need, held.as_deref(), sink),
            (None, Timestamps::Int(t)) if m.is_greedy() => m.reached_unordered(t, members, selected),
            (None, _) => m.reached_per_group(ts, members, selected, need),
        };
        visits.iter().for_each(|v| v.mark_unvisited(&mut reached));
        Ok(reached)
    }

    /// The coded values of `column` (coded once per part, shared by aggregations and held
    /// columns).
    fn coded(&self, column: &str) -> Result<Rc<Coded>, EngineError> {
        let mut cache = self.coded.borrow_mut();
        if let Some(c) = cache.get(column) {
            return Ok(c.clone());
        }
        let c = Rc::new(code_column(self.column(column)?).map_err(|e| self.arrow_err(e))?);
        cache.insert(column.to_string(), c.clone());
        Ok(c)
    }

    /// Whether a row may have no held value (a null in a held column; see
    /// [`Part::held_keys`]): `false` when nothing is held.
    fn held_may_be_null(&self, columns: &[String]) -> Result<bool, EngineError> {
        for c in columns {
            if self.coded(c)?.may_have_null(self.groups.rows) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Each row's held value in row order ([`Part::held_keys`]), borrowed from `one` (the
    /// coded column when a single one is held) when it is a scalar column's codes.
    fn held_rows<'a>(&self, columns: &[String], one: Option<&'a Coded>) -> Result<Option<Cow<'a, [u32]>>, EngineError> {
        Ok(match one.and_then(Coded::scalar_codes) {
            Some(codes) => Some(Cow::Borrowed(codes)),
            None => self.held_keys(columns, None)?.map(Cow::Owned),
        })
    }

    /// Each row's held value (`holdConstant`): one code per distinct combination of the
    /// columns' values, [`NULL_KEY`] when any is null; `None` when nothing is held.
    /// With `order`, the values of rows `order[0]`, `order[1]`, … (the rows in another order).
    fn held_keys(&self, columns: &[String], order: Option<RowOrder<'_>>) -> Result<Option<Vec<u32>>, EngineError> {
        let rows = self.groups.rows;
        let mut keys: Option<Vec<u32>> = None;
        for c in columns {
            let coded = self.coded(c)?;
            let codes = match order {
                Some(order) => coded.codes_at(order.iter(), rows),
                None => coded.row_codes(rows),
            };
            let codes = codes.ok_or_else(|| EngineError::ColumnType {
                file: self.file.to_string(),
                column: c.clone(),
                found: self
                    .column(c)
                    .map(|col| col.data_type().to_string())
                    .unwrap_or_default(),
                expected: "INT, STRING or BOOL".into(),
            })?;
            keys = Some(match keys {
                None => codes,
                // Pairs of (codes so far, this column's code) numbered in order of appearance.
                Some(mut acc) => {
                    let mut pairs: FastMap<(u32, u32), u32> = FastMap::default();
                    for (a, &b) in acc.iter_mut().zip(&codes) {
                        if *a == NULL_KEY || b == NULL_KEY {
                            *a = NULL_KEY;
                        } else {
                            let next = pairs.len() as u32;
                            *a = *pairs.entry((*a, b)).or_insert(next);
                        }
                    }
                    acc
                }
            });
        }
        Ok(keys)
    }

    /// The matcher of `seq`'s steps, its scans stopping at the run's deadline.
    fn sequence_matcher(&self, seq: &Sequence) -> Result<SequenceMatcher, EngineError> {
        let mut m = self.step_matcher(seq)?;
        m.deadline = Deadline(self.opts.deadline);
        Ok(m)
    }

    fn step_matcher(&self, seq: &Sequence) -> Result<SequenceMatcher, EngineError> {
        let found: Vec<bool> = seq.steps.iter().map(|s| s.row_found).collect();
        let layout = StepLayout::of(&found);
        if let Some(bits) = self.step_bytes(seq)? {
            if let Some(m) = SequenceMatcher::from_row_bytes(layout, bits, seq.max_duration) {
                return Ok(m);
            }
        }
        let steps = seq
            .steps
            .iter()
            .map(|s| Ok((self.row_mask(&s.filters)?, s.row_found)))
            .collect::<Result<Vec<_>, EngineError>>()?;
        Ok(SequenceMatcher::new(steps, seq.max_duration, self.groups.rows))
    }

    /// Each row's step bits, when every step is one filter on one column and a row's bits fit
    /// a byte (the usual `event == …` steps): derived as the part was read, or read off the
    /// column when it is a dictionary column (the steps evaluated once per dictionary value,
    /// then one table lookup per row, instead of a mask per step). `None` otherwise.
    fn step_bytes(&self, seq: &Sequence) -> Result<Option<Vec<u8>>, EngineError> {
        let Some(flags) = step_flags(seq) else {
            return Ok(None);
        };
        if let Some(bytes) = self.derived.step_bytes(&flags) {
            return Ok(Some(bytes.to_vec()));
        }
        let col = self.column(&flags[0].0.column)?;
        dictionary_flag_bytes(col, &flags).map_err(|e| self.arrow_err(e))
    }

    /// Groups whose rows satisfy the condition: exact for the groups of `within` (all when
    /// `None`), unspecified for the others.
    fn condition(&self, cond: &Condition, within: Option<&BooleanBuffer>) -> Result<BooleanBuffer, EngineError> {
        self.check_deadline()?;
        let groups = &self.groups;
        let ng = groups.count;
        match &cond.kind {
            ConditionKind::Filters {
                filters,
                target,
                include_zero,
            } => {
                let rows = self.row_mask(filters)?;
                match target {
                    Target::Count { op, value } => {
                        let mut counts = vec![0i64; ng];
                        groups.each_row_group(&rows, within, |_, g| counts[g] += 1);
                        Ok(BooleanBuffer::collect_bool(ng, |g| {
                            if counts[g] == 0 {
                                *include_zero
                            } else {
                                op.apply(&counts[g], value)
                            }
                        }))
                    }
                    Target::Sum { column, op, value } => {
                        let col = self.column(column)?;
                        let type_err = || EngineError::ColumnType {
                            file: self.file.to_string(),
                            column: column.clone(),
                            found: col.data_type().to_string(),
                            expected: "INT or FLOAT".into(),
                        };
                        let ints = |(sums, has): (Vec<i128>, Vec<bool>)| match value {
                            Literal::Int(v) => {
                                let v = *v as i128;
                                BooleanBuffer::collect_bool(ng, |g| has[g] && op.apply(&sums[g], &v))
                            }
                            v => {
                                let v = v.as_f64().unwrap_or(f64::NAN);
                                BooleanBuffer::collect_bool(ng, |g| has[g] && op.apply(&(sums[g] as f64), &v))
                            }
                        };
                        let floats = |(sums, has): (Vec<f64>, Vec<bool>)| {
                            let v = value.as_f64().unwrap_or(f64::NAN);
                            BooleanBuffer::collect_bool(ng, |g| has[g] && op.apply(&sums[g], &v))
                        };
                        match col.data_type() {
                            DataType::Int64 => {
                                let a = col.primitive::<Int64Type>().ok_or_else(type_err)?;
                                Ok(ints(sum_groups(groups, &rows, within, |r| {
                                    a.is_valid(r).then(|| a.value(r) as i128)
                                })))
                            }
                            DataType::Float64 => {
                                let a = col.primitive::<Float64Type>().ok_or_else(type_err)?;
                                Ok(floats(sum_groups(groups, &rows, within, |r| {
                                    a.is_valid(r).then(|| a.value(r))
                                })))
                            }
                            // Kept as dictionary entries (see `read.rs`).
                            DataType::Dictionary(_, values) if **values == DataType::Int64 => {
                                let a = col.dictionary_numbers::<Int64Type>().ok_or_else(type_err)?;
                                Ok(ints(sum_groups(groups, &rows, within, |r| {
                                    a.is_valid(r).then(|| a.value(r) as i128)
                                })))
                            }
                            DataType::Dictionary(_, values) if **values == DataType::Float64 => {
                                let a = col.dictionary_numbers::<Float64Type>().ok_or_else(type_err)?;
                                Ok(floats(sum_groups(groups, &rows, within, |r| {
                                    a.is_valid(r).then(|| a.value(r))
                                })))
                            }
                            _ => Err(type_err()),
                        }
                    }
                }
            }
            ConditionKind::Sequence(seq) => {
                let m = self.sequence_matcher(seq)?;
                // Only groups reaching every step match: the others need no scan.
                let reached = self.reached(&m, seq, within, m.len(), None)?;
                let need = m.len() as u32;
                Ok(BooleanBuffer::collect_bool(ng, |g| reached[g] == need))
            }
        }
    }

    fn stage(&self, selected: &BooleanBuffer, aggs: &[Aggregation]) -> Result<PartialStage, EngineError> {
        let mut rows = 0u64;
        for g in selected.set_indices() {
            rows += self.groups.sizes[g] as u64;
        }
        Ok(PartialStage {
            groups: selected.count_set_bits() as u64,
            rows,
            aggregations: self.aggregations(selected, aggs)?,
        })
    }

    fn aggregations(
        &self,
        selected: &BooleanBuffer,
        aggs: &[Aggregation],
    ) -> Result<Vec<PartialAggregation>, EngineError> {
        let mut per_selection = self.nested_aggregations(&Selection::One(selected), aggs)?;
        Ok(per_selection.pop().unwrap_or_default())
    }

    /// Each aggregation over each selection: `result[aggregation][selection]`, transposed to
    /// `[selection][aggregation]`.
    fn nested_aggregations(
        &self,
        sel: &Selection<'_>,
        aggs: &[Aggregation],
    ) -> Result<Vec<Vec<PartialAggregation>>, EngineError> {
        let per_agg: Vec<Vec<PartialAggregation>> = aggs
            .iter()
            .map(|a| {
                self.check_deadline()?;
                let column = self.column(&a.column)?;
                let coded = if a.agg_type == crate::query::AggregationType::Count {
                    None
                } else {
                    Some(self.coded(&a.column)?)
                };
                let other = a.other_column.as_deref().map(|o| self.column(o)).transpose()?;
                let input = AggInput {
                    groups: &self.groups,
                    column,
                    coded: coded.as_deref(),
                    other,
                    max_distinct: self.opts.max_distinct_values.max(1),
                };
                aggregate_nested(a, &input, sel).map_err(|e| self.arrow_err(e))
            })
            .collect::<Result<_, _>>()?;
        let mut per_selection: Vec<Vec<PartialAggregation>> =
            (0..sel.count()).map(|_| Vec::with_capacity(aggs.len())).collect();
        for results in per_agg {
            for (row, r) in per_selection.iter_mut().zip(results) {
                row.push(r);
            }
        }
        Ok(per_selection)
    }
}

/// Each group's sum of `value` over its rows of `rows` (within the groups of `within`; rows
/// whose `value` is `None` add nothing), and whether it has such a row at all.
fn sum_groups<A: Copy + Default + std::ops::AddAssign>(
    groups: &Groups,
    rows: &BooleanBuffer,
    within: Option<&BooleanBuffer>,
    value: impl Fn(usize) -> Option<A>,
) -> (Vec<A>, Vec<bool>) {
    // (Updated at random: every page written up front, see `zeroed.rs`.)
    let mut sums: Vec<A> = zeroed(groups.count);
    let mut has: Vec<bool> = zeroed(groups.count);
    groups.each_row_group(rows, within, |r, g| {
        has[g] = true;
        if let Some(v) = value(r) {
            sums[g] += v;
        }
    });
    (sums, has)
}

/// Groups matching the relation `e` over `conditions`: exact for the groups of `within` (all
/// when `None`), unspecified for the others. The right side of `and` is evaluated only for
/// the groups the left side matches, the right side of `or` only for those it does not: a
/// condition is evaluated only for groups it can still decide.
fn eval_relation(
    part: &Part<'_>,
    conditions: &[Condition],
    e: &RelationExpr,
    within: Option<&BooleanBuffer>,
) -> Result<BooleanBuffer, EngineError> {
    Ok(match e {
        RelationExpr::Cond(i) => part.condition(&conditions[*i], within)?,
        RelationExpr::Not(x) => !&eval_relation(part, conditions, x, within)?,
        RelationExpr::And(a, b) => {
            let left = eval_relation(part, conditions, a, within)?;
            let undecided = within.map_or_else(|| left.clone(), |w| w & &left);
            &left & &eval_relation(part, conditions, b, Some(&undecided))?
        }
        RelationExpr::Or(a, b) => {
            let left = eval_relation(part, conditions, a, within)?;
            let undecided = within.map_or_else(|| !&left, |w| w & &!&left);
            &left | &eval_relation(part, conditions, b, Some(&undecided))?
        }
    })
}

/// Runs the query over one part's normalized, timeframe-filtered columns.
fn execute(
    file: &str,
    loaded: LoadedPart,
    query: &ValidatedQuery,
    opts: &ExecOptions,
) -> Result<PartialResult, EngineError> {
    let mut columns: HashMap<String, Column> = loaded.columns.into_iter().collect();
    let missing = |column: &str| EngineError::MissingColumn {
        file: file.to_string(),
        column: column.to_string(),
    };
    // Columns the reader numbered or derived everything needed from are not kept.
    if let Some(c) = query
        .columns_to_read()
        .iter()
        .find(|c| !(columns.contains_key(c.as_str()) || loaded.dropped.contains(c)))
    {
        return Err(missing(c));
    }
    let groups = match loaded.groups {
        // Numbered as the part was read.
        Some(groups) => groups,
        None => {
            // Once numbered, the ids themselves are needed only if a filter or aggregation
            // uses them; otherwise numbering releases them as it goes.
            let gcol = if query.column_used_outside_time(&query.group_id_column) {
                columns.get(query.group_id_column.as_str()).cloned()
            } else {
                columns.remove(query.group_id_column.as_str())
            }
            .ok_or_else(|| missing(&query.group_id_column))?;
            Groups::build(file, &query.group_id_column, gcol, query.rows_need_groups())?
        }
    };
    let offsets = loaded.time_offsets.filter(|_| query.needs_timestamps());
    let ts = if query.needs_timestamps() && offsets.is_none() {
        let col = columns
            .get(query.timestamp_column.as_str())
            .ok_or_else(|| missing(&query.timestamp_column))?;
        let ts = Timestamps::from_column(file, &query.timestamp_column, col)?;
        Some(ts)
    } else {
        None
    };
    let part = Part {
        file,
        columns,
        groups,
        derived: loaded.derived,
        ts,
        offsets,
        from_offsets: OnceCell::new(),
        coded: RefCell::new(
            loaded
                .coded
                .into_iter()
                .map(|(name, coded)| (name, Rc::new(coded)))
                .collect(),
        ),
        opts,
    };

    // Conditions and relation → matching groups.
    let matching = if query.conditions.is_empty() {
        part.all_groups()
    } else {
        match &query.relation {
            Relation::Expr(e) => eval_relation(&part, &query.conditions, e, None)?,
            // `and` / `or` between all conditions, each evaluated only for the groups the
            // ones before left undecided.
            Relation::And | Relation::Or => {
                let and = matches!(query.relation, Relation::And);
                let mut acc: Option<BooleanBuffer> = None;
                for c in &query.conditions {
                    let undecided = acc.as_ref().map(|a| if and { a.clone() } else { !a });
                    let r = part.condition(c, undecided.as_ref())?;
                    acc = Some(match acc {
                        None => r,
                        Some(a) if and => &a & &r,
                        Some(a) => &a | &r,
                    });
                }
                acc.unwrap_or_else(|| part.all_groups())
            }
        }
    };
    let query_stage = part.stage(&matching, &query.aggregations)?;

    let funnel = match &query.funnel {
        None => None,
        Some(f) => {
            let m = part.sequence_matcher(&f.sequence)?;
            let int_ts = part.int_timestamps()?;
            let bins = f
                .conversion_time
                .as_ref()
                .map(|c| c.bins.as_slice())
                .unwrap_or_default();
            let mut conversion: Vec<ConversionPartial> = match &f.conversion_time {
                Some(_) => (1..m.len())
                    .map(|_| ConversionPartial::new(int_ts, bins.len()))
                    .collect(),
                None => vec![],
            };
            let sink = f.conversion_time.as_ref().map(|_| ConversionSink {
                partials: &mut conversion,
                bins,
            });
            let reached = part.reached(&m, &f.sequence, Some(&matching), 1, sink)?;
            // Step k's groups are those that reached more than k steps: nested selections,
            // aggregated in one pass per aggregation.
            let n = m.len();
            let mut groups_at = vec![0u64; n];
            let mut rows_at = vec![0u64; n];
            for (g, &level) in reached.iter().enumerate() {
                if level > 0 {
                    groups_at[level as usize - 1] += 1;
                    rows_at[level as usize - 1] += part.groups.sizes[g] as u64;
                }
            }
            let any = BooleanBuffer::collect_bool(part.groups.count, |g| reached[g] > 0);
            let sel = Selection::Nested {
                levels: &reached,
                count: n,
                any: &any,
            };
            let mut step_aggs = part.nested_aggregations(&sel, &f.step_aggregations)?;
            let mut steps = Vec::with_capacity(n);
            for k in 0..n {
                steps.push(PartialStage {
                    groups: groups_at[k..].iter().sum(),
                    rows: rows_at[k..].iter().sum(),
                    aggregations: std::mem::take(&mut step_aggs[k]),
                });
            }
            let last = BooleanBuffer::collect_bool(part.groups.count, |g| reached[g] >= n as u32);
            let end_aggregations = part.aggregations(&last, &f.end_aggregations)?;
            Some(PartialFunnel {
                steps,
                end_aggregations,
                conversion,
            })
        }
    };
    Ok(PartialResult {
        query: query_stage,
        funnel,
        scanned_rows: part.groups.rows as u64,
        scanned_groups: part.groups.count as u64,
    })
}

#[allow(dead_code)]
fn _assert_cmp_op_used(_: CmpOp) {}
