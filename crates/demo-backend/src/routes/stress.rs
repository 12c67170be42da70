//! `POST /api/stress/cpu` and `/api/stress/memory`: real resource use for cluster demos,
//! only with `--enable-stress`, capped in time and bytes (per request and in total) so no
//! client can take the pod down. They go through the capacity limiter like the actions.

use std::future::Future;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use common::names::outcome;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::outcome::Done;
use crate::state::AppState;
use crate::work::{self, burn_cpu};

/// Longest CPU burn one request may ask for.
pub const MAX_CPU_MS: u64 = 5_000;
/// Most bytes one memory request may allocate.
pub const MAX_MEMORY_BYTES: u64 = 64 * 1024 * 1024;
/// Most bytes all memory requests may hold at once.
pub const MAX_MEMORY_TOTAL: usize = 256 * 1024 * 1024;
/// Longest a memory request may hold its allocation.
pub const MAX_HOLD_MS: u64 = 10_000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CpuRequest {
    duration_ms: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MemoryRequest {
    bytes: u64,
    #[serde(default)]
    hold_ms: u64,
}

#[derive(Debug, Serialize)]
struct StressDone {
    kind: &'static str,
    duration_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    bytes: Option<u64>,
}

fn disabled() -> Response {
    ApiError::not_found("stress endpoints are disabled")
        .with_detail("start the backend with --enable-stress (BACKEND_ENABLE_STRESS=true)")
        .into_response()
}

fn too_big(what: &str, got: u64, max: u64) -> Response {
    ApiError::bad_request(format!("{what} must be at most {max}, got {got}")).into_response()
}

/// Runs stress `work` as a request answered when done (stress has no async mode and no
/// interaction outcome).
async fn run<F, Fut>(state: &AppState, work: F) -> Response
where
    F: FnOnce(&AppState) -> Fut,
    Fut: Future<Output = Done>,
{
    match work::run_now(state, work).await {
        Ok(done) => done.into_response(),
        Err(refusal) => refusal.into_response(),
    }
}

/// `POST /api/stress/cpu` `{"duration_ms": 500}`: burns one core for that long.
pub(crate) async fn cpu(
    State(state): State<AppState>,
    body: Result<ApiJson<CpuRequest>, ApiError>,
) -> Response {
    if !state.config().enable_stress {
        return disabled();
    }
    let request = match body {
        Ok(ApiJson(r)) => r,
        Err(e) => return e.into_response(),
    };
    if request.duration_ms > MAX_CPU_MS {
        return too_big("duration_ms", request.duration_ms, MAX_CPU_MS);
    }
    run(&state, |_| async move {
        burn_cpu(Duration::from_millis(request.duration_ms)).await;
        let done = StressDone {
            kind: "cpu",
            duration_ms: request.duration_ms,
            bytes: None,
        };
        Done::json(StatusCode::OK, &done, outcome::OK)
    })
    .await
}

/// `POST /api/stress/memory` `{"bytes": 10485760, "hold_ms": 1000}`: allocates and touches
/// that many bytes, holds them, then frees them.
pub(crate) async fn memory(
    State(state): State<AppState>,
    body: Result<ApiJson<MemoryRequest>, ApiError>,
) -> Response {
    if !state.config().enable_stress {
        return disabled();
    }
    let request = match body {
        Ok(ApiJson(r)) => r,
        Err(e) => return e.into_response(),
    };
    if request.bytes > MAX_MEMORY_BYTES {
        return too_big("bytes", request.bytes, MAX_MEMORY_BYTES);
    }
    if request.hold_ms > MAX_HOLD_MS {
        return too_big("hold_ms", request.hold_ms, MAX_HOLD_MS);
    }
    // Bounded by MAX_MEMORY_BYTES above, so both conversions hold.
    let bytes = usize::try_from(request.bytes).unwrap_or(usize::MAX);
    let permits = u32::try_from(request.bytes).unwrap_or(u32::MAX);
    let Some(reservation) = state.reserve_stress_memory(permits) else {
        return ApiError::unavailable("the stress memory budget is in use")
            .with_detail(format!(
                "at most {MAX_MEMORY_TOTAL} bytes are held at once; retry later"
            ))
            .into_response();
    };
    run(&state, |_| async move {
        let _reservation = reservation;
        // vec![1; n] writes every byte, so the pages are really resident.
        let block = std::hint::black_box(vec![1u8; bytes]);
        tokio::time::sleep(Duration::from_millis(request.hold_ms)).await;
        drop(block);
        let done = StressDone {
            kind: "memory",
            duration_ms: request.hold_ms,
            bytes: Some(request.bytes),
        };
        Done::json(StatusCode::OK, &done, outcome::OK)
    })
    .await
}
