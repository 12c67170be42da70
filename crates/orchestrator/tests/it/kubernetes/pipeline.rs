//! The pipeline workload on the kube runtime: its manifests (Redis, the workers, the
//! backend's `--redis-url`) read back into their types, and a whole run against the fake API
//! server that deploys Redis before its clients, samples the workers through the pod proxy,
//! names the gap of workers too old to serve Redis' reading, and cleans up (the loss check
//! itself, against real processes: `pipeline_loss.rs`).

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Container, PodSpec, Service};
use orchestrator::kube::build::pipeline::{REDIS_PORT, REDIS_USER, WORKER_COMMAND};
use orchestrator::kube::render_manifests;
use orchestrator::timeline;
use scenario::Scenario;

use super::fake::{Behaviour, FakeApi};
use super::read_back;
use super::run::{NS, completed_run, quick};

/// A pipeline scenario as `--runtime kube --set workload=pipeline` resolves it.
fn pipeline_on_kube(extra: &[&str]) -> Scenario {
    super::on_kube(&[&["workload=pipeline", "worker_replicas=3"], extra].concat())
}

fn deployment<'a>(all: &'a [(String, Deployment)], name: &str) -> (usize, &'a Deployment) {
    let i = all
        .iter()
        .position(|(_, d)| d.metadata.name.as_deref() == Some(name))
        .unwrap_or_else(|| panic!("a Deployment {name}"));
    (i, &all[i].1)
}

fn pod(d: &Deployment) -> &PodSpec {
    d.spec.as_ref().unwrap().template.spec.as_ref().unwrap()
}

fn args(c: &Container) -> Vec<&str> {
    c.args.iter().flatten().map(String::as_str).collect()
}

/// The value after `flag` in `args`.
fn flag<'a>(args: &[&'a str], flag: &str) -> Option<&'a str> {
    args.iter()
        .position(|a| *a == flag)
        .and_then(|i| args.get(i + 1).copied())
}

