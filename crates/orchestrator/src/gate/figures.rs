//! Reading a figure of a phase (`recovery.p95`, `run.drop_rate`) out of a report, in the
//! unit thresholds and rules are written in: milliseconds, percent, requests per second,
//! replicas. A phase that did not happen or a figure that was never measured is an error
//! that says which, so that a check on it fails instead of passing on a zero.

use common::threshold::Unit;
use scenario::figures::{CAPACITY_FIGURES, Figure, REACTION_FIGURES, RUN};

use crate::report::{Phase, PhaseStats, Report, phase_stats};

/// The numbers of `phase` in `r`; `run` spans the whole run.
pub fn stats(r: &Report, phase: &str) -> Result<PhaseStats, String> {
    if phase == RUN {
        let (Some(first), Some(last)) = (r.phases.first(), r.phases.last()) else {
            return Err("the run has no phases".to_owned());
        };
        let whole = Phase {
            name: RUN.to_owned(),
            start: first.start,
            end: last.end,
        };
        return Ok(phase_stats(&r.points, &whole));
    }
    r.phase(phase)
        .cloned()
        .ok_or_else(|| format!("phase `{phase}` did not happen in run `{}`", r.uuid))
}

/// The value of `figure` in `stats` of run `r`, in the figure's unit.
pub fn value(r: &Report, stats: &PhaseStats, figure: &Figure) -> Result<f64, String> {
    let phase = &stats.name;
    let never = |why: &str| {
        format!(
            "`{phase}.{}` was never measured in run `{}` ({why})",
            figure.name, r.uuid
        )
    };
    let ms = |s: Option<f64>| {
        s.map(|s| s * 1000.0)
            .ok_or_else(|| never("no request completed"))
    };
    let nothing_sent = stats.sent_rps <= 0.0;
    match figure.name {
        "p50" => ms(stats.client_latency.p50),
        "p95" => ms(stats.client_latency.p95),
        "p99" => ms(stats.client_latency.p99),
        "settled_p50" => ms(stats.settled_client_latency.p50),
        "settled_p95" => ms(stats.settled_client_latency.p95),
        "settled_p99" => ms(stats.settled_client_latency.p99),
        "server_p50" => ms(stats.server_latency.p50),
        "server_p95" => ms(stats.server_latency.p95),
        "server_p99" => ms(stats.server_latency.p99),
        "error_rate" | "drop_rate" if nothing_sent => Err(never("no request was sent")),
        "error_rate" => Ok(stats.error_rate * 100.0),
        "drop_rate" => Ok(stats.drop_rate * 100.0),
        "shed_rate" if stats.served_rps <= 0.0 => Err(never("no request was served")),
        "shed_rate" => Ok(stats.shed_rate * 100.0),
        "sent_rps" => Ok(stats.sent_rps),
        "served_rps" => Ok(stats.served_rps),
        "replicas_min" => Ok(f64::from(stats.replicas_min)),
        "replicas_max" => Ok(f64::from(stats.replicas_max)),
        "duration" => Ok((stats.end - stats.start) * 1000.0),
        "time_to_ready" => r
            .time_to_ready
            .map(|s| s * 1000.0)
            .ok_or_else(|| never("the deploy did not finish")),
        name if REACTION_FIGURES.contains(&name) => reaction(r, name)?
            .map(|s| s * 1000.0)
            .ok_or_else(|| never(never_reacted(name))),
        name if CAPACITY_FIGURES.contains(&name) => capacity(r, name),
        other => Err(format!("`{other}` is not a figure this orchestrator reads")),
    }
}

/// The capability mode's capacity, requests per second.
fn capacity(r: &Report, name: &str) -> Result<f64, String> {
    let c = r.capability.as_ref().ok_or_else(|| {
        format!(
            "`run.{name}` needs the capability mode, and run `{}` did not climb: set \
             `capability = true` in the scenario",
            r.uuid
        )
    })?;
    let v = if name == CAPACITY_FIGURES[0] {
        c.capacity_rps
    } else {
        c.total_rps
    };
    v.ok_or_else(|| {
        format!(
            "`run.{name}` was never measured in run `{}` (it ended before a rate settled)",
            r.uuid
        )
    })
}

