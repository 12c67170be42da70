//! The figures a run's thresholds and regression rules may name: the phases of the timeline
//! plus `run` (the whole run), and for each the numbers the report measures, with the unit
//! a limit is written in and which way is better. The orchestrator evaluates exactly these.

use common::threshold::{Catalog, NameError, Unit};

/// The phases of the timeline, in order, as the report names them; then `run`.
pub const PHASES: [&str; 9] = [
    "deploy",
    "baseline",
    "load",
    "scale_up",
    "recovery",
    "unload",
    "cooldown",
    "capability",
    RUN,
];

/// The whole run, from the start of the deploy to the end of the last phase.
pub const RUN: &str = "run";

/// Which way a figure gets better.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Better {
    Lower,
    Higher,
}

/// One measured number of a phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Figure {
    pub name: &'static str,
    pub unit: Unit,
    pub better: Better,
    /// Only the whole run has it (time to all-ready, how the autoscaler reacted).
    pub run_only: bool,
}

const fn figure(name: &'static str, unit: Unit, better: Better) -> Figure {
    Figure {
        name,
        unit,
        better,
        run_only: false,
    }
}

/// A duration only the whole run has, shorter being better.
const fn run_time(name: &'static str) -> Figure {
    Figure {
        name,
        unit: Unit::Duration,
        better: Better::Lower,
        run_only: true,
    }
}

/// How the autoscaler reacted (`scale_mode` hpa or keda), as report.json's `reaction` names
/// them: a CI gate can hold an autoscaler to "scaled up within 20 s".
pub const REACTION_FIGURES: [&str; 4] = [
    "load_to_scale_up",
    "load_to_new_replica_ready",
    "load_to_p95_recovered",
    "unload_to_min",
];

/// Every figure, in the order reports list them.
pub const FIGURES: [Figure; 24] = [
    figure("p50", Unit::Duration, Better::Lower),
    figure("p95", Unit::Duration, Better::Lower),
    figure("p99", Unit::Duration, Better::Lower),
    figure("settled_p50", Unit::Duration, Better::Lower),
    figure("settled_p95", Unit::Duration, Better::Lower),
    figure("settled_p99", Unit::Duration, Better::Lower),
    figure("server_p50", Unit::Duration, Better::Lower),
    figure("server_p95", Unit::Duration, Better::Lower),
    figure("server_p99", Unit::Duration, Better::Lower),
    figure("error_rate", Unit::Percent, Better::Lower),
    figure("drop_rate", Unit::Percent, Better::Lower),
    figure("shed_rate", Unit::Percent, Better::Lower),
    figure("sent_rps", Unit::Number, Better::Higher),
    figure("served_rps", Unit::Number, Better::Higher),
    figure("replicas_min", Unit::Count, Better::Higher),
    figure("replicas_max", Unit::Count, Better::Higher),
    figure("duration", Unit::Duration, Better::Lower),
    run_time("time_to_ready"),
    run_time(REACTION_FIGURES[0]),
    run_time(REACTION_FIGURES[1]),
    run_time(REACTION_FIGURES[2]),
    run_time(REACTION_FIGURES[3]),
    capacity(CAPACITY_FIGURES[0]),
    capacity(CAPACITY_FIGURES[1]),
];

/// The capability mode's capacity (`capability = true`), per iteration and in total, as
/// report.json's `capability` names them: a CI gate can hold a cluster to "carries 200 rps".
pub const CAPACITY_FIGURES: [&str; 2] = ["capacity_rps", "total_capacity_rps"];

/// A rate only the whole run has (the capability mode's capacity), higher being better.
const fn capacity(name: &'static str) -> Figure {
    Figure {
        name,
        unit: Unit::Number,
        better: Better::Higher,
        run_only: true,
    }
}

/// The figure `name` stands for: its own name, or k6's spellings `p(95)` and `med`.
pub fn canonical(name: &str) -> Option<&'static Figure> {
    let name = match name {
        "med" | "p(50)" => "p50",
        "p(95)" => "p95",
        "p(99)" => "p99",
        other => other,
    };
    FIGURES.iter().find(|f| f.name == name)
}

