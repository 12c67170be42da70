//! The transport flags: https trust (`--cacert`, `--insecure`), `--resolve`, and HTTP/2
//! (`--http2`, `--h2-streams`), validated against the target they apply to.

use std::path::PathBuf;

use clap::Args;
use common::tls::{self, Trust};

use crate::client::Target;
use crate::{Error, Resolve, Result, Transport};

/// Most streams asked of one HTTP/2 connection; servers commonly allow 100 to 250 at once,
/// and a request beyond the server's limit waits for a stream (as in flight).
const MAX_H2_STREAMS: usize = 1000;

#[derive(Debug, Args)]
pub struct TransportOpts {
    /// https: trust the CA certificates of this PEM file (one or more in it) instead of
    /// the system's roots. Repeatable.
    #[arg(long = "cacert", env = "CACERT", value_delimiter = ',')]
    pub cacert: Vec<PathBuf>,
    /// https: verify no certificate (any issuer, any host name, expired). Said in the summary.
    #[arg(long, env = "INSECURE")]
    pub insecure: bool,
    /// Connect to host:port at addr instead of resolving it, e.g. `svc.test:443:127.0.0.1`;
    /// the URL's host stays the TLS name and the Host header. Repeatable.
    #[arg(long = "resolve", env = "RESOLVE", value_delimiter = ',')]
    pub resolve: Vec<String>,
    /// HTTP/2: negotiated by ALPN over https, with prior knowledge (h2c) over http.
    /// HTTP/1.1 by default.
    #[arg(long, env = "HTTP2")]
    pub http2: bool,
    /// HTTP/2: requests at once on one connection (streams); up to --connections times
    /// this many requests are in progress.
    #[arg(long, env = "H2_STREAMS", default_value_t = 1)]
    pub h2_streams: usize,
}

impl TransportOpts {
    /// The transport for `target` (already parsed); every refusal names its flag.
    pub(super) fn into_transport(self, target: &str) -> Result<Transport> {
        let target = Target::parse(target).map_err(|e| Error::Flag("--target", e))?;
        let trust = Trust::from_flags(self.cacert, self.insecure)
            .map_err(|e| Error::Flag("--cacert", e.to_string()))?;
        if !target.is_tls() && trust != Trust::System {
            let flag = if trust == Trust::Insecure {
                "--insecure"
            } else {
                "--cacert"
            };
            return Err(Error::Flag(
                flag,
                "applies to https:// targets; this one is http:// (leave it out)".into(),
            ));
        }
        if let Trust::CaFiles(files) = &trust {
            for path in files {
                tls::read_certificates(path).map_err(|e| Error::Flag("--cacert", e.to_string()))?;
            }
        }
        let mut resolve = Vec::new();
        for entry in self.resolve.iter().filter(|r| !r.trim().is_empty()) {
            let r: Resolve = entry
                .trim()
                .parse()
                .map_err(|e| Error::Flag("--resolve", e))?;
            if r.host != target.host || r.port != target.port {
                return Err(Error::Flag(
                    "--resolve",
                    format!(
                        "`{entry}` is not for the target's host and port ({}:{}), so it would \
                         never be used",
                        target.host, target.port
                    ),
                ));
            }
            resolve.push(r);
        }
        if !(1..=MAX_H2_STREAMS).contains(&self.h2_streams) {
            return Err(Error::Flag(
                "--h2-streams",
                format!(
                    "must be from 1 to {MAX_H2_STREAMS}, got {}",
                    self.h2_streams
                ),
            ));
        }
        if self.h2_streams > 1 && !self.http2 {
            return Err(Error::Flag(
                "--h2-streams",
                "applies to HTTP/2: give --http2 too".into(),
            ));
        }
        Ok(Transport {
            trust,
            http2: self.http2,
            h2_streams: self.h2_streams,
            resolve,
        })
    }
}
