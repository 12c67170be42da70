//! End to end in a real headless Chromium driven over WebDriver (chromedriver +
//! fantoccini): the page loads against two running backends and a load, "Book a ticket"
//! moves the booking counter by one, the charts have data, the console stays clean, and
//! a screenshot is saved to target/screenshots/frontend.png for a person to look at.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::api::Action;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

use crate::support::{
    AutoscalerSource, Backend, Frontend, TestLoad, client, closed_url, config, replicas, scaling_up,
};

const CHROMIUM: &str = "/usr/bin/chromium";
const INSTALL_HINT: &str =
    "./scripts/test.sh installs them (apt-get install chromium chromium-driver)";

/// chromedriver on a free loopback port, killed when dropped.
struct Driver {
    url: String,
    _child: tokio::process::Child,
}

impl Driver {
    async fn start() -> Driver {
        // `--port=0` is not supported: take a free port from the kernel and release it.
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a probe port");
            l.local_addr().expect("probe addr").port()
        };
        let child = tokio::process::Command::new("chromedriver")
            .args([format!("--port={port}"), "--allowed-ips=127.0.0.1".into()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start chromedriver ({e}); {INSTALL_HINT}"));
        let url = format!("http://127.0.0.1:{port}");
        let http = client();
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let ready = http
                .get(format!("{url}/status"))
                .timeout(Duration::from_secs(1))
                .send()
                .await
                .ok()
                .filter(|r| r.status().is_success());
            if let Some(resp) = ready {
                let status: Value = resp.json().await.unwrap_or_default();
                if status["value"]["ready"] == json!(true) {
                    break;
                }
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not answer on {url} within 15 s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Driver { url, _child: child }
    }
}

fn screenshot_path() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    target.join("screenshots").join("frontend.png")
}

/// Runs `script` until it returns `true`, or fails with `what` after `timeout`.
async fn wait_js(browser: &Client, what: &str, script: &str, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    loop {
        let v = browser
            .execute(script, vec![])
            .await
            .expect("execute script");
        if v == json!(true) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what} in the page ({script})"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn text(browser: &Client, css: &str) -> String {
    browser
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css} not found: {e}"))
        .text()
        .await
        .expect("element text")
}

