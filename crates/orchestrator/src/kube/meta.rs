//! Labels, selectors and object metadata shared by every object of a run, and the checks
//! that the scenario's names are valid Kubernetes names.

use std::collections::BTreeMap;

use crate::kube::labels;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use scenario::Scenario;

use super::error::{Error, Result};
use crate::runtime::ComponentKind;

/// Which scenario job an object belongs to, the value of [`labels::JOB`]: one of the stack's
/// components, the pre-pull DaemonSet that runs before them, or Grafana (`grafana = true`),
/// which looks at the run and is not measured in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Job {
    Component(ComponentKind),
    Prepull,
    Grafana,
}

impl Job {
    pub const BACKEND: Job = Job::Component(ComponentKind::Backend);
    pub const FRONTEND: Job = Job::Component(ComponentKind::Frontend);
    pub const LOADGEN: Job = Job::Component(ComponentKind::Loadgen);
    pub const PROMETHEUS: Job = Job::Component(ComponentKind::Prometheus);
    pub const WORKER: Job = Job::Component(ComponentKind::Worker);
    pub const REDIS: Job = Job::Component(ComponentKind::Redis);

    pub const ALL: [Job; 8] = [
        Job::BACKEND,
        Job::FRONTEND,
        Job::LOADGEN,
        Job::PROMETHEUS,
        Job::WORKER,
        Job::REDIS,
        Job::Prepull,
        Job::Grafana,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Component(c) => c.as_str(),
            Self::Prepull => "prepull",
            Self::Grafana => "grafana",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|j| j.as_str() == value)
    }

    /// The component a job's pods count as in samples and errors (none for pre-pull).
    pub const fn component(self) -> Option<ComponentKind> {
        match self {
            Self::Component(c) => Some(c),
            Self::Prepull | Self::Grafana => None,
        }
    }

    /// The object name the scenario gives this job.
    pub fn name(self, s: &Scenario) -> String {
        match self {
            Self::Component(c) => c.spec(s).name.clone(),
            Self::Prepull => "prepull".to_owned(),
            Self::Grafana => GRAFANA_NAME.to_owned(),
        }
    }
}

/// The name of Grafana's objects (there is one Grafana per run, so no key names it).
pub const GRAFANA_NAME: &str = "grafana";

/// Label that tells the load-generator shards apart (each shard is its own Deployment, whose
/// selector must not overlap its siblings').
pub const SHARD: &str = "load-demo.io/shard";

/// Pod Security admission: the run's namespace enforces the "restricted" profile, so a pod
/// that is not compliant is refused instead of silently running privileged.
pub const POD_SECURITY_ENFORCE: &str = "pod-security.kubernetes.io/enforce";

/// The labels a selector uses for `job`: stable for the life of the run (selectors are
/// immutable), never empty.
pub fn selector_labels(s: &Scenario, job: Job) -> BTreeMap<String, String> {
    BTreeMap::from([
        (labels::NAME.to_owned(), job.name(s)),
        (labels::UUID.to_owned(), s.uuid.clone()),
        (labels::JOB.to_owned(), job.as_str().to_owned()),
    ])
}

/// Every label an object of `job` carries: the recommended `app.kubernetes.io/*` set plus
/// the run's uuid and the job.
pub fn labels(s: &Scenario, job: Job) -> BTreeMap<String, String> {
    let mut l = selector_labels(s, job);
    l.insert(labels::INSTANCE.to_owned(), s.namespace());
    l.insert(labels::COMPONENT.to_owned(), job.as_str().to_owned());
    l.insert(labels::PART_OF.to_owned(), s.app_name.clone());
    l.insert(labels::MANAGED_BY.to_owned(), labels::MANAGER.to_owned());
    if let Some(v) = image_version(image_of(s, job)) {
        l.insert(labels::VERSION.to_owned(), v.to_owned());
    }
    add_iteration(s, &mut l);
    l
}

/// Whether the scenario's Services take their NodePorts: a single stack's and copy 1's of
/// several (NodePorts are cluster-wide; see [`crate::iterations::copies`]).
pub fn takes_node_ports(s: &Scenario) -> bool {
    s.iterations.index.is_none_or(|k| k == 1)
}

/// Copy `k` of several carries `load-demo.io/iteration: k` beside the run's labels.
fn add_iteration(s: &Scenario, l: &mut BTreeMap<String, String>) {
    if let Some(k) = s.iterations.index {
        l.insert(labels::ITERATION.to_owned(), k.to_string());
    }
}

/// Labels of the run without a job: what the namespace and `destroy` use.
pub fn run_labels(s: &Scenario) -> BTreeMap<String, String> {
    let mut l = BTreeMap::from([
        (labels::UUID.to_owned(), s.uuid.clone()),
        (labels::INSTANCE.to_owned(), s.namespace()),
        (labels::PART_OF.to_owned(), s.app_name.clone()),
        (labels::MANAGED_BY.to_owned(), labels::MANAGER.to_owned()),
    ]);
    add_iteration(s, &mut l);
    l
}

