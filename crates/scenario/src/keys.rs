//! The table of configuration keys: one flat spelling per key (`load_base_rps`), upper-cased
//! for the environment (`LOAD_BASE_RPS`), the original demo's aliases, the field it sets,
//! its per-value rule and its meaning (which `.env.example` is generated from).

use std::sync::LazyLock;

use super::check::Check;
use super::value::Field;
use super::{autoscale, capability, iterations, pipeline};

/// One configuration key.
#[derive(Clone, Copy)]
pub(crate) struct Key {
    /// The one spelling: scenario files and `--set`; upper-cased for the environment.
    pub(crate) name: &'static str,
    /// Other environment names that mean the same key (the original demo's `.env` names).
    pub(crate) aliases: &'static [&'static str],
    pub(crate) field: Field,
    pub(crate) check: Check,
    /// What the key means, one line, for `.env.example` and the README.
    pub(crate) help: &'static str,
}

impl Key {
    /// The environment-variable spelling of the key.
    pub(crate) fn env_name(&self) -> String {
        self.name.to_ascii_uppercase()
    }
}

macro_rules! field {
    ($kind:ident, $($path:ident).+) => {
        Field::$kind(|s| &s.$($path).+, |s| &mut s.$($path).+)
    };
}

pub(crate) use field;

macro_rules! key {
    ($name:literal, $kind:ident, $($path:ident).+, $check:expr, $help:literal) => {
        key!($name, $kind, $($path).+, $check, $help, aliases = &[])
    };
    ($name:literal, $kind:ident, $($path:ident).+, $check:expr, $help:literal, aliases = $aliases:expr) => {
        Key {
            name: $name,
            aliases: $aliases,
            field: field!($kind, $($path).+),
            check: $check,
            help: $help,
        }
    };
}

pub(crate) use key;

/// The keys of the exponential ramp, which `load_stages` and `load_profile` replace.
pub(crate) const RAMP_KEYS: [&str; 5] = [
    "load_base_rps",
    "load_ramp_factor",
    "load_ramp_interval",
    "load_run_duration",
    "load_max_rps",
];

/// Every key, in the order `config` prints them and `.env.example` documents them: the
/// table below with `workload` after `actions`, the autoscaler's keys after
/// `load_scale_delay`, then the workers' keys, then the iterations', then the capability
/// mode's.
pub(crate) static KEYS: LazyLock<Vec<Key>> = LazyLock::new(|| {
    let after = |name: &str| {
        CORE.iter()
            .position(|k| k.name == name)
            .map_or(CORE.len(), |i| i + 1)
    };
    let (workload_at, autoscale_at) = (after("actions"), after("load_scale_delay"));
    let mut keys = CORE[..autoscale_at].to_vec();
    keys.extend(autoscale::KEYS);
    keys.extend_from_slice(&CORE[autoscale_at..]);
    let workload_at = workload_at
        + if workload_at > autoscale_at {
            autoscale::KEYS.len()
        } else {
            0
        };
    keys.insert(workload_at, pipeline::WORKLOAD_KEY);
    keys.extend(pipeline::KEYS);
    keys.extend(iterations::KEYS);
    keys.extend(capability::KEYS);
    keys
});