/// Console messages at level SEVERE from chromedriver's browser log.
async fn severe_console_messages(driver: &str, browser: &Client) -> Vec<String> {
    let Ok(Some(session)) = browser.session_id().await else {
        return vec!["no WebDriver session id".into()];
    };
    let resp = client()
        .post(format!("{driver}/session/{session}/se/log"))
        .json(&json!({"type": "browser"}))
        .send()
        .await
        .expect("read the browser log");
    let log: Value = resp.json().await.expect("browser log JSON");
    log["value"]
        .as_array()
        .map(|entries| {
            entries
                .iter()
                .filter(|e| e["level"] == "SEVERE")
                .map(|e| e["message"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_shows_live_data_and_books_a_ticket() {
    // chromedriver is looked up on PATH when it starts, with the same hint when missing.
    assert!(
        Path::new(CHROMIUM).exists(),
        "chromium is missing at {CHROMIUM}; {INSTALL_HINT}"
    );
    let started = Instant::now();
    let (a, b) = (
        Backend::start("backend-0").await,
        Backend::start("backend-1").await,
    );
    let lg_url = closed_url().await;
    let lg_addr: SocketAddr = lg_url.trim_start_matches("http://").parse().expect("addr");
    let _load = TestLoad::start(&[a.url.clone(), b.url.clone()], 30.0, lg_addr).await;
    let autoscaler = AutoscalerSource::start(scaling_up()).await;
    let mut cfg = config(&a.url, replicas(&[&a, &b]));
    cfg.loadgen_url = Some(lg_url);
    cfg.autoscaler = Some(demo_frontend::AutoscalerSource::Url(autoscaler.url.clone()));
    cfg.poll_interval = Duration::from_millis(500);
    let fe = Frontend::start(cfg).await;
    // About 8 s of history, so the charts have lines worth looking at.
    fe.wait_for("traffic on both replicas for a while", |s| {
        s.history.t_ms.len() >= 16 && s.replicas.iter().all(|r| r.up && r.requests_per_s > 0.0)
    })
    .await;

    let driver = Driver::start().await;
    let caps = json!({
        "goog:chromeOptions": {
            "binary": CHROMIUM,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1400,1000"],
        },
        "goog:loggingPrefs": {"browser": "ALL"},
    });
    let caps = match caps {
        Value::Object(map) => map,
        _ => unreachable!("a JSON object literal"),
    };
    let browser = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .unwrap_or_else(|e| panic!("cannot open a Chromium session ({e}); {INSTALL_HINT}"));

    let result = async {
        browser.goto(&fe.url).await.expect("load the page");
        // Errors after load are collected here too, in case the browser log misses any.
        browser
            .execute(
                "window.__errors = []; \
                 window.addEventListener('error', e => window.__errors.push(String(e.message))); \
                 window.addEventListener('unhandledrejection', e => window.__errors.push(String(e.reason)));",
                vec![],
            )
            .await
            .expect("install the error collector");
        let book_total = "#actions-body tr[data-action=book_ticket] td.total";
        wait_js(
            &browser,
            "the first summary drawn",
            "return Number(document.body.dataset.polls || 0) > 0 && \
             document.querySelectorAll('#replicas .replica[data-up=true]').length === 2",
            Duration::from_secs(10),
        )
        .await;
        // Each replica's CPU (from two of its answers) beside its share of traffic.
        wait_js(
            &browser,
            "every replica's CPU shown",
            "const u = [...document.querySelectorAll('#replicas .replica[data-up=true] .usage')]; \
             return u.length === 2 && u.every(e => /^CPU [0-9.]+ cores/.test(e.textContent))",
            Duration::from_secs(10),
        )
        .await;
        let before = text(&browser, book_total).await;
        assert_eq!(before, "0", "nothing booked yet");

        browser
            .find(Locator::Id("btn-book"))
            .await
            .expect("book button")
            .click()
            .await
            .expect("click");
        wait_js(
            &browser,
            "the booking confirmed",
            "return document.getElementById('result').textContent.includes('Booked ticket')",
            Duration::from_secs(10),
        )
        .await;
        wait_js(
            &browser,
            "the booking counter at 1",
            &format!("return document.querySelector('{book_total}').textContent === '1'"),
            Duration::from_secs(10),
        )
        .await;
        let cancel_enabled = browser
            .execute(
                "return !document.getElementById('btn-cancel').disabled",
                vec![],
            )
            .await
            .expect("cancel state");
        assert_eq!(
            cancel_enabled,
            json!(true),
            "cancel offers the ticket just booked"
        );

        // Every chart has a line with several points.
        for chart in ["c-rps", "c-lat", "c-err", "c-rep"] {
            let points = browser
                .execute(
                    &format!(
                        "return Math.max(0, ...[...document.querySelectorAll('#{chart} path.series')]\
                         .map(p => Number(p.getAttribute('data-points'))))"
                    ),
                    vec![],
                )
                .await
                .expect("chart points");
            assert!(
                points.as_f64().unwrap_or(0.0) >= 5.0,
                "chart {chart} has {points} points"
            );
        }
        // The autoscaler's metric against its target, and desired vs ready replicas.
        assert_eq!(text(&browser, "#as-replicas").await, "3 / 2 (min 1, max 4)");
        let value = text(&browser, "#as-value").await;
        assert!(
            value.contains("75") && value.contains("target 50"),
            "{value}"
        );
        let lg = text(&browser, "#loadgen").await;
        assert!(
            lg.contains("Running") && lg.contains("30"),
            "loadgen block: {lg}"
        );
        let banner_hidden = browser
            .execute(
                "return document.getElementById('banner').classList.contains('hidden')",
                vec![],
            )
            .await
            .expect("banner");
        assert_eq!(
            banner_hidden,
            json!(true),
            "no banner while every replica answers"
        );

        // The server agrees with what the page shows.
        let s = fe.summary().await;
        let booked = s
            .actions
            .iter()
            .find(|x| x.action == Action::BookTicket)
            .map(|x| x.ok_total);
        assert_eq!(booked, Some(1));

        let collected = browser
            .execute("return window.__errors", vec![])
            .await
            .expect("errors");
        assert_eq!(collected, json!([]), "errors thrown in the page");
        let severe = severe_console_messages(&driver.url, &browser).await;
        assert!(severe.is_empty(), "console errors: {severe:#?}");

        let png = browser.screenshot().await.expect("screenshot");
        let path = screenshot_path();
        std::fs::create_dir_all(path.parent().expect("parent")).expect("create screenshots dir");
        std::fs::write(&path, png).expect("write screenshot");
        eprintln!("screenshot saved to {}", path.display());
    };
    // Close the browser session even when an assertion fails.
    let result = futures::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(result)).await;
    let _ = browser.close().await;
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
    fe.stop().await;
    a.stop().await;
    b.stop().await;
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "took {:?}",
        started.elapsed()
    );
}
