//! The typed scenario model and its built-in defaults (the original demo's user-data).
//!
//! Keys are flat (`load_base_rps`, `backend_replicas`) so that one spelling serves the
//! scenario file, `--set key=value` and, upper-cased, the environment.

use serde::{Deserialize, Serialize};

use common::HumanDuration;

use super::autoscale::Autoscale;
use super::capability::Capability;
use super::entries::{AlertEntry, ThresholdEntry};
use super::pipeline::Pipeline;
use common::load::stages::stages_curve;
use common::load::vus::{ClosedLoop, ThinkTime, parse_vu_stages};
use common::load::{Curve, Profile, Ramp, parse_stages};

/// One deployable part of the stack.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComponentSpec {
    pub name: String,
    pub replicas: u32,
    pub image: String,
}

/// The load plan: the exponential ramp rate(t) = base × factor^floor(t / interval), capped by
/// `max_rps`, unless `stages` or `profile` gives another shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadSpec {
    pub base_rps: f64,
    pub ramp_factor: f64,
    pub ramp_interval: HumanDuration,
    pub run_duration: HumanDuration,
    /// No cap when `None`.
    pub max_rps: Option<f64>,
    /// k6-style stages (`30s:20,1m:20,10s:0`) instead of the ramp.
    #[serde(default)]
    pub stages: Option<String>,
    /// A named profile (`light`, `spike`, ...) instead of the ramp.
    #[serde(default)]
    pub profile: Option<String>,
    #[serde(default)]
    pub arrival: Arrival,
    /// Seed of Poisson arrivals, the action mix and session ids.
    #[serde(default = "default_seed")]
    pub seed: u32,
    #[serde(default)]
    pub mode: LoadMode,
    /// Closed loop: this many virtual users for `run_duration` (0: open loop).
    #[serde(default)]
    pub vus: u32,
    /// Closed loop: k6-style VU stages (`30s:20,1m:20,10s:0`) instead of a constant count.
    #[serde(default)]
    pub vu_stages: Option<String>,
    /// Closed loop: each user's pause between an answer and its next request (`1s`,
    /// `500ms..2s`).
    #[serde(default)]
    pub think_time: Option<String>,
}

fn default_seed() -> u32 {
    1
}

/// How requests are spread within the planned rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Arrival {
    /// Evenly spaced.
    #[default]
    Uniform,
    /// Random gaps of a Poisson process of the same rate, seeded.
    Poisson,
}

impl Arrival {
    pub fn as_str(self) -> &'static str {
        match self {
            Arrival::Uniform => "uniform",
            Arrival::Poisson => "poisson",
        }
    }
}

/// How the backend does the work of an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoadMode {
    /// The answer waits for the work.
    #[default]
    Sync,
    /// 202 at once and a job to poll; the load generator follows each job to its end.
    Async,
}

impl LoadMode {
    pub fn as_str(self) -> &'static str {
        match self {
            LoadMode::Sync => "sync",
            LoadMode::Async => "async",
        }
    }
}

impl LoadSpec {
    /// Virtual users (closed loop) rather than a planned rate (open loop).
    pub fn is_closed_loop(&self) -> bool {
        self.vus > 0 || self.vu_stages.is_some()
    }

    /// The closed loop's plan of virtual users; `None` for an open-loop shape.
    pub fn closed_loop(&self) -> Option<ClosedLoop> {
        let think = self
            .think_time
            .as_deref()
            .and_then(|t| t.parse::<ThinkTime>().ok())
            .unwrap_or_default();
        if let Some(stages) = &self.vu_stages {
            return Some(ClosedLoop::staged(&parse_vu_stages(stages).ok()?, think));
        }
        (self.vus > 0).then(|| ClosedLoop::constant(self.vus, self.run_duration.get(), think))
    }

    /// The planned request rate over time of an open-loop shape (empty for the closed loop,
    /// whose rate follows the answers). Shapes that do not parse give an empty curve;
    /// `resolve` refuses them before any run.
    pub fn curve(&self) -> Curve {
        if self.is_closed_loop() {
            return Curve::default();
        }
        if let Some(stages) = &self.stages {
            return parse_stages(stages)
                .map(|stages| stages_curve(0.0, &stages))
                .unwrap_or_default();
        }
        if let Some(profile) = &self.profile {
            return Profile::parse(profile)
                .map(Profile::curve)
                .unwrap_or_default();
        }
        Ramp {
            base_rps: self.base_rps,
            factor: self.ramp_factor,
            interval: self.ramp_interval.get(),
            max_rps: self.max_rps,
            duration: self.run_duration.get(),
        }
        .curve()
        .unwrap_or_default()
    }

