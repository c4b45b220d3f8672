//! `presign-lambda`: with no arguments, the Lambda function (settings from the environment);
//! `presign-lambda local …`: the same handler on 127.0.0.1 for the local stack;
//! `presign-lambda policy …`: print the session policy it would build.

use aws_sdk_sts::config::{BehaviorVersion, Credentials, Region};
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
use clap::{Parser, Subcommand};
use presign_lambda::config::{Config, Settings};
use presign_lambda::handler::App;
use presign_lambda::policy::{self, Access, Scope};
use presign_lambda::relay::HttpUpstream;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

#[derive(Parser)]
#[command(
    version,
    about = "Temporary, narrowed AWS credentials for s3vec's browser client"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

// Parsed once at start and consumed: the size difference between variants costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Serve the handler over HTTP on 127.0.0.1 (for the local stack; never on Lambda).
    Local {
        #[command(flatten)]
        settings: Settings,
        /// Port on 127.0.0.1; 0 picks a free one.
        #[arg(long, default_value_t = 0)]
        port: u16,
        /// Written with `{"url", "pid"}` once listening; removed on exit.
        #[arg(long)]
        ready_file: Option<PathBuf>,
        /// The STS endpoint (the local stack's S3 port).
        #[arg(long, env = "STS_ENDPOINT_URL")]
        sts_endpoint: String,
        /// Keys allowed to call AssumeRole there (the local stack's root keys).
        #[arg(long, env = "AWS_ACCESS_KEY_ID")]
        access_key: String,
        #[arg(long, env = "AWS_SECRET_ACCESS_KEY", hide_env_values = true)]
        secret_key: String,
    },
    /// Print the session policy built for a request (terraform/tests compares it with IAM).
    Policy {
        #[arg(long)]
        bucket: String,
        #[arg(long)]
        prefix: String,
        #[arg(long, default_value = "amazon.titan-embed-text-v2:0")]
        model_id: String,
        #[arg(long, default_value = "us-east-1")]
        region: String,
        #[arg(long, default_value = "aws")]
        partition: String,
        #[arg(long)]
        kms_key_arn: Option<String>,
        /// The write-access policy instead of the read-only one.
        #[arg(long)]
        write: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        None => lambda_main(),
        Some(Command::Policy {
            bucket,
            prefix,
            model_id,
            region,
            partition,
            kms_key_arn,
            write,
        }) => policy::validate_prefix(&prefix).map(|prefix| {
            let scope = Scope {
                partition: &partition,
                region: &region,
                bucket: &bucket,
                prefix: &prefix,
                model_id: &model_id,
                kms_key_arn: kms_key_arn.as_deref(),
                access: if write { Access::Write } else { Access::Read },
            };
            println!("{}", policy::session_policy(&scope));
        }),
        Some(Command::Local {
            settings,
            port,
            ready_file,
            sts_endpoint,
            access_key,
            secret_key,
        }) => local_main(
            settings,
            port,
            ready_file,
            sts_endpoint,
            access_key,
            secret_key,
        ),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("presign-lambda: {message}");
            ExitCode::FAILURE
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))
}

/// STS over the SDK's hyper client with rustls (ring); `endpoint` for the local stack.
fn sts_client(
    region: &str,
    credentials: Credentials,
    endpoint: Option<String>,
) -> aws_sdk_sts::Client {
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https();
    let mut config = aws_sdk_sts::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.to_string()))
        .credentials_provider(credentials)
        .http_client(http)
        .timeout_config(
            aws_sdk_sts::config::timeout::TimeoutConfig::builder()
                .operation_attempt_timeout(Duration::from_secs(5))
                .operation_timeout(Duration::from_secs(12))
                .build(),
        );
    if let Some(url) = endpoint {
        config = config.endpoint_url(url);
    }
    aws_sdk_sts::Client::from_conf(config.build())
}

/// Everything is built once, at cold start: settings are checked, the clients made.
fn lambda_main() -> Result<(), String> {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "presign_lambda=info".into()),
        )
        .with_current_span(false)
        .without_time() // CloudWatch stamps every line
        .init();
    #[derive(Parser)]
    struct FromEnv {
        #[command(flatten)]
        settings: Settings,
    }
    // clap would name the flags; on Lambda the settings are environment variables.
    for name in ["VECTOR_BUCKET_NAME", "BROWSER_ROLE_ARN", "AWS_REGION"] {
        if std::env::var_os(name).is_none_or(|v| v.is_empty()) {
            return Err(format!(
                "{name} is not set: set it in the function's environment (see presign-lambda/README.md)"
            ));
        }
    }
    let settings = FromEnv::try_parse_from(["presign-lambda"])
        .map_err(|e| format!("settings: {e}"))?
        .settings;
    let config = Config::from_settings(settings)?;
    // The function's role credentials, as the Lambda runtime provides them.
    let var = |name: &str| {
        std::env::var(name).map_err(|_| {
            format!("{name} is not set: run this on Lambda, or use `presign-lambda local`")
        })
    };
    let credentials = Credentials::new(
        var("AWS_ACCESS_KEY_ID")?,
        var("AWS_SECRET_ACCESS_KEY")?,
        std::env::var("AWS_SESSION_TOKEN").ok(),
        None,
        "lambda-environment",
    );
    let sts = sts_client(&config.region, credentials, None);
    let upstream = HttpUpstream::new()?;
    let app = Arc::new(App::new(config, sts, upstream));
    runtime()?
        .block_on(presign_lambda::lambda::run(app))
        .map_err(|e| format!("the Lambda runtime stopped: {e}"))
}

fn local_main(
    settings: Settings,
    port: u16,
    ready_file: Option<PathBuf>,
    sts_endpoint: String,
    access_key: String,
    secret_key: String,
) -> Result<(), String> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "presign_lambda=info".into()),
        )
        .init();
    let config = Config::from_settings(settings)?;
    let credentials = Credentials::new(access_key, secret_key, None, None, "local-stack");
    let sts = sts_client(&config.region, credentials, Some(sts_endpoint));
    let upstream = HttpUpstream::new()?;
    let app = Arc::new(App::new(config, sts, upstream));
    runtime()?.block_on(presign_lambda::local::serve(app, port, ready_file))
}
