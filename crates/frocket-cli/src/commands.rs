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

/// Where tasks run.
enum Backend {
    /// In-process threads.
    Local,
    /// Queue workers through Redis.
    #[cfg(feature = "distributed")]
    Queue(frocket_datastore::Datastore),
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
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let distributed = cfg.redis.host.is_some();
    let out = rt.block_on(async {
        if distributed {
            #[cfg(feature = "distributed")]
            {
                let ds = frocket_datastore::Datastore::connect(&cfg.redis, cfg.blobstore_default_ttl_secs, cfg.blobstore_max_ttl_secs).await?;
                if let Command::Worker { name } = cli.command {
                    worker(&cfg, &ds, name).await?;
                    return Ok(None);
                }
                return dispatch(&cfg, &ds, &Backend::Queue(ds.clone()), cli.command).await.map(Some);
            }
            #[cfg(not(feature = "distributed"))]
            bail!("FROCKET_REDIS_HOST is set but this build has no Redis support (build with the 'distributed' feature), or unset it to use the local catalog");
        }
        if let Command::Worker { .. } = cli.command {
            bail!("'frocket worker' takes tasks from Redis: set FROCKET_REDIS_HOST (and FROCKET_REDIS_PORT)");
        }
        let catalog = FileCatalog::new(home(&cfg)?);
        dispatch(&cfg, &catalog, &Backend::Local, cli.command).await.map(Some)
    })?;
    match out {
        Some(o) => print_output(format, o),
        None => Ok(()),
    }
}