    /// The shape in a few words, for the terminal: `10 rps ×5 every 5s, cap 300 rps`,
    /// `stages 30s:20,10s:0`, `profile spike`, with the arrivals and mode when not the default.
    pub fn describe(&self) -> String {
        let mut text = if let Some(stages) = &self.vu_stages {
            format!("virtual users {stages} (closed loop)")
        } else if self.vus > 0 {
            format!(
                "{} virtual users (closed loop) for {}",
                self.vus, self.run_duration
            )
        } else if let Some(stages) = &self.stages {
            format!("stages {stages}")
        } else if let Some(profile) = &self.profile {
            format!("profile {profile}")
        } else {
            format!(
                "{} rps ×{} every {}, cap {}",
                self.base_rps,
                self.ramp_factor,
                self.ramp_interval,
                self.max_rps
                    .map_or("none".to_owned(), |m| format!("{m} rps"))
            )
        };
        if let Some(think) = &self.think_time {
            text.push_str(&format!(", think time {think}"));
        }
        if self.arrival != Arrival::Uniform {
            text.push_str(&format!(", {} arrivals", self.arrival.as_str()));
        }
        if self.mode != LoadMode::Sync {
            text.push_str(&format!(", {} work", self.mode.as_str()));
        }
        text
    }

    /// How long the load generator sends: the ramp's run duration, or the shape's length.
    pub fn duration(&self) -> std::time::Duration {
        if let Some(closed) = self.closed_loop() {
            closed.duration()
        } else if self.stages.is_none() && self.profile.is_none() {
            self.run_duration.get()
        } else {
            self.curve().duration()
        }
    }
}

/// The name of the one plan of a scenario without `[[load]]` entries.
pub const MAIN_PLAN: &str = "main";

/// One load plan: a load generator of its own (sharded as `loadgen_replicas` says), run at
/// the same time as the scenario's other plans.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadPlan {
    /// Names the plan's load generators (a kube object name, the `load-demo.io/plan` label)
    /// and its rows in the report.
    pub name: String,
    /// Weighted action mix of the plan's requests, as the flat `actions` key.
    pub actions: String,
    pub load: LoadSpec,
}

/// How the frontend's Service is exposed on a cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ServiceType {
    ClusterIP,
    NodePort,
}

/// How the load generator runs on a cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoadgenKind {
    /// A Deployment of `loadgen.replicas` pods, pod i running `--shard i/n`.
    Deployment,
    /// A Job with activeDeadlineSeconds and ttlSecondsAfterFinished.
    Job,
}

/// Grafana with the load-demo dashboard, provisioned beside the run's Prometheus (kube
/// runtime; locally `docker compose --profile grafana` does it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Grafana {
    pub enabled: bool,
    pub node_port: u16,
    pub image: String,
}

impl Default for Grafana {
    fn default() -> Self {
        Self {
            enabled: false,
            node_port: 30030,
            // The image docker-compose.yml's `grafana` service runs.
            image: "grafana/grafana:11.1.0".to_owned(),
        }
    }
}

/// The backend's capacity model: `workers / service_time` requests per second per replica.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BackendCapacity {
    pub workers: u32,
    pub service_time: HumanDuration,
    /// Requests that may wait for a worker before the replica sheds with 503.
    pub queue: u32,
}

/// Everything a run needs to know, with the original demo's defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scenario {
    pub uuid: String,
    pub namespace_prefix: String,
    pub app_name: String,
    pub backend: ComponentSpec,
    pub frontend: ComponentSpec,
    pub loadgen: ComponentSpec,
    pub prometheus: ComponentSpec,
    /// Weighted action mix, e.g. `book_ticket,cancel_ticket,give_feedback` or `book_ticket=5,...`.
    pub actions: String,
    pub enable_load: bool,
    pub baseline_pause: HumanDuration,
    pub load_pause: HumanDuration,
    pub backend_scale_replicas: u32,
    pub load_scale_delay: HumanDuration,
    /// `scale_mode` and the autoscaler's keys (flat, `autoscale_*`).
    #[serde(default)]
    pub autoscale: Autoscale,
    pub load: LoadSpec,
    /// `workload` and the pipeline's worker keys (flat, `worker_*`).
    #[serde(default)]
    pub pipeline: Pipeline,
    /// `iterations` and the API server's rate (`kube_qps`, `kube_burst`).
    #[serde(default)]
    pub iterations: super::iterations::Iterations,
    /// `capability` and its keys (flat, `capability_*`).
    #[serde(default)]
    pub capability: Capability,
    pub backend_capacity: BackendCapacity,
    pub frontend_service_type: ServiceType,
    pub frontend_node_port: u16,
    pub prometheus_node_port: u16,
    /// `grafana*` keys: a Grafana on the kube runtime.
    #[serde(default)]
    pub grafana: Grafana,
    pub loadgen_kind: LoadgenKind,
    /// Pre-pull every image on every node before deploying (kube runtime only).
    pub prepull: bool,
    /// Main container of the pre-pull DaemonSet; configurable for disconnected clusters.
    pub pause_image: String,
    /// How long any wait for readiness may take before the run fails.
    pub ready_timeout: HumanDuration,
    /// `[[load]]` entries of the scenario file: plans run at once. Empty: the flat `load_*`
    /// keys and `actions` are the one plan (see [`Scenario::load_plans`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub plans: Vec<LoadPlan>,
    /// `[[thresholds]]` of the scenario file: a failed one fails the run (exit 99).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub thresholds: Vec<ThresholdEntry>,
    /// `[[alerts]]` of the scenario file, evaluated against Prometheus at the end of the run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alerts: Vec<AlertEntry>,
}

