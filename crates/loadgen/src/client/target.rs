//! The target URL taken apart: the `host:port` to resolve on every new connection, the
//! `Host` header, and the base path prefixed to every route.

use http::HeaderValue;

/// A validated `http://host[:port][/base]` target.
#[derive(Debug, Clone)]
pub(crate) struct Target {
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
        match uri.scheme_str() {
            Some("http") => {}
            Some("https") => {
                return Err(format!(
                    "`{url}`: https is not supported; point it at the plain-HTTP service (http://)"
                ));
            }
            _ => return Err(format!("`{url}` is not an http:// URL")),
        }
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
        let port = authority.port_u16().unwrap_or(80);
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
            resolve,
            host_header,
            base_path,
        })
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
    }

    #[test]
    fn refuses_what_it_cannot_serve_with_a_reason() {
        for (bad, says) in [
            ("ftp://x", "http://"),
            ("https://x", "https is not supported"),
            ("x y", "not a URL"),
            ("http://u:p@x", "user info"),
            ("http://x/?a=1", "query"),
        ] {
            let e = Target::parse(bad).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }
}
