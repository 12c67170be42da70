//! The orchestrator: runs a scenario (deploy, baseline, load, scale, unload) on a runtime,
//! samples every component's `/metrics` once a second, and writes a report with charts.
//!
//! Where to start reading: [`runtime`] (the seam both runtimes implement), [`components`]
//! (scenario → component flags), then the local runtime in [`local`].

pub mod autoscale;
pub mod capability;
pub mod chaos;
pub mod cli;
pub mod commands;
pub mod compare;
pub mod components;
pub mod gate;
pub mod iterations;
pub mod kube;
pub mod local;
pub mod pipeline;
pub mod report;
pub mod resources;
pub mod runtime;
pub mod sample;
pub mod timeline;
