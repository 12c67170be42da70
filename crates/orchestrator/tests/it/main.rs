//! Integration tests of the orchestrator (one binary, modules by topic).
#![allow(clippy::field_reassign_with_default)]

mod cli;
mod gate;
mod kubernetes;
mod packaging;
mod report;
mod scripted;
mod timeline;
mod timing;
