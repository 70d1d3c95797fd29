//! The commands: each one an operation of the shared [`frocket_api::Service`], over the
//! embedded catalog and in-process workers, or over Redis and queue workers.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{anyhow, bail, Context, Result};
use frocket_api::{Backend, ProgressFn, Service};
use frocket_config::Config;
use frocket_dataset::{Catalog, FileCatalog, RegisterRequest, ValidationMode};
use frocket_invoker::{new_request_id, Progress};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::{json, Value};

use crate::output::{print_output, Rendered};
use crate::{Cli, Command, Dataprep, OutputFormat, RunArgs};

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
    frocket_engine::part_file::keep_mapped(cfg.read.mmap_keep);
    let format = cli.output.unwrap_or(if std::io::stdout().is_terminal() {
        OutputFormat::Table
    } else {
        OutputFormat::Json
    });
    match &cli.command {
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            let mut script = Vec::new();
            clap_complete::generate(*shell, &mut cmd, "frocket", &mut script);
            return crate::output::write_stdout(&String::from_utf8_lossy(&script));
        }
        Command::Man => {
            let cmd = <Cli as clap::CommandFactory>::command();
            let mut page = Vec::new();
            clap_mangen::Man::new(cmd)
                .render(&mut page)
                .context("cannot render the man page")?;
            return crate::output::write_stdout(&String::from_utf8_lossy(&page));
        }
        _ => {}
    }
    if let Command::Dataprep(d) = cli.command {
        return print_output(format, dataprep(d)?);
    }
    // A progress bar only for people: tables on a terminal, never in JSON or CSV or when piped.
    let progress_bar =
        format == OutputFormat::Table && std::io::stderr().is_terminal() && std::io::stdout().is_terminal();
    if matches!(cli.command, Command::Serve { .. } | Command::Worker { .. }) {
        init_logging(&cfg);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let distributed = cfg.redis.host.is_some() || cfg.redis.elasticache_replication_group.is_some();
    let out = rt.block_on(async {
        if distributed {
            #[cfg(feature = "distributed")]
            {
                let mut cfg = cfg.clone();
                frocket_datastore::resolve_redis(&mut cfg).await?;
                let ds = frocket_datastore::Datastore::connect(&cfg.redis, cfg.blobstore_default_ttl_secs, cfg.blobstore_max_ttl_secs).await?;
                if let Command::Worker { name } = cli.command {
                    worker(&cfg, &ds, name).await?;
                    return Ok(None);
                }
                let via = match cfg.invoker.kind {
                    Some(frocket_config::InvokerKind::AwsLambda) => frocket_invoker::Dispatch::Lambda(
                        frocket_invoker::LambdaDispatcher::new(
                            cfg.invoker.lambda_name.clone(),
                            cfg.lambda_endpoint_url.clone(),
                            cfg.invoker.lambda_concurrency,
                        )
                        .await,
                    ),
                    Some(frocket_config::InvokerKind::Local) => bail!(
                        "FROCKET_INVOKER=local runs tasks in-process over the embedded catalog: unset FROCKET_REDIS_HOST for it, or use work_queue or aws_lambda with Redis"
                    ),
                    _ => frocket_invoker::Dispatch::Queue,
                };
                let backend = Backend::Remote { ds: ds.clone(), dispatch: via };
                let jobs = frocket_api::JobStore::Redis {
                    ds: ds.clone(),
                    ttl_secs: cfg.blobstore_default_ttl_secs.max((cfg.invoker.run_timeout_secs * 2.0) as u64),
                };
                return dispatch(Service::new(cfg.clone(), ds, backend), jobs, cli.command, progress_bar).await;
            }
            #[cfg(not(feature = "distributed"))]
            bail!("FROCKET_REDIS_HOST is set but this build has no Redis support (build with the 'distributed' feature), or unset it to use the local catalog");
        }
        if let Command::Worker { .. } = cli.command {
            bail!("'frocket worker' takes tasks from Redis: set FROCKET_REDIS_HOST (and FROCKET_REDIS_PORT)");
        }
        let threads = match &cli.command {
            Command::Run(a) => a.threads,
            _ => 0,
        };
        let catalog = FileCatalog::new(home(&cfg)?);
        let service = Service::new(cfg.clone(), catalog, Backend::Local { threads });
        dispatch(service, frocket_api::JobStore::memory(), cli.command, progress_bar).await
    })?;
    match out {
        Some(o) => print_output(format, o),
        None => Ok(()),
    }
}

