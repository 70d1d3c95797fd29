//! Matching a sequence of steps against each group's rows in time order.
//!
//! Semantics (query-language.md, Sequences): a group reaches positive step `k` when rows
//! `r0..rk` match steps `0..k` with strictly increasing timestamps, no row matching a negative
//! step lies strictly between the rows around it (a leading negative forbids a match strictly
//! before `r0`, a trailing one strictly after the last row, within `maxDuration` of `r0` when
//! set), and `ts(rk) - ts(r0) <= maxDuration`.
//!
//! The scan walks a group's rows once, batch by batch of equal timestamps, keeping for every
//! positive step the latest start (`ts(r0)`) of any valid chain ending at that step that is
//! still usable (no blocking negative row since). The latest start is the best start for
//! every extension, so one pass is exact. Only a trailing negative step together with
//! `maxDuration` needs more: a later start also widens the forbidden window after the last
//! row, so there every candidate start is tried in turn (bounded by the window).
//!
//! Sequences without negative steps or window (every plain funnel) need no time order at
//! all: step `k`'s row is the earliest row of step `k` after step `k - 1`'s, one pass over the
//! group per step ([`SequenceMatcher::reached_unordered`]).
//!
//! Other sequences first look for a match without ordering a group's rows: the tightest
//! chain ending at one of the group's first rows of the last step, checked against the window
//! and the negative steps (`SequenceMatcher::witness`). A chain found is a match; only groups
//! without one are sorted and scanned.

use arrow::buffer::BooleanBuffer;

use super::deadline::Deadline;
use super::groups::{Members, Timestamps, TsChunks};
use super::time_sort::TimeSorter;
#[cfg(doc)]
use super::witness::PositiveRows;
use super::zeroed::zeroed;
use crate::conversion::ConversionPartial;

/// A timestamp value: integer or float.
pub(crate) trait TsValue: Copy + PartialOrd + arrow::datatypes::ArrowNativeType {
    /// `self - start` as f64.
    fn span(self, start: Self) -> f64;

    /// Sorts a group's `rows` (ascending) by `(ts[row], row)`.
    fn sort_by_time(rows: &mut [u32], ts: &TsChunks<Self>, sorter: &mut TimeSorter);

    /// The timestamps as integers, when they are.
    fn as_int(ts: &TsChunks<Self>) -> Option<&TsChunks<i64>>;

    /// Records `self - start` as a group's time to convert.
    fn add_time(self, start: Self, p: &mut ConversionPartial, bins: &[f64]);

    /// An integer time as this type.
    fn from_i64(t: i64) -> Self;
}

impl TsValue for i64 {
    #[inline]
    fn span(self, start: Self) -> f64 {
        self.saturating_sub(start) as f64
    }

    fn sort_by_time(rows: &mut [u32], ts: &TsChunks<Self>, sorter: &mut TimeSorter) {
        sorter.sort_int(rows, ts);
    }

    fn as_int(ts: &TsChunks<Self>) -> Option<&TsChunks<i64>> {
        Some(ts)
    }

    fn add_time(self, start: Self, p: &mut ConversionPartial, bins: &[f64]) {
        p.add_int(self.saturating_sub(start), bins);
    }

    #[inline(always)]
    fn from_i64(t: i64) -> Self {
        t
    }
}

impl TsValue for f64 {
    #[inline]
    fn span(self, start: Self) -> f64 {
        self - start
    }

    fn sort_by_time(rows: &mut [u32], ts: &TsChunks<Self>, sorter: &mut TimeSorter) {
        sorter.sort_float(rows, ts);
    }

    fn as_int(_: &TsChunks<Self>) -> Option<&TsChunks<i64>> {
        None
    }

    fn add_time(self, start: Self, p: &mut ConversionPartial, bins: &[f64]) {
        p.add_float(self - start, bins);
    }

    #[inline(always)]
    fn from_i64(t: i64) -> Self {
        t as f64
    }
}

/// `SPREAD[b]` has bit `i` of `b` as the lowest bit of byte `i`.
const SPREAD: [u64; 256] = {
    let mut table = [0u64; 256];
    let mut b = 0;
    while b < 256 {
        let mut i = 0;
        while i < 8 {
            if (b >> i) & 1 == 1 {
                table[b] |= 1 << (8 * i);
            }
            i += 1;
        }
        b += 1;
    }
    table
};

/// A sequence compiled to per-row step bits. Positive step `k` is bit `k` of a row; the OR of
/// the negative steps just before positive step `k` is bit `m + k` (`m` positive steps; bit
/// `2m`: trailing negative steps). A row's bits are `bytes` bytes, so the scan reads one byte
/// per row for sequences of up to three positive steps, instead of one bit from every mask.
pub(crate) struct SequenceMatcher {
    m: usize,
    bytes: usize,
    bits: Vec<u8>,
    /// Whether each gap (`0..=m`) has a negative step.
    has_gap: Vec<bool>,
    /// Whether any gap has one.
    has_negative: bool,
    pub max_duration: Option<f64>,
    /// When scans stop early (their results then incomplete; see [`Deadline::stop_at`]).
    pub deadline: Deadline,
}

struct Scratch<T> {
    best: Vec<Option<T>>,
    new_best: Vec<Option<T>>,
    starts: Vec<T>,
}

#[inline]
fn max_opt<T: PartialOrd + Copy>(a: Option<T>, b: Option<T>) -> Option<T> {
    match (a, b) {
        (Some(x), Some(y)) => Some(if y > x { y } else { x }),
        (x, None) => x,
        (None, y) => y,
    }
}

struct ScanResult<T> {
    /// Positive steps reached, ignoring a trailing negative step.
    reached: usize,
    /// Latest timestamp of a valid row for the last positive step.
    last_final: Option<T>,
    /// Latest timestamp of a row matching the trailing negative step.
    last_trailing: Option<T>,
}

/// Where each step of a sequence goes in a row's step bits: positive step `k` (`m` in all) is
/// bit `k`; the negative steps between positive steps `k - 1` and `k` share bit `m + k` (gap
/// `k`, `0..=m`; gap `m`: after the last positive step).
pub(crate) struct StepLayout {
    /// The bit of each step, in sequence order.
    pub bit_of_step: Vec<usize>,
    /// Positive steps.
    m: usize,
    /// Whether each gap has a negative step.
    has_gap: Vec<bool>,
}

