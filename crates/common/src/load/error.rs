//! Errors for load-shape input (stage lists, shards, profile names, ramp parameters).

/// What is wrong with a load shape given by a user.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum Error {
    #[error("stage `{0}`: {1} (write stages like `30s:20,1m30s:10,20s:0`)")]
    BadStage(String, String),
    #[error("stage list is empty; give at least one `<duration>:<rps>` stage")]
    NoStages,
    #[error("shard `{0}` is not `i/n` with 0 <= i < n (example: `0/3`)")]
    BadShard(String),
    #[error("unknown load profile `{0}`; known profiles: {1}")]
    UnknownProfile(String, String),
    #[error("{0} must be a finite number >= 0, got {1}")]
    BadRate(&'static str, f64),
    #[error("ramp interval must be longer than zero")]
    ZeroInterval,
    #[error("time scale must be a finite number above 0, got {0}")]
    BadTimeScale(f64),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