static CORE: &[Key] = &[
    key!(
        "uuid",
        Text,
        uuid,
        Check::Label,
        "The run's id: the namespace is <namespace_prefix>-<uuid>, the report goes to runs/<uuid>/."
    ),
    key!(
        "namespace_prefix",
        Text,
        namespace_prefix,
        Check::Label,
        "First part of the run's Kubernetes namespace."
    ),
    key!(
        "app_name",
        Text,
        app_name,
        Check::Label,
        "The application: the app.kubernetes.io/part-of label of every object."
    ),
    key!(
        "backend_name",
        Text,
        backend.name,
        Check::ServiceName(54),
        "Name of the backend's Deployment and Service."
    ),
    key!(
        "backend_replicas",
        U32,
        backend.replicas,
        Check::AtLeast(1),
        "Backend replicas at the start, before the scale-up."
    ),
    key!(
        "backend_image",
        Text,
        backend.image,
        Check::Image,
        "Backend container image (kube runtime)."
    ),
    key!(
        "frontend_name",
        Text,
        frontend.name,
        Check::ServiceName(58),
        "Name of the frontend's Deployment and Service."
    ),
    key!(
        "frontend_replicas",
        U32,
        frontend.replicas,
        Check::AtLeast(1),
        "Frontend replicas."
    ),
    key!(
        "frontend_image",
        Text,
        frontend.image,
        Check::Image,
        "Frontend container image (kube runtime)."
    ),
    key!(
        "loadgen_name",
        Text,
        loadgen.name,
        Check::ServiceName(58),
        "Name of the load generator's workload and Service."
    ),
    key!(
        "loadgen_replicas",
        U32,
        loadgen.replicas,
        Check::AtLeast(1),
        "Load generator pods; each runs one shard, together they send exactly the planned load."
    ),
    key!(
        "loadgen_image",
        Text,
        loadgen.image,
        Check::Image,
        "Load generator container image (kube runtime)."
    ),
    key!(
        "prometheus_name",
        Text,
        prometheus.name,
        Check::ServiceName(56),
        "Name of Prometheus' Deployment and Service."
    ),
    key!(
        "prometheus_replicas",
        U32,
        prometheus.replicas,
        Check::AtLeast(1),
        "Prometheus replicas."
    ),
    key!(
        "prometheus_image",
        Text,
        prometheus.image,
        Check::Image,
        "Prometheus container image (kube runtime)."
    ),
    key!(
        "actions",
        Text,
        actions,
        Check::Actions,
        "Actions the load sends, with optional weights: book_ticket=5,cancel_ticket,give_feedback=2."
    ),
    key!(
        "enable_load",
        Bool,
        enable_load,
        Check::None,
        "Start the load generator at all (false: deploy and watch the baseline only)."
    ),
    key!(
        "baseline_pause",
        Duration,
        baseline_pause,
        Check::None,
        "Quiet time after the deploy, before the load starts."
    ),
    key!(
        "load_pause",
        Duration,
        load_pause,
        Check::None,
        "Time under load before the backend is scaled up."
    ),
    key!(
        "backend_scale_replicas",
        U32,
        backend_scale_replicas,
        Check::AtLeast(1),
        "Backend replicas after the scale-up (at least backend_replicas)."
    ),
    key!(
        "load_scale_delay",
        Duration,
        load_scale_delay,
        Check::None,
        "Time under load after the scale-up, before the load generator is deleted."
    ),
    key!(
        "load_base_rps",
        F64,
        load.base_rps,
        Check::Positive,
        "Starting request rate, requests per second."
    ),
    key!(
        "load_ramp_factor",
        F64,
        load.ramp_factor,
        Check::Factor,
        "The rate is multiplied by this every load_ramp_interval (1 keeps it constant)."
    ),
    key!(
        "load_ramp_interval",
        Duration,
        load.ramp_interval,
        Check::NonZero,
        "How often the rate is multiplied by load_ramp_factor.",
        aliases = &["LOAD_RAMP_INTERVAL_SECONDS"]
    ),
    key!(
        "load_run_duration",
        Duration,
        load.run_duration,
        Check::NonZero,
        "How long the load generator sends, at most.",
        aliases = &["LOAD_RUN_DURATION_SECONDS"]
    ),
    key!(
        "load_max_rps",
        Cap,
        load.max_rps,
        Check::Positive,
        "Rate cap, requests per second, or none for no cap (the original demo had none)."
    ),
    key!(
        "load_stages",
        OptText,
        load.stages,
        Check::Stages,
        "k6-style stages instead of the ramp, e.g. 30s:20,1m:20,10s:0 (the rate moves linearly from 0 to each target), or none."
    ),
    key!(
        "load_profile",
        OptText,
        load.profile,
        Check::Profile,
        "A named load profile instead of the ramp (light, medium, heavy, burst, sustained, spike, cpu-stress, memory-stress), or none."
    ),
    key!(
        "load_arrival",
        Arrival,
        load.arrival,
        Check::None,
        "How requests are spread within the planned rate: uniform (evenly) or poisson (random gaps, seeded)."
    ),
    key!(
        "load_seed",
        U32,
        load.seed,
        Check::None,
        "Seed of Poisson arrivals, the action mix and session ids: one seed repeats a run's requests."
    ),
    key!(
        "load_mode",
        Mode,
        load.mode,
        Check::None,
        "sync: the backend answers when the work is done; async: 202 at once and a job the load generator follows to its end."
    ),
    key!(
        "load_vus",
        U32,
        load.vus,
        Check::None,
        "Closed loop: this many virtual users, each sending its next request when its last is answered, for load_run_duration; 0 for the open loop."
    ),
    key!(
        "load_vu_stages",
        OptText,
        load.vu_stages,
        Check::VuStages,
        "Closed loop: virtual users moving linearly from 0 to each stage's count, e.g. 30s:20,1m:20,10s:0, or none."
    ),
    key!(
        "load_think_time",
        OptText,
        load.think_time,
        Check::ThinkTime,
        "Closed loop: each virtual user's pause between an answer and its next request, 1s or a range 500ms..2s, or none."
    ),
    key!(
        "backend_workers",
        U32,
        backend_capacity.workers,
        Check::AtLeast(1),
        "Requests one backend replica serves at once; capacity = workers / service_time."
    ),
    key!(
        "backend_service_time",
        Duration,
        backend_capacity.service_time,
        Check::None,
        "Simulated work per request on the backend."
    ),
    key!(
        "backend_queue",
        U32,
        backend_capacity.queue,
        Check::None,
        "Requests that may wait for a backend worker before the replica answers 503."
    ),
    key!(
        "frontend_service_type",
        Service,
        frontend_service_type,
        Check::None,
        "How the frontend's Service is exposed on a cluster: NodePort or ClusterIP."
    ),
    key!(
        "frontend_node_port",
        U16,
        frontend_node_port,
        Check::NodePort,
        "The frontend's NodePort (30000-32767) when frontend_service_type is NodePort."
    ),
    key!(
        "prometheus_node_port",
        U16,
        prometheus_node_port,
        Check::NodePort,
        "Prometheus' NodePort (30000-32767)."
    ),
    key!(
        "grafana",
        Bool,
        grafana.enabled,
        Check::None,
        "kube runtime: deploy Grafana with the load-demo dashboard and the run's Prometheus as its datasource (locally: docker compose --profile grafana)."
    ),
    key!(
        "grafana_node_port",
        U16,
        grafana.node_port,
        Check::NodePort,
        "Grafana's NodePort (30000-32767) when grafana is true; kind/cluster.yaml maps 30030."
    ),
    key!(
        "grafana_image",
        Text,
        grafana.image,
        Check::Image,
        "Grafana container image (kube runtime, grafana = true)."
    ),
    key!(
        "loadgen_kind",
        Loadgen,
        loadgen_kind,
        Check::None,
        "How the load generator runs on a cluster: deployment or job."
    ),
    key!(
        "prepull",
        Bool,
        prepull,
        Check::None,
        "Pre-pull every image on every node with a DaemonSet before deploying (kube runtime)."
    ),
    key!(
        "pause_image",
        Text,
        pause_image,
        Check::Image,
        "Main container of the pre-pull DaemonSet; change it for disconnected clusters."
    ),
    key!(
        "ready_timeout",
        Duration,
        ready_timeout,
        Check::NonZero,
        "How long any wait for readiness may take before the run fails."
    ),
];

/// The key a scenario file or `--set` names: the key itself or an alias, in any case.
pub(crate) fn by_name(name: &str) -> Option<&'static Key> {
    KEYS.iter().find(|k| {
        k.name.eq_ignore_ascii_case(name) || k.aliases.iter().any(|a| a.eq_ignore_ascii_case(name))
    })
}

/// The key an environment variable names: exactly the upper-cased key or an alias.
pub(crate) fn by_env(var: &str) -> Option<&'static Key> {
    KEYS.iter()
        .find(|k| k.env_name() == var || k.aliases.contains(&var))
}

/// Every key name, for "did you mean".
pub(crate) fn names() -> Vec<&'static str> {
    KEYS.iter().map(|k| k.name).collect()
}

/// Every environment name (keys upper-cased, then aliases), for "did you mean".
pub(crate) fn env_names() -> Vec<String> {
    KEYS.iter()
        .map(Key::env_name)
        .chain(
            KEYS.iter()
                .flat_map(|k| k.aliases.iter().map(|a| (*a).to_owned())),
        )
        .collect()
}