impl StepLayout {
    /// The layout of steps given whether each is positive (`row_found`), in sequence order.
    pub(crate) fn of(row_found: &[bool]) -> Self {
        let m = row_found.iter().filter(|&&f| f).count();
        let mut has_gap = vec![false; m + 1];
        let mut k = 0;
        let bit_of_step = row_found
            .iter()
            .map(|&found| {
                if found {
                    k += 1;
                    k - 1
                } else {
                    has_gap[k] = true;
                    m + k
                }
            })
            .collect();
        StepLayout {
            bit_of_step,
            m,
            has_gap,
        }
    }

    /// Bytes of step bits per row.
    pub(crate) fn bytes(&self) -> usize {
        (2 * self.m + 1).div_ceil(8)
    }
}

/// The groups a sequence scan visits ([`SequenceMatcher::candidates`]).
pub(crate) struct Visits {
    /// Whether each group is visited.
    pub keep: Vec<bool>,
    /// Groups not visited that reach exactly one step (they have rows of step 0 only).
    pub first_only: Vec<u32>,
    /// Groups not visited whose steps reached a chain of their rows, found without ordering
    /// them, showed (see `witness.rs`): each with those steps.
    pub witnessed: Vec<(u32, u32)>,
}

/// Which groups a scan visits ([`SequenceMatcher::visit_rule`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct VisitRule {
    /// The bits (of each row's first word) of the steps a group must have rows of to be
    /// visited: every group is when 0.
    pub mask: u64,
    /// A group with rows of step 0 but none of step 1 reaches exactly one step, unvisited.
    pub first_alone: bool,
}

impl Visits {
    /// Sets the steps reached of the groups decided without a visit: one for those with rows
    /// of step 0 only, those their chain showed for those witnessed.
    pub(crate) fn mark_unvisited(&self, reached: &mut [u32]) {
        let decided = self.first_only.iter().map(|&g| (g, 1));
        for (g, level) in decided.chain(self.witnessed.iter().copied()) {
            if let Some(slot) = reached.get_mut(g as usize) {
                *slot = level;
            }
        }
    }
}

impl SequenceMatcher {
    /// Builds a matcher from step masks in sequence order (`row_found` per step), all of
    /// `rows` rows.
    pub(crate) fn new(steps: Vec<(BooleanBuffer, bool)>, max_duration: Option<f64>, rows: usize) -> Self {
        let found: Vec<bool> = steps.iter().map(|(_, f)| *f).collect();
        let layout = StepLayout::of(&found);
        let bytes = layout.bytes();
        let mut bits = vec![0u8; rows * bytes];
        // Negative steps of one gap share their bit: OR-ed in.
        for (&bit, (mask, _)) in layout.bit_of_step.iter().zip(&steps) {
            let shift = bit % 8;
            // A branch-free pass per mask, 64 rows per word (most masks are dense: `view`
            // matches most rows).
            let chunks = mask.bit_chunks();
            let words = chunks.iter().chain(std::iter::once(chunks.remainder_bits()));
            for (c, word) in words.enumerate() {
                let first = c * 64;
                let end = rows.min(first + 64);
                if word == 0 || first >= end {
                    continue;
                }
                if bytes == 1 {
                    // One byte per row: eight rows at a time, each bit spread to its byte.
                    for (b, dst) in bits[first..end].chunks_mut(8).enumerate() {
                        let eight = (word >> (8 * b)) as u8;
                        if eight == 0 {
                            continue;
                        }
                        let spread = (SPREAD[eight as usize] << shift).to_le_bytes();
                        for (d, s) in dst.iter_mut().zip(spread) {
                            *d |= s;
                        }
                    }
                } else {
                    let row_bytes = bits[first * bytes + bit / 8..].iter_mut().step_by(bytes);
                    for (j, dst) in row_bytes.take(end - first).enumerate() {
                        *dst |= (((word >> j) & 1) as u8) << shift;
                    }
                }
            }
        }
        Self::with_layout(layout, bits, max_duration)
    }

    /// A matcher over step bits already laid out per row (see [`StepLayout`]), one byte per
    /// row; `None` when a row's bits do not fit a byte (more than three positive steps).
    pub(crate) fn from_row_bytes(layout: StepLayout, bits: Vec<u8>, max_duration: Option<f64>) -> Option<Self> {
        (layout.bytes() == 1).then(|| Self::with_layout(layout, bits, max_duration))
    }

    fn with_layout(layout: StepLayout, bits: Vec<u8>, max_duration: Option<f64>) -> Self {
        SequenceMatcher {
            m: layout.m,
            bytes: layout.bytes(),
            bits,
            has_negative: layout.has_gap.iter().any(|&g| g),
            has_gap: layout.has_gap,
            max_duration,
            deadline: Deadline::default(),
        }
    }

    /// The same matcher over the rows in another order: position `i` has the step bits of
    /// row `rows[i]` (see `TimeOrder`).
    pub(crate) fn permuted(&self, rows: &[u32]) -> Self {
        self.permuted_by(rows.iter().copied())
    }

    /// [`permuted`](Self::permuted) with the rows given one by one.
    pub(crate) fn permuted_by(&self, rows: impl ExactSizeIterator<Item = u32>) -> Self {
        let bytes = self.bytes;
        let bits = if bytes == 1 {
            rows.map(|r| self.bits.get(r as usize).copied().unwrap_or(0)).collect()
        } else {
            let mut bits = Vec::with_capacity(rows.len() * bytes);
            for r in rows {
                let at = r as usize * bytes;
                match self.bits.get(at..at + bytes) {
                    Some(b) => bits.extend_from_slice(b),
                    None => bits.extend(std::iter::repeat_n(0, bytes)),
                }
            }
            bits
        };
        self.with_bits(bits)
    }

    /// The same sequence over rows whose step bits (`bytes` a row, as the sequence's own)
    /// are `bits`.
    pub(crate) fn with_bits(&self, bits: Vec<u8>) -> Self {
        let bytes = self.bytes;
        SequenceMatcher {
            m: self.m,
            bytes,
            bits,
            has_gap: self.has_gap.clone(),
            has_negative: self.has_negative,
            max_duration: self.max_duration,
            deadline: self.deadline,
        }
    }

