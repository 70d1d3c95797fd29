//! Greedy chains per held value (`holdConstant`) and times to convert, found row by row over
//! a part in any order (no group's rows are put side by side), or group by group in place.
//!
//! A plain greedy chain (no `within`, strict order or window) of held value `v` in group `g`
//! takes the earliest row of step 0 with value `v`, then for each later step the earliest row
//! of that step and value strictly after the step before ([`SequenceMatcher::unordered_run`]
//! finds the same chain group by group). Only values with a row of step 1 go past step 0, and
//! such rows are one in ten or fewer; rows of step 0 are most rows. So:
//!
//! 1. the rows of later steps are kept apart, grouped by group (a radix sort) then by
//!    value: each run of one value (not null) with a row of step 1 is a chain;
//! 2. one pass over every row of the part finds each chain's earliest row of step 0 and marks
//!    the groups with a valued row of step 0 (they reach step 1 whatever else they have): a
//!    group's chains sit in 64-byte blocks of 8 ([`Block`]), and a row compares its value with
//!    every lane of its group's blocks, so no branch depends on which chain, or whether one,
//!    it matches (heavy users have many chains; a mispredicted branch a row cost more than
//!    the scatter this path replaced), nor on the row's step (a row not of step 0 takes the
//!    null value, which no chain has);
//! 3. each chain then goes through its own rows of later steps, step by step.
//!
//! ```text
//! rows (any order): g0 view i1 @5  g0 cart i1 @7  g0 view i2 @1  g0 cart i2 @0  g0 view i1 @2
//! 1. later rows of g0: cart i1 @7, cart i2 @0      chains: (g0, i1), (g0, i2)
//! 2. step 0:           (g0, i1) = 2, (g0, i2) = 1
//! 3. step 1:           (g0, i1): cart @7 > 2 → 2 steps; (g0, i2): cart @0 ≤ 1 → 1 step
//! ```
//!
//! Without a held value every row holds the same one: a chain per group with a row of step 1.
//!
//! Over a part written group by group, [`SequenceMatcher::held_chains_run`] takes the same
//! three steps over each group's rows in place: no sort by group, and the blocks are the
//! group's own.

use arrow::buffer::BooleanBuffer;

use super::chain::{earlier, ConversionSink, NULL_KEY};
use super::prefetch::{prefetch, AHEAD};
use super::sequence::SequenceMatcher;
use super::time_offsets::IntTimes;
use super::witness::row_chunks;
use super::zeroed::zeroed;

/// "No time": above every time kept (times are offsets from the part's first instant, and
/// a part whose times span `u32::MAX` or more is not scanned this way).
const NONE: u32 = u32::MAX;

/// Chains a [`Block`] holds.
const LANES: usize = 8;

/// The most chains (values with a row of step 1) a group may have for
/// [`SequenceMatcher::held_chains_rowwise`]: 256 blocks.
pub(crate) const MAX_CHAINS: usize = 256 * LANES;

/// Up to [`LANES`] chains of one group: their values ([`NULL_KEY`] for none) and earliest
/// times of step 0 ([`NONE`] for none yet), one cache line. Times are kept with their top bit
/// flipped, as `i32`s ([`ordered`]): compared signed, they order as the times do, and SSE2
/// compares signed 32-bit lanes in one instruction (unsigned takes three).
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Block {
    keys: [u32; LANES],
    t0: [i32; LANES],
}

/// Time `t` as a [`Block`] keeps it: its top bit flipped, as an `i32`.
#[inline(always)]
fn ordered(t: u32) -> i32 {
    (t ^ (1 << 31)) as i32
}

impl Block {
    const EMPTY: Block = Block {
        keys: [NULL_KEY; LANES],
        t0: [i32::MAX; LANES],
    };

    /// Lowers to `t` the time of step 0 of the lane whose value is `key`, if one is: every
    /// lane compared, no branch on the match.
    #[inline(always)]
    fn lower(&mut self, key: u32, t: u32) {
        let t = ordered(t);
        for (k, t0) in self.keys.iter().zip(self.t0.iter_mut()) {
            *t0 = if (*k == key) & (*t0 > t) { t } else { *t0 };
        }
    }

    /// The earliest time of step 0 of lane `lane` ([`NONE`] for none).
    #[inline(always)]
    fn t0(&self, lane: usize) -> u32 {
        self.t0.get(lane).map_or(NONE, |&t| t as u32 ^ (1 << 31))
    }
}

/// A row of a later step, kept apart (step 1 of the module doc).
#[derive(Clone, Copy, Default)]
struct Later {
    /// The row's group (by [`SequenceMatcher::held_chains_rowwise`]; 0 in a group's own).
    group: u32,
    /// The row's held value ([`NULL_KEY`] for none: never a chain's).
    key: u32,
    /// The row's time, an offset from the part's first instant.
    time: u32,
    /// The row's step bits.
    bits: u8,
}

/// Where each chain's rows of later steps are (`from..to` in their list), by block and lane:
/// chains in the order their lanes were filled, and each block's first chain. A block's
/// chains fill its lanes from the first, so a lane in use is the block's first chain plus
/// the lane.
#[derive(Default)]
struct ChainRows {
    /// Each block's first chain.
    first: Vec<u32>,
    /// Each chain's rows.
    rows: Vec<(u32, u32)>,
}

