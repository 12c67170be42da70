//! Scenario → component command lines, shared by both runtimes.
//!
//! The local runtime feeds these to each component's `Opts::try_parse_from` in-process; the
//! Kubernetes runtime uses them as container args. One builder per component means a scenario
//! key has the same effect wherever the stack runs. Args never include the program name.

use scenario::Scenario;

/// The backend replica's flags. `listen` is `127.0.0.1:port` locally, `0.0.0.0:8080` in a pod.
pub fn backend_args(scenario: &Scenario, listen: &str, replica_name: &str) -> Vec<String> {
    let capacity = &scenario.backend_capacity;
    vec![
        "--listen".into(),
        listen.into(),
        "--workers".into(),
        capacity.workers.to_string(),
        "--service-time".into(),
        capacity.service_time.to_string(),
        "--queue".into(),
        capacity.queue.to_string(),
        "--replica-name".into(),
        replica_name.into(),
    ]
}

/// How the frontend finds the backend replicas whose stats it aggregates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplicaDiscovery {
    /// A fixed list of replica base URLs.
    Static(Vec<String>),
    /// `host:port` of a headless Service (kube).
    Headless(String),
}

/// The frontend's flags. `backend_url` is the backend Service (locally: the balancer).
pub fn frontend_args(
    listen: &str,
    backend_url: &str,
    replicas: &ReplicaDiscovery,
    loadgen_url: &str,
) -> Vec<String> {
    let mut args = vec![
        "--listen".into(),
        listen.into(),
        "--backend-url".into(),
        backend_url.into(),
    ];
    match replicas {
        ReplicaDiscovery::Static(urls) if !urls.is_empty() => {
            args.push("--backend-replicas".into());
            args.push(urls.join(","));
        }
        ReplicaDiscovery::Static(_) => {}
        ReplicaDiscovery::Headless(host_port) => {
            args.push("--backend-headless".into());
            args.push(host_port.clone());
        }
    }
    args.push("--loadgen-url".into());
    args.push(loadgen_url.into());
    args
}

/// How long a load-generator connection lives before it is replaced. Kubernetes Services
/// balance connections, not requests: without recycling a scaled-up replica gets no traffic.
pub const LOADGEN_CONN_MAX_AGE: &str = "1s";

/// The load generator's flags. `shard` is `(index, count)` when several generators share the
/// planned load (kube Deployment with `loadgen.replicas > 1`).
pub fn loadgen_args(
    scenario: &Scenario,
    target_url: &str,
    metrics_addr: &str,
    shard: Option<(u32, u32)>,
) -> Vec<String> {
    let load = &scenario.load;
    let mut args = vec![
        "--target".into(),
        target_url.into(),
        "--base-rps".into(),
        load.base_rps.to_string(),
        "--ramp-factor".into(),
        load.ramp_factor.to_string(),
        "--ramp-interval".into(),
        load.ramp_interval.to_string(),
        "--duration".into(),
        load.run_duration.to_string(),
        "--actions".into(),
        scenario.actions.clone(),
        "--metrics-addr".into(),
        metrics_addr.into(),
        "--conn-max-age".into(),
        LOADGEN_CONN_MAX_AGE.into(),
        // A generator that starts before the backend Service answers (a pod scheduled
        // early) waits for its /readyz instead of failing at once.
        "--wait-for-target".into(),
    ];
    if let Some(max) = load.max_rps {
        args.push("--max-rps".into());
        args.push(max.to_string());
    }
    if let Some((index, count)) = shard {
        args.push("--shard".into());
        args.push(format!("{index}/{count}"));
    }
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value_of<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
        let i = args.iter().position(|a| a == flag)?;
        args.get(i + 1).map(String::as_str)
    }

    #[test]
    fn backend_args_carry_the_capacity_model() {
        let s = Scenario::default();
        let args = backend_args(&s, "0.0.0.0:8080", "backend-0");
        assert_eq!(value_of(&args, "--workers"), Some("4"));
        assert_eq!(value_of(&args, "--service-time"), Some("20ms"));
        assert_eq!(value_of(&args, "--queue"), Some("32"));
        assert_eq!(value_of(&args, "--replica-name"), Some("backend-0"));
    }

    #[test]
    fn loadgen_args_carry_the_ramp_cap_and_shard() {
        let s = Scenario::default();
        let args = loadgen_args(&s, "http://b", "127.0.0.1:0", Some((1, 3)));
        assert_eq!(value_of(&args, "--base-rps"), Some("10"));
        assert_eq!(value_of(&args, "--ramp-factor"), Some("5"));
        assert_eq!(value_of(&args, "--ramp-interval"), Some("5s"));
        assert_eq!(value_of(&args, "--duration"), Some("1m30s"));
        assert_eq!(value_of(&args, "--max-rps"), Some("300"));
        assert_eq!(value_of(&args, "--shard"), Some("1/3"));
        assert!(args.iter().any(|a| a == "--wait-for-target"));
    }

    #[test]
    fn frontend_args_choose_static_or_headless_discovery() {
        let st = ReplicaDiscovery::Static(vec!["http://a".into(), "http://b".into()]);
        let args = frontend_args("l", "http://svc", &st, "http://lg");
        assert_eq!(
            value_of(&args, "--backend-replicas"),
            Some("http://a,http://b")
        );
        let hl = ReplicaDiscovery::Headless("backend-headless:8080".into());
        let args = frontend_args("l", "http://svc", &hl, "http://lg");
        assert_eq!(
            value_of(&args, "--backend-headless"),
            Some("backend-headless:8080")
        );
        assert_eq!(value_of(&args, "--backend-replicas"), None);
    }
}