fn image_of(s: &Scenario, job: Job) -> &str {
    match job {
        Job::BACKEND => &s.backend.image,
        Job::FRONTEND => &s.frontend.image,
        Job::LOADGEN => &s.loadgen.image,
        Job::PROMETHEUS => &s.prometheus.image,
        Job::Prepull => &s.pause_image,
        Job::Grafana => &s.grafana.image,
        // The workers run the demo-worker binary of the backend's image.
        Job::WORKER => &s.backend.image,
        Job::Component(c) => &c.spec(s).image,
    }
}

/// The tag of an image reference, when it is a valid label value (`latest`, `v2.54.0`).
fn image_version(image: &str) -> Option<&str> {
    let last = image.rsplit('/').next()?;
    let tag = last.split('@').next()?.split_once(':')?.1;
    is_label_value(tag).then_some(tag)
}

/// `metadata` of a namespaced object of `job`.
pub fn object_meta(s: &Scenario, job: Job, name: impl Into<String>) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.into()),
        namespace: Some(s.namespace()),
        labels: Some(labels(s, job)),
        ..ObjectMeta::default()
    }
}

/// `metadata` of a cluster-scoped object of `job` (no namespace; labelled like the rest, so
/// `destroy` finds it by the uuid).
pub fn cluster_meta(s: &Scenario, job: Job, name: impl Into<String>) -> ObjectMeta {
    ObjectMeta {
        namespace: None,
        ..object_meta(s, job, name)
    }
}

/// A `matchLabels` selector. Refuses an empty map: an empty selector matches everything.
pub fn label_selector(labels: BTreeMap<String, String>) -> Result<LabelSelector> {
    if labels.is_empty() {
        return Err(Error::Invalid {
            key: "selector",
            reason: "an empty selector would match every object of its kind".into(),
        });
    }
    Ok(LabelSelector {
        match_labels: Some(labels),
        ..LabelSelector::default()
    })
}

/// `k=v,k2=v2` for list and delete calls. Refuses an empty map, as [`label_selector`] does.
pub fn selector_string(labels: &BTreeMap<String, String>) -> Result<String> {
    if labels.is_empty() || labels.values().any(String::is_empty) {
        return Err(Error::Invalid {
            key: "selector",
            reason: "an empty selector would match every object of its kind".into(),
        });
    }
    Ok(labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(","))
}

/// The selector of everything a run created: its uuid.
pub fn uuid_selector(uuid: &str) -> Result<String> {
    check_label_value("uuid", uuid)?;
    selector_string(&BTreeMap::from([(
        labels::UUID.to_owned(),
        uuid.to_owned(),
    )]))
}

/// The selector of one job's objects in a run.
pub fn job_selector(s: &Scenario, job: Job) -> Result<String> {
    selector_string(&BTreeMap::from([
        (labels::UUID.to_owned(), s.uuid.clone()),
        (labels::JOB.to_owned(), job.as_str().to_owned()),
    ]))
}

fn is_label_value(v: &str) -> bool {
    v.len() <= 63
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && v.chars().next().is_none_or(|c| c.is_ascii_alphanumeric())
        && v.chars().last().is_none_or(|c| c.is_ascii_alphanumeric())
}

fn check_label_value(key: &'static str, v: &str) -> Result<()> {
    if v.is_empty() || !is_label_value(v) {
        return Err(Error::Invalid {
            key,
            reason: format!(
                "{v:?} is not a valid label value: use 1 to 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit"
            ),
        });
    }
    Ok(())
}

/// RFC 1123 label: what namespaces, Services and container names must be.
fn check_dns_label(key: &'static str, v: &str, max: usize) -> Result<()> {
    check_label(key, v, max, false)
}

/// RFC 1035 label (RFC 1123 starting with a letter): what Service names must be.
fn check_service_name(key: &'static str, v: &str, max: usize) -> Result<()> {
    check_label(key, v, max, true)
}

fn check_label(key: &'static str, v: &str, max: usize, letter_first: bool) -> Result<()> {
    let ok = !v.is_empty()
        && (!letter_first || v.starts_with(|c: char| c.is_ascii_lowercase()))
        && v.len() <= max
        && v.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !v.starts_with('-')
        && !v.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(Error::Invalid {
            key,
            reason: format!(
                "{v:?} is not a valid Kubernetes name: use at most {max} lower-case letters, digits and '-', starting with a {} and ending with a letter or digit",
                if letter_first {
                    "letter (it names a Service)"
                } else {
                    "letter or digit"
                }
            ),
        })
    }
}

