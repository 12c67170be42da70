//! `POST /api/orders`, the pipeline workload's producer: a checked order is appended to the
//! Redis stream (XADD, with its enqueue time) and answered 202 with the entry id. It takes no
//! worker of the capacity model: the queue is the pipeline's buffer, and its consumers are the
//! `demo-worker`s. Every answer is counted once in `app_orders_total` by outcome.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use common::api::{
    MAX_ORDER_AMOUNT, MAX_ORDER_ITEMS, MAX_REGION_CHARS, OrderAccepted, OrderRequest,
};
use common::names::order_outcome;

use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::queue::{self, Entry, Failure};
use crate::state::AppState;

/// `POST /api/orders`.
pub(crate) async fn place_order(
    State(state): State<AppState>,
    body: Result<ApiJson<OrderRequest>, ApiError>,
) -> Response {
    let (outcome, response) = match place(&state, body).await {
        Ok(id) => (
            order_outcome::ENQUEUED,
            (StatusCode::ACCEPTED, Json(OrderAccepted { id })).into_response(),
        ),
        Err((outcome, error)) => (outcome, error.into_response()),
    };
    state.count_order(outcome);
    response
}

async fn place(
    state: &AppState,
    body: Result<ApiJson<OrderRequest>, ApiError>,
) -> Result<String, (&'static str, ApiError)> {
    let Some(link) = state.queue() else {
        return Err((
            order_outcome::NOT_CONFIGURED,
            ApiError::new(
                StatusCode::NOT_IMPLEMENTED,
                "orders are not configured on this backend",
            )
            .with_detail("start the backend with --redis-url (REDIS_URL) to take orders"),
        ));
    };
    let rejected = |e| (order_outcome::REJECTED, e);
    let ApiJson(order) = body.map_err(rejected)?;
    check(&order).map_err(rejected)?;
    if state.is_draining() {
        return Err((
            order_outcome::DRAINING,
            ApiError::unavailable(
                "the backend is shutting down: send the order to another replica",
            ),
        ));
    }
    let entry = Entry {
        region: order.region,
        items: order.items,
        amount: order.amount,
        enqueued_ms: queue::now_ms(),
    };
    let mut xadd = redis::cmd("XADD");
    xadd.arg(queue::STREAM).arg("*");
    for (field, value) in entry.fields() {
        xadd.arg(field).arg(value);
    }
    link.query::<String>(&xadd).await.map_err(|failure| {
        tracing::warn!(error = %failure, "order not enqueued");
        // The client learns which of the two it was, never Redis's own error text.
        let (outcome, error) = match failure {
            Failure::Timeout(_) => (order_outcome::REDIS_TIMEOUT, failure.to_string()),
            Failure::Redis(_) => (
                order_outcome::REDIS_ERROR,
                "Redis is unreachable or refused the order".to_owned(),
            ),
        };
        (
            outcome,
            ApiError::unavailable(format!("the order was not enqueued: {error}"))
                .with_detail("the queue (Redis) is failing: retry later"),
        )
    })
}

/// The order's own rules, beyond its JSON types.
fn check(order: &OrderRequest) -> Result<(), ApiError> {
    let region_ok = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    let chars = order.region.chars().count();
    if chars == 0 || chars > MAX_REGION_CHARS || !order.region.chars().all(region_ok) {
        return Err(ApiError::bad_request(format!(
            "region must be 1 to {MAX_REGION_CHARS} letters, digits, '-' or '_'"
        )));
    }
    if !(1..=MAX_ORDER_ITEMS).contains(&order.items) {
        return Err(ApiError::bad_request(format!(
            "items must be between 1 and {MAX_ORDER_ITEMS}, got {}",
            order.items
        )));
    }
    if !(order.amount.is_finite() && (0.0..=MAX_ORDER_AMOUNT).contains(&order.amount)) {
        return Err(ApiError::bad_request(format!(
            "amount must be between 0 and {MAX_ORDER_AMOUNT}, got {}",
            order.amount
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(region: &str, items: u32, amount: f64) -> OrderRequest {
        OrderRequest {
            region: region.into(),
            items,
            amount,
        }
    }

    #[test]
    fn orders_are_checked_field_by_field() {
        assert!(check(&order("eu-west_1", 1, 0.0)).is_ok());
        assert!(check(&order("x", MAX_ORDER_ITEMS, MAX_ORDER_AMOUNT)).is_ok());
        for (bad, field) in [
            (order("", 1, 1.0), "region"),
            (order("eu west", 1, 1.0), "region"),
            (order(&"r".repeat(MAX_REGION_CHARS + 1), 1, 1.0), "region"),
            (order("eu", 0, 1.0), "items"),
            (order("eu", MAX_ORDER_ITEMS + 1, 1.0), "items"),
            (order("eu", 1, -0.5), "amount"),
            (order("eu", 1, MAX_ORDER_AMOUNT * 2.0), "amount"),
        ] {
            let e = check(&bad).unwrap_err();
            assert_eq!(e.status, StatusCode::BAD_REQUEST);
            assert!(e.error.starts_with(field), "{bad:?}: {}", e.error);
        }
    }
}
