//! The benchmark's baselines: a bare hyper HTTP/1.1 server on the same tokio runtime set-up
//! as demo-backend. scripts/bench-backend.sh compares the backend's requests/s against it.
//!
//! - by default it reads the request body and answers "ok" (the baseline);
//! - with `--json` it does the least any JSON action route must do: it parses the body with
//!   serde into `common::api::FeedbackRequest` and answers `201` with a
//!   `common::api::FeedbackReceipt` and a JSON Content-Type. The gap between the two is the
//!   cost of the JSON work itself, which the backend cannot avoid, so the bench can tell it
//!   apart from the backend's own overhead (metrics, capacity, sessions, store);
//! - with `--axum` it does the same JSON work in a one-route axum `Router` served by
//!   `axum::serve`, as the backend is: the gap to `--json` is what the framework itself costs
//!   (serving, routing, boxed bodies and futures), which no code in the backend can remove.
//!
//! Usage: `cargo run --release -p demo-backend --example bare -- 127.0.0.1:18081 [--json|--axum]`

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use common::api::{FeedbackReceipt, FeedbackRequest};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;

// The same allocator as the backend binary, so the comparison measures the backend's own
// work rather than two allocators.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

async fn ok(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    // Read the body as the backend does, so both servers do the same I/O.
    let _ = request.into_body().collect().await;
    Ok(Response::new(Full::new(Bytes::from_static(b"ok"))))
}

async fn json(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    match request.into_body().collect().await {
        Ok(collected) => Ok(receipt(&collected.to_bytes())),
        Err(_) => Ok(status(StatusCode::BAD_REQUEST)),
    }
}

/// The JSON work of an action: parse the request, answer a receipt.
fn receipt(body: &[u8]) -> Response<Full<Bytes>> {
    static NEXT_ID: AtomicU64 = AtomicU64::new(1);
    let Ok(feedback) = serde_json::from_slice::<FeedbackRequest>(body) else {
        return status(StatusCode::BAD_REQUEST);
    };
    let receipt = FeedbackReceipt {
        id: format!(
            "fb-{}-{}",
            feedback.rating,
            NEXT_ID.fetch_add(1, Ordering::Relaxed)
        ),
    };
    let Ok(encoded) = serde_json::to_vec(&receipt) else {
        return status(StatusCode::INTERNAL_SERVER_ERROR);
    };
    let mut response = Response::new(Full::new(Bytes::from(encoded)));
    *response.status_mut() = StatusCode::CREATED;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// The same JSON work as an axum handler (the body read as the `Bytes` extractor reads it).
async fn axum_json(body: Bytes) -> Response<Full<Bytes>> {
    receipt(&body)
}

fn status(code: StatusCode) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = code;
    response
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let mut args = std::env::args().skip(1);
    let arg = args.next().unwrap_or_else(|| "127.0.0.1:18081".to_owned());
    let mode = args.next();
    let answer_json = match mode.as_deref() {
        None => false,
        Some("--json") => true,
        Some("--axum") => return serve_axum(&arg).await,
        Some(other) => {
            eprintln!("bare: unknown argument `{other}` (usage: bare ADDR [--json|--axum])");
            return std::process::ExitCode::from(2);
        }
    };
    let listener = match bind(&arg).await {
        Ok(l) => l,
        Err(code) => return code,
    };
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                tokio::spawn(async move {
                    let io = TokioIo::new(stream);
                    let _ = if answer_json {
                        http1::Builder::new().serve_connection(io, service_fn(json)).await
                    } else {
                        http1::Builder::new().serve_connection(io, service_fn(ok)).await
                    };
                });
            }
            _ = tokio::signal::ctrl_c() => return std::process::ExitCode::SUCCESS,
        }
    }
}

/// The `--axum` server: one route, `axum::serve` with TCP_NODELAY, as the backend serves.
async fn serve_axum(arg: &str) -> std::process::ExitCode {
    use axum::serve::ListenerExt;
    let listener = match bind(arg).await {
        Ok(l) => l.tap_io(|stream| {
            let _ = stream.set_nodelay(true);
        }),
        Err(code) => return code,
    };
    let app = axum::Router::new().route(
        common::api::routes::FEEDBACK,
        axum::routing::post(axum_json),
    );
    let stop = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    match axum::serve(listener, app)
        .with_graceful_shutdown(stop)
        .await
    {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bare: {e}");
            std::process::ExitCode::from(1)
        }
    }
}

async fn bind(arg: &str) -> Result<tokio::net::TcpListener, std::process::ExitCode> {
    let addr: SocketAddr = arg.parse().map_err(|e| {
        eprintln!("bare: `{arg}` is not an address like 127.0.0.1:18081: {e}");
        std::process::ExitCode::from(2)
    })?;
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
        eprintln!("bare: cannot listen on {addr}: {e}");
        std::process::ExitCode::from(1)
    })?;
    eprintln!("bare: listening on {addr}");
    Ok(listener)
}
