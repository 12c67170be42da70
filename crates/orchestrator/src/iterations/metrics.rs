//! Every copy's scrape of a round, merged into one round the sampler reads as a single
//! stack's: targets and resource rows prefixed with their copy, replicas summed.

use futures::future::join_all;

use super::prefixed;
use crate::runtime::{MetricsSource, ScrapeRound};

/// A handle onto every copy's [`MetricsSource`].
#[derive(Clone)]
pub struct IterationsMetrics<M> {
    copies: Vec<M>,
}

impl<M: MetricsSource> IterationsMetrics<M> {
    pub fn new(copies: Vec<M>) -> Self {
        Self { copies }
    }
}

/// Merges the copies' rounds, in copy order (the first is copy 1).
pub(super) fn merge(rounds: Vec<ScrapeRound>) -> ScrapeRound {
    if rounds.len() == 1 {
        return rounds.into_iter().next().unwrap_or_default();
    }
    let mut merged = ScrapeRound::default();
    for (round, k) in rounds.into_iter().zip(1..) {
        merged
            .targets
            .extend(round.targets.into_iter().map(|mut t| {
                t.instance = prefixed(k, &t.instance);
                t
            }));
        merged.backend_ready += round.backend_ready;
        merged.backend_desired += round.backend_desired;
        for mut u in round.resources.usage {
            // Copies sharing this process all measure it: its row once, unprefixed.
            if u.component == crate::resources::PROCESS {
                if k == 1 {
                    merged.resources.usage.push(u);
                }
                continue;
            }
            u.instance = prefixed(k, &u.instance);
            merged.resources.usage.push(u);
        }
        merged.resources.gaps.extend(
            round
                .resources
                .gaps
                .into_iter()
                .map(|g| format!("i{k}: {g}")),
        );
    }
    merged
}

impl<M: MetricsSource> MetricsSource for IterationsMetrics<M> {
    async fn scrape(&self) -> ScrapeRound {
        merge(join_all(self.copies.iter().map(M::scrape)).await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::{Round, Usage};
    use crate::runtime::{ComponentKind, Scrape};

    fn round(sent: u32) -> ScrapeRound {
        let usage = |instance: &str, component: &str| Usage {
            instance: instance.into(),
            component: component.into(),
            ..Default::default()
        };
        ScrapeRound {
            targets: vec![Scrape {
                component: ComponentKind::Loadgen,
                instance: "loadgen".into(),
                plan: Some("main".into()),
                result: Ok(format!("lg_sent_requests_total {sent}\n")),
            }],
            backend_ready: 2,
            backend_desired: 3,
            resources: Round {
                usage: vec![
                    usage("backend-0", "backend"),
                    usage("process", crate::resources::PROCESS),
                ],
                gaps: vec!["resources: x".into()],
            },
        }
    }

    #[test]
    fn copies_are_prefixed_and_summed_and_one_copy_is_left_alone() {
        let m = merge(vec![round(5), round(7)]);
        let names: Vec<&str> = m.targets.iter().map(|t| t.instance.as_str()).collect();
        assert_eq!(names, ["i1/loadgen", "i2/loadgen"]);
        assert_eq!((m.backend_ready, m.backend_desired), (4, 6));
        let rows: Vec<&str> = m
            .resources
            .usage
            .iter()
            .map(|u| u.instance.as_str())
            .collect();
        assert_eq!(rows, ["i1/backend-0", "process", "i2/backend-0"]);
        assert_eq!(m.resources.gaps, ["i1: resources: x", "i2: resources: x"]);
        let one = merge(vec![round(5)]);
        assert_eq!(one.targets[0].instance, "loadgen");
        assert_eq!(one.resources.usage.len(), 2);
    }

    #[test]
    fn each_copy_s_load_adds_up_to_the_run_s() {
        let mut acc = crate::sample::Accumulator::new();
        acc.push(0.0, &merge(vec![round(5), round(7)]));
        let p = acc.push(1.0, &merge(vec![round(15), round(8)]));
        assert_eq!(p.totals.sent, 23.0);
        assert_eq!(p.totals.iterations[&1].sent, 15.0);
        assert_eq!(p.totals.iterations[&2].sent, 8.0);
    }
}