/// Logs of the long-running commands (`serve`, `worker`) on stderr through `tracing`: text
/// unless `FROCKET_LOG_FORMAT=json`, at `FROCKET_LOG_LEVEL`.
fn init_logging(cfg: &Config) {
    let builder = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(&cfg.log_level))
        .with_writer(std::io::stderr)
        .with_target(false);
    let _ = match cfg.log_format {
        Some(frocket_config::LogFormat::Json) => builder.json().try_init(),
        _ => builder.with_ansi(std::io::stderr().is_terminal()).try_init(),
    };
}

/// Waits for SIGTERM or SIGINT (Ctrl-C).
async fn shutdown_signal() {
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
    let mut opts = frocket_worker::WorkerOptions::new(
        name.clone(),
        cfg.worker.reject_age_secs,
        frocket_storage::Storage::new(cfg.s3_endpoint_url.clone()),
        frocket_storage::DiskCache::new(cache_dir, cfg.worker.disk_cache_size_mb),
    );
    opts.map_parts = cfg.read.mmap;
    eprintln!("worker {name}: taking tasks from Redis");
    frocket_worker::run_queue_worker(ds, &opts, shutdown_signal()).await?;
    eprintln!("worker {name}: stopped");
    Ok(())
}

/// `frocket serve`: the HTTP API until SIGTERM / Ctrl-C.
async fn serve<C: Catalog + 'static>(
    service: Service<C>,
    jobs: frocket_api::JobStore,
    host: &str,
    port: u16,
) -> Result<()> {
    let (admin, details, allowlist) = {
        let c = service.config();
        (
            c.apiserver_admin_actions,
            c.apiserver_error_details,
            c.allowed_basepaths.is_some(),
        )
    };
    let app = frocket_api::router(frocket_api::ApiState::new(Arc::new(service), jobs));
    let listener = tokio::net::TcpListener::bind((host, port))
        .await
        .with_context(|| format!("cannot listen on {host}:{port}"))?;
    let addr = listener.local_addr().context("no local address")?;
    eprintln!("frocket API and web console on http://{addr}/");
    if !addr.ip().is_loopback() {
        for warning in exposure_warnings(admin, details, allowlist) {
            tracing::warn!("{warning}");
            eprintln!("warning: {warning}");
        }
    }
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("the API server failed")?;
    eprintln!("frocket API stopped");
    Ok(())
}

/// What `frocket serve` warns about when it listens beyond loopback: settings that are fine on
/// a laptop and unsafe for callers on the network.
fn exposure_warnings(admin: bool, details: bool, allowlist: bool) -> Vec<&'static str> {
    let mut w = Vec::new();
    if admin {
        w.push("listening beyond loopback with admin actions on: any caller can register and unregister datasets (set FROCKET_APISERVER_ADMIN_ACTIONS=false)");
        if !allowlist {
            w.push("registration may read any path this process can read (set FROCKET_ALLOWED_BASEPATHS)");
        }
    }
    if details {
        w.push(
            "error details are on: 5xx answers name server paths and hosts (set FROCKET_APISERVER_ERROR_DETAILS=false)",
        );
    }
    w
}

fn with_success(v: Value) -> Value {
    let mut out = json!({"success": true});
    if let (Value::Object(o), Value::Object(m)) = (&mut out, v) {
        o.extend(m);
    }
    out
}

