//! Turning Prometheus text into run-wide cumulative totals, one [`Point`] per sampling round.
//!
//! Counters are differenced per instance (a replica that starts adds from zero, one that
//! restarts is treated as a counter reset, one that disappears stops adding), so the totals
//! stay monotonic while the set of replicas changes.

use std::collections::{BTreeMap, HashMap};

use common::exposition::{self, Sample};
use common::loadgen_page::LoadgenPage;
use common::names;
use serde::{Deserialize, Serialize};

use crate::resources::HELD;
use crate::runtime::{ComponentKind, ScrapeRound};

/// Run-wide cumulative totals. Histograms are cumulative bucket counts aligned with
/// [`names::LG_LATENCY_BUCKETS`] / [`names::HTTP_LATENCY_BUCKETS`] plus a final `+Inf`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Totals {
    /// Load generator: requests sent, failed, and not sent on schedule.
    pub sent: f64,
    pub lg_errors: f64,
    pub dropped: f64,
    /// Backend (all replicas): responses, 5xx responses, requests shed with 503.
    pub served: f64,
    pub server_5xx: f64,
    pub shed: f64,
    pub lg_latency: Vec<f64>,
    pub server_latency: Vec<f64>,
    /// Async mode: from the intended send time to the job's end, buckets as `lg_latency`.
    #[serde(default)]
    pub job_latency: Vec<f64>,
    /// The load generators' figures by the plan they run (the sums are the fields above).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub plans: BTreeMap<String, PlanTotals>,
    /// `iterations` > 1: the load generators' figures by the copy (1-based) they drive
    /// (the sums are the fields above).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub iterations: BTreeMap<u32, PlanTotals>,
}

/// Run-wide cumulative totals of one load plan's generators, as [`Totals`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PlanTotals {
    pub sent: f64,
    pub lg_errors: f64,
    pub dropped: f64,
    pub lg_latency: Vec<f64>,
    #[serde(default)]
    pub job_latency: Vec<f64>,
}

impl PlanTotals {
    /// Nothing counted yet, with room for every bucket.
    pub(crate) fn zeroed() -> Self {
        Self {
            lg_latency: vec![0.0; names::LG_LATENCY_BUCKETS.len() + 1],
            job_latency: vec![0.0; names::LG_LATENCY_BUCKETS.len() + 1],
            ..Self::default()
        }
    }

    /// Adds what one generator sent since its last reading.
    fn add(&mut self, now: &InstanceReading, before: &InstanceReading) {
        add_delta(&mut self.sent, now.sent, before.sent);
        add_delta(&mut self.lg_errors, now.lg_errors, before.lg_errors);
        add_delta(&mut self.dropped, now.dropped, before.dropped);
        add_delta_vec(&mut self.lg_latency, &now.lg_latency, &before.lg_latency);
        add_delta_vec(&mut self.job_latency, &now.job_latency, &before.job_latency);
    }
}

/// One sampling round.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Point {
    /// Seconds since the run started.
    pub t: f64,
    pub totals: Totals,
    /// The load generator's scheduled rate now (0 when it is not running).
    pub target_rps: f64,
    pub backend_ready: u32,
    pub backend_desired: u32,
    /// Async jobs accepted and not yet finished, over every backend replica.
    #[serde(default)]
    pub jobs_pending: f64,
    /// Closed loop: virtual users running.
    #[serde(default)]
    pub vus: f64,
    /// Targets that could not be scraped this round: `instance: reason`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gaps: Vec<String>,
    /// CPU, memory and network bytes of every replica now (`crate::resources`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub usage: Vec<crate::resources::Usage>,
    /// `workload = "pipeline"`: orders produced, consumed and acknowledged, the queue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline: Option<crate::pipeline::sample::PipelinePoint>,
    /// Backend replicas and workers seen restarting since the run began (their counters
    /// went back).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub restarts: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// What one instance's page says, before differencing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InstanceReading {
    pub sent: f64,
    pub lg_errors: f64,
    pub dropped: f64,
    pub served: f64,
    pub server_5xx: f64,
    pub shed: f64,
    pub target_rps: f64,
    pub jobs_pending: f64,
    pub vus: f64,
    pub lg_latency: Vec<f64>,
    pub server_latency: Vec<f64>,
    pub job_latency: Vec<f64>,
    /// Bytes the instance read and wrote on its connections, when its page says.
    pub network: Option<(f64, f64)>,
    /// What the instance holds by its own count ([`crate::resources::HELD`]).
    pub held: Vec<(&'static str, f64)>,
}

