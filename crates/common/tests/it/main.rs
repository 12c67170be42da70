//! Integration tests of the common crate: one binary, a module per area.

mod config;
