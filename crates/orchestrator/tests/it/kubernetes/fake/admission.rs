//! What the fake API server refuses or fills in before it stores an object, as a real one
//! does: defaulting of the fields the runtime reads, 422 for invalid names, NodePorts that
//! are out of range or already allocated, and immutable fields, RBAC bindings' rules, 404/403
//! for a namespace that is missing or terminating, a cluster-scoped object's namespace
//! cleared, and Pod Security "restricted" for the pods controllers create.

use serde_json::{Value, json};

use super::store::{Collection, Store, name_of};

/// An answer other than success: HTTP code, Status reason, message.
#[derive(Debug, Clone)]
pub(crate) struct Refusal {
    pub(crate) code: u16,
    pub(crate) reason: &'static str,
    pub(crate) message: String,
}

impl Refusal {
    pub(crate) fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            reason,
            message: message.into(),
        }
    }

    fn invalid(obj: &Value, field: &str, value: &str, why: &str) -> Self {
        let group = obj["apiVersion"]
            .as_str()
            .and_then(|v| v.split_once('/'))
            .map(|(g, _)| format!(".{g}"))
            .unwrap_or_default();
        Self::new(
            422,
            "Invalid",
            format!(
                "{}{group} \"{}\" is invalid: {field}: Invalid value: {value}: {why}",
                obj["kind"].as_str().unwrap_or_default(),
                name_of(obj)
            ),
        )
    }
}

/// RFC 1123 label (namespaces, container names); `letter_first` makes it RFC 1035
/// (Service names).
pub(crate) fn label_problem(s: &str, letter_first: bool) -> Option<&'static str> {
    let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    if s.is_empty() || s.len() > 63 {
        return Some("must be no more than 63 characters");
    }
    if !s.chars().all(|c| alnum(c) || c == '-') || s.starts_with('-') || s.ends_with('-') {
        return Some(
            "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character",
        );
    }
    if letter_first && !s.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Some(
            "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character",
        );
    }
    None
}

/// The pod spec of a workload's template, with its field path.
fn pod_spec(obj: &Value) -> Option<(&Value, &'static str)> {
    obj["spec"]["template"]["spec"]
        .is_object()
        .then(|| (&obj["spec"]["template"]["spec"], "spec.template.spec"))
}

