//! Load shapes: the exponential ramp, k6-style stages, named profiles, the exact send schedule
//! every load generator (and shard of one) derives from the plan rather than from the clock,
//! and the closed loop's plan of virtual users.

pub mod error;
pub mod profiles;
pub mod schedule;
pub mod shape;
pub mod stages;
pub mod vus;

pub use error::{Error, Result};
pub use profiles::Profile;
pub use schedule::{Arrivals, Schedule, Shard};
pub use shape::{Curve, Ramp, Segment};
pub use stages::{Stage, parse_stages};

#[cfg(test)]
mod tests;
