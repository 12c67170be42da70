//! Times `GET /metrics` in-process (router `oneshot`, no network or client noise) with every
//! series populated: each route with each status it can answer, then 200 scrapes; prints
//! the sample count and the mean, p99 and max render time. Used by scripts/bench-backend.sh.

use std::time::{Duration, Instant};

use axum::body::Body;
use demo_backend::{AppState, Config};
use http::{Method, Request};
use http_body_util::BodyExt;
use tower::ServiceExt;

async fn send(app: &axum::Router, method: Method, uri: &str, body: &str) -> Result<String, String> {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header("x-session-id", uri)
        .body(Body::from(body.to_owned()))
        .map_err(|e| e.to_string())?;
    let response = app
        .clone()
        .oneshot(request)
        .await
        .map_err(|e| e.to_string())?;
    let bytes = response
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), String> {
    let config = Config {
        service_time: Duration::ZERO,
        enable_stress: true,
        max_body: 1024,
        request_timeout: Duration::from_secs(5),
        ..Config::default()
    };
    let app = demo_backend::app(AppState::new(config));
    let big = format!(r#"{{"rating":3,"comment":"{}"}}"#, "x".repeat(2048));
    let requests: Vec<(Method, &str, &str)> = vec![
        (Method::GET, "/healthz", ""),
        (Method::HEAD, "/healthz", ""),
        (Method::GET, "/readyz", ""),
        (Method::GET, "/api/stats", ""),
        (Method::GET, "/api/showtimes", ""),
        (Method::GET, "/api/jobs/missing", ""),
        (Method::GET, "/nope", ""),
        (Method::PUT, "/api/tickets", ""),
        (Method::GET, "/api/feedback", ""),
        (Method::POST, "/api/tickets", r#"{"showtime_id":2}"#),
        (Method::POST, "/api/tickets", r#"{"showtime_id":999}"#),
        (
            Method::POST,
            "/api/tickets",
            r#"{"showtime_id":2,"seats":99}"#,
        ),
        (Method::POST, "/api/feedback", r#"{"rating":5}"#),
        (Method::POST, "/api/feedback", r#"{"rating":9}"#),
        (Method::POST, "/api/feedback", &big),
        (Method::POST, "/api/feedback?mode=async", r#"{"rating":4}"#),
        (Method::DELETE, "/api/tickets/none", ""),
        (Method::POST, "/api/stress/cpu", r#"{"duration_ms":1}"#),
        (Method::POST, "/api/stress/memory", r#"{"bytes":1024}"#),
    ];
    for (method, uri, body) in &requests {
        for _ in 0..3 {
            send(&app, method.clone(), uri, body).await?;
        }
    }
    // Sell out showtime 1 for a 409.
    for _ in 0..61 {
        send(
            &app,
            Method::POST,
            "/api/tickets",
            r#"{"showtime_id":1,"seats":10}"#,
        )
        .await?;
    }
    let page = send(&app, Method::GET, "/metrics", "").await?;
    let samples = page
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .count();

    let mut times = Vec::with_capacity(200);
    for _ in 0..200 {
        let start = Instant::now();
        send(&app, Method::GET, "/metrics", "").await?;
        times.push(start.elapsed());
    }
    times.sort_unstable();
    let mean = times.iter().sum::<Duration>() / times.len() as u32;
    let p99 = times[(times.len() * 99).div_ceil(100) - 1];
    let max = times[times.len() - 1];
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "samples={samples} mean_ms={:.3} p99_ms={:.3} max_ms={:.3}",
        ms(mean),
        ms(p99),
        ms(max)
    );
    Ok(())
}
