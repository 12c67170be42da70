//! What the workspace's tests share, so each exists once: the verdict of the real
//! `promtool check metrics` on a `/metrics` page (every page of the contract must pass it) and
//! the load generator's flags for a test run.

mod loadgen_args;
mod promtool;

pub use loadgen_args::LoadgenArgs;
pub use promtool::assert_promtool_accepts;
