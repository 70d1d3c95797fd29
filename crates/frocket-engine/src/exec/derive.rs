//! What the reader derives from a column while each decoded batch is still in cache: the row
//! mask of every filter on it, and the step bytes of sequences whose steps are one filter
//! each on it. A column that only filters use is then not kept at all: execution reads the
//! masks and bytes (a bit or a byte per row) instead of going back over the column.

use arrow::array::{ArrayRef, BooleanBufferBuilder};
use arrow::buffer::BooleanBuffer;
use arrow::error::ArrowError;

use super::filter::{filter_mask, FlagBytes};
use super::sequence::StepLayout;
use crate::query::{Filter, Sequence, ValidatedQuery};

/// What to derive from each column a query filters on.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    columns: Vec<ColumnPlan>,
}

/// A sequence's step filters, each with its bit in a row's step byte.
type StepFlags = Vec<(Filter, u8)>;

#[derive(Debug)]
struct ColumnPlan {
    column: String,
    /// Whether the column's values are needed beyond its filters.
    keep: bool,
    masks: Vec<Filter>,
    /// Per sequence: its filters with their step bits.
    steps: Vec<StepFlags>,
}

/// The step filters of `seq` with their bit in a row's step byte (see [`StepLayout`]), when
/// every step is one filter on one same column and a row's bits fit a byte.
pub(crate) fn step_flags(seq: &Sequence) -> Option<Vec<(&Filter, u8)>> {
    let column = &seq.steps.first()?.filters.first()?.column;
    if !seq
        .steps
        .iter()
        .all(|s| s.filters.len() == 1 && &s.filters[0].column == column)
    {
        return None;
    }
    let found: Vec<bool> = seq.steps.iter().map(|s| s.row_found).collect();
    let layout = StepLayout::of(&found);
    (layout.bytes() == 1).then(|| {
        seq.steps
            .iter()
            .zip(&layout.bit_of_step)
            .map(|(s, &bit)| (&s.filters[0], 1u8 << bit))
            .collect()
    })
}

impl Plan {
    /// What to derive for `query`: step bytes for the sequences [`step_flags`] applies to, a
    /// mask for every other filter.
    pub(crate) fn of(query: &ValidatedQuery) -> Plan {
        let mut plan = Plan::default();
        let (lists, sequences) = query.filter_uses();
        for f in lists.into_iter().flatten() {
            plan.mask(query, f);
        }
        for seq in sequences {
            match step_flags(seq) {
                Some(flags) => {
                    let steps: StepFlags = flags.into_iter().map(|(f, b)| (f.clone(), b)).collect();
                    let column = plan.column(query, &steps[0].0.column);
                    if !column.steps.contains(&steps) {
                        column.steps.push(steps);
                    }
                }
                None => {
                    for f in seq.steps.iter().flat_map(|s| &s.filters) {
                        plan.mask(query, f);
                    }
                }
            }
        }
        plan
    }

    fn column(&mut self, query: &ValidatedQuery, name: &str) -> &mut ColumnPlan {
        let i = match self.columns.iter().position(|c| c.column == name) {
            Some(i) => i,
            None => {
                self.columns.push(ColumnPlan {
                    column: name.to_string(),
                    keep: query.column_used_outside_filters(name),
                    masks: Vec::new(),
                    steps: Vec::new(),
                });
                self.columns.len() - 1
            }
        };
        &mut self.columns[i]
    }

    fn mask(&mut self, query: &ValidatedQuery, f: &Filter) {
        let column = self.column(query, &f.column);
        if !column.masks.contains(f) {
            column.masks.push(f.clone());
        }
    }

    /// Whether filter masks or step bytes are derived from `column`'s values.
    pub(crate) fn derives_from(&self, column: &str) -> bool {
        self.columns.iter().any(|c| c.column == column)
    }

    /// The derivations of `column` over `rows` rows (a capacity); `None` when nothing is
    /// derived from it.
    pub(crate) fn start(&self, column: &str, rows: usize) -> Option<Deriving> {
        let plan = self.columns.iter().find(|c| c.column == column)?;
        Some(Deriving {
            keep: plan.keep,
            masks: plan
                .masks
                .iter()
                .map(|f| (f.clone(), BooleanBufferBuilder::new(rows)))
                .collect(),
            steps: plan.steps.iter().map(|s| FlagBytes::new(s.clone(), rows)).collect(),
        })
    }
}

/// The derivations of one column, fed its batches in order.
pub(crate) struct Deriving {
    keep: bool,
    masks: Vec<(Filter, BooleanBufferBuilder)>,
    steps: Vec<FlagBytes>,
}

impl Deriving {
    /// Whether the column must be kept besides (something other than filters uses it).
    pub(crate) fn keep(&self) -> bool {
        self.keep
    }

    /// Derives from the next batch of the column.
    pub(crate) fn push(&mut self, chunk: &ArrayRef) -> Result<(), ArrowError> {
        for (f, mask) in &mut self.masks {
            mask.append_buffer(&filter_mask(chunk, f)?);
        }
        for bytes in &mut self.steps {
            bytes.push(chunk)?;
        }
        Ok(())
    }

    /// Adds what was derived to `into`.
    pub(crate) fn finish(self, into: &mut Derived) {
        for (f, mut mask) in self.masks {
            into.masks.push((f, mask.finish()));
        }
        into.step_bytes.extend(self.steps.into_iter().map(FlagBytes::finish));
    }
}

/// Per-row data derived while a part was read.
#[derive(Debug, Clone, Default)]
pub(crate) struct Derived {
    masks: Vec<(Filter, BooleanBuffer)>,
    step_bytes: Vec<(StepFlags, Vec<u8>)>,
}

impl Derived {
    /// The row mask of `f`, if derived.
    pub(crate) fn mask(&self, f: &Filter) -> Option<&BooleanBuffer> {
        self.masks.iter().find(|(g, _)| g == f).map(|(_, m)| m)
    }

    /// The step bytes of a sequence's filters and flags (see [`step_flags`]), if derived.
    pub(crate) fn step_bytes(&self, flags: &[(&Filter, u8)]) -> Option<&[u8]> {
        self.step_bytes
            .iter()
            .find(|(g, _)| g.len() == flags.len() && g.iter().zip(flags).all(|((f, b), (h, c))| f == *h && b == c))
            .map(|(_, bytes)| bytes.as_slice())
    }
}
