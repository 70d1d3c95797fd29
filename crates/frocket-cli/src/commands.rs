//! The commands, run against the embedded catalog and the local invoker.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail, Context, Result};
use frocket_config::Config;
use frocket_dataset::{register, Catalog, FileCatalog, RegisterOptions, RegisterRequest, ValidationMode};
use frocket_engine::{validate_query, ExecOptions};
use frocket_invoker::{new_request_id, run_local, LocalOptions, Progress, QueryResponse};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::{json, Value};

use crate::output::{print_output, Rendered};
use crate::{Cli, Command, Dataprep, OutputFormat, RunArgs};

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// The embedded catalog's directory: `FROCKET_HOME`, else the platform data dir.
fn home(cfg: &Config) -> Result<PathBuf> {
    if let Some(h) = &cfg.home {
        return Ok(h.clone());
    }
    dirs::data_dir()
        .map(|d| d.join("frocket"))
        .or_else(|| dirs::home_dir().map(|h| h.join(".frocket")))
        .ok_or_else(|| anyhow!("no data directory found: set FROCKET_HOME"))
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> Result<()> {
    let cfg = Config::from_env()?;
    let format = cli.output.unwrap_or(if std::io::stdout().is_terminal() {
        OutputFormat::Table
    } else {
        OutputFormat::Json
    });
    if let Command::Dataprep(d) = cli.command {
        return print_output(format, dataprep(d)?);
    }
    if cfg.redis.host.is_some() || cfg.redis.elasticache_replication_group.is_some() {
        bail!("FROCKET_REDIS_HOST is set, but this build runs only the embedded local mode; unset it to use the local catalog");
    }
    let catalog = FileCatalog::new(home(&cfg)?);
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .context("cannot start the async runtime")?;
    let out = rt.block_on(async {
        match cli.command {
            Command::Register { name, basepath, group_id_column, timestamp_column, pattern, validation_mode, no_validate_uniques } => {
                let validation_mode: ValidationMode = validation_mode.parse().map_err(|e: String| anyhow!(e))?;
                let basepath = std::path::absolute(&basepath).map(|p| p.display().to_string()).unwrap_or(basepath);
                let req = RegisterRequest {
                    name,
                    basepath,
                    group_id_column,
                    timestamp_column,
                    pattern,
                    validation_mode,
                    validate_uniques: !no_validate_uniques,
                };
                let opts = RegisterOptions {
                    sample_ratio: cfg.validation_sample_ratio,
                    sample_max: cfg.validation_sample_max,
                    categorical_ratio: cfg.dataset_categorical_ratio,
                };
                let info = register(&req, &opts).with_context(|| format!("dataset '{}' not registered", req.name))?;
                catalog.put(&info).await?;
                let v = json!({"success": true, "name": info.name, "parts": info.parts.len(), "totalSize": info.total_size(),
                               "basepath": info.basepath, "registrationId": info.registration_id});
                Ok::<Rendered, anyhow::Error>(Rendered::Registered(v))
            }
            Command::List => {
                let list = catalog.list().await?;
                let mut rows = Vec::new();
                for d in &list {
                    rows.push(json!({"name": d.name, "basepath": d.basepath, "groupIdColumn": d.group_id_column,
                        "timestampColumn": d.timestamp_column, "parts": d.parts.len(), "totalSize": d.total_size(),
                        "registeredAt": d.registered_at, "lastUsed": catalog.last_used(&d.name).await?}));
                }
                Ok(Rendered::List(Value::Array(rows)))
            }
            Command::Schema { name, full } => {
                let d = get(&catalog, &name).await?;
                let v = if full { serde_json::to_value(&d.schema)? } else { serde_json::to_value(&d.schema.short)? };
                Ok(Rendered::Schema(v))
            }
            Command::Parts { name } => {
                let d = get(&catalog, &name).await?;
                Ok(Rendered::Parts(json!({"name": d.name, "count": d.parts.len(), "totalSize": d.total_size(),
                    "parts": d.parts.iter().map(|p| json!({"path": p.path, "size": p.size})).collect::<Vec<_>>()})))
            }
            Command::Run(args) => run_query(&cfg, &catalog, args).await,
            Command::Unregister { name, force } => {
                get(&catalog, &name).await?;
                if !force {
                    if let Some(last) = catalog.last_used(&name).await? {
                        let age = now_secs().saturating_sub(last) as f64;
                        if age < cfg.unregister_last_used_interval_secs {
                            bail!(
                                "dataset '{name}' was used {age:.0}s ago (within {:.0}s): pass --force to unregister it anyway",
                                cfg.unregister_last_used_interval_secs
                            );
                        }
                    }
                }
                catalog.remove(&name).await?;
                Ok(Rendered::Unregistered(json!({"success": true, "name": name})))
            }
            Command::Dataprep(_) => unreachable!("handled above"),
        }
    })?;
    print_output(format, out)
}

async fn get(catalog: &FileCatalog, name: &str) -> Result<frocket_dataset::DatasetInfo> {
    catalog
        .get(name)
        .await?
        .ok_or_else(|| anyhow!("dataset '{name}' is not registered (see 'frocket list')"))
}

async fn run_query(cfg: &Config, catalog: &FileCatalog, args: RunArgs) -> Result<Rendered> {
    let d = get(catalog, &args.name).await?;
    let text = match (&args.source.file, &args.source.string, args.source.empty) {
        (Some(f), _, _) => {
            std::fs::read_to_string(f).with_context(|| format!("cannot read query file '{}'", f.display()))?
        }
        (_, Some(s), _) => s.clone(),
        _ => "{}".to_string(),
    };
    let q = validate_query(&text, &d.query_schema(), cfg.aggregations_top_default)?;
    catalog.touch(&d.name, now_secs()).await?;
    let bar = if std::io::stderr().is_terminal() {
        let b = ProgressBar::with_draw_target(Some(d.parts.len() as u64), ProgressDrawTarget::stderr());
        b.set_style(
            ProgressStyle::with_template("{spinner} {bar:30} {pos}/{len} parts {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        b
    } else {
        ProgressBar::hidden()
    };
    let progress = |p: Progress| {
        bar.set_position(p.tasks.ended_success as u64);
        bar.set_message(format!("({} running)", p.tasks.loading_data + p.tasks.running_query));
    };
    let opts = LocalOptions {
        threads: args.threads,
        exec: ExecOptions::default(),
        run_timeout_secs: cfg.invoker.run_timeout_secs,
    };
    let request_id = new_request_id();
    let r = run_local(&d, &q, &opts, &progress);
    bar.finish_and_clear();
    let (result, stats) = r?;
    Ok(Rendered::Query(Box::new(QueryResponse::new(request_id, result, stats))))
}

fn dataprep(d: Dataprep) -> Result<Rendered> {
    match d {
        Dataprep::Generate {
            out,
            users,
            parts,
            seed,
            days,
        } => {
            let opts = frocket_dataprep::GenerateOptions {
                users,
                parts,
                seed,
                days,
                ..Default::default()
            };
            let t = std::time::Instant::now();
            let s = frocket_dataprep::generate(&opts, &out)?;
            Ok(Rendered::Generated(
                json!({"success": true, "out": out.display().to_string(), "files": s.files.len(),
                "rows": s.rows, "users": users, "seconds": t.elapsed().as_secs_f64()}),
            ))
        }
        Dataprep::Repartition {
            input,
            out,
            group_id_column,
            parts,
            dictionary_ratio,
        } => {
            let opts = frocket_dataprep::RepartitionOptions {
                group_id_column,
                parts,
                dictionary_ratio,
            };
            let s = frocket_dataprep::repartition(&input, &out, &opts)?;
            Ok(Rendered::Generated(
                json!({"success": true, "out": out.display().to_string(), "files": s.files.len(),
                "rows": s.rows, "dictionaryColumns": s.dictionary_columns}),
            ))
        }
    }
}
