//! A part's integer times as 32-bit offsets, decoded so from the page on when every scan the
//! query runs over a part in any order reads them so (held chains row by row, strict funnels):
//! half the bytes of `i64` times to write, and to read in every pass over them.
//!
//! Each row's offset is its time less the first time decoded (the `origin`), wrapped to 32
//! bits. While the part's times span less than 2^32 - 2 (checked once decoded; a part's
//! footer statistics tell beforehand whether to try), a time's distance from any instant
//! `from` at or before the part's first (and less than 2^32 before its last) is `offset +
//! (origin - from)`, wrapped: exact ([`IntTimes::since`]). The time itself is the part's
//! first plus its distance from it.
//!
//! ```text
//! times    1000  998         1003     origin 1000
//! offsets  0     2^32 - 2    3        since 998: 2, 0, 5
//! ```
//!
//! Scans that need times as `i64` get them made from the offsets on first use
//! (`TimeOffsets::to_chunks`): correct, one pass slower.

use std::ops::Range;

use arrow::buffer::ScalarBuffer;

use super::groups::{min_max, TsChunks};
use super::pages::ValueSink;

/// A part's times as offsets from the first time decoded (module doc), spanning less than
/// 2^32 - 2.
#[derive(Debug, Clone)]
pub(crate) struct TimeOffsets {
    offsets: ScalarBuffer<u32>,
    origin: i64,
    /// The smallest and largest time: less than 2^32 - 2 apart.
    range: (i64, i64),
}

impl TimeOffsets {
    /// Every row's time as `i64`, made from the offsets (one pass).
    pub(crate) fn to_chunks(&self) -> TsChunks<i64> {
        let first = self.range.0;
        let since = self.since(first);
        let times: Vec<i64> = self
            .offsets
            .iter()
            .map(|&o| first.wrapping_add(i64::from(since(o))))
            .collect();
        TsChunks::single(ScalarBuffer::from(times)).with_range(Some(self.range))
    }
}

/// A part's integer times as the scans of parts in any order read them: row by row, each a
/// `Value`, and as distances from an instant at or before the first.
pub(crate) trait IntTimes {
    /// A row's time as kept.
    type Value: Copy;

    /// The rows' times in row order, as slices (the first starts at row 0, each next where
    /// the previous ends).
    fn slices(&self) -> impl Iterator<Item = &[Self::Value]> + '_;

    /// The times of `rows` as one slice, when they lie in one.
    fn run(&self, rows: Range<usize>) -> Option<&[Self::Value]>;

    /// Every row's time, in row order.
    fn values(&self) -> impl Iterator<Item = Self::Value> + '_;

    /// The smallest and largest time (`None` without rows).
    fn min_max(&self) -> Option<(i64, i64)>;

    /// Each time's distance from `from`, wrapped to 32 bits: exact for times at or after
    /// `from` and less than 2^32 after it.
    fn since(&self, from: i64) -> impl Fn(Self::Value) -> u32 + Copy;

    /// Each time's distance from `from`, for times at or after it (any distance up to
    /// 2^64 - 1).
    fn since_wide(&self, from: i64) -> impl Fn(Self::Value) -> u64 + Copy;
}

impl IntTimes for TsChunks<i64> {
    type Value = i64;

    fn slices(&self) -> impl Iterator<Item = &[i64]> + '_ {
        TsChunks::slices(self)
    }

    #[inline(always)]
    fn run(&self, rows: Range<usize>) -> Option<&[i64]> {
        TsChunks::run(self, rows)
    }

    fn values(&self) -> impl Iterator<Item = i64> + '_ {
        TsChunks::values(self)
    }

    fn min_max(&self) -> Option<(i64, i64)> {
        TsChunks::min_max(self)
    }

    fn since(&self, from: i64) -> impl Fn(i64) -> u32 + Copy {
        move |t| t.wrapping_sub(from) as u32
    }

    fn since_wide(&self, from: i64) -> impl Fn(i64) -> u64 + Copy {
        move |t| t.abs_diff(from)
    }
}

impl IntTimes for TimeOffsets {
    type Value = u32;

    fn slices(&self) -> impl Iterator<Item = &[u32]> + '_ {
        std::iter::once(&self.offsets[..])
    }

    #[inline(always)]
    fn run(&self, rows: Range<usize>) -> Option<&[u32]> {
        self.offsets.get(rows)
    }

    fn values(&self) -> impl Iterator<Item = u32> + '_ {
        self.offsets.iter().copied()
    }

    fn min_max(&self) -> Option<(i64, i64)> {
        (!self.offsets.is_empty()).then_some(self.range)
    }

    fn since(&self, from: i64) -> impl Fn(u32) -> u32 + Copy {
        let shift = self.origin.wrapping_sub(from) as u32;
        move |o| o.wrapping_add(shift)
    }

    fn since_wide(&self, from: i64) -> impl Fn(u32) -> u64 + Copy {
        // (Every time is less than 2^32 - 2 after the part's first.)
        let since = self.since(from);
        move |o| u64::from(since(o))
    }
}

/// Decodes a part's INT times into [`TimeOffsets`] ([`ValueSink`] of our page decoder).
#[derive(Default)]
pub(crate) struct OffsetSink {
    offsets: Vec<u32>,
    origin: Option<i64>,
    range: Option<(i64, i64)>,
    /// A page had rows without a value (then the times are not kept as offsets).
    nulls: bool,
}

