//! The query language: the validated model, the validator and the relation parser.

mod limits;
mod model;
mod relation;
mod validate;

pub use limits::{QueryLimits, REGEX_SIZE_HARD_LIMIT};
pub use model::*;
pub use relation::{parse_relation, RelationError, RelationExpr, MAX_RELATION_DEPTH};
pub use validate::{validate_query, validate_query_with, validate_value, validate_value_with};
