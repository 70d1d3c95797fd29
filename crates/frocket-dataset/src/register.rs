//! Registering a dataset: list its parts, validate a sample of them, build its schema.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use frocket_engine::ColumnType;
use rand::seq::index::sample;
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::info::{ColumnDetails, DatasetInfo, FullSchema, PartRef, ShortSchema};
use crate::inspect::{inspect_part_as, timestamp_range_from_footer, InspectSpec, PartInspection};

/// Which parts are inspected at registration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ValidationMode {
    /// The first part only.
    Single,
    /// The first and last parts.
    FirstLast,
    /// First, last and a random sample (ratio and cap configurable).
    #[default]
    Sample,
}

impl std::str::FromStr for ValidationMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_uppercase().as_str() {
            "SINGLE" => Ok(ValidationMode::Single),
            "FIRST_LAST" => Ok(ValidationMode::FirstLast),
            "SAMPLE" => Ok(ValidationMode::Sample),
            _ => Err(format!("unknown validation mode '{s}' (SINGLE, FIRST_LAST or SAMPLE)")),
        }
    }
}

fn default_pattern() -> String {
    "*.parquet".into()
}

fn yes() -> bool {
    true
}

/// The register request (api.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RegisterRequest {
    /// Dataset name.
    pub name: String,
    /// Directory (or `s3://` prefix) of the parts.
    pub basepath: String,
    /// Group id column.
    pub group_id_column: String,
    /// Timestamp column.
    pub timestamp_column: String,
    /// File name pattern.
    #[serde(default = "default_pattern")]
    pub pattern: String,
    /// Which parts to inspect.
    #[serde(default)]
    pub validation_mode: ValidationMode,
    /// Check that no group id appears in two inspected parts.
    #[serde(default = "yes")]
    pub validate_uniques: bool,
    /// The unit of the timestamps (`s`, `ms`, `us`, `ns`) of an INT or FLOAT timestamp column;
    /// a TIMESTAMP column carries its own (a declared unit must agree with it).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "time_unit")]
    pub timestamp_unit: Option<frocket_engine::time::TimeUnit>,
}

/// `timestampUnit`, with an error that names the field and the units.
fn time_unit<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<frocket_engine::time::TimeUnit>, D::Error> {
    let text: Option<String> = serde::Deserialize::deserialize(d)?;
    text.map(|t| {
        t.parse()
            .map_err(|e| serde::de::Error::custom(format!("timestampUnit: {e}")))
    })
    .transpose()
}

/// Tunables of registration (from `FROCKET_*` configuration).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RegisterOptions {
    /// Share of parts sampled in SAMPLE mode.
    pub sample_ratio: f64,
    /// Most parts sampled in SAMPLE mode (besides first and last).
    pub sample_max: usize,
    /// Unique/rows ratio under which a string column is a potential categorical.
    pub categorical_ratio: f64,
}

impl Default for RegisterOptions {
    fn default() -> Self {
        RegisterOptions {
            sample_ratio: 0.1,
            sample_max: 10,
            categorical_ratio: 0.1,
        }
    }
}

/// Why a dataset could not be registered.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    /// Bad request or base path.
    #[error("{0}")]
    Invalid(String),
    /// A part is unreadable or lacks what is required.
    #[error("part '{part}': {message}")]
    Part {
        /// The part.
        part: String,
        /// What is wrong.
        message: String,
    },
    /// Two parts disagree on the schema.
    #[error("parts '{first}' and '{other}' have different schemas: {message}")]
    SchemaMismatch {
        /// The reference part.
        first: String,
        /// The differing part.
        other: String,
        /// The difference.
        message: String,
    },
    /// Two parts share a group id.
    #[error("parts '{a}' and '{b}' share group ids (e.g. {example}): a dataset must be partitioned by its group id")]
    SharedGroupIds {
        /// One part.
        a: String,
        /// The other.
        b: String,
        /// A shared id.
        example: String,
    },
}

