//! Putting one group's rows in time order, for the sequence scan; or every group's at once
//! ([`TimeOrder`]) when a part's rows come in any order.

use arrow::buffer::ScalarBuffer;
use arrow::datatypes::ArrowNativeType;

use super::chain::NULL_KEY;
use super::groups::{Groups, Timestamps, TsChunks};
use super::prefetch::{prefetch, AHEAD};
use super::time_offsets::IntTimes;

/// A part's rows group after group, each group's in `(time, row)` order (or in part order, for
/// a scan that sorts the few groups it must itself), and their timestamps in that order: what a
/// sequence scan reads when the part's rows came in any order (as most pipelines write them).
/// Built per sequence by one counting-sort scatter of the rows of the groups the scan visits
/// and a sort of each group's slice in place, so that every scan after it reads
/// times and step bits sequentially (`Members::Runs` over positions) instead of through row
/// numbers scattered over the part. (Chains that need no time order take the times, step
/// bits and held values of the groups they visit in part order, [`KeptColumns`], instead.)
pub(crate) struct TimeOrder {
    /// The part's row and time at each position; group `g` at `offsets[g]..offsets[g + 1]`.
    placed: Placed,
    /// Where each group starts (`count + 1` entries); groups left out are empty.
    pub offsets: Vec<u32>,
}

/// The rows and times of a [`TimeOrder`].
enum Placed {
    /// Packed keys (see `order_packed`): the rows are read from them while the caller puts
    /// its per-row arrays in order, then the keys become the times in place — the row
    /// numbers never take memory of their own.
    Packed { keys: Vec<u64>, row_bits: u32, min: i64 },
    /// A row list and the times.
    Listed { rows: Vec<u32>, ts: Timestamps },
}

/// The rows of a [`TimeOrder`], position by position ([`TimeOrder::rows`]).
#[derive(Clone, Copy)]
pub(crate) enum RowOrder<'a> {
    /// The rows in a list.
    Listed(&'a [u32]),
    /// The rows in the low `mask` bits of packed keys.
    Packed { keys: &'a [u64], mask: u64 },
}

impl RowOrder<'_> {
    /// The row at each position, in order.
    pub(crate) fn iter(&self) -> impl ExactSizeIterator<Item = u32> + Clone + '_ {
        let (listed, packed, mask) = match *self {
            RowOrder::Listed(rows) => (rows, &[][..], 0),
            RowOrder::Packed { keys, mask } => (&[][..], keys, mask),
        };
        RowIter {
            listed: listed.iter(),
            packed: packed.iter(),
            mask,
        }
    }
}

/// [`RowOrder::iter`]: one of its two slices is empty.
#[derive(Clone)]
struct RowIter<'a> {
    listed: std::slice::Iter<'a, u32>,
    packed: std::slice::Iter<'a, u64>,
    mask: u64,
}

impl Iterator for RowIter<'_> {
    type Item = u32;

    #[inline]
    fn next(&mut self) -> Option<u32> {
        match self.listed.next() {
            Some(&r) => Some(r),
            None => self.packed.next().map(|&k| (k & self.mask) as u32),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.listed.len() + self.packed.len();
        (n, Some(n))
    }
}

impl ExactSizeIterator for RowIter<'_> {}

impl TimeOrder {
    /// The time order of `groups` (built with rows given their group) over timestamps `ts`:
    /// of every group, or only of those `keep` marks (one flag per group), the others left
    /// empty (their rows all written to one slot past the end, then dropped).
    ///
    /// Without `sorted`, each group's rows stay in part order (still adjacent, with their
    /// times): for a scan that decides most groups without order and sorts the positions of
    /// the others itself (a group's positions are adjacent, so that sort reads one slice).
    pub(crate) fn of(groups: &Groups, ts: &Timestamps, keep: Option<&[bool]>, sorted: bool) -> Self {
        let layout = Layout::of(groups, keep);
        let mut sorter = TimeSorter::default();
        let placed = match ts {
            Timestamps::Int(t) => match order_packed(groups, &layout, t, sorted) {
                Some(placed) => placed,
                None => {
                    let (rows, t) = order_runs(groups, &layout, t, sorted, |r, t| sorter.sort_run_int(r, t));
                    Placed::Listed {
                        rows,
                        ts: Timestamps::Int(t),
                    }
                }
            },
            Timestamps::Float(t) => {
                let (rows, t) = order_runs(groups, &layout, t, sorted, |r, t| sorter.sort_run_float(r, t));
                Placed::Listed {
                    rows,
                    ts: Timestamps::Float(t),
                }
            }
        };
        TimeOrder {
            placed,
            offsets: layout.offsets,
        }
    }

