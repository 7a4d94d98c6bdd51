//! `auth-server serve`: configuration, keys, listener, graceful shutdown.

use std::process::ExitCode;
use std::sync::Arc;

use auth_core::token::{Algorithm, Key, KeySet};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::app::{AppState, router};
use crate::config::{self, LogFormat, ServeConfig};

pub(crate) fn main() -> ExitCode {
    let config = match config::from_env(|name| std::env::var(name).ok()) {
        Ok(config) => config,
        Err(problems) => {
            eprintln!("auth-server: invalid configuration:");
            for problem in problems {
                eprintln!("  - {problem}");
            }
            return ExitCode::FAILURE;
        }
    };
    init_tracing(&config);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            tracing::error!(%error, "cannot start the async runtime");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "server failed");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing(config: &ServeConfig) {
    let filter = tracing_subscriber::EnvFilter::new(&config.log_level);
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    match config.log_format {
        LogFormat::Json => builder.json().flatten_event(true).init(),
        LogFormat::Pretty => builder.init(),
    }
}

async fn run(config: ServeConfig) -> Result<(), String> {
    tracing::info!(environment = ?config.environment, version = env!("CARGO_PKG_VERSION"), "starting auth-server");
    tracing::warn!(
        "DEVELOPMENT MODE: in-memory state and a freshly generated signing key; \
         tokens stop verifying when the process restarts. Never run this in production."
    );
    let key = Key::generate(Algorithm::EdDsa).map_err(|e| format!("signing key: {e}"))?;
    tracing::info!(kid = key.id().as_str(), alg = %key.algorithm(), "generated a development signing key");
    let keys = KeySet::new(key).map_err(|e| format!("key set: {e}"))?;
    let state = AppState {
        jwks: Arc::new(keys.jwks()),
    };

    let shutdown = shutdown_signal()?;
    let listener = TcpListener::bind(("0.0.0.0", config.port))
        .await
        .map_err(|e| format!("cannot listen on port {}: {e}", config.port))?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("listener address: {e}"))?;
    tracing::info!(%addr, "listening");

    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let mut server = tokio::spawn(
        axum::serve(listener, router(state))
            .with_graceful_shutdown(async move {
                let _ = stop_rx.await;
            })
            .into_future(),
    );

    tokio::select! {
        finished = &mut server => {
            return match finished {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(format!("server: {e}")),
                Err(e) => Err(format!("server task: {e}")),
            };
        }
        signal = shutdown => {
            tracing::info!(signal, deadline = ?config.shutdown_timeout, "shutting down: no new connections, draining in-flight requests");
        }
    }
    let _ = stop_tx.send(());
    match tokio::time::timeout(config.shutdown_timeout, server).await {
        Ok(_) => tracing::info!("drained; bye"),
        Err(_) => tracing::warn!("drain deadline passed; closing the remaining connections"),
    }
    Ok(())
}

/// Installs the SIGTERM (what orchestrators send) and SIGINT (Ctrl-C) handlers at once, so a
/// signal that arrives right after start-up is not missed, and returns a future that resolves
/// with the first signal's name.
#[cfg(unix)]
fn shutdown_signal() -> Result<impl Future<Output = &'static str>, String> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate =
        signal(SignalKind::terminate()).map_err(|e| format!("SIGTERM handler: {e}"))?;
    let mut interrupt =
        signal(SignalKind::interrupt()).map_err(|e| format!("SIGINT handler: {e}"))?;
    Ok(async move {
        tokio::select! {
            _ = terminate.recv() => "SIGTERM",
            _ = interrupt.recv() => "SIGINT",
        }
    })
}

#[cfg(not(unix))]
fn shutdown_signal() -> Result<impl Future<Output = &'static str>, String> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
        "Ctrl-C"
    })
}
