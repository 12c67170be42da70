//! The typed builders: labels, selectors that match their pod templates, probes, resources,
//! the restricted security context, Services, and the Prometheus config parsed back.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, Probe};
use orchestrator::kube::build::{Object, pod, prometheus};
use orchestrator::kube::labels;
use orchestrator::kube::meta;
use scenario::{LoadgenKind, Scenario, ServiceType};

use super::{objects, sharded, templates};

fn every_scenario() -> Vec<Scenario> {
    let mut no_prepull = Scenario::default();
    no_prepull.prepull = false;
    no_prepull.frontend_service_type = ServiceType::ClusterIP;
    vec![
        Scenario::default(),
        sharded(LoadgenKind::Deployment),
        sharded(LoadgenKind::Job),
        no_prepull,
    ]
}

fn is_subset(small: &BTreeMap<String, String>, big: &BTreeMap<String, String>) -> bool {
    small.iter().all(|(k, v)| big.get(k) == Some(v))
}

#[test]
fn every_object_carries_the_run_labels() {
    for s in every_scenario() {
        for o in objects(&s) {
            let l = o.meta().labels.clone().unwrap_or_default();
            assert_eq!(l.get(labels::UUID), Some(&s.uuid), "{}", o.describe());
            assert_eq!(
                l.get(labels::MANAGED_BY).map(String::as_str),
                Some(labels::MANAGER),
                "{}",
                o.describe()
            );
            assert_eq!(
                l.get(labels::PART_OF),
                Some(&s.app_name),
                "{}",
                o.describe()
            );
            assert_eq!(
                l.get(labels::INSTANCE),
                Some(&s.namespace()),
                "{}",
                o.describe()
            );
            if let Object::Namespace(_) = o {
                assert_eq!(o.name(), "app-demo-demo-run-001");
                assert_eq!(
                    l.get(meta::POD_SECURITY_ENFORCE).map(String::as_str),
                    Some("restricted")
                );
                continue;
            }
            // Cluster-scoped objects have no namespace; their name carries the run's.
            if matches!(o, Object::ClusterRole(_) | Object::ClusterRoleBinding(_)) {
                assert_eq!(o.meta().namespace, None, "{}", o.describe());
                assert!(o.name().starts_with(&s.namespace()), "{}", o.describe());
            } else {
                assert_eq!(o.meta().namespace.as_deref(), Some(s.namespace().as_str()));
            }
            let job = l.get(labels::JOB).expect("job label");
            assert!(
                meta::Job::parse(job).is_some(),
                "{}: job {job}",
                o.describe()
            );
            assert_eq!(l.get(labels::COMPONENT), Some(job), "{}", o.describe());
            assert!(l.contains_key(labels::NAME), "{}", o.describe());
        }
    }
}

#[test]
fn selectors_are_never_empty_and_match_their_pod_templates() {
    for s in every_scenario() {
        let objects = objects(&s);
        for o in &objects {
            let selector = match o {
                Object::Deployment(d) => d.spec.as_ref().map(|x| x.selector.clone()),
                Object::DaemonSet(d) => d.spec.as_ref().map(|x| x.selector.clone()),
                _ => continue,
            }
            .and_then(|sel| sel.match_labels)
            .unwrap_or_default();
            assert!(selector.len() >= 3, "{}: {selector:?}", o.describe());
            let (_, t) = templates(std::slice::from_ref(o)).remove(0);
            let tl = t.metadata.and_then(|m| m.labels).unwrap_or_default();
            assert!(
                is_subset(&selector, &tl),
                "{}: {selector:?} vs {tl:?}",
                o.describe()
            );
        }
        // Every Service selects the pods of exactly one job, and some workload has them.
        let pod_labels: Vec<_> = templates(&objects)
            .into_iter()
            .map(|(_, t)| t.metadata.and_then(|m| m.labels).unwrap_or_default())
            .collect();
        for o in &objects {
            let Object::Service(svc) = o else { continue };
            let sel = svc
                .spec
                .as_ref()
                .and_then(|x| x.selector.clone())
                .unwrap_or_default();
            assert!(
                sel.contains_key(labels::JOB) && sel.contains_key(labels::UUID),
                "{}",
                o.describe()
            );
            assert!(
                pod_labels.iter().any(|l| is_subset(&sel, l)),
                "{} selects no pod template",
                o.describe()
            );
        }
    }
}

