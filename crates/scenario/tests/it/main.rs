//! Integration tests of the scenario crate: one binary, a module per area.

mod config;