    /// Which of a part's `groups` (rows numbered by `of_row`) a scan must visit to know how
    /// many steps they reach, when it needs `need` of them: those in `selected` (all when
    /// `None`) with a row of each of the first `need` positive steps. With `positive` (one
    /// byte of step bits a row), only those rows are looked at: the groups and step bytes of
    /// every row with a bit of a positive step ([`PositiveRows`]), in any order. The others get 0 from
    /// [`reached_per_group`](Self::reached_per_group) and `reached_chains` without being
    /// scanned, so their rows need no time order either. With `first_alone` (the caller
    /// knows a group reaches step 0 with any row of it: no negative step, nothing held), a
    /// group with rows of step 0 but none of step 1 reaches exactly one step: it is listed in
    /// [`Visits::first_only`] and not visited. `None` when every group is visited.
    pub(crate) fn candidates(
        &self,
        of_row: &[u32],
        positive: Option<(&[u32], &[u8])>,
        groups: usize,
        selected: Option<&BooleanBuffer>,
        need: usize,
        first_alone: bool,
    ) -> Option<Visits> {
        let VisitRule { mask, first_alone } = self.visit_rule(need, first_alone);
        if mask == 0 && selected.is_none() {
            return None;
        }
        let is_selected = |g: usize| selected.is_none_or(|s| g < s.len() && s.value(g));
        if mask == 0 {
            return Some(Visits {
                keep: (0..groups).map(is_selected).collect(),
                first_only: Vec::new(),
                witnessed: Vec::new(),
            });
        }
        // Each group's steps: an OR of its rows' bits, in one pass over the rows in part order;
        // then whether it is visited, from them.
        let mut first_only = Vec::new();
        let mut visit = |g: usize, a: u64| {
            if !is_selected(g) {
                return false;
            }
            if a & mask == mask {
                return true;
            }
            if first_alone && a & 1 == 1 {
                first_only.push(g as u32);
            }
            false
        };
        let keep: Vec<bool> = if self.bytes == 1 {
            // (A byte a group, not widened: no second table.)
            let mut any: Vec<u8> = zeroed(groups);
            // Only positive steps' bits are looked at: the rows with one are enough.
            let (of_row, bits) = positive.unwrap_or((of_row, &self.bits));
            for (&g, &b) in of_row.iter().zip(bits) {
                if let Some(a) = any.get_mut(g as usize) {
                    *a |= b;
                }
            }
            any.iter().enumerate().map(|(g, &a)| visit(g, u64::from(a))).collect()
        } else {
            let mut any: Vec<u64> = zeroed(groups);
            for (r, &g) in of_row.iter().enumerate() {
                if let Some(a) = any.get_mut(g as usize) {
                    *a |= self.word(r);
                }
            }
            any.iter().enumerate().map(|(g, &a)| visit(g, a)).collect()
        };
        Some(Visits {
            keep,
            first_only,
            witnessed: Vec::new(),
        })
    }

    /// Which groups [`candidates`](Self::candidates) visits when a scan needs `need` steps
    /// (`first_alone`: the caller knows a group reaches step 0 with any row of it).
    pub(crate) fn visit_rule(&self, need: usize, first_alone: bool) -> VisitRule {
        let first_alone = first_alone && !self.has_negative && need <= 1 && self.m >= 1;
        // Steps a group must have rows of to be visited.
        let visit_from = if first_alone { 2 } else { need }.min(self.m);
        // The positive steps' bits are in each row's first word (up to 31 positive steps).
        let mask = if visit_from == 0 || self.bytes > 8 {
            0
        } else {
            (1u64 << visit_from) - 1
        };
        VisitRule { mask, first_alone }
    }

    /// Number of positive steps.
    pub(crate) fn len(&self) -> usize {
        self.m
    }

    /// The first positive step none of `rows` matches (`len()` when each has a row): a bound
    /// on the steps a chain of these rows can reach.
    pub(super) fn first_missing(&self, rows: &[u32]) -> usize {
        let m = self.m;
        if self.bytes <= 4 {
            // Every step's bit is in the first word: one OR over the rows.
            return self.first_missing_of(rows.iter().fold(0u64, |a, &r| a | self.word(r as usize)));
        }
        (0..m)
            .find(|&k| !rows.iter().any(|&r| self.has(r as usize, self.word(r as usize), k)))
            .unwrap_or(m)
    }

    /// The first positive step whose bit `any` (rows' first words OR-ed) lacks (`len()` when
    /// it has every one): a bound on the steps a chain of those rows can reach.
    #[inline]
    pub(super) fn first_missing_of(&self, any: u64) -> usize {
        ((!any).trailing_zeros() as usize).min(self.m)
    }

    /// The step bits of rows `rows`, one byte a row, when every row's bits fit one byte.
    pub(crate) fn byte_bits(&self, rows: std::ops::Range<usize>) -> Option<&[u8]> {
        (self.bytes == 1).then(|| self.bits.get(rows)).flatten()
    }

    /// Whether gap `k` (`0..=len()`: before positive step `k`; `len()`: after the last) has a
    /// negative step.
    pub(super) fn has_gap(&self, k: usize) -> bool {
        self.has_gap[k]
    }

    /// The first 64 step bits of row `r` (all of them for sequences of up to 31 positive steps).
    #[inline(always)]
    pub(super) fn word(&self, r: usize) -> u64 {
        if self.bytes == 1 {
            return u64::from(self.bits[r]);
        }
        let row = &self.bits[r * self.bytes..(r + 1) * self.bytes];
        row.iter()
            .take(8)
            .enumerate()
            .fold(0u64, |w, (i, &b)| w | (u64::from(b) << (8 * i)))
    }

    /// The step bits of a row that can change a scan's state, given the latest usable start
    /// per positive step (`best`) and whether a leading negative row was seen: positive step
    /// 0; positive step `k` and the negative steps before it once step `k - 1` has a start;
    /// the leading negative steps until one matched; the trailing ones. All bits when a row's
    /// bits do not fit one word.
    fn live_bits<T>(&self, best: &[Option<T>], lead_blocked: bool) -> u64 {
        if self.bytes > 8 {
            return u64::MAX;
        }
        let m = self.m;
        let mut live = 1u64;
        if self.has_gap[0] && !lead_blocked {
            live |= 1 << m;
        }
        for k in 1..m {
            if best[k - 1].is_some() {
                live |= (1 << k) | (1 << (m + k));
            }
        }
        if self.has_gap[m] {
            live |= 1 << (2 * m);
        }
        live
    }