impl ChainRows {
    /// Room for `blocks` blocks and `chains` chains.
    fn with_capacity(blocks: usize, chains: usize) -> Self {
        ChainRows {
            first: Vec::with_capacity(blocks),
            rows: Vec::with_capacity(chains),
        }
    }

    fn clear(&mut self) {
        self.first.clear();
        self.rows.clear();
    }

    /// The rows of the chains of block `block`, lane by lane (as many as it has filled).
    #[inline]
    fn of_block(&self, block: usize) -> &[(u32, u32)] {
        let Some(&first) = self.first.get(block) else {
            return &[];
        };
        // (The next block's chains follow.)
        let next = self.first.get(block + 1).map_or(self.rows.len(), |&n| n as usize);
        self.rows.get(first as usize..next).unwrap_or_default()
    }
}

impl SequenceMatcher {
    /// How many steps each group reaches (0 for groups `selected` leaves out) under a plain
    /// greedy chain — held values' own when `held` (one a row, [`NULL_KEY`] for none; rows
    /// past its end have none) — found row by row as the module doc says; with `sink`, each
    /// group's time to convert at each step it reached after the first (that of its chain
    /// with the earliest start, then the earliest row of the step).
    ///
    /// `None` (nothing done) unless each row's step bits are one byte, the part's times span
    /// less than `u32::MAX` and no group has more than [`MAX_CHAINS`] values with a row of
    /// step 1.
    pub(crate) fn held_chains_rowwise<T: IntTimes>(
        &self,
        ts: &T,
        of_row: &[u32],
        groups: usize,
        held: Option<&[u32]>,
        selected: Option<&BooleanBuffer>,
        mut sink: Option<&mut ConversionSink<'_>>,
    ) -> Option<Vec<u32>> {
        let m = self.len();
        let rows = of_row.len();
        let bits = self.byte_bits(0..rows)?;
        let (first, last) = ts.min_max()?;
        let times: usize = ts.slices().map(<[T::Value]>::len).sum();
        if m == 0 || bits.len() != rows || times != rows || last.abs_diff(first) >= u64::from(NONE) {
            return None;
        }
        let stamp = ts.since(first);
        let later_steps = !1u8 & ((1u16 << m) - 1) as u8;
        let key_of = |r: usize| held.map_or(0, |h| h.get(r).copied().unwrap_or(NULL_KEY));

        // 1. The rows of later steps, group by group, each group's by value; the runs of one
        // value (not null) with a row of step 1 are the chains.
        let mut own_rows = by_group(
            later_rows(of_row, bits, later_steps, groups, |r| {
                let &t = ts.run(r..r + 1).and_then(<[T::Value]>::first)?;
                Some((key_of(r), stamp(t)))
            }),
            groups,
        );
        // Each group's chains in blocks of `LANES` (`block_of[g]`: its first block above the
        // number of its blocks less one; groups without chains point at block 0, which holds
        // none), and where each chain's rows of later steps are (by lane).
        // (Room for as many blocks as rows of later steps, each at most one chain's: never
        // grown. Pages not written are not taken.)
        let total = own_rows.len();
        let mut blocks = Vec::with_capacity(total + 1);
        blocks.push(Block::EMPTY);
        let mut chain_rows = ChainRows::with_capacity(total + 1, total);
        chain_rows.first.push(0);
        // (`block_of[groups]` stays 0: see step 2.)
        let mut block_of: Vec<u32> = zeroed(groups + 1);
        let mut from = 0;
        for own in own_rows.chunk_by_mut(|x, y| x.group == y.group) {
            let (group, start) = (own.first().map_or(0, |f| f.group as usize), blocks.len());
            // (Block numbers fit the 24 bits above a group's count of blocks.)
            if !add_chains(own, from, &mut blocks, &mut chain_rows, 1 << 24) {
                return None;
            }
            if let Some(to) = block_of.get_mut(group).filter(|_| blocks.len() > start) {
                *to = ((start as u32) << 8) | (blocks.len() - start - 1) as u32;
            }
            from += own.len() as u32;
        }

        // 2. One pass over every row: the groups with a valued row of step 0, and each chain's
        // earliest such row (each row compares its value with every lane of its group's
        // blocks: no branch on which lane, or whether, it matches).
        // (`seen[groups]` takes the rows without a valued step 0: a store a row, no load.)
        let mut seen: Vec<u8> = zeroed(groups + 1);
        if self.deadline.passed() {
            return Some(vec![0; groups]);
        }
        // The tables of this pass are read and written through pointers, every index bounded
        // by how it is made instead of checked a row (checks and reloads took a tenth of the
        // pass): a row's group is clamped to `groups` (a row past the groups, which the caller
        // never gives, takes the null slot of `seen` and the empty entry `block_of[groups]`),
        // and every entry of `block_of` is 0 (block 0) or blocks pushed above, which stay as
        // they are until the pass ends.
        debug_assert!(block_of.iter().all(|&packed| blocks_of(packed).end <= blocks.len()));
        let (entries, seen_at, blocks_at) = (block_of.as_ptr(), seen.as_mut_ptr(), blocks.as_mut_ptr());
        let ahead = move |g: usize| {
            // SAFETY: `g.min(groups) < groups + 1 == block_of.len()`.
            let packed = unsafe { *entries.add(g.min(groups)) };
            prefetch(blocks_at.cast_const().wrapping_add(blocks_of(packed).start));
        };
        step_0_rows(ts, of_row, bits, held, ahead, move |g, key, t| {
            // (Every row: one not of step 0, or without a value, comes with the null value,
            // which no chain has. No branch on the row's step.)
            let g = g.min(groups);
            // SAFETY: both indexes are at most `groups`, below `seen.len()` and
            // `block_of.len()` (`groups + 1`).
            let packed = unsafe {
                *seen_at.add(if key != NULL_KEY { g } else { groups }) = 1;
                *entries.add(g)
            };
            let t = stamp(t);
            for b in blocks_of(packed) {
                // SAFETY: below `blocks.len()` (see above); no other reference to `blocks`
                // lives during the pass.
                unsafe { (*blocks_at.add(b)).lower(key, t) };
            }
        });
        if self.deadline.passed() {
            return Some(vec![0; groups]);
        }

        // 3. Each chain's later steps from its own rows; each group's steps and first
        // conversions.
        let mut out = vec![0u32; groups];
        let mut conv: Vec<Option<(u32, u32)>> = vec![None; m];
        let mut conv_t: Vec<Option<(i64, i64)>> = vec![None; m];
        let wanted = |g: usize| selected.is_none_or(|s| g < s.len() && s.value(g));
        for (g, slot) in out.iter_mut().enumerate() {
            if self.deadline.stop_at(g) {
                break;
            }
            if !wanted(g) {
                continue;
            }
            let mut level = usize::from(seen.get(g).is_some_and(|&s| s != 0));
            let packed = block_of.get(g).copied().unwrap_or(0);
            // (Block 0, of groups without chains, holds none.)
            if packed != 0 {
                conv.iter_mut().for_each(|c| *c = None);
                let range = blocks_of(packed);
                let group = blocks.get(range.clone()).unwrap_or_default();
                level = level.max(reach(group, range.start, &chain_rows, &own_rows, &mut conv));
            }
            *slot = level as u32;
            if let Some(sink) = sink.as_deref_mut().filter(|_| level >= 2) {
                for (to, from) in conv_t.iter_mut().zip(&conv) {
                    *to = from.map(|(s, t)| (first + i64::from(s), first + i64::from(t)));
                }
                sink.add(&conv_t, level);
            }
        }
        Some(out)
    }
}