/// Parses one `/metrics` page. Unknown series are ignored; a page that is not Prometheus
/// text is an error naming the problem. The load generator's series are read by
/// `common::loadgen_page`, the backend's here.
pub fn read_page(text: &str) -> Result<InstanceReading, String> {
    let samples = exposition::parse(text).map_err(|e| format!("not Prometheus text: {e}"))?;
    let lg = LoadgenPage::from_samples(&samples);
    let mut r = InstanceReading {
        sent: lg.sent_total.unwrap_or(0.0),
        lg_errors: lg.errors_total.unwrap_or(0.0),
        dropped: lg.dropped_total.unwrap_or(0.0),
        target_rps: lg.target_rps.unwrap_or(0.0),
        vus: lg.vus.unwrap_or(0.0),
        lg_latency: lg.latency,
        job_latency: lg.job_latency,
        server_latency: vec![0.0; names::HTTP_LATENCY_BUCKETS.len() + 1],
        ..Default::default()
    };
    let server_bucket = format!("{}_bucket", names::HTTP_REQUEST_DURATION_SECONDS);
    for s in &samples {
        let v = s.value;
        match s.name.as_str() {
            names::APP_JOBS_PENDING => r.jobs_pending += v,
            names::APP_SHED_REQUESTS_TOTAL => r.shed += v,
            names::APP_NETWORK_RECEIVE_BYTES_TOTAL | names::LG_NETWORK_RECEIVE_BYTES_TOTAL => {
                r.network.get_or_insert((0.0, 0.0)).0 += v;
            }
            names::APP_NETWORK_TRANSMIT_BYTES_TOTAL | names::LG_NETWORK_TRANSMIT_BYTES_TOTAL => {
                r.network.get_or_insert((0.0, 0.0)).1 += v;
            }
            names::HTTP_REQUESTS_TOTAL if !is_probe(s) => {
                r.served += v;
                if s.label(names::label::STATUS)
                    .is_some_and(|st| st.starts_with('5'))
                {
                    r.server_5xx += v;
                }
            }
            name if name == server_bucket && !is_probe(s) => {
                if let Some(i) = s.bucket_slot(names::HTTP_LATENCY_BUCKETS) {
                    r.server_latency[i] += v;
                }
            }
            name => {
                if let Some((_, held)) = HELD.iter().find(|(gauge, _)| *gauge == name) {
                    r.held.push((held, v));
                }
            }
        }
    }
    Ok(r)
}

/// Scrapes, probes and the frontend's once-a-second stats polls are not user traffic: they
/// would count as served requests even when the load generator is stopped.
fn is_probe(sample: &Sample) -> bool {
    use common::api::routes;
    sample.label(names::label::ROUTE).is_some_and(|r| {
        [
            routes::METRICS,
            routes::READYZ,
            routes::HEALTHZ,
            routes::STATS,
        ]
        .contains(&r)
    })
}

pub(crate) fn add_delta(total: &mut f64, now: f64, before: f64) {
    // A value that went down is a restarted instance: everything it reports is new.
    *total += if now >= before { now - before } else { now };
}

pub(crate) fn add_delta_vec(total: &mut Vec<f64>, now: &[f64], before: &[f64]) {
    let reset = now.iter().zip(before).any(|(n, b)| n < b);
    if total.len() < now.len() {
        total.resize(now.len(), 0.0);
    }
    for (i, n) in now.iter().enumerate() {
        let b = if reset {
            0.0
        } else {
            before.get(i).copied().unwrap_or(0.0)
        };
        total[i] += n - b;
    }
}

/// Accumulates sampling rounds into [`Point`]s.
#[derive(Debug, Default)]
pub struct Accumulator {
    last: HashMap<String, InstanceReading>,
    totals: Totals,
    pipeline: crate::pipeline::sample::PipelineAccumulator,
    restarts: u32,
}

impl Accumulator {
    pub fn new() -> Self {
        Self {
            last: HashMap::new(),
            totals: Totals {
                lg_latency: vec![0.0; names::LG_LATENCY_BUCKETS.len() + 1],
                server_latency: vec![0.0; names::HTTP_LATENCY_BUCKETS.len() + 1],
                job_latency: vec![0.0; names::LG_LATENCY_BUCKETS.len() + 1],
                ..Default::default()
            },
            pipeline: Default::default(),
            restarts: 0,
        }
    }

