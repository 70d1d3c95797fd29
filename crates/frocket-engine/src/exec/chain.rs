//! Exact chain matching for sequences with the options of query-language.md's "Sequence
//! options": `within` per step, `order: strict`, `holdConstant`, and the funnel's first
//! conversion per step (`conversionTime`).
//!
//! Plain sequences keep the fast paths of `sequence.rs`; a sequence with an option comes here.
//! A group's rows (with `holdConstant`: the rows of each held value, one *universe* at a time)
//! are sorted by time and scanned once, batch by batch of equal timestamps. For every positive
//! step `k` the scan keeps the chain prefixes ending at step `k` that can still be extended:
//! entries `(t, s)` — the prefix's last row time and its start — in a deque ordered by `t`:
//!
//! - `within` of step `k + 1` expires entries from the front (oldest `t`);
//! - a negative row of the gap after step `k` removes all entries (they are all before it);
//! - `order: strict` keeps only the entry of the batch just before;
//! - an entry dominated by a newer one is dropped when the newer one is pushed.
//!
//! What dominates depends on what the start is needed for ([`Mode`]). Without `maxDuration`
//! the start only matters for the time to convert, where the earliest start is wanted: a newer
//! entry with an earlier or equal start dominates ([`Mode::MinStart`]), and the front holds the
//! earliest start. With `maxDuration` a later start leaves more room: a newer entry with a later
//! or equal start dominates ([`Mode::MaxStart`]); the front holds the latest start, and entries
//! whose start is too old for the current row leave from the back. Both passes are linear.
//!
//! With `maxDuration` and either a trailing negative step (whose forbidden window ends
//! `maxDuration` after the start) or the time to convert (the earliest start, not the latest),
//! each candidate start is tried in turn, earliest first, over the rows of its window only.

use std::collections::VecDeque;

use arrow::buffer::BooleanBuffer;
use arrow::datatypes::ArrowNativeType;

use super::groups::{min_max, Members, Timestamps, TsChunks};
use super::held_chains::RunScratch;
use super::sequence::{SequenceMatcher, TsValue};
use super::time_sort::{sort_keys, step_key_parts, SteppedOrder, TimeSorter, STEP_KEY_BITS};
use crate::conversion::ConversionPartial;
use crate::query::{Order, Sequence};

/// A held value that is null (the row joins no chain).
pub(crate) const NULL_KEY: u32 = u32::MAX;

/// Held values of a group whose chains a greedy scan in any order follows side by side before
/// splitting the rows by value pays (see `SequenceMatcher::unordered_run`).
const MAX_CANDIDATES: usize = 8;

/// Where a scan finds the time of a position of its members (see
/// [`SequenceMatcher::reached_chains`]).
#[derive(Clone, Copy, Debug)]
pub(crate) enum TimesAt<'a> {
    /// `ts[p]`: the positions index the times.
    Direct,
    /// `ts[rows[p]]`: the positions are the part's rows in another order (the row at each).
    Rows(&'a [u32]),
    /// `base + offsets[p]`: each position's integer time, gathered in the positions' order as
    /// an offset from the part's first instant.
    Offsets { offsets: &'a [u32], base: i64 },
}

/// A position's time for a scan in any order (see [`TimesAt`]).
#[derive(Clone, Copy)]
struct TimeAt<'a, T: ArrowNativeType> {
    ts: &'a TsChunks<T>,
    at: TimesAt<'a>,
}

impl<T: TsValue> TimeAt<'_, T> {
    #[inline(always)]
    fn get(&self, p: usize) -> T {
        match self.at {
            TimesAt::Direct => self.ts[p],
            TimesAt::Rows(rows) => self.ts[rows[p] as usize],
            TimesAt::Offsets { offsets, base } => T::from_i64(base.wrapping_add(i64::from(offsets[p]))),
        }
    }
}

/// The rules of a sequence beyond its steps and negative steps.
pub(crate) struct ChainRules {
    /// `within` of each positive step (`None` for the first and where not set).
    within: Vec<Option<f64>>,
    strict: bool,
    max_duration: Option<f64>,
}

impl ChainRules {
    /// The rules of `seq`.
    pub(crate) fn of(seq: &Sequence) -> Self {
        ChainRules {
            within: seq.steps.iter().filter(|s| s.row_found).map(|s| s.within).collect(),
            strict: seq.order == Order::Strict,
            max_duration: seq.max_duration,
        }
    }
}

impl ChainRules {
    /// `within` of each positive step (`None` for the first and where not set).
    pub(crate) fn within(&self) -> &[Option<f64>] {
        &self.within
    }

    /// No `within`, no strict order, no window: only `holdConstant` or the time to convert.
    fn is_plain(&self) -> bool {
        !self.strict && self.max_duration.is_none() && self.within.iter().all(Option::is_none)
    }
}

/// Which entries dominate: see the module doc.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    MinStart,
    MaxStart,
}

/// The first conversion per step: `(start, time)` of the chain with the earliest start, and
/// among those the earliest row of the step.
type Conv<T> = Vec<Option<(T, T)>>;

/// Buffers reused from group to group.
struct Scratch<T> {
    deques: Vec<VecDeque<(T, T)>>,
    /// The prefixes of `order: strict` (one per step: see [`Prefixes`]).
    slots: Vec<Option<(T, T)>>,
    new: Vec<Option<T>>,
    conv: Conv<T>,
    window_conv: Conv<T>,
    group_conv: Conv<T>,
    starts: Vec<T>,
    rows: Vec<u32>,
    keyed: Vec<u64>,
    universe: Vec<u32>,
    candidates: Vec<u32>,
    times: Vec<T>,
    /// A group's rows for [`SequenceMatcher::unordered_run`]: times, step words, held values.
    run: RunRows,
    /// Room for [`SequenceMatcher::held_chains_run`], and its first conversions.
    held_run: (RunScratch, Vec<Option<(i64, i64)>>),
}

/// A group's rows copied side by side for [`SequenceMatcher::unordered_run`].
#[derive(Default)]
struct RunRows {
    times: Vec<i64>,
    words: Vec<u64>,
    /// Each row's chain: its held value's index among the group's candidates.
    chains: Vec<u8>,
}

impl<T: TsValue> Scratch<T> {
    fn new(m: usize) -> Self {
        Scratch {
            deques: (0..m).map(|_| VecDeque::new()).collect(),
            slots: vec![None; m],
            new: vec![None; m],
            conv: vec![None; m],
            window_conv: vec![None; m],
            group_conv: vec![None; m],
            starts: Vec::new(),
            rows: Vec::new(),
            keyed: Vec::new(),
            universe: Vec::new(),
            candidates: Vec::new(),
            times: Vec::new(),
            run: RunRows::default(),
            held_run: (RunScratch::default(), vec![None; m]),
        }
    }
}

/// The chain prefixes `(t, s)` a pass keeps for one step, ordered by `t` (see the module doc):
/// a deque, or under `order: strict` one slot — there only the entry of the batch just before
/// is ever read, and an entry pushed makes every older one unreadable (it is read only by
/// later batches, which keep the newest).
trait Prefixes<T: Copy> {
    fn clear(&mut self);
    fn front(&self) -> Option<(T, T)>;
    fn back(&self) -> Option<(T, T)>;
    fn pop_front(&mut self);
    fn pop_back(&mut self);
    fn push_back(&mut self, entry: (T, T));
    /// Keeps the newest entry only.
    fn keep_back(&mut self);
}

