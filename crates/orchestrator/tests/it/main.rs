//! Integration tests of the orchestrator (one binary, modules by topic).
#![allow(clippy::field_reassign_with_default)]

mod cli;
mod dashboard;
mod gate;
mod iterations;
mod kubernetes;
mod packaging;
mod pipeline;
mod probe;
mod report;
mod resources;
mod scripted;
mod timeline;
mod timing;