    /// Whether row `r`, whose [`word`](Self::word) is `w`, has step bit `bit`.
    #[inline(always)]
    pub(super) fn has(&self, r: usize, w: u64, bit: usize) -> bool {
        if bit < 64 {
            (w >> bit) & 1 == 1
        } else {
            (self.bits[r * self.bytes + bit / 8] >> (bit % 8)) & 1 == 1
        }
    }

    /// Whether row `r` matches positive step `k`.
    #[inline(always)]
    fn positive(&self, r: usize, k: usize) -> bool {
        self.has(r, self.word(r), k)
    }

    /// Whether row `r` matches a negative step of gap `k` (`0..=m`).
    #[inline(always)]
    fn gap(&self, r: usize, k: usize) -> bool {
        self.has_gap[k] && self.has(r, self.word(r), self.m + k)
    }

    /// For every group in `selected` (all when `None`): how many positive steps it reached
    /// (`0..=len()`), scanning its rows in time order; groups not selected get 0, and so do
    /// groups that cannot reach `need` steps (they lack rows for one of the first `need`
    /// steps): those are neither sorted nor scanned.
    pub(crate) fn reached_per_group(
        &self,
        ts: &Timestamps,
        members: Members<'_>,
        selected: Option<&BooleanBuffer>,
        need: usize,
    ) -> Vec<u32> {
        match ts {
            Timestamps::Int(t) => self.reached_generic::<i64>(t, members, selected, need),
            Timestamps::Float(t) => self.reached_generic::<f64>(t, members, selected, need),
        }
    }

    fn reached_generic<T: TsValue>(
        &self,
        ts: &TsChunks<T>,
        members: Members<'_>,
        selected: Option<&BooleanBuffer>,
        need: usize,
    ) -> Vec<u32> {
        let offsets = members.offsets();
        let groups = offsets.len().saturating_sub(1);
        let m = self.len();
        let mut out = vec![0u32; groups];
        let mut scratch = Scratch {
            best: vec![None; m],
            new_best: vec![None; m],
            starts: Vec::new(),
        };
        let mut sorter = TimeSorter::default();
        let mut rows: Vec<u32> = Vec::new();
        // The positive steps' bits, when a row's bits fit a word (up to 31 positive steps).
        let positives = (self.bytes <= 8).then(|| (1u64 << m) - 1);
        let greedy = self.is_greedy();
        let mut chain: Vec<i64> = vec![0; m];
        let int_ts = T::as_int(ts);
        for (g, slot) in out.iter_mut().enumerate() {
            if self.deadline.stop_at(g) {
                break;
            }
            if selected.is_some_and(|s| !s.value(g)) {
                continue;
            }
            let range = offsets[g] as usize..offsets[g + 1] as usize;
            let n = range.len();
            // The group's `i`-th row.
            let listed = match members {
                Members::Runs(_) => None,
                Members::Listed { rows: listed, .. } => Some(&listed[range.clone()]),
            };
            let row_at = |i: usize| listed.map_or(range.start + i, |l| l[i] as usize);
            if let Some(positives) = positives.filter(|_| need > 0 || !greedy) {
                // A group's rows in one chunk: its step bytes and times as slices.
                let run = match members {
                    Members::Runs(_) if self.bytes == 1 => int_ts
                        .and_then(|t| t.run(range.clone()))
                        .map(|times| (&self.bits[range.clone()], times)),
                    _ => None,
                };
                // The first positive step no row of the group matches bounds the steps reached.
                let any = match run {
                    Some((bits, _)) => u64::from(bits.iter().fold(0u8, |a, &b| a | b)),
                    None => (0..n).fold(0u64, |a, i| a | self.word(row_at(i))),
                };
                let missing = (!any & positives).trailing_zeros() as usize;
                if missing < need {
                    continue;
                }
                // Every step has rows: a chain of rows shown to match needs no time order.
                if !greedy && missing >= m {
                    let witnessed = match (run, int_ts) {
                        (Some((bits, times)), _) => {
                            self.witness(bits.len(), |i| (u64::from(bits[i]), times[i]), &mut chain)
                        }
                        (None, Some(t)) => self.witness(n, |i| (self.word(row_at(i)), t[row_at(i)]), &mut chain),
                        (None, None) => false,
                    };
                    if witnessed {
                        *slot = m as u32;
                        continue;
                    }
                }
            }
            rows.clear();
            rows.extend((0..n).map(|i| row_at(i) as u32));
            T::sort_by_time(&mut rows, ts, &mut sorter);
            *slot = if greedy {
                self.scan_greedy(ts, &rows)
            } else {
                self.reached_group(ts, &rows, &mut scratch)
            } as u32;
        }
        out
    }