impl<T: Copy> Prefixes<T> for VecDeque<(T, T)> {
    fn clear(&mut self) {
        VecDeque::clear(self)
    }
    fn front(&self) -> Option<(T, T)> {
        VecDeque::front(self).copied()
    }
    fn back(&self) -> Option<(T, T)> {
        VecDeque::back(self).copied()
    }
    fn pop_front(&mut self) {
        VecDeque::pop_front(self);
    }
    fn pop_back(&mut self) {
        VecDeque::pop_back(self);
    }
    fn push_back(&mut self, entry: (T, T)) {
        VecDeque::push_back(self, entry)
    }
    fn keep_back(&mut self) {
        let older = self.len().saturating_sub(1);
        self.drain(..older);
    }
}

impl<T: Copy> Prefixes<T> for Option<(T, T)> {
    fn clear(&mut self) {
        *self = None;
    }
    fn front(&self) -> Option<(T, T)> {
        *self
    }
    fn back(&self) -> Option<(T, T)> {
        *self
    }
    fn pop_front(&mut self) {
        *self = None;
    }
    fn pop_back(&mut self) {
        *self = None;
    }
    fn push_back(&mut self, entry: (T, T)) {
        *self = Some(entry);
    }
    fn keep_back(&mut self) {}
}

/// The lexicographically smaller of two `(start, time)` pairs.
#[inline]
pub(super) fn earlier<T: PartialOrd + Copy>(a: Option<(T, T)>, b: (T, T)) -> Option<(T, T)> {
    match a {
        Some(x) if x.0 < b.0 || (x.0 == b.0 && x.1 <= b.1) => Some(x),
        _ => Some(b),
    }
}

/// Where the times to convert go: one partial per step after the first, and the bins.
pub(crate) struct ConversionSink<'a> {
    /// Steps `1..`.
    pub partials: &'a mut [ConversionPartial],
    /// Histogram edges.
    pub bins: &'a [f64],
}

impl ConversionSink<'_> {
    /// Adds a group's first conversion (`conv`: `(start, time)` per step) at each step it
    /// reached (`level`) after the first.
    pub(super) fn add<T: TsValue>(&mut self, conv: &[Option<(T, T)>], level: usize) {
        for k in 1..level {
            if let (Some(&Some((s, t))), Some(p)) = (conv.get(k), self.partials.get_mut(k - 1)) {
                t.add_time(s, p, self.bins);
            }
        }
    }
}

