//! The HTTP client side: where the target is ([`Target`]) and how requests reach it
//! ([`Pool`]: bounded, aged HTTP/1.1 keep-alive connections).

mod pool;
mod target;

pub(crate) use pool::{Failure, Pool};
pub(crate) use target::Target;
