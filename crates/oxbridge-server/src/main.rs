//! `oxbridge-server`: HTTP, IPC and gRPC over the oxbridge core, with the
//! options every `serve` shares ([`ServeOptions`]).

use std::process::ExitCode;

use oxbridge_server::ServeOptions;

/// SIGINT and SIGTERM, caught from the moment this is called: a signal
/// that comes right after the ready line (or before) is a graceful stop,
/// never the default action's sudden death.
fn stop_signals() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term =
        signal(SignalKind::terminate()).expect("installing a SIGTERM handler cannot fail on Unix");
    let mut int =
        signal(SignalKind::interrupt()).expect("installing a SIGINT handler cannot fail on Unix");
    async move {
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    oxbridge_server::init_tracing("info");
    let args: Vec<String> = std::env::args().skip(1).collect();
    let options = match ServeOptions::parse("oxbridge-server", "OXBRIDGE", &args) {
        Ok(options) => options,
        Err(e) => e.exit(),
    };
    let stop = stop_signals();
    // `--library`: here, the path of a library's shared object.
    let mut libraries = vec![&oxbridge_core::CALCULATOR];
    for path in &options.libraries {
        match oxbridge_ffi::host::load(std::path::Path::new(path)) {
            Ok(library) => libraries.push(library),
            Err(e) => {
                eprintln!("oxbridge-server: error: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    let config = match options
        .config(&oxbridge_core::CALCULATOR)
        .serving(&libraries)
    {
        Ok(config) => config,
        Err(e) => {
            eprintln!("oxbridge-server: error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let running = match oxbridge_server::start(config).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("oxbridge-server: error: {e}");
            return ExitCode::FAILURE;
        }
    };
    if options.json {
        let unix = running.unix.as_ref().map(|p| p.display().to_string());
        let ready = serde_json::json!({
            "http": running.http, "grpc": running.grpc, "unix": unix, "metrics": running.metrics,
        });
        println!("{ready}");
    }
    for addr in &running.http {
        tracing::info!("http listening on http://{addr}");
    }
    for addr in &running.grpc {
        tracing::info!("grpc listening on grpc://{addr}");
    }
    if let Some(path) = &running.unix {
        tracing::info!("ipc listening on unix://{}", path.display());
    }
    let token = running.shutdown_token();
    let watch_stdin = options.watch_stdin;
    tokio::spawn(async move {
        tokio::select! {
            () = stop => {}
            () = stdin_closed(), if watch_stdin => {}
        }
        tracing::info!("shutting down: finishing in-flight requests");
        token.cancel();
    });
    running.wait().await;
    ExitCode::SUCCESS
}

/// Resolves when stdin reaches its end: the parent that started us is gone.
async fn stdin_closed() {
    let (closed, wait) = tokio::sync::oneshot::channel();
    // Blocking reads, on a thread of their own: nothing else reads stdin.
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
        let _ = closed.send(());
    });
    let _ = wait.await;
}
