//! Random methods, paths, query strings, headers and bodies: never a 5xx other than 503,
//! and every error answer is a JSON `ErrorBody`.

use std::time::Duration;

use demo_backend::Config;
use http::{Method, Request, StatusCode};
use proptest::prelude::*;

use crate::helpers::{call_with, config};

fn method() -> impl Strategy<Value = Method> {
    prop_oneof![
        Just(Method::GET),
        Just(Method::POST),
        Just(Method::DELETE),
        Just(Method::PUT),
        Just(Method::PATCH),
        Just(Method::HEAD),
        Just(Method::OPTIONS),
        "[A-Z]{1,10}".prop_map(|m| Method::from_bytes(m.as_bytes()).unwrap_or(Method::GET)),
    ]
}

fn path() -> impl Strategy<Value = String> {
    let known = prop_oneof![
        Just("/healthz".to_owned()),
        Just("/readyz".to_owned()),
        Just("/metrics".to_owned()),
        Just("/api/tickets".to_owned()),
        Just("/api/feedback".to_owned()),
        Just("/api/showtimes".to_owned()),
        Just("/api/stats".to_owned()),
        Just("/api/stress/cpu".to_owned()),
        Just("/api/stress/memory".to_owned()),
        "[a-zA-Z0-9%._~-]{0,200}".prop_map(|id| format!("/api/tickets/{id}")),
        "[a-zA-Z0-9%._~-]{0,200}".prop_map(|id| format!("/api/jobs/{id}")),
        "(/[a-zA-Z0-9%._~-]{0,12}){0,6}".prop_map(|p| if p.is_empty() {
            "/".to_owned()
        } else {
            p
        }),
    ];
    let query = prop_oneof![
        Just(String::new()),
        Just("?mode=async".to_owned()),
        Just("?mode=sync".to_owned()),
        "\\?[a-z=&%0-9]{0,30}",
    ];
    (known, query).prop_map(|(p, q)| format!("{p}{q}"))
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    let json_ish = prop_oneof![
        (any::<i64>(), any::<i64>())
            .prop_map(|(a, b)| format!(r#"{{"showtime_id":{a},"seats":{b}}}"#)),
        (any::<i64>(), ".{0,600}")
            .prop_map(|(r, c)| serde_json::json!({"rating": r, "comment": c}).to_string()),
        (0u64..20_000, 0u64..1_000_000)
            .prop_map(|(d, b)| format!(r#"{{"duration_ms":{d},"bytes":{b}}}"#)),
        "[\\[\\]{}\":,0-9a-z ]{0,80}",
    ];
    prop_oneof![
        json_ish.prop_map(String::into_bytes),
        proptest::collection::vec(any::<u8>(), 0..300),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_requests_never_get_a_5xx_other_than_503(
        method in method(),
        path in path(),
        body in body(),
        session in proptest::option::of("[ -~]{0,40}"),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let (status, head, body) = runtime.block_on(async {
            let app = demo_backend::app(demo_backend::AppState::new(Config {
                enable_stress: true,
                max_body: 2048,
                request_timeout: Duration::from_secs(2),
                ..config()
            }));
            let mut req = Request::builder().method(method.clone()).uri(&path);
            if let Some(s) = &session {
                req = req.header(common::api::SESSION_HEADER, s.as_str());
            }
            let r = call_with(&app, req, body).await;
            (r.status, method == Method::HEAD, r.body)
        });
        prop_assert!(
            !status.is_server_error() || status == StatusCode::SERVICE_UNAVAILABLE,
            "{method} {path}: {status}"
        );
        if !status.is_success() && !head {
            let parsed = serde_json::from_slice::<common::api::ErrorBody>(&body);
            prop_assert!(parsed.is_ok(), "{method} {path}: {status} body {:?}", String::from_utf8_lossy(&body));
        }
    }
}