/// Room [`SequenceMatcher::held_chains_run`] keeps from group to group.
#[derive(Default)]
pub(super) struct RunScratch {
    /// The group's rows of later steps (times first as row numbers in the group).
    later: Vec<Later>,
    blocks: Vec<Block>,
    /// Where each chain's rows of later steps are in `later`, by block and lane.
    chain_rows: ChainRows,
    /// The first conversion at each step, as offsets from the group's first instant.
    conv: Vec<Option<(u32, u32)>>,
}

impl SequenceMatcher {
    /// [`held_chains_rowwise`](Self::held_chains_rowwise) over one group whose rows are
    /// adjacent in the part (written group by group): their `times`, step `bits` (a byte a
    /// row) and held values (`keys`; `None` when nothing is held, [`NULL_KEY`] for a null).
    /// The same three steps over the group's rows in place: its rows of later steps kept
    /// apart in the pass that finds the steps it has and its times' range, grouped by value
    /// into chains (8 to a [`Block`]); one pass over its rows for each chain's earliest row of
    /// step 0, no branch on the match; each chain's rows of later steps.
    ///
    /// The steps it reaches (0, unscanned, when a step no row has bounds them below `need`),
    /// and in `conv` its first conversion `(start, time)` at each step (`None` where there is
    /// none). `None` (nothing done) when the group's times span `u32::MAX` or more, it has more
    /// than [`MAX_CHAINS`] values with a row of step 1, or the slices differ in length.
    pub(super) fn held_chains_run(
        &self,
        times: &[i64],
        bits: &[u8],
        keys: Option<&[u32]>,
        need: usize,
        sc: &mut RunScratch,
        conv: &mut [Option<(i64, i64)>],
    ) -> Option<usize> {
        let m = self.len();
        let n = times.len();
        if m == 0 || m > 8 || bits.len() != n || keys.is_some_and(|k| k.len() != n) || n >= NONE as usize {
            return None;
        }
        let later_steps = !1u8 & ((1u16 << m) - 1) as u8;
        let RunScratch {
            later,
            blocks,
            chain_rows,
            conv: own_conv,
        } = sc;
        if later.len() < n {
            later.resize(n, Later::default());
        }
        // 1. The steps some row has, whether a valued row has step 0, the times' range and
        // the rows of later steps (each written at the next free place, kept by advancing
        // past it: no branch a row).
        let (mut any, mut first, mut lo, mut hi, mut kept) = (0u8, false, i64::MAX, i64::MIN, 0usize);
        let mut scan = |i: usize, t: i64, b: u8, key: u32| {
            any |= b;
            first |= (b & 1 != 0) & (key != NULL_KEY);
            (lo, hi) = (lo.min(t), hi.max(t));
            if let Some(slot) = later.get_mut(kept) {
                *slot = Later {
                    group: 0,
                    key,
                    time: i as u32,
                    bits: b,
                };
            }
            kept += usize::from(b & later_steps != 0);
        };
        match keys {
            Some(keys) => {
                for (i, ((&t, &b), &key)) in times.iter().zip(bits).zip(keys).enumerate() {
                    scan(i, t, b, key);
                }
            }
            None => {
                for (i, (&t, &b)) in times.iter().zip(bits).enumerate() {
                    scan(i, t, b, 0);
                }
            }
        }
        conv.iter_mut().for_each(|c| *c = None);
        if self.first_missing_of(u64::from(any)) < need {
            return Some(0);
        }
        if n == 0 || hi.abs_diff(lo) >= u64::from(NONE) {
            return None;
        }
        let stamp = |t: i64| t.abs_diff(lo) as u32;
        let own = later.get_mut(..kept)?;
        for l in own.iter_mut() {
            l.time = stamp(times.get(l.time as usize).copied().unwrap_or(lo));
        }
        // 2. Chains: the runs of one value (not null) with a row of step 1.
        blocks.clear();
        chain_rows.clear();
        if !add_chains(own, 0, blocks, chain_rows, usize::MAX) {
            return None;
        }
        if blocks.is_empty() {
            return Some(usize::from(first));
        }
        // Each chain's earliest row of step 0: a row not of step 0 takes the null value,
        // which no chain has.
        let mut lower = |t: i64, b: u8, key: u32| {
            let key = if b & 1 != 0 { key } else { NULL_KEY };
            let t = stamp(t);
            for block in blocks.iter_mut() {
                block.lower(key, t);
            }
        };
        match keys {
            Some(keys) => {
                for ((&t, &b), &key) in times.iter().zip(bits).zip(keys) {
                    lower(t, b, key);
                }
            }
            None => {
                for (&t, &b) in times.iter().zip(bits) {
                    lower(t, b, 0);
                }
            }
        }
        // 3. Each chain's later steps from its own rows.
        own_conv.clear();
        own_conv.resize(m, None);
        let level = usize::from(first).max(reach(blocks, 0, chain_rows, own, own_conv));
        for (to, from) in conv.iter_mut().zip(own_conv.iter()) {
            *to = from.map(|(s, t)| (lo + i64::from(s), lo + i64::from(t)));
        }
        Some(level)
    }
}