/// A reaction figure of the run's autoscaler, seconds; `None` when it never happened.
fn reaction(r: &Report, name: &str) -> Result<Option<f64>, String> {
    let a = r.autoscale.as_ref().ok_or_else(|| {
        format!(
            "`run.{name}` needs an autoscaler, and run `{}` had none: set `scale_mode = \"hpa\"` \
             or `\"keda\"` in the scenario",
            r.uuid
        )
    })?;
    let reaction = &a.reaction;
    Ok(match name {
        "load_to_scale_up" => reaction.load_to_scale_up,
        "load_to_new_replica_ready" => reaction.load_to_new_replica_ready,
        "load_to_p95_recovered" => reaction.load_to_p95_recovered,
        _ => reaction.unload_to_min,
    })
}

fn never_reacted(name: &str) -> &'static str {
    match name {
        "load_to_scale_up" => "the autoscaler never scaled up",
        "load_to_new_replica_ready" => "no replica added by the autoscaler became ready",
        "load_to_p95_recovered" => "the p95 never came back under its level",
        _ => "the backend never came back to autoscale_min",
    }
}

/// `phase.figure` of `r` in one call.
pub fn lookup(r: &Report, phase: &str, figure: &Figure) -> Result<f64, String> {
    value(r, &stats(r, phase)?, figure)
}

/// A value for people, in the figure's unit: `312.4 ms`, `1.73%`, `150.0`, `2`.
pub fn show(unit: Unit, v: f64) -> String {
    match unit {
        Unit::Duration if v.abs() >= 10_000.0 => format!("{:.1} s", v / 1000.0),
        Unit::Duration => format!("{v:.1} ms"),
        Unit::Percent => format!("{v:.2}%"),
        Unit::Number => format!("{v:.1}"),
        Unit::Count => format!("{v:.0}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::autoscale::report::Reaction;
    use scenario::figures::FIGURES;

    #[test]
    fn every_figure_of_the_catalog_is_read() {
        let r = crate::gate::fixture::report_with(0.2, 0.01);
        for f in FIGURES
            .iter()
            .filter(|f| !REACTION_FIGURES.contains(&f.name) && !CAPACITY_FIGURES.contains(&f.name))
        {
            let phase = if f.run_only { RUN } else { "recovery" };
            let v = lookup(&r, phase, f);
            assert!(v.is_ok(), "{phase}.{}: {v:?}", f.name);
        }
    }

    #[test]
    fn capacity_figures_need_the_capability_mode_and_read_its_section() {
        let mut r = crate::gate::fixture::report_with(0.2, 0.01);
        let e = lookup(&r, RUN, figure("capacity_rps")).unwrap_err();
        assert!(e.contains("capability = true"), "{e}");
        let capacity = |c: Option<f64>, iterations: u32| crate::capability::CapabilityReport {
            capacity_rps: c,
            iterations,
            total_rps: c.map(|c| c * f64::from(iterations)),
            at_ceiling: false,
            ended_by: None,
            carried: None,
            settle_s: 10.0,
            attempts: Vec::new(),
        };
        r.capability = Some(capacity(Some(42.5), 3));
        assert_eq!(lookup(&r, RUN, figure("capacity_rps")), Ok(42.5));
        assert_eq!(lookup(&r, RUN, figure("total_capacity_rps")), Ok(127.5));
        r.capability = Some(capacity(None, 1));
        let e = lookup(&r, RUN, figure("capacity_rps")).unwrap_err();
        assert!(e.contains("before a rate settled"), "{e}");
    }

    fn figure(name: &str) -> &'static Figure {
        scenario::figures::canonical(name).unwrap()
    }

    #[test]
    fn reaction_figures_need_an_autoscaler_and_read_its_reaction() {
        let mut r = crate::gate::fixture::report_with(0.2, 0.01);
        let e = lookup(&r, RUN, figure("load_to_scale_up")).unwrap_err();
        assert!(
            e.contains("needs an autoscaler") && e.contains("scale_mode"),
            "{e}"
        );

        r.autoscale = Some(crate::gate::fixture::autoscale_report(Reaction {
            load_to_scale_up: Some(4.5),
            load_to_new_replica_ready: Some(9.0),
            load_to_p95_recovered: None,
            unload_to_min: Some(30.25),
            ..Reaction::default()
        }));
        let read = |name| lookup(&r, RUN, figure(name));
        assert_eq!(read("load_to_scale_up"), Ok(4500.0));
        assert_eq!(read("load_to_new_replica_ready"), Ok(9000.0));
        assert_eq!(read("unload_to_min"), Ok(30250.0));
        let e = read("load_to_p95_recovered").unwrap_err();
        assert!(e.contains("never came back under its level"), "{e}");
    }
}
