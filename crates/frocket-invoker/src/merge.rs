//! Merging parts' partial results as they arrive, in part order.

use std::collections::BTreeMap;

use frocket_engine::{EngineError, PartialResult};

/// Merges partials as they come, always in part order: part `i` is merged as soon as parts
/// `0..i` have been; a part that arrives early waits for them. The result equals merging all
/// of them in order at the end (float sums included, to the last digit), while a job holds at
/// most the parts that arrived out of order.
///
/// ```
/// use frocket_engine::{PartialResult, PartialStage};
/// let part = |g| PartialResult { query: PartialStage { groups: g, rows: g, aggregations: vec![] }, funnel: None, scanned_rows: g, scanned_groups: g };
/// let mut m = frocket_invoker::merge::InOrderMerge::new(3);
/// m.add(2, part(3)).unwrap();
/// assert_eq!(m.waiting(), 1);
/// m.add(0, part(1)).unwrap();
/// m.add(1, part(2)).unwrap();
/// assert_eq!(m.waiting(), 0);
/// assert_eq!(m.finish().unwrap().query.groups, 6);
/// ```
#[derive(Debug)]
pub struct InOrderMerge {
    total: usize,
    next: usize,
    early: BTreeMap<usize, PartialResult>,
    merged: Option<PartialResult>,
}

impl InOrderMerge {
    /// A merge of `total` parts.
    pub fn new(total: usize) -> Self {
        InOrderMerge {
            total,
            next: 0,
            early: BTreeMap::new(),
            merged: None,
        }
    }

    /// Adds part `index`'s partial, merging every part now in order. A part given twice is an
    /// error (each task has one result).
    pub fn add(&mut self, index: usize, partial: PartialResult) -> Result<(), EngineError> {
        if index < self.next || index >= self.total || self.early.insert(index, partial).is_some() {
            return Err(EngineError::Merge(format!("part {index} merged twice or out of range")));
        }
        while let Some(p) = self.early.remove(&self.next) {
            match &mut self.merged {
                Some(m) => m.merge(p)?,
                None => self.merged = Some(p),
            }
            self.next += 1;
        }
        Ok(())
    }

    /// Parts that arrived before an earlier one and wait for it.
    pub fn waiting(&self) -> usize {
        self.early.len()
    }

    /// The merge of every part; an error when some are missing.
    pub fn finish(self) -> Result<PartialResult, EngineError> {
        if self.next != self.total {
            return Err(EngineError::Merge(format!(
                "{} of {} parts merged",
                self.next, self.total
            )));
        }
        self.merged
            .ok_or_else(|| EngineError::Merge("no partial results".into()))
    }
}
