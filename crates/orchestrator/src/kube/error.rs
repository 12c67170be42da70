//! The kube runtime's errors: each says what failed and what the user can do about it.

use std::time::Duration;

use crate::runtime::{ComponentKind, RuntimeError};

/// Everything the kube runtime, `render` and `destroy` can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The scenario cannot become valid Kubernetes objects; `key` is the scenario key to fix.
    #[error("scenario key {key}: {reason}")]
    Invalid { key: &'static str, reason: String },

    /// No kubeconfig, a bad one, or an API server that does not answer.
    #[error(
        "no usable Kubernetes cluster: {reason}. Start one (`./scripts/kind-up.sh`, or `kind create cluster --config kind/cluster.yaml`), check `kubectl cluster-info`, or pick a context with --context NAME"
    )]
    NoCluster { reason: String },

    /// RBAC refused a call (HTTP 403).
    #[error(
        "forbidden: {what}: {message}. The kubeconfig user needs permission for it (check with `kubectl auth can-i --list -n {namespace}`)"
    )]
    Forbidden {
        what: String,
        namespace: String,
        message: String,
    },

    /// The run's namespace exists already and `--reuse` was not given.
    #[error(
        "namespace {namespace} already exists (run uuid {uuid}): pass --reuse to run in it again, choose another --uuid, or remove it with `orchestrator destroy --uuid {uuid}`"
    )]
    NamespaceExists { namespace: String, uuid: String },

    /// The namespace is still being deleted from an earlier run.
    #[error(
        "namespace {namespace} is still terminating from an earlier run: wait until `kubectl get namespace {namespace}` finds nothing, or choose another --uuid"
    )]
    NamespaceTerminating { namespace: String },

    /// A NodePort the scenario asks for belongs to a Service of another run (or anyone).
    #[error(
        "NodePort {port} (scenario key {key}) is already allocated to Service {holder}{}: {}, or set {key} to a free port{}",
        .uuid.as_ref().map(|u| format!(" of run {u}")).unwrap_or_default(),
        .uuid.as_ref().map_or_else(|| format!("free it (`kubectl delete service -n {}`)", .holder.replace('/', " ")), |u| format!("remove that run with `orchestrator destroy --uuid {u}`")),
        .free.map(|f| format!(" such as {f}")).unwrap_or_default()
    )]
    NodePortTaken {
        key: &'static str,
        port: u16,
        /// `namespace/name` of the Service holding it.
        holder: String,
        /// The run it belongs to, from its uuid label.
        uuid: Option<String>,
        /// A port no Service holds, to suggest.
        free: Option<u16>,
    },

    /// The namespace is being deleted under the run: an API server refuses new objects in
    /// it with 403, which is not a permission problem.
    #[error(
        "{what}: namespace {namespace} is being deleted (by `orchestrator destroy`, `kubectl delete namespace` or an earlier --cleanup), so the API server refuses new objects in it: wait until `kubectl get namespace {namespace}` finds nothing and run again, or choose another --uuid"
    )]
    NamespaceBeingDeleted { what: String, namespace: String },

    /// An autoscaler on `cpu` needs the resource metrics API, which nothing serves.
    #[error(
        "scale_mode = {mode} with autoscale_metric = cpu needs the resource metrics API (metrics.k8s.io), which this cluster does not serve ({detail}): install metrics-server (on kind: `./scripts/kind-up.sh --metrics-server`, which adds the kubelet TLS flag kind needs), check `kubectl top pods -A`, and run again"
    )]
    MetricsApiMissing { mode: &'static str, detail: String },

    /// `scale_mode = "keda"` on a cluster without KEDA.
    #[error(
        "scale_mode = keda needs KEDA's ScaledObject CRD ({crd}), which this cluster does not have ({detail}): install KEDA (on kind: `./scripts/kind-up.sh --keda`; `./scripts/kind-up.sh --keda --print-only` shows the kubectl commands for any cluster), or set scale_mode = hpa"
    )]
    KedaMissing { crd: &'static str, detail: String },

    /// RBAC does not let the kubeconfig user manage the run's autoscaler.
    #[error(
        "scale_mode = {mode}: the kubeconfig user may not {verb} {resource} in namespace {namespace}, which the run needs for its autoscaler: ask for a Role that allows it (check with `kubectl auth can-i {verb} {resource} -n {namespace}`), or set scale_mode = manual"
    )]
    AutoscalerForbidden {
        mode: &'static str,
        verb: &'static str,
        resource: &'static str,
        namespace: String,
    },

    /// A pod cannot pull its image.
    #[error(
        "{} pod {}: image {} cannot be pulled ({}: {}); on kind, load it first: `kind load docker-image {} --name <cluster>` (this repository's cluster is named load-demo)",
        .0.component, .0.pod, .0.image, .0.reason, .0.message, .0.image
    )]
    ImagePull(Box<PodProblem>),

    /// A container keeps crashing or cannot be created.
    #[error(
        "{} pod {}: container {} is failing ({}: {}); see `kubectl logs -n {} {} -c {} --previous`",
        .0.component, .0.pod, .0.container, .0.reason, .0.message, .0.namespace, .0.pod, .0.container
    )]
    ContainerFailing(Box<PodProblem>),

    /// A wait did not finish within its bound.
    #[error("{what} was not ready after {after:?} (scenario key ready_timeout){detail}")]
    Timeout {
        what: String,
        after: Duration,
        /// What the pods said, starting with "; ", or empty.
        detail: String,
    },

    /// Any other API failure, after retries for transient ones.
    #[error("{what}: {source}")]
    Api {
        what: String,
        #[source]
        source: ::kube::Error,
    },

    /// A watch failed.
    #[error("watching {what}: {message}")]
    Watch { what: String, message: String },

    /// A manifest could not be written as YAML.
    #[error("cannot write {what} as YAML: {message}")]
    Yaml { what: String, message: String },

    /// A file or directory could not be written.
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// What is wrong with one container of one pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodProblem {
    /// The job label of the pod (`backend`, `prepull`, ...).
    pub component: String,
    pub pod: String,
    pub namespace: String,
    pub node: Option<String>,
    pub container: String,
    pub image: String,
    /// The kubelet's reason, e.g. `ImagePullBackOff`, `CrashLoopBackOff`.
    pub reason: String,
    pub message: String,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Classifies a failed API call: 403 becomes [`Error::Forbidden`], an unreachable server
    /// [`Error::NoCluster`], anything else [`Error::Api`] naming `what`.
    pub fn api(what: impl Into<String>, namespace: &str, source: ::kube::Error) -> Self {
        let what = what.into();
        match &source {
            ::kube::Error::Api(status)
                if status.code == 403
                    && status.message.contains("because it is being terminated") =>
            {
                Self::NamespaceBeingDeleted {
                    what,
                    namespace: namespace.to_owned(),
                }
            }
            ::kube::Error::Api(status) if status.code == 403 => Self::Forbidden {
                what,
                namespace: namespace.to_owned(),
                message: status.message.clone(),
            },
            ::kube::Error::HyperError(_) | ::kube::Error::Service(_) => Self::NoCluster {
                reason: format!("{what}: the API server did not answer: {source}"),
            },
            _ => Self::Api { what, source },
        }
    }

    fn component_of(name: &str) -> ComponentKind {
        match name {
            "frontend" => ComponentKind::Frontend,
            "loadgen" => ComponentKind::Loadgen,
            "prometheus" => ComponentKind::Prometheus,
            "worker" => ComponentKind::Worker,
            "redis" => ComponentKind::Redis,
            _ => ComponentKind::Backend,
        }
    }
}

impl From<Error> for RuntimeError {
    fn from(e: Error) -> Self {
        match &e {
            Error::ImagePull(p) | Error::ContainerFailing(p) => RuntimeError::Component {
                component: Error::component_of(&p.component),
                instance: p.pod.clone(),
                // The whole message: it carries the hint.
                reason: e.to_string(),
            },
            Error::NoCluster { .. } => RuntimeError::Unavailable {
                runtime: "kube",
                reason: e.to_string(),
            },
            _ => RuntimeError::Other(e.to_string()),
        }
    }
}