#[test]
fn rendered_pipeline_manifests_read_back_with_redis_restricted_and_wired() {
    let s = pipeline_on_kube(&["redis_image=mirror.local/redis:7.2-alpine"]);
    let deployments: Vec<(String, Deployment)> = read_back(&s, "deployment");
    let (redis_at, redis) = deployment(&deployments, "redis");
    let (backend_at, backend) = deployment(&deployments, "backend");
    let (worker_at, worker) = deployment(&deployments, "worker");
    // Applied (and numbered for `kubectl apply -f`) before the clients that connect to it.
    assert!(redis_at < backend_at && redis_at < worker_at);

    let redis_pod = pod(redis);
    let c = &redis_pod.containers[0];
    assert_eq!(c.image.as_deref(), Some("mirror.local/redis:7.2-alpine"));
    assert_eq!(args(c), ["--save", "", "--appendonly", "no"]);
    let sc = c.security_context.as_ref().unwrap();
    assert_eq!(sc.run_as_non_root, Some(true));
    assert_eq!(sc.run_as_user, Some(REDIS_USER));
    assert_eq!(sc.allow_privilege_escalation, Some(false));
    assert_eq!(
        sc.capabilities.as_ref().unwrap().drop.as_deref(),
        Some(&["ALL".to_owned()][..])
    );
    assert_eq!(sc.seccomp_profile.as_ref().unwrap().type_, "RuntimeDefault");
    assert_eq!(
        redis_pod.security_context.as_ref().unwrap().fs_group,
        Some(REDIS_USER)
    );
    let ready = c.readiness_probe.as_ref().unwrap().tcp_socket.as_ref();
    assert!(ready.is_some(), "a TCP readiness probe: {c:?}");
    let port = &c.ports.as_ref().unwrap()[0];
    assert_eq!(port.container_port, i32::from(REDIS_PORT));
    let mount = &c.volume_mounts.as_ref().unwrap()[0];
    assert_eq!(mount.mount_path, "/data");
    let volume = &redis_pod.volumes.as_ref().unwrap()[0];
    assert_eq!(volume.name, mount.name);
    assert!(volume.empty_dir.is_some(), "{volume:?}");

    // kubectl reads YAML 1.1, where a plain `no` is `false`.
    let files = render_manifests(&s).unwrap();
    let (_, yaml) = files
        .iter()
        .find(|(f, _)| f.ends_with("-deployment-redis.yaml"))
        .unwrap();
    assert!(yaml.contains("- --appendonly\n        - 'no'\n"), "{yaml}");

    let services: Vec<(String, Service)> = read_back(&s, "service");
    let svc = services
        .iter()
        .find(|(_, x)| x.metadata.name.as_deref() == Some("redis"))
        .map(|(_, x)| x.spec.as_ref().unwrap())
        .expect("a Service redis");
    assert_eq!(svc.type_.as_deref(), Some("ClusterIP"));
    assert_eq!(svc.ports.as_ref().unwrap()[0].port, i32::from(REDIS_PORT));
    // The Service selects exactly Redis' pods.
    let labels = redis.spec.as_ref().unwrap().template.metadata.as_ref();
    let labels = labels.unwrap().labels.as_ref().unwrap();
    assert!(
        svc.selector
            .as_ref()
            .unwrap()
            .iter()
            .all(|(k, v)| labels.get(k) == Some(v))
    );

    let url = format!("redis://redis:{REDIS_PORT}");
    let b = args(&pod(backend).containers[0]);
    assert_eq!(flag(&b, "--redis-url"), Some(url.as_str()), "{b:?}");

    assert_eq!(worker.spec.as_ref().unwrap().replicas, Some(3));
    let w = &pod(worker).containers[0];
    assert_eq!(w.image, pod(backend).containers[0].image);
    assert_eq!(w.command.as_deref(), Some(&[WORKER_COMMAND.to_owned()][..]));
    let wa = args(w);
    assert_eq!(flag(&wa, "--redis-url"), Some(url.as_str()));
    assert_eq!(flag(&wa, "--consumer"), Some("$(POD_NAME)"));
    assert_eq!(flag(&wa, "--batch"), Some("16"));
    assert!(w.readiness_probe.is_some() && w.liveness_probe.is_some());
    let tpl = worker
        .spec
        .as_ref()
        .unwrap()
        .template
        .metadata
        .as_ref()
        .unwrap();
    let tl = tpl.labels.as_ref().unwrap();
    assert_eq!(
        tl.get("load-demo.io/job").map(String::as_str),
        Some("worker")
    );
    let ann = tpl.annotations.as_ref().unwrap();
    assert_eq!(
        ann.get("prometheus.io/scrape").map(String::as_str),
        Some("true")
    );

    // A movie-night render has none of it.
    let plain: Vec<(String, Deployment)> = read_back(&Scenario::default(), "deployment");
    assert!(
        plain
            .iter()
            .all(|(f, _)| !f.contains("redis") && !f.contains("worker"))
    );
    let b = args(&pod(deployment(&plain, "backend").1).containers[0]);
    assert_eq!(flag(&b, "--redis-url"), None);
}

#[test]
fn a_worker_named_like_redis_is_refused_naming_the_key() {
    let mut s = pipeline_on_kube(&[]);
    s.pipeline.worker.name = "redis".into();
    let e = orchestrator::kube::build::plan(&s).unwrap_err().to_string();
    assert!(e.contains("worker_name"), "{e}");
}

/// A pipeline scenario (with `extra` sets) with [`quick`]'s pauses, timeout and uuid.
pub(crate) fn quick_pipeline(extra: &[&str]) -> Scenario {
    let mut s = pipeline_on_kube(extra);
    let q = quick();
    s.baseline_pause = q.baseline_pause;
    s.load_pause = q.load_pause;
    s.load_scale_delay = q.load_scale_delay;
    s.ready_timeout = q.ready_timeout;
    s.uuid = q.uuid;
    s
}