    /// Whether a group (`rows`, any order) is shown to reach every positive step by a chain
    /// of its rows found without ordering them: for each of a few rows of the last step, the
    /// latest row of each earlier step strictly before the next one's (the tightest chain
    /// ending there), checked against the window and every negative step in one pass. `false`
    /// proves nothing (the caller scans the group in time order); `true` is exact, the chain
    /// being a match as the sequence semantics define it. `chain` holds one time per
    /// positive step.
    ///
    /// Most groups that match have such a chain at one of their first rows of the last step
    /// (an `addtocart` right before the `transaction`), so they are decided in a few passes
    /// instead of a sort.
    ///
    /// The group's `n` rows are given by `row(i)`: row `i`'s step word and time.
    #[inline(always)]
    fn witness(&self, n: usize, row: impl Fn(usize) -> (u64, i64), chain: &mut [i64]) -> bool {
        /// Rows of the last step tried before giving up (each costs a pass per step).
        const TRIES: usize = 2;
        let m = self.len();
        let last = m - 1;
        let ends = (0..n).filter(|&i| (row(i).0 >> last) & 1 == 1).take(TRIES);
        'end: for end in ends {
            chain[last] = row(end).1;
            for k in (0..last).rev() {
                let before = chain[k + 1];
                // The latest time of step k before `before`, without branches.
                let mut found = false;
                let mut latest = i64::MIN;
                for i in 0..n {
                    let (w, t) = row(i);
                    let hit = ((w >> k) & 1 == 1) & (t < before);
                    found |= hit;
                    latest = latest.max(if hit { t } else { i64::MIN });
                }
                if !found {
                    continue 'end;
                }
                chain[k] = latest;
            }
            let (first, final_) = (chain[0], chain[last]);
            let window = self.max_duration;
            if window.is_some_and(|d| final_.span(first) > d) {
                continue;
            }
            if self.has_negative {
                for i in 0..n {
                    let (w, t) = row(i);
                    let mut gaps = (w >> m) & ((1u64 << (m + 1)) - 1);
                    while gaps != 0 {
                        let k = gaps.trailing_zeros() as usize;
                        gaps &= gaps - 1;
                        let blocks = if k == 0 {
                            t < first
                        } else if k == m {
                            t > final_ && window.is_none_or(|d| t.span(first) <= d)
                        } else {
                            t > chain[k - 1] && t < chain[k]
                        };
                        if blocks && self.has_gap[k] {
                            continue 'end;
                        }
                    }
                }
            }
            return true;
        }
        false
    }

    /// Steps reached by one group (`rows` in time order).
    fn reached_group<T: TsValue>(&self, ts: &TsChunks<T>, rows: &[u32], sc: &mut Scratch<T>) -> usize {
        let m = self.len();
        let res = self.scan(ts, rows, None, sc);
        if res.reached < m || !self.has_gap[m] {
            return res.reached;
        }
        let Some(d) = self.max_duration else {
            // Without a window the latest valid last row leaves the least room after it.
            let ok = match (res.last_final, res.last_trailing) {
                (Some(f), Some(t)) => t <= f,
                (Some(_), None) => true,
                (None, _) => false,
            };
            return if ok { m } else { m - 1 };
        };
        // Trailing negative within the window of r0: try every start.
        sc.starts.clear();
        let mut lead_blocked_at: Option<T> = None;
        for &r in rows {
            let t = ts[r as usize];
            if lead_blocked_at.is_some_and(|b| t > b) {
                break;
            }
            if self.positive(r as usize, 0) && sc.starts.last().is_none_or(|&l| l < t) {
                sc.starts.push(t);
            }
            if lead_blocked_at.is_none() && self.gap(r as usize, 0) {
                lead_blocked_at = Some(t);
            }
        }
        let starts = std::mem::take(&mut sc.starts);
        let mut found = false;
        for &s in &starts {
            let first = rows.partition_point(|&r| ts[r as usize] < s);
            let end = first + rows[first..].partition_point(|&r| ts[r as usize].span(s) <= d);
            let r = self.scan(ts, &rows[first..end], Some(s), sc);
            let ok = r.reached == m
                && match (r.last_final, r.last_trailing) {
                    (Some(f), Some(t)) => t <= f,
                    (Some(_), None) => true,
                    (None, _) => false,
                };
            if ok {
                found = true;
                break;
            }
        }
        sc.starts = starts;
        if found {
            m
        } else {
            m - 1
        }
    }

    /// One pass over rows sorted by time. With `fixed_start`, step 0 only matches rows at
    /// that timestamp (and the leading negative step is assumed checked by the caller).
    fn scan<T: TsValue>(
        &self,
        ts: &TsChunks<T>,
        rows: &[u32],
        fixed_start: Option<T>,
        sc: &mut Scratch<T>,
    ) -> ScanResult<T> {
        let m = self.len();
        sc.best.iter_mut().for_each(|b| *b = None);
        let mut lead_blocked = false;
        let mut reached = 0usize;
        let mut last_final = None;
        let mut last_trailing = None;
        let trailing_only = self.has_gap[m];
        // The step bits that can change the state now; a row with none of them is skipped
        // (most rows, e.g. views before any `addtocart` when `view` only blocks later steps).
        let mut live = self.live_bits(&sc.best, lead_blocked);
        let mut i = 0;
        while i < rows.len() {
            let first = rows[i] as usize;
            if self.word(first) & live == 0 {
                i += 1;
                continue;
            }
            let t = ts[first];
            let mut j = i + 1;
            while j < rows.len() && ts[rows[j] as usize] == t {
                j += 1;
            }
            let batch = &rows[i..j];
            let mut any_new = false;
            sc.new_best.iter_mut().for_each(|b| *b = None);
            for &r in batch {
                let r = r as usize;
                let w = self.word(r);
                for k in 0..m {
                    if !self.has(r, w, k) {
                        continue;
                    }
                    let start = if k == 0 {
                        match fixed_start {
                            Some(s) => (t == s).then_some(t),
                            None => (!lead_blocked).then_some(t),
                        }
                    } else {
                        sc.best[k - 1]
                    };
                    let Some(s) = start else { continue };
                    if self.max_duration.is_some_and(|d| t.span(s) > d) {
                        continue;
                    }
                    sc.new_best[k] = max_opt(sc.new_best[k], Some(s));
                    reached = reached.max(k + 1);
                    any_new = true;
                }
            }
            if sc.new_best[m - 1].is_some() {
                last_final = Some(t);
            }
            if self.has_negative {
                for &r in batch {
                    let r = r as usize;
                    let w = self.word(r);
                    if self.has(r, w, m) {
                        lead_blocked = true;
                    }
                    for k in 1..m {
                        if self.has(r, w, m + k) {
                            sc.best[k - 1] = None;
                        }
                    }
                    if self.has(r, w, 2 * m) {
                        last_trailing = Some(t);
                    }
                }
            }
            if any_new {
                for k in 0..m {
                    sc.best[k] = max_opt(sc.best[k], sc.new_best[k]);
                }
            }
            if reached == m && !trailing_only {
                break;
            }
            live = self.live_bits(&sc.best, lead_blocked);
            i = j;
        }
        ScanResult {
            reached,
            last_final,
            last_trailing,
        }
    }

    /// Whether a greedy scan decides the sequence (no negative step, no `maxDuration`).
    pub(crate) fn is_greedy(&self) -> bool {
        !self.has_negative && self.max_duration.is_none()
    }

    /// [`reached_per_group`](Self::reached_per_group) for a greedy sequence (see
    /// [`is_greedy`](Self::is_greedy)) over each group's rows in any order: step `k`'s row is
    /// the earliest one after step `k - 1`'s, found by one pass over the group per step, so no
    /// group is sorted.
    pub(crate) fn reached_unordered(
        &self,
        ts: &TsChunks<i64>,
        members: Members<'_>,
        selected: Option<&BooleanBuffer>,
    ) -> Vec<u32> {
        let offsets = members.offsets();
        let groups = offsets.len().saturating_sub(1);
        let mut out = vec![0u32; groups];
        let mut later = LaterSteps::default();
        for (g, slot) in out.iter_mut().enumerate() {
            if self.deadline.stop_at(g) {
                break;
            }
            if selected.is_some_and(|s| !s.value(g)) {
                continue;
            }
            let range = offsets[g] as usize..offsets[g + 1] as usize;
            *slot = match members {
                Members::Runs(_) => match ts.run(range.clone()) {
                    // One byte of step bits per row, the times in one slice: a tight loop.
                    Some(times) if self.bytes == 1 => greedy_run(&self.bits[range], times, self.m, &mut later),
                    _ => self.greedy_unordered(ts, range),
                },
                Members::Listed { rows, .. } => self.greedy_unordered(ts, rows[range].iter().map(|&r| r as usize)),
            };
        }
        out
    }

    /// Steps a greedy sequence reaches over one group's `rows` (any order).
    #[inline(always)]
    fn greedy_unordered(&self, ts: &TsChunks<i64>, rows: impl Iterator<Item = usize> + Clone) -> u32 {
        // `after`: the time of the previous step's row (none before the first step).
        let mut after: Option<i64> = None;
        for k in 0..self.m {
            let mut earliest: Option<i64> = None;
            for r in rows.clone() {
                if self.has(r, self.word(r), k) {
                    let t = ts[r];
                    if after.is_none_or(|a| t > a) && earliest.is_none_or(|e| t < e) {
                        earliest = Some(t);
                    }
                }
            }
            match earliest {
                Some(t) => after = Some(t),
                None => return k as u32,
            }
        }
        self.m as u32
    }

    /// [`reached_unordered`](Self::reached_unordered) for parts whose groups are not runs
    /// (rows in any order), row by row instead of group by group: one pass over the rows per
    /// step, each row's group looked up (`of_row`), so rows are read in order and only the
    /// per-group state (two integers per group) is accessed at random — instead of gathering
    /// every group's rows from all over the part. Step `k`'s time per group is the earliest
    /// row of step `k` after step `k - 1`'s.
    pub(crate) fn reached_rowwise(
        &self,
        ts: &TsChunks<i64>,
        of_row: &[u32],
        groups: usize,
        selected: Option<&BooleanBuffer>,
    ) -> Vec<u32> {
        // Times as offsets from the part's first instant when they fit 32 bits (as they do
        // for 49 days of milliseconds): the per-group times, looked up at random by every
        // row, then take half the room in L2.
        match ts.min_max() {
            Some((lo, hi)) if hi.abs_diff(lo) < u64::from(u32::MAX) => {
                self.rowwise(ts, of_row, groups, selected, |t: i64| t.abs_diff(lo) as u32)
            }
            _ => self.rowwise(ts, of_row, groups, selected, |t: i64| t),
        }
    }

    /// [`reached_rowwise`](Self::reached_rowwise) with each time as `stamp` gives it (in the
    /// same order as the times; [`Stamp::NONE`] above every one).
    fn rowwise<S: Stamp>(
        &self,
        ts: &TsChunks<i64>,
        of_row: &[u32],
        groups: usize,
        selected: Option<&BooleanBuffer>,
        stamp: impl Fn(i64) -> S + Copy,
    ) -> Vec<u32> {
        // Per group: the time of its row for the last step it reached, while it can still
        // reach the next one (`NONE`: it cannot); and the earliest time found for the next
        // step (`NONE`: none yet). Apart, so that the pass of step 0 (most rows) touches
        // only the first (4 or 8 bytes a group: most of a part's groups stay in L2).
        let mut last = vec![S::NONE; groups];
        let mut next = vec![S::NONE; groups];
        let rows = of_row.len().min(self.bits.len() / self.bytes.max(1));
        let wanted = |g: usize| selected.is_none_or(|s| s.value(g));
        // Each chunk of times with its rows' groups and step bits, as slices.
        let mut start = 0;
        let runs: Vec<(usize, &[i64])> = ts
            .slices()
            .map(|c| {
                let at = start;
                start += c.len();
                (at, &c[..c.len().min(rows.saturating_sub(at))])
            })
            .collect();
        // (Minimums taken without branches: rows in any order make `t < earliest` a coin toss.)
        // With one byte of step bits a row, step 0's pass also keeps the rows of later steps
        // (their groups, times and bits: a few in ten rows of a typical funnel), so that the
        // passes of later steps go over those alone, without a branch per row.
        let mut later = LaterRows::default();
        for &(at, times) in &runs {
            let groups_of = &of_row[at..at + times.len()];
            if self.bytes == 1 {
                let bits = &self.bits[at..at + times.len()];
                later.keep_from(groups_of, bits, times, &mut last, stamp);
            } else {
                for (i, (&g, &t)) in groups_of.iter().zip(times).enumerate() {
                    let r = at + i;
                    if let (true, Some(s)) = (self.has(r, self.word(r), 0), last.get_mut(g as usize)) {
                        *s = (*s).min(stamp(t));
                    }
                }
            }
        }
        let mut level: Vec<u32> = last
            .iter_mut()
            .enumerate()
            .map(|(g, s)| {
                if !wanted(g) {
                    *s = S::NONE;
                }
                u32::from(*s != S::NONE)
            })
            .collect();
        for k in 1..self.m {
            if self.bytes == 1 {
                later.step(k, &last, &mut next);
            } else {
                for &(at, times) in &runs {
                    for (i, (&g, &t)) in of_row[at..at + times.len()].iter().zip(times).enumerate() {
                        let r = at + i;
                        if !self.has(r, self.word(r), k) {
                            continue;
                        }
                        let g = g as usize;
                        let t = stamp(t);
                        if let (Some(&l), Some(n)) = (last.get(g), next.get_mut(g)) {
                            *n = (*n).min(if t > l { t } else { S::NONE });
                        }
                    }
                }
            }
            let mut any = false;
            for ((l, n), lv) in last.iter_mut().zip(next.iter_mut()).zip(level.iter_mut()) {
                // Only the groups that reached step `k` can go on.
                *l = *n;
                if *n != S::NONE {
                    *lv = k as u32 + 1;
                    *n = S::NONE;
                    any = true;
                }
            }
            if !any {
                break;
            }
        }
        level
    }

    /// Steps reached by a group (`rows` in time order) of a sequence of positive steps only,
    /// without a window: matching each step at its earliest row strictly after the previous
    /// step's row is optimal.
    fn scan_greedy<T: TsValue>(&self, ts: &TsChunks<T>, rows: &[u32]) -> usize {
        let m = self.len();
        let mut k = 0;
        let mut after: Option<T> = None;
        for &r in rows {
            let r = r as usize;
            let w = self.word(r);
            if !self.has(r, w, k) {
                continue;
            }
            let t = ts[r];
            if after.is_some_and(|a| t <= a) {
                continue;
            }
            after = Some(t);
            k += 1;
            if k == m {
                break;
            }
        }
        k
    }
}

