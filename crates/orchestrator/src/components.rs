//! Scenario → component command lines, shared by both runtimes.
//!
//! The local runtime feeds these to each component's `Opts::try_parse_from` in-process; the
//! Kubernetes runtime uses them as container args. One builder per component means a scenario
//! key has the same effect wherever the stack runs. Args never include the program name.

use scenario::{LoadMode, LoadPlan, Scenario};

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

/// The pipeline's flags of a backend replica: the Redis its orders go to.
pub fn backend_pipeline_args(redis_url: &str) -> Vec<String> {
    vec!["--redis-url".into(), redis_url.into()]
}

/// A pipeline worker's flags: its Redis, its consumer name in the group (its instance: a
/// restarted worker takes up its own pending entries), and the work per order.
pub fn worker_args(
    scenario: &Scenario,
    listen: &str,
    redis_url: &str,
    consumer: &str,
) -> Vec<String> {
    let p = &scenario.pipeline;
    vec![
        "--listen".into(),
        listen.into(),
        "--redis-url".into(),
        redis_url.into(),
        "--consumer".into(),
        consumer.into(),
        "--work-cpu".into(),
        p.work_cpu.to_string(),
        "--work-memory".into(),
        p.work_memory.to_string(),
        "--batch".into(),
        p.batch.to_string(),
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

/// Keeps a generator whose plan is shorter than the load phases serving its final counts
/// until it is stopped: a scrape after the end still reads them, and a Deployment does not
/// restart a generator that is done. A Job's pod must end instead (see kube's Job builder).
pub const LINGER: &str = "--linger";

/// The flags of one plan's load generator. `shard` is `(index, count)` when several
/// generators share the plan's load (kube Deployment with `loadgen.replicas > 1`).
pub fn loadgen_args(
    plan: &LoadPlan,
    target_url: &str,
    metrics_addr: &str,
    shard: Option<(u32, u32)>,
) -> Vec<String> {
    let load = &plan.load;
    let mut args = vec!["--target".into(), target_url.into()];
    // The loadgen refuses the ramp's flags next to stages or a profile, as `resolve` does.
    // The loadgen refuses every open-loop shape flag next to virtual users, as `resolve` does.
    if let Some(stages) = &load.vu_stages {
        args.extend(["--vu-stages".into(), stages.clone()]);
    } else if load.vus > 0 {
        args.extend([
            "--vus".into(),
            load.vus.to_string(),
            "--duration".into(),
            load.run_duration.to_string(),
        ]);
    } else if let Some(stages) = &load.stages {
        args.extend(["--stages".into(), stages.clone()]);
    } else if let Some(profile) = &load.profile {
        args.extend(["--profile".into(), profile.clone()]);
    } else {
        args.extend([
            "--base-rps".into(),
            load.base_rps.to_string(),
            "--ramp-factor".into(),
            load.ramp_factor.to_string(),
            "--ramp-interval".into(),
            load.ramp_interval.to_string(),
            "--duration".into(),
            load.run_duration.to_string(),
        ]);
        if let Some(max) = load.max_rps {
            args.extend(["--max-rps".into(), max.to_string()]);
        }
    }
    if load.is_closed_loop() {
        if let Some(think) = &load.think_time {
            args.extend(["--think-time".into(), think.clone()]);
        }
    } else {
        args.extend(["--arrival".into(), load.arrival.as_str().into()]);
    }
    args.extend([
        "--seed".into(),
        load.seed.to_string(),
        "--actions".into(),
        plan.actions.clone(),
        "--metrics-addr".into(),
        metrics_addr.into(),
        "--conn-max-age".into(),
        LOADGEN_CONN_MAX_AGE.into(),
        // A generator that starts before the backend Service answers (a pod scheduled
        // early) waits for its /readyz instead of failing at once.
        "--wait-for-target".into(),
        LINGER.into(),
    ]);
    if load.mode != LoadMode::Sync {
        args.extend(["--mode".into(), load.mode.as_str().into()]);
    }
    if let Some((index, count)) = shard {
        args.push("--shard".into());
        args.push(format!("{index}/{count}"));
    }
    args
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    /// The one plan of a scenario without `[[load]]` entries.
    fn main(s: &Scenario) -> LoadPlan {
        s.load_plans().remove(0)
    }

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
    fn worker_args_parse_as_the_worker_binary_would() {
        let mut s = Scenario::default();
        s.pipeline.work_cpu = common::HumanDuration::from_millis(3);
        s.pipeline.work_memory = 4096;
        s.pipeline.batch = 8;
        let args = worker_args(&s, "127.0.0.1:0", "redis://127.0.0.1:6390", "worker-1");
        let config = <demo_backend::worker::WorkerOpts as clap::Parser>::try_parse_from(
            std::iter::once("demo-worker".to_owned()).chain(args),
        )
        .unwrap()
        .into_config()
        .unwrap();
        assert_eq!(config.consumer, "worker-1");
        assert_eq!(config.redis_url, "redis://127.0.0.1:6390");
        assert_eq!(config.work_cpu, std::time::Duration::from_millis(3));
        assert_eq!((config.work_memory, config.batch), (4096, 8));
    }

    #[test]
    fn loadgen_args_carry_the_ramp_cap_and_shard() {
        let args = loadgen_args(
            &main(&Scenario::default()),
            "http://b",
            "127.0.0.1:0",
            Some((1, 3)),
        );
        assert_eq!(value_of(&args, "--base-rps"), Some("10"));
        assert_eq!(value_of(&args, "--ramp-factor"), Some("5"));
        assert_eq!(value_of(&args, "--ramp-interval"), Some("5s"));
        assert_eq!(value_of(&args, "--duration"), Some("1m30s"));
        assert_eq!(value_of(&args, "--max-rps"), Some("300"));
        assert_eq!(value_of(&args, "--shard"), Some("1/3"));
        assert!(args.iter().any(|a| a == "--wait-for-target"));
        assert!(args.iter().any(|a| a == LINGER));
        assert_eq!(value_of(&args, "--arrival"), Some("uniform"));
        assert_eq!(value_of(&args, "--seed"), Some("1"));
        assert_eq!(value_of(&args, "--stages"), None);
        assert_eq!(value_of(&args, "--mode"), None);
    }

    #[test]
    fn loadgen_args_carry_stages_instead_of_the_ramp() {
        let mut s = Scenario::default();
        s.load.stages = Some("4s:40,3s:0".into());
        s.load.arrival = scenario::Arrival::Poisson;
        s.load.seed = 7;
        let args = loadgen_args(&main(&s), "http://b", "127.0.0.1:0", None);
        assert_eq!(value_of(&args, "--stages"), Some("4s:40,3s:0"));
        assert_eq!(value_of(&args, "--arrival"), Some("poisson"));
        assert_eq!(value_of(&args, "--seed"), Some("7"));
        for ramp in [
            "--base-rps",
            "--ramp-factor",
            "--ramp-interval",
            "--duration",
            "--max-rps",
        ] {
            assert_eq!(value_of(&args, ramp), None, "{ramp} next to --stages");
        }
        // The real parser takes them: the flags are the load generator's own.
        let mut argv = vec!["loadgen".to_owned()];
        argv.extend(args);
        loadgen::Opts::try_parse_from(argv).expect("loadgen accepts the stage arguments");
    }

    #[test]
    fn loadgen_args_carry_virtual_users_and_their_think_time() {
        let mut s = Scenario::default();
        s.load.vus = 12;
        s.load.think_time = Some("100ms..300ms".into());
        let args = loadgen_args(&main(&s), "http://b", "127.0.0.1:0", None);
        assert_eq!(value_of(&args, "--vus"), Some("12"));
        assert_eq!(value_of(&args, "--duration"), Some("1m30s"));
        assert_eq!(value_of(&args, "--think-time"), Some("100ms..300ms"));
        for open_loop in ["--base-rps", "--arrival", "--max-rps", "--stages"] {
            assert_eq!(
                value_of(&args, open_loop),
                None,
                "{open_loop} next to --vus"
            );
        }
        let mut argv = vec!["loadgen".to_owned()];
        argv.extend(args);
        let config = loadgen::Opts::try_parse_from(argv).unwrap().into_config();
        assert!(config.is_ok(), "{:?}", config.err());
        s.load.vus = 0;
        s.load.vu_stages = Some("2s:5,2s:0".into());
        let args = loadgen_args(&main(&s), "http://b", "127.0.0.1:0", None);
        assert_eq!(value_of(&args, "--vu-stages"), Some("2s:5,2s:0"));
        assert_eq!(value_of(&args, "--duration"), None);
        let mut argv = vec!["loadgen".to_owned()];
        argv.extend(args);
        let config = loadgen::Opts::try_parse_from(argv).unwrap().into_config();
        assert!(config.is_ok(), "{:?}", config.err());
    }

    #[test]
    fn loadgen_args_carry_a_profile() {
        let mut s = Scenario::default();
        s.load.profile = Some("spike".into());
        let args = loadgen_args(&main(&s), "http://b", "127.0.0.1:0", None);
        assert_eq!(value_of(&args, "--profile"), Some("spike"));
        assert_eq!(value_of(&args, "--base-rps"), None);
        let mut argv = vec!["loadgen".to_owned()];
        argv.extend(args);
        loadgen::Opts::try_parse_from(argv).expect("loadgen accepts the profile arguments");
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
