//! The frontend's view of the autoscaler on a cluster: with `scale_mode` hpa or keda it gets
//! a ServiceAccount, a Role allowing only `get` of the backend's HPA, their RoleBinding and
//! `--autoscaler-hpa <namespace>/<hpa>`; rendered and read back, applied to the fake API
//! server, and removed by `destroy`. Without an autoscaler, none of it.

use std::time::Duration;

use clap::Parser as _;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{PodSpec, ServiceAccount};
use k8s_openapi::api::rbac::v1::{PolicyRule, Role, RoleBinding, Subject};
use orchestrator::kube::build::Object;
use orchestrator::kube::render_manifests;
use orchestrator::runtime::Runtime;
use scenario::{AutoscaleMetric, ScaleMode, Scenario};

use super::autoscale::{autoscaled, cluster};
use super::fake::FakeApi;
use super::render::{hpa_on_cpu, keda_on, parse};
use super::run::{NS, bounded};

/// The only access the frontend gets: `get` of one HPA.
fn get_hpa(name: &str) -> Vec<PolicyRule> {
    vec![PolicyRule {
        api_groups: Some(vec!["autoscaling".into()]),
        resources: Some(vec!["horizontalpodautoscalers".into()]),
        resource_names: Some(vec![name.into()]),
        verbs: vec!["get".into()],
        ..PolicyRule::default()
    }]
}

fn pod_spec(d: &Deployment) -> &PodSpec {
    d.spec.as_ref().unwrap().template.spec.as_ref().unwrap()
}

/// The frontend's flags, as its own parser reads them.
fn frontend_config(d: &Deployment) -> demo_frontend::Config {
    let args = pod_spec(d).containers[0].args.clone().unwrap_or_default();
    demo_frontend::Opts::try_parse_from(std::iter::once("demo-frontend".to_owned()).chain(args))
        .expect("the frontend accepts its flags")
        .into_config()
        .expect("and their values")
}

/// Checks the frontend's RBAC and Deployment among `objects` and returns the HPA the frontend
/// reads (`None` without an autoscaler, after checking it gets no access at all).
fn frontend_access(s: &Scenario, objects: &[Object]) -> Option<String> {
    let name = &s.frontend.name;
    let find = |kind: &str| {
        objects
            .iter()
            .find(|o| o.kind() == kind && o.name() == name)
    };
    let Some(Object::Deployment(d)) = find("Deployment") else {
        panic!("no frontend Deployment")
    };
    let pod = pod_spec(d);
    let source = frontend_config(d).autoscaler;
    if !s.autoscale.mode.is_auto() {
        assert!(find("ServiceAccount").is_none() && find("Role").is_none());
        assert_eq!(pod.service_account_name, None);
        assert_eq!(pod.automount_service_account_token, Some(false));
        assert!(source.is_none(), "{source:?}");
        return None;
    }
    let Some(demo_frontend::AutoscalerSource::Hpa(hpa)) = source else {
        panic!("the frontend reads no HPA: {source:?}")
    };
    assert_eq!(hpa.namespace, s.namespace());
    let Some(Object::Role(role)) = find("Role") else {
        panic!("no frontend Role")
    };
    assert_eq!(role.rules, Some(get_hpa(&hpa.name)));
    let Some(Object::RoleBinding(binding)) = find("RoleBinding") else {
        panic!("no frontend RoleBinding")
    };
    assert_eq!(
        (binding.role_ref.kind.as_str(), &binding.role_ref.name),
        ("Role", name)
    );
    assert_eq!(
        binding.subjects,
        Some(vec![Subject {
            kind: "ServiceAccount".into(),
            name: name.clone(),
            namespace: Some(s.namespace()),
            ..Subject::default()
        }])
    );
    let Some(Object::ServiceAccount(sa)) = find("ServiceAccount") else {
        panic!("no frontend ServiceAccount")
    };
    for meta in [&sa.metadata, &role.metadata, &binding.metadata] {
        assert_eq!(
            meta.labels, d.metadata.labels,
            "labelled like the Deployment"
        );
    }
    assert_eq!(pod.service_account_name.as_ref(), Some(name));
    assert_eq!(pod.automount_service_account_token, Some(true));
    // Applied before the Deployment whose pods name the account.
    let pos = |kind: &str| {
        objects
            .iter()
            .position(|o| o.kind() == kind && o.name() == name)
    };
    assert!(pos("RoleBinding") < pos("Deployment"));
    Some(hpa.name)
}

