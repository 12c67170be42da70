//! What the typed builders tell each container: every load generator shard its own share,
//! the Job's completions and bounds, and the flags backend and frontend share.

use std::collections::BTreeMap;

use orchestrator::kube::build::Object;
use scenario::{LoadgenKind, Scenario};

use super::build::containers;
use super::{objects, sharded, templates};

fn args_of(o: &Object) -> Vec<String> {
    let (_, t) = templates(std::slice::from_ref(o)).remove(0);
    containers(&t)[0].args.clone().unwrap_or_default()
}

fn value_of(args: &[String], flag: &str) -> Option<String> {
    let i = args.iter().position(|a| a == flag)?;
    args.get(i + 1).cloned()
}

#[test]
fn each_loadgen_deployment_runs_its_own_shard() {
    let shards: Vec<_> = objects(&sharded(LoadgenKind::Deployment))
        .iter()
        .filter(|o| matches!(o, Object::Deployment(_)) && o.name().starts_with("loadgen"))
        .map(|o| (o.name().to_owned(), value_of(&args_of(o), "--shard")))
        .collect();
    assert_eq!(
        shards,
        [
            ("loadgen-0".to_owned(), Some("0/3".to_owned())),
            ("loadgen-1".to_owned(), Some("1/3".to_owned())),
            ("loadgen-2".to_owned(), Some("2/3".to_owned())),
        ]
    );
    // One generator: no shard flag, the plain name.
    let single: Vec<_> = objects(&Scenario::default())
        .into_iter()
        .filter(|o| matches!(o, Object::Deployment(_)) && o.name().starts_with("loadgen"))
        .collect();
    assert_eq!(single.len(), 1);
    assert_eq!(single[0].name(), "loadgen");
    assert_eq!(value_of(&args_of(&single[0]), "--shard"), None);
    assert_eq!(
        value_of(&args_of(&single[0]), "--target").as_deref(),
        Some("http://backend:8080")
    );
}

#[test]
fn the_loadgen_job_is_indexed_bounded_and_collected() {
    let s = sharded(LoadgenKind::Job);
    let objects = objects(&s);
    let job = objects
        .iter()
        .find_map(|o| match o {
            Object::Job(j) => Some(j.clone()),
            _ => None,
        })
        .expect("a Job");
    let spec = job.spec.clone().unwrap();
    assert_eq!(spec.completion_mode.as_deref(), Some("Indexed"));
    assert_eq!((spec.completions, spec.parallelism), (Some(3), Some(3)));
    assert_eq!(spec.backoff_limit, Some(0));
    // run_duration 90 s + ready_timeout 120 s.
    assert_eq!(spec.active_deadline_seconds, Some(210));
    assert!(spec.ttl_seconds_after_finished.is_some());
    let pod = spec.template.spec.unwrap();
    assert_eq!(pod.restart_policy.as_deref(), Some("Never"));
    let c = &pod.containers[0];
    let args = c.args.clone().unwrap();
    assert_eq!(
        value_of(&args, "--shard").as_deref(),
        Some("$(SHARD_INDEX)/3")
    );
    let env = c.env.clone().unwrap();
    let idx = env
        .iter()
        .find(|e| e.name == "SHARD_INDEX")
        .expect("SHARD_INDEX env");
    let field = idx
        .value_from
        .as_ref()
        .and_then(|v| v.field_ref.as_ref())
        .unwrap();
    assert_eq!(
        field.field_path,
        "metadata.annotations['batch.kubernetes.io/job-completion-index']"
    );
    assert!(
        !objects
            .iter()
            .any(|o| matches!(o, Object::Deployment(_)) && o.name().starts_with("loadgen"))
    );
}

#[test]
fn backend_and_frontend_get_the_shared_component_flags() {
    let objects = objects(&Scenario::default());
    let by_name = |n: &str| {
        objects
            .iter()
            .find(|o| matches!(o, Object::Deployment(_)) && o.name() == n)
            .unwrap()
            .clone()
    };
    let backend = args_of(&by_name("backend"));
    assert_eq!(
        value_of(&backend, "--listen").as_deref(),
        Some("0.0.0.0:8080")
    );
    assert_eq!(value_of(&backend, "--workers").as_deref(), Some("4"));
    assert_eq!(
        value_of(&backend, "--replica-name").as_deref(),
        Some("$(POD_NAME)")
    );
    let (_, t) = templates(&[by_name("backend")]).remove(0);
    let env = containers(&t)[0].env.clone().unwrap();
    assert!(env.iter().any(|e| {
        e.name == "POD_NAME"
            && e.value_from
                .as_ref()
                .and_then(|v| v.field_ref.as_ref())
                .map(|f| f.field_path.as_str())
                == Some("metadata.name")
    }));
    let ann = t.metadata.unwrap().annotations.unwrap();
    assert_eq!(
        ann.get("prometheus.io/scrape").map(String::as_str),
        Some("true")
    );
    assert_eq!(
        ann.get("prometheus.io/port").map(String::as_str),
        Some("8080")
    );

    let frontend = by_name("frontend");
    let args = args_of(&frontend);
    assert_eq!(
        value_of(&args, "--backend-url").as_deref(),
        Some("http://backend:8080")
    );
    assert_eq!(
        value_of(&args, "--backend-headless").as_deref(),
        Some("backend-headless:8080")
    );
    assert_eq!(
        value_of(&args, "--loadgen-url").as_deref(),
        Some("http://loadgen:2112")
    );
    let (_, t) = templates(&[frontend]).remove(0);
    let env: BTreeMap<_, _> = containers(&t)[0]
        .env
        .clone()
        .unwrap()
        .into_iter()
        .map(|e| (e.name, e.value.unwrap_or_default()))
        .collect();
    assert_eq!(env["BACKEND_URL"], "http://backend:8080");
    assert_eq!(env["BACKEND_HEADLESS"], "backend-headless:8080");
    assert_eq!(env["LOADGEN_URL"], "http://loadgen:2112");
}
