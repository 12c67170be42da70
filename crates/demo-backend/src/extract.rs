//! Request input checked into [`ApiError`] JSON instead of axum's plain-text rejections: a
//! JSON body (400 malformed or wrong types, 413 too large), path ids, and the `?mode=` query.
//! Each is an axum extractor for the axum handlers and a plain function for the actions.

use axum::body::HttpBody;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use percent_encoding::percent_decode_str;
use serde::de::DeserializeOwned;
use serde_json::error::Category;

use crate::config::Mode;
use crate::error::ApiError;
use crate::state::AppState;

/// A request body the backend reads: hyper's own, as the server receives it (the action
/// routes read it as it is, without boxing it into an axum `Body`), or any body in tests.
pub(crate) trait RequestBody:
    HttpBody<Data = Bytes, Error: Into<tower::BoxError>> + Send + 'static
{
}

impl<B> RequestBody for B
where
    B: HttpBody<Data = Bytes> + Send + 'static,
    B::Error: Into<tower::BoxError>,
{
}

/// A JSON request body of at most `--max-body` bytes. Unlike `axum::Json` it does not
/// insist on a Content-Type: clients of a demo send JSON, and a wrong body still gets a
/// precise 400.
#[derive(Debug)]
pub(crate) struct JsonBody<T>(pub(crate) T);

impl<T: DeserializeOwned> FromRequest<AppState> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        json_body(req.into_body(), state.inner.config.max_body)
            .await
            .map(JsonBody)
    }
}

/// A JSON body of at most `limit` bytes, parsed into `T`: what [`JsonBody`] extracts, for
/// handlers that take the request as it is.
pub(crate) async fn json_body<T: DeserializeOwned>(
    body: impl RequestBody,
    limit: usize,
) -> Result<T, ApiError> {
    let bytes = read_body(body, limit).await?;
    parse_json(&bytes)
}

/// Reads a whole body of at most `limit` bytes. A body that arrives in one frame (any small
/// request) is kept as received, without the copy a general collector makes.
async fn read_body(body: impl RequestBody, limit: usize) -> Result<Bytes, ApiError> {
    if body.size_hint().lower() > limit as u64 {
        return Err(too_large(limit));
    }
    let mut body = std::pin::pin!(body);
    let mut first: Option<Bytes> = None;
    let mut joined = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            ApiError::bad_request("cannot read the request body").with_detail(e.into().to_string())
        })?;
        // Trailers carry nothing a JSON body needs.
        let Ok(data) = frame.into_data() else {
            continue;
        };
        let total = first.as_ref().map_or(0, Bytes::len) + joined.len() + data.len();
        if total > limit {
            return Err(too_large(limit));
        }
        match first.take() {
            None if joined.is_empty() => first = Some(data),
            None => joined.extend_from_slice(&data),
            Some(earlier) => {
                joined.reserve(total);
                joined.extend_from_slice(&earlier);
                joined.extend_from_slice(&data);
            }
        }
    }
    Ok(first.unwrap_or_else(|| joined.freeze()))
}

fn too_large(limit: usize) -> ApiError {
    ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "request body too large").with_detail(format!(
        "send at most {limit} bytes (the limit is set by --max-body)"
    ))
}

/// The `{id}` of a route whose template ends with it (the last path segment),
/// percent-decoded. The route table has already checked that the segment is not empty.
#[derive(Debug)]
pub(crate) struct PathId(pub(crate) String);

impl<S: Send + Sync> FromRequestParts<S> for PathId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        path_id(parts.uri.path()).map(PathId)
    }
}

/// The last segment of `path`, percent-decoded: what [`PathId`] extracts.
pub(crate) fn path_id(path: &str) -> Result<String, ApiError> {
    let raw = path.rsplit('/').next().unwrap_or_default();
    percent_decode_str(raw)
        .decode_utf8()
        .map(std::borrow::Cow::into_owned)
        .map_err(|e| {
            ApiError::bad_request("invalid id in the path")
                .with_detail(format!("the percent-decoded id is not UTF-8: {e}"))
        })
}

/// Parses `bytes` as JSON into `T`, telling malformed JSON apart from wrong fields or types.
pub(crate) fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| {
        let error = match e.classify() {
            Category::Data => "wrong fields or types in the JSON body",
            Category::Eof if bytes.iter().all(u8::is_ascii_whitespace) => {
                "the request body is empty: send a JSON object"
            }
            Category::Syntax | Category::Eof | Category::Io => "malformed JSON body",
        };
        ApiError::bad_request(error).with_detail(e.to_string())
    })
}

/// The processing mode asked for with `?mode=sync|async`, if any.
pub(crate) fn mode_from_query(query: Option<&str>) -> Result<Option<Mode>, ApiError> {
    let Some(query) = query else {
        return Ok(None);
    };
    let mut mode = None;
    for pair in query.split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if key != "mode" {
            continue;
        }
        mode = Some(match value {
            "sync" => Mode::Sync,
            "async" => Mode::Async,
            other => {
                let shown: String = other.chars().take(32).collect();
                return Err(ApiError::bad_request(format!(
                    "unknown mode `{shown}`: use ?mode=sync or ?mode=async"
                )));
            }
        });
    }
    Ok(mode)
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::api::FeedbackRequest;

    #[test]
    fn json_errors_say_what_is_wrong() {
        let e = parse_json::<FeedbackRequest>(b"{").unwrap_err();
        assert_eq!(e.error, "malformed JSON body");
        let e = parse_json::<FeedbackRequest>(br#"{"rating":"five"}"#).unwrap_err();
        assert_eq!(e.error, "wrong fields or types in the JSON body");
        assert!(e.detail.unwrap().contains("invalid type"));
        let e = parse_json::<FeedbackRequest>(b"").unwrap_err();
        assert!(e.error.contains("empty"));
        assert!(parse_json::<FeedbackRequest>(br#"{"rating":5}"#).is_ok());
    }

    #[test]
    fn mode_query_parses_and_rejects_unknown_values() {
        assert_eq!(mode_from_query(None).unwrap(), None);
        assert_eq!(mode_from_query(Some("a=1")).unwrap(), None);
        assert_eq!(
            mode_from_query(Some("mode=async")).unwrap(),
            Some(Mode::Async)
        );
        assert_eq!(
            mode_from_query(Some("x&mode=sync")).unwrap(),
            Some(Mode::Sync)
        );
        assert!(mode_from_query(Some("mode=later")).is_err());
    }
}
