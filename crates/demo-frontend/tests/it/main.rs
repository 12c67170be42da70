//! Integration tests of demo-frontend against real demo-backend replicas on 127.0.0.1
//! (behind a TLS terminator too).

mod aggregation;
mod browser;
mod hpa;
mod ops;
mod proxy;
mod replicas;
mod support;
mod timing;
mod tls;