/// The rows of a part that match a step after the first, in part order: their groups, times
/// and step bits (one byte a row), kept by [`SequenceMatcher::reached_rowwise`]'s pass of
/// step 0 for the passes of later steps.
struct LaterRows<S> {
    groups: Vec<u32>,
    times: Vec<S>,
    bits: Vec<u8>,
}

impl<S> Default for LaterRows<S> {
    fn default() -> Self {
        LaterRows {
            groups: Vec::new(),
            times: Vec::new(),
            bits: Vec::new(),
        }
    }
}

/// A time as [`SequenceMatcher::reached_rowwise`] keeps it per group: the time itself, or its
/// offset from the part's first instant.
trait Stamp: Copy + Ord + Default {
    /// Above every time: no time (yet).
    const NONE: Self;
}

impl Stamp for i64 {
    const NONE: Self = i64::MAX;
}

impl Stamp for u32 {
    const NONE: Self = u32::MAX;
}

/// Rows [`keep_rows`] writes to a scratch block before keeping those it keeps (every row
/// written, the count advanced by whether it is kept: no branch per row). Small enough to
/// stay in L1 (13 bytes a row).
const KEEP_BLOCK: usize = 1024;

/// Appends to `out` (groups, times, step bytes) the rows of one chunk (`groups_of`, `bits`,
/// `times`) whose step byte has a bit of `mask`, each time as `stamp` gives it, in part
/// order; `each(group, time, bits)` sees every row of the chunk first. Block by block of
/// [`KEEP_BLOCK`] rows, without a branch per row.
pub(super) fn keep_rows<V: Copy, S: Copy + Default>(
    (groups_of, bits, times): (&[u32], &[u8], &[V]),
    mask: u8,
    stamp: impl Fn(V) -> S,
    out: (&mut Vec<u32>, &mut Vec<S>, &mut Vec<u8>),
    mut each: impl FnMut(u32, S, u8),
) {
    let mut g_block = [0u32; KEEP_BLOCK];
    let mut t_block = [S::default(); KEEP_BLOCK];
    let mut b_block = [0u8; KEEP_BLOCK];
    for ((groups_of, bits), times) in groups_of
        .chunks(KEEP_BLOCK)
        .zip(bits.chunks(KEEP_BLOCK))
        .zip(times.chunks(KEEP_BLOCK))
    {
        let mut n = 0;
        for ((&g, &b), &t) in groups_of.iter().zip(bits).zip(times) {
            let t = stamp(t);
            each(g, t, b);
            // `n` is at most the rows seen so far in this block: always in range.
            if let (Some(gb), Some(tb), Some(bb)) = (g_block.get_mut(n), t_block.get_mut(n), b_block.get_mut(n)) {
                (*gb, *tb, *bb) = (g, t, b);
            }
            n += usize::from(b & mask != 0);
        }
        out.0.extend_from_slice(&g_block[..n]);
        out.1.extend_from_slice(&t_block[..n]);
        out.2.extend_from_slice(&b_block[..n]);
    }
}