impl Scenario {
    /// The run's namespace: `<namespace_prefix>-<uuid>`, and `-<i>` after it for copy `i`
    /// of several (`iterations`).
    pub fn namespace(&self) -> String {
        match self.iterations.index {
            Some(i) => format!("{}-{}-{i}", self.namespace_prefix, self.uuid),
            None => format!("{}-{}", self.namespace_prefix, self.uuid),
        }
    }

    /// The plans that run at once: the `[[load]]` entries, or one plan named [`MAIN_PLAN`]
    /// of the flat keys, so that what runs the load only ever deals with a list.
    pub fn load_plans(&self) -> Vec<LoadPlan> {
        if self.plans.is_empty() {
            vec![LoadPlan {
                name: MAIN_PLAN.to_owned(),
                actions: self.actions.clone(),
                load: self.load.clone(),
            }]
        } else {
            self.plans.clone()
        }
    }

    /// The name of `plan`'s load generators (the instance, the kube workload):
    /// `<loadgen_name>-<plan>` for a `[[load]]` entry, `loadgen_name` for the flat keys' one.
    pub fn loadgen_name(&self, plan: &LoadPlan) -> String {
        if self.plans.is_empty() {
            self.loadgen.name.clone()
        } else {
            format!("{}-{}", self.loadgen.name, plan.name)
        }
    }

    /// How long the load generators send: the longest plan.
    pub fn load_duration(&self) -> std::time::Duration {
        self.load_plans()
            .iter()
            .map(|p| p.load.duration())
            .max()
            .unwrap_or_default()
    }

    /// Requests every open-loop plan together schedules in the first `t_ns` nanoseconds of
    /// the load (the closed loop plans none: its rate follows the answers).
    pub fn planned_before(&self, t_ns: u64) -> f64 {
        self.load_plans()
            .iter()
            .map(|p| p.load.curve().count_before(t_ns))
            .sum()
    }

    /// Some plan runs virtual users (closed loop).
    pub fn any_closed_loop(&self) -> bool {
        self.load_plans().iter().any(|p| p.load.is_closed_loop())
    }

    /// The load in a few words, for the terminal: the one plan's shape, or each plan's.
    pub fn describe_load(&self) -> String {
        if self.plans.is_empty() {
            return self.load.describe();
        }
        self.plans
            .iter()
            .map(|p| format!("{}: {}", p.name, p.load.describe()))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

impl Default for Scenario {
    fn default() -> Self {
        let component = |name: &str, image: &str| ComponentSpec {
            name: name.to_owned(),
            replicas: 1,
            image: image.to_owned(),
        };
        Self {
            uuid: "demo-run-001".to_owned(),
            namespace_prefix: "app-demo".to_owned(),
            app_name: "movie-night".to_owned(),
            backend: component("backend", "kind.local/demo-app-backend:latest"),
            frontend: component("frontend", "kind.local/demo-app-frontend:latest"),
            loadgen: component("loadgen", "kind.local/demo-app-load:latest"),
            prometheus: component("prometheus", "prom/prometheus:v2.54.0"),
            actions: "book_ticket,cancel_ticket,give_feedback".to_owned(),
            enable_load: true,
            baseline_pause: HumanDuration::from_secs(20),
            load_pause: HumanDuration::from_secs(30),
            backend_scale_replicas: 2,
            load_scale_delay: HumanDuration::from_secs(30),
            autoscale: Autoscale::default(),
            load: LoadSpec {
                base_rps: 10.0,
                ramp_factor: 5.0,
                ramp_interval: HumanDuration::from_secs(5),
                run_duration: HumanDuration::from_secs(90),
                // The original demo had no cap; 300 rps is 1.5x one default replica's
                // capacity and 0.75x two replicas', so one replica saturates and two recover.
                max_rps: Some(300.0),
                stages: None,
                profile: None,
                arrival: Arrival::Uniform,
                seed: default_seed(),
                mode: LoadMode::Sync,
                vus: 0,
                vu_stages: None,
                think_time: None,
            },
            pipeline: Pipeline::default(),
            iterations: super::iterations::Iterations::default(),
            capability: Capability::default(),
            backend_capacity: BackendCapacity {
                workers: 4,
                service_time: HumanDuration::from_millis(20),
                queue: 32,
            },
            frontend_service_type: ServiceType::NodePort,
            frontend_node_port: 30080,
            prometheus_node_port: 30090,
            grafana: Grafana::default(),
            loadgen_kind: LoadgenKind::Deployment,
            prepull: true,
            pause_image: "registry.k8s.io/pause:3.10".to_owned(),
            ready_timeout: HumanDuration::from_secs(120),
            plans: Vec::new(),
            thresholds: Vec::new(),
            alerts: Vec::new(),
        }
    }
}