/// The figure `figure` of `phase`, or what is wrong with either name (listing the known).
pub fn lookup(phase: Option<&str>, figure: &str) -> Result<&'static Figure, NameError> {
    let phase = phase.ok_or_else(|| {
        NameError::Phase(format!(
            "no phase before `{figure}`: write `PHASE.{figure}`, PHASE one of {}",
            PHASES.join(", ")
        ))
    })?;
    if !PHASES.contains(&phase) {
        return Err(NameError::Phase(format!(
            "unknown phase `{phase}`: the phases are {}",
            PHASES.join(", ")
        )));
    }
    let f = canonical(figure).ok_or_else(|| {
        NameError::Figure(format!(
            "unknown figure `{figure}`: the figures are {}",
            names_for(phase).join(", ")
        ))
    })?;
    if f.run_only && phase != RUN {
        return Err(NameError::Figure(format!(
            "`{figure}` is a figure of the whole run: write `run.{figure}`"
        )));
    }
    Ok(f)
}

/// The figures `phase` has.
pub fn names_for(phase: &str) -> Vec<&'static str> {
    FIGURES
        .iter()
        .filter(|f| !f.run_only || phase == RUN)
        .map(|f| f.name)
        .collect()
}

/// The run's figures as a [`Catalog`] for [`common::threshold::parse`].
#[derive(Debug, Clone, Copy, Default)]
pub struct RunFigures;

/// Examples that end every threshold error.
pub const THRESHOLD_HELP: &str = "write it like `recovery.p95<300ms`, `load.error_rate<40%`, \
                                  `recovery.settled_p95<100ms`, `run.drop_rate==0`, \
                                  `run.time_to_ready<30s` or `run.load_to_scale_up<20s`";

impl Catalog for RunFigures {
    fn unit(&self, phase: Option<&str>, figure: &str) -> Result<Unit, NameError> {
        lookup(phase, figure).map(|f| f.unit)
    }

    fn help(&self) -> String {
        THRESHOLD_HELP.to_owned()
    }
}

/// Parses a run threshold such as `recovery.p95<300ms`.
pub fn parse_threshold(
    text: &str,
) -> Result<common::threshold::Threshold, common::threshold::ParseError> {
    common::threshold::parse(text, &RunFigures)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_issue_examples_parse_with_their_phase() {
        for (text, phase, figure) in [
            ("recovery.p95<300ms", "recovery", "p95"),
            ("load.error_rate<40%", "load", "error_rate"),
            ("recovery.settled_p95<100ms", "recovery", "settled_p95"),
            ("run.drop_rate==0", "run", "drop_rate"),
            ("run.shed_rate<5%", "run", "shed_rate"),
            ("run.time_to_ready<60s", "run", "time_to_ready"),
            ("load.p(95)<1s", "load", "p(95)"),
            ("run.load_to_scale_up<20s", "run", "load_to_scale_up"),
            ("run.unload_to_min<2m", "run", "unload_to_min"),
            ("cooldown.replicas_max<=2", "cooldown", "replicas_max"),
        ] {
            let t = parse_threshold(text).unwrap();
            assert_eq!(
                (t.phase.as_deref(), t.figure.as_str()),
                (Some(phase), figure)
            );
        }
    }

    #[test]
    fn unknown_names_list_the_known_ones() {
        let e = parse_threshold("recover.p95<1s").unwrap_err();
        assert!(
            e.problem
                .contains("recovery, unload, cooldown, capability, run"),
            "{e}"
        );
        let e = parse_threshold("recovery.p90<1s").unwrap_err();
        assert_eq!(e.column, 10);
        assert!(e.problem.contains("p50, p95, p99"), "{e}");
        let e = parse_threshold("load.time_to_ready<1s").unwrap_err();
        assert!(e.problem.contains("run.time_to_ready"), "{e}");
        let e = parse_threshold("load.load_to_scale_up<20s").unwrap_err();
        assert!(e.problem.contains("run.load_to_scale_up"), "{e}");
        let e = parse_threshold("capability.capacity_rps>10").unwrap_err();
        assert!(e.problem.contains("run.capacity_rps"), "{e}");
        let e = parse_threshold("p95<1s").unwrap_err();
        assert!(e.problem.contains("no phase"), "{e}");
        let e = parse_threshold("scale.time_to_ready<60s").unwrap_err();
        assert!(e.problem.contains("unknown phase `scale`"), "{e}");
    }
}
