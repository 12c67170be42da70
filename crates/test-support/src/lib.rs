//! What the workspace's tests share, so each exists once: the verdict of the real
//! `promtool check metrics` on a `/metrics` page (every page of the contract must pass it),
//! the load generator's flags for a test run, and a real `redis-server` on a loopback port.

mod loadgen_args;
mod promtool;
mod redis_server;

pub use loadgen_args::LoadgenArgs;
pub use promtool::{
    assert_promtool_accepts, assert_promtool_accepts_config, promtool_check_config,
};
pub use redis_server::RedisServer;