impl OffsetSink {
    /// Room for about `rows` rows.
    pub(crate) fn new(rows: usize) -> Self {
        OffsetSink {
            offsets: Vec::with_capacity(rows),
            ..Default::default()
        }
    }

    /// Appends a page's values, their range taken while in cache.
    fn push(&mut self, values: &[i64]) {
        let Some(&first) = values.first() else {
            return;
        };
        let origin = *self.origin.get_or_insert(first);
        if let Some((lo, hi)) = min_max(&[values]) {
            self.range = Some(self.range.map_or((lo, hi), |(a, b)| (a.min(lo), b.max(hi))));
        }
        self.offsets
            .extend(values.iter().map(|&t| t.wrapping_sub(origin) as u32));
    }

    /// The offsets, unless a row had no value or the times span 2^32 - 2 or more (the scans
    /// that take offsets keep times from the instant before the first, below `u32::MAX`).
    pub(crate) fn finish(self) -> Option<TimeOffsets> {
        let range = match self.range {
            Some((lo, hi)) if !self.nulls && hi.abs_diff(lo) < u64::from(u32::MAX - 1) => (lo, hi),
            // No rows: nothing to span.
            None if !self.nulls && self.offsets.is_empty() => (0, 0),
            _ => return None,
        };
        Some(TimeOffsets {
            offsets: ScalarBuffer::from(self.offsets),
            origin: self.origin.unwrap_or(0),
            range,
        })
    }
}

impl ValueSink for OffsetSink {
    fn entries(&mut self, dictionary: &[i64], entries: &[u32]) {
        // One pass: each row's value gathered, its range widened and its offset written.
        // (Every entry is within the dictionary: the decoder checks.)
        let value = |e: u32| dictionary.get(e as usize).copied().unwrap_or(0);
        let Some(&first) = entries.first() else {
            return;
        };
        let origin = *self.origin.get_or_insert(value(first));
        let (mut lo, mut hi) = self.range.unwrap_or((value(first), value(first)));
        self.offsets.extend(entries.iter().map(|&e| {
            let t = value(e);
            (lo, hi) = (lo.min(t), hi.max(t));
            t.wrapping_sub(origin) as u32
        }));
        self.range = Some((lo, hi));
    }

    fn values(&mut self, values: &[i64]) {
        self.push(values);
    }

    fn end_chunk(&mut self, _dictionary: &[i64], _nulls: usize) -> Result<(), String> {
        Ok(())
    }

    fn absent(&mut self, _present: &[u8], _rows: usize) {
        self.nulls = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Offsets of `times`, pushed a page at a time (the first page through a dictionary).
    fn offsets(times: &[i64], page: usize) -> Option<TimeOffsets> {
        let mut sink = OffsetSink::new(times.len());
        for (i, p) in times.chunks(page.max(1)).enumerate() {
            if i == 0 {
                let entries: Vec<u32> = (0..p.len() as u32).rev().collect();
                let dictionary: Vec<i64> = p.iter().rev().copied().collect();
                sink.entries(&dictionary, &entries);
            } else {
                sink.values(p);
            }
        }
        sink.finish()
    }

    #[test]
    fn offsets_give_each_time_and_its_distance_from_the_first() {
        let base = 1_600_000_000_000i64;
        let times = [base + 7, base, base + 3, base + (1 << 32) - 3, base + 2, base + 9];
        let t = offsets(&times, 4).expect("times spanning less than 2^32 - 2");
        assert_eq!(t.min_max(), Some((base, base + (1 << 32) - 3)));
        let since = t.since(base);
        let got: Vec<u32> = t.values().map(since).collect();
        let want: Vec<u32> = times.iter().map(|&x| (x - base) as u32).collect();
        assert_eq!(got, want);
        // From the instant before the first, and 64-bit.
        let wide = t.since_wide(base - 1);
        let want: Vec<u64> = times.iter().map(|&x| (x - base + 1) as u64).collect();
        assert_eq!(t.values().map(wide).collect::<Vec<_>>(), want);
        // Back to `i64` times: the same, with their range.
        let chunks = t.to_chunks();
        assert_eq!(chunks.values().collect::<Vec<_>>(), times.to_vec());
        assert_eq!(IntTimes::min_max(&chunks), Some((base, base + (1 << 32) - 3)));
        // As kept: offsets from the first time decoded (`base + 7`), wrapped.
        assert_eq!(t.run(2..4), Some(&[u32::MAX - 3, u32::MAX - 9][..]));
    }

    #[test]
    fn times_spanning_2_pow_32_less_2_or_rows_without_a_value_are_not_kept_as_offsets() {
        assert!(offsets(&[5, 5 + (1 << 32) - 3], 1).is_some());
        assert!(offsets(&[5 + (1 << 32) - 2, 5], 1).is_none());
        assert!(offsets(&[i64::MIN, i64::MAX], 1).is_none());
        let mut sink = OffsetSink::new(2);
        sink.absent(&[1], 2);
        sink.values(&[4]);
        assert!(sink.finish().is_none());
        // No rows at all: none to span.
        assert_eq!(OffsetSink::new(0).finish().map(|t| t.min_max()), Some(None));
    }
}