/// The most steps the chains of one group's `blocks` reach (the first of them block
/// `first_block` of `chain_rows`, which holds each chain's rows of later steps in `own` by
/// block and lane), each from its earliest time of step 0; lowers `conv` as [`chain`] does.
fn reach(
    blocks: &[Block],
    first_block: usize,
    chain_rows: &ChainRows,
    own: &[Later],
    conv: &mut [Option<(u32, u32)>],
) -> usize {
    let mut level = 0;
    for (b, block) in blocks.iter().enumerate() {
        // Only the lanes filled (a block's chains fill its lanes from the first).
        for (lane, (from, to)) in chain_rows.of_block(first_block + b).iter().enumerate() {
            let t0 = block.t0(lane);
            if t0 == NONE {
                continue;
            }
            if let Some(rows) = own.get(*from as usize..*to as usize) {
                level = level.max(chain(rows, t0, conv));
            }
        }
    }
    level
}

/// Sorts one group's rows of later steps (`own`, from place `from` of their list) by value,
/// and makes each run of one value (not null) with a row of step 1 a chain: its value in the
/// next lane of the group's blocks (pushed onto `blocks`, 8 lanes each) and its rows' places
/// in `chain_rows`. `false` when the group has more than [`MAX_CHAINS`]
/// chains or the blocks would reach `limit`.
fn add_chains(own: &mut [Later], from: u32, blocks: &mut Vec<Block>, chain_rows: &mut ChainRows, limit: usize) -> bool {
    own.sort_unstable_by_key(|l| l.key);
    let start = blocks.len();
    let mut lane = LANES;
    let mut from = from;
    for run in own.chunk_by(|x, y| x.key == y.key) {
        let to = from + run.len() as u32;
        if run[0].key != NULL_KEY && run.iter().any(|l| l.bits & 2 != 0) {
            if lane == LANES {
                if blocks.len() - start == MAX_CHAINS / LANES || blocks.len() >= limit {
                    return false;
                }
                blocks.push(Block::EMPTY);
                chain_rows.first.push(chain_rows.rows.len() as u32);
                lane = 0;
            }
            if let Some(block) = blocks.last_mut() {
                block.keys[lane] = run[0].key;
            }
            chain_rows.rows.push((from, to));
            lane += 1;
        }
        from = to;
    }
    true
}

/// The blocks of a group, from its entry in `block_of`: its first block above the number of
/// its blocks less one.
#[inline(always)]
fn blocks_of(packed: u32) -> std::ops::Range<usize> {
    let start = (packed >> 8) as usize;
    start..start + (packed & 0xFF) as usize + 1
}