/// Fills in what the API server defaults and the runtime reads. `old` is the stored
/// object an apply replaces.
pub(crate) fn default(store: &Store, coll: &Collection, obj: &mut Value, old: Option<&Value>) {
    let kept = |obj: &mut Value, path: &[&str]| {
        let from = path.iter().try_fold(old?, |v, k| v.get(*k))?.clone();
        let mut to = &mut *obj;
        for k in path {
            to = &mut to[*k];
        }
        to.is_null().then(|| *to = from);
        Some(())
    };
    // A cluster-scoped object's namespace is cleared, not refused, as the API server does.
    if coll.namespace.is_none()
        && let Some(m) = obj["metadata"].as_object_mut()
    {
        m.remove("namespace");
    }
    match coll.plural.as_str() {
        "deployments" => {
            let spec = &mut obj["spec"];
            spec["replicas"] = json!(spec["replicas"].as_i64().unwrap_or(1));
            if spec["strategy"].is_null() {
                spec["strategy"] = json!({"type": "RollingUpdate",
                    "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}});
            }
        }
        "jobs" => {
            let spec = &mut obj["spec"];
            spec["completions"] = json!(spec["completions"].as_i64().unwrap_or(1));
            spec["backoffLimit"] = json!(spec["backoffLimit"].as_i64().unwrap_or(6));
        }
        "services" => {
            kept(obj, &["spec", "clusterIP"]);
            if obj["spec"]["clusterIP"].is_null() {
                obj["spec"]["clusterIP"] = json!(format!("10.96.0.{}", store.rv() % 250 + 2));
            }
            if obj["spec"]["type"].as_str() == Some("NodePort") {
                let before = old.map(|o| o["spec"]["ports"].clone()).unwrap_or_default();
                let taken = allocated(store, None);
                if let Some(ports) = obj["spec"]["ports"].as_array_mut() {
                    for (i, p) in ports.iter_mut().enumerate() {
                        if p["nodePort"].is_null() {
                            let free = (30000..=32767).find(|n| !taken.iter().any(|t| t.0 == *n));
                            p["nodePort"] = before[i]["nodePort"].clone();
                            if p["nodePort"].is_null() {
                                p["nodePort"] = json!(free);
                            }
                        }
                    }
                }
            }
        }
        _ => {}
    }
    if obj["spec"]["template"]["spec"].is_object() {
        let spec = &mut obj["spec"]["template"]["spec"];
        if spec["terminationGracePeriodSeconds"].is_null() {
            spec["terminationGracePeriodSeconds"] = json!(30);
        }
    }
}

/// Every NodePort allocated, with its Service's `namespace/name`, except `skip`'s.
pub(crate) fn allocated(store: &Store, skip: Option<(&str, &str)>) -> Vec<(i64, String)> {
    store
        .all()
        .into_iter()
        .filter(|(c, _)| c.plural == "services")
        .filter(|(c, o)| {
            skip != Some((
                c.namespace.as_deref().unwrap_or(""),
                o["metadata"]["name"].as_str().unwrap_or(""),
            ))
        })
        .flat_map(|(c, o)| {
            let who = format!("{}/{}", c.namespace.unwrap_or_default(), name_of(&o));
            o["spec"]["ports"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .filter_map(move |p| p["nodePort"].as_i64().map(|n| (n, who.clone())))
        })
        .collect()
}

/// Checks an object about to be stored by an apply; `old` is what it replaces.
pub(crate) fn admit(
    store: &Store,
    coll: &Collection,
    obj: &Value,
    old: Option<&Value>,
) -> Result<(), Refusal> {
    if let Some(ns) = &coll.namespace {
        let Some(namespace) = store.get(&super::store::namespaces(), ns) else {
            return Err(Refusal::new(
                404,
                "NotFound",
                format!("namespaces \"{ns}\" not found"),
            ));
        };
        if old.is_none() && namespace["metadata"].get("deletionTimestamp").is_some() {
            return Err(Refusal::new(
                403,
                "Forbidden",
                format!(
                    "{} \"{}\" is forbidden: unable to create new content in namespace {ns} because it is being terminated",
                    coll.plural,
                    name_of(obj)
                ),
            ));
        }
    }
    let name = name_of(obj);
    let problem = match coll.plural.as_str() {
        "namespaces" => label_problem(&name, false),
        "services" => label_problem(&name, true),
        _ => (name.is_empty() || name.len() > 253 || name.contains(|c: char| c.is_ascii_uppercase() || c == '_'))
            .then_some("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'"),
    };
    if let Some(why) = problem {
        return Err(Refusal::invalid(
            obj,
            "metadata.name",
            &format!("{name:?}"),
            why,
        ));
    }
    if let Some((spec, path)) = pod_spec(obj) {
        for (list, items) in [
            ("initContainers", &spec["initContainers"]),
            ("containers", &spec["containers"]),
        ] {
            for (i, c) in items.as_array().into_iter().flatten().enumerate() {
                let cname = c["name"].as_str().unwrap_or_default();
                if let Some(why) = label_problem(cname, false) {
                    return Err(Refusal::invalid(
                        obj,
                        &format!("{path}.{list}[{i}].name"),
                        &format!("{cname:?}"),
                        why,
                    ));
                }
            }
        }
    }
    if let Some(old) = old {
        let immutable: &[&str] = match coll.plural.as_str() {
            "deployments" | "daemonsets" => &["selector"],
            "jobs" => &["selector", "template", "completions", "completionMode"],
            _ => &[],
        };
        for field in immutable {
            let was = &old["spec"][*field];
            if !was.is_null() && *was != obj["spec"][*field] {
                return Err(Refusal::invalid(
                    obj,
                    &format!("spec.{field}"),
                    "…",
                    "field is immutable",
                ));
            }
        }
    }
    if let Some(r) = rbac_problem(coll, obj, old) {
        return Err(r);
    }
    if coll.plural == "services" {
        let ns = coll.namespace.as_deref().unwrap_or("");
        let taken = allocated(store, Some((ns, &name)));
        for (i, p) in obj["spec"]["ports"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            let Some(port) = p["nodePort"].as_i64() else {
                continue;
            };
            let field = format!("spec.ports[{i}].nodePort");
            if !(30000..=32767).contains(&port) {
                return Err(Refusal::invalid(
                    obj,
                    &field,
                    &port.to_string(),
                    "provided port is not in the valid range. The range of valid ports is 30000-32767",
                ));
            }
            if taken.iter().any(|(n, _)| *n == port) {
                return Err(Refusal::invalid(
                    obj,
                    &field,
                    &port.to_string(),
                    "provided port is already allocated",
                ));
            }
        }
    }
    Ok(())
}

/// What the RBAC API refuses of a binding: a ClusterRoleBinding to a namespaced Role, a
/// ServiceAccount subject without its namespace, a changed roleRef (immutable); and a rule
/// without verbs.
fn rbac_problem(coll: &Collection, obj: &Value, old: Option<&Value>) -> Option<Refusal> {
    match coll.plural.as_str() {
        "clusterrolebindings" | "rolebindings" => {
            let kind = obj["roleRef"]["kind"].as_str().unwrap_or_default();
            let allowed: &[&str] = if coll.plural == "clusterrolebindings" {
                &["ClusterRole"]
            } else {
                &["Role", "ClusterRole"]
            };
            if !allowed.contains(&kind) {
                return Some(Refusal::invalid(
                    obj,
                    "roleRef.kind",
                    &format!("{kind:?}"),
                    &format!("supported values: {allowed:?}"),
                ));
            }
            if obj["roleRef"]["apiGroup"] != "rbac.authorization.k8s.io" {
                return Some(Refusal::invalid(
                    obj,
                    "roleRef.apiGroup",
                    &obj["roleRef"]["apiGroup"].to_string(),
                    "supported values: \"rbac.authorization.k8s.io\"",
                ));
            }
            if old.is_some_and(|o| o["roleRef"] != obj["roleRef"]) {
                return Some(Refusal::invalid(
                    obj,
                    "roleRef",
                    "…",
                    "cannot change roleRef",
                ));
            }
            let subjects = obj["subjects"].as_array().cloned().unwrap_or_default();
            for (i, sub) in subjects.iter().enumerate() {
                if sub["kind"] == "ServiceAccount"
                    && sub["namespace"].as_str().unwrap_or_default().is_empty()
                    && coll.namespace.is_none()
                {
                    return Some(Refusal::invalid(
                        obj,
                        &format!("subjects[{i}].namespace"),
                        "\"\"",
                        "Required value",
                    ));
                }
            }
            None
        }
        "clusterroles" | "roles" => {
            let rules = obj["rules"].as_array().cloned().unwrap_or_default();
            rules.iter().enumerate().find_map(|(i, r)| {
                r["verbs"].as_array().is_none_or(Vec::is_empty).then(|| {
                    Refusal::invalid(
                        obj,
                        &format!("rules[{i}].verbs"),
                        "[]",
                        "Required value: verbs must contain at least one value",
                    )
                })
            })
        }
        _ => None,
    }
}

/// Pod Security "restricted" (when the namespace enforces it): the reasons a pod of
/// `spec` is refused, as the admission controller words them; `None` when admitted.
pub(crate) fn pod_security(namespace: Option<&Value>, pod: &str, spec: &Value) -> Option<String> {
    let enforced = namespace.is_some_and(|n| {
        n["metadata"]["labels"]["pod-security.kubernetes.io/enforce"].as_str() == Some("restricted")
    });
    if !enforced {
        return None;
    }
    let pod_sc = &spec["securityContext"];
    let mut violations = Vec::new();
    let containers = spec["initContainers"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(spec["containers"].as_array().into_iter().flatten());
    for c in containers {
        let name = c["name"].as_str().unwrap_or_default();
        let sc = &c["securityContext"];
        if sc["privileged"].as_bool() == Some(true) {
            violations.push(format!(
                "privileged (container \"{name}\" must not set securityContext.privileged=true)"
            ));
        }
        if sc["allowPrivilegeEscalation"].as_bool() != Some(false) {
            violations.push(format!("allowPrivilegeEscalation != false (container \"{name}\" must set securityContext.allowPrivilegeEscalation=false)"));
        }
        let drops_all = sc["capabilities"]["drop"]
            .as_array()
            .is_some_and(|d| d.iter().any(|x| x == "ALL"));
        if !drops_all {
            violations.push(format!("unrestricted capabilities (container \"{name}\" must set securityContext.capabilities.drop=[\"ALL\"])"));
        }
        let non_root = sc["runAsNonRoot"]
            .as_bool()
            .or(pod_sc["runAsNonRoot"].as_bool());
        if non_root != Some(true) {
            violations.push(format!("runAsNonRoot != true (pod or container \"{name}\" must set securityContext.runAsNonRoot=true)"));
        }
        let seccomp = sc["seccompProfile"]["type"]
            .as_str()
            .or(pod_sc["seccompProfile"]["type"].as_str());
        if !matches!(seccomp, Some("RuntimeDefault" | "Localhost")) {
            violations.push(format!("seccompProfile (pod or container \"{name}\" must set securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\")"));
        }
    }
    // The volume types "restricted" allows; anything else (hostPath, ...) is refused.
    const ALLOWED: [&str; 8] = [
        "configMap",
        "csi",
        "downwardAPI",
        "emptyDir",
        "ephemeral",
        "persistentVolumeClaim",
        "projected",
        "secret",
    ];
    for v in spec["volumes"].as_array().into_iter().flatten() {
        let name = v["name"].as_str().unwrap_or_default();
        let kinds = v.as_object().into_iter().flatten().map(|(k, _)| k.as_str());
        if let Some(kind) = kinds
            .filter(|k| *k != "name")
            .find(|k| !ALLOWED.contains(k))
        {
            violations.push(format!(
                "restricted volume types (volume \"{name}\" uses restricted volume type \"{kind}\")"
            ));
        }
    }
    if spec["hostNetwork"].as_bool() == Some(true) {
        violations.push("host namespaces (hostNetwork=true)".into());
    }
    (!violations.is_empty()).then(|| {
        format!(
            "pods \"{pod}\" is forbidden: violates PodSecurity \"restricted:latest\": {}",
            violations.join(", ")
        )
    })
}
