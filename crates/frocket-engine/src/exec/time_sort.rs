//! Putting one group's rows in time order, for the sequence scan.

use super::groups::TsChunks;

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
}

impl TimeSorter {
    /// Sorts `rows` (ascending) by `(t[row], row)`.
    ///
    /// When the group's time span leaves room for a row's position in the group, each row is
    /// one `u64` key (time since the group's first instant, then position): one integer
    /// comparison each, and small groups are sorted without branches. Otherwise `(time, row)`
    /// pairs.
    pub(crate) fn sort_int(&mut self, rows: &mut [u32], t: &TsChunks<i64>) {
        if rows.is_sorted_by_key(|&r| t[r as usize]) {
            return;
        }
        let (mut min, mut max) = (i64::MAX, i64::MIN);
        for &r in rows.iter() {
            let v = t[r as usize];
            min = min.min(v);
            max = max.max(v);
        }
        let position_bits = usize::BITS - rows.len().leading_zeros();
        let span = max.abs_diff(min);
        if position_bits < 64 && span < (1u64 << (64 - position_bits)) {
            self.keys.clear();
            self.keys.extend(
                rows.iter()
                    .enumerate()
                    .map(|(i, &r)| (t[r as usize].abs_diff(min) << position_bits) | i as u64),
            );
            self.keys.sort_unstable();
            self.before.clear();
            self.before.extend_from_slice(rows);
            let mask = (1u64 << position_bits) - 1;
            for (dst, &k) in rows.iter_mut().zip(self.keys.iter()) {
                *dst = self.before[(k & mask) as usize];
            }
        } else {
            self.int_pairs.clear();
            self.int_pairs.extend(rows.iter().map(|&r| (t[r as usize], r)));
            self.int_pairs.sort_unstable();
            for (dst, &(_, r)) in rows.iter_mut().zip(self.int_pairs.iter()) {
                *dst = r;
            }
        }
    }

    /// Sorts `rows` (ascending) by `(t[row], row)`, times in IEEE total order.
    pub(crate) fn sort_float(&mut self, rows: &mut [u32], t: &TsChunks<f64>) {
        if rows.is_sorted_by(|&a, &b| t[a as usize] <= t[b as usize]) {
            return;
        }
        self.float_pairs.clear();
        self.float_pairs.extend(rows.iter().map(|&r| (t[r as usize], r)));
        self.float_pairs
            .sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        for (dst, &(_, r)) in rows.iter_mut().zip(self.float_pairs.iter()) {
            *dst = r;
        }
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

    #[test]
    fn sorts_float_times_in_total_order() {
        let ts = [2.5, -1.0, 2.5, 0.0];
        let t = TsChunks::single(ts.to_vec().into());
        let mut rows = vec![0, 1, 2, 3];
        TimeSorter::default().sort_float(&mut rows, &t);
        assert_eq!(rows, vec![1, 3, 0, 2]);
    }
}
