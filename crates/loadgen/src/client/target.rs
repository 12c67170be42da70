//! The target URL taken apart: http or https, the `host:port` to resolve on every new
//! connection, the name a TLS handshake asks for, the `Host` header, and the base path
//! prefixed to every route.

use http::HeaderValue;
use http::uri::{Authority, Scheme};

/// A validated `http[s]://host[:port][/base]` target.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub(crate) scheme: Scheme,
    /// `host[:port]` as written: HTTP/2's `:authority`.
    pub(crate) authority: Authority,
    /// The host without IPv6 brackets: what `--resolve` matches and TLS names (SNI).
    pub(crate) host: String,
    pub(crate) port: u16,
    /// `host:port`, resolved again on each new connection (DNS may have changed).
    pub(crate) resolve: String,
    pub(crate) host_header: HeaderValue,
    /// Path prefix without a trailing `/` (often empty).
    pub(crate) base_path: String,
}

impl Target {
    /// Parses a target; the error says what is accepted.
    pub(crate) fn parse(url: &str) -> Result<Self, String> {
        let uri: http::Uri = url
            .parse()
            .map_err(|e| format!("`{url}` is not a URL ({e}); write it like http://host:8080"))?;
        let (scheme, default_port) = match uri.scheme_str() {
            Some("http") => (Scheme::HTTP, 80),
            Some("https") => (Scheme::HTTPS, 443),
            _ => return Err(format!("`{url}` is not an http:// or https:// URL")),
        };
        let authority = uri
            .authority()
            .ok_or_else(|| format!("`{url}` has no host; write it like http://host:8080"))?;
        if authority.as_str().contains('@') {
            return Err(format!("`{url}`: user info in the URL is not supported"));
        }
        let host = authority.host();
        if host.is_empty() {
            return Err(format!("`{url}` has no host"));
        }
        let port = authority.port_u16().unwrap_or(default_port);
        // IPv6 literals keep their brackets so `host:port` resolves.
        let resolve = if host.contains(':') && !host.starts_with('[') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        let host_header = HeaderValue::from_str(authority.as_str())
            .map_err(|_| format!("`{url}` has a host that is not a valid Host header"))?;
        if uri.query().is_some() {
            return Err(format!("`{url}`: a target cannot carry a query string"));
        }
        let base_path = uri.path().trim_end_matches('/').to_string();
        Ok(Self {
            scheme,
            authority: authority.clone(),
            host: host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_ascii_lowercase(),
            port,
            resolve,
            host_header,
            base_path,
        })
    }

    /// True for an https target.
    pub(crate) fn is_tls(&self) -> bool {
        self.scheme == Scheme::HTTPS
    }

    /// The origin-form URI of `path` (which starts with `/`) under the base path.
    pub(crate) fn uri(&self, path: &str) -> Result<http::Uri, http::uri::InvalidUri> {
        format!("{}{path}", self.base_path).parse()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_hosts_ports_and_base_paths() {
        let t = Target::parse("http://127.0.0.1:8080").unwrap();
        assert_eq!(t.resolve, "127.0.0.1:8080");
        assert_eq!(t.host_header, "127.0.0.1:8080");
        assert_eq!(t.uri("/api/tickets").unwrap(), "/api/tickets");
        let t = Target::parse("http://backend/prefix/").unwrap();
        assert_eq!(t.resolve, "backend:80");
        assert_eq!(t.uri("/readyz").unwrap(), "/prefix/readyz");
        let t = Target::parse("http://[::1]:9000").unwrap();
        assert_eq!(t.resolve, "[::1]:9000");
        assert_eq!(t.host, "::1");
        assert!(!t.is_tls());
        let t = Target::parse("https://Svc.Example/base").unwrap();
        assert!(t.is_tls());
        assert_eq!((t.host.as_str(), t.port), ("svc.example", 443));
        assert_eq!(t.resolve, "Svc.Example:443");
        assert_eq!(t.authority, "Svc.Example");
    }

    #[test]
    fn refuses_what_it_cannot_serve_with_a_reason() {
        for (bad, says) in [
            ("ftp://x", "http:// or https://"),
            ("x y", "not a URL"),
            ("http://u:p@x", "user info"),
            ("http://x/?a=1", "query"),
        ] {
            let e = Target::parse(bad).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }
}
