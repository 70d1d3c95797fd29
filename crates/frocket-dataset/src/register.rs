//! Registering a dataset: list its parts, validate a sample of them, build its schema.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use frocket_engine::ColumnType;
use rand::seq::index::sample;
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::info::{ColumnDetails, DatasetInfo, FullSchema, PartRef, ShortSchema};
use crate::inspect::{inspect_part, timestamp_range_from_footer, PartInspection};
use crate::listing::list_parts;

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

fn check_name(name: &str) -> Result<(), RegisterError> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        && !name.starts_with('.');
    if ok {
        Ok(())
    } else {
        Err(RegisterError::Invalid(format!(
            "invalid dataset name '{name}': use 1-128 letters, digits, '_', '-' or '.', not starting with '.'"
        )))
    }
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

fn describe_types(s: &arrow::datatypes::Schema) -> BTreeMap<String, ColumnType> {
    s.fields()
        .iter()
        .map(|f| (f.name().clone(), ColumnType::from_arrow(f.data_type())))
        .collect()
}

/// Registers a dataset stored in a local directory: lists the parts, inspects a sample (in
/// parallel), checks required columns, schema consistency and (optionally) that no group id is
/// shared between inspected parts, and builds the schema. Nothing is stored: pass the result
/// to a [`crate::Catalog`].
pub fn register(req: &RegisterRequest, opts: &RegisterOptions) -> Result<DatasetInfo, RegisterError> {
    check_request(req)?;
    let parts: Vec<PartRef> = list_parts(&req.basepath, &req.pattern)?;
    let picked = plan_sample(&parts, req, opts)?;
    let local: Vec<std::path::PathBuf> = picked
        .iter()
        .map(|&i| std::path::PathBuf::from(&parts[i].path))
        .collect();
    register_parts(req, opts, parts, &picked, &local, true)
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

/// Registration from listed parts: `picked` are the inspected parts' indexes and `local` their
/// local copies (same order). With `footers_of_others`, the timestamp range also covers the
/// footers of the parts not inspected (cheap for local files).
pub fn register_parts(
    req: &RegisterRequest,
    opts: &RegisterOptions,
    parts: Vec<PartRef>,
    picked: &[usize],
    local: &[std::path::PathBuf],
    footers_of_others: bool,
) -> Result<DatasetInfo, RegisterError> {
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
                s.spawn(move || {
                    // Messages and results name the part as registered (e.g. its s3:// URL).
                    match inspect_part(
                        &path,
                        &req.group_id_column,
                        &req.timestamp_column,
                        req.validate_uniques,
                        i == 0,
                    ) {
                        Ok(mut r) => {
                            r.path = shown;
                            Ok(r)
                        }
                        Err(RegisterError::Part { message, .. }) => Err(RegisterError::Part {
                            message: message.replace(&path.display().to_string(), &shown),
                            part: shown,
                        }),
                        Err(e) => Err(e),
                    }
                })
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
    let inspections: Vec<PartInspection> = inspections.into_iter().collect::<Result<_, _>>()?;
    let first = &inspections[0];
    let types = describe_types(&first.schema);
    for other in &inspections[1..] {
        let t = describe_types(&other.schema);
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
    for (p, part) in parts.iter().enumerate() {
        if footers_of_others && !picked.contains(&p) {
            if let Some((a, b)) = timestamp_range_from_footer(Path::new(&part.path), &req.timestamp_column) {
                lo = lo.min(a);
                hi = hi.max(b);
            }
        }
    }
    let (min_timestamp, max_timestamp) = if lo <= hi { (Some(lo), Some(hi)) } else { (None, None) };

    let potential_categoricals: Vec<String> = first
        .string_stats
        .iter()
        .filter(|(_, s)| s.unique_ratio < opts.categorical_ratio)
        .map(|(c, _)| c.clone())
        .collect();
    let mut details = BTreeMap::new();
    for f in first.schema.fields() {
        let name = f.name();
        let ty = ColumnType::from_arrow(f.data_type());
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
                column_type: ty,
                physical_type: f.data_type().to_string(),
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
        registration_id: format!("{now}-{:08x}", rand::rng().random::<u32>()),
        parts,
        schema: FullSchema {
            short: ShortSchema {
                columns: types,
                min_timestamp,
                max_timestamp,
                source_categoricals: first.dictionary_columns.clone(),
                potential_categoricals,
            },
            details,
        },
    })
}
