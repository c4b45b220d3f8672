//! `s3vec`: index corpora into a collection in S3, search it, inspect it, and maintain it.
//! A thin shell over the library's store and clients, the same code the browser runs.

mod config;
mod corpus;
mod index;
mod inspect;
mod ops;
mod output;

use clap::{Parser, Subcommand};
use config::GlobalArgs;
use s3vec::aws::AwsError;
use s3vec::store::StoreError;
use std::process::ExitCode;

/// Semantic search over Amazon Bedrock embeddings stored in S3.
#[derive(Parser)]
#[command(name = "s3vec", version, about, long_about = None)]
#[command(
    after_help = "Exit codes: 0 success, 1 other error, 2 usage error, 3 AWS error \
    (access, throttling, network), 4 partial failure (some lines, shards or objects skipped).\n\
    Configuration: flags, then environment variables, then the config file \
    (--config, else ./s3vec.toml, else ~/.config/s3vec/config.toml)."
)]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Index(index::IndexArgs),
    Search(ops::SearchArgs),
    Get(ops::GetArgs),
    Rm(ops::RmArgs),
    Inspect(inspect::InspectArgs),
    ImportSeed(ops::ImportSeedArgs),
    Compact(ops::CompactArgs),
}

/// Why the CLI stopped, and so its exit code.
#[derive(Debug)]
pub enum Failure {
    Usage(String),
    Aws(String),
    /// The work finished but left something out; the details were already printed.
    Partial(String),
    Other(String),
}

impl Failure {
    fn code(&self) -> u8 {
        match self {
            Failure::Other(_) => 1,
            Failure::Usage(_) => 2,
            Failure::Aws(_) => 3,
            Failure::Partial(_) => 4,
        }
    }

    fn message(&self) -> &str {
        match self {
            Failure::Usage(m) | Failure::Aws(m) | Failure::Partial(m) | Failure::Other(m) => m,
        }
    }
}

impl From<AwsError> for Failure {
    fn from(e: AwsError) -> Self {
        match e {
            AwsError::InvalidInput(m) => Failure::Usage(m),
            other => Failure::Aws(other.to_string()),
        }
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Aws(a) => a.into(),
            StoreError::InvalidInput(m) => Failure::Usage(m),
            e @ (StoreError::Incompatible { .. } | StoreError::NoCollection { .. }) => {
                Failure::Usage(e.to_string())
            }
            other => Failure::Other(other.to_string()),
        }
    }
}

pub type CliResult<T = ()> = Result<T, Failure>;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(async move {
        let config = cli.global.resolve()?;
        match cli.command {
            Command::Index(a) => index::run(&config, a).await,
            Command::Search(a) => ops::search(&config, a).await,
            Command::Get(a) => ops::get(&config, a).await,
            Command::Rm(a) => ops::rm(&config, a).await,
            Command::Inspect(a) => inspect::run(&config, a).await,
            Command::ImportSeed(a) => ops::import_seed(&config, a).await,
            Command::Compact(a) => ops::compact(&config, a).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("error: {}", f.message());
            ExitCode::from(f.code())
        }
    }
}
