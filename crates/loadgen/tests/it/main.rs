//! loadgen integration tests.

mod cli;
