//! loadgen integration tests: real HTTP servers on 127.0.0.1:0 (test servers, over HTTPS
//! and HTTP/2 too, and the real demo-backend), the library's `run`, and the built binary. Rate and latency measurements live in `timing` (run alone by nextest).

mod binary;
mod cli;
mod closed;
mod connections;
mod helpers;
mod jobs;
mod metrics;
mod orders;
mod pki;
mod runs;
mod server;
mod timing;
mod tls;
