//! A ServiceAccount, a Role of `rules` in the run's namespace and the RoleBinding between
//! them, all named `name`: how a pod of the stack (Prometheus, the frontend with an
//! autoscaler) gets exactly the API access it needs and no more.

use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::rbac::v1::{PolicyRule, Role, RoleBinding, RoleRef, Subject};
use scenario::Scenario;

use super::Object;
use crate::kube::meta::{self, Job};

/// The three objects, in apply order (the binding names both).
pub fn objects(s: &Scenario, job: Job, name: &str, rules: Vec<PolicyRule>) -> Vec<Object> {
    let sa = ServiceAccount {
        metadata: meta::object_meta(s, job, name),
        automount_service_account_token: Some(true),
        ..ServiceAccount::default()
    };
    let role = Role {
        metadata: meta::object_meta(s, job, name),
        rules: Some(rules),
    };
    let binding = RoleBinding {
        metadata: meta::object_meta(s, job, name),
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".to_owned(),
            kind: "Role".to_owned(),
            name: name.to_owned(),
        },
        subjects: Some(vec![Subject {
            kind: "ServiceAccount".to_owned(),
            name: name.to_owned(),
            namespace: Some(s.namespace()),
            ..Subject::default()
        }]),
    };
    vec![
        Object::ServiceAccount(sa),
        Object::Role(role),
        Object::RoleBinding(binding),
    ]
}