/// The steps one chain reaches from its earliest time of step 0 (`t0`) and its rows of later
/// steps (`own`, any order): each step's earliest row strictly after the step before. Lowers
/// `conv[k]` to `(t0, time)` at each step `k` it reaches.
fn chain(own: &[Later], t0: u32, conv: &mut [Option<(u32, u32)>]) -> usize {
    conv[0] = earlier(conv[0], (t0, t0));
    let mut before = t0;
    let mut reached = 1;
    for (k, c) in conv.iter_mut().enumerate().skip(1) {
        let bit = 1u8 << k;
        let next = own.iter().fold(NONE, |e, l| {
            e.min(if l.bits & bit != 0 && l.time > before {
                l.time
            } else {
                NONE
            })
        });
        if next == NONE {
            break;
        }
        *c = earlier(*c, (t0, next));
        before = next;
        reached = k + 1;
    }
    reached
}

/// The rows whose step byte has a bit of `mask` and whose group is below `groups`, in part
/// order, each with the held value and time `row` gives it (a row it gives none is left out).
///
/// Such rows are one in ten or fewer: the step bytes are read eight at a time as one word,
/// made into a bit a row 64 rows at a time, and only the rows whose bit is set are visited
/// (no branch per row, no write per row).
fn later_rows(
    of_row: &[u32],
    bits: &[u8],
    mask: u8,
    groups: usize,
    mut row: impl FnMut(usize) -> Option<(u32, u32)>,
) -> Vec<Later> {
    let rows = of_row.len().min(bits.len());
    let (Some(of_row), Some(bits)) = (of_row.get(..rows), bits.get(..rows)) else {
        return Vec::new();
    };
    let mut out = Vec::with_capacity(rows / 8);
    let mut push = |g: u32, r: usize, b: u8| {
        if (g as usize) < groups {
            if let Some((key, time)) = row(r) {
                out.push(Later {
                    group: g,
                    key,
                    time,
                    bits: b,
                });
            }
        }
    };
    let (blocks, tail) = bits.as_chunks::<64>();
    let (groups_of, tail_groups) = of_row.as_chunks::<64>();
    for (i, (block, groups_of)) in blocks.iter().zip(groups_of).enumerate() {
        let mut set = rows_with_any(block, mask);
        while set != 0 {
            let j = set.trailing_zeros() as usize & 63;
            push(groups_of[j], i * 64 + j, block[j]);
            set &= set - 1;
        }
    }
    let base = blocks.len() * 64;
    for (i, (&b, &g)) in tail.iter().zip(tail_groups).enumerate() {
        if b & mask != 0 {
            push(g, base + i, b);
        }
    }
    out
}

/// `found` (groups below `groups`) in order of group, each group's in the order given: a
/// radix sort on the group's bits, least significant first, each pass a count and a scatter
/// into at most 1,024 places. (A counting sort over every group at once scatters each row to
/// a random place of tables as large as the groups: out of cache, slower by half.)
fn by_group(mut found: Vec<Later>, groups: usize) -> Vec<Later> {
    let width = usize::BITS - groups.saturating_sub(1).leading_zeros();
    if width == 0 || found.len() < 2 {
        return found;
    }
    let passes = width.div_ceil(10);
    let digit = width.div_ceil(passes);
    let mask = (1usize << digit) - 1;
    let mut other = vec![Later::default(); found.len()];
    let mut at = vec![0usize; mask + 1];
    for pass in 0..passes {
        let shift = pass * digit;
        let place = |f: &Later| (f.group as usize >> shift) & mask;
        at.fill(0);
        for f in &found {
            if let Some(n) = at.get_mut(place(f)) {
                *n += 1;
            }
        }
        let mut sum = 0;
        for n in at.iter_mut() {
            (sum, *n) = (sum + *n, sum);
        }
        for f in &found {
            if let Some(n) = at.get_mut(place(f)) {
                if let Some(slot) = other.get_mut(*n) {
                    *slot = *f;
                }
                *n += 1;
            }
        }
        std::mem::swap(&mut found, &mut other);
    }
    found
}

/// Bit `i` set when byte `i` of `block` has a bit of `mask`: each word of eight bytes masked,
/// its nonzero bytes marked by their top bit and gathered into eight bits by one multiply.
#[inline(always)]
fn rows_with_any(block: &[u8; 64], mask: u8) -> u64 {
    const LOW7: u64 = 0x7F7F_7F7F_7F7F_7F7F;
    const TOP: u64 = 0x8080_8080_8080_8080;
    // Byte `i`'s lowest bit to bit `56 + i` (the products of other bytes never meet there).
    const GATHER: u64 = 0x0102_0408_1020_4080;
    let spread = u64::from_ne_bytes([mask; 8]);
    let (words, _) = block.as_chunks::<8>();
    let mut set = 0u64;
    for (w, word) in words.iter().enumerate() {
        let x = u64::from_le_bytes(*word) & spread;
        // Top bit of each byte: set when the byte is nonzero.
        let nonzero = (((x & LOW7) + LOW7) | x) & TOP;
        set |= ((nonzero >> 7).wrapping_mul(GATHER) >> 56) << (8 * w);
    }
    set
}

