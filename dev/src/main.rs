//! `s3vec-dev`: the whole local AWS stack in one process. See dev/README.md.

use clap::Parser;
use s3vec_dev::cors::Cors;
use s3vec_dev::creds::CredentialStore;
use s3vec_dev::stack::{Shared, Shutdown};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

/// Root credentials used when neither the command line nor the environment gives any. They are
/// AWS's documented example keys: obviously not real, fine for a stack bound to 127.0.0.1.
const DEFAULT_ACCESS_KEY: &str = "AKIAIOSFODNN7EXAMPLE";
const DEFAULT_SECRET_KEY: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

#[derive(Parser, Debug)]
#[command(
    name = "s3vec-dev",
    version,
    about = "The local AWS stack for s3vec: S3 + STS (and Bedrock) on 127.0.0.1"
)]
struct Args {
    /// Directory holding the buckets, one subdirectory each (created if missing). Default: a
    /// fresh temporary directory, deleted on exit.
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,

    /// Port for S3 and STS (0 picks a free one).
    #[arg(long, default_value_t = 9000, value_name = "PORT")]
    s3_port: u16,

    /// Region requests must be signed for.
    #[arg(long, default_value = "us-east-1")]
    region: String,

    /// Root access key id (may call AssumeRole; unrestricted on S3).
    #[arg(long, env = "AWS_ACCESS_KEY_ID", default_value = DEFAULT_ACCESS_KEY)]
    access_key: String,

    /// Root secret access key.
    #[arg(
        long,
        env = "AWS_SECRET_ACCESS_KEY",
        default_value = DEFAULT_SECRET_KEY,
        hide_env_values = true,
        hide_default_value = true
    )]
    secret_key: String,

    /// Browser origin allowed by CORS (repeatable): exact, with a `*` wildcard
    /// (`http://localhost:*`), or `*` for any.
    #[arg(long = "cors-origin", value_name = "ORIGIN")]
    cors_origins: Vec<String>,

    /// Bucket to create at start if missing (repeatable).
    #[arg(long = "bucket", value_name = "NAME")]
    buckets: Vec<String>,

    /// Once every server listens, write the endpoints and root credentials here as JSON
    /// (removed on exit).
    #[arg(long, value_name = "PATH")]
    ready_file: Option<PathBuf>,

    /// Port for the Bedrock-compatible embedding service (0 picks a free one).
    #[arg(long, value_name = "PORT")]
    bedrock_port: Option<u16>,

    #[command(flatten)]
    bedrock: s3vec_dev::bedrock::cli::BedrockArgs,

    /// Test hook: sessions issued by AssumeRole live this many seconds, whatever
    /// DurationSeconds asked for (so tests can see ExpiredToken without waiting 15 minutes).
    #[arg(long, hide = true, value_name = "SECS")]
    test_session_lifetime_secs: Option<u64>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("s3vec_dev=info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("s3vec-dev: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("s3vec-dev: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn bind(port: u16) -> std::io::Result<(TcpListener, String)> {
    let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
        .await
        .map_err(|e| std::io::Error::new(e.kind(), format!("cannot bind 127.0.0.1:{port}: {e}")))?;
    let url = format!("http://{}", listener.local_addr()?);
    Ok((listener, url))
}

fn valid_bucket_name(name: &str) -> bool {
    (3..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && name.as_bytes()[0].is_ascii_alphanumeric()
        && name.as_bytes()[name.len() - 1].is_ascii_alphanumeric()
}

async fn run(args: Args) -> Result<(), String> {
    let (data_dir, temporary) = match &args.data_dir {
        Some(dir) => (dir.clone(), false),
        None => (
            std::env::temp_dir().join(format!("s3vec-dev-{}", std::process::id())),
            true,
        ),
    };
    std::fs::create_dir_all(&data_dir)
        .map_err(|e| format!("cannot create {}: {e}", data_dir.display()))?;
    for bucket in &args.buckets {
        if !valid_bucket_name(bucket) {
            return Err(format!("invalid bucket name {bucket:?}"));
        }
        std::fs::create_dir_all(data_dir.join(bucket))
            .map_err(|e| format!("cannot create bucket {bucket}: {e}"))?;
    }

    let (trigger, shutdown) = Shutdown::new();
    let shared = Shared {
        creds: Arc::new(CredentialStore::new(&args.access_key, &args.secret_key)),
        region: args.region.clone(),
        cors: Arc::new(Cors::new(args.cors_origins.clone())),
        shutdown,
    };
    let mut servers: JoinSet<(&'static str, std::io::Result<()>)> = JoinSet::new();

    // ---- S3 + STS (one port) ----
    let (listener, s3_url) = bind(args.s3_port).await.map_err(|e| e.to_string())?;
    let s3_options = s3vec_dev::s3::Options {
        data_dir: data_dir.clone(),
        session_lifetime_override: args.test_session_lifetime_secs.map(Duration::from_secs),
    };
    // Build the service now so that a bad data directory fails before the ready file.
    let front = s3vec_dev::s3::Front::new(&shared, &s3_options).map_err(|e| e.to_string())?;
    let s3_shutdown = shared.shutdown.clone();
    servers.spawn(async move {
        (
            "s3",
            s3vec_dev::stack::serve_http(listener, front, s3_shutdown).await,
        )
    });
    tracing::info!("S3 and STS on {s3_url}, data in {}", data_dir.display());

    // ---- Bedrock (dev/src/bedrock/) ----
    let mut bedrock_url: Option<String> = None;
    if let Some(port) = args.bedrock_port {
        let (listener, url) = bind(port).await.map_err(|e| e.to_string())?;
        let state = s3vec_dev::bedrock::cli::start(&args.bedrock, &shared).await?;
        let stop = shared.shutdown.clone().signalled();
        servers.spawn(async move {
            (
                "bedrock",
                s3vec_dev::bedrock::serve(listener, state, stop).await,
            )
        });
        tracing::info!("Bedrock on {url}");
        bedrock_url = Some(url);
    }
    // ---- end of Bedrock ----

    if let Some(path) = &args.ready_file {
        let ready = serde_json::json!({
            "s3": s3_url,
            "sts": s3_url,
            "bedrock": bedrock_url,
            "region": args.region,
            "access_key_id": args.access_key,
            "secret_access_key": args.secret_key,
            "account_id": s3vec_dev::stack::ACCOUNT_ID,
            "data_dir": data_dir,
            "pid": std::process::id(),
        });
        write_ready_file(path, &ready)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }

    // Run until a signal, or until a server stops by itself (an error).
    let mut failure = None;
    tokio::select! {
        () = stop_signal() => tracing::info!("stopping"),
        Some(done) = servers.join_next() => {
            failure = Some(match done {
                Ok((name, Ok(()))) => format!("the {name} server stopped unexpectedly"),
                Ok((name, Err(e))) => format!("the {name} server failed: {e}"),
                Err(e) => format!("a server task failed: {e}"),
            });
        }
    }
    trigger.trigger();
    while let Some(done) = servers.join_next().await {
        if let Ok((name, Err(e))) = done {
            tracing::warn!("{name} server: {e}");
        }
    }
    if let Some(path) = &args.ready_file {
        let _ = std::fs::remove_file(path);
    }
    if temporary {
        let _ = std::fs::remove_dir_all(&data_dir);
    }
    failure.map_or(Ok(()), Err)
}

/// Writes the file whole or not at all (readers poll for it), readable by its owner only: it
/// holds the root secret.
fn write_ready_file(path: &Path, value: &serde_json::Value) -> std::io::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&tmp)?;
    std::io::Write::write_all(&mut file, format!("{value:#}\n").as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)
}

async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