/// Whether registration may read `basepath`, given the allowed prefixes
/// (`FROCKET_ALLOWED_BASEPATHS`): an `s3://` URL within an allowed bucket or prefix (at a `/`
/// boundary), or an absolute local directory without `..` within an allowed directory — checked
/// on the path as written and, when it exists, on the path with its symlinks resolved.
///
/// ```
/// use frocket_dataset::basepath_allowed;
/// let allowed = vec!["s3://lake/events".to_string(), "/srv/data".to_string()];
/// assert!(basepath_allowed("s3://lake/events/2024/", &allowed));
/// assert!(basepath_allowed("s3://lake/events", &allowed));
/// assert!(!basepath_allowed("s3://lake/events-private/", &allowed));
/// assert!(!basepath_allowed("s3://lake/", &allowed));
/// assert!(basepath_allowed("/srv/data/retail", &allowed));
/// assert!(!basepath_allowed("/srv/data/../../etc", &allowed));
/// assert!(!basepath_allowed("/srv/database", &allowed));
/// assert!(!basepath_allowed("srv/data", &allowed));
/// ```
pub fn basepath_allowed(basepath: &str, allowed: &[String]) -> bool {
    if basepath.starts_with("s3://") {
        let b = basepath.trim_end_matches('/');
        return allowed.iter().filter(|a| a.starts_with("s3://")).any(|a| {
            let a = a.trim_end_matches('/');
            b == a || b.strip_prefix(a).is_some_and(|rest| rest.starts_with('/'))
        });
    }
    let path = std::path::Path::new(basepath);
    if !path.is_absolute() || path.components().any(|c| matches!(c, std::path::Component::ParentDir)) {
        return false;
    }
    let dirs: Vec<&std::path::Path> = allowed
        .iter()
        .filter(|a| !a.starts_with("s3://"))
        .map(std::path::Path::new)
        .collect();
    if !dirs.iter().any(|d| path.starts_with(d)) {
        return false;
    }
    // Symlinks inside an allowed directory must not lead out of every allowed directory.
    match std::fs::canonicalize(path) {
        Ok(real) => dirs
            .iter()
            .any(|d| real.starts_with(std::fs::canonicalize(d).unwrap_or_else(|_| d.to_path_buf()))),
        Err(_) => true, // does not exist: listing says so
    }
}

fn check_name(name: &str) -> Result<(), RegisterError> {
    crate::check_dataset_name(name).map_err(|e| RegisterError::Invalid(e.to_string()))
}

/// Indexes of the parts to inspect.
fn sample_indexes(n: usize, mode: ValidationMode, opts: &RegisterOptions) -> Vec<usize> {
    let mut idx = vec![0];
    if n > 1 && mode != ValidationMode::Single {
        idx.push(n - 1);
    }
    if mode == ValidationMode::Sample && n > 2 {
        let k = ((n as f64 * opts.sample_ratio).ceil() as usize)
            .min(opts.sample_max)
            .min(n - 2);
        let mut rng = rand::rng();
        for i in sample(&mut rng, n - 2, k) {
            idx.push(i + 1);
        }
    }
    idx.sort_unstable();
    idx.dedup();
    idx
}

fn describe_types(i: &PartInspection) -> BTreeMap<String, ColumnType> {
    i.columns.iter().map(|c| (c.name.clone(), c.column_type)).collect()
}

/// Registers a dataset stored in a local directory: lists the parts, inspects a sample (in
/// parallel), checks required columns, schema consistency and (optionally) that no group id is
/// shared between inspected parts, and builds the schema. Nothing is stored: pass the result
/// to a [`crate::Catalog`].
pub fn register(req: &RegisterRequest, opts: &RegisterOptions) -> Result<DatasetInfo, RegisterError> {
    check_request(req)?;
    let parts: Vec<PartRef> =
        frocket_storage::list_local(&req.basepath, &req.pattern).map_err(|e| RegisterError::Invalid(e.to_string()))?;
    let picked = plan_sample(&parts, req, opts)?;
    let local: Vec<std::path::PathBuf> = picked
        .iter()
        .map(|&i| std::path::PathBuf::from(&parts[i].path))
        .collect();
    let inspections = inspect_parts(req, &parts, &picked, &local)?;
    // The timestamp range also covers the footers of the parts not inspected (cheap locally).
    let others: Vec<(f64, f64)> = (0..parts.len())
        .filter(|p| !picked.contains(p))
        .filter_map(|p| timestamp_range_from_footer(Path::new(&parts[p].path), &req.timestamp_column))
        .collect();
    finish_registration(req, opts, new_registration_id(), parts, inspections, &others)
}

