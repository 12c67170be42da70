//! The scenario configuration: the typed model of the demo's user-data ([`Scenario`]),
//! resolved from layers with the source of every value ([`resolve`]).
//!
//! Layers, lowest first: built-in defaults, a scenario TOML file, `.env` in the working
//! directory, the process environment, `--set key=value`. Keys are flat and spelled once:
//! `load_base_rps` in a scenario file and in `--set`, `LOAD_BASE_RPS` in `.env` and the
//! environment (plus the original demo's `LOAD_RAMP_INTERVAL_SECONDS` and
//! `LOAD_RUN_DURATION_SECONDS`). Only recognised variable names are read from the
//! environment. Every problem of every layer is reported at once, each naming the key, the
//! value as written, where it was written and the fix.
//!
//! A scenario file may hold several load plans run at once, `[[load]]` entries whose fields
//! are the load keys without their `load_` prefix ([`LoadPlan`]; [`Scenario::load_plans`]).
//!
//! A scenario file may also hold the run's gate: `[[thresholds]]` on the figures of
//! [`figures`] and `[[alerts]]` in PromQL ([`ThresholdEntry`], [`AlertEntry`]).
//!
//! ```
//! use scenario::{ConfigInputs, Source, resolve};
//!
//! let inputs = ConfigInputs {
//!     env: vec![("LOAD_BASE_RPS".into(), "20".into()), ("HOSTNAME".into(), "x".into())],
//!     sets: vec!["backend_scale_replicas=3".into()],
//!     ..ConfigInputs::default()
//! };
//! let resolved = resolve(&inputs).unwrap();
//! assert_eq!(resolved.scenario.load.base_rps, 20.0);
//! assert_eq!(resolved.sources["load_base_rps"].to_string(), "env LOAD_BASE_RPS");
//! assert_eq!(resolved.sources["backend_scale_replicas"], Source::Flag);
//! ```

mod autoscale;
mod builder;
mod capability;
mod check;
mod dotenv;
mod entries;
mod error;
pub mod figures;
mod file;
mod iterations;
mod keys;
mod node_ports;
mod pipeline;
mod plans;
mod render;
mod resolve;
mod scenario;
mod shape;
mod value;

pub use autoscale::{Autoscale, AutoscaleMetric, Platform, ScaleMode};
pub use capability::Capability;
pub use entries::{AlertEntry, Severity, ThresholdEntry};
pub use error::{ConfigError, ConfigErrors, ErrorKind, Source};
pub use iterations::Iterations;
pub use pipeline::{PIPELINE_ACTIONS, Pipeline, Workload};
pub use render::{
    Effective, OutputFormat, UnknownFormat, dotenv_example, scenario_from_toml, scenario_to_toml,
};
pub use resolve::{ConfigInputs, Resolved, key_names, resolve};
pub use scenario::{
    Arrival, BackendCapacity, ComponentSpec, Grafana, LoadMode, LoadPlan, LoadSpec, LoadgenKind,
    MAIN_PLAN, Scenario, ServiceType,
};

/// The result of resolving or reading configuration: every problem at once on failure.
pub type Result<T, E = ConfigErrors> = std::result::Result<T, E>;