/// Calls `visit(group, value, time)` for each row in part order: its held value (0 when
/// nothing is held) if it is a row of step 0, else [`NULL_KEY`] (no branch on the row's step:
/// they come mixed).
#[inline(always)]
fn step_0_rows<T: IntTimes>(
    ts: &T,
    of_row: &[u32],
    bits: &[u8],
    held: Option<&[u32]>,
    ahead: impl Fn(usize),
    mut visit: impl FnMut(usize, u32, T::Value),
) {
    #[inline(always)]
    fn chunk<V: Copy>(
        groups_of: &[u32],
        bits: &[u8],
        times: &[V],
        keys: impl Iterator<Item = u32>,
        ahead: &impl Fn(usize),
        visit: &mut impl FnMut(usize, u32, V),
    ) {
        for (i, (((&g, &b), &t), key)) in groups_of.iter().zip(bits).zip(times).zip(keys).enumerate() {
            if let Some(&later) = groups_of.get(i + AHEAD) {
                ahead(later as usize);
            }
            let key = if b & 1 != 0 { key } else { NULL_KEY };
            visit(g as usize, key, t);
        }
    }
    let mut start = 0;
    for (groups_of, bits, times) in row_chunks(ts.slices(), of_row, bits) {
        let end = start + times.len();
        match held.map(|h| h.get(start..end)) {
            None => chunk(groups_of, bits, times, std::iter::repeat(0), &ahead, &mut visit),
            Some(Some(keys)) => chunk(groups_of, bits, times, keys.iter().copied(), &ahead, &mut visit),
            // Rows past the held values' end have none.
            Some(None) => {
                let h = held.unwrap_or_default();
                let keys = (start..end).map(|r| h.get(r).copied().unwrap_or(NULL_KEY));
                chunk(groups_of, bits, times, keys, &ahead, &mut visit)
            }
        }
        start = end;
    }
}

#[cfg(test)]
mod tests {
    use arrow::buffer::BooleanBuffer;

    use super::*;
    use crate::conversion::ConversionPartial;
    use crate::exec::chain::tests::xorshift;
    use crate::exec::groups::TsChunks;

    /// A row: its group, whether it matches each step (in sequence order), its time and its
    /// held value.
    type Row = (u32, Vec<bool>, i64, u32);

    /// Each group's steps and the times to convert (steps `1..`) as `held_chains_rowwise`
    /// finds them.
    fn rowwise(
        m: usize,
        groups: usize,
        rows: &[Row],
        held: bool,
        selected: Option<&[bool]>,
    ) -> (Vec<u32>, Vec<ConversionPartial>) {
        let (matcher, ts, of_row, keys) = part(m, rows);
        let selected = selected.map(|s| s.iter().copied().collect::<BooleanBuffer>());
        let mut partials: Vec<ConversionPartial> = (1..m).map(|_| ConversionPartial::new(true, 0)).collect();
        let mut sink = ConversionSink {
            partials: &mut partials,
            bins: &[],
        };
        let levels = matcher
            .held_chains_rowwise(
                &ts,
                &of_row,
                groups,
                held.then_some(&keys[..]),
                selected.as_ref(),
                Some(&mut sink),
            )
            .expect("one byte of step bits, times spanning less than 2^32");
        (levels, partials)
    }

    /// The definition, group by group: a greedy chain per held value (all rows one value when
    /// nothing is held), its rows in time order, each step at the first row of the step after
    /// the previous step's; a group reaches its best value's steps; its time to convert at step
    /// `k` is that of the chain with the earliest `(start, time)` reaching it.
    fn reference(
        m: usize,
        groups: usize,
        rows: &[Row],
        held: bool,
        selected: Option<&[bool]>,
    ) -> (Vec<u32>, Vec<Vec<i64>>) {
        let mut levels = vec![0u32; groups];
        let mut times: Vec<Vec<i64>> = vec![Vec::new(); m.saturating_sub(1)];
        for g in 0..groups {
            if selected.is_some_and(|s| !s[g]) {
                continue;
            }
            let own: Vec<&Row> = rows.iter().filter(|r| r.0 == g as u32).collect();
            let value = |r: &Row| if held { r.3 } else { 0 };
            let mut values: Vec<u32> = own.iter().map(|r| value(r)).filter(|&k| k != NULL_KEY).collect();
            values.sort_unstable();
            values.dedup();
            let mut best: Vec<Option<(i64, i64)>> = vec![None; m];
            let mut level = 0;
            for v in values {
                let mut chain: Vec<&&Row> = own.iter().filter(|r| value(r) == v).collect();
                chain.sort_by_key(|r| r.2);
                let (mut k, mut start, mut after) = (0, None, None);
                for r in chain {
                    if k < m && r.1[k] && after.is_none_or(|a| r.2 > a) {
                        let s = *start.get_or_insert(r.2);
                        best[k] = Some(best[k].map_or((s, r.2), |b| b.min((s, r.2))));
                        after = Some(r.2);
                        k += 1;
                    }
                }
                level = level.max(k);
            }
            levels[g] = level as u32;
            for k in 1..level {
                if let Some((s, t)) = best[k] {
                    times[k - 1].push(t - s);
                }
            }
        }
        (levels, times)
    }

    /// The step bits (`m` steps), times, groups and held values of `rows`.
    fn part(m: usize, rows: &[Row]) -> (SequenceMatcher, TsChunks<i64>, Vec<u32>, Vec<u32>) {
        let steps = (0..m)
            .map(|s| {
                (
                    rows.iter().map(|(_, hits, _, _)| hits[s]).collect::<BooleanBuffer>(),
                    true,
                )
            })
            .collect();
        let matcher = SequenceMatcher::new(steps, None, rows.len());
        let ts = TsChunks::single(rows.iter().map(|&(_, _, t, _)| t).collect::<Vec<_>>().into());
        let of_row = rows.iter().map(|&(g, _, _, _)| g).collect();
        let keys = rows.iter().map(|&(_, _, _, k)| k).collect();
        (matcher, ts, of_row, keys)
    }