    /// The part's row at each position.
    pub(crate) fn rows(&self) -> RowOrder<'_> {
        match &self.placed {
            Placed::Packed { keys, row_bits, .. } => RowOrder::Packed {
                keys,
                mask: (1u64 << row_bits) - 1,
            },
            Placed::Listed { rows, .. } => RowOrder::Listed(rows),
        }
    }

    /// The timestamp at each position, and where each group starts; the rows are dropped
    /// (packed keys become the times in place).
    pub(crate) fn into_times(self) -> (Timestamps, Vec<u32>) {
        let ts = match self.placed {
            Placed::Packed {
                mut keys,
                row_bits,
                min,
            } => {
                for k in keys.iter_mut() {
                    *k = min.wrapping_add((*k >> row_bits) as i64) as u64;
                }
                let len = keys.len();
                let times = ScalarBuffer::<i64>::new(arrow::buffer::Buffer::from_vec(keys), 0, len);
                Timestamps::Int(TsChunks::single(times))
            }
            Placed::Listed { ts, .. } => ts,
        };
        (ts, self.offsets)
    }
}

/// Where each group's rows go in a [`TimeOrder`]: the groups kept, in group order; the
/// others' rows all written to one slot past the end (so that the scatter writes every row
/// without a branch on its group, and those rows cost no cache miss).
struct Layout {
    /// Where each group starts in the order (`count + 1` entries; the groups left out empty).
    offsets: Vec<u32>,
    /// Where the scatter writes each group's next row ([`Layout::take`]): a kept group's
    /// position, or [`PARKED`] with the slot past the end.
    fill: Vec<u32>,
    /// Rows of the groups kept.
    kept: usize,
    /// When the groups kept have few of the part's rows (at most one in [`SPARSE`]): their
    /// flags, 64 to a word (small enough for L1), so that the scatter passes over the other
    /// rows without looking their group up in `fill` (at random).
    sparse: Option<Vec<u64>>,
}

/// The share of a part's rows (one in this many) at or below which a [`Layout`] is sparse.
const SPARSE: usize = 4;

/// The flag of a group left out in [`Layout::fill`].
const PARKED: u32 = 1 << 31;

/// The share of a part's rows (one in this many) at or below which [`packed_keys`] lists the
/// kept rows, then gathers their times.
const GATHER: usize = 32;

impl Layout {
    fn of(groups: &Groups, keep: Option<&[bool]>) -> Self {
        // Parts of 2^31 rows or more (far beyond any part's size) keep every group.
        let keep = keep.filter(|_| groups.of_row().len() < PARKED as usize);
        let Some(keep) = keep else {
            let offsets = groups.offsets().to_vec();
            return Layout {
                fill: offsets[..groups.count].to_vec(),
                offsets,
                kept: groups.of_row().len(),
                sparse: None,
            };
        };
        let kept_at = |g: usize| keep.get(g).copied().unwrap_or(false);
        let mut offsets = Vec::with_capacity(groups.count + 1);
        let mut acc = 0u32;
        offsets.push(0);
        for (g, &size) in groups.sizes.iter().enumerate() {
            if kept_at(g) {
                acc += size;
            }
            offsets.push(acc);
        }
        let fill = (0..groups.count)
            .map(|g| if kept_at(g) { offsets[g] } else { PARKED | acc })
            .collect();
        let sparse = (acc as usize * SPARSE <= groups.of_row().len()).then(|| {
            let mut words = vec![0u64; groups.count.div_ceil(64)];
            for (g, _) in keep.iter().enumerate().filter(|(_, &k)| k) {
                if let Some(w) = words.get_mut(g / 64) {
                    *w |= 1 << (g % 64);
                }
            }
            words
        });
        Layout {
            offsets,
            fill,
            kept: acc as usize,
            sparse,
        }
    }

    /// Whether the scatter passes over a row of group `g` at once: its group is left out, as
    /// a sparse layout's flags tell without a look at `fill` (a dense layout parks the row).
    #[inline(always)]
    fn skips(&self, g: u32) -> bool {
        self.sparse
            .as_ref()
            .is_some_and(|w| w.get(g as usize / 64).is_none_or(|w| (w >> (g % 64)) & 1 == 0))
    }

    /// Slots the scatter writes: the kept rows and one past them.
    fn slots(&self) -> usize {
        self.kept + 1
    }

    /// Where the next row of a group goes, given its [`fill`](Self::fill) entry (advanced
    /// unless the group is parked).
    #[inline(always)]
    fn take(slot: &mut u32) -> usize {
        let v = *slot;
        *slot = v + 1 - (v >> 31);
        (v & !PARKED) as usize
    }
}

/// The rows of the groups `keep` marks (all when `None`), group after group, each group's in
/// part order, and where each group starts (`count + 1` entries; groups left out are empty):
/// one counting-sort scatter of row numbers, the others' rows parked past the end.
pub(crate) fn kept_rows(groups: &Groups, keep: Option<&[bool]>) -> (Vec<u32>, Vec<u32>) {
    let layout = Layout::of(groups, keep);
    let mut fill = layout.fill.clone();
    let mut rows = vec![0u32; layout.slots()];
    for (r, &g) in groups.of_row().iter().enumerate() {
        if layout.skips(g) {
            continue;
        }
        if let (Some(f), true) = (fill.get_mut(g as usize), r < PARKED as usize) {
            let at = Layout::take(f);
            if let Some(slot) = rows.get_mut(at) {
                *slot = r as u32;
            }
        }
    }
    rows.truncate(layout.kept);
    (rows, layout.offsets)
}

