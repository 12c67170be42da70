//! The three user actions (book_ticket, cancel_ticket, give_feedback) and the async job
//! status route. Input is validated before admission, so bad requests never take a worker.

use std::future::ready;

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use common::api::{
    Action, BookTicketRequest, FeedbackReceipt, FeedbackRequest, MAX_COMMENT_CHARS, RATING_RANGE,
};
use common::names::outcome;

use super::work::{Done, execute, reject};
use crate::config::Mode;
use crate::error::ApiError;
use crate::extract::{JsonBody, PathId, mode_from_query};
use crate::state::AppState;
use crate::store::{BookError, JOB_CAP, MAX_SEATS_PER_BOOKING};

/// Longest ticket or job id looked up; longer ones cannot exist.
const MAX_ID_LEN: usize = 128;

/// The processing mode of this request (`?mode=`, else `--mode`) and its parsed input:
/// every action checks both before it may take a worker.
fn mode_and_input<T>(
    state: &AppState,
    query: Option<&str>,
    input: Result<T, ApiError>,
) -> Result<(Mode, T), ApiError> {
    let mode = mode_from_query(query)?.unwrap_or(state.inner.config.mode);
    Ok((mode, input?))
}

/// `POST /api/tickets`.
pub(crate) async fn book_ticket(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    body: Result<JsonBody<BookTicketRequest>, ApiError>,
) -> Response {
    let action = Action::BookTicket;
    let (mode, JsonBody(request)) = match mode_and_input(&state, query.as_deref(), body) {
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
pub(crate) async fn cancel_ticket(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    id: Result<PathId, ApiError>,
) -> Response {
    let action = Action::CancelTicket;
    let (mode, PathId(id)) = match mode_and_input(&state, query.as_deref(), id) {
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
pub(crate) async fn give_feedback(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    body: Result<JsonBody<FeedbackRequest>, ApiError>,
) -> Response {
    let action = Action::GiveFeedback;
    let (mode, JsonBody(request)) = match mode_and_input(&state, query.as_deref(), body) {
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
        let receipt = FeedbackReceipt {
            id: state.inner.ids.next("fb"),
        };
        let done = Done::json(StatusCode::CREATED, &receipt, outcome::OK);
        state.store().add_feedback(receipt.id, request);
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