    pub fn push(&mut self, t: f64, round: &ScrapeRound) -> Point {
        let mut gaps = round.resources.gaps.clone();
        let mut usage = round.resources.usage.clone();
        let (mut target_rps, mut jobs_pending, mut vus) = (0.0, 0.0, 0.0);
        for scrape in &round.targets {
            gaps.extend(self.pipeline.observe(scrape));
            if !matches!(
                scrape.component,
                ComponentKind::Backend | ComponentKind::Loadgen
            ) {
                continue;
            }
            let reading = match &scrape.result {
                Ok(text) => match read_page(text) {
                    Ok(r) => r,
                    Err(e) => {
                        gaps.push(format!("{}: {e}", scrape.instance));
                        continue;
                    }
                },
                Err(reason) => {
                    gaps.push(format!("{}: {reason}", scrape.instance));
                    continue;
                }
            };
            if reading.network.is_some() || !reading.held.is_empty() {
                let component = scrape.component.as_str();
                let row = crate::resources::row(&mut usage, component, &scrape.instance);
                if let Some((rx, tx)) = reading.network {
                    (row.net_rx_bytes, row.net_tx_bytes) = (Some(rx), Some(tx));
                }
                for (name, v) in &reading.held {
                    *row.held.entry((*name).to_owned()).or_default() += v;
                }
            }
            target_rps += reading.target_rps;
            jobs_pending += reading.jobs_pending;
            vus += reading.vus;
            let before = self.last.get(&scrape.instance).cloned().unwrap_or_default();
            if scrape.component == ComponentKind::Backend && reading.served < before.served {
                self.restarts += 1;
            }
            let t_ = &mut self.totals;
            // The run's load figures add up as one plan's do.
            let mut load = PlanTotals {
                sent: t_.sent,
                lg_errors: t_.lg_errors,
                dropped: t_.dropped,
                lg_latency: std::mem::take(&mut t_.lg_latency),
                job_latency: std::mem::take(&mut t_.job_latency),
            };
            load.add(&reading, &before);
            (t_.sent, t_.lg_errors, t_.dropped) = (load.sent, load.lg_errors, load.dropped);
            (t_.lg_latency, t_.job_latency) = (load.lg_latency, load.job_latency);
            if let Some(k) = crate::iterations::of_instance(&scrape.instance) {
                t_.iterations
                    .entry(k)
                    .or_insert_with(PlanTotals::zeroed)
                    .add(&reading, &before);
            }
            if let Some(plan) = &scrape.plan {
                t_.plans
                    .entry(plan.clone())
                    .or_insert_with(PlanTotals::zeroed)
                    .add(&reading, &before);
            }
            add_delta(&mut t_.served, reading.served, before.served);
            add_delta(&mut t_.server_5xx, reading.server_5xx, before.server_5xx);
            add_delta(&mut t_.shed, reading.shed, before.shed);
            add_delta_vec(
                &mut t_.server_latency,
                &reading.server_latency,
                &before.server_latency,
            );
            self.last.insert(scrape.instance.clone(), reading);
        }
        Point {
            t,
            totals: self.totals.clone(),
            target_rps,
            backend_ready: round.backend_ready,
            backend_desired: round.backend_desired,
            jobs_pending,
            vus,
            gaps,
            usage,
            pipeline: self.pipeline.point(),
            restarts: self.restarts + self.pipeline.restarts(),
        }
    }
}

/// The `q` quantile (0..1) of cumulative bucket counts, interpolated linearly inside the
/// bucket as Prometheus' `histogram_quantile` does. `None` when there were no observations.
pub fn quantile(bounds: &[f64], cumulative: &[f64], q: f64) -> Option<f64> {
    let total = *cumulative.last()?;
    if total <= 0.0 {
        return None;
    }
    let rank = q * total;
    let mut prev_count = 0.0;
    for (i, &c) in cumulative.iter().enumerate() {
        if c >= rank {
            let Some(&upper) = bounds.get(i) else {
                // In the +Inf bucket: the highest finite bound is all that is known.
                return bounds.last().copied();
            };
            let lower = if i == 0 { 0.0 } else { bounds[i - 1] };
            let width = c - prev_count;
            let frac = if width > 0.0 {
                (rank - prev_count) / width
            } else {
                1.0
            };
            return Some(lower + (upper - lower) * frac);
        }
        prev_count = c;
    }
    bounds.last().copied()
}

