//! # frocket-cli
//!
//! The `frocket` command line (api.md, CLI). Without Redis configured it works embedded: a
//! file-backed catalog under the data directory (`FROCKET_HOME`, or the platform's data
//! directory) and in-process workers over local files.

mod commands;
mod output;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

pub use commands::run;

/// `frocket --version`: the crate version and the git commit it was built from.
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("FROCKET_GIT_COMMIT"), ")");

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// JSON (the API's response envelope for queries).
    Json,
    /// Human-readable tables.
    Table,
    /// Comma-separated values: a query's results as one tidy table (`scope, step, metric,
    /// column, key, value`, full precision), other commands' tables as they are.
    Csv,
}

/// Funnel Rocket: find the users whose events match conditions, sequences and funnels.
#[derive(Debug, Parser)]
#[command(name = "frocket", version = VERSION, about)]
pub struct Cli {
    /// Output format (default: table on a terminal, json otherwise; a progress bar on stderr
    /// only for tables on a terminal).
    #[arg(long, short = 'o', global = true, value_enum)]
    pub output: Option<OutputFormat>,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Register (or re-register) a dataset.
    Register {
        /// Dataset name.
        name: String,
        /// Directory holding the parts.
        basepath: String,
        /// Group id column (e.g. a user id).
        group_id_column: String,
        /// Timestamp column.
        timestamp_column: String,
        /// File name pattern of the parts.
        #[arg(long, default_value = "*.parquet")]
        pattern: String,
        /// Which parts to inspect: SINGLE, FIRST_LAST or SAMPLE.
        #[arg(long, default_value = "SAMPLE")]
        validation_mode: String,
        /// Skip checking that group ids are not shared between parts.
        #[arg(long)]
        no_validate_uniques: bool,
        /// The unit of an INT or FLOAT timestamp column (s, ms, us, ns): then queries may write
        /// durations ("90s", "1.5h") and dates ("2021-01-01") and results show them in human
        /// form. A TIMESTAMP column carries its own unit.
        #[arg(long, value_name = "UNIT")]
        timestamp_unit: Option<frocket_engine::time::TimeUnit>,
    },
    /// List registered datasets.
    List,
    /// Show a dataset's schema.
    Schema {
        /// Dataset name.
        name: String,
        /// Include per-column details.
        #[arg(long)]
        full: bool,
    },
    /// List a dataset's parts.
    Parts {
        /// Dataset name.
        name: String,
    },
    /// Run a query.
    Run(RunArgs),
    /// Remove a dataset's registration (its files are untouched).
    Unregister {
        /// Dataset name.
        name: String,
        /// Even if it was used within the last interval.
        #[arg(long)]
        force: bool,
    },
    /// Serve the HTTP API (api.md) until SIGTERM / Ctrl-C.
    Serve {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1")]
        host: String,
        /// Port to listen on.
        #[arg(long, default_value_t = 5000)]
        port: u16,
    },
    /// Make datasets.
    #[command(subcommand)]
    Dataprep(Dataprep),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) to stdout, e.g.
    /// `frocket completions bash > /etc/bash_completion.d/frocket`.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) to stdout, e.g. `frocket man > frocket.1 && man ./frocket.1`.
    Man,
    /// Run a long-lived worker taking tasks from the Redis queue (needs FROCKET_REDIS_HOST).
    Worker {
        /// Worker name in task statuses (default: host and process id).
        #[arg(long)]
        name: Option<String>,
    },
}

/// `frocket run` arguments.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Dataset name.
    pub name: String,
    /// Where the query comes from.
    #[command(flatten)]
    pub source: QuerySource,
    /// Worker threads (default: all cores).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// The unit of the dataset's timestamps (s, ms, us, ns), to show times to convert as
    /// durations (`1h 12m`) in tables (default: the unit the dataset was registered with).
    #[arg(long, value_name = "UNIT")]
    pub time_unit: Option<frocket_engine::time::TimeUnit>,
}

/// Exactly one of `--file`, `--string`, `--empty`.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct QuerySource {
    /// Query file (JSON); `-` reads the query from standard input.
    #[arg(long)]
    pub file: Option<PathBuf>,
    /// Query text (JSON).
    #[arg(long)]
    pub string: Option<String>,
    /// The empty query `{}`.
    #[arg(long)]
    pub empty: bool,
}

/// `frocket dataprep` subcommands.
#[derive(Debug, Subcommand)]
pub enum Dataprep {
    /// Generate a synthetic retail activity dataset (deterministic for a seed).
    Generate {
        /// Output directory.
        #[arg(long)]
        out: PathBuf,
        /// Number of users.
        #[arg(long, default_value_t = 100_000)]
        users: u64,
        /// Number of parts.
        #[arg(long, default_value_t = 4)]
        parts: usize,
        /// Random seed.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Days of activity.
        #[arg(long, default_value_t = 30)]
        days: u32,
        /// Rows in random order within each part (as pipelines that partition by user but do
        /// not sort write them), instead of each user's rows together.
        #[arg(long)]
        shuffled: bool,
        /// User ids spread over the whole 64-bit range (as hashed ids are), instead of
        /// 1..=users.
        #[arg(long)]
        sparse_ids: bool,
    },
    /// Repartition Parquet input (a file or folder) into N parts by group id.
    Repartition {
        /// Input file or folder.
        input: PathBuf,
        /// Output directory.
        #[arg(long)]
        out: PathBuf,
        /// Group id column.
        #[arg(long)]
        group_id_column: String,
        /// Number of parts.
        #[arg(long, default_value_t = 4)]
        parts: usize,
        /// Dictionary-encode string columns whose distinct/rows ratio is below this.
        #[arg(long)]
        dictionary_ratio: Option<f64>,
    },
}
