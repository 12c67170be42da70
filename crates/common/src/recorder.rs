//! One component instance's own Prometheus recorder: never the global one, because the local
//! runtime runs several backend replicas, a frontend and a load generator in one process and
//! each `/metrics` page must show only its own series. The backend, the frontend and the
//! load generator all build theirs here, so bucket lists, registration and rendering behave
//! the same in each; the names, descriptions and buckets come from [`crate::names`].

use metrics::{Counter, Gauge, Histogram, IntoLabels, Key, Level, Metadata, Recorder};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};

/// The labels of a series that has none.
pub const NO_LABELS: &[(&str, &str)] = &[];

static METADATA: Metadata<'static> =
    Metadata::new(module_path!(), Level::INFO, Some(module_path!()));

/// A recorder and the handle that renders it, owned by one component instance.
pub struct InstanceRecorder {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
}

impl std::fmt::Debug for InstanceRecorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InstanceRecorder").finish_non_exhaustive()
    }
}

impl InstanceRecorder {
    /// A recorder whose histograms named in `histograms` get those bucket bounds, with the
    /// descriptions `describe` registers (`names::describe_backend`, ...).
    ///
    /// A histogram given no bounds cannot have buckets: it is logged and exported as a
    /// summary, and every other histogram keeps its buckets. Nothing here fails or panics.
    pub fn new(histograms: &[(&'static str, &'static [f64])], describe: fn(&dyn Recorder)) -> Self {
        let recorder = builder(histograms).build_recorder();
        describe(&recorder);
        Self {
            handle: recorder.handle(),
            recorder,
        }
    }

    pub fn counter(&self, name: &'static str, labels: impl IntoLabels) -> Counter {
        self.recorder
            .register_counter(&Key::from_parts(name, labels), &METADATA)
    }

    pub fn gauge(&self, name: &'static str, labels: impl IntoLabels) -> Gauge {
        self.recorder
            .register_gauge(&Key::from_parts(name, labels), &METADATA)
    }

    pub fn histogram(&self, name: &'static str, labels: impl IntoLabels) -> Histogram {
        self.recorder
            .register_histogram(&Key::from_parts(name, labels), &METADATA)
    }

    /// The Prometheus text page (format 0.0.4, [`crate::exposition::CONTENT_TYPE`]).
    pub fn render(&self) -> String {
        self.handle.render()
    }

    /// Folds recorded histogram samples into their buckets. Rendering does it too; without
    /// either, the samples pile up in memory, so whoever owns the recorder calls this
    /// periodically when nobody scrapes.
    pub fn upkeep(&self) {
        self.handle.run_upkeep();
    }
}

/// The exporter's builder with every non-empty bucket list set. The exporter refuses only
/// empty lists, and those are left out first, so the fallback (every histogram a summary)
/// is there for an exporter that starts refusing more, not for any input of ours.
fn builder(histograms: &[(&'static str, &'static [f64])]) -> PrometheusBuilder {
    let mut usable = histograms.iter().filter(|(name, bounds)| {
        if bounds.is_empty() {
            tracing::error!(
                metric = name,
                "no histogram buckets given: exported as a summary"
            );
        }
        !bounds.is_empty()
    });
    usable
        .try_fold(PrometheusBuilder::new(), |builder, &(name, bounds)| {
            builder.set_buckets_for_metric(Matcher::Full(name.to_owned()), bounds)
        })
        .unwrap_or_else(|e| {
            tracing::error!(error = %e, "histogram buckets refused: every histogram is a summary");
            PrometheusBuilder::new()
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exposition;

    const BOUNDS: &[f64] = &[0.1, 0.5];

    fn describe_nothing(_: &dyn Recorder) {}

    fn samples(recorder: &InstanceRecorder) -> Vec<exposition::Sample> {
        exposition::parse(&recorder.render()).unwrap()
    }

    #[test]
    fn histograms_get_their_buckets_and_counters_their_labels() {
        let r = InstanceRecorder::new(&[("h_seconds", BOUNDS)], describe_nothing);
        r.counter("c_total", &[("action", "book_ticket")])
            .increment(3);
        let h = r.histogram("h_seconds", &[("action", "book_ticket")]);
        for v in [0.05, 0.3, 0.3, 2.0] {
            h.record(v);
        }
        r.upkeep();
        let page = samples(&r);
        let value = |name: &str, le: Option<&str>| {
            page.iter()
                .find(|s| s.name == name && s.label("le") == le)
                .map(|s| s.value)
        };
        assert_eq!(value("c_total", None), Some(3.0));
        assert_eq!(value("h_seconds_bucket", Some("0.1")), Some(1.0));
        assert_eq!(value("h_seconds_bucket", Some("0.5")), Some(3.0));
        assert_eq!(value("h_seconds_bucket", Some("+Inf")), Some(4.0));
        assert_eq!(value("h_seconds_count", None), Some(4.0));
    }

    /// An empty bucket list costs that histogram its buckets, never the others theirs.
    #[test]
    fn an_empty_bucket_list_makes_only_that_histogram_a_summary() {
        let r = InstanceRecorder::new(
            &[("empty_seconds", &[]), ("kept_seconds", BOUNDS)],
            describe_nothing,
        );
        r.histogram("empty_seconds", NO_LABELS).record(0.2);
        r.histogram("kept_seconds", NO_LABELS).record(0.2);
        let page = samples(&r);
        assert!(page.iter().any(|s| s.name == "kept_seconds_bucket"));
        assert!(!page.iter().any(|s| s.name == "empty_seconds_bucket"));
        assert!(
            page.iter()
                .any(|s| s.name == "empty_seconds" && s.label("quantile").is_some())
        );
    }

    /// Two instances in one process never see each other's series.
    #[test]
    fn instances_keep_their_series_apart() {
        let a = InstanceRecorder::new(&[], describe_nothing);
        let b = InstanceRecorder::new(&[], describe_nothing);
        a.counter("only_a_total", NO_LABELS).increment(1);
        b.gauge("only_b", NO_LABELS).set(2.0);
        assert!(a.render().contains("only_a_total") && !a.render().contains("only_b"));
        assert!(b.render().contains("only_b") && !b.render().contains("only_a_total"));
    }
}
