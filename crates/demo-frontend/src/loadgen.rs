//! Reads the numbers the page shows about the load generator out of its `/metrics` text.

use common::names;

/// The load generator's gauges and counter totals at one scrape (counters summed over
/// their labels). A metric missing from the page is `None`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LoadgenSample {
    pub target_rps: Option<f64>,
    pub current_rps: Option<f64>,
    pub sent_total: Option<f64>,
    pub errors_total: Option<f64>,
    pub dropped_total: Option<f64>,
}

/// Parses a Prometheus text page. Fails only when the page has none of the load
/// generator's metrics (then the URL most likely points at something else).
pub fn parse(text: &str) -> Result<LoadgenSample, String> {
    let samples = common::exposition::parse(text)
        .map_err(|e| format!("not a Prometheus metrics page: {e}"))?;
    let mut sample = LoadgenSample::default();
    for s in &samples {
        let value = s.value;
        if !value.is_finite() {
            continue;
        }
        let slot = match s.name.as_str() {
            names::LG_TARGET_RPS => &mut sample.target_rps,
            names::LG_CURRENT_RPS => &mut sample.current_rps,
            names::LG_SENT_REQUESTS_TOTAL => &mut sample.sent_total,
            names::LG_ERRORS_TOTAL => &mut sample.errors_total,
            names::LG_DROPPED_REQUESTS_TOTAL => &mut sample.dropped_total,
            _ => continue,
        };
        *slot = Some(slot.unwrap_or(0.0) + value);
    }
    if sample == LoadgenSample::default() {
        return Err(format!(
            "the page has no {} or {} metric: is this the load generator's /metrics?",
            names::LG_TARGET_RPS,
            names::LG_SENT_REQUESTS_TOTAL
        ));
    }
    Ok(sample)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_are_summed_over_labels_and_gauges_read() {
        let text = format!(
            "# TYPE {t} gauge\n{t} 40\n# TYPE {c} gauge\n{c} 38.5\n\
             # TYPE {s} counter\n{s}{{action=\"book_ticket\"}} 10\n{s}{{action=\"give_feedback\"}} 5\n\
             # TYPE {e} counter\n{e}{{action=\"book_ticket\",kind=\"timeout\"}} 2\n\
             # TYPE {d} counter\n{d} 7\n",
            t = names::LG_TARGET_RPS,
            c = names::LG_CURRENT_RPS,
            s = names::LG_SENT_REQUESTS_TOTAL,
            e = names::LG_ERRORS_TOTAL,
            d = names::LG_DROPPED_REQUESTS_TOTAL,
        );
        let s = parse(&text).unwrap();
        assert_eq!(s.target_rps, Some(40.0));
        assert_eq!(s.current_rps, Some(38.5));
        assert_eq!(s.sent_total, Some(15.0));
        assert_eq!(s.errors_total, Some(2.0));
        assert_eq!(s.dropped_total, Some(7.0));
    }

    #[test]
    fn a_page_without_loadgen_metrics_is_refused_with_a_reason() {
        let e = parse("# TYPE x counter\nx 1\n").unwrap_err();
        assert!(e.contains(names::LG_TARGET_RPS), "{e}");
        assert!(parse("<html>not metrics</html>").is_err());
    }
}