impl SequenceMatcher {
    /// For every group in `selected` (all when `None`): how many positive steps it reached
    /// under `rules` (`0..=len()`), each universe of a group scanned in time order. `held`:
    /// each row's held value (`holdConstant`; [`NULL_KEY`] for a null), `None` when the
    /// sequence holds nothing. Groups that cannot reach `need` steps get 0 unscanned. With
    /// `sink`, each group's time to convert at each step it reached after the first is added.
    ///
    /// `at`: where a member's time is (see [`TimesAt`]); other than [`TimesAt::Direct`] only
    /// for chains scanned in any order (see [`unordered_chains`](Self::unordered_chains)).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn reached_chains(
        &self,
        rules: &ChainRules,
        ts: &Timestamps,
        at: TimesAt<'_>,
        members: Members<'_>,
        selected: Option<&BooleanBuffer>,
        need: usize,
        held: Option<&[u32]>,
        sink: Option<ConversionSink<'_>>,
    ) -> Vec<u32> {
        match ts {
            Timestamps::Int(t) => self.chains_generic::<i64>(rules, t, at, members, selected, need, held, sink),
            Timestamps::Float(t) => self.chains_generic::<f64>(rules, t, at, members, selected, need, held, sink),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn chains_generic<T: TsValue>(
        &self,
        rules: &ChainRules,
        ts: &TsChunks<T>,
        at: TimesAt<'_>,
        members: Members<'_>,
        selected: Option<&BooleanBuffer>,
        need: usize,
        held: Option<&[u32]>,
        mut sink: Option<ConversionSink<'_>>,
    ) -> Vec<u32> {
        let m = self.len();
        let offsets = members.offsets();
        let groups = offsets.len().saturating_sub(1);
        let mut out = vec![0u32; groups];
        let mut sc = Scratch::<T>::new(m);
        let mut sorter = TimeSorter::default();
        let want_conv = sink.is_some();
        let need = need.max(1);
        // A plain greedy chain over integer times needs no time order (see
        // `greedy_chain_unordered`): no group or held value is sorted.
        let ordered = !self.unordered_chains(rules, T::as_int(ts).is_some());
        debug_assert!(
            matches!(at, TimesAt::Direct) || !ordered,
            "times through `at` only for scans in any order"
        );
        let time = TimeAt { ts, at };
        // Strict order decided step by step (see `strict_chain`) straight from the times and
        // step bits of groups whose rows are adjacent (a time order's, or a part written group
        // by group): no row list (see `strict_run`).
        let strict_runs = held.is_none() && matches!(members, Members::Runs(_)) && self.strict_by_steps(rules);
        for (g, slot) in out.iter_mut().enumerate() {
            if self.deadline.stop_at(g) {
                break;
            }
            if selected.is_some_and(|s| !s.value(g)) {
                continue;
            }
            let range = offsets[g] as usize..offsets[g + 1] as usize;
            if let Some(level) = strict_runs
                .then(|| self.strict_run(rules, ts, range.clone(), need, want_conv, &mut sc))
                .flatten()
            {
                sc.group_conv.clone_from(&sc.conv);
                *slot = level as u32;
                if let Some(sink) = sink.as_mut() {
                    sink.add(&sc.group_conv, level);
                }
                continue;
            }
            // A part written group by group, over integer times: its chains found in place
            // (see `held_chains.rs`).
            if let Some(level) = (!ordered && matches!((members, at), (Members::Runs(_), TimesAt::Direct)))
                .then(|| self.held_chains_in_place(ts, range.clone(), held, need, &mut sc))
                .flatten()
            {
                *slot = level as u32;
                if let Some(sink) = sink.as_mut() {
                    sink.add(&sc.group_conv, level);
                }
                continue;
            }
            if let Some(level) = (!ordered && matches!(members, Members::Runs(_)))
                .then(|| self.unordered_run(time, range.clone(), held, need, &mut sc))
                .flatten()
            {
                *slot = level as u32;
                if let Some(sink) = sink.as_mut() {
                    sink.add(&sc.group_conv, level);
                }
                continue;
            }
            let mut rows = std::mem::take(&mut sc.rows);
            rows.clear();
            match members {
                Members::Runs(_) => rows.extend(range.map(|r| r as u32)),
                Members::Listed { rows: listed, .. } => rows.extend_from_slice(&listed[range]),
            }
            // A step no row matches bounds the steps reached.
            if self.first_missing(&rows) < need {
                sc.rows = rows;
                continue;
            }
            let level = match held {
                None => {
                    let level = if ordered {
                        T::sort_by_time(&mut rows, ts, &mut sorter);
                        self.universe(rules, ts, &rows, want_conv, &mut sc)
                    } else {
                        self.greedy_chain_unordered(time, &rows, &mut sc)
                    };
                    sc.group_conv.clone_from(&sc.conv);
                    level
                }
                Some(keys) => {
                    sc.group_conv.iter_mut().for_each(|c| *c = None);
                    self.held_by_value(rules, time, &rows, keys, ordered, want_conv, &mut sc, &mut sorter)
                }
            };
            sc.rows = rows;
            *slot = level as u32;
            if let Some(sink) = sink.as_mut() {
                sink.add(&sc.group_conv, level);
            }
        }
        out
    }

    /// [`held_chains_run`](Self::held_chains_run) over the group of rows `range` (adjacent in
    /// the part, times read in place), its first conversions in `sc.group_conv`; `None` when
    /// the times are not integers, a row's step bits take more than a byte, a row has no held
    /// value (past the held values' end), or `held_chains_run` gives none.
    fn held_chains_in_place<T: TsValue>(
        &self,
        ts: &TsChunks<T>,
        range: std::ops::Range<usize>,
        held: Option<&[u32]>,
        need: usize,
        sc: &mut Scratch<T>,
    ) -> Option<usize> {
        let times = T::as_int(ts)?.run(range.clone())?;
        let bits = self.byte_bits(range.clone())?;
        let keys = match held {
            Some(h) => Some(h.get(range)?),
            None => None,
        };
        let (room, conv) = &mut sc.held_run;
        let level = self.held_chains_run(times, bits, keys, need, room, conv)?;
        for (to, from) in sc.group_conv.iter_mut().zip(conv.iter()) {
            *to = from.map(|(s, t)| (T::from_i64(s), T::from_i64(t)));
        }
        Some(level)
    }

    /// [`strict_chain`](Self::strict_chain) over a group whose rows are adjacent (`range`),
    /// straight from its times and step bits (one byte a row): as they are when already in
    /// time order, otherwise through one key a row — time since the group's first instant
    /// above the row's bits — sorted in place (no row list sorted with its times). `None`
    /// when the rows are not one slice of times and bits, or their times in any order span
    /// 2^56 or more (or are not integers).
    ///
    /// A group without a row of step 1 reaches step 0 or 1 whatever its order (whether it has
    /// a step-0 row), and one without a row of some step before `need` cannot reach `need`
    /// (0): neither is sorted nor scanned.
    fn strict_run<T: TsValue>(
        &self,
        rules: &ChainRules,
        ts: &TsChunks<T>,
        range: std::ops::Range<usize>,
        need: usize,
        want_conv: bool,
        sc: &mut Scratch<T>,
    ) -> Option<usize> {
        let times = ts.run(range.clone())?;
        let bits = self.byte_bits(range.clone())?;
        let bound = self.first_missing_of(u64::from(bits.iter().fold(0u8, |a, &b| a | b)));
        if bound <= 1 || bound < need {
            sc.conv.iter_mut().for_each(|c| *c = None);
            return Some(if bound < need { 0 } else { bound });
        }
        if times.is_sorted_by(|a, b| a <= b) {
            let rows = times.iter().zip(bits).map(|(&t, &b)| (t, u64::from(b)));
            return Some(self.strict_chain(rules, rows, want_conv, sc));
        }
        let times = T::as_int(ts)?.run(range)?;
        // Most groups that reach their bound show it by one chain found without a sort
        // (not when the time to convert is wanted: that takes the scan).
        if !want_conv && self.strict_witness_run(rules.within(), times, bits, bound) {
            return Some(bound);
        }
        let (lo, hi) = min_max(&[times])?;
        if hi.abs_diff(lo) >= 1 << (64 - STEP_KEY_BITS) {
            return None;
        }
        let mut keys = std::mem::take(&mut sc.keyed);
        keys.clear();
        keys.extend(
            times
                .iter()
                .zip(bits)
                .map(|(&t, &b)| (t.abs_diff(lo) << STEP_KEY_BITS) | u64::from(b)),
        );
        sort_keys(&mut keys);
        let rows = keys.iter().map(|&k| {
            let (t, bits) = step_key_parts(k, lo);
            (T::from_i64(t), bits)
        });
        let level = self.strict_chain(rules, rows, want_conv, sc);
        sc.keyed = keys;
        Some(level)
    }

    /// [`reached_chains`](Self::reached_chains) for a sequence [`strict_chain`](Self::strict_chain)
    /// decides ([`strict_by_steps`](Self::strict_by_steps)) and nothing held, from a
    /// [`SteppedOrder`]'s keys (each group's times and step bits in time order). Groups the
    /// order left out get 0.
    pub(crate) fn reached_strict(
        &self,
        rules: &ChainRules,
        order: &SteppedOrder,
        selected: Option<&BooleanBuffer>,
        mut sink: Option<ConversionSink<'_>>,
    ) -> Vec<u32> {
        let mut out = vec![0u32; order.groups()];
        let mut sc = Scratch::<i64>::new(self.len());
        let want_conv = sink.is_some();
        for (g, slot) in out.iter_mut().enumerate() {
            if self.deadline.stop_at(g) {
                break;
            }
            if selected.is_some_and(|s| !s.value(g)) {
                continue;
            }
            let level = self.strict_chain(rules, order.group(g), want_conv, &mut sc);
            *slot = level as u32;
            if let Some(sink) = sink.as_mut() {
                sink.add(&sc.conv, level);
            }
        }
        out
    }

    /// Steps one group's held values reach (`rows`: the group's rows, `keys`: each row's held
    /// value), each value's rows one universe: the rows split by value with one sort of
    /// `(value, row)` packed in a `u64`, each value's rows sorted by time (when `ordered`) only
    /// when they can matter. Fills `sc.group_conv` with the first conversion per step.
    #[allow(clippy::too_many_arguments)]
    fn held_by_value<T: TsValue>(
        &self,
        rules: &ChainRules,
        time: TimeAt<'_, T>,
        rows: &[u32],
        keys: &[u32],
        ordered: bool,
        want_conv: bool,
        sc: &mut Scratch<T>,
        sorter: &mut TimeSorter,
    ) -> usize {
        let m = self.len();
        sc.keyed.clear();
        sc.keyed.extend(rows.iter().filter_map(|&r| {
            let k = keys.get(r as usize).copied().unwrap_or(NULL_KEY);
            (k != NULL_KEY).then_some((u64::from(k) << 32) | u64::from(r))
        }));
        sc.keyed.sort_unstable();
        let mut level = 0;
        let keyed = std::mem::take(&mut sc.keyed);
        let mut universe = std::mem::take(&mut sc.universe);
        for run in keyed.chunk_by(|a, b| a >> 32 == b >> 32) {
            universe.clear();
            universe.extend(run.iter().map(|&kr| kr as u32));
            // A value's rows reach at most the first step they have no row for: skip values
            // that cannot raise the level or give a time to convert (most values of a
            // fine-grained column, e.g. items only viewed).
            let bound = self.first_missing(&universe);
            if bound == 0 || (bound <= level && (!want_conv || bound <= 1)) {
                continue;
            }
            let l = if ordered {
                T::sort_by_time(&mut universe, time.ts, sorter);
                self.universe(rules, time.ts, &universe, want_conv, sc)
            } else {
                self.greedy_chain_unordered(time, &universe, sc)
            };
            level = level.max(l);
            self.merge_conv(l, sc);
            if level == m && !want_conv {
                break;
            }
        }
        sc.keyed = keyed;
        sc.universe = universe;
        level
    }

    /// Greedy chains (see [`unordered_chains`](Self::unordered_chains)), each held value's
    /// own when `held`, over a group whose positions are adjacent (`range`), all held values'
    /// chains at once: one pass finds the steps some row has and the values with a step-1
    /// row (only those go further than step 0); then the group's times, step words and
    /// value indexes are copied side by side and each step is one pass over them, every
    /// value's earliest row of the step after its row of the step before — no row list, no
    /// universe split off per value. Fills `sc.group_conv`. 0 (unscanned) when a step no row
    /// matches bounds the steps reached below `need`. `None` when the sequence has more than
    /// 64 steps, the times are not integers or more than [`MAX_CANDIDATES`] values have a
    /// step-1 row: the caller's general path decides.
    fn unordered_run<T: TsValue>(
        &self,
        time: TimeAt<'_, T>,
        range: std::ops::Range<usize>,
        held: Option<&[u32]>,
        need: usize,
        sc: &mut Scratch<T>,
    ) -> Option<usize> {
        let m = self.len();
        let ts = T::as_int(time.ts).filter(|_| m <= 64)?;
        let key = |p: usize| held.map_or(0, |h| h.get(p).copied().unwrap_or(NULL_KEY));
        // The steps some row has: a step no row has bounds the steps reached.
        let bytes = self.byte_bits(range.clone());
        let any = match bytes {
            Some(b) => u64::from(b.iter().fold(0u8, |a, &x| a | x)),
            None => range.clone().fold(0u64, |a, p| a | self.word(p)),
        };
        let bound = self.first_missing_of(any);
        if bound < need {
            return Some(0);
        }
        // With held values: whether a valued row has step 0, and the values of step-1 rows
        // (none unless some row has step 1).
        let mut candidates = std::mem::take(&mut sc.candidates);
        candidates.clear();
        let keys = held.and_then(|h| h.get(range.clone()));
        let first = match (bytes, keys) {
            (Some(b), Some(keys)) => b
                .iter()
                .zip(keys)
                .fold(false, |f, (&x, &k)| f | ((x & 1 == 1) & (k != NULL_KEY))),
            _ => held.is_some() && range.clone().any(|p| self.word(p) & 1 == 1 && key(p) != NULL_KEY),
        };
        let mut too_many = false;
        if held.is_some() && m > 1 && (any >> 1) & 1 == 1 {
            let mut note = |k: u32| {
                if k != NULL_KEY && !candidates.contains(&k) {
                    too_many = candidates.len() == MAX_CANDIDATES;
                    if !too_many {
                        candidates.push(k);
                    }
                }
                !too_many
            };
            match (bytes, keys) {
                // The step-1 rows of each block of 64 found as a mask (no branch per row: they
                // are a few in a hundred, anywhere), then visited bit by bit.
                (Some(b), Some(keys)) => {
                    'blocks: for (bs, ks) in b.chunks(64).zip(keys.chunks(64)) {
                        let mut mask = bs
                            .iter()
                            .enumerate()
                            .fold(0u64, |mask, (i, &x)| mask | (u64::from((x >> 1) & 1) << i));
                        while mask != 0 {
                            let i = mask.trailing_zeros() as usize;
                            mask &= mask - 1;
                            if !note(ks.get(i).copied().unwrap_or(NULL_KEY)) {
                                break 'blocks;
                            }
                        }
                    }
                }
                _ => {
                    for p in range.clone() {
                        if (self.word(p) >> 1) & 1 == 1 && !note(key(p)) {
                            break;
                        }
                    }
                }
            }
        }
        let chains = if held.is_some() { candidates.len() } else { 1 };
        sc.candidates = candidates;
        if too_many {
            return None;
        }
        sc.group_conv.iter_mut().for_each(|c| *c = None);
        if chains == 0 {
            return Some(usize::from(first));
        }
        // The rows of the chains followed (with held values, those of the candidates), side
        // by side: time, step word, chain (the value's index among the candidates). The times
        // copied in bulk first; then every row written at the next free place and kept by
        // advancing past it (no branch per row).
        let run = &mut sc.run;
        run.times.clear();
        match (time.at, ts.run(range.clone())) {
            (TimesAt::Direct, Some(times)) => run.times.extend_from_slice(times),
            (TimesAt::Offsets { offsets, base }, _) => {
                let offsets = offsets.get(range.clone())?;
                run.times
                    .extend(offsets.iter().map(|&o| base.wrapping_add(i64::from(o))));
            }
            (at, _) => {
                let time = TimeAt { ts, at };
                run.times.extend(range.clone().map(|p| time.get(p)));
            }
        }
        let n = range.len();
        run.words.resize(n, 0);
        run.chains.resize(n, 0);
        let chain_of = |k: u32| {
            sc.candidates
                .iter()
                .enumerate()
                .fold(chains as u8, |at, (i, &c)| if c == k { i as u8 } else { at })
        };
        let mut kept = 0;
        let mut place = |i: usize, w: u64, chain: u8| {
            if let (Some(&t), Some(to_w), Some(to_c)) =
                (run.times.get(i), run.words.get_mut(kept), run.chains.get_mut(kept))
            {
                *to_w = w;
                *to_c = chain;
                if let Some(to_t) = run.times.get_mut(kept) {
                    *to_t = t;
                }
            }
            kept += usize::from(usize::from(chain) < chains);
        };
        match (bytes, keys) {
            (Some(b), Some(keys)) => {
                for (i, (&w, &k)) in b.iter().zip(keys).enumerate() {
                    place(i, u64::from(w), chain_of(k));
                }
            }
            (Some(b), None) if held.is_none() => {
                for (i, &w) in b.iter().enumerate() {
                    place(i, u64::from(w), 0);
                }
            }
            _ => {
                for (i, p) in range.enumerate() {
                    let chain = if held.is_some() { chain_of(key(p)) } else { 0 };
                    place(i, self.word(p), chain);
                }
            }
        }
        let (times, words, row_chains) = (&run.times[..kept], &run.words[..kept], &run.chains[..kept]);
        // Per chain: the time of its row of the step before (`i64::MAX` once it stopped), its
        // start, the steps it reached.
        let mut after = [i64::MAX; MAX_CANDIDATES];
        let mut start = [0i64; MAX_CANDIDATES];
        let mut reached = [0usize; MAX_CANDIDATES];
        for k in 0..m {
            let mut earliest = [i64::MAX; MAX_CANDIDATES];
            let mut found = [false; MAX_CANDIDATES];
            for ((&t, &w), &c) in times.iter().zip(words).zip(row_chains) {
                let c = usize::from(c).min(MAX_CANDIDATES - 1);
                if (w >> k) & 1 == 1 && (k == 0 || t > after[c]) {
                    found[c] = true;
                    earliest[c] = earliest[c].min(t);
                }
            }
            let mut going = false;
            for c in 0..chains {
                if !found[c] || reached[c] < k {
                    after[c] = i64::MAX;
                    continue;
                }
                if k == 0 {
                    start[c] = earliest[c];
                }
                after[c] = earliest[c];
                reached[c] = k + 1;
                going = true;
                if let Some(slot) = sc.group_conv.get_mut(k) {
                    *slot = earlier(*slot, (T::from_i64(start[c]), T::from_i64(earliest[c])));
                }
            }
            if !going {
                break;
            }
        }
        let level = reached[..chains].iter().copied().max().unwrap_or(0);
        Some(level.max(usize::from(first)))
    }

    /// Folds a universe's first conversions (`sc.conv`, `reached` steps) into its group's.
    fn merge_conv<T: TsValue>(&self, reached: usize, sc: &mut Scratch<T>) {
        for k in 0..reached {
            if let Some(c) = sc.conv[k] {
                sc.group_conv[k] = earlier(sc.group_conv[k], c);
            }
        }
    }

    /// Whether [`reached_chains`](Self::reached_chains) under `rules` scans groups in any
    /// order: a plain greedy chain (no `within`, strict order, window or negative step) over
    /// integer times (`int_times`; float times keep the sorted scan and its total order).
    pub(crate) fn unordered_chains(&self, rules: &ChainRules, int_times: bool) -> bool {
        int_times && rules.is_plain() && self.is_greedy()
    }

    /// [`greedy_chain`](Self::greedy_chain) over `rows` in any order: step `k`'s row is the
    /// earliest of step `k` strictly after step `k - 1`'s, one pass over the rows per step —
    /// the same chain the sorted scan finds, with no sort. Fills `sc.conv`.
    fn greedy_chain_unordered<T: TsValue>(&self, time: TimeAt<'_, T>, rows: &[u32], sc: &mut Scratch<T>) -> usize {
        let m = self.len();
        sc.conv.iter_mut().for_each(|c| *c = None);
        // The rows' times gathered first: loads independent of each other (at random in the
        // part when looked up through `at`) overlap instead of stalling the scan one by one.
        let mut times = std::mem::take(&mut sc.times);
        times.clear();
        times.extend(rows.iter().map(|&r| time.get(r as usize)));
        let mut start: Option<T> = None;
        let mut after: Option<T> = None;
        let mut level = m;
        for k in 0..m {
            let mut earliest: Option<T> = None;
            for (&r, &t) in rows.iter().zip(&times) {
                let r = r as usize;
                if !self.has(r, self.word(r), k) {
                    continue;
                }
                if after.is_some_and(|a| t <= a) || earliest.is_some_and(|e| e <= t) {
                    continue;
                }
                earliest = Some(t);
            }
            let Some(t) = earliest else {
                level = k;
                break;
            };
            let s = *start.get_or_insert(t);
            sc.conv[k] = Some((s, t));
            after = Some(t);
        }
        sc.times = times;
        level
    }

    /// Steps reached by one universe (`rows` in time order); with `want_conv`, the first
    /// conversion per step reached in `sc.conv`.
    fn universe<T: TsValue>(
        &self,
        rules: &ChainRules,
        ts: &TsChunks<T>,
        rows: &[u32],
        want_conv: bool,
        sc: &mut Scratch<T>,
    ) -> usize {
        let m = self.len();
        if rules.is_plain() && self.is_greedy() {
            return self.greedy_chain(ts, rows, sc);
        }
        if self.strict_by_steps(rules) {
            let times = rows.iter().map(|&r| (ts[r as usize], self.word(r as usize)));
            return self.strict_chain(rules, times, want_conv, sc);
        }
        let Some(d) = rules.max_duration else {
            return self.pass(rules, ts, rows, None, Mode::MinStart, want_conv, sc);
        };
        if !want_conv && !self.has_gap(m) {
            return self.pass(rules, ts, rows, None, Mode::MaxStart, false, sc);
        }
        // Every start in turn, earliest first, over its window: the first start reaching a
        // step is its earliest; its earliest row of the step comes first in its window.
        sc.starts.clear();
        let mut lead: Option<T> = None;
        for &r in rows {
            let (r, t) = (r as usize, ts[r as usize]);
            if lead.is_some_and(|b| t > b) {
                break;
            }
            let w = self.word(r);
            if self.has(r, w, 0) && sc.starts.last().is_none_or(|&l| l < t) {
                sc.starts.push(t);
            }
            if lead.is_none() && self.has_gap(0) && self.has(r, w, m) {
                lead = Some(t);
            }
        }
        let starts = std::mem::take(&mut sc.starts);
        let mut conv = std::mem::take(&mut sc.window_conv);
        conv.iter_mut().for_each(|c| *c = None);
        let mut level = 0;
        for &s in &starts {
            let first = rows.partition_point(|&r| ts[r as usize] < s);
            let end = first + rows[first..].partition_point(|&r| ts[r as usize].span(s) <= d);
            let l = self.pass(rules, ts, &rows[first..end], Some(s), Mode::MinStart, want_conv, sc);
            for (c, found) in conv.iter_mut().zip(&sc.conv).take(l) {
                if c.is_none() {
                    *c = *found;
                }
            }
            level = level.max(l);
            if level == m {
                break;
            }
        }
        std::mem::swap(&mut sc.conv, &mut conv);
        sc.window_conv = conv;
        sc.starts = starts;
        level
    }

    /// Whether [`strict_chain`](Self::strict_chain) decides this sequence: `order: strict`
    /// without `maxDuration` or negative steps, of at most 64 positive steps.
    pub(crate) fn strict_by_steps(&self, rules: &ChainRules) -> bool {
        let m = self.len();
        rules.strict && rules.max_duration.is_none() && m <= 64 && (0..=m).all(|k| !self.has_gap(k))
    }

    /// Steps reached by one universe under `order: strict` without `maxDuration` or negative
    /// steps ([`strict_by_steps`](Self::strict_by_steps)), from its rows' times and step bits
    /// (`rows`, in time order). Under strict order a chain's rows are at consecutive distinct
    /// times of the universe, so the chains ending at one time follow from those ending at the
    /// time before: bit `k` of `ends` when a chain of steps `0..=k` ends there, and at the next
    /// time `t` (its rows' bits OR-ed in `word`) `ends' = word & (1 | ends << 1)`, less the
    /// steps whose `within` the gap exceeds. One pass, no per-chain state. A chain's start is
    /// the time `k` times back: with `want_conv`, fills `sc.conv` with the first chain reaching
    /// each step (the earliest end has the earliest start too).
    ///
    /// ```text
    /// view@1  cart@2  view@3  cart@4  buy@4   (strict, 3 steps)
    /// ends:   0b001   0b010   0b001   0b010 (buy@4 shares cart@4's time: not after it)
    /// ```
    fn strict_chain<T: TsValue>(
        &self,
        rules: &ChainRules,
        rows: impl Iterator<Item = (T, u64)>,
        want_conv: bool,
        sc: &mut Scratch<T>,
    ) -> usize {
        let m = self.len();
        let steps = if m >= 64 { u64::MAX } else { (1u64 << m) - 1 };
        let last = 1u64 << (m.max(1) - 1);
        sc.conv.iter_mut().for_each(|c| *c = None);
        // The times seen so far (only kept for the time to convert).
        let mut seen = std::mem::take(&mut sc.starts);
        seen.clear();
        let mut ends = 0u64;
        let mut reached = 0u64;
        let mut prev: Option<T> = None;
        // The batch of rows at one time: its time and its rows' bits (OR-ed).
        let mut batch: Option<(T, u64)> = None;
        for next in rows.map(Some).chain(std::iter::once(None)) {
            if let (Some((bt, bw)), Some((t, word))) = (batch.as_mut(), next) {
                if *bt == t {
                    *bw |= word;
                    continue;
                }
            }
            // `next` starts a new batch (or the rows ended): the batch before closes.
            if let Some((t, word)) = batch {
                // Chains of the time before that this time's rows extend, less those whose
                // step's `within` the gap exceeds (looked at only when some extend: most
                // times start chains at most).
                let mut extended = (ends << 1) & word & steps;
                if let (true, Some(p)) = (extended != 0, prev) {
                    let gap = t.span(p);
                    let mut each = extended;
                    while each != 0 {
                        let k = each.trailing_zeros() as usize;
                        each &= each - 1;
                        if rules.within.get(k).copied().flatten().is_some_and(|w| gap > w) {
                            extended &= !(1u64 << k);
                        }
                    }
                }
                ends = (word & 1) | extended;
                if want_conv {
                    seen.push(t);
                    let mut fresh = ends & !reached;
                    while fresh != 0 {
                        let k = fresh.trailing_zeros() as usize;
                        fresh &= fresh - 1;
                        let start = seen.len().checked_sub(k + 1).and_then(|i| seen.get(i));
                        if let (Some(&start), Some(c)) = (start, sc.conv.get_mut(k)) {
                            *c = Some((start, t));
                        }
                    }
                }
                reached |= ends;
                prev = Some(t);
                if !want_conv && reached & last != 0 {
                    break;
                }
            }
            batch = next;
        }
        sc.starts = seen;
        // Steps reached: one more than the last step a chain ends at (chains reaching step `k`
        // reach every step before it).
        (u64::BITS - reached.leading_zeros()) as usize
    }

    /// Steps reached by one universe (`rows` in time order) of a sequence of positive steps
    /// without `within`, `order: strict` or window: the chain from the earliest step-0 row,
    /// each step at its earliest row after the previous one's, reaches every step any chain
    /// does, and is the first conversion of each (no start is earlier, no row of the step
    /// sooner). Fills `sc.conv`.
    fn greedy_chain<T: TsValue>(&self, ts: &TsChunks<T>, rows: &[u32], sc: &mut Scratch<T>) -> usize {
        let m = self.len();
        sc.conv.iter_mut().for_each(|c| *c = None);
        let mut k = 0;
        let mut start: Option<T> = None;
        let mut after: Option<T> = None;
        for &r in rows {
            let r = r as usize;
            if !self.has(r, self.word(r), k) {
                continue;
            }
            let t = ts[r];
            if after.is_some_and(|a| t <= a) {
                continue;
            }
            let s = *start.get_or_insert(t);
            sc.conv[k] = Some((s, t));
            after = Some(t);
            k += 1;
            if k == m {
                break;
            }
        }
        k
    }

    /// One pass over `rows` (time order); see the module doc. With `fixed_start`, step 0
    /// matches only at that time (the caller passes the start's window and checked the
    /// leading negative step).
    #[allow(clippy::too_many_arguments)]
    fn pass<T: TsValue>(
        &self,
        rules: &ChainRules,
        ts: &TsChunks<T>,
        rows: &[u32],
        fixed_start: Option<T>,
        mode: Mode,
        want_conv: bool,
        sc: &mut Scratch<T>,
    ) -> usize {
        if rules.strict {
            let mut slots = std::mem::take(&mut sc.slots);
            let level = self.pass_over(&mut slots, rules, ts, rows, fixed_start, mode, want_conv, sc);
            sc.slots = slots;
            level
        } else {
            let mut deques = std::mem::take(&mut sc.deques);
            let level = self.pass_over(&mut deques, rules, ts, rows, fixed_start, mode, want_conv, sc);
            sc.deques = deques;
            level
        }
    }

    /// [`pass`](Self::pass) keeping each step's prefixes in `prefixes` (one per positive step).
    #[allow(clippy::too_many_arguments)]
    fn pass_over<T: TsValue, Q: Prefixes<T>>(
        &self,
        prefixes: &mut [Q],
        rules: &ChainRules,
        ts: &TsChunks<T>,
        rows: &[u32],
        fixed_start: Option<T>,
        mode: Mode,
        want_conv: bool,
        sc: &mut Scratch<T>,
    ) -> usize {
        let m = self.len();
        let trailing = self.has_gap(m);
        prefixes.iter_mut().for_each(Q::clear);
        sc.conv.iter_mut().for_each(|c| *c = None);
        let mut lead_blocked = false;
        let mut level = 0usize;
        // The best valid chain reaching the last step since the last trailing negative row.
        let mut last: Option<(T, T)> = None;
        let mut prev: Option<T> = None;
        let mut i = 0;
        while i < rows.len() {
            let t = ts[rows[i] as usize];
            let mut j = i + 1;
            while j < rows.len() && ts[rows[j] as usize] == t {
                j += 1;
            }
            let batch = &rows[i..j];
            i = j;
            let word = batch.iter().fold(0u64, |a, &r| a | self.word(r as usize));
            let bit = |b: usize| {
                if b < 64 {
                    (word >> b) & 1 == 1
                } else {
                    batch.iter().any(|&r| self.has(r as usize, 0, b))
                }
            };
            if rules.strict {
                // Only the batch just before may precede a chain row.
                for dq in prefixes.iter_mut() {
                    match (dq.back(), prev) {
                        (Some((bt, _)), Some(p)) if bt == p => dq.keep_back(),
                        _ => dq.clear(),
                    }
                }
            }
            if let (Mode::MaxStart, Some(d)) = (mode, rules.max_duration) {
                for dq in prefixes.iter_mut() {
                    while dq.back().is_some_and(|(_, s)| t.span(s) > d) {
                        dq.pop_back();
                    }
                }
            }
            // New chain ends at this batch, from the entries of earlier batches.
            for k in 0..m {
                sc.new[k] = None;
                if !bit(k) {
                    continue;
                }
                sc.new[k] = if k == 0 {
                    match fixed_start {
                        Some(s) => (t == s).then_some(t),
                        None => (!lead_blocked).then_some(t),
                    }
                } else {
                    let dq = &mut prefixes[k - 1];
                    if let Some(w) = rules.within[k] {
                        while dq.front().is_some_and(|(pt, _)| t.span(pt) > w) {
                            dq.pop_front();
                        }
                    }
                    dq.front().map(|(_, s)| s)
                };
            }
            // Negative rows of this batch end the prefixes before it (a row at the same time
            // as a chain row is not between).
            for k in 1..m {
                if self.has_gap(k) && bit(m + k) {
                    prefixes[k - 1].clear();
                }
            }
            if self.has_gap(0) && bit(m) {
                lead_blocked = true;
            }
            if trailing && bit(2 * m) {
                last = None;
            }
            for k in 0..m {
                let Some(s) = sc.new[k] else { continue };
                if let Some(dq) = prefixes.get_mut(k).filter(|_| k + 1 < m) {
                    while dq.back().is_some_and(|(_, bs)| match mode {
                        Mode::MinStart => bs >= s,
                        Mode::MaxStart => bs <= s,
                    }) {
                        dq.pop_back();
                    }
                    dq.push_back((t, s));
                }
                if k + 1 == m && trailing {
                    last = earlier(last, (s, t));
                } else {
                    level = level.max(k + 1);
                    if want_conv {
                        sc.conv[k] = earlier(sc.conv[k], (s, t));
                    }
                }
            }
            prev = Some(t);
            if level == m && !want_conv {
                break;
            }
        }
        if trailing {
            if let Some(c) = last {
                level = m;
                sc.conv[m - 1] = Some(c);
            }
        }
        level
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::query::Step;

    /// One group's rows: the steps each matches (in sequence order) and its time.
    type Row = (Vec<bool>, i64);

    fn matcher(found: &[bool], rows: &[Row]) -> (SequenceMatcher, Timestamps) {
        let steps = found
            .iter()
            .enumerate()
            .map(|(s, &f)| (rows.iter().map(|(hits, _)| hits[s]).collect::<BooleanBuffer>(), f))
            .collect();
        let ts = Timestamps::Int(TsChunks::single(
            rows.iter().map(|&(_, t)| t).collect::<Vec<_>>().into(),
        ));
        (SequenceMatcher::new(steps, None, rows.len()), ts)
    }

    fn rules(within: Vec<Option<f64>>, strict: bool, max_duration: Option<f64>) -> ChainRules {
        ChainRules {
            within,
            strict,
            max_duration,
        }
    }

    /// Level reached by one group and its times to convert at steps 1..
    fn run(found: &[bool], rows: &[Row], r: &ChainRules, held: Option<&[u32]>) -> (u32, Vec<Option<f64>>) {
        let (m, ts) = matcher(found, rows);
        let offsets = [0u32, rows.len() as u32];
        let mut partials: Vec<ConversionPartial> = (1..m.len()).map(|_| ConversionPartial::new(true, 0)).collect();
        let level = m.reached_chains(
            r,
            &ts,
            TimesAt::Direct,
            Members::Runs(&offsets),
            None,
            0,
            held,
            Some(ConversionSink {
                partials: &mut partials,
                bins: &[],
            }),
        )[0];
        (level, partials.iter().map(|p| p.min).collect())
    }

    /// Rows named by their step: `A@0` is `("A", 0)`, one step per letter of `steps`.
    fn rows_of(steps: &str, events: &[(&str, i64)]) -> Vec<Row> {
        events
            .iter()
            .map(|(e, t)| (steps.chars().map(|c| e.contains(c)).collect(), *t))
            .collect()
    }

    #[test]
    fn within_may_need_a_later_row_than_the_earliest() {
        // The spec's example: A@0 B@1 B@4 C@9, B within 5 of A, C within 5 of B: through B@4.
        let rows = rows_of("ABC", &[("A", 0), ("B", 1), ("B", 4), ("C", 9)]);
        let r = rules(vec![None, Some(5.0), Some(5.0)], false, None);
        let (level, conv) = run(&[true; 3], &rows, &r, None);
        assert_eq!(level, 3);
        assert_eq!(conv, vec![Some(1.0), Some(9.0)]);
        // C within 4 of B: no B is close enough to both.
        let r = rules(vec![None, Some(5.0), Some(4.0)], false, None);
        assert_eq!(run(&[true; 3], &rows, &r, None).0, 2);
    }

    #[test]
    fn strict_order_needs_neighbouring_rows() {
        // A@1 X@2 B@3: X comes between A and B.
        let rows = rows_of("AB", &[("A", 1), ("X", 2), ("B", 3)]);
        assert_eq!(run(&[true; 2], &rows, &rules(vec![None, None], true, None), None).0, 1);
        assert_eq!(run(&[true; 2], &rows, &rules(vec![None, None], false, None), None).0, 2);
        // A row sharing a timestamp with an end is not between: A@1 X@1 B@3 X@3.
        let rows = rows_of("AB", &[("A", 1), ("X", 1), ("B", 3), ("X", 3)]);
        assert_eq!(run(&[true; 2], &rows, &rules(vec![None, None], true, None), None).0, 2);
        // With `within`: a gap of exactly the limit chains, one more does not; the chain's
        // times to convert run from its own start (A@4, not A@0). The same rows out of time
        // order too (sorted by the scan itself).
        let strict = |b: f64, c: f64| rules(vec![None, Some(b), Some(c)], true, None);
        let in_order = [("A", 0), ("X", 2), ("A", 4), ("B", 9), ("C", 15)];
        let shuffled = [("C", 15), ("A", 4), ("X", 2), ("B", 9), ("A", 0)];
        for events in [&in_order, &shuffled] {
            let rows = rows_of("ABC", events);
            let three = (3, vec![Some(5.0), Some(11.0)]);
            assert_eq!(run(&[true; 3], &rows, &strict(5.0, 6.0), None), three);
            assert_eq!(
                run(&[true; 3], &rows, &strict(5.0, 5.0), None),
                (2, vec![Some(5.0), None])
            );
            assert_eq!(run(&[true; 3], &rows, &strict(4.0, 6.0), None).0, 1);
        }
    }

    #[test]
    fn hold_constant_chains_within_one_value() {
        // Value y: B@2 A@3 B@5 reaches A@3 B@5.
        let rows = rows_of("AB", &[("A", 1), ("B", 2), ("A", 3), ("B", 5)]);
        let keys = [0, 1, 1, 1];
        let r = rules(vec![None, None], false, None);
        assert_eq!(run(&[true; 2], &rows, &r, Some(&keys)).0, 2);
        let keys = [0, 1, 1, 0];
        // x: A@1 B@5 ✓ (time 4); y: B@2 A@3, no.
        assert_eq!(run(&[true; 2], &rows, &r, Some(&keys)), (2, vec![Some(4.0)]));
        let keys = [0, 1, 1, NULL_KEY];
        // x: A@1 only; y: B@2 A@3: no chain; the null row joins none.
        assert_eq!(run(&[true; 2], &rows, &r, Some(&keys)).0, 1);
    }

    #[test]
    fn held_chains_find_their_step_one_rows_in_every_block_of_a_long_group() {
        // 150 rows (three blocks of 64 for the search of step-1 rows), times in row order:
        // filler views of values 0–3; value 5 viewed at 3 and added at 64 (a block's first
        // row); value 7 viewed at 20, added at 100 and bought at 130.
        let mut events: Vec<(&str, i64)> = (0..150).map(|i| ("A", i)).collect();
        let mut keys: Vec<u32> = (0..150).map(|i| i as u32 % 4).collect();
        keys[3] = 5;
        (events[64], keys[64]) = (("B", 64), 5);
        keys[20] = 7;
        (events[100], keys[100]) = (("B", 100), 7);
        (events[130], keys[130]) = (("C", 130), 7);
        let rows = rows_of("ABC", &events);
        let r = rules(vec![None, None, None], false, None);
        // Value 7 reaches every step (bought 110 after its view); value 5 was the first to
        // be added (61 after its view).
        assert_eq!(
            run(&[true; 3], &rows, &r, Some(&keys)),
            (3, vec![Some(61.0), Some(110.0)])
        );
        // Without value 7's purchase: value 5's and 7's chains both stop at step 2.
        (events[130], keys[130]) = (("A", 130), 2);
        let rows = rows_of("ABC", &events);
        assert_eq!(run(&[true; 3], &rows, &r, Some(&keys)), (2, vec![Some(61.0), None]));
    }

    /// [`run`] with the group's rows at positions `at` of the part (positions hold the step
    /// bits and held values), as a part whose rows come in any order is scanned: the times
    /// looked up through `at` in row order, or with `as_offsets` gathered in the positions'
    /// order as offsets from an instant before the first.
    fn run_at(
        found: &[bool],
        rows: &[Row],
        r: &ChainRules,
        held: &[u32],
        at: &[u32],
        as_offsets: bool,
    ) -> (u32, Vec<Option<f64>>) {
        let (m, ts) = matcher(found, rows);
        let m = m.permuted(at);
        let held: Vec<u32> = at.iter().map(|&row| held[row as usize]).collect();
        let base = -1_000;
        let gathered: Vec<u32> = at.iter().map(|&row| (rows[row as usize].1 - base) as u32).collect();
        let times_at = if as_offsets {
            TimesAt::Offsets {
                offsets: &gathered,
                base,
            }
        } else {
            TimesAt::Rows(at)
        };
        let offsets = [0u32, rows.len() as u32];
        let mut partials: Vec<ConversionPartial> = (1..m.len()).map(|_| ConversionPartial::new(true, 0)).collect();
        let level = m.reached_chains(
            r,
            &ts,
            times_at,
            Members::Runs(&offsets),
            None,
            0,
            Some(&held),
            Some(ConversionSink {
                partials: &mut partials,
                bins: &[],
            }),
        )[0];
        (level, partials.iter().map(|p| p.min).collect())
    }

    /// A plain greedy chain per held value, by definition: each value's rows sorted by time,
    /// each step at its first row after the previous step's; the group's level is the best
    /// value's, its time to convert at step `k` that of the earliest `(start, time)` reaching it.
    fn held_reference(m: usize, rows: &[Row], held: &[u32]) -> (u32, Vec<Option<f64>>) {
        let mut level = 0;
        let mut best: Vec<Option<(i64, i64)>> = vec![None; m];
        let mut values: Vec<u32> = held.iter().copied().filter(|&k| k != NULL_KEY).collect();
        values.sort_unstable();
        values.dedup();
        for v in values {
            let mut universe: Vec<&Row> = rows.iter().zip(held).filter(|(_, &k)| k == v).map(|(r, _)| r).collect();
            universe.sort_by_key(|(_, t)| *t);
            let (mut k, mut start, mut after) = (0, None, None);
            for (hits, t) in universe {
                if k < m && hits[k] && after.is_none_or(|a| *t > a) {
                    let s = *start.get_or_insert(*t);
                    best[k] = Some(best[k].map_or((s, *t), |b: (i64, i64)| b.min((s, *t))));
                    after = Some(*t);
                    k += 1;
                }
            }
            level = level.max(k);
        }
        let times = (1..m)
            .map(|k| best[k].filter(|_| k < level).map(|(s, t)| (t - s) as f64))
            .collect();
        (level as u32, times)
    }

    /// A xorshift generator from `seed` (the same cases on every run): each call a number
    /// below its argument.
    pub(in crate::exec) fn xorshift(mut seed: u64) -> impl FnMut(u64) -> u64 {
        move |n| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        }
    }

    #[test]
    fn held_values_scanned_by_candidates_or_split_by_value_agree_with_the_definition() {
        let mut next = xorshift(0x9E37_79B9_7F4A_7C15);
        let r = rules(vec![None, None, None], false, None);
        for case in 0..2000 {
            let n = 1 + next(40) as usize;
            // Few values (scanned one by one) or many (more than MAX_CANDIDATES with a row of
            // step 1: the rows split by value).
            let values = if case % 2 == 0 { 3 } else { 4 * MAX_CANDIDATES as u64 };
            let rows: Vec<Row> = (0..n)
                .map(|_| ((0..3).map(|_| next(2) == 0).collect(), next(12) as i64))
                .collect();
            let held: Vec<u32> = (0..n)
                .map(|_| if next(8) == 0 { NULL_KEY } else { next(values) as u32 })
                .collect();
            let expected = held_reference(3, &rows, &held);
            assert_eq!(
                run(&[true; 3], &rows, &r, Some(&held)),
                expected,
                "case {case}: {rows:?} {held:?}"
            );
            // The same rows at positions in another order, times looked up through `at` or
            // gathered in that order as offsets.
            let mut at: Vec<u32> = (0..n as u32).collect();
            for i in (1..n).rev() {
                at.swap(i, next(i as u64 + 1) as usize);
            }
            for as_offsets in [false, true] {
                assert_eq!(
                    run_at(&[true; 3], &rows, &r, &held, &at, as_offsets),
                    expected,
                    "case {case}: at {at:?}, offsets {as_offsets}"
                );
            }
        }
    }

    /// Steps a strict chain of `rows` reaches by the definition (query-language.md): rows of
    /// steps `0..k` at strictly increasing times, no row of the group strictly between two of
    /// them, each within its step's `within` of the one before (every chain tried).
    fn strict_reference(m: usize, rows: &[Row], within: &[Option<f64>]) -> u32 {
        fn extend(rows: &[Row], within: &[Option<f64>], m: usize, k: usize, prev: i64) -> usize {
            let mut best = k;
            for (hits, t) in rows {
                let next_ok = k < m
                    && hits[k]
                    && *t > prev
                    && !rows.iter().any(|(_, x)| *x > prev && x < t)
                    && within[k].is_none_or(|w| (t - prev) as f64 <= w);
                if next_ok {
                    best = best.max(extend(rows, within, m, k + 1, *t));
                }
            }
            best
        }
        let mut best = 0;
        for (hits, t) in rows {
            if hits[0] {
                best = best.max(extend(rows, within, m, 1, *t));
            }
        }
        best as u32
    }

    #[test]
    fn strict_levels_of_groups_in_any_order_agree_with_the_definition() {
        // One group's rows in any order (sorted by the scan, or decided by the chain of
        // `strict_witness_run`), nothing to convert.
        let mut next = xorshift(0x2545_F491_4F6C_DD1D);
        for case in 0..3000 {
            let m = 2 + next(2) as usize;
            let n = 1 + next(14) as usize;
            let rows: Vec<Row> = (0..n)
                .map(|_| ((0..m).map(|_| next(3) == 0).collect(), next(10) as i64))
                .collect();
            let within: Vec<Option<f64>> = (0..m)
                .map(|k| (k > 0 && next(2) == 0).then(|| next(6) as f64))
                .collect();
            let (matcher, ts) = matcher(&vec![true; m], &rows);
            let offsets = [0u32, n as u32];
            let r = rules(within.clone(), true, None);
            let got = matcher.reached_chains(&r, &ts, TimesAt::Direct, Members::Runs(&offsets), None, 0, None, None)[0];
            assert_eq!(
                got,
                strict_reference(m, &rows, &within),
                "case {case}: {rows:?} {within:?}"
            );
        }
    }

    #[test]
    fn the_first_conversion_has_the_earliest_start() {
        // A@0 A@10 B@12 (B within 5): only the start at 10 converts, in 2.
        let rows = rows_of("AB", &[("A", 0), ("A", 10), ("B", 12)]);
        let r = rules(vec![None, Some(5.0)], false, None);
        assert_eq!(run(&[true; 2], &rows, &r, None), (2, vec![Some(2.0)]));
        // Without within: the start at 0, 12.
        let r = rules(vec![None, None], false, None);
        assert_eq!(run(&[true; 2], &rows, &r, None), (2, vec![Some(12.0)]));
        // With maxDuration 15 (tried start by start), the same.
        let r = rules(vec![None, None], false, Some(15.0));
        assert_eq!(run(&[true; 2], &rows, &r, None), (2, vec![Some(12.0)]));
        let r = rules(vec![None, None], false, Some(11.0));
        assert_eq!(run(&[true; 2], &rows, &r, None), (2, vec![Some(2.0)]));
    }

    #[test]
    fn negative_steps_between_and_after() {
        // A, !N, B with within: A@1 N@2 A@3 B@4.
        let rows = rows_of("ANB", &[("A", 1), ("N", 2), ("A", 3), ("B", 4)]);
        let r = rules(vec![None, Some(1.0)], false, None);
        assert_eq!(run(&[true, false, true], &rows, &r, None), (2, vec![Some(1.0)]));
        // Trailing: A, B, !N over A@1 B@2 N@3: blocked; with maxDuration 1.5 the N is outside.
        let rows = rows_of("ABN", &[("A", 1), ("B", 2), ("N", 3)]);
        let r = rules(vec![None, None], true, None);
        assert_eq!(run(&[true, true, false], &rows, &r, None).0, 1);
        let r = rules(vec![None, None], true, Some(1.5));
        assert_eq!(run(&[true, true, false], &rows, &r, None).0, 2);
    }

    #[test]
    fn rules_of_a_sequence() {
        let step = |found: bool, within: Option<f64>| Step {
            filters: vec![],
            row_found: found,
            within,
        };
        let seq = Sequence {
            steps: vec![step(true, None), step(false, None), step(true, Some(3.0))],
            max_duration: None,
            hold_constant: vec![],
            order: Order::Strict,
        };
        let r = ChainRules::of(&seq);
        assert_eq!(r.within, vec![None, Some(3.0)]);
        assert!(r.strict);
    }
}
