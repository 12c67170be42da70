//! Errors: the library's [`Error`] (configuration, serving) and [`ApiError`], the JSON
//! answer of every non-2xx response, so clients always get `common::api::ErrorBody`. The
//! rejections of axum's extractors convert into it, so a bad path or query is a JSON 400 too.

use std::time::Duration;

use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use common::api::ErrorBody;

/// What can go wrong configuring or running the backend.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid {flag}: {reason}")]
    InvalidFlag { flag: &'static str, reason: String },
    #[error("cannot read the listener's local address")]
    LocalAddr(#[source] std::io::Error),
    #[error("the HTTP server failed")]
    Serve(#[source] std::io::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Seconds a client is told to wait before retrying a 503.
pub(crate) const RETRY_AFTER: Duration = Duration::from_secs(1);

/// An HTTP error answer: a status, a short message, an optional detail, and for 503 a
/// Retry-After header. Never carries internal details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) error: String,
    pub(crate) detail: Option<String>,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, error: impl Into<String>) -> Self {
        Self {
            status,
            error: error.into(),
            detail: None,
        }
    }

    pub(crate) fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    pub(crate) fn bad_request(error: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, error)
    }

    pub(crate) fn not_found(error: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, error)
    }

    pub(crate) fn unavailable(error: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, error)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let retry = self.status == StatusCode::SERVICE_UNAVAILABLE;
        let body = ErrorBody {
            error: self.error,
            detail: self.detail,
        };
        let mut response = (self.status, Json(body)).into_response();
        if retry {
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from(RETRY_AFTER.as_secs()),
            );
        }
        response
    }
}

/// The `{id}` of a path: the only way it fails a valid route is an id that is not UTF-8
/// once percent-decoded.
impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        let status = rejection.status();
        let error = if status.is_client_error() {
            "invalid id in the path"
        } else {
            "cannot read the path"
        };
        Self::new(status, error).with_detail(rejection.body_text())
    }
}

/// The query string: `mode` is the only parameter the backend reads.
impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        Self::bad_request("unknown mode in the query: use ?mode=sync or ?mode=async")
            .with_detail(rejection.body_text())
    }
}