async fn dispatch<C: Catalog + 'static>(
    service: Service<C>,
    jobs: frocket_api::JobStore,
    command: Command,
    progress_bar: bool,
) -> Result<Option<Rendered>> {
    let out = match command {
        Command::Register {
            name,
            basepath,
            group_id_column,
            timestamp_column,
            pattern,
            validation_mode,
            no_validate_uniques,
            timestamp_unit,
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
                timestamp_unit,
            };
            Rendered::Registered(with_success(service.register(req).await?))
        }
        Command::List => Rendered::List(service.list().await?),
        Command::Schema { name, full } => Rendered::Schema(service.schema(&name, full).await?),
        Command::Parts { name } => Rendered::Parts(service.parts(&name).await?),
        Command::Run(args) => run_query(&service, args, progress_bar).await?,
        Command::Unregister { name, force } => {
            Rendered::Unregistered(with_success(service.unregister(&name, force).await?))
        }
        Command::Serve { host, port } => {
            serve(service, jobs, &host, port).await?;
            return Ok(None);
        }
        Command::Dataprep(_) | Command::Worker { .. } | Command::Completions { .. } | Command::Man => {
            bail!("internal: command handled elsewhere")
        }
    };
    Ok(Some(out))
}

async fn run_query<C: Catalog>(service: &Service<C>, args: RunArgs, progress_bar: bool) -> Result<Rendered> {
    let text = match (&args.source.file, &args.source.string, args.source.empty) {
        (Some(f), _, _) if f.as_os_str() == "-" => {
            let mut text = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
                .context("cannot read the query from standard input (--file -)")?;
            text
        }
        (Some(f), _, _) => {
            std::fs::read_to_string(f).with_context(|| format!("cannot read query file '{}'", f.display()))?
        }
        (_, Some(s), _) => s.clone(),
        _ => "{}".to_string(),
    };
    let prepared = service.prepare_query(&args.name, &text).await?;
    let time_unit = args.time_unit.or(prepared.dataset.schema.short.timestamp_unit);
    let bar = if progress_bar {
        let b = ProgressBar::with_draw_target(Some(prepared.dataset.parts.len() as u64), ProgressDrawTarget::stderr());
        b.set_style(
            ProgressStyle::with_template("{spinner} {bar:30} {pos}/{len} tasks · {msg} · {elapsed}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        b.enable_steady_tick(std::time::Duration::from_millis(100));
        b
    } else {
        ProgressBar::hidden()
    };
    let pbar = bar.clone();
    let progress: ProgressFn = Arc::new(move |p: Progress| {
        pbar.set_position(p.tasks.ended_success as u64);
        pbar.set_message(format!(
            "{} rows · {} running",
            crate::output::human_int(p.rows),
            p.tasks.loading_data + p.tasks.running_query
        ));
    });
    let r = service.run_query(prepared, &new_request_id(), progress).await;
    bar.finish_and_clear();
    Ok(Rendered::Query(Box::new(r?), time_unit))
}

fn dataprep(d: Dataprep) -> Result<Rendered> {
    match d {
        Dataprep::Generate {
            out,
            users,
            parts,
            seed,
            days,
            shuffled,
            sparse_ids,
        } => {
            let opts = frocket_dataprep::GenerateOptions {
                users,
                parts,
                seed,
                days,
                shuffled,
                sparse_ids,
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

#[cfg(test)]
mod exposure_tests {
    use super::exposure_warnings;

    #[test]
    fn serve_warns_about_unsafe_settings_beyond_loopback() {
        let w = exposure_warnings(true, true, false);
        assert_eq!(w.len(), 3, "{w:?}");
        assert!(w[0].contains("FROCKET_APISERVER_ADMIN_ACTIONS=false"));
        assert!(w[1].contains("FROCKET_ALLOWED_BASEPATHS"));
        assert!(w[2].contains("FROCKET_APISERVER_ERROR_DETAILS=false"));
        assert_eq!(exposure_warnings(true, false, true).len(), 1);
        assert!(exposure_warnings(false, false, false).is_empty());
    }
}
