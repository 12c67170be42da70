//! The three user actions (book_ticket, cancel_ticket, give_feedback) and the async job
//! status route. Input is checked before admission, so bad requests never take a worker;
//! every action request's outcome is counted once (`Tally`).

use std::future::{Future, ready};

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use common::api::{
    Action, BookTicketRequest, FeedbackReceipt, FeedbackRequest, MAX_COMMENT_CHARS, RATING_RANGE,
};
use common::names::outcome;

use crate::config::Mode;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, ModeQuery};
use crate::jobs::{self, JOB_CAP};
use crate::outcome::{Done, Tally};
use crate::state::AppState;
use crate::store::{BookError, MAX_SEATS_PER_BOOKING};
use crate::work;

/// Longest ticket or job id looked up; longer ones cannot exist.
const MAX_ID_LEN: usize = 128;

/// `POST /api/tickets`.
pub(crate) async fn book_ticket(
    State(state): State<AppState>,
    mode: Result<ModeQuery, ApiError>,
    body: Result<ApiJson<BookTicketRequest>, ApiError>,
) -> Response {
    let tally = Tally::new(&state, Action::BookTicket);
    let checked = mode.and_then(|mode| {
        let ApiJson(request) = body?;
        if !(1..=MAX_SEATS_PER_BOOKING).contains(&request.seats) {
            return Err(ApiError::bad_request(format!(
                "seats must be between 1 and {MAX_SEATS_PER_BOOKING}, got {}",
                request.seats
            )));
        }
        Ok((mode, request))
    });
    let (mode, request) = match checked {
        Ok(checked) => checked,
        Err(e) => return tally.reject(e),
    };
    let mode = mode.or(state.config().mode);
    perform(state, tally, mode, move |state| {
        ready(book(state, &request))
    })
    .await
}

fn book(state: &AppState, request: &BookTicketRequest) -> Done {
    let id = state.next_id("tkt");
    match state.store().book(id, request.showtime_id, request.seats) {
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
    }
}

/// `DELETE /api/tickets/{id}`: idempotent, 204 whether or not the ticket existed.
pub(crate) async fn cancel_ticket(
    State(state): State<AppState>,
    mode: Result<ModeQuery, ApiError>,
    id: Result<ApiPath<String>, ApiError>,
) -> Response {
    let tally = Tally::new(&state, Action::CancelTicket);
    let (mode, id) = match mode.and_then(|mode| Ok((mode, id?.0))) {
        Ok(checked) => checked,
        Err(e) => return tally.reject(e),
    };
    let mode = mode.or(state.config().mode);
    perform(state, tally, mode, move |state| {
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
    mode: Result<ModeQuery, ApiError>,
    body: Result<ApiJson<FeedbackRequest>, ApiError>,
) -> Response {
    let tally = Tally::new(&state, Action::GiveFeedback);
    let checked = mode.and_then(|mode| {
        let ApiJson(request) = body?;
        check_feedback(&request)?;
        Ok((mode, request))
    });
    let (mode, request) = match checked {
        Ok(checked) => checked,
        Err(e) => return tally.reject(e),
    };
    let mode = mode.or(state.config().mode);
    perform(state, tally, mode, move |state| {
        let receipt = FeedbackReceipt {
            id: state.next_id("fb"),
        };
        let done = Done::json(StatusCode::CREATED, &receipt, outcome::OK);
        state.store().add_feedback(receipt.id, request);
        ready(done)
    })
    .await
}

fn check_feedback(request: &FeedbackRequest) -> Result<(), ApiError> {
    if !RATING_RANGE.contains(&request.rating) {
        return Err(ApiError::bad_request(format!(
            "rating must be between {} and {}, got {}",
            RATING_RANGE.start(),
            RATING_RANGE.end(),
            request.rating
        )));
    }
    let chars = request.comment.as_deref().map_or(0, |c| c.chars().count());
    if chars > MAX_COMMENT_CHARS {
        return Err(ApiError::bad_request(format!(
            "comment too long: {chars} characters, at most {MAX_COMMENT_CHARS}"
        )));
    }
    Ok(())
}

/// Runs a checked action's `work`: answered when done (sync) or accepted as a job (async).
async fn perform<F, Fut>(state: AppState, tally: Tally, mode: Mode, work: F) -> Response
where
    F: FnOnce(&AppState) -> Fut + Send + 'static,
    Fut: Future<Output = Done> + Send + 'static,
{
    match mode {
        Mode::Sync => match work::run_now(&state, work).await {
            Ok(done) => {
                tally.finish(&done);
                done.into_response()
            }
            Err(refusal) => tally.refuse(refusal),
        },
        Mode::Async => match work::enter(&state).await {
            Ok(()) => jobs::accept(state, tally, work),
            Err(refusal) => tally.refuse(refusal),
        },
    }
}

/// `GET /api/jobs/{id}`.
pub(crate) async fn job_status(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Response {
    let job = (id.len() <= MAX_ID_LEN)
        .then(|| state.jobs().status(&id))
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
