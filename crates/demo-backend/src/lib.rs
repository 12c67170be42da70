//! demo-backend: the movie-night ticketing service the demo puts under load.
//!
//! Each replica has a real capacity limit (`--workers` requests at once, each holding its
//! worker for `--service-time`, simulated with a timer), a bounded queue in front of the
//! workers and 503 + Retry-After beyond it, so one replica saturates and two carry twice as
//! much. Everything is per instance (state, metrics recorder), so several replicas can run
//! in one process.
//!
//! Where to start reading: [`run`] (`server.rs`: serving and draining), [`app`]
//! (`routes/mod.rs`: the router and its layers), `routes/actions.rs` (the three user
//! actions), `work.rs` (how their work runs) and `capacity.rs` (the capacity model).

mod capacity;
mod config;
mod counted;
mod deadline;
mod error;
mod extract;
mod jobs;
mod lifecycle;
mod metrics;
mod observe;
mod outcome;
mod queue;
mod routes;
mod server;
mod sessions;
mod state;
mod store;
mod window;
mod work;
pub mod worker;

pub use config::{
    Config, DelayRange, MAX_BODY_LIMIT, MAX_CPU_WORK, MAX_SIMULATED_WAIT, Mode, Opts,
};
pub use error::{Error, Result};
pub use jobs::JOB_CAP;
pub use queue::reading::{Reading as PipelineReading, read as read_pipeline};
pub use queue::{AMOUNT_BY_REGION, COUNT_BY_REGION, GROUP, STREAM};
pub use routes::app;
pub use routes::stress::{MAX_CPU_MS, MAX_HOLD_MS, MAX_MEMORY_BYTES, MAX_MEMORY_TOTAL};
pub use server::run;
pub use state::{AppState, StoreSizes};
pub use store::{FEEDBACK_CAP, MAX_SEATS_PER_BOOKING, TICKET_CAP};
