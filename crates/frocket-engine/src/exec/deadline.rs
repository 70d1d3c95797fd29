//! When a part's run must stop ([`ExecOptions::deadline`](super::ExecOptions::deadline)):
//! checked between conditions, sequences and aggregations, and every few thousand groups of a
//! sequence scan, so that a query the limits allow but that would take minutes stops close to
//! its job's run timeout instead of holding a worker to the end.

use std::time::Instant;

/// Groups a scan goes through between two looks at the clock (a look costs ~25 ns; a group of
/// the heaviest sequences a few µs).
const CHECK_EVERY: usize = 4096;

/// A run's deadline, if it has one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Deadline(pub Option<Instant>);

impl Deadline {
    /// Whether the deadline has passed.
    pub(crate) fn passed(&self) -> bool {
        self.0.is_some_and(|d| Instant::now() >= d)
    }

    /// For a scan over groups: whether to stop before group `g` (the clock read every
    /// [`CHECK_EVERY`] groups). A scan that stops leaves its results incomplete: the caller
    /// then finds the deadline passed and fails the run.
    #[inline]
    pub(crate) fn stop_at(&self, g: usize) -> bool {
        g.is_multiple_of(CHECK_EVERY) && self.passed()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_deadline_is_looked_at_every_few_thousand_groups() {
        let past = Deadline(Some(Instant::now()));
        let future = Deadline(Some(Instant::now() + Duration::from_secs(3600)));
        assert!(past.passed() && !future.passed() && !Deadline(None).passed());
        assert!(past.stop_at(0) && past.stop_at(2 * CHECK_EVERY));
        assert!(!past.stop_at(1) && !future.stop_at(0) && !Deadline(None).stop_at(0));
    }
}