/// What chains scanned in any order read of the rows of the groups a scan visits
/// ([`KeptColumns::of`]), group after group, each group's rows in part order.
pub(crate) struct KeptColumns {
    /// Where each group starts (`count + 1` entries; groups left out are empty).
    pub offsets: Vec<u32>,
    /// Each position's time, as an offset from [`base`](Self::base).
    pub times: Vec<u32>,
    /// The part's first instant.
    pub base: i64,
    /// Each position's step bits (one byte a position).
    pub bits: Vec<u8>,
    /// Each position's held value, when the sequence holds one.
    pub held: Option<Vec<u32>>,
}

impl KeptColumns {
    /// The times (`t`), step bits (`bits`, one byte a row) and held values (`held`, one a
    /// row; a row past its end has none, [`NULL_KEY`]) of the rows of the groups `keep` marks
    /// (all when `None`), placed by one counting-sort scatter that reads each column in part
    /// order — one random write a row and column, no row list and no gather through one.
    /// `None` when the part's times span 2^32 or more (or it has none), or `bits` is not one
    /// byte a row.
    ///
    /// ```text
    /// rows:  g1@5 g0@3 g1@4 g0@9     keep: all
    /// out:   g0@3 g0@9 | g1@5 g1@4   offsets [0, 2, 4], times − 3
    /// ```
    pub(crate) fn of(
        groups: &Groups,
        keep: Option<&[bool]>,
        t: &TsChunks<i64>,
        bits: &[u8],
        held: Option<&[u32]>,
    ) -> Option<Self> {
        let of_row = groups.of_row();
        let (base, max) = t.min_max()?;
        if max.abs_diff(base) > u64::from(u32::MAX) || bits.len() != of_row.len() || of_row.len() >= PARKED as usize {
            return None;
        }
        let layout = Layout::of(groups, keep);
        let slots = layout.slots();
        let mut fill = layout.fill.clone();
        let mut times = vec![0u32; slots];
        let mut out_bits = vec![0u8; slots];
        let mut out_held = vec![NULL_KEY; if held.is_some() { slots } else { 0 }];
        let mut start = 0;
        for chunk in t.slices() {
            let end = start + chunk.len();
            let (Some(g), Some(b)) = (of_row.get(start..end), bits.get(start..end)) else {
                break;
            };
            for (i, ((&g, &b), &time)) in g.iter().zip(b).zip(chunk).enumerate() {
                let Some(f) = fill.get_mut(g as usize) else {
                    continue;
                };
                let at = Layout::take(f);
                if let (Some(slot), Some(to)) = (times.get_mut(at), out_bits.get_mut(at)) {
                    // Offsets from `base` fit 32 bits: checked above for every time.
                    *slot = time.abs_diff(base) as u32;
                    *to = b;
                }
                if let (Some(h), Some(slot)) = (held, out_held.get_mut(at)) {
                    *slot = h.get(start + i).copied().unwrap_or(NULL_KEY);
                }
            }
            start = end;
        }
        times.truncate(layout.kept);
        out_bits.truncate(layout.kept);
        out_held.truncate(layout.kept);
        Some(KeptColumns {
            offsets: layout.offsets,
            times,
            base,
            bits: out_bits,
            held: held.map(|_| out_held),
        })
    }
}

/// The time order of integer times through one `u64` key a row — its time since the part's
/// first instant, then its row number — when the part's time span leaves room for the row
/// numbers (`None` otherwise): one counting-sort scatter writes each row's key (one random
/// write a row, not one to a row list and one to a time list), each group's slice of keys is
/// sorted in place when `sorted` (by insertion up to [`INSERTION_MAX`] rows); the keys give
/// the rows, then become the times in place ([`TimeOrder::into_times`]).
fn order_packed(groups: &Groups, layout: &Layout, t: &TsChunks<i64>, sorted: bool) -> Option<Placed> {
    let n = groups.of_row().len();
    let row_bits = (usize::BITS - n.saturating_sub(1).leading_zeros()).max(1);
    let (keys, min) = packed_keys(groups, layout, t, sorted, row_bits, |r| r as u64, |_| {})?;
    Some(Placed::Packed { keys, row_bits, min })
}

