//! The load generator's `/metrics` page, read into typed figures: the one reader of it, for
//! the frontend's live page and the orchestrator's sampling alike, on top of
//! [`crate::exposition`]. Names and buckets come from [`crate::names`].

use crate::exposition::{self, Sample};
use crate::names;

/// What one load generator's page says at one scrape. Counters are summed over their labels
/// (every action, every error kind); a series the page does not have is `None`. Samples that
/// are not finite numbers are skipped, so one NaN cannot poison a sum.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadgenPage {
    pub target_rps: Option<f64>,
    pub current_rps: Option<f64>,
    pub sent_total: Option<f64>,
    pub errors_total: Option<f64>,
    pub dropped_total: Option<f64>,
    /// Closed loop: virtual users running.
    pub vus: Option<f64>,
    /// `lg_request_duration_seconds` over every action: cumulative bucket counts aligned with
    /// [`names::LG_LATENCY_BUCKETS`] plus a final `+Inf` (zeros when the page has none).
    pub latency: Vec<f64>,
    /// `lg_job_duration_seconds` (async mode), as `latency`.
    pub job_latency: Vec<f64>,
}

impl Default for LoadgenPage {
    fn default() -> Self {
        let buckets = vec![0.0; names::LG_LATENCY_BUCKETS.len() + 1];
        Self {
            target_rps: None,
            current_rps: None,
            sent_total: None,
            errors_total: None,
            dropped_total: None,
            vus: None,
            latency: buckets.clone(),
            job_latency: buckets,
        }
    }
}

/// Why a page could not be read as the load generator's.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PageError {
    #[error("not a Prometheus metrics page: {0}")]
    NotPrometheus(#[from] exposition::ParseError),
    #[error(
        "the page has no {} or {} metric: is this the load generator's /metrics?",
        names::LG_TARGET_RPS,
        names::LG_SENT_REQUESTS_TOTAL
    )]
    NotLoadgen,
}

impl LoadgenPage {
    /// Reads a whole page. Fails when it is not Prometheus text, or has none of the load
    /// generator's series (then the URL most likely points at something else).
    pub fn parse(text: &str) -> Result<Self, PageError> {
        let page = Self::from_samples(&exposition::parse(text)?);
        if page.has_no_series() {
            return Err(PageError::NotLoadgen);
        }
        Ok(page)
    }

    /// Reads the load generator's series out of samples that may hold others too (the
    /// orchestrator parses each page once and reads every component's series from it).
    pub fn from_samples(samples: &[Sample]) -> Self {
        let mut page = Self::default();
        let bucket = |name: &str| format!("{name}_bucket");
        let (latency, job_latency) = (
            bucket(names::LG_REQUEST_DURATION_SECONDS),
            bucket(names::LG_JOB_DURATION_SECONDS),
        );
        for s in samples.iter().filter(|s| s.value.is_finite()) {
            let total = match s.name.as_str() {
                names::LG_TARGET_RPS => &mut page.target_rps,
                names::LG_CURRENT_RPS => &mut page.current_rps,
                names::LG_SENT_REQUESTS_TOTAL => &mut page.sent_total,
                names::LG_ERRORS_TOTAL => &mut page.errors_total,
                names::LG_DROPPED_REQUESTS_TOTAL => &mut page.dropped_total,
                names::LG_VUS => &mut page.vus,
                name => {
                    let buckets = if name == latency {
                        &mut page.latency
                    } else if name == job_latency {
                        &mut page.job_latency
                    } else {
                        continue;
                    };
                    if let Some(i) = s.bucket_slot(names::LG_LATENCY_BUCKETS) {
                        buckets[i] += s.value;
                    }
                    continue;
                }
            };
            *total = Some(total.unwrap_or(0.0) + s.value);
        }
        page
    }

    /// True when not one of the load generator's series was on the page.
    pub fn has_no_series(&self) -> bool {
        *self == Self::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_are_summed_over_labels_gauges_read_and_buckets_aligned() {
        let text = format!(
            "# TYPE {t} gauge\n{t} 40\n# TYPE {c} gauge\n{c} 38.5\n\
             # TYPE {s} counter\n{s}{{action=\"book_ticket\"}} 10\n{s}{{action=\"give_feedback\"}} 5\n\
             # TYPE {e} counter\n{e}{{action=\"book_ticket\",kind=\"timeout\"}} 2\n\
             # TYPE {d} counter\n{d} 7\n# TYPE {v} gauge\n{v} NaN\n\
             {l}_bucket{{action=\"a\",le=\"0.01\"}} 4\n{l}_bucket{{action=\"b\",le=\"0.01\"}} 1\n\
             {l}_bucket{{action=\"a\",le=\"+Inf\"}} 10\n{l}_bucket{{action=\"a\",le=\"0.0123\"}} 9\n",
            t = names::LG_TARGET_RPS,
            c = names::LG_CURRENT_RPS,
            s = names::LG_SENT_REQUESTS_TOTAL,
            e = names::LG_ERRORS_TOTAL,
            d = names::LG_DROPPED_REQUESTS_TOTAL,
            v = names::LG_VUS,
            l = names::LG_REQUEST_DURATION_SECONDS,
        );
        let p = LoadgenPage::parse(&text).unwrap();
        assert_eq!(p.target_rps, Some(40.0));
        assert_eq!(p.current_rps, Some(38.5));
        assert_eq!(p.sent_total, Some(15.0));
        assert_eq!(p.errors_total, Some(2.0));
        assert_eq!(p.dropped_total, Some(7.0));
        assert_eq!(p.vus, None, "a NaN sample is skipped");
        let i = names::LG_LATENCY_BUCKETS
            .iter()
            .position(|&b| b == 0.01)
            .unwrap();
        assert_eq!(p.latency[i], 5.0);
        assert_eq!(*p.latency.last().unwrap(), 10.0);
        assert_eq!(
            p.latency.iter().sum::<f64>(),
            15.0,
            "an unknown bound is ignored"
        );
        assert!(p.job_latency.iter().all(|&c| c == 0.0));
    }

    #[test]
    fn a_page_without_loadgen_series_is_refused_with_a_reason() {
        let e = LoadgenPage::parse("# TYPE x counter\nx 1\n").unwrap_err();
        assert_eq!(e, PageError::NotLoadgen);
        assert!(e.to_string().contains(names::LG_TARGET_RPS), "{e}");
        let e = LoadgenPage::parse("<html>not metrics</html>").unwrap_err();
        assert!(matches!(e, PageError::NotPrometheus(_)), "{e}");
        assert!(LoadgenPage::from_samples(&[]).has_no_series());
    }
}
