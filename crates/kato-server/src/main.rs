//! `kato-server`: parses the configuration, connects, serves until SIGTERM or Ctrl-C.

use anyhow::Context;
use clap::Parser;
use kato_server::{AppState, ServerArgs};
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

/// The request path allocates and frees many short-lived buffers across threads; under glibc's
/// malloc that was about 40% of the server's CPU samples in a learn load (`docs/benchmarks.md`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let args = ServerArgs::parse();
    if let Err(error) = run(args).await {
        eprintln!("error: {}", error_chain(&error));
        std::process::exit(1);
    }
}

/// The error and its causes, each once: kato's error messages already include their cause's
/// text, so a cause whose text the previous message contains is not repeated.
fn error_chain(error: &anyhow::Error) -> String {
    let mut text = String::new();
    let mut previous = String::new();
    for cause in error.chain() {
        let message = cause.to_string();
        if !previous.contains(&message) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&message);
        }
        previous = message;
    }
    text
}

async fn run(args: ServerArgs) -> anyhow::Result<()> {
    let state = AppState::connect(&args)
        .await
        .context("kato-server could not start")?;
    let listener = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {} (KATO_LISTEN)", args.listen))?;
    tracing::info!(address = %listener.local_addr()?, "kato-server listening");
    if let Some(admin) = args.admin_listen {
        let admin_listener = TcpListener::bind(admin)
            .await
            .with_context(|| format!("cannot listen on {admin} (KATO_ADMIN_LISTEN)"))?;
        tracing::info!(address = %admin_listener.local_addr()?, "admin listener (Prometheus /metrics)");
        let admin_app = kato_server::admin_router(state.clone());
        tokio::spawn(async move {
            if let Err(error) =
                kato_server::serve(admin_listener, admin_app, shutdown_signal()).await
            {
                tracing::error!(%error, "admin listener failed");
            }
        });
    }
    kato_server::serve(
        listener,
        kato_server::router(state.clone()),
        shutdown_signal(),
    )
    .await?;
    state.finish_in_flight().await;
    tracing::info!("kato-server stopped: every request answered, every session change finished");
    Ok(())
}

/// Completes on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: no new connections, finishing requests in flight");
}
