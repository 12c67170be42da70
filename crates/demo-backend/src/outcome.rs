//! What an action's work produced ([`Done`]: status, JSON body, `outcome` label) and the
//! counting of each action request's outcome, exactly once ([`Tally`]), in
//! `app_interactions_total` and /api/stats.

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use common::api::{Action, ErrorBody};
use common::names::outcome;
use serde::Serialize;

use crate::error::ApiError;
use crate::state::AppState;
use crate::work::Refusal;

/// The result of an action's work: status, JSON body (none for 204) and `outcome` label.
#[derive(Debug, Clone)]
pub(crate) struct Done {
    pub(crate) status: StatusCode,
    /// Serialized once, straight to bytes; parsed again only for a job's `result`.
    pub(crate) body: Option<Vec<u8>>,
    pub(crate) outcome: &'static str,
}

impl Done {
    pub(crate) fn json(status: StatusCode, body: &impl Serialize, outcome: &'static str) -> Self {
        Self {
            status,
            body: Some(serde_json::to_vec(body).unwrap_or_else(|_| b"null".to_vec())),
            outcome,
        }
    }

    pub(crate) fn empty(status: StatusCode, outcome: &'static str) -> Self {
        Self {
            status,
            body: None,
            outcome,
        }
    }

    pub(crate) fn error(status: StatusCode, error: String, outcome: &'static str) -> Self {
        Self::json(
            status,
            &ErrorBody {
                error,
                detail: None,
            },
            outcome,
        )
    }

    pub(crate) fn succeeded(&self) -> bool {
        self.status.is_success()
    }

    /// The body as a JSON value, for a job's `result`.
    pub(crate) fn into_value(self) -> Option<serde_json::Value> {
        self.body.and_then(|b| serde_json::from_slice(&b).ok())
    }
}

impl IntoResponse for Done {
    fn into_response(self) -> Response {
        let Some(body) = self.body else {
            return self.status.into_response();
        };
        let mut response = (self.status, Body::from(body)).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        response
    }
}

/// Counts the outcome of one action request. Each way of ending it consumes the tally, so
/// a request is counted once; a tally dropped unfinished (the request timed out, its client
/// left, the instance stopped) counts as `error`.
#[derive(Debug)]
pub(crate) struct Tally {
    state: AppState,
    action: Action,
    counted: bool,
}

impl Tally {
    pub(crate) fn new(state: &AppState, action: Action) -> Self {
        Self {
            state: state.clone(),
            action,
            counted: false,
        }
    }

    pub(crate) fn action(&self) -> Action {
        self.action
    }

    /// The work was done: counts its outcome.
    pub(crate) fn finish(self, done: &Done) {
        self.count(done.outcome, done.succeeded());
    }

    /// Bad input (`not_found` for a 404, else `rejected`), answered with `error`.
    pub(crate) fn reject(self, error: ApiError) -> Response {
        let outcome = if error.status == StatusCode::NOT_FOUND {
            outcome::NOT_FOUND
        } else {
            outcome::REJECTED
        };
        self.count(outcome, false);
        error.into_response()
    }

    /// Turned away before the work (draining, overloaded): counted as `shed`.
    pub(crate) fn refuse(self, refusal: Refusal) -> Response {
        self.count(outcome::SHED, false);
        refusal.into_response()
    }

    fn count(mut self, outcome: &'static str, success: bool) {
        self.state.count_action(self.action, outcome, success);
        self.counted = true;
    }
}

impl Drop for Tally {
    fn drop(&mut self) {
        if !self.counted {
            self.state.count_action(self.action, outcome::ERROR, false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn counts(state: &AppState) -> (u64, u64) {
        let stats = state.stats();
        let c = stats
            .interactions
            .iter()
            .find(|c| c.action == Action::GiveFeedback)
            .unwrap();
        (c.ok, c.errors)
    }

    #[test]
    fn every_ending_counts_once_and_a_dropped_tally_is_an_error() {
        let state = AppState::new(Config::default());
        Tally::new(&state, Action::GiveFeedback).finish(&Done::empty(StatusCode::CREATED, "ok"));
        assert_eq!(counts(&state), (1, 0));
        let _ = Tally::new(&state, Action::GiveFeedback).reject(ApiError::bad_request("x"));
        let _ = Tally::new(&state, Action::GiveFeedback).refuse(Refusal::Overloaded);
        drop(Tally::new(&state, Action::GiveFeedback));
        assert_eq!(counts(&state), (1, 3));
    }
}
