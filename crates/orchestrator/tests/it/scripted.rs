//! A scripted runtime for timeline tests: a model backend whose `/metrics` pages are
//! Prometheus text computed from the load and the replica count, so the shared timeline,
//! sampler and report run exactly as they do on a real runtime.

use std::fmt::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::names;
use orchestrator::runtime::{
    ComponentKind, Deployed, Endpoint, MetricsSource, Runtime, RuntimeError, Scrape, ScrapeRound,
};

#[derive(Debug, Default)]
pub(crate) struct State {
    pub(crate) replicas: u32,
    pub(crate) load_since: Option<Instant>,
    pub(crate) calls: Vec<String>,
    /// Cumulative model counters.
    sent: f64,
    errors: f64,
    fast: f64,
    slow: f64,
    last: Option<Instant>,
}

impl State {
    /// Requests the model's load generator has sent, as its last scrape said.
    pub(crate) fn sent(&self) -> f64 {
        self.sent
    }

    /// Advances the model: 100 rps of load; one replica fails 30% and answers slowly, two
    /// replicas fail 1% and answer fast.
    fn advance(&mut self) {
        let now = Instant::now();
        let dt = self.last.map_or(0.0, |l| (now - l).as_secs_f64());
        self.last = Some(now);
        if self.load_since.is_none() {
            return;
        }
        let n = 100.0 * dt;
        self.sent += n;
        let (err, slow) = if self.replicas >= 2 {
            (0.01, 0.02)
        } else {
            (0.3, 0.9)
        };
        self.errors += n * err;
        self.slow += n * slow;
        self.fast += n * (1.0 - slow);
    }

    fn page(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "# TYPE {} counter", names::LG_SENT_REQUESTS_TOTAL);
        let _ = writeln!(
            s,
            "{}{{action=\"book_ticket\"}} {}",
            names::LG_SENT_REQUESTS_TOTAL,
            self.sent.floor()
        );
        let _ = writeln!(s, "# TYPE {} counter", names::LG_ERRORS_TOTAL);
        let _ = writeln!(
            s,
            "{}{{action=\"book_ticket\",kind=\"http_5xx\"}} {}",
            names::LG_ERRORS_TOTAL,
            self.errors.floor()
        );
        let _ = writeln!(s, "# TYPE {} histogram", names::LG_REQUEST_DURATION_SECONDS);
        let h = names::LG_REQUEST_DURATION_SECONDS;
        let fast = self.fast.floor();
        let all = (self.fast + self.slow).floor();
        for le in names::LG_LATENCY_BUCKETS {
            // Fast answers take ~4 ms, slow ones ~400 ms.
            let c = if *le >= 0.5 {
                all
            } else if *le >= 0.005 {
                fast
            } else {
                0.0
            };
            let _ = writeln!(s, "{h}_bucket{{action=\"book_ticket\",le=\"{le}\"}} {c}");
        }
        let _ = writeln!(s, "{h}_bucket{{action=\"book_ticket\",le=\"+Inf\"}} {all}");
        let _ = writeln!(s, "{h}_sum{{action=\"book_ticket\"}} 0");
        let _ = writeln!(s, "{h}_count{{action=\"book_ticket\"}} {all}");
        s
    }
}

#[derive(Clone, Default)]
pub(crate) struct Shared(pub(crate) Arc<Mutex<State>>);

impl MetricsSource for Shared {
    async fn scrape(&self) -> ScrapeRound {
        let mut st = self.0.lock().unwrap();
        st.advance();
        let mut targets = vec![];
        if st.load_since.is_some() {
            targets.push(Scrape {
                component: ComponentKind::Loadgen,
                instance: "loadgen".into(),
                plan: Some(scenario::MAIN_PLAN.into()),
                result: Ok(st.page()),
            });
        }
        targets.push(Scrape {
            component: ComponentKind::Backend,
            instance: "backend-9".into(),
            plan: None,
            result: Err("connection refused".into()),
        });
        ScrapeRound {
            targets,
            backend_ready: st.replicas,
            backend_desired: st.replicas,
            resources: Default::default(),
        }
    }
}

pub(crate) struct Scripted {
    pub(crate) shared: Shared,
    /// When set, the runtime reports this component failure after the delay.
    pub(crate) fail_after: Option<Duration>,
}

impl Scripted {
    pub(crate) fn new() -> Self {
        Self {
            shared: Shared::default(),
            fail_after: None,
        }
    }
    fn log(&self, call: &str) {
        self.shared.0.lock().unwrap().calls.push(call.to_owned());
    }
}

impl Runtime for Scripted {
    type Metrics = Shared;

    fn name(&self) -> &'static str {
        "scripted"
    }
    async fn deploy(&mut self) -> orchestrator::runtime::Result<Deployed> {
        self.log("deploy");
        self.shared.0.lock().unwrap().replicas = 1;
        Ok(Deployed {
            time_to_ready: Duration::from_millis(5),
            notes: vec!["scripted".into()],
        })
    }
    fn set_load(&mut self, _load: scenario::LoadSpec) -> orchestrator::runtime::Result<()> {
        self.log("set_load");
        Ok(())
    }
    async fn start_load(&mut self) -> orchestrator::runtime::Result<()> {
        self.log("start_load");
        let mut st = self.shared.0.lock().unwrap();
        st.load_since = Some(Instant::now());
        st.last = Some(Instant::now());
        Ok(())
    }
    async fn scale_backend(&mut self, replicas: u32) -> orchestrator::runtime::Result<()> {
        self.log(&format!("scale {replicas}"));
        self.shared.0.lock().unwrap().replicas = replicas;
        Ok(())
    }
    async fn stop_load(&mut self) -> orchestrator::runtime::Result<()> {
        self.log("stop_load");
        self.shared.0.lock().unwrap().load_since = None;
        Ok(())
    }
    fn endpoints(&self) -> Vec<Endpoint> {
        vec![Endpoint {
            name: "frontend".into(),
            url: "http://127.0.0.1:1/".into(),
        }]
    }
    fn metrics(&self) -> Shared {
        self.shared.clone()
    }
    fn failure(&self) -> impl std::future::Future<Output = RuntimeError> + Send + 'static {
        let after = self.fail_after;
        async move {
            match after {
                Some(d) => {
                    tokio::time::sleep(d).await;
                    RuntimeError::Component {
                        component: ComponentKind::Backend,
                        instance: "backend-0".into(),
                        reason: "exited: listener closed".into(),
                    }
                }
                None => std::future::pending().await,
            }
        }
    }
    async fn teardown(&mut self, keep: bool) -> orchestrator::runtime::Result<()> {
        self.log(&format!("teardown keep={keep}"));
        Ok(())
    }
}
