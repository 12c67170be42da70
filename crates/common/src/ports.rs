//! The container ports every component listens on in a pod (and the compose stack): a contract
//! between the images, the manifests and the components' default `--listen` addresses.

pub const BACKEND: u16 = 8080;
pub const FRONTEND: u16 = 8080;
pub const LOADGEN_METRICS: u16 = 2112;
/// The pipeline worker's `/metrics` (and health) port.
pub const WORKER: u16 = 8080;
pub const PROMETHEUS: u16 = 9090;
