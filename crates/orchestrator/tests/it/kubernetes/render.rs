//! `render`: snapshots of the manifests, and every manifest read back into its type.

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Service, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use orchestrator::kube::build::Object;
use orchestrator::kube::build::keda::ScaledObject;
use orchestrator::kube::{render_manifests, write_manifests};
use scenario::{LoadgenKind, Scenario};

use super::{objects, sharded, two_plans};

/// All files of a render as one document stream, for one snapshot per scenario.
fn stream(s: &Scenario) -> String {
    stream_of(s, |_| true)
}

/// The files of a render whose name `keep` accepts, as one document stream.
fn stream_of(s: &Scenario, keep: impl Fn(&str) -> bool) -> String {
    render_manifests(s)
        .unwrap()
        .into_iter()
        .filter(|(file, _)| keep(file))
        .map(|(file, yaml)| format!("# {file}\n---\n{yaml}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn render_default_scenario() {
    insta::assert_snapshot!(stream(&Scenario::default()));
}

/// `scale_mode = "hpa"` on cpu, with the windows of a short demo.
pub(crate) fn hpa_on_cpu() -> Scenario {
    let mut s = Scenario::default();
    s.autoscale.mode = scenario::ScaleMode::Hpa;
    s.autoscale.metric = scenario::AutoscaleMetric::Cpu;
    s.autoscale.max = 6;
    s.autoscale.target = 70.0;
    s.autoscale.scale_down_stabilization = common::HumanDuration::from_secs(30);
    s
}

#[test]
fn render_an_hpa_on_cpu() {
    let files = render_manifests(&hpa_on_cpu()).unwrap();
    let (_, yaml) = files
        .iter()
        .find(|(f, _)| f.contains("horizontalpodautoscaler-backend"))
        .expect("an HPA manifest");
    insta::assert_snapshot!(yaml);
    assert!(
        render_manifests(&Scenario::default())
            .unwrap()
            .iter()
            .all(|(f, _)| !f.contains("horizontalpodautoscaler")),
        "no HPA in manual mode"
    );
}

/// `scale_mode = "keda"` on each metric its Prometheus trigger reads, and `cpu` (KEDA's
/// own cpu scaler).
pub(crate) fn keda_on(metric: scenario::AutoscaleMetric, target: f64) -> Scenario {
    let mut s = hpa_on_cpu();
    s.autoscale.mode = scenario::ScaleMode::Keda;
    s.autoscale.metric = metric;
    s.autoscale.target = target;
    s.autoscale.sync_period = common::HumanDuration::from_secs(5);
    s
}

fn scaled_objects() -> Vec<Scenario> {
    use scenario::AutoscaleMetric as M;
    vec![
        keda_on(M::RpsPerReplica, 40.0),
        keda_on(M::Utilization, 60.0),
        keda_on(M::P95Latency, 250.0),
        keda_on(M::Cpu, 70.0),
    ]
}

#[test]
fn render_keda_scaled_objects() {
    let yaml: Vec<String> = scaled_objects()
        .iter()
        .map(|s| {
            let files = render_manifests(s).unwrap();
            let (file, yaml) = files
                .iter()
                .find(|(f, _)| f.contains("scaledobject-backend"))
                .expect("a ScaledObject manifest");
            format!("# {} ({file})\n---\n{yaml}", s.autoscale.metric.as_str())
        })
        .collect();
    insta::assert_snapshot!(yaml.join("\n"));
    assert!(
        render_manifests(&hpa_on_cpu())
            .unwrap()
            .iter()
            .all(|(f, _)| !f.contains("scaledobject")),
        "no ScaledObject with an HPA"
    );
}

#[test]
fn render_three_loadgen_jobs() {
    insta::assert_snapshot!(stream(&sharded(LoadgenKind::Job)));
}

/// Each plan: its own shard Deployments, named and labelled with the plan, its own flags
/// (the rest of the stack is the default scenario's).
#[test]
fn render_two_load_plans() {
    let s = two_plans(LoadgenKind::Deployment);
    insta::assert_snapshot!(stream_of(&s, |file| file.contains("loadgen")));
}

/// Reads a manifest back as the k8s-openapi type its `kind` names.
pub(crate) fn parse(yaml: &str) -> Object {
    let v: serde_norway::Value = serde_norway::from_str(yaml).unwrap();
    let kind = v["kind"].as_str().unwrap().to_owned();
    fn de<T: serde::de::DeserializeOwned>(y: &str) -> T {
        serde_norway::from_str(y).unwrap_or_else(|e| panic!("{e}\n{y}"))
    }
    match kind.as_str() {
        "Namespace" => Object::Namespace(de::<Namespace>(yaml)),
        "ServiceAccount" => Object::ServiceAccount(de::<ServiceAccount>(yaml)),
        "Role" => Object::Role(de::<Role>(yaml)),
        "RoleBinding" => Object::RoleBinding(de::<RoleBinding>(yaml)),
        "ClusterRole" => Object::ClusterRole(de::<ClusterRole>(yaml)),
        "ClusterRoleBinding" => Object::ClusterRoleBinding(de::<ClusterRoleBinding>(yaml)),
        "ConfigMap" => Object::ConfigMap(de::<ConfigMap>(yaml)),
        "Service" => Object::Service(de::<Service>(yaml)),
        "Deployment" => Object::Deployment(de::<Deployment>(yaml)),
        "DaemonSet" => Object::DaemonSet(de::<DaemonSet>(yaml)),
        "Job" => Object::Job(de::<Job>(yaml)),
        "HorizontalPodAutoscaler" => {
            Object::HorizontalPodAutoscaler(de::<HorizontalPodAutoscaler>(yaml))
        }
        "ScaledObject" => Object::ScaledObject(de::<ScaledObject>(yaml)),
        other => panic!("unexpected kind {other}"),
    }
}

#[test]
fn every_manifest_reads_back_into_the_object_it_was_built_from() {
    for s in [
        Scenario::default(),
        sharded(LoadgenKind::Deployment),
        sharded(LoadgenKind::Job),
        two_plans(LoadgenKind::Deployment),
        two_plans(LoadgenKind::Job),
        hpa_on_cpu(),
        super::with_grafana(),
    ]
    .into_iter()
    .chain(scaled_objects())
    {
        let built = objects(&s);
        let rendered = render_manifests(&s).unwrap();
        assert_eq!(rendered.len(), built.len());
        for ((file, yaml), object) in rendered.iter().zip(&built) {
            assert_eq!(&parse(yaml), object, "{file}");
            assert!(yaml.starts_with("apiVersion: "), "{file}");
        }
    }
}

#[test]
fn files_sort_in_apply_order_namespace_first() {
    let files: Vec<String> = render_manifests(&Scenario::default())
        .unwrap()
        .into_iter()
        .map(|(f, _)| f)
        .collect();
    let mut sorted = files.clone();
    sorted.sort();
    assert_eq!(
        files, sorted,
        "kubectl apply -f DIR applies in file-name order"
    );
    assert_eq!(files[0], "00-namespace-app-demo-demo-run-001.yaml");
    // Prometheus' ConfigMap and RBAC exist before its Deployment refers to them.
    let pos = |needle: &str| files.iter().position(|f| f.contains(needle)).unwrap();
    assert!(pos("configmap-prometheus-config") < pos("deployment-prometheus"));
    assert!(pos("serviceaccount-prometheus") < pos("deployment-prometheus"));
}

#[test]
fn write_manifests_writes_each_file_into_the_directory() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("manifests");
    let paths = write_manifests(&Scenario::default(), &out).unwrap();
    let expected = render_manifests(&Scenario::default()).unwrap();
    assert_eq!(paths.len(), expected.len());
    for (path, (file, yaml)) in paths.iter().zip(&expected) {
        assert_eq!(path, &out.join(file));
        assert_eq!(&std::fs::read_to_string(path).unwrap(), yaml);
    }
}

#[test]
fn write_manifests_names_a_path_it_cannot_write() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    let e = write_manifests(&Scenario::default(), &file.join("sub")).unwrap_err();
    assert!(e.to_string().contains("a-file"), "{e}");
}

/// `scenarios/keda.toml` becomes a ScaledObject on the backend, read back into its type.
#[test]
fn the_keda_scenario_renders_its_scaled_object() {
    let toml = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../scenarios/keda.toml"
    ))
    .unwrap();
    let s = scenario::scenario_from_toml(&toml).expect("keda.toml is valid");
    let files = render_manifests(&s).unwrap();
    let (_, yaml) = files
        .iter()
        .find(|(f, _)| f.contains("scaledobject-backend"))
        .expect("a ScaledObject");
    let Object::ScaledObject(so) = parse(yaml) else {
        panic!("{yaml}")
    };
    assert_eq!(so.spec.scale_target_ref.name, s.backend.name);
    assert_eq!(so.spec.triggers[0].type_, "prometheus");
    assert_eq!(
        so.spec.triggers[0].metadata["threshold"],
        s.autoscale.target.to_string()
    );
    assert!(
        files
            .iter()
            .all(|(f, _)| !f.contains("horizontalpodautoscaler"))
    );
}