/// Checks every name the objects are built from, naming the scenario key to fix.
pub fn validate(s: &Scenario) -> Result<()> {
    check_label_value("uuid", &s.uuid)?;
    check_dns_label("namespace_prefix", &s.namespace_prefix, 62)?;
    check_dns_label(
        "namespace_prefix and uuid (the namespace <namespace_prefix>-<uuid>)",
        &s.namespace(),
        63,
    )?;
    check_label_value("app_name", &s.app_name)?;
    // Service names are DNS-1035 labels; the longest names made from them are the pre-pull
    // container "pull-<name>", "<backend>-headless", "<prometheus>-config" and a shard's
    // "<loadgen>-<n>" (the scenario crate's config check has the same limits).
    let pull = 63 - "pull-".len();
    check_service_name("backend.name", &s.backend.name, 63 - "-headless".len())?;
    check_service_name("frontend.name", &s.frontend.name, pull)?;
    check_service_name("loadgen.name", &s.loadgen.name, pull)?;
    check_service_name("prometheus.name", &s.prometheus.name, 63 - "-config".len())?;
    let grafana = GRAFANA_NAME.to_owned();
    let mut names = vec![
        &s.backend.name,
        &s.frontend.name,
        &s.loadgen.name,
        &s.prometheus.name,
    ];
    if s.grafana.enabled {
        names.push(&grafana);
    }
    if s.pipeline.workload == scenario::Workload::Pipeline {
        check_service_name("worker_name", &s.pipeline.worker.name, 63)?;
        names.extend([&s.pipeline.worker.name, &s.pipeline.redis.name]);
    }
    names.sort();
    if names.windows(2).any(|w| w[0] == w[1]) {
        return Err(Error::Invalid {
            key: "backend.name/frontend.name/loadgen.name/prometheus.name/worker_name",
            reason: format!(
                "two components have the same name (with grafana = true, \"{GRAFANA_NAME}\" is taken; with the pipeline, \"{}\" is Redis'); their objects would overwrite each other",
                s.pipeline.redis.name
            ),
        });
    }
    // A plan's workloads are `<loadgen>-<plan>`; a Job's name is also a label value.
    let plans = s.load_plans();
    for p in &plans {
        check_dns_label("load.name (<loadgen.name>-<name>)", &s.loadgen_name(p), 63)?;
    }
    if (1..plans.len()).any(|i| plans[..i].iter().any(|p| p.name == plans[i].name)) {
        return Err(Error::Invalid {
            key: "load.name",
            reason: "two load plans have the same name; their load generators would overwrite each other".into(),
        });
    }
    for (key, image) in [
        ("backend.image", &s.backend.image),
        ("frontend.image", &s.frontend.image),
        ("loadgen.image", &s.loadgen.image),
        ("prometheus.image", &s.prometheus.image),
        ("pause_image", &s.pause_image),
        ("grafana_image", &s.grafana.image),
        ("redis_image", &s.pipeline.redis.image),
    ] {
        if image.trim().is_empty() || image.chars().any(char::is_whitespace) {
            return Err(Error::Invalid {
                key,
                reason: format!("{image:?} is not an image reference"),
            });
        }
    }
    if s.backend.replicas == 0 {
        return Err(Error::Invalid {
            key: "backend.replicas",
            reason: "must be at least 1: the frontend and the load need a backend".into(),
        });
    }
    if s.loadgen.replicas == 0 || s.loadgen.replicas > 100 {
        return Err(Error::Invalid {
            key: "loadgen.replicas",
            reason: format!(
                "{} is out of range: use 1 to 100 load generators",
                s.loadgen.replicas
            ),
        });
    }
    let node_ports = super::node_ports::wanted(s);
    for (i, &(key, port)) in node_ports.iter().enumerate() {
        if !(30000..=32767).contains(&port) {
            return Err(Error::Invalid {
                key,
                reason: format!(
                    "{port} is outside the default NodePort range 30000-32767 (kind/cluster.yaml maps 30080, 30090 and 30030)"
                ),
            });
        }
        if let Some((other, _)) = node_ports[..i].iter().find(|(_, p)| *p == port) {
            return Err(Error::Invalid {
                key,
                reason: format!("must differ from {other} (both are {port})"),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_come_from_valid_tags_only() {
        assert_eq!(image_version("kind.local/a:latest"), Some("latest"));
        assert_eq!(image_version("localhost:5000/a"), None);
        assert_eq!(image_version("prom/prometheus:v2.54.0"), Some("v2.54.0"));
        assert_eq!(image_version("a@sha256:abc"), None);
    }

    #[test]
    fn empty_selectors_are_refused() {
        assert!(selector_string(&BTreeMap::new()).is_err());
        assert!(label_selector(BTreeMap::new()).is_err());
        let with_empty = BTreeMap::from([("a".to_owned(), String::new())]);
        assert!(selector_string(&with_empty).is_err());
    }

    #[test]
    #[allow(clippy::field_reassign_with_default)]
    fn bad_names_name_their_key() {
        let mut s = Scenario::default();
        s.uuid = "Run 1".into();
        assert!(
            validate(&s)
                .unwrap_err()
                .to_string()
                .starts_with("scenario key uuid")
        );
        let mut s = Scenario::default();
        s.backend.name = "Backend".into();
        assert!(
            validate(&s)
                .unwrap_err()
                .to_string()
                .contains("backend.name")
        );
        let mut s = Scenario::default();
        s.frontend_node_port = 8080;
        assert!(
            validate(&s)
                .unwrap_err()
                .to_string()
                .contains("frontend_node_port")
        );
        assert!(validate(&Scenario::default()).is_ok());
    }
}
