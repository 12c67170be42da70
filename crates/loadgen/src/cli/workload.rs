//! The workload flags: `--actions` (the weighted mix) and `--url` with its method, headers
//! and body.

use bytes::Bytes;
use common::api::Action;

use super::Opts;
use crate::{CustomRequest, Error, Result, Workload};

/// `--url` mode: the target is the URL's origin when `--url` is absolute, else `--target`.
pub(super) fn custom_workload(
    target: Option<&str>,
    url: &str,
    opts: &Opts,
) -> Result<(String, Workload)> {
    let bad_url = |why: String| Error::Flag("--url", why);
    let (target, path) = if url.starts_with('/') {
        let target =
            target.ok_or_else(|| bad_url(format!("`{url}` is a path: give --target too")))?;
        (target.to_string(), url.to_string())
    } else {
        let uri: http::Uri = url
            .parse()
            .map_err(|e| bad_url(format!("`{url}` is neither a /path nor a URL: {e}")))?;
        let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
            return Err(bad_url(format!(
                "`{url}` is neither a /path nor an http:// URL"
            )));
        };
        let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_string();
        (format!("{scheme}://{authority}"), path)
    };
    if path.parse::<http::uri::PathAndQuery>().is_err() {
        return Err(bad_url(format!("`{path}` is not a valid URL path")));
    }
    let method = http::Method::from_bytes(opts.method.trim().as_bytes()).map_err(|_| {
        Error::Flag(
            "--method",
            format!("`{}` is not an HTTP method", opts.method),
        )
    })?;
    let headers = opts
        .headers
        .iter()
        .map(|h| parse_header(h))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|why| Error::Flag("--header", why))?;
    let body = match opts.body.as_deref() {
        None => Bytes::new(),
        Some(b) => match b.strip_prefix('@') {
            Some(file) => std::fs::read(file)
                .map(Bytes::from)
                .map_err(|e| Error::Flag("--body", format!("cannot read `{file}`: {e}")))?,
            None => Bytes::from(b.to_string()),
        },
    };
    let custom = CustomRequest {
        path,
        method,
        headers,
        body,
    };
    Ok((target, Workload::Custom(custom)))
}

fn parse_header(h: &str) -> Result<(http::HeaderName, http::HeaderValue), String> {
    let (name, value) = h
        .split_once(':')
        .ok_or_else(|| format!("`{h}` is not `Name: value`"))?;
    let name = http::HeaderName::from_bytes(name.trim().as_bytes())
        .map_err(|_| format!("`{}` is not a valid header name", name.trim()))?;
    let value = http::HeaderValue::from_str(value.trim())
        .map_err(|_| format!("the value of `{h}` is not a valid header value"))?;
    Ok((name, value))
}

/// `book_ticket=5,cancel_ticket` → weighted actions (weight 1 when omitted).
pub(super) fn parse_actions(input: &str) -> Result<Vec<(Action, u32)>> {
    let bad = |why: String| Error::Flag("--actions", why);
    let mut out = Vec::new();
    for part in input.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (name, weight) = match part.split_once('=') {
            Some((n, w)) => {
                let w: u32 = w
                    .trim()
                    .parse()
                    .map_err(|_| bad(format!("weight in `{part}` is not a whole number")))?;
                (n, w)
            }
            None => (part, 1),
        };
        let action: Action = name.parse().map_err(|e| bad(format!("{e}")))?;
        if out.iter().any(|&(a, _)| a == action) {
            return Err(bad(format!("`{action}` is listed twice")));
        }
        out.push((action, weight));
    }
    if out.iter().all(|&(_, w)| w == 0) {
        return Err(bad("no action with a weight above 0".into()));
    }
    Ok(out)
}