    #[test]
    fn the_module_example() {
        // Steps view, cart; group 0's rows as in the module doc (items 1 and 2).
        let (view, cart) = (vec![true, false], vec![false, true]);
        let rows = vec![
            (0, view.clone(), 5, 1),
            (0, cart.clone(), 7, 1),
            (0, view.clone(), 1, 2),
            (0, cart, 0, 2),
            (0, view, 2, 1),
        ];
        let (levels, partials) = rowwise(2, 1, &rows, true, None);
        assert_eq!(levels, vec![2]);
        assert_eq!(
            (partials[0].groups, partials[0].min, partials[0].max),
            (1, Some(5.0), Some(5.0))
        );
        // Held by nothing, the chain is the group's: view @1, then cart @7.
        let (levels, partials) = rowwise(2, 1, &rows, false, None);
        assert_eq!(levels, vec![2]);
        assert_eq!(partials[0].min, Some(6.0));
    }

    /// A random part of case `case`: 1–3 steps, 1–6 groups, 1–60 rows, up to 13 held values
    /// (one row in 8 null; 12 values every third case), ties in time.
    fn random_part(next: &mut impl FnMut(u64) -> u64, case: usize) -> (usize, usize, Vec<Row>) {
        let m = 1 + next(3) as usize;
        let groups = 1 + next(6) as usize;
        let n = 1 + next(60) as usize;
        let values = 1 + next(if case.is_multiple_of(3) { 12 } else { 3 });
        let rows = (0..n)
            .map(|_| {
                let hits = (0..m).map(|_| next(3) == 0).collect();
                let key = if next(8) == 0 { NULL_KEY } else { next(values) as u32 };
                (next(groups as u64) as u32, hits, 1_000 + next(15) as i64, key)
            })
            .collect();
        (m, groups, rows)
    }

    #[test]
    fn later_rows_are_the_rows_with_a_bit_of_the_mask() {
        let mut next = xorshift(0x9E37_79B9_7F4A_7C15);
        for case in 0..2000u64 {
            let rows = next(300) as usize;
            // Sparse, dense and every byte value.
            let density = [2, 20, 256][case as usize % 3];
            let bits: Vec<u8> = (0..rows)
                .map(|_| {
                    if next(256) < density {
                        next(256) as u8
                    } else {
                        next(2) as u8
                    }
                })
                .collect();
            let groups = next(50) as usize;
            let of_row: Vec<u32> = (0..rows).map(|_| next(groups as u64 + 3) as u32).collect();
            let mask = (next(255) + 1) as u8;
            // Rows whose number is a multiple of 7 have no time.
            let row = |r: usize| (!r.is_multiple_of(7)).then(|| (r as u32 * 3, r as u32 + 10));
            let want: Vec<(u32, u32, u32, u8)> = (0..rows)
                .filter(|&r| bits[r] & mask != 0 && (of_row[r] as usize) < groups && !r.is_multiple_of(7))
                .map(|r| (of_row[r], r as u32 * 3, r as u32 + 10, bits[r]))
                .collect();
            let flat = |found: &[Later]| -> Vec<(u32, u32, u32, u8)> {
                found.iter().map(|f| (f.group, f.key, f.time, f.bits)).collect()
            };
            let found = later_rows(&of_row, &bits, mask, groups, row);
            assert_eq!(flat(&found), want, "case {case}: mask {mask:#x} over {bits:?}");
            // By group, each group's rows still in part order.
            let mut sorted = want.clone();
            sorted.sort_by_key(|&(g, ..)| g);
            assert_eq!(flat(&by_group(found, groups)), sorted, "case {case}: by group");
        }
    }

    #[test]
    fn by_group_sorts_any_number_of_groups_stably() {
        let mut next = xorshift(0x2545_F491_4F6C_DD1D);
        for groups in [
            1usize,
            2,
            3,
            1000,
            1 << 10,
            (1 << 10) + 1,
            1 << 20,
            3_000_000,
            u32::MAX as usize,
        ] {
            let found: Vec<Later> = (0..5000u32)
                .map(|i| Later {
                    group: next(groups as u64) as u32,
                    key: i,
                    time: 0,
                    bits: 0,
                })
                .collect();
            let mut want: Vec<(u32, u32)> = found.iter().map(|f| (f.group, f.key)).collect();
            want.sort_by_key(|&(g, _)| g);
            let got: Vec<(u32, u32)> = by_group(found, groups).iter().map(|f| (f.group, f.key)).collect();
            assert_eq!(got, want, "{groups} groups");
        }
    }

    #[test]
    fn rows_of_groups_past_the_count_are_left_out() {
        // (The caller never gives such rows: the pass over every row must still stay within
        // its tables.)
        let mut next = xorshift(0x0DDB_1A5E_5BAD_5EED);
        for case in 0..300 {
            let (m, groups, rows) = random_part(&mut next, case);
            let (want, _) = rowwise(m, groups, &rows, true, None);
            let mut more = rows.clone();
            for r in 0..rows.len() / 3 {
                let (_, hits, t, key) = rows[r * 3].clone();
                more.push((groups as u32 + next(3) as u32, hits, t, key));
            }
            let (got, _) = rowwise(m, groups, &more, true, None);
            assert_eq!(got, want, "case {case}");
        }
    }