#[tokio::test(start_paused = true)]
async fn a_pipeline_run_deploys_redis_first_samples_the_workers_and_cleans_up() {
    let fake = FakeApi::start(Behaviour::default());
    let runs = tempfile::tempdir().unwrap();
    let s = quick_pipeline(&[]);
    let result = completed_run(&fake, &s, runs.path()).await;
    let writes = fake.writes();
    let at = |w: String| {
        writes
            .iter()
            .position(|x| *x == w)
            .unwrap_or_else(|| panic!("{w} in {writes:#?}"))
    };
    let d = |n: &str| format!("PATCH /apis/apps/v1/namespaces/{NS}/deployments/{n}");
    let redis_svc = at(format!("PATCH /api/v1/namespaces/{NS}/services/redis"));
    assert!(redis_svc < at(d("redis")));
    assert!(at(d("redis")) < at(d("backend")));
    assert!(at(d("backend")) < at(d("worker")));
    // The fake's controllers made Redis' and the workers' pods, admitted under "restricted",
    // and they became ready (their pod latency is in kube.json).
    let kube: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(runs.path().join(&s.uuid).join("kube.json")).unwrap(),
    )
    .unwrap();
    for job in ["redis", "worker"] {
        assert!(
            kube["pod_latency_by_component"][job].is_array(),
            "{job}: {kube:#}"
        );
    }

    let report = &result.report;
    let deployed = report.phase(timeline::phase::DEPLOY).unwrap().end;
    let unload = report.phase(timeline::phase::UNLOAD).unwrap().start;
    // Once deployed, every worker was read through the pod proxy in every round: the fake's
    // page counts 7 consumed per worker, so the three make 21. The fake's workers play an
    // image older than /api/pipeline (404): Redis' reading is the one gap, named with the fix.
    let sampled: Vec<_> = report
        .points
        .iter()
        .filter(|p| p.t > deployed && p.t < unload)
        .map(|p| (p.gaps.clone(), p.pipeline.as_ref().map(|x| x.consumed)))
        .collect();
    assert!(!sampled.is_empty());
    assert!(
        sampled.iter().all(|(gaps, c)| *c == Some(21.0)
            && gaps.len() == 1
            && gaps[0].starts_with("redis: ")
            && gaps[0].contains("/api/pipeline (HTTP 404)")
            && gaps[0].contains("rebuild")),
        "{sampled:?}"
    );
    let section = report.pipeline.as_ref().expect("a pipeline section");
    assert!(
        section.loss.is_none() && section.redis_unreachable.is_none(),
        "no loss check without a reading, and Redis is not said to be down: {section:?}"
    );
    assert!(
        section
            .notes
            .iter()
            .any(|n| n.starts_with("no loss check: ") && n.contains("predates the route")),
        "{:?}",
        section.notes
    );
    assert_eq!(
        writes.last().unwrap(),
        &format!("DELETE /api/v1/namespaces/{NS}")
    );
    assert!(fake.object(&format!("/api/v1/namespaces/{NS}")).is_none());
}

#[tokio::test(start_paused = true)]
async fn kill_worker_at_deletes_a_worker_pod_at_once_and_the_run_goes_on() {
    let fake = FakeApi::start(Behaviour::default());
    let runs = tempfile::tempdir().unwrap();
    let mut s = quick_pipeline(&["kill_worker_at=1s"]);
    s.load_pause = common::HumanDuration::from_secs(5);
    let result = completed_run(&fake, &s, runs.path()).await;
    let deletes: Vec<_> = fake
        .calls()
        .into_iter()
        .filter(|c| {
            c.method == "DELETE"
                && c.path
                    .starts_with(&format!("/api/v1/namespaces/{NS}/pods/worker-"))
        })
        .collect();
    assert_eq!(deletes.len(), 1, "{deletes:#?}");
    let body = deletes[0].body.as_ref().expect("delete options");
    assert_eq!(body["gracePeriodSeconds"], 0, "{body}");
    let pod = deletes[0].path.rsplit('/').next().unwrap();
    let note = result
        .report
        .notes
        .iter()
        .find(|n| n.starts_with("kill_worker_at 1s"))
        .unwrap_or_else(|| panic!("{:?}", result.report.notes));
    assert!(
        note.contains(&format!("deleted worker pod {pod} with no grace period")),
        "{note}"
    );
    // The load phase began before the kill and lasted past it.
    let load = result.report.phase(timeline::phase::LOAD).unwrap();
    assert!(load.end - load.start >= 5.0, "{load:?}");
}