#[test]
fn rendered_with_an_autoscaler_the_frontend_may_get_the_backends_hpa_and_nothing_else() {
    let read_back = |s: &Scenario| -> Vec<Object> {
        render_manifests(s)
            .unwrap()
            .iter()
            .map(|(_, yaml)| parse(yaml))
            .collect()
    };
    let s = hpa_on_cpu();
    let objects = read_back(&s);
    let hpa = frontend_access(&s, &objects).expect("an HPA to read");
    assert!(
        objects
            .iter()
            .any(|o| o.kind() == "HorizontalPodAutoscaler" && o.name() == hpa),
        "the flag names the run's HPA"
    );
    // KEDA makes the HPA; the ScaledObject names it, and the frontend reads that one.
    let s = keda_on(AutoscaleMetric::RpsPerReplica, 40.0);
    let objects = read_back(&s);
    let hpa = frontend_access(&s, &objects).expect("an HPA to read");
    let so = objects.iter().find_map(|o| match o {
        Object::ScaledObject(so) => Some(so),
        _ => None,
    });
    let made = so
        .and_then(|so| so.spec.advanced.as_ref())
        .and_then(|a| a.horizontal_pod_autoscaler_config.as_ref())
        .and_then(|c| c.name.clone());
    assert_eq!(made, Some(hpa));
    assert_eq!(
        frontend_access(&Scenario::default(), &read_back(&Scenario::default())),
        None
    );
}

fn typed<T: serde::de::DeserializeOwned>(fake: &FakeApi, path: &str) -> Option<T> {
    fake.object(path)
        .map(|v| serde_json::from_value(v).unwrap_or_else(|e| panic!("{path}: {e}")))
}

#[tokio::test(start_paused = true)]
async fn a_kube_run_with_an_hpa_applies_the_frontends_access_and_destroy_removes_it() {
    let fake = FakeApi::start(cluster(150.0));
    let s = autoscaled(ScaleMode::Hpa, AutoscaleMetric::Cpu, 50.0);
    let mut rt = super::run::runtime(&fake, s.clone());
    // Ready means the frontend's pods were admitted: the fake refuses pods whose
    // ServiceAccount does not exist, as the API server does.
    bounded(rt.deploy()).await.expect("deploy");
    let name = &s.frontend.name;
    let paths = [
        format!("/api/v1/namespaces/{NS}/serviceaccounts/{name}"),
        format!("/apis/rbac.authorization.k8s.io/v1/namespaces/{NS}/roles/{name}"),
        format!("/apis/rbac.authorization.k8s.io/v1/namespaces/{NS}/rolebindings/{name}"),
        format!("/apis/apps/v1/namespaces/{NS}/deployments/{name}"),
    ];
    let objects = vec![
        Object::ServiceAccount(typed::<ServiceAccount>(&fake, &paths[0]).expect("the SA")),
        Object::Role(typed::<Role>(&fake, &paths[1]).expect("the Role")),
        Object::RoleBinding(typed::<RoleBinding>(&fake, &paths[2]).expect("the binding")),
        Object::Deployment(typed::<Deployment>(&fake, &paths[3]).expect("the Deployment")),
    ];
    let hpa = frontend_access(&s, &objects).expect("an HPA to read");
    assert!(
        fake.object(&format!(
            "/apis/autoscaling/v2/namespaces/{NS}/horizontalpodautoscalers/{hpa}"
        ))
        .is_some(),
        "the HPA the frontend reads is the one applied"
    );
    let writes = fake.writes();
    for path in &paths[..3] {
        assert!(
            writes.contains(&format!("PATCH {path}")),
            "server-side apply: {writes:#?}"
        );
    }
    let gone = bounded(orchestrator::kube::destroy(
        &fake.client,
        &s.uuid,
        Duration::from_secs(10),
    ))
    .await
    .expect("destroy");
    assert!(
        gone.deleted.contains(&format!("Namespace {NS}")),
        "{gone:?}"
    );
    for path in &paths {
        assert!(fake.object(path).is_none(), "{path} left after destroy");
    }
}
