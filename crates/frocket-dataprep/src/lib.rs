//! # frocket-dataprep
//!
//! Making datasets for Funnel Rocket: [`generate`] writes a deterministic, retail-like
//! activity dataset as Parquet parts partitioned by user id; [`repartition`] turns any Parquet
//! input into N parts by group id, streaming, optionally dictionary-encoding low-cardinality
//! strings.

pub mod generate;
pub mod repartition;

pub use generate::{generate, GenerateOptions, GenerateSummary};
pub use repartition::{repartition, RepartitionOptions, RepartitionSummary};

/// Errors of the data preparation tools.
#[derive(Debug, thiserror::Error)]
pub enum DataprepError {
    /// A file or directory could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The path involved.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Parquet encoding or decoding failed.
    #[error("{path}: {message}")]
    Parquet {
        /// The file involved.
        path: String,
        /// What failed.
        message: String,
    },
    /// Bad options or input.
    #[error("{0}")]
    Invalid(String),
}
