//! The fake's watches, as strict as an API server's: replayed from a resourceVersion,
//! answered with an ERROR event of 410 Gone when that version was compacted away, sent
//! BOOKMARKs when asked for them, and closed by the server after `timeoutSeconds` (or
//! sooner, when a test says so).

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use futures::channel::mpsc::{UnboundedSender, unbounded};
use http::Response;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use serde_json::{Value, json};

use super::Body;
use super::store::{Collection, Logged, Store, matches, pairs};

/// One open watch.
pub(crate) struct Watcher {
    coll: Collection,
    labels: Vec<(String, String)>,
    fields: Vec<(String, String)>,
    tx: UnboundedSender<Result<Frame<Bytes>, Infallible>>,
    bookmarks: bool,
    /// The server closes the watch then, as a real one does after `timeoutSeconds`.
    closes_at: tokio::time::Instant,
    /// `apiVersion` and `kind` of the watched objects, for BOOKMARK events.
    type_meta: (String, String),
    next_bookmark: tokio::time::Instant,
}

/// How often an open watch gets a BOOKMARK (a real server: about once a minute).
const BOOKMARK_EVERY: Duration = Duration::from_secs(1);

fn frame(event: &Value) -> Result<Frame<Bytes>, Infallible> {
    Ok(Frame::data(Bytes::from(format!("{event}\n"))))
}

/// Sends `entry` to every watch of its collection whose selectors it matches, dropping
/// watches whose client went away.
pub(crate) fn notify(watchers: &mut Vec<Watcher>, entry: &Logged) {
    watchers.retain(|w| {
        if !w.coll.holds(&entry.coll) || !matches(&entry.obj, &w.labels, &w.fields) {
            return !w.tx.is_closed();
        }
        w.tx.unbounded_send(frame(&json!({"type": entry.kind, "object": entry.obj})))
            .is_ok()
    });
}

/// Closes the watches whose time is up, and sends the others a BOOKMARK of `rv`.
pub(crate) fn tick(store: &mut Store) {
    let now = tokio::time::Instant::now();
    let rv = store.rv().to_string();
    store.watchers.retain_mut(|w| {
        if now >= w.closes_at {
            return false;
        }
        if w.bookmarks && now >= w.next_bookmark {
            w.next_bookmark = now + BOOKMARK_EVERY;
            let (api_version, kind) = &w.type_meta;
            let bookmark = json!({"type": "BOOKMARK", "object": {"apiVersion": api_version,
                "kind": kind, "metadata": {"resourceVersion": rv}}});
            return w.tx.unbounded_send(frame(&bookmark)).is_ok();
        }
        !w.tx.is_closed()
    });
}

/// Ends every open watch: with an ERROR event of `code` first when given (as a server
/// that fails mid-stream), else by closing the connection.
pub(crate) fn break_all(store: &mut Store, code: Option<u16>) {
    for w in store.watchers.drain(..) {
        if let Some(code) = code {
            let _ =
                w.tx.unbounded_send(frame(&error_event(code, "the watch broke")));
        }
    }
}

fn error_event(code: u16, message: &str) -> Value {
    let reason = match code {
        410 => "Expired",
        500 => "InternalError",
        _ => "ServiceUnavailable",
    };
    json!({"type": "ERROR", "object": {"kind": "Status", "apiVersion": "v1",
        "metadata": {}, "status": "Failure", "message": message, "reason": reason, "code": code}})
}

fn type_meta(coll: &Collection) -> (String, String) {
    let api_version = coll
        .prefix
        .trim_start_matches("/apis/")
        .trim_start_matches("/api/")
        .to_owned();
    let kind = match coll.plural.as_str() {
        "replicasets" => "ReplicaSet",
        "daemonsets" => "DaemonSet",
        "deployments" => "Deployment",
        "namespaces" => "Namespace",
        "services" => "Service",
        "jobs" => "Job",
        "events" => "Event",
        _ => "Pod",
    };
    (api_version, kind.to_owned())
}

/// Opens a watch of `coll` for the request's query; `limit` bounds how long the server
/// keeps any watch open.
pub(crate) fn open(
    store: &mut Store,
    coll: &Collection,
    query: &BTreeMap<String, String>,
    limit: Duration,
) -> Response<Body> {
    let (tx, rx) = unbounded();
    let response = Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .body(StreamBody::new(rx).boxed_unsync())
        .unwrap_or_default();
    let since: u64 = query
        .get("resourceVersion")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let labels = pairs(query.get("labelSelector"));
    let fields = pairs(query.get("fieldSelector"));
    // "0" or none: "any version", i.e. from now on.
    let replay = if since == 0 {
        Some(Vec::new())
    } else {
        store.since(since)
    };
    let Some(replay) = replay else {
        let message = format!("too old resource version: {since} ({})", store.oldest);
        let _ = tx.unbounded_send(frame(&error_event(410, &message)));
        return response;
    };
    for entry in replay
        .iter()
        .filter(|e| coll.holds(&e.coll) && matches(&e.obj, &labels, &fields))
    {
        let _ = tx.unbounded_send(frame(&json!({"type": entry.kind, "object": entry.obj})));
    }
    let asked = query
        .get("timeoutSeconds")
        .and_then(|t| t.parse().ok())
        .map_or(limit, Duration::from_secs);
    store.watchers.push(Watcher {
        coll: coll.clone(),
        labels,
        fields,
        tx,
        bookmarks: query.get("allowWatchBookmarks").map(String::as_str) == Some("true"),
        closes_at: tokio::time::Instant::now() + asked.min(limit),
        type_meta: type_meta(coll),
        next_bookmark: tokio::time::Instant::now() + BOOKMARK_EVERY,
    });
    response
}