/// A fresh registration id (`<unix seconds>-<random hex>`): names a registration in cache keys,
/// so that re-registering a dataset invalidates the parts cached for the old one.
pub fn new_registration_id() -> String {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    format!("{now}-{:08x}", rand::rng().random::<u32>())
}

/// Checks the request's name and columns.
pub fn check_request(req: &RegisterRequest) -> Result<(), RegisterError> {
    check_name(&req.name)?;
    for (what, v) in [
        ("groupIdColumn", &req.group_id_column),
        ("timestampColumn", &req.timestamp_column),
    ] {
        if v.is_empty() {
            return Err(RegisterError::Invalid(format!("{what} is empty")));
        }
    }
    Ok(())
}

/// Which of the listed parts to inspect (indexes, first first); an error when there are none.
pub fn plan_sample(
    parts: &[PartRef],
    req: &RegisterRequest,
    opts: &RegisterOptions,
) -> Result<Vec<usize>, RegisterError> {
    if parts.is_empty() {
        return Err(RegisterError::Invalid(format!(
            "no files matching '{}' in '{}'",
            req.pattern, req.basepath
        )));
    }
    Ok(sample_indexes(parts.len(), req.validation_mode, opts))
}

/// What to learn from one sampled part: the `n`-th inspected (string statistics come from the
/// first one only).
///
/// ```
/// use frocket_dataset::{inspect_spec, RegisterRequest};
/// let req: RegisterRequest = serde_json::from_str(
///     r#"{"name": "d", "basepath": "/data", "groupIdColumn": "uid", "timestampColumn": "ts"}"#,
/// ).unwrap();
/// assert!(inspect_spec(&req, 0).string_stats);
/// assert!(!inspect_spec(&req, 1).string_stats);
/// assert!(inspect_spec(&req, 1).group_ids);
/// ```
pub fn inspect_spec(req: &RegisterRequest, n: usize) -> InspectSpec {
    InspectSpec {
        group_id_column: req.group_id_column.clone(),
        timestamp_column: req.timestamp_column.clone(),
        group_ids: req.validate_uniques,
        string_stats: n == 0,
    }
}

/// Inspects the picked parts in parallel threads: `local` are their local copies (same order
/// as `picked`); results and messages name the parts as listed (e.g. their s3:// URLs).
pub fn inspect_parts(
    req: &RegisterRequest,
    parts: &[PartRef],
    picked: &[usize],
    local: &[std::path::PathBuf],
) -> Result<Vec<PartInspection>, RegisterError> {
    let inspections: Vec<Result<PartInspection, RegisterError>> = std::thread::scope(|s| {
        let handles: Vec<_> = picked
            .iter()
            .enumerate()
            .map(|(i, &p)| {
                let path = local
                    .get(i)
                    .cloned()
                    .unwrap_or_else(|| std::path::PathBuf::from(&parts[p].path));
                let shown = parts[p].path.clone();
                let spec = inspect_spec(req, i);
                s.spawn(move || inspect_part_as(&path, &shown, &spec))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(RegisterError::Invalid("a part inspection thread failed".into())))
            })
            .collect()
    });
    inspections.into_iter().collect()
}

