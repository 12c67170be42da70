//! Pod latency, as kube-burner measures it: for each condition, the time from a pod's
//! creation until the condition first became true, summarised over the run's pods.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::pods::{CONDITIONS, PodTimes};

/// Quantiles of one condition's latency, in milliseconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConditionLatency {
    pub condition: String,
    /// Pods that reached the condition.
    pub pods: usize,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub min_ms: f64,
    pub max_ms: f64,
    pub avg_ms: f64,
}

/// Nearest-rank quantile of sorted values (what kube-burner reports).
fn nearest_rank(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// One row per condition that at least one pod reached, in [`CONDITIONS`] order.
pub fn summarize<'a>(times: impl IntoIterator<Item = &'a PodTimes>) -> Vec<ConditionLatency> {
    let mut by: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    for t in times {
        for (c, at) in &t.conditions {
            let ms = (at.as_millisecond() - t.created.as_millisecond()).max(0) as f64;
            by.entry(c).or_default().push(ms);
        }
    }
    CONDITIONS
        .iter()
        .filter_map(|c| {
            let mut v = by.remove(c)?;
            v.sort_by(f64::total_cmp);
            Some(ConditionLatency {
                condition: (*c).to_owned(),
                pods: v.len(),
                p50_ms: nearest_rank(&v, 0.50),
                p95_ms: nearest_rank(&v, 0.95),
                p99_ms: nearest_rank(&v, 0.99),
                min_ms: v[0],
                max_ms: v[v.len() - 1],
                avg_ms: (v.iter().sum::<f64>() / v.len() as f64 * 1000.0).round() / 1000.0,
            })
        })
        .collect()
}

/// `Ready p50 2000 ms, p95 ..., max ... (n pods)` for notes.
pub fn line(l: &ConditionLatency) -> String {
    format!(
        "{}: p50 {} ms, p95 {} ms, p99 {} ms, min {} ms, max {} ms, avg {} ms ({} pods)",
        l.condition, l.p50_ms, l.p95_ms, l.p99_ms, l.min_ms, l.max_ms, l.avg_ms, l.pods
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::jiff::Timestamp;

    fn pod(created: i64, ready_after_ms: &[(&'static str, i64)]) -> PodTimes {
        let t = |ms| Timestamp::from_millisecond(ms).unwrap();
        PodTimes {
            pod: format!("p{created}"),
            job: None,
            created: t(created),
            conditions: ready_after_ms
                .iter()
                .map(|(c, d)| (*c, t(created + d)))
                .collect(),
        }
    }

    #[test]
    fn quantiles_per_condition_from_creation() {
        let pods: Vec<_> = (1..=100)
            .map(|i| pod(i * 10_000, &[("PodScheduled", 0), ("Ready", i * 100)]))
            .collect();
        let s = summarize(&pods);
        assert_eq!(s.len(), 2, "only the conditions pods reached");
        assert_eq!(s[0].condition, "PodScheduled");
        assert_eq!((s[0].p99_ms, s[0].max_ms), (0.0, 0.0));
        let ready = &s[1];
        assert_eq!(ready.pods, 100);
        assert_eq!(ready.p50_ms, 5_000.0);
        assert_eq!(ready.p95_ms, 9_500.0);
        assert_eq!(ready.p99_ms, 9_900.0);
        assert_eq!((ready.min_ms, ready.max_ms), (100.0, 10_000.0));
        assert_eq!(ready.avg_ms, 5_050.0);
    }

    #[test]
    fn no_pods_no_rows() {
        assert!(summarize(&[]).is_empty());
    }
}
