//! How the work of an action (or stress) request runs, one step per function: [`enter`]
//! (refused while draining, then the optional `--delay`), [`admit`] (a worker or a queue
//! place, or shed with 503), and [`on_worker`] (the service time, `--cpu-work`, then the work
//! itself). [`run_now`] is the three in a row, for a request answered when its work is done;
//! `jobs.rs` runs the last one in the background.

use std::future::Future;
use std::ops::Deref;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use common::names::outcome;
use rand::Rng;

use crate::capacity::{Admission, Capacity, Worker};
use crate::error::ApiError;
use crate::outcome::Done;
use crate::state::AppState;

/// Why a request was turned away before its work could start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The instance is shutting down.
    Draining,
    /// Every worker is busy and the queue is full.
    Overloaded,
}

/// Marks the answer of a refused request, so the observing layer keeps it out of the
/// stats latency window (an instant 503 is not how long the work takes).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Refused;

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let error = match self {
            Refusal::Draining => ApiError::unavailable("this replica is shutting down")
                .with_detail("retry on another replica"),
            Refusal::Overloaded => {
                ApiError::unavailable("overloaded: every worker is busy and the queue is full")
                    .with_detail("retry after the Retry-After delay")
            }
        };
        let mut response = error.into_response();
        response.extensions_mut().insert(Refused);
        response
    }
}

/// The steps before admission: refused while draining, then the random `--delay`, if any.
pub(crate) async fn enter(state: &AppState) -> Result<(), Refusal> {
    if state.is_draining() {
        return Err(Refusal::Draining);
    }
    if let Some(delay) = delay(state) {
        tokio::time::sleep(delay).await;
    }
    Ok(())
}

fn delay(state: &AppState) -> Option<Duration> {
    let range = state.config().delay?;
    if range.min == range.max {
        return Some(range.min);
    }
    Some(rand::rng().random_range(range.min..=range.max))
}

/// Lets the request in through `capacity` (borrowed on the request path, an `Arc` for a
/// job that outlives its request), or sheds it, counting the shed.
pub(crate) fn admit<C: Deref<Target = Capacity>>(
    state: &AppState,
    capacity: C,
) -> Result<Admission<C>, Refusal> {
    Capacity::admit(capacity).map_err(|_shed| {
        state.count_shed();
        Refusal::Overloaded
    })
}

/// Holds `worker` for the service time (± `--jitter`) and `--cpu-work`, then does `work`
/// and lets the worker go. `work` gets the state by reference: the synchronous actions need
/// no clone of it.
pub(crate) async fn on_worker<C, F, Fut>(state: &AppState, worker: Worker<C>, work: F) -> Done
where
    C: Deref<Target = Capacity>,
    F: FnOnce(&AppState) -> Fut,
    Fut: Future<Output = Done>,
{
    simulate(state).await;
    let done = work(state).await;
    drop(worker);
    done
}

/// Enter, admit, wait for a worker, work: the whole run of a request answered when done.
pub(crate) async fn run_now<F, Fut>(state: &AppState, work: F) -> Result<Done, Refusal>
where
    F: FnOnce(&AppState) -> Fut,
    Fut: Future<Output = Done>,
{
    enter(state).await?;
    let admission = admit(state, state.capacity())?;
    let Some(worker) = admission.start().await else {
        return Ok(no_worker());
    };
    Ok(on_worker(state, worker, work).await)
}

/// What a request gets if the workers' semaphore was closed, which this crate never does.
pub(crate) fn no_worker() -> Done {
    Done::error(
        StatusCode::SERVICE_UNAVAILABLE,
        "no worker available".into(),
        outcome::ERROR,
    )
}

/// The service time (± jitter), simulated with a timer, then `--cpu-work` of real CPU.
async fn simulate(state: &AppState) {
    let config = state.config();
    let mut wait = config.service_time;
    if !config.jitter.is_zero() {
        let jitter = config.jitter.as_secs_f64();
        let offset = rand::rng().random_range(-jitter..=jitter);
        wait = Duration::from_secs_f64((wait.as_secs_f64() + offset).max(0.0));
    }
    if !wait.is_zero() {
        tokio::time::sleep(wait).await;
    }
    if !config.cpu_work.is_zero() {
        burn_cpu(config.cpu_work).await;
    }
}

/// Keeps one core busy for `duration` on the blocking pool (never on the async workers).
pub(crate) async fn burn_cpu(duration: Duration) {
    let burn = tokio::task::spawn_blocking(move || {
        let start = Instant::now();
        let mut x = 0u64;
        while start.elapsed() < duration {
            for i in 0..1_000u64 {
                x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(i));
            }
        }
        x
    });
    if let Err(e) = burn.await {
        tracing::warn!(error = %e, "CPU work task failed");
    }
}

#[cfg(test)]
mod tests {
    use tokio::time::Instant;

    use super::*;
    use crate::config::{Config, DelayRange};

    fn state(config: Config) -> AppState {
        AppState::new(config)
    }

    /// On the paused clock the time a run takes is exactly the timers it waited on.
    async fn timed_run(state: &AppState) -> Duration {
        let started = Instant::now();
        let done = run_now(state, |_| {
            std::future::ready(Done::empty(StatusCode::OK, "ok"))
        })
        .await
        .unwrap();
        assert_eq!(done.status, StatusCode::OK);
        started.elapsed()
    }

    #[tokio::test(start_paused = true)]
    async fn the_delay_and_the_service_time_add_up() {
        let ms = Duration::from_millis;
        let state = state(Config {
            delay: Some(DelayRange {
                min: ms(30),
                max: ms(30),
            }),
            service_time: ms(20),
            ..Config::default()
        });
        assert_eq!(timed_run(&state).await, ms(50));
    }

    #[tokio::test(start_paused = true)]
    async fn a_delay_range_and_jitter_spread_within_their_bounds() {
        let ms = Duration::from_millis;
        let delayed = state(Config {
            delay: Some(DelayRange {
                min: ms(30),
                max: ms(60),
            }),
            service_time: Duration::ZERO,
            ..Config::default()
        });
        let jittered = state(Config {
            service_time: ms(20),
            jitter: ms(10),
            ..Config::default()
        });
        for (state, low, high) in [(delayed, ms(30), ms(60)), (jittered, ms(10), ms(30))] {
            let mut took = Vec::new();
            for _ in 0..40 {
                took.push(timed_run(&state).await);
            }
            assert!(took.iter().all(|t| (low..=high).contains(t)), "{took:?}");
            let spread = took
                .iter()
                .max()
                .unwrap()
                .saturating_sub(*took.iter().min().unwrap());
            assert!(spread > (high - low) / 2, "no spread: {took:?}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_draining_instance_refuses_before_any_delay() {
        let state = state(Config {
            delay: Some(DelayRange {
                min: Duration::from_secs(5),
                max: Duration::from_secs(5),
            }),
            ..Config::default()
        });
        state.start_draining();
        let started = Instant::now();
        assert_eq!(enter(&state).await, Err(Refusal::Draining));
        assert_eq!(started.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn a_full_instance_sheds_and_counts_it() {
        let state = state(Config {
            workers: 1,
            queue: 0,
            ..Config::default()
        });
        let held = admit(&state, state.capacity()).unwrap();
        assert_eq!(
            admit(&state, state.capacity()).unwrap_err(),
            Refusal::Overloaded
        );
        assert_eq!(state.stats().shed_total, 1);
        drop(held);
        assert!(admit(&state, state.capacity()).is_ok());
    }
}