/// Builds the dataset from the inspections of its sampled parts (the first part's first):
/// checks schema consistency and, when asked, that no two inspected parts share a group id;
/// `other_ranges` are timestamp ranges known for the parts not inspected; `registration_id`
/// from [`new_registration_id`].
pub fn finish_registration(
    req: &RegisterRequest,
    opts: &RegisterOptions,
    registration_id: String,
    parts: Vec<PartRef>,
    inspections: Vec<PartInspection>,
    other_ranges: &[(f64, f64)],
) -> Result<DatasetInfo, RegisterError> {
    if inspections.is_empty() {
        return Err(RegisterError::Invalid("no part was inspected".into()));
    }
    let first = &inspections[0];
    let types = describe_types(first);
    for other in &inspections[1..] {
        let t = describe_types(other);
        if t != types {
            let missing: Vec<&String> = types.keys().filter(|k| !t.contains_key(*k)).collect();
            let extra: Vec<&String> = t.keys().filter(|k| !types.contains_key(*k)).collect();
            let differ: Vec<String> = types
                .iter()
                .filter_map(|(k, v)| t.get(k).filter(|w| *w != v).map(|w| format!("'{k}' is {v} vs {w}")))
                .collect();
            let mut msg = Vec::new();
            if !missing.is_empty() {
                msg.push(format!("columns missing in the second: {missing:?}"));
            }
            if !extra.is_empty() {
                msg.push(format!("extra columns in the second: {extra:?}"));
            }
            msg.extend(differ);
            return Err(RegisterError::SchemaMismatch {
                first: first.path.clone(),
                other: other.path.clone(),
                message: msg.join("; "),
            });
        }
    }
    if req.validate_uniques {
        for (i, a) in inspections.iter().enumerate() {
            for b in &inspections[i + 1..] {
                if let (Some(x), Some(y)) = (&a.group_ids, &b.group_ids) {
                    if let Some(example) = x.common(y) {
                        return Err(RegisterError::SharedGroupIds {
                            a: a.path.clone(),
                            b: b.path.clone(),
                            example,
                        });
                    }
                }
            }
        }
    }

    // Timestamp range: data of the inspected parts, footers of the others.
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for i in &inspections {
        if let (Some(a), Some(b)) = (i.min_timestamp, i.max_timestamp) {
            lo = lo.min(a);
            hi = hi.max(b);
        }
    }
    for &(a, b) in other_ranges {
        lo = lo.min(a);
        hi = hi.max(b);
    }
    let (min_timestamp, max_timestamp) = if lo <= hi { (Some(lo), Some(hi)) } else { (None, None) };

    // The unit of the timestamps: the column's logical type, or the declared one.
    let logical = first
        .columns
        .iter()
        .find(|c| c.name == req.timestamp_column)
        .and_then(|c| c.time_unit);
    let timestamp_unit = match (logical, req.timestamp_unit) {
        (Some(l), Some(d)) if l != d => {
            return Err(RegisterError::Invalid(format!(
                "timestampUnit '{d}' disagrees with the timestamp column '{}', a TIMESTAMP in {l}: leave timestampUnit out or write '{l}'",
                req.timestamp_column
            )))
        }
        (l, d) => l.or(d),
    };

    // A group id is an identity, never a category (however few distinct values a part has).
    let potential_categoricals: Vec<String> = first
        .string_stats
        .iter()
        .filter(|(c, s)| s.unique_ratio < opts.categorical_ratio && **c != req.group_id_column)
        .map(|(c, _)| c.clone())
        .collect();
    let mut details = BTreeMap::new();
    for c in &first.columns {
        let name = &c.name;
        let range = inspections
            .iter()
            .filter_map(|i| i.numeric_ranges.get(name))
            .fold(None, |acc: Option<(f64, f64)>, r| {
                Some(acc.map_or(*r, |a| (a.0.min(r.0), a.1.max(r.1))))
            });
        let ss = first.string_stats.get(name);
        details.insert(
            name.clone(),
            ColumnDetails {
                column_type: c.column_type,
                physical_type: c.physical_type.clone(),
                min: range.map(|r| r.0),
                max: range.map(|r| r.1),
                unique_ratio: ss.map(|s| s.unique_ratio),
                top_values: ss
                    .filter(|_| potential_categoricals.contains(name))
                    .map(|s| s.top_values.clone()),
            },
        );
    }
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    Ok(DatasetInfo {
        name: req.name.clone(),
        basepath: req.basepath.clone(),
        pattern: req.pattern.clone(),
        group_id_column: req.group_id_column.clone(),
        timestamp_column: req.timestamp_column.clone(),
        registered_at: now,
        registration_id,
        parts,
        schema: FullSchema {
            short: ShortSchema {
                columns: types,
                min_timestamp,
                max_timestamp,
                source_categoricals: first
                    .dictionary_columns
                    .iter()
                    .filter(|c| **c != req.group_id_column)
                    .cloned()
                    .collect(),
                potential_categoricals,
                timestamp_unit,
            },
            details,
        },
    })
}