#[cfg(feature = "distributed")]
async fn worker(cfg: &Config, ds: &frocket_datastore::Datastore, name: Option<String>) -> Result<()> {
    let name = name.unwrap_or_else(|| {
        let host = std::fs::read_to_string("/etc/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_else(|_| "worker".into());
        format!("{host}-{}", std::process::id())
    });
    let cache_dir = home(cfg)?.join("cache").join(&name);
    let opts = frocket_worker::WorkerOptions {
        name: name.clone(),
        reject_age_secs: cfg.worker.reject_age_secs,
        exec: ExecOptions::default(),
        storage: frocket_storage::Storage::new(cfg.s3_endpoint_url.clone()),
        cache: frocket_storage::DiskCache::new(cache_dir, cfg.worker.disk_cache_size_mb),
    };
    eprintln!("worker {name}: taking tasks from Redis");
    let shutdown = async {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            match (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) {
                (Ok(mut term), Ok(mut int)) => {
                    tokio::select! { _ = term.recv() => {}, _ = int.recv() => {} }
                }
                _ => std::future::pending::<()>().await,
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    };
    frocket_worker::run_queue_worker(ds, &opts, shutdown).await?;
    eprintln!("worker {name}: stopped");
    Ok(())
}

async fn dispatch<C: Catalog>(cfg: &Config, catalog: &C, backend: &Backend, command: Command) -> Result<Rendered> {
    match command {
        Command::Register {
            name,
            basepath,
            group_id_column,
            timestamp_column,
            pattern,
            validation_mode,
            no_validate_uniques,
        } => {
            let validation_mode: ValidationMode = validation_mode.parse().map_err(|e: String| anyhow!(e))?;
            let basepath = if basepath.starts_with("s3://") {
                basepath
            } else {
                std::path::absolute(&basepath)
                    .map(|p| p.display().to_string())
                    .unwrap_or(basepath)
            };
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
            let info = if req.basepath.starts_with("s3://") {
                register_s3(cfg, &req, &opts).await
            } else {
                register(&req, &opts).map_err(anyhow::Error::from)
            }
            .with_context(|| format!("dataset '{}' not registered", req.name))?;
            catalog.put(&info).await?;
            let v = json!({"success": true, "name": info.name, "parts": info.parts.len(), "totalSize": info.total_size(),
                           "basepath": info.basepath, "registrationId": info.registration_id});
            Ok(Rendered::Registered(v))
        }
        Command::List => {
            let list = catalog.list().await?;
            let mut rows = Vec::new();
            for d in &list {
                rows.push(
                    json!({"name": d.name, "basepath": d.basepath, "groupIdColumn": d.group_id_column,
                    "timestampColumn": d.timestamp_column, "parts": d.parts.len(), "totalSize": d.total_size(),
                    "registeredAt": d.registered_at, "lastUsed": catalog.last_used(&d.name).await?}),
                );
            }
            Ok(Rendered::List(Value::Array(rows)))
        }
        Command::Schema { name, full } => {
            let d = get(catalog, &name).await?;
            let v = if full {
                serde_json::to_value(&d.schema)?
            } else {
                serde_json::to_value(&d.schema.short)?
            };
            Ok(Rendered::Schema(v))
        }
        Command::Parts { name } => {
            let d = get(catalog, &name).await?;
            Ok(Rendered::Parts(
                json!({"name": d.name, "count": d.parts.len(), "totalSize": d.total_size(),
                "parts": d.parts.iter().map(|p| json!({"path": p.path, "size": p.size})).collect::<Vec<_>>()}),
            ))
        }
        Command::Run(args) => run_query(cfg, catalog, backend, args).await,
        Command::Unregister { name, force } => {
            get(catalog, &name).await?;
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
        Command::Dataprep(_) | Command::Worker { .. } => bail!("internal: command handled elsewhere"),
    }
}

/// Registration of a dataset in S3: list (paginated), download the sampled parts, inspect them.
#[cfg(feature = "distributed")]
async fn register_s3(
    cfg: &Config,
    req: &RegisterRequest,
    opts: &RegisterOptions,
) -> Result<frocket_dataset::DatasetInfo> {
    frocket_dataset::check_request(req)?;
    let storage = frocket_storage::Storage::new(cfg.s3_endpoint_url.clone());
    let parts = storage.list(&req.basepath, &req.pattern).await?;
    let picked = frocket_dataset::plan_sample(&parts, req, opts)?;
    let tmp = std::env::temp_dir().join(format!("frocket-register-{}", std::process::id()));
    let cache = frocket_storage::DiskCache::new(&tmp, u64::MAX / (1024 * 1024));
    let mut local = Vec::new();
    for &i in &picked {
        local.push(storage.fetch(&parts[i].path, "register", &cache).await?.0);
    }
    let r = frocket_dataset::register_parts(req, opts, parts, &picked, &local, false);
    let _ = std::fs::remove_dir_all(&tmp);
    Ok(r?)
}

#[cfg(not(feature = "distributed"))]
async fn register_s3(_: &Config, _: &RegisterRequest, _: &RegisterOptions) -> Result<frocket_dataset::DatasetInfo> {
    bail!("s3:// base paths need a build with the 'distributed' feature")
}

async fn get<C: Catalog>(catalog: &C, name: &str) -> Result<frocket_dataset::DatasetInfo> {
    catalog
        .get(name)
        .await?
        .ok_or_else(|| anyhow!("dataset '{name}' is not registered (see 'frocket list')"))
}

async fn run_query<C: Catalog>(cfg: &Config, catalog: &C, backend: &Backend, args: RunArgs) -> Result<Rendered> {
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
    let (result, stats, request_id) = match backend {
        Backend::Local => {
            let opts = LocalOptions {
                threads: args.threads,
                exec: ExecOptions::default(),
                run_timeout_secs: cfg.invoker.run_timeout_secs,
            };
            let request_id = new_request_id();
            let r = run_local(&d, &q, &opts, &progress);
            bar.finish_and_clear();
            let (result, stats) = r?;
            (result, stats, request_id)
        }
        #[cfg(feature = "distributed")]
        Backend::Queue(ds) => {
            let opts = frocket_invoker::QueueOptions {
                run_timeout_secs: cfg.invoker.run_timeout_secs,
                poll_interval: std::time::Duration::from_millis(cfg.invoker.poll_interval_ms.max(1)),
                max_attempts: cfg.invoker.retry_max_attempts.max(1),
                failed_interval_secs: cfg.invoker.retry_failed_interval_secs,
                lost_interval_secs: cfg.invoker.retry_lost_interval_secs,
            };
            let r = frocket_invoker::run_work_queue(ds, &d, &q, &opts, &progress).await;
            bar.finish_and_clear();
            r?
        }
    };
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
