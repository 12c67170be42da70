//! Label keys and values put on every Kubernetes object. `destroy` and the delete phase find
//! objects by these labels only.

pub const NAME: &str = "app.kubernetes.io/name";
pub const INSTANCE: &str = "app.kubernetes.io/instance";
pub const COMPONENT: &str = "app.kubernetes.io/component";
pub const PART_OF: &str = "app.kubernetes.io/part-of";
pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
pub const VERSION: &str = "app.kubernetes.io/version";
/// The run's uuid: every object of one run carries it.
pub const UUID: &str = "load-demo.io/uuid";
/// The scenario job an object belongs to (backend, frontend, loadgen, prometheus, prepull).
pub const JOB: &str = "load-demo.io/job";

/// Which copy (1-based) of several (`iterations` > 1) an object belongs to.
pub const ITERATION: &str = "load-demo.io/iteration";

/// The load plan a load generator's objects and pods run (`main` without `[[load]]`).
pub const PLAN: &str = "load-demo.io/plan";

/// Value of `app.kubernetes.io/managed-by`.
pub const MANAGER: &str = "load-demo-orchestrator";