impl<S: Stamp> LaterRows<S> {
    /// Step 0's pass over rows of one chunk: each row of step 0 lowers its group's `last`
    /// time to its own, and rows with bits of later steps are kept.
    fn keep_from(&mut self, groups_of: &[u32], bits: &[u8], times: &[i64], last: &mut [S], stamp: impl Fn(i64) -> S) {
        let out = (&mut self.groups, &mut self.times, &mut self.bits);
        keep_rows((groups_of, bits, times), !1, stamp, out, |g, t, b| {
            if let Some(s) = last.get_mut(g as usize) {
                *s = (*s).min(if b & 1 == 1 { t } else { S::NONE });
            }
        });
    }

    /// The pass of step `k`: each group's earliest row of step `k` strictly after its time
    /// in `last` lowers its `next`.
    fn step(&self, k: usize, last: &[S], next: &mut [S]) {
        for ((&g, &t), &b) in self.groups.iter().zip(&self.times).zip(&self.bits) {
            let g = g as usize;
            if let (Some(&l), Some(n)) = (last.get(g), next.get_mut(g)) {
                *n = (*n).min(if (b >> k) & 1 == 1 && t > l { t } else { S::NONE });
            }
        }
    }
}

/// The rows of a group that match a step after the first: their step bits and times, kept
/// by [`greedy_run`]'s first pass for the others (buffers reused from group to group).
#[derive(Default)]
struct LaterSteps {
    bits: Vec<u8>,
    times: Vec<i64>,
}

