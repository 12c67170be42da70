//! The HTTP client side: what the target is ([`Target`]), how connections to it open
//! ([`Connector`]: fresh DNS or `--resolve`, rotating addresses, TLS, HTTP/1.1 or HTTP/2),
//! what their setup costs ([`Setup`]), one keep-alive connection ([`Conn`]) over its byte
//! stream ([`Stream`]) and a request on a connection kept between requests ([`exchange_on`]).

mod conn;
mod connector;
mod setup;
mod slot;
mod stream;
mod target;

pub(crate) use conn::{Conn, Exchange, Failure, Parked, SendError};
pub(crate) use connector::{Connector, Dialing};
pub(crate) use setup::{Setup, SetupMetrics, SetupTotals};
pub(crate) use slot::exchange_on;
pub(crate) use stream::Stream;
pub(crate) use target::Target;
