//! demo-backend's integration tests: one binary, one module per concern. Rate and latency
//! tests live in `timing` (nextest runs them alone).

mod claim;
mod cli;
mod fuzz;
mod helpers;
mod http;
mod hung_redis;
mod memory;
mod metrics;
mod oneshot;
mod oneshot_errors;
mod pipeline;
mod pipeline_reading;
mod shutdown;
mod timing;