/// `a - b` element-wise (bucket counts of a window).
pub fn diff(a: &[f64], b: &[f64]) -> Vec<f64> {
    a.iter()
        .enumerate()
        .map(|(i, x)| (x - b.get(i).copied().unwrap_or(0.0)).max(0.0))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::Scrape;

    const PAGE: &str = "\
# TYPE lg_sent_requests_total counter
lg_sent_requests_total{action=\"book_ticket\"} 10
lg_sent_requests_total{action=\"give_feedback\"} 5
# TYPE lg_errors_total counter
lg_errors_total{action=\"book_ticket\",kind=\"http_5xx\"} 3
# TYPE lg_target_rps gauge
lg_target_rps 40
# TYPE lg_request_duration_seconds histogram
lg_request_duration_seconds_bucket{action=\"book_ticket\",le=\"0.01\"} 4
lg_request_duration_seconds_bucket{action=\"book_ticket\",le=\"+Inf\"} 10
lg_request_duration_seconds_sum{action=\"book_ticket\"} 1
lg_request_duration_seconds_count{action=\"book_ticket\"} 10
# TYPE http_requests_total counter
http_requests_total{method=\"POST\",route=\"/api/tickets\",status=\"201\"} 7
http_requests_total{method=\"POST\",route=\"/api/tickets\",status=\"503\"} 2
http_requests_total{method=\"GET\",route=\"/metrics\",status=\"200\"} 40
http_requests_total{method=\"GET\",route=\"/api/stats\",status=\"200\"} 30
http_requests_total{method=\"DELETE\",route=\"/api/tickets/{id}\",status=\"204\"} 5
";

    #[test]
    fn a_page_is_summed_over_labels() {
        let r = read_page(PAGE).unwrap();
        assert_eq!(r.sent, 15.0);
        assert_eq!(r.lg_errors, 3.0);
        assert_eq!(r.target_rps, 40.0);
        assert_eq!(
            (r.served, r.server_5xx),
            (14.0, 2.0),
            "probes are not traffic; templated routes (with braces) are"
        );
        let i = names::LG_LATENCY_BUCKETS
            .iter()
            .position(|&b| b == 0.01)
            .unwrap();
        assert_eq!(r.lg_latency[i], 4.0);
        assert_eq!(*r.lg_latency.last().unwrap(), 10.0);
        assert!(r.held.is_empty(), "{:?}", r.held);
    }

    #[test]
    fn what_a_component_holds_goes_into_its_usage_row() {
        let page = "# TYPE app_active_sessions gauge\napp_active_sessions 120\n\
                    # TYPE http_requests_in_flight gauge\nhttp_requests_in_flight 7\n";
        let round = ScrapeRound {
            targets: vec![Scrape {
                component: ComponentKind::Backend,
                instance: "backend-0".into(),
                plan: None,
                result: Ok(page.to_owned()),
            }],
            backend_ready: 1,
            backend_desired: 1,
            resources: Default::default(),
        };
        let point = Accumulator::new().push(1.0, &round);
        let row = point
            .usage
            .iter()
            .find(|u| u.instance == "backend-0")
            .unwrap();
        assert_eq!(row.component, "backend");
        assert_eq!(row.held.get("sessions"), Some(&120.0));
        assert_eq!(row.held.get("requests_in_flight"), Some(&7.0));
        assert_eq!(row.net_rx_bytes, None, "no network counters on the page");
    }

    fn round(instance: &str, sent: u32) -> ScrapeRound {
        ScrapeRound {
            targets: vec![Scrape {
                component: ComponentKind::Loadgen,
                instance: instance.into(),
                plan: Some(format!("plan-{instance}")),
                result: Ok(format!(
                    "# TYPE lg_sent_requests_total counter\nlg_sent_requests_total {sent}\n"
                )),
            }],
            backend_ready: 1,
            backend_desired: 1,
            resources: Default::default(),
        }
    }

    #[test]
    fn totals_survive_a_counter_reset_and_new_instances() {
        let mut acc = Accumulator::new();
        assert_eq!(acc.push(0.0, &round("a", 10)).totals.sent, 10.0);
        assert_eq!(acc.push(1.0, &round("a", 25)).totals.sent, 25.0);
        // Restart: 4 new requests, not -21.
        assert_eq!(acc.push(2.0, &round("a", 4)).totals.sent, 29.0);
        let last = acc.push(3.0, &round("b", 6)).totals;
        assert_eq!(last.sent, 35.0);
        // Each generator's plan has its own share of the run's totals.
        assert_eq!(last.plans["plan-a"].sent, 29.0);
        assert_eq!(last.plans["plan-b"].sent, 6.0);
    }

    #[test]
    fn gaps_are_named() {
        let mut acc = Accumulator::new();
        let mut r = round("a", 1);
        r.targets[0].result = Err("connection refused".into());
        let p = acc.push(0.0, &r);
        assert_eq!(p.gaps, ["a: connection refused"]);
    }

    #[test]
    fn quantiles_interpolate_inside_buckets() {
        let bounds = [0.1, 0.2, 0.4];
        // 10 in (0,0.1], 10 in (0.1,0.2], 0 above.
        let cum = [10.0, 20.0, 20.0, 20.0];
        assert!((quantile(&bounds, &cum, 0.5).unwrap() - 0.1).abs() < 1e-9);
        assert!((quantile(&bounds, &cum, 0.75).unwrap() - 0.15).abs() < 1e-9);
        assert_eq!(quantile(&bounds, &[0.0; 4], 0.5), None);
        // Everything above the last bound: the last bound is reported.
        assert_eq!(quantile(&bounds, &[0.0, 0.0, 0.0, 5.0], 0.99), Some(0.4));
    }
}
