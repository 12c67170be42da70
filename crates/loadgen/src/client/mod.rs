//! The HTTP client side: what the target is ([`Target`]), how connections to it open
//! ([`Connector`]: fresh DNS, rotating addresses), one keep-alive connection ([`Conn`]) and
//! a request on a connection kept between requests ([`exchange_on`]).

mod conn;
mod connector;
mod slot;
mod target;

pub(crate) use conn::{Conn, Exchange, Failure, Parked, SendError};
pub(crate) use connector::Connector;
pub(crate) use slot::exchange_on;
pub(crate) use target::Target;
