//! The benchmark's baselines: a bare hyper HTTP/1.1 server on the same tokio runtime set-up
//! as demo-backend. scripts/bench-backend.sh compares the backend's requests/s against it.
//!
//! - by default it reads the request body and answers "ok" (the baseline);
//! - with `--json` it does the least any JSON action route must do: it parses the body with
//!   serde into `common::api::FeedbackRequest` and answers `201` with a
//!   `common::api::FeedbackReceipt` and a JSON Content-Type. The gap between the two is the
//!   cost of the JSON work itself, which the backend cannot avoid, so the bench can tell it
//!   apart from the backend's own overhead (metrics, capacity, sessions, store).
//!
//! Usage: `cargo run --release -p demo-backend --example bare -- 127.0.0.1:18081 [--json]`

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
    static NEXT_ID: AtomicU64 = AtomicU64::new(1);
    let body = match request.into_body().collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return Ok(status(StatusCode::BAD_REQUEST)),
    };
    let Ok(feedback) = serde_json::from_slice::<FeedbackRequest>(&body) else {
        return Ok(status(StatusCode::BAD_REQUEST));
    };
    let receipt = FeedbackReceipt {
        id: format!(
            "fb-{}-{}",
            feedback.rating,
            NEXT_ID.fetch_add(1, Ordering::Relaxed)
        ),
    };
    let Ok(encoded) = serde_json::to_vec(&receipt) else {
        return Ok(status(StatusCode::INTERNAL_SERVER_ERROR));
    };
    let mut response = Response::new(Full::new(Bytes::from(encoded)));
    *response.status_mut() = StatusCode::CREATED;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(response)
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
    let answer_json = match args.next().as_deref() {
        None => false,
        Some("--json") => true,
        Some(other) => {
            eprintln!("bare: unknown argument `{other}` (usage: bare ADDR [--json])");
            return std::process::ExitCode::from(2);
        }
    };
    let addr: SocketAddr = match arg.parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("bare: `{arg}` is not an address like 127.0.0.1:18081: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("bare: cannot listen on {addr}: {e}");
            return std::process::ExitCode::from(1);
        }
    };
    eprintln!("bare: listening on {addr}");
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