/// The keys of kept groups' rows (`layout`), group after group: each row's time since the
/// part's first instant (returned) above `low_bits` bits of `low(row)`, each group's sorted
/// when `sorted`; `None` when the part's time span leaves no room for the low bits.
///
/// When few groups are kept (at most one row in [`GATHER`], spread over the part), their
/// rows are listed first, then their times and `low` read with the cache asked
/// for each some rows ahead (`low_ahead(row)` for what `low` reads): each would otherwise
/// wait on memory.
fn packed_keys<T: IntTimes>(
    groups: &Groups,
    layout: &Layout,
    t: &T,
    sorted: bool,
    low_bits: u32,
    low: impl Fn(usize) -> u64,
    low_ahead: impl Fn(usize),
) -> Option<(Vec<u64>, i64)> {
    let of_row = groups.of_row();
    let (min, max) = t.min_max()?;
    if of_row.is_empty() || low_bits >= 64 || max.abs_diff(min) >= 1u64 << (64 - low_bits) {
        return None;
    }
    let mut fill = layout.fill.clone();
    let mut keys = vec![0u64; layout.slots()];
    let since = t.since_wide(min);
    let mut place = |r: usize, g: u32, time: T::Value| {
        if let Some(f) = fill.get_mut(g as usize) {
            if let Some(key) = keys.get_mut(Layout::take(f)) {
                *key = (since(time) << low_bits) | low(r);
            }
        }
    };
    if layout.kept.saturating_mul(GATHER) <= of_row.len() {
        let kept: Vec<(u32, u32)> = of_row
            .iter()
            .enumerate()
            .filter(|&(_, &g)| !layout.skips(g))
            .map(|(r, &g)| (r as u32, g))
            .collect();
        for (j, &(r, g)) in kept.iter().enumerate() {
            if let Some(&(ahead, _)) = kept.get(j + AHEAD) {
                let ahead = ahead as usize;
                if let Some(time) = t.run(ahead..ahead + 1) {
                    prefetch(time.as_ptr());
                }
                low_ahead(ahead);
            }
            let r = r as usize;
            if let Some(&time) = t.run(r..r + 1).and_then(<[T::Value]>::first) {
                place(r, g, time);
            }
        }
    } else {
        for (r, (&g, time)) in of_row.iter().zip(t.values()).enumerate() {
            if !layout.skips(g) {
                place(r, g, time);
            }
        }
    }
    for w in layout.offsets.windows(2).filter(|_| sorted) {
        let Some(group) = keys.get_mut(w[0] as usize..w[1] as usize) else {
            continue;
        };
        sort_keys(group);
    }
    keys.truncate(layout.kept);
    Some((keys, min))
}

/// Sorts one group's keys in place: by insertion up to [`INSERTION_MAX`] keys.
#[inline]
pub(crate) fn sort_keys(keys: &mut [u64]) {
    if keys.len() <= INSERTION_MAX {
        insertion_sort_keys(keys);
    } else {
        keys.sort_unstable();
    }
}

/// The kept groups' rows in time order as their times and step bits only, for a scan that
/// needs nothing else of a row (strict order decided step by step): one `u64` a row — time
/// since [`min`](Self::min) above the row's byte of step bits — so no row number is kept and
/// no step bit is gathered through one.
///
/// ```text
/// key = (time - min) << 8 | step bits      group g: keys[offsets[g]..offsets[g + 1]], sorted
/// ```
pub(crate) struct SteppedOrder {
    /// Each position's key.
    keys: Vec<u64>,
    /// Where each group starts (`count + 1` entries); groups left out are empty.
    offsets: Vec<u32>,
    /// The part's first instant.
    min: i64,
}

impl SteppedOrder {
    /// The order of the groups `keep` marks (all when `None`), from each row's byte of step
    /// `bits`; `None` when the part's times span 2^56 or more (or `bits` are not one a row).
    pub(crate) fn of<T: IntTimes>(groups: &Groups, t: &T, keep: Option<&[bool]>, bits: &[u8]) -> Option<Self> {
        if bits.len() != groups.of_row().len() {
            return None;
        }
        let layout = Layout::of(groups, keep);
        let low = |r: usize| u64::from(bits.get(r).copied().unwrap_or(0));
        let low_ahead = |r: usize| prefetch(bits.as_ptr().wrapping_add(r));
        let (keys, min) = packed_keys(groups, &layout, t, true, STEP_KEY_BITS, low, low_ahead)?;
        Some(SteppedOrder {
            keys,
            offsets: layout.offsets,
            min,
        })
    }

    /// Groups in the order (kept or not).
    pub(crate) fn groups(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    /// Group `g`'s rows in time order, each as its time and step bits (none for a group
    /// left out).
    pub(crate) fn group(&self, g: usize) -> impl Iterator<Item = (i64, u64)> + '_ {
        let range = match (self.offsets.get(g), self.offsets.get(g + 1)) {
            (Some(&a), Some(&b)) => a as usize..b as usize,
            _ => 0..0,
        };
        let min = self.min;
        self.keys
            .get(range)
            .unwrap_or(&[])
            .iter()
            .map(move |&k| step_key_parts(k, min))
    }
}

/// Bits of a [`SteppedOrder`] key below the time: the row's byte of step bits.
pub(crate) const STEP_KEY_BITS: u32 = 8;

/// A key of time and step bits — `(time - min) << STEP_KEY_BITS | bits` — as its time and bits.
#[inline]
pub(crate) fn step_key_parts(key: u64, min: i64) -> (i64, u64) {
    (
        min.wrapping_add((key >> STEP_KEY_BITS) as i64),
        key & ((1 << STEP_KEY_BITS) - 1),
    )
}

