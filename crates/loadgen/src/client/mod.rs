//! The HTTP client side: what the target is ([`Target`]), how connections to it open
//! ([`Connector`]: fresh DNS, rotating addresses) and one keep-alive connection ([`Conn`]).

mod conn;
mod connector;
mod target;

pub(crate) use conn::{Conn, Exchange, Failure, Parked, SendError};
pub(crate) use connector::Connector;
pub(crate) use target::Target;
