//! The query language: the validated model, the validator and the relation parser.

mod model;
mod relation;
mod validate;

pub use model::*;
pub use relation::{parse_relation, RelationError, RelationExpr, MAX_RELATION_DEPTH};
pub use validate::{validate_query, validate_value};
