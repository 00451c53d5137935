//! `cargo xtask`: kato's task runner. See `cargo xtask --help`.

mod bench;
mod chaos;
mod chdb;
mod ci;
mod docs_check;
mod kb;
mod process;
mod server;
mod services;
mod test;

use std::path::{Path, PathBuf};

/// The benchmarks run kato-kb in this process; on the allocator kato-server uses, so `bench
/// predict` measures what the server does (under glibc's malloc a prediction's many short
/// strings made it 1.5 to 2 times slower, `docs/benchmarks.md`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

use services::Mode;

#[derive(Debug, Parser)]
#[command(
    name = "cargo xtask",
    about = "kato's task runner: services, schema, run, test, ci, bench"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start local ClickHouse and Redis (persistent data under DIR) and print their URLs.
    Up {
        /// Services directory [default: .kato/ in the workspace root].
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Stop the services `up` started under DIR and wait until they are gone.
    Down {
        /// Services directory [default: .kato/ in the workspace root].
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Say what runs where.
    Status {
        /// Services directory [default: .kato/ in the workspace root].
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Apply the ClickHouse schema (idempotent).
    Schema {
        /// ClickHouse HTTP URL; default: the server `up` started under .kato/.
        #[arg(long, env = "KATO_CLICKHOUSE_URL")]
        clickhouse_url: Option<String>,
        #[arg(long, env = "KATO_CLICKHOUSE_DATABASE", default_value = kato_clickhouse::schema::DEFAULT_DATABASE)]
        database: String,
        /// The ClickHouse cluster (in the servers' `remote_servers`) to create replicated,
        /// distributed tables on; none for one server.
        #[arg(long, env = "KATO_CLICKHOUSE_CLUSTER")]
        cluster: Option<String>,
        /// Print the statements instead of running them.
        #[arg(long)]
        print: bool,
        /// Parse every statement with the server's `EXPLAIN AST`, running none.
        #[arg(long, conflicts_with = "print")]
        check: bool,
    },
    /// Start the services, apply the schema and run kato-server.
    Run {
        /// Services directory [default: .kato/ in the workspace root].
        #[arg(long)]
        dir: Option<PathBuf>,
        #[arg(long, env = "KATO_CLICKHOUSE_DATABASE", default_value = kato_clickhouse::schema::DEFAULT_DATABASE)]
        database: String,
        /// Address kato-server listens on.
        #[arg(long, env = "KATO_LISTEN", default_value = "127.0.0.1:8000")]
        listen: String,
    },
    /// Run the whole test suite against throwaway ClickHouse and Redis.
    Test {
        /// Passed on to the test runner (cargo nextest run / cargo test).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// fmt check, clippy -D warnings, the kato-core boundary check, then `test`.
    Ci,
    /// Render `/docs` in headless Chromium with no network beyond the server and check it
    /// lists every path of `/openapi.json`.
    DocsCheck,
    /// Knowledge-base repair: rehydrate Redis from ClickHouse, or verify they agree.
    Kb {
        #[command(subcommand)]
        command: kb::KbCommand,
    },
    /// Fault injection against a real kato-server: prints one JSON line.
    Chaos(chaos::ChaosArgs),
    /// Benchmarks.
    Bench {
        #[command(subcommand)]
        bench: bench::Bench,
    },
    /// Internal: serve the chdb engine (run by `up` as a child process).
    #[command(hide = true)]
    ServeChdb {
        #[arg(long)]
        library: PathBuf,
        #[arg(long)]
        data: PathBuf,
        #[arg(long)]
        http_port: u16,
        #[arg(long)]
        seconds: u64,
    },
}

fn main() {
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::exit(1);
        }
    }
}

/// Runs one command; returns the process exit code.
fn run(command: Command) -> Result<i32> {
    match command {
        Command::Up { dir } => {
            services::up(&services_dir(dir), Mode::Persistent)?.print_env();
        }
        Command::Down { dir } => services::down(&services_dir(dir))?,
        Command::Status { dir } => services::status(&services_dir(dir))?,
        Command::Schema {
            clickhouse_url,
            database,
            cluster,
            print,
            check,
        } => {
            let topology = topology(cluster.as_deref())?;
            if print {
                for statement in kato_clickhouse::schema::statements(&database, &topology)? {
                    println!("{statement};\n");
                }
                return Ok(0);
            }
            let url = match clickhouse_url {
                Some(url) => url,
                None => services::running_url(&services_dir(None), "clickhouse")?.context(
                    "no ClickHouse: start one with `cargo xtask up` or pass --clickhouse-url",
                )?,
            };
            if check {
                check_schema(&url, &database, &topology)?;
            } else {
                apply_schema(&url, &database, &topology)?;
            }
        }
        Command::Run {
            dir,
            database,
            listen,
        } => return run_server(&services_dir(dir), &database, &listen),
        Command::Test { args } => return test::run(&args),
        Command::Ci => return ci::run(),
        Command::DocsCheck => return docs_check::run(),
        Command::Bench { bench } => return bench::run(bench),
        Command::Chaos(args) => return chaos::run(&args),
        Command::Kb { command } => return kb::run(command),
        Command::ServeChdb {
            library,
            data,
            http_port,
            seconds,
        } => {
            chdb::serve(&library, &data, http_port, seconds)?;
        }
    }
    Ok(0)
}

/// Starts the services, applies the schema, builds kato-server (release) and replaces this
/// process with it, so Ctrl-C and SIGTERM reach the server's graceful shutdown directly.
fn run_server(dir: &Path, database: &str, listen: &str) -> Result<i32> {
    use std::os::unix::process::CommandExt;

    let urls = services::up(dir, Mode::Persistent)?;
    urls.print_env();
    apply_schema(
        &urls.clickhouse,
        database,
        &kato_clickhouse::Topology::Single,
    )?;
    eprintln!("building kato-server (release)...");
    let built = std::process::Command::new(env!("CARGO"))
        .args(["build", "--release", "--quiet", "-p", "kato-server"])
        .current_dir(workspace_root())
        .status()
        .context("running cargo build")?;
    if !built.success() {
        anyhow::bail!("building kato-server failed");
    }
    let base = format!("http://{listen}");
    eprintln!(
        "kato-server on {base} (Ctrl-C stops it; `cargo xtask down` stops the services). Try:\n\
         S=$(curl -s -X POST {base}/sessions -H 'content-type: application/json' -d '{{\"node_id\":\"demo\"}}' | sed 's/.*\"session_id\":\"\\([^\"]*\\)\".*/\\1/')\n\
         curl -s -X POST {base}/sessions/$S/observe -H 'content-type: application/json' -d '{{\"strings\":[\"hello\"]}}'\n\
         curl -s {base}/sessions/$S/predictions"
    );
    let error = std::process::Command::new(release_binary("kato-server"))
        .env("KATO_CLICKHOUSE_URL", &urls.clickhouse)
        .env("KATO_REDIS_URL", &urls.redis)
        .env("KATO_CLICKHOUSE_DATABASE", database)
        .env("KATO_LISTEN", listen)
        .exec();
    Err(error).context("starting the release kato-server")
}

fn apply_schema(url: &str, database: &str, topology: &kato_clickhouse::Topology) -> Result<()> {
    let client = kato_clickhouse::connect(url);
    let version = block_on(kato_clickhouse::schema::ensure_schema_on(
        &client, database, topology,
    ))?
    .with_context(|| format!("applying the schema to {url}"))?;
    eprintln!("schema: database {database} at {url} is at version {version}");
    Ok(())
}

fn check_schema(url: &str, database: &str, topology: &kato_clickhouse::Topology) -> Result<()> {
    let client = kato_clickhouse::connect(url);
    let checked = block_on(kato_clickhouse::schema::check_syntax(
        &client, database, topology,
    ))?
    .with_context(|| format!("parsing the schema at {url}"))?;
    let on = match topology {
        kato_clickhouse::Topology::Single => "one server".to_owned(),
        kato_clickhouse::Topology::Cluster(name) => format!("cluster {name}"),
    };
    eprintln!("schema: {checked} statements for {on} parse at {url}; none was run");
    Ok(())
}

/// The ClickHouse topology of `--cluster` / `KATO_CLICKHOUSE_CLUSTER`: one server when unset.
pub(crate) fn topology(cluster: Option<&str>) -> Result<kato_clickhouse::Topology> {
    Ok(match cluster {
        None | Some("") => kato_clickhouse::Topology::Single,
        Some(name) => kato_clickhouse::Topology::cluster(name)?,
    })
}

/// Runs `work` on a fresh single-threaded runtime.
fn block_on<T>(work: impl std::future::Future<Output = T>) -> Result<T> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(work))
}

/// The workspace root (xtask lives one level below it).
pub(crate) fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// The release build of `binary`, which xtask builds from the workspace root: under
/// `CARGO_TARGET_DIR` when set (a relative one from the workspace root), else under `target/`.
pub(crate) fn release_binary(binary: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || workspace_root().join("target"),
        |dir| workspace_root().join(dir),
    );
    target.join("release").join(binary)
}

/// `dir` as given, else `.kato/` in the workspace root, whichever directory xtask runs from.
pub(crate) fn services_dir(dir: Option<PathBuf>) -> PathBuf {
    dir.unwrap_or_else(|| workspace_root().join(".kato"))
}
