//! Error types of the engine.
//!
//! Two families: [`ValidationErrors`] (a query that does not fit the language or the dataset,
//! always reported in full, each error with its JSON path) and [`EngineError`] (anything that
//! went wrong while reading or running a part, always naming the file or column involved).

use std::fmt;

/// One validation problem: where it is (a JSON path such as `query.conditions[2].target`)
/// and what is wrong / allowed.
///
/// ```
/// use frocket_engine::ValidationError;
/// let e = ValidationError::new("query.conditions[0]", "unknown key 'filtr'");
/// assert_eq!(e.to_string(), "query.conditions[0]: unknown key 'filtr'");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ValidationError {
    /// JSON path of the offending element (`""` for the document root).
    pub path: String,
    /// What is wrong and what is allowed.
    pub message: String,
}

impl ValidationError {
    /// Creates an error at `path`.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "(root): {}", self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// All validation problems found in one query (never empty).
///
/// ```
/// use frocket_engine::{ValidationError, ValidationErrors};
/// let errs = ValidationErrors(vec![ValidationError::new("a", "x"), ValidationError::new("b", "y")]);
/// assert_eq!(errs.to_string(), "query is invalid (2 errors): a: x; b: y");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ValidationErrors(pub Vec<ValidationError>);

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        write!(f, "query is invalid ({n} error{}): ", if n == 1 { "" } else { "s" })?;
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

/// Errors while reading a part or running a query over it.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The query failed validation.
    #[error(transparent)]
    Validation(#[from] ValidationErrors),
    /// A part could not be opened or decoded (corrupt, truncated, not Parquet).
    #[error("cannot read part '{file}': {message}")]
    PartRead {
        /// The part's file name or URL.
        file: String,
        /// What went wrong.
        message: String,
    },
    /// A part lacks a column the query or dataset needs.
    #[error("part '{file}' has no column '{column}'")]
    MissingColumn {
        /// The part's file name or URL.
        file: String,
        /// The missing column.
        column: String,
    },
    /// A column of a part has a type other than the one the query or schema expects.
    #[error("part '{file}': column '{column}' has type {found}, expected {expected}")]
    ColumnType {
        /// The part's file name or URL.
        file: String,
        /// The column.
        column: String,
        /// What was found.
        found: String,
        /// What was expected.
        expected: String,
    },
    /// A value in the data cannot be used (e.g. a null group id or timestamp).
    #[error("part '{file}': column '{column}': {message}")]
    BadData {
        /// The part's file name or URL.
        file: String,
        /// The column.
        column: String,
        /// What is wrong.
        message: String,
    },
    /// Partial results that cannot be merged (different queries).
    #[error("cannot merge partial results: {0}")]
    Merge(String),
    /// The run passed its deadline ([`ExecOptions::deadline`](crate::ExecOptions::deadline):
    /// its job's run timeout) and was stopped.
    #[error("part '{file}': the query ran past its deadline and was stopped (the job's run timeout, or the worker function's own timeout)")]
    DeadlineExceeded {
        /// The part's file name or URL.
        file: String,
    },
    /// A result does not fit its type (e.g. an integer sum beyond 64 bits); names the
    /// aggregation.
    #[error("{0}")]
    Overflow(String),
}