    #[test]
    fn held_chains_row_by_row_agree_with_the_definition() {
        let mut next = xorshift(0x2545_F491_4F6C_DD1D);
        for case in 0..3000 {
            let (m, groups, rows) = random_part(&mut next, case);
            let held = case % 4 != 0;
            let selected: Option<Vec<bool>> = (case % 5 == 0).then(|| (0..groups).map(|_| next(2) == 0).collect());
            let (levels, partials) = rowwise(m, groups, &rows, held, selected.as_deref());
            let (want, times) = reference(m, groups, &rows, held, selected.as_deref());
            assert_eq!(levels, want, "case {case}: levels of {rows:?}");
            for (k, (p, t)) in partials.iter().zip(&times).enumerate() {
                let got = (p.groups, p.min, p.max, format!("{:?}", p.sum));
                let expected = (
                    t.len() as u64,
                    t.iter().min().map(|&x| x as f64),
                    t.iter().max().map(|&x| x as f64),
                    format!(
                        "{:?}",
                        crate::conversion::TimeSum::Int(t.iter().map(|&x| i128::from(x)).sum())
                    ),
                );
                assert_eq!(got, expected, "case {case}: step {} of {rows:?}", k + 1);
            }
        }
    }

    /// Each group's steps and the times to convert as `held_chains_run` finds them over the
    /// group's rows in place (`rows` sorted by group, stably), for groups that can reach
    /// `need` steps.
    fn in_place(m: usize, groups: usize, rows: &[Row], held: bool, need: usize) -> (Vec<u32>, Vec<ConversionPartial>) {
        let mut rows = rows.to_vec();
        rows.sort_by_key(|r| r.0);
        let (matcher, ts, _, keys) = part(m, &rows);
        let (times, bits) = (
            ts.run(0..rows.len()).unwrap(),
            matcher.byte_bits(0..rows.len()).unwrap(),
        );
        let mut partials: Vec<ConversionPartial> = (1..m).map(|_| ConversionPartial::new(true, 0)).collect();
        let mut sink = ConversionSink {
            partials: &mut partials,
            bins: &[],
        };
        let (mut room, mut conv) = (RunScratch::default(), vec![None; m]);
        let mut levels = vec![0u32; groups];
        let mut from = 0;
        for (g, level) in levels.iter_mut().enumerate() {
            let to = from + rows[from..].iter().take_while(|r| r.0 == g as u32).count();
            let keys = held.then(|| &keys[from..to]);
            let reached = matcher
                .held_chains_run(&times[from..to], &bits[from..to], keys, need, &mut room, &mut conv)
                .expect("times spanning less than 2^32, few chains");
            *level = reached as u32;
            sink.add(&conv, reached);
            from = to;
        }
        (levels, partials)
    }

    #[test]
    fn held_chains_in_place_agree_with_the_definition() {
        let mut next = xorshift(0x9E37_79B9_7F4A_7C15);
        for case in 0..3000 {
            let (m, groups, rows) = random_part(&mut next, case);
            let held = case % 4 != 0;
            let need = 1 + next(m as u64) as usize;
            let (levels, partials) = in_place(m, groups, &rows, held, need);
            // Groups without a row of some step before `need` are left unscanned (0), and add
            // no times to convert.
            let scanned: Vec<bool> = (0..groups)
                .map(|g| (0..need).all(|k| rows.iter().any(|r| r.0 == g as u32 && r.1[k])))
                .collect();
            let (want, times) = reference(m, groups, &rows, held, Some(&scanned));
            assert_eq!(levels, want, "case {case}: levels (need {need}) of {rows:?}");
            for (k, (p, t)) in partials.iter().zip(&times).enumerate() {
                let got = (p.groups, p.min, p.max);
                let expected = (
                    t.len() as u64,
                    t.iter().min().map(|&x| x as f64),
                    t.iter().max().map(|&x| x as f64),
                );
                assert_eq!(got, expected, "case {case}: step {} of {rows:?}", k + 1);
            }
        }
    }

    #[test]
    fn a_group_with_too_many_chains_is_left_to_the_scan() {
        // One group with a view and a cart of each of MAX_CHAINS + 1 items.
        let items = MAX_CHAINS as u32 + 1;
        let (view, cart) = (vec![true, false], vec![false, true]);
        let rows: Vec<Row> = (0..items)
            .flat_map(|i| [(0, view.clone(), 1, i), (0, cart.clone(), 2, i)])
            .collect();
        let (matcher, ts, of_row, keys) = part(2, &rows);
        assert!(matcher
            .held_chains_rowwise(&ts, &of_row, 1, Some(&keys), None, None)
            .is_none());
        // One item fewer fits.
        let (matcher, ts, of_row, keys) = part(2, &rows[..rows.len() - 2]);
        let levels = matcher.held_chains_rowwise(&ts, &of_row, 1, Some(&keys), None, None);
        assert_eq!(levels, Some(vec![2]));
    }
}