/// Sorts a few keys by insertion, in place.
#[inline]
fn insertion_sort_keys(keys: &mut [u64]) {
    for i in 1..keys.len() {
        let k = keys[i];
        let mut j = i;
        while j > 0 && keys[j - 1] > k {
            keys[j] = keys[j - 1];
            j -= 1;
        }
        keys[j] = k;
    }
}

/// Every row and its time, group after group (one counting-sort scatter in part order: the
/// rows and times are read in sequence, only written at random), then, when `sorted`, each
/// group's slice of rows and times sorted together with `sort`.
fn order_runs<T: ArrowNativeType>(
    groups: &Groups,
    layout: &Layout,
    t: &TsChunks<T>,
    sorted: bool,
    mut sort: impl FnMut(&mut [u32], &mut [T]),
) -> (Vec<u32>, TsChunks<T>) {
    let of_row = groups.of_row();
    let mut fill = layout.fill.clone();
    let mut rows = vec![0u32; layout.slots()];
    let mut times = vec![T::default(); layout.slots()];
    for (r, (&g, time)) in of_row.iter().zip(t.values()).enumerate() {
        if layout.skips(g) {
            continue;
        }
        let at = Layout::take(&mut fill[g as usize]);
        if let (Some(row), Some(dst)) = (rows.get_mut(at), times.get_mut(at)) {
            *row = r as u32;
            *dst = time;
        }
    }
    for w in layout.offsets.windows(2).filter(|_| sorted) {
        let (a, b) = (w[0] as usize, w[1] as usize);
        if let (Some(r), Some(t)) = (rows.get_mut(a..b), times.get_mut(a..b)) {
            if r.len() > 1 {
                sort(r, t);
            }
        }
    }
    rows.truncate(layout.kept);
    times.truncate(layout.kept);
    (rows, TsChunks::single(ScalarBuffer::from(times)))
}

/// The rows of `rows` (ascending, distinct) as one range, when they are adjacent.
fn adjacent(rows: &[u32]) -> Option<std::ops::Range<usize>> {
    let (&first, &last) = (rows.first()?, rows.last()?);
    let range = first as usize..last as usize + 1;
    (range.len() == rows.len()).then_some(range)
}

/// Groups of up to this many rows are sorted by insertion, in place.
const INSERTION_MAX: usize = 24;

/// Sorts `rows` and `t` together by `(t, row)` by insertion (`rows` ascending: stable on `t`);
/// `le`: whether one time sorts before or equal to another.
#[inline]
fn insertion_sort<T: Copy>(rows: &mut [u32], t: &mut [T], le: impl Fn(&T, &T) -> bool) {
    for i in 1..t.len().min(rows.len()) {
        let (tv, rv) = (t[i], rows[i]);
        let mut j = i;
        while j > 0 && !le(&t[j - 1], &tv) {
            t[j] = t[j - 1];
            rows[j] = rows[j - 1];
            j -= 1;
        }
        t[j] = tv;
        rows[j] = rv;
    }
}

/// Sorts a group's rows by `(time, row)` through buffers reused from group to group.
///
/// Rows come in ascending order; groups already in time order are left as they are (one
/// comparison per row).
#[derive(Default)]
pub(crate) struct TimeSorter {
    keys: Vec<u64>,
    before: Vec<u32>,
    int_pairs: Vec<(i64, u32)>,
    float_pairs: Vec<(f64, u32)>,
    /// The times of the rows being sorted (gathered once).
    int_times: Vec<i64>,
    float_times: Vec<f64>,
}

impl TimeSorter {
    /// Sorts `rows` (ascending) by `(t[row], row)`: their times gathered once, then
    /// [`TimeSorter::sort_run_int`].
    pub(crate) fn sort_int(&mut self, rows: &mut [u32], t: &TsChunks<i64>) {
        // Adjacent rows (a group of a part written group by group, or of a time order): their
        // times are one slice.
        let slice = adjacent(rows).and_then(|range| t.run(range));
        let in_order = match slice {
            Some(slice) => slice.is_sorted(),
            None => rows.is_sorted_by_key(|&r| t[r as usize]),
        };
        if in_order {
            return;
        }
        let mut times = std::mem::take(&mut self.int_times);
        times.clear();
        match slice {
            Some(slice) => times.extend_from_slice(slice),
            None => times.extend(rows.iter().map(|&r| t[r as usize])),
        }
        self.sort_run_int(rows, &mut times);
        self.int_times = times;
    }

