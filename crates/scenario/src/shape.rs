//! The rules across the load-shape keys: the ramp, stages, a profile, a constant number of
//! virtual users and VU stages are five ways to give one shape, so a scenario that sets two
//! (in any layer but the defaults) is refused naming both; and the keys that only one kind of
//! load reads (think time for the closed loop, Poisson arrivals for the open loop) are refused
//! with the other.

use super::builder::Builder;
use super::error::{ConfigError, ErrorKind, Problem};
use super::keys::RAMP_KEYS;

/// A shape key the scenario set, and its value as `config` prints it.
struct Chosen {
    key: &'static str,
    value: String,
    /// The ramp keys that may stay beside it (`--vus` runs for `load_run_duration`).
    keeps: &'static [&'static str],
}

impl Builder {
    /// Every contradiction among the load-shape keys.
    pub(crate) fn shape_conflicts(&self) -> Vec<ConfigError> {
        let load = &self.scenario.load;
        let set =
            |key: &str| self.source(key) != super::Source::Default && !self.failed.contains(key);
        let candidates = [
            ("load_stages", load.stages.clone(), &[][..]),
            ("load_profile", load.profile.clone(), &[][..]),
            (
                "load_vus",
                (load.vus > 0).then(|| load.vus.to_string()),
                &["load_run_duration"][..],
            ),
            ("load_vu_stages", load.vu_stages.clone(), &[][..]),
        ];
        let chosen: Vec<Chosen> = candidates
            .into_iter()
            .filter(|(key, _, _)| set(key))
            .filter_map(|(key, value, keeps)| {
                Some(Chosen {
                    key,
                    value: value?,
                    keeps,
                })
            })
            .collect();
        let mut found = Vec::new();
        let mut conflict = |c: &Chosen, why: String, fix: String| {
            found.push(Problem::new(ErrorKind::Conflict, why, fix).at(
                c.key,
                &c.value,
                Some(self.source(c.key)),
            ));
        };
        for (i, c) in chosen.iter().enumerate() {
            let others = chosen[..i].iter().map(|o| o.key).chain(
                RAMP_KEYS
                    .into_iter()
                    .filter(|k| set(k) && !c.keeps.contains(k)),
            );
            for other in others {
                conflict(
                    c,
                    format!(
                        "{} and {other} (from {}) both give the load's shape",
                        c.key,
                        self.source(other)
                    ),
                    format!(
                        "keep one: remove {other}, or remove {} to use the ramp",
                        c.key
                    ),
                );
            }
        }
        let closed = chosen
            .iter()
            .find(|c| c.key == "load_vus" || c.key == "load_vu_stages");
        match closed {
            Some(c) if set("load_arrival") && load.arrival != super::Arrival::Uniform => conflict(
                c,
                format!(
                    "virtual users send when their last answer came back, so load_arrival = {} (from {}) has nothing to spread",
                    load.arrival.as_str(),
                    self.source("load_arrival")
                ),
                "remove load_arrival, or give an open-loop shape instead of virtual users"
                    .to_owned(),
            ),
            None if set("load_think_time") && load.think_time.is_some() => {
                let think = Chosen {
                    key: "load_think_time",
                    value: load.think_time.clone().unwrap_or_default(),
                    keeps: &[],
                };
                conflict(
                    &think,
                    "a think time is the pause of a virtual user between requests, and no virtual users are set".to_owned(),
                    "set load_vus or load_vu_stages, or remove load_think_time".to_owned(),
                );
            }
            _ => {}
        }
        found
    }
}