#[test]
fn loadgen_shards_do_not_share_a_selector() {
    let objects = objects(&sharded(LoadgenKind::Deployment));
    let selectors: Vec<_> = objects
        .iter()
        .filter_map(|o| match o {
            Object::Deployment(d) if o.name().starts_with("loadgen") => d
                .spec
                .as_ref()
                .and_then(|x| x.selector.match_labels.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(selectors.len(), 3);
    for (i, a) in selectors.iter().enumerate() {
        for b in &selectors[i + 1..] {
            assert_ne!(a, b);
        }
    }
}

pub(crate) fn containers(t: &k8s_openapi::api::core::v1::PodTemplateSpec) -> Vec<Container> {
    let spec = t.spec.clone().unwrap_or_default();
    let mut all = spec.init_containers.unwrap_or_default();
    all.extend(spec.containers);
    all
}

#[test]
fn every_container_is_restricted_pull_if_not_present_and_bounded() {
    for s in every_scenario() {
        for (what, t) in templates(&objects(&s)) {
            let psc = t
                .spec
                .as_ref()
                .and_then(|p| p.security_context.clone())
                .expect(&what);
            assert_eq!(psc.run_as_non_root, Some(true), "{what}");
            assert_eq!(
                psc.seccomp_profile.map(|p| p.type_).as_deref(),
                Some("RuntimeDefault"),
                "{what}"
            );
            for c in containers(&t) {
                let who = format!("{what} container {}", c.name);
                assert_eq!(
                    c.image_pull_policy.as_deref(),
                    Some("IfNotPresent"),
                    "{who}"
                );
                let sc = c.security_context.clone().expect(&who);
                assert_eq!(sc.run_as_non_root, Some(true), "{who}");
                assert!(
                    sc.run_as_user.is_some_and(|u| u > 0),
                    "{who}: numeric non-root user"
                );
                assert_eq!(sc.read_only_root_filesystem, Some(true), "{who}");
                assert_eq!(sc.allow_privilege_escalation, Some(false), "{who}");
                assert_eq!(
                    sc.capabilities.and_then(|c| c.drop),
                    Some(vec!["ALL".to_owned()]),
                    "{who}"
                );
                assert_eq!(
                    sc.seccomp_profile.map(|p| p.type_).as_deref(),
                    Some("RuntimeDefault"),
                    "{who}"
                );
                let r = c.resources.clone().expect(&who);
                for m in [r.requests.expect(&who), r.limits.expect(&who)] {
                    assert!(
                        m.contains_key("cpu") && m.contains_key("memory"),
                        "{who}: {m:?}"
                    );
                }
            }
        }
    }
}

fn probe_path(p: &Option<Probe>) -> Option<String> {
    p.as_ref()?.http_get.as_ref()?.path.clone()
}

#[test]
fn services_have_health_and_readiness_probes() {
    let objects = objects(&Scenario::default());
    let mut seen = Vec::new();
    for (what, t) in templates(&objects) {
        for c in containers(&t) {
            if what.starts_with("DaemonSet") {
                continue; // pre-pull containers only run --version, then pause
            }
            let (live, ready) = (
                probe_path(&c.liveness_probe),
                probe_path(&c.readiness_probe),
            );
            let expected = match c.name.as_str() {
                "backend" | "frontend" => ("/healthz", "/readyz"),
                "prometheus" => ("/-/healthy", "/-/ready"),
                "loadgen" => ("/metrics", "/metrics"),
                other => panic!("unexpected container {other}"),
            };
            assert_eq!(
                (live.as_deref(), ready.as_deref()),
                (Some(expected.0), Some(expected.1)),
                "{what}"
            );
            seen.push(c.name.clone());
        }
    }
    seen.sort();
    assert_eq!(seen, ["backend", "frontend", "loadgen", "prometheus"]);
}

#[test]
fn services_expose_what_the_scenario_says() {
    let svc = |s: &Scenario, name: &str| {
        objects(s)
            .into_iter()
            .find_map(|o| match o {
                Object::Service(x) if x.metadata.name.as_deref() == Some(name) => x.spec,
                _ => None,
            })
            .unwrap()
    };
    let s = Scenario::default();
    let f = svc(&s, "frontend");
    assert_eq!(f.type_.as_deref(), Some("NodePort"));
    assert_eq!(f.ports.unwrap()[0].node_port, Some(30080));
    let p = svc(&s, "prometheus");
    assert_eq!(p.type_.as_deref(), Some("NodePort"));
    assert_eq!(p.ports.unwrap()[0].node_port, Some(30090));
    assert_eq!(
        svc(&s, "backend-headless").cluster_ip.as_deref(),
        Some("None")
    );
    assert_eq!(svc(&s, "backend").type_.as_deref(), Some("ClusterIP"));
    let mut c = Scenario::default();
    c.frontend_service_type = ServiceType::ClusterIP;
    let f = svc(&c, "frontend");
    assert_eq!(f.type_.as_deref(), Some("ClusterIP"));
    assert_eq!(f.ports.unwrap()[0].node_port, None);
}

#[test]
fn prometheus_discovers_annotated_pods_in_the_namespace_only() {
    let s = Scenario::default();
    let objects = objects(&s);
    let cm = objects
        .iter()
        .find_map(|o| match o {
            Object::ConfigMap(c) => Some(c.clone()),
            _ => None,
        })
        .unwrap();
    let text = &cm.data.unwrap()[prometheus::CONFIG_FILE];
    // Parsed back as plain YAML, the way Prometheus reads it.
    let v: serde_norway::Value = serde_norway::from_str(text).unwrap();
    let job = &v["scrape_configs"][0];
    assert_eq!(
        job["kubernetes_sd_configs"][0]["role"].as_str(),
        Some("pod")
    );
    assert_eq!(
        job["kubernetes_sd_configs"][0]["namespaces"]["names"][0].as_str(),
        Some("app-demo-demo-run-001")
    );
    let relabels = job["relabel_configs"].as_sequence().unwrap();
    let keep = &relabels[0];
    assert_eq!(keep["action"].as_str(), Some("keep"));
    assert_eq!(
        keep["source_labels"][0].as_str(),
        Some("__meta_kubernetes_pod_annotation_prometheus_io_scrape")
    );
    assert!(
        relabels
            .iter()
            .any(|r| r["target_label"].as_str() == Some("__metrics_path__"))
    );
    assert!(
        relabels
            .iter()
            .any(|r| r["target_label"].as_str() == Some("__address__")
                && r["replacement"].as_str() == Some("$1:$2"))
    );
    assert!(
        relabels.iter().any(|r| r["source_labels"][0].as_str()
            == Some("__meta_kubernetes_pod_label_load_demo_io_job"))
    );
    // And into the typed model, unchanged.
    let typed: prometheus::PromConfig = serde_norway::from_str(text).unwrap();
    assert_eq!(typed, prometheus::config(&s));

    let role = objects
        .iter()
        .find_map(|o| match o {
            Object::Role(r) => Some(r.clone()),
            _ => None,
        })
        .unwrap();
    let rule = &role.rules.unwrap()[0];
    assert_eq!(rule.resources.as_deref(), Some(&["pods".to_owned()][..]));
    assert_eq!(rule.verbs, ["get", "list", "watch"]);
    let binding = objects
        .iter()
        .find_map(|o| match o {
            Object::RoleBinding(r) => Some(r.clone()),
            _ => None,
        })
        .unwrap();
    let subject = &binding.subjects.unwrap()[0];
    assert_eq!(
        (subject.kind.as_str(), subject.name.as_str()),
        ("ServiceAccount", "prometheus")
    );
    assert_eq!(subject.namespace.as_deref(), Some("app-demo-demo-run-001"));
}

#[test]
fn prepull_runs_every_distinct_image_then_pauses() {
    let mut s = Scenario::default();
    s.frontend.image = s.backend.image.clone();
    s.pause_image = "mirror.local/pause:3.10".into();
    let ds = objects(&s)
        .into_iter()
        .find_map(|o| match o {
            Object::DaemonSet(d) => Some(d),
            _ => None,
        })
        .unwrap();
    let pod = ds.spec.unwrap().template.spec.unwrap();
    let init = pod.init_containers.unwrap();
    let images: Vec<_> = init.iter().map(|c| c.image.clone().unwrap()).collect();
    assert_eq!(
        images,
        [
            s.backend.image.clone(),
            s.loadgen.image.clone(),
            s.prometheus.image.clone()
        ],
        "each image once"
    );
    assert!(
        init.iter()
            .all(|c| c.args.as_deref() == Some(&["--version".to_owned()][..]))
    );
    assert_eq!(
        pod.containers[0].image.as_deref(),
        Some("mirror.local/pause:3.10")
    );
    let mut off = Scenario::default();
    off.prepull = false;
    assert!(
        !objects(&off)
            .iter()
            .any(|o| matches!(o, Object::DaemonSet(_)))
    );
}

#[test]
fn pod_security_is_restricted_at_the_pod_level_too() {
    let p = pod::pod_security();
    assert_eq!(p.run_as_non_root, Some(true));
    assert_eq!(p.fs_group, Some(pod::RUN_AS_USER));
}

#[test]
fn an_invalid_scenario_is_refused_naming_the_key() {
    let mut s = Scenario::default();
    s.namespace_prefix = "App_Demo".into();
    let e = orchestrator::kube::build::plan(&s).unwrap_err().to_string();
    assert!(
        e.contains("namespace_prefix") && e.contains("App_Demo"),
        "{e}"
    );
    let mut s = Scenario::default();
    s.loadgen.replicas = 0;
    let e = orchestrator::kube::build::plan(&s).unwrap_err().to_string();
    assert!(e.contains("loadgen.replicas"), "{e}");
}