    /// Sorts one group's `rows` (ascending) and their times `t` together by `(time, row)`.
    ///
    /// Small groups by insertion. Otherwise, when the group's time span leaves room for a row's
    /// position in the group, each row is one `u64` key (time since the group's first instant,
    /// then position): one integer comparison each; else `(time, row)` pairs.
    pub(crate) fn sort_run_int(&mut self, rows: &mut [u32], t: &mut [i64]) {
        if t.is_sorted() {
            return;
        }
        if t.len() <= INSERTION_MAX {
            insertion_sort(rows, t, |a, b| a <= b);
            return;
        }
        let (min, max) = t
            .iter()
            .fold((i64::MAX, i64::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
        let position_bits = usize::BITS - rows.len().leading_zeros();
        let span = max.abs_diff(min);
        if position_bits < 64 && span < (1u64 << (64 - position_bits)) {
            self.keys.clear();
            self.keys.extend(
                t.iter()
                    .enumerate()
                    .map(|(i, &v)| (v.abs_diff(min) << position_bits) | i as u64),
            );
            self.keys.sort_unstable();
            self.before.clear();
            self.before.extend_from_slice(rows);
            let mask = (1u64 << position_bits) - 1;
            for ((dst, time), &k) in rows.iter_mut().zip(t.iter_mut()).zip(self.keys.iter()) {
                let i = (k & mask) as usize;
                *dst = self.before[i];
                *time = min.wrapping_add((k >> position_bits) as i64);
            }
        } else {
            self.int_pairs.clear();
            self.int_pairs.extend(t.iter().copied().zip(rows.iter().copied()));
            self.int_pairs.sort_unstable();
            for ((dst, time), &(v, r)) in rows.iter_mut().zip(t.iter_mut()).zip(self.int_pairs.iter()) {
                *dst = r;
                *time = v;
            }
        }
    }

    /// Sorts one group's `rows` (ascending) and their times `t` together by `(time, row)`,
    /// times in IEEE total order.
    pub(crate) fn sort_run_float(&mut self, rows: &mut [u32], t: &mut [f64]) {
        if t.is_sorted_by(|a, b| a.total_cmp(b).is_le()) {
            return;
        }
        if t.len() <= INSERTION_MAX {
            insertion_sort(rows, t, |a, b| a.total_cmp(b).is_le());
            return;
        }
        self.float_pairs.clear();
        self.float_pairs.extend(t.iter().copied().zip(rows.iter().copied()));
        self.float_pairs
            .sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        for ((dst, time), &(v, r)) in rows.iter_mut().zip(t.iter_mut()).zip(self.float_pairs.iter()) {
            *dst = r;
            *time = v;
        }
    }

    /// Sorts `rows` (ascending) by `(t[row], row)`, times in IEEE total order.
    pub(crate) fn sort_float(&mut self, rows: &mut [u32], t: &TsChunks<f64>) {
        if adjacent(rows)
            .and_then(|range| t.run(range))
            .is_some_and(|slice| slice.is_sorted_by(|a, b| a.total_cmp(b).is_le()))
        {
            return;
        }
        if rows.is_sorted_by(|&a, &b| t[a as usize] <= t[b as usize]) {
            return;
        }
        let mut times = std::mem::take(&mut self.float_times);
        times.clear();
        times.extend(rows.iter().map(|&r| t[r as usize]));
        self.sort_run_float(rows, &mut times);
        self.float_times = times;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks(ts: &[i64]) -> TsChunks<i64> {
        TsChunks::single(ts.to_vec().into())
    }

    /// The order the sorter must produce: by time, then row.
    fn expected(rows: &[u32], ts: &[i64]) -> Vec<u32> {
        let mut e = rows.to_vec();
        e.sort_by_key(|&r| (ts[r as usize], r));
        e
    }

    fn sorted(rows: &[u32], ts: &[i64]) -> Vec<u32> {
        let mut rows = rows.to_vec();
        TimeSorter::default().sort_int(&mut rows, &chunks(ts));
        rows
    }

    #[test]
    fn sorts_by_time_then_row_with_packed_keys() {
        // Two sessions out of order, with ties (rows 1 and 5 share a time).
        let ts = [50, 10, 20, 30, 5, 10, 7];
        let rows = [0, 1, 2, 3, 4, 5, 6];
        assert_eq!(sorted(&rows, &ts), vec![4, 6, 1, 5, 2, 3, 0]);
        assert_eq!(sorted(&rows, &ts), expected(&rows, &ts));
        // Rows of a group need not be adjacent.
        let rows = [1, 3, 5, 6];
        assert_eq!(sorted(&rows, &ts), expected(&rows, &ts));
    }

    #[test]
    fn sorts_groups_whose_time_span_leaves_no_room_for_positions() {
        // A span of the whole i64 range: (time, row) pairs instead of packed keys.
        let ts = [i64::MAX, i64::MIN, 0, i64::MIN, -1, i64::MAX];
        let rows = [0, 1, 2, 3, 4, 5];
        assert_eq!(sorted(&rows, &ts), vec![1, 3, 4, 2, 0, 5]);
        // A span that just fits the packed keys (6 rows: 3 position bits).
        let ts = [(1 << 60) + 1, 0, (1 << 61) - 1, 1, 0, 1 << 60];
        assert_eq!(sorted(&rows, &ts), expected(&rows, &ts));
    }

    /// The order `TimeOrder` must produce, computed another way: each row's (group, time,
    /// row), sorted.
    fn time_order_expected(groups: &Groups, ts: &[i64]) -> Vec<(u32, i64, u32)> {
        let of_row = groups.of_row();
        let mut e: Vec<(u32, i64, u32)> = (0..ts.len()).map(|r| (of_row[r], ts[r], r as u32)).collect();
        e.sort();
        e
    }

    #[test]
    fn time_order_lists_each_groups_rows_by_time_then_row() {
        use crate::exec::column::Column;
        use arrow::array::{ArrayRef, Int64Array};
        use std::sync::Arc;
        // Groups in any order, with ties, a group of one row, and groups longer than the
        // insertion sort takes, one whose span does not fit packed keys.
        let mut ids: Vec<i64> = vec![3, 1, 3, 2, 1, 3, 1, 2, 4];
        let mut ts: Vec<i64> = vec![50, 10, 20, 30, 5, 20, 7, 1, 9];
        for i in 0..60 {
            ids.push(if i % 2 == 0 { 5 } else { 1 });
            ts.push(if i % 3 == 0 { i64::MIN + i } else { i64::MAX - 2 * i });
            // A long group whose span fits packed keys, with ties.
            ids.push(6);
            ts.push((i * 7919) % 50);
        }
        let col = Column::single(Arc::new(Int64Array::from(ids.clone())) as ArrayRef);
        assert!(!Groups::build("f", "uid", col, true).unwrap().contiguous);
        check_time_order(&ids, &ts);
    }

    /// The time order of `ids` and `ts`, of every group and of every other group, sorted or
    /// not, checked against [`time_order_expected`]; each group's rows where the order's
    /// offsets say.
    fn check_time_order(ids: &[i64], ts: &[i64]) {
        use crate::exec::column::Column;
        use arrow::array::{ArrayRef, Int64Array};
        use std::sync::Arc;
        let col = Column::single(Arc::new(Int64Array::from(ids.to_vec())) as ArrayRef);
        let groups = Groups::build("f", "uid", col, true).unwrap();
        let every_other: Vec<bool> = (0..groups.count).map(|g| g % 2 == 1).collect();
        // The smallest group alone: few of the part's rows, a sparse layout.
        let smallest = (0..groups.count).min_by_key(|&g| groups.sizes[g]).unwrap();
        let alone: Vec<bool> = (0..groups.count).map(|g| g == smallest).collect();
        assert_eq!(
            Layout::of(&groups, Some(&alone)).sparse.is_some(),
            groups.sizes[smallest] as usize * SPARSE <= ts.len()
        );
        let cases = [None, Some(every_other.as_slice()), Some(alone.as_slice())]
            .into_iter()
            .flat_map(|k| [(k, true), (k, false)]);
        for (keep, sorted) in cases {
            let t = Timestamps::Int(TsChunks::single(ts.to_vec().into()));
            let order = TimeOrder::of(&groups, &t, keep, sorted);
            let rows: Vec<u32> = order.rows().iter().collect();
            let (ordered, offsets) = order.into_times();
            let Timestamps::Int(ordered) = &ordered else {
                panic!("integer times stay integers")
            };
            let of_row = groups.of_row();
            let got: Vec<(u32, i64, u32)> = rows
                .iter()
                .enumerate()
                .map(|(i, &r)| (of_row[r as usize], ordered[i], r))
                .collect();
            let kept = |g: u32| keep.is_none_or(|k| k[g as usize]);
            let mut expected = time_order_expected(&groups, ts);
            expected.retain(|&(g, _, _)| kept(g));
            if !sorted {
                // Each group's rows in part order; so are the kept rows listed alone.
                expected.sort_by_key(|&(g, _, r)| (g, r));
                let (listed, listed_offsets) = kept_rows(&groups, keep);
                assert_eq!(listed, expected.iter().map(|&(_, _, r)| r).collect::<Vec<_>>());
                assert_eq!(listed_offsets, offsets);
                // The same rows' times, step bits and held values placed by one scatter (a
                // held column shorter than the part: its last rows hold nothing); none when
                // the times span 2^32 or more.
                let bits: Vec<u8> = (0..ts.len()).map(|r| (r * 37 % 256) as u8).collect();
                let held: Vec<u32> = (0..ts.len() - 1).map(|r| (r * 13 % 5) as u32).collect();
                let Timestamps::Int(t) = &t else { unreachable!() };
                let placed = KeptColumns::of(&groups, keep, t, &bits, Some(&held));
                let (lo, hi) = (ts.iter().min().unwrap(), ts.iter().max().unwrap());
                assert_eq!(placed.is_some(), hi.abs_diff(*lo) <= u64::from(u32::MAX));
                if let Some(placed) = placed {
                    let listed_at =
                        |f: &dyn Fn(usize) -> (i64, u8, u32)| listed.iter().map(|&r| f(r as usize)).collect::<Vec<_>>();
                    let want = listed_at(&|r| (ts[r], bits[r], held.get(r).copied().unwrap_or(NULL_KEY)));
                    let held_out = placed.held.as_deref().unwrap();
                    let got: Vec<(i64, u8, u32)> = (0..listed.len())
                        .map(|p| (placed.base + i64::from(placed.times[p]), placed.bits[p], held_out[p]))
                        .collect();
                    assert_eq!(got, want);
                    assert_eq!(placed.offsets, offsets);
                    assert_eq!(placed.base, *lo);
                    // Nothing held: no held values placed.
                    let unheld = KeptColumns::of(&groups, keep, t, &bits, None).unwrap();
                    assert!(unheld.held.is_none());
                    assert_eq!(unheld.times, placed.times);
                }
            }
            assert_eq!(got, expected);
            assert_eq!(offsets.len(), groups.count + 1);
            for g in 0..groups.count {
                let (a, b) = (offsets[g] as usize, offsets[g + 1] as usize);
                let size = if kept(g as u32) { groups.sizes[g] as usize } else { 0 };
                assert_eq!(b - a, size);
                assert!(got[a..b].iter().all(|&(h, _, _)| h as usize == g));
            }
            // The same groups as times and step bits (a byte a row), sorted by both; none
            // when the span leaves no room for the bits.
            let bits: Vec<u8> = (0..ts.len()).map(|r| (r * 37 % 256) as u8).collect();
            let Timestamps::Int(t) = &t else { unreachable!() };
            let stepped = SteppedOrder::of(&groups, t, keep, &bits);
            let span = ts.iter().max().unwrap().abs_diff(*ts.iter().min().unwrap());
            assert_eq!(stepped.is_some(), span < 1 << 56, "span {span}");
            if let Some(stepped) = stepped {
                assert_eq!(stepped.groups(), groups.count);
                for g in 0..groups.count {
                    let mut expected: Vec<(i64, u64)> = (0..ts.len())
                        .filter(|&r| of_row[r] as usize == g && kept(g as u32))
                        .map(|r| (ts[r], u64::from(bits[r])))
                        .collect();
                    expected.sort();
                    assert_eq!(stepped.group(g).collect::<Vec<_>>(), expected, "group {g}");
                }
            }
        }
    }

    #[test]
    fn time_order_through_packed_keys_in_every_group_size() {
        // Groups of 1 to ~200 rows in any order, times with ties and negative, a span that
        // leaves room for the row numbers (one key a row).
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let (mut ids, mut ts) = (Vec::new(), Vec::new());
        for _ in 0..5_000 {
            let n = next();
            // Skewed: most rows in a few large groups.
            ids.push(if n % 4 == 0 {
                (n >> 8) as i64 % 300
            } else {
                (n >> 8) as i64 % 7
            });
            ts.push((next() % 1_000) as i64 - 500);
        }
        check_time_order(&ids, &ts);
    }

    #[test]
    fn time_order_at_the_packed_keys_edge() {
        // 8 rows: 3 bits of row number, so a span of up to 2^61 - 1 fits one key a row; one
        // more does not (the row and time lists are sorted instead): both orders are right.
        let ids = [1, 2, 1, 2, 1, 2, 1, 2];
        let fits = (1i64 << 61) - 1;
        for span in [fits, fits + 1] {
            let ts = [span, 0, 7, span, 0, 3, 7, 1];
            check_time_order(&ids, &ts);
            let ts: Vec<i64> = ts.iter().map(|t| t - (1 << 62)).collect();
            check_time_order(&ids, &ts);
        }
        // A span over the whole i64 range, and one row.
        check_time_order(&ids, &[i64::MAX, i64::MIN, 0, 0, i64::MIN, i64::MAX, 5, 5]);
        check_time_order(&[9], &[i64::MIN]);
    }

    #[test]
    fn time_order_sorts_float_times_in_total_order() {
        use crate::exec::column::Column;
        use arrow::array::{ArrayRef, Int64Array};
        use std::sync::Arc;
        let ids: Vec<i64> = (0..40).map(|i| i % 3).collect();
        let ts: Vec<f64> = (0..40).map(|i| ((i * 37) % 11) as f64 - 5.5).collect();
        let col = Column::single(Arc::new(Int64Array::from(ids)) as ArrayRef);
        let groups = Groups::build("f", "uid", col, true).unwrap();
        let order = TimeOrder::of(
            &groups,
            &Timestamps::Float(TsChunks::single(ts.clone().into())),
            None,
            true,
        );
        let rows: Vec<u32> = order.rows().iter().collect();
        let (ordered, _) = order.into_times();
        let Timestamps::Float(ordered) = &ordered else {
            panic!("float times stay floats")
        };
        let of_row = groups.of_row();
        for i in 1..rows.len() {
            let (a, b) = (rows[i - 1] as usize, rows[i] as usize);
            let key = |r: usize, t: f64| (of_row[r], t, r);
            let (ka, kb) = (key(a, ordered[i - 1]), key(b, ordered[i]));
            assert!(ka.0 < kb.0 || (ka.0 == kb.0 && (ka.1 < kb.1 || (ka.1 == kb.1 && ka.2 < kb.2))));
            assert_eq!(ordered[i], ts[b]);
        }
    }

    #[test]
    fn sorts_float_times_in_total_order() {
        let ts = [2.5, -1.0, 2.5, 0.0];
        let t = TsChunks::single(ts.to_vec().into());
        let mut rows = vec![0, 1, 2, 3];
        TimeSorter::default().sort_float(&mut rows, &t);
        assert_eq!(rows, vec![1, 3, 0, 2]);
    }
}
