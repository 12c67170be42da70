//! What the workspace's tests share, so each check exists once: today the verdict of the real
//! `promtool check metrics` on a `/metrics` page (every page of the contract must pass it).

mod promtool;

pub use promtool::assert_promtool_accepts;
