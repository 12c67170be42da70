//! The client-side rate limit against the API server (`kube_qps`, `kube_burst`, as
//! kube-burner's QPS and Burst): a token bucket holding `burst` tokens, refilled at `qps`
//! a second, as a tower layer on the kube client's stack. Creating N copies of the stack
//! at once would otherwise send N times the requests in the same instant.
//!
//! A request takes a token, or reserves the next one and waits for it, so waiting requests
//! go in the order they came (golang.org/x/time/rate's `Reserve`, which client-go uses).
//! The wait is in `poll_ready`: the request is handed on only once its token is due.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::Instant;
use tower::{Layer, Service};

/// The bucket shared by every clone of the client.
#[derive(Debug)]
struct Bucket {
    qps: f64,
    burst: f64,
    /// Below 0: reserved by waiting requests.
    tokens: f64,
    at: Instant,
}

impl Bucket {
    /// Takes a token; how long the caller must wait before it is its own.
    fn reserve(&mut self, now: Instant) -> Duration {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.qps).min(self.burst);
        self.at = now;
        self.tokens -= 1.0;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.qps)
        }
    }
}

/// A [`Layer`] limiting every request of the services it wraps, together.
#[derive(Debug, Clone)]
pub struct RateLimitLayer {
    bucket: Arc<Mutex<Bucket>>,
}

impl RateLimitLayer {
    /// `qps` requests a second sustained, `burst` at once (at least one each).
    pub fn new(qps: f64, burst: u32) -> Self {
        let burst = f64::from(burst.max(1));
        Self {
            bucket: Arc::new(Mutex::new(Bucket {
                qps: if qps > 0.0 { qps } else { f64::MIN_POSITIVE },
                burst,
                tokens: burst,
                at: Instant::now(),
            })),
        }
    }

    /// Waits until the caller may send its request.
    pub async fn acquire(&self) {
        let wait = self
            .bucket
            .lock()
            .map(|mut b| b.reserve(Instant::now()))
            .unwrap_or_default();
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }
}

impl<S> Layer<S> for RateLimitLayer {
    type Service = RateLimit<S>;

    fn layer(&self, inner: S) -> RateLimit<S> {
        RateLimit {
            inner,
            limit: self.clone(),
            sleep: None,
            granted: false,
        }
    }
}

/// The service [`RateLimitLayer`] makes: not ready until its request may go, so the request
/// reaches the service below only then (however eagerly that one sends), and requests queued
/// in front of it (the kube client's buffer) wait their turn in order.
#[derive(Debug)]
pub struct RateLimit<S> {
    inner: S,
    limit: RateLimitLayer,
    /// The wait for the token this service reserved.
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
    /// A token is ours for the next call.
    granted: bool,
}

impl<S: Clone> Clone for RateLimit<S> {
    /// A clone reserves its own tokens, from the same bucket.
    fn clone(&self) -> Self {
        self.limit.layer(self.inner.clone())
    }
}

impl<S, Req> Service<Req> for RateLimit<S>
where
    S: Service<Req>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        if !self.granted {
            if self.sleep.is_none() {
                let wait = self
                    .limit
                    .bucket
                    .lock()
                    .map(|mut b| b.reserve(Instant::now()))
                    .unwrap_or_default();
                if !wait.is_zero() {
                    self.sleep = Some(Box::pin(tokio::time::sleep(wait)));
                }
            }
            if let Some(sleep) = self.sleep.as_mut() {
                if sleep.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                self.sleep = None;
            }
            self.granted = true;
        }
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Req) -> S::Future {
        self.granted = false;
        self.inner.call(req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};
    use tower::ServiceExt;

    /// Sends `n` requests at once through a limited service that counts when each is
    /// sent; returns the counts after `at` seconds each.
    async fn sent_over_time(qps: f64, burst: u32, n: u32, at: &[f64]) -> Vec<u32> {
        let sent = Arc::new(AtomicU32::new(0));
        let counter = sent.clone();
        // Counted when called, not when its future runs: the limit must hold the call.
        let svc = RateLimitLayer::new(qps, burst).layer(tower::service_fn(move |_: ()| {
            counter.fetch_add(1, Ordering::SeqCst);
            std::future::ready(Ok::<_, std::convert::Infallible>(()))
        }));
        let start = Instant::now();
        for _ in 0..n {
            let svc = svc.clone();
            tokio::spawn(async move { svc.oneshot(()).await });
        }
        let mut out = Vec::new();
        for t in at {
            tokio::time::sleep_until(start + Duration::from_secs_f64(*t)).await;
            out.push(sent.load(Ordering::SeqCst));
        }
        out
    }

    #[tokio::test(start_paused = true)]
    async fn a_burst_goes_at_once_then_qps_a_second() {
        // 40 at once, then 20 a second: 60 after 1 s, all 100 after 3 s.
        let counts = sent_over_time(20.0, 40, 100, &[0.01, 1.01, 2.01, 3.01, 10.0]).await;
        assert_eq!(counts, [40, 60, 80, 100, 100]);
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_bucket_refills_up_to_its_burst_only() {
        let limit = RateLimitLayer::new(5.0, 2);
        let start = Instant::now();
        for _ in 0..2 {
            limit.acquire().await;
        }
        assert_eq!(start.elapsed(), Duration::ZERO);
        limit.acquire().await;
        assert_eq!(start.elapsed(), Duration::from_millis(200));
        // A long pause refills two tokens, not more.
        tokio::time::sleep(Duration::from_secs(60)).await;
        let t = Instant::now();
        for _ in 0..3 {
            limit.acquire().await;
        }
        assert_eq!(t.elapsed(), Duration::from_millis(200));
    }
}
