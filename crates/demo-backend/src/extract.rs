//! Extractors that turn axum's plain-text rejections into [`ApiError`] JSON: a JSON body
//! (400 malformed or wrong types, 413 too large), path ids, and the `?mode=` query.

use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use http_body_util::LengthLimitError;
use serde::de::DeserializeOwned;
use serde_json::error::Category;

use crate::config::Mode;
use crate::error::ApiError;
use crate::state::AppState;

/// A JSON request body of at most `--max-body` bytes. Unlike `axum::Json` it does not
/// insist on a Content-Type: clients of a demo send JSON, and a wrong body still gets a
/// precise 400.
#[derive(Debug)]
pub(crate) struct JsonBody<T>(pub(crate) T);

impl<T: DeserializeOwned> FromRequest<AppState> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let limit = state.inner.config.max_body;
        let bytes = axum::body::to_bytes(req.into_body(), limit)
            .await
            .map_err(|e| {
                if is_over_limit(&e) {
                    ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "request body too large")
                        .with_detail(format!(
                            "send at most {limit} bytes (the limit is set by --max-body)"
                        ))
                } else {
                    ApiError::bad_request("cannot read the request body").with_detail(e.to_string())
                }
            })?;
        parse_json(&bytes).map(JsonBody)
    }
}

fn is_over_limit(error: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = source {
        if e.is::<LengthLimitError>() {
            return true;
        }
        source = e.source();
    }
    false
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