/// [`SequenceMatcher::greedy_unordered`] over one byte of step bits per row (`bits`) and the
/// rows' `times`, without branches in the passes. The first pass goes over every row; the
/// passes for later steps only over the rows that match one (usually few).
fn greedy_run(bits: &[u8], times: &[i64], m: usize, later: &mut LaterSteps) -> u32 {
    let n = bits.len().min(times.len());
    let (bits, times) = (&bits[..n], &times[..n]);
    if later.bits.len() < n {
        later.bits.resize(n, 0);
        later.times.resize(n, 0);
    }
    let (kept_bits, kept_times) = (&mut later.bits[..n], &mut later.times[..n]);
    // Step 0: the earliest row of the step; the steps any row has; the rows of later steps
    // kept (each row written at the end of the kept ones, which grow by the kept rows only).
    let mut any = 0u8;
    let mut after = i64::MAX;
    let mut kept = 0;
    for (&b, &t) in bits.iter().zip(times) {
        any |= b;
        after = after.min(if b & 1 != 0 { t } else { i64::MAX });
        if let (Some(kb), Some(kt)) = (kept_bits.get_mut(kept), kept_times.get_mut(kept)) {
            *kb = b;
            *kt = t;
        }
        kept += usize::from(b & !1 != 0);
    }
    if any & 1 == 0 {
        return 0;
    }
    let (kept_bits, kept_times) = (&kept_bits[..kept], &kept_times[..kept]);
    for k in 1..m {
        let bit = 1u8 << k;
        if any & bit == 0 {
            return k as u32;
        }
        let mut found = false;
        let mut earliest = i64::MAX;
        for (&b, &t) in kept_bits.iter().zip(kept_times) {
            let hit = (b & bit != 0) & (t > after);
            found |= hit;
            earliest = earliest.min(if hit { t } else { i64::MAX });
        }
        if !found {
            return k as u32;
        }
        after = earliest;
    }
    m as u32
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// A row: whether it matches each step (in sequence order), and its time.
    type Row = (Vec<bool>, i64);

    /// A matcher over one group.
    fn group(found: &[bool], rows: &[Row], max_duration: Option<f64>) -> (SequenceMatcher, TsChunks<i64>) {
        let steps = found
            .iter()
            .enumerate()
            .map(|(s, &f)| (rows.iter().map(|(hits, _)| hits[s]).collect::<BooleanBuffer>(), f))
            .collect();
        let ts = TsChunks::single(rows.iter().map(|&(_, t)| t).collect::<Vec<_>>().into());
        (SequenceMatcher::new(steps, max_duration, rows.len()), ts)
    }

    /// Steps reached scanning all rows in time order.
    fn scanned(m: &SequenceMatcher, ts: &TsChunks<i64>, n: usize) -> usize {
        let mut rows: Vec<u32> = (0..n as u32).collect();
        TimeSorter::default().sort_int(&mut rows, ts);
        let k = m.len();
        let mut scratch = Scratch {
            best: vec![None; k],
            new_best: vec![None; k],
            starts: Vec::new(),
        };
        m.reached_group(ts, &rows, &mut scratch)
    }

    fn witnessed(m: &SequenceMatcher, ts: &TsChunks<i64>, n: usize) -> bool {
        m.witness(n, |i| (m.word(i), ts[i]), &mut vec![0; m.len()])
    }

    #[test]
    fn a_chain_of_rows_is_witnessed_without_order() {
        // A, !B, C over A@1 B@2 A@3 C@4 (rows out of time order): matched through A@3.
        let (a, b, c) = (
            vec![true, false, false],
            vec![false, true, false],
            vec![false, false, true],
        );
        let found = [true, false, true];
        let rows = [(c.clone(), 4), (a.clone(), 1), (b.clone(), 2), (a.clone(), 3)];
        let (m, ts) = group(&found, &rows, None);
        assert!(witnessed(&m, &ts, rows.len()));
        // A@1 B@2 C@3: no chain, and none exists.
        let rows = [(c, 3), (b, 2), (a, 1)];
        let (m, ts) = group(&found, &rows, None);
        assert!(!witnessed(&m, &ts, rows.len()));
        assert_eq!(scanned(&m, &ts, rows.len()), 1);
    }

    /// A random sequence (whether each step is positive, at least one is) over a random group:
    /// each row's steps and time (few distinct times, so that ties are common).
    fn case() -> impl Strategy<Value = (Vec<bool>, Vec<Row>, Option<f64>)> {
        (prop::collection::vec(any::<bool>(), 1..6), 0usize..40).prop_flat_map(|(mut found, rows)| {
            if !found.iter().any(|&f| f) {
                found[0] = true;
            }
            let steps = found.len();
            let row = (prop::collection::vec(prop::bool::weighted(0.3), steps), 0i64..25);
            (
                Just(found),
                prop::collection::vec(row, rows),
                prop::option::of((0u32..12).prop_map(f64::from)),
            )
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 4000, ..ProptestConfig::default() })]

        /// Row by row over rows of groups in any order (`reached_rowwise`), the steps each
        /// selected group reaches equal the definition's: each step at the earliest row strictly
        /// after the previous step's, over the group's rows in time order (computed here).
        /// Sequences of 1 to 9 steps (one and two bytes of step bits a row), parts of up to
        /// 2,500 rows (past the 1,024 rows of a block of later steps' rows), times spanning
        /// less than 2^32 (kept as 32-bit offsets) or more (kept as they are), negative or not.
        #[test]
        fn rows_in_any_order_reach_the_greedy_steps(
            (steps, rows, selected) in (1usize..10, 1usize..12, 0usize..2500).prop_flat_map(|(steps, groups, n)| {
                let row = (0..groups as u32, prop::collection::vec(prop::bool::weighted(0.3), steps), 0i64..40);
                (Just(steps), prop::collection::vec(row, n), prop::collection::vec(prop::bool::weighted(0.8), groups))
            }),
            scale in prop::sample::select(vec![1i64, 1 << 27]),
            base in prop::sample::select(vec![0i64, -(1i64 << 40), 1i64 << 50]),
        ) {
            let rows: Vec<_> = rows.into_iter().map(|(g, hits, t)| (g, hits, base + t * scale)).collect();
            let found = vec![true; steps];
            let plain: Vec<Row> = rows.iter().map(|(_, hits, t)| (hits.clone(), *t)).collect();
            let (m, ts) = group(&found, &plain, None);
            prop_assert!(m.is_greedy());
            let of_row: Vec<u32> = rows.iter().map(|(g, _, _)| *g).collect();
            let chosen: BooleanBuffer = selected.iter().copied().collect();
            let got = m.reached_rowwise(&ts, &of_row, selected.len(), Some(&chosen));
            for (g, &sel) in selected.iter().enumerate() {
                let mut mine: Vec<(i64, &Vec<bool>)> =
                    rows.iter().filter(|(r, _, _)| *r as usize == g).map(|(_, hits, t)| (*t, hits)).collect();
                mine.sort_by_key(|&(t, _)| t);
                let mut k = 0;
                let mut after: Option<i64> = None;
                for (t, hits) in mine {
                    if k < steps && hits[k] && after.is_none_or(|a| t > a) {
                        after = Some(t);
                        k += 1;
                    }
                }
                prop_assert_eq!(got[g] as usize, if sel { k } else { 0 }, "group {}", g);
            }
        }

        /// A witnessed chain is a match: the scan in time order reaches every step too.
        #[test]
        fn a_witnessed_group_reaches_every_step((found, rows, max_duration) in case()) {
            let (m, ts) = group(&found, &rows, max_duration);
            if witnessed(&m, &ts, rows.len()) {
                prop_assert_eq!(scanned(&m, &ts, rows.len()), m.len());
            }
        }
    }
}
