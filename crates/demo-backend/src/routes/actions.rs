//! The three user actions (book_ticket, cancel_ticket, give_feedback) and the async job
//! status route. Input is validated before admission, so bad requests never take a worker.
//!
//! The actions are the hot path of every load test, so they are plain async functions over
//! the request rather than axum extractor handlers: the extractors split and rebuild the
//! request, clone the state and box the handler once more, on every request.

use std::future::ready;

use axum::Json;
use axum::extract::State;
use axum::http::Request;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use common::api::{Action, BookTicketRequest, FeedbackRequest, MAX_COMMENT_CHARS, RATING_RANGE};
use common::names::outcome;

use super::work::{Done, execute, reject};
use crate::config::Mode;
use crate::error::ApiError;
use crate::extract::{PathId, RequestBody, json_body, mode_from_query, path_id};
use crate::state::AppState;
use crate::store::{BookError, JOB_CAP, MAX_SEATS_PER_BOOKING};

/// Longest ticket or job id looked up; longer ones cannot exist.
const MAX_ID_LEN: usize = 128;

/// The processing mode of this request (`?mode=`, else `--mode`), checked before its input.
fn mode<B>(state: &AppState, req: &Request<B>) -> Result<Mode, ApiError> {
    Ok(mode_from_query(req.uri().query())?.unwrap_or(state.inner.config.mode))
}

/// The processing mode and the JSON body of an action request: every action checks both
/// before it may take a worker. The body is read even when the mode is wrong, so the
/// connection stays usable.
async fn mode_and_body<T: serde::de::DeserializeOwned>(
    state: &AppState,
    req: Request<impl RequestBody>,
) -> Result<(Mode, T), ApiError> {
    let mode = mode(state, &req);
    let body = json_body(req.into_body(), state.inner.config.max_body).await;
    Ok((mode?, body?))
}

/// `POST /api/tickets`.
pub(crate) async fn book_ticket(state: AppState, req: Request<impl RequestBody>) -> Response {
    let action = Action::BookTicket;
    let (mode, request) = match mode_and_body::<BookTicketRequest>(&state, req).await {
        Ok(checked) => checked,
        Err(e) => return reject(&state, action, e),
    };
    if !(1..=MAX_SEATS_PER_BOOKING).contains(&request.seats) {
        return reject(
            &state,
            action,
            ApiError::bad_request(format!(
                "seats must be between 1 and {MAX_SEATS_PER_BOOKING}, got {}",
                request.seats
            )),
        );
    }
    execute(state, Some(action), mode, move |state| {
        let id = state.inner.ids.next("tkt");
        let booked = state.store().book(id, request.showtime_id, request.seats);
        ready(match booked {
            Ok(ticket) => Done::json(StatusCode::CREATED, &ticket, outcome::OK),
            Err(BookError::UnknownShowtime(id)) => Done::error(
                StatusCode::NOT_FOUND,
                format!("showtime {id} does not exist: GET /api/showtimes lists them"),
                outcome::NOT_FOUND,
            ),
            Err(BookError::SoldOut {
                showtime_id,
                available,
            }) => Done::error(
                StatusCode::CONFLICT,
                format!(
                    "showtime {showtime_id} is sold out: {available} seats left, asked for {}",
                    request.seats
                ),
                outcome::SOLD_OUT,
            ),
        })
    })
    .await
}

/// `DELETE /api/tickets/{id}`: idempotent, 204 whether or not the ticket existed.
pub(crate) async fn cancel_ticket(state: AppState, req: Request<impl RequestBody>) -> Response {
    let action = Action::CancelTicket;
    let checked = mode(&state, &req).and_then(|mode| Ok((mode, path_id(req.uri().path())?)));
    // Nothing more is read from it, and the answer may wait for a worker.
    drop(req);
    let (mode, id) = match checked {
        Ok(checked) => checked,
        Err(e) => return reject(&state, action, e),
    };
    execute(state, Some(action), mode, move |state| {
        let existed = id.len() <= MAX_ID_LEN && state.store().cancel(&id);
        let outcome = if existed {
            outcome::OK
        } else {
            outcome::NOT_FOUND
        };
        ready(Done::empty(StatusCode::NO_CONTENT, outcome))
    })
    .await
}

/// `POST /api/feedback`.
pub(crate) async fn give_feedback(state: AppState, req: Request<impl RequestBody>) -> Response {
    let action = Action::GiveFeedback;
    let (mode, request) = match mode_and_body::<FeedbackRequest>(&state, req).await {
        Ok(checked) => checked,
        Err(e) => return reject(&state, action, e),
    };
    if !RATING_RANGE.contains(&request.rating) {
        return reject(
            &state,
            action,
            ApiError::bad_request(format!(
                "rating must be between {} and {}, got {}",
                RATING_RANGE.start(),
                RATING_RANGE.end(),
                request.rating
            )),
        );
    }
    if let Some(comment) = &request.comment {
        let chars = comment.chars().count();
        if chars > MAX_COMMENT_CHARS {
            return reject(
                &state,
                action,
                ApiError::bad_request(format!(
                    "comment too long: {chars} characters, at most {MAX_COMMENT_CHARS}"
                )),
            );
        }
    }
    execute(state, Some(action), mode, move |state| {
        let id = state.inner.ids.next("fb");
        let done = Done::created_with_id(&id, outcome::OK);
        state.store().add_feedback(id, request);
        ready(done)
    })
    .await
}

/// `GET /api/jobs/{id}`.
pub(crate) async fn job_status(
    State(state): State<AppState>,
    id: Result<PathId, ApiError>,
) -> Response {
    let id = match id {
        Ok(PathId(id)) => id,
        Err(e) => return e.into_response(),
    };
    let job = (id.len() <= MAX_ID_LEN)
        .then(|| state.store().job(&id))
        .flatten();
    match job {
        Some(job) => Json(job).into_response(),
        None => {
            let shown: String = id.chars().take(MAX_ID_LEN).collect();
            ApiError::not_found(format!("unknown job `{shown}`"))
                .with_detail(format!(
                    "jobs are kept for the most recent {JOB_CAP} async requests"
                ))
                .into_response()
        }
    }
}
