//! Judging the run's thresholds (`[[thresholds]]` of the scenario and `--threshold` flags,
//! parsed by the one parser in `common::threshold`) against the report.

use common::threshold::Threshold;
use scenario::figures;

use super::figures::{lookup, show};
use super::{Check, Kind, Status};
use crate::report::Report;

/// One threshold to judge, with where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Criterion {
    pub threshold: Threshold,
    pub description: Option<String>,
}

/// The check of `c` on `r`: passed, or failed saying by how much (or that nothing was
/// measured: a threshold never passes on a figure that does not exist).
pub fn judge(r: &Report, c: &Criterion) -> Check {
    let t = &c.threshold;
    let name = t.text.clone();
    let fail = |detail: String| Check {
        kind: Kind::Threshold,
        name: name.clone(),
        description: c.description.clone(),
        status: Status::Failed,
        actual: None,
        detail,
    };
    let phase = t.phase.as_deref().unwrap_or(figures::RUN);
    let figure = match figures::lookup(Some(phase), &t.figure) {
        Ok(f) => f,
        Err(_) => return fail(format!("`{}` is not a figure of `{phase}`", t.figure)),
    };
    let actual = match lookup(r, phase, figure) {
        Ok(v) => crate::report::round6(v),
        Err(why) => return fail(why),
    };
    let passed = t.op.holds(actual, t.limit);
    let label = format!("{phase}.{}", figure.name);
    let margin = show(t.unit, (actual - t.limit).abs());
    let how = match (passed, t.op.miss_word()) {
        (_, None) => String::new(),
        (true, Some(_)) => format!(", margin {margin}"),
        (false, Some(word)) => format!(", {word} by {margin}"),
    };
    Check {
        kind: Kind::Threshold,
        name,
        description: c.description.clone(),
        status: if passed {
            Status::Passed
        } else {
            Status::Failed
        },
        actual: Some(actual),
        detail: format!(
            "{label} = {}, limit {} {}{how}",
            show(t.unit, actual),
            t.op.as_str(),
            show(t.unit, t.limit)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gate::fixture::report_with;

    fn criterion(text: &str) -> Criterion {
        Criterion {
            threshold: figures::parse_threshold(text).unwrap(),
            description: None,
        }
    }

    #[test]
    fn a_threshold_passes_or_fails_by_the_measured_value_and_says_by_how_much() {
        // Every recovery request took 200 ms; 1 % failed.
        let r = report_with(0.2, 0.01);
        let p95 = judge(&r, &criterion("recovery.p95<150ms"));
        assert_eq!(p95.status, Status::Failed, "{p95:?}");
        let actual = p95.actual.unwrap();
        assert!((150.0..=250.0).contains(&actual), "{actual}");
        assert!(
            p95.detail.contains(&format!(
                "over by {}",
                show(common::threshold::Unit::Duration, actual - 150.0)
            )),
            "{}",
            p95.detail
        );
        assert_eq!(
            judge(&r, &criterion("recovery.p95<300ms")).status,
            Status::Passed
        );
        let errors = judge(&r, &criterion("recovery.error_rate<0.5%"));
        assert_eq!(errors.status, Status::Failed);
        assert!(errors.detail.contains("over by 0.50%"), "{}", errors.detail);
        assert_eq!(
            judge(&r, &criterion("run.drop_rate==0")).status,
            Status::Passed
        );
        assert_eq!(
            judge(&r, &criterion("recovery.replicas_max>=2")).status,
            Status::Passed
        );
    }

    #[test]
    fn a_phase_that_did_not_happen_or_a_figure_never_measured_fails_saying_so() {
        let mut r = report_with(0.2, 0.01);
        r.phases.retain(|p| p.name != "load");
        let gone = judge(&r, &criterion("load.p95<1s"));
        assert_eq!(gone.status, Status::Failed);
        assert!(gone.detail.contains("did not happen"), "{}", gone.detail);
        // No request is sent during the baseline.
        let never = judge(&r, &criterion("baseline.error_rate<100%"));
        assert_eq!(never.status, Status::Failed);
        assert!(never.detail.contains("never measured"), "{}", never.detail);
        r.time_to_ready = None;
        let ready = judge(&r, &criterion("run.time_to_ready<1m"));
        assert!(
            ready.detail.contains("the deploy did not finish"),
            "{}",
            ready.detail
        );
    }
}
