//! The scenario timeline shared by every runtime: phases, pauses with progress bars, the
//! once-a-second sampler, interruption, and the report at the end.

use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use scenario::Scenario;
use tokio_util::sync::CancellationToken;

use crate::capability::{CapabilityReport, Climb};
use crate::gate::Gate;
pub use crate::report::terminal::summary;
use crate::report::{Outcome, Phase, Report};
use crate::runtime::{MetricsSource, Runtime, RuntimeError};
use crate::sample::{Accumulator, Point};

/// Phase names, as they appear in the report and in `compare`.
pub mod phase {
    pub const DEPLOY: &str = "deploy";
    pub const BASELINE: &str = "baseline";
    pub const LOAD: &str = "load";
    pub const SCALE_UP: &str = "scale_up";
    pub const RECOVERY: &str = "recovery";
    pub const UNLOAD: &str = "unload";
    /// `scale_mode` hpa/keda: after the unload, the scale-down watched.
    pub const COOLDOWN: &str = "cooldown";
    /// `capability = true`: the climb and the step-back, in place of load to unload.
    pub const CAPABILITY: &str = "capability";
}

/// What a run needs besides its runtime.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub scenario: Scenario,
    /// The effective configuration with sources, stored in the report.
    pub config: scenario::Effective,
    /// The report goes to `<runs_dir>/<uuid>/`.
    pub runs_dir: PathBuf,
    /// Keep the stack up after the report until Ctrl-C (local `--hold`).
    pub hold: bool,
    /// Leave the stack up after the process exits (kube without `--cleanup`).
    pub keep: bool,
    /// Draw progress bars (off in tests and when stderr is not a terminal).
    pub progress: bool,
}

/// The result of a run: the report written, and where.
#[derive(Debug)]
pub struct RunResult {
    pub report: Report,
    pub dir: PathBuf,
    /// Writing the report failed (the run's outcome is kept in `report`).
    pub write_error: Option<String>,
    /// The run stopped on configuration only its runtime could judge (PromQL Prometheus
    /// rejects).
    pub bad_config: bool,
}

impl RunResult {
    /// 0 completed, 99 completed but the gate failed, 130 interrupted, 2 bad
    /// configuration found once the stack was up, 1 failed (ARCHITECTURE.md).
    pub fn exit_code(&self) -> i32 {
        let gate_failed = self.report.gate.as_ref().is_some_and(|g| !g.passed);
        match (&self.report.outcome, &self.write_error) {
            (Outcome::Interrupted { .. }, _) => 130,
            _ if self.bad_config => 2,
            (Outcome::Completed, None) if gate_failed => i32::from(crate::gate::EXIT_GATE_FAILED),
            (Outcome::Completed, None) => 0,
            _ => 1,
        }
    }
}

enum Stop {
    Interrupted,
    Failed(RuntimeError),
    /// Configuration the runtime rejected once it was up.
    BadConfig(String),
}

struct Clock {
    t0: Instant,
}

impl Clock {
    fn now(&self) -> f64 {
        crate::report::round6(self.t0.elapsed().as_secs_f64())
    }
    fn say(&self, msg: &str) {
        println!("[{:>7.1}s] {msg}", self.now());
    }
}

fn utc_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// A pause that shows a progress bar and ends early on interruption or failure.
async fn pause(what: &str, d: Duration, progress: bool) {
    let bar = if progress {
        let bar = ProgressBar::new(d.as_millis() as u64);
        if let Ok(style) =
            ProgressStyle::with_template("            {msg:>10} [{bar:40}] {elapsed}/{duration}")
        {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(what.to_owned());
        bar
    } else {
        ProgressBar::hidden()
    };
    let start = Instant::now();
    while start.elapsed() < d {
        let left = d.saturating_sub(start.elapsed());
        tokio::time::sleep(left.min(Duration::from_millis(200))).await;
        bar.set_position(start.elapsed().as_millis() as u64);
    }
    bar.finish_and_clear();
}

/// Runs the scenario on `rt` until it ends, fails or `shutdown` resolves, then writes the
/// report (partial when interrupted) and tears the stack down.
pub async fn run<R: Runtime>(
    rt: R,
    opts: RunOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> RunResult {
    // On the heap: the run's state machine is large, and callers may be test threads.
    Box::pin(run_gated(rt, opts, &Gate::default(), shutdown)).await
}

/// [`run`], judged by `gate` (thresholds, baseline rules, alerts) before the teardown.
pub async fn run_gated<R: Runtime>(
    mut rt: R,
    opts: RunOptions,
    gate: &Gate,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> RunResult {
    let clock = Clock { t0: Instant::now() };
    let wall_start = std::time::SystemTime::now();
    let started_at = utc_now();
    let cancel = CancellationToken::new();
    let signal_task = {
        let cancel = cancel.clone();
        tokio::spawn(async move {
            shutdown.await;
            cancel.cancel();
        })
    };
    let s = &opts.scenario;
    println!("run {} on the {} runtime", s.uuid, rt.name());

    // The sampler runs from the first second so the deploy is on the charts too.
    let points: Arc<Mutex<Vec<Point>>> = Arc::default();
    let sampler_stop = CancellationToken::new();
    let sampler = {
        let source = rt.metrics();
        let points = points.clone();
        let stop = sampler_stop.clone();
        let t0 = clock.t0;
        tokio::spawn(async move {
            let mut acc = Accumulator::new();
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    () = stop.cancelled() => break,
                }
                let round = source.scrape().await;
                let point = acc.push(crate::report::round6(t0.elapsed().as_secs_f64()), &round);
                if let Ok(mut p) = points.lock() {
                    p.push(point);
                }
            }
            // One last round so the final phase ends on a fresh reading.
            let round = source.scrape().await;
            let point = acc.push(crate::report::round6(t0.elapsed().as_secs_f64()), &round);
            if let Ok(mut p) = points.lock() {
                p.push(point);
            }
        })
    };

    let mut failure = Box::pin(rt.failure());
    let mut phases: Vec<Phase> = Vec::new();
    let mut time_to_ready = None;
    let mut notes = Vec::new();
    let mut failures = Vec::new();
    let mut current = phase::DEPLOY;
    let auto = s.autoscale.mode.is_auto();
    let mut driver = crate::autoscale::drive::Driver::new(s, clock.t0, rt.autoscale_poll());
    let mut climb = s.capability.enabled.then(|| Climb::new(s));
    let mut kill = None;
    let say = |msg: &str| clock.say(msg);

    macro_rules! step {
        ($name:expr, $fut:expr) => {{
            current = $name;
            let start = clock.now();
            let r = tokio::select! {
                r = $fut => r.map_err(Stop::Failed),
                () = cancel.cancelled() => Err(Stop::Interrupted),
                e = &mut failure => Err(Stop::Failed(e)),
            };
            phases.push(Phase {
                name: $name.to_owned(),
                start,
                end: clock.now(),
            });
            r
        }};
    }

    let outcome: Result<(), Stop> = async {
        clock.say(&format!(
            "▶ {}: backend ×{}, frontend, prometheus",
            phase::DEPLOY,
            s.backend.replicas
        ));
        let deployed = step!(phase::DEPLOY, rt.deploy())?;
        time_to_ready = Some(deployed.time_to_ready.as_secs_f64());
        for n in deployed.notes {
            clock.say(&format!("  note: {n}"));
            notes.push(n);
        }
        clock.say(&format!(
            "  all ready in {:.2} s",
            deployed.time_to_ready.as_secs_f64()
        ));
        for e in rt.endpoints() {
            clock.say(&format!("  {}: {}", e.name, e.url));
        }
        // Every copy runs the same Prometheus: one of them judges the PromQL.
        let first_prometheus = rt.prometheus_apis().into_iter().find_map(Result::ok);
        // Boxed, as the evaluation below: HTTP futures inlined would grow this state
        // machine past a test thread's stack.
        Box::pin(gate.check_promql_live(first_prometheus.as_ref()))
            .await
            .map_err(Stop::BadConfig)?;
        clock.say(&format!("▶ {}: {}", phase::BASELINE, s.baseline_pause));
        step!(phase::BASELINE, async {
            if auto {
                return Box::pin(driver.run(&mut rt, s.baseline_pause.get(), false, &say)).await;
            }
            pause(phase::BASELINE, s.baseline_pause.get(), opts.progress).await;
            Ok(())
        })?;
        if let Some(climb) = climb.as_mut() {
            let c = &s.capability;
            clock.say(&format!(
                "▶ {}: {} to {} rps (×{} every {}) until a rule breaks, then settle {}",
                phase::CAPABILITY,
                c.start_rps,
                c.max_rps,
                c.step_factor,
                c.step,
                c.settle
            ));
            let now = || clock.now();
            kill = crate::chaos::arm(&rt, s, clock.t0);
            step!(
                phase::CAPABILITY,
                Box::pin(climb.run(&mut rt, &points, &now, &say))
            )?;
            return Ok(());
        }
        if s.enable_load {
            clock.say(&format!(
                "▶ {}: {}, for {}",
                phase::LOAD,
                s.describe_load(),
                s.load_pause
            ));
            kill = crate::chaos::arm(&rt, s, clock.t0);
            step!(phase::LOAD, async {
                rt.start_load().await?;
                if auto {
                    // Boxed: the sync's futures would grow this state machine.
                    return Box::pin(driver.run(&mut rt, s.load_pause.get(), false, &say)).await;
                }
                pause(phase::LOAD, s.load_pause.get(), opts.progress).await;
                Ok(())
            })?;
        }
        if auto {
            if s.enable_load {
                clock.say(&format!("▶ {}: stopping the load generator", phase::UNLOAD));
                step!(phase::UNLOAD, rt.stop_load())?;
            }
            let cooldown = s.autoscale.cooldown_pause;
            clock.say(&format!(
                "▶ {}: up to {cooldown}, until back at {}",
                phase::COOLDOWN,
                s.autoscale.min
            ));
            step!(
                phase::COOLDOWN,
                Box::pin(driver.run(&mut rt, cooldown.get(), true, &say))
            )?;
            return Ok(());
        }
        clock.say(&format!(
            "▶ {}: backend → {} replicas",
            phase::SCALE_UP,
            s.backend_scale_replicas
        ));
        step!(phase::SCALE_UP, rt.scale_backend(s.backend_scale_replicas))?;
        clock.say(&format!("▶ {}: {}", phase::RECOVERY, s.load_scale_delay));
        step!(phase::RECOVERY, async {
            pause(phase::RECOVERY, s.load_scale_delay.get(), opts.progress).await;
            Ok(())
        })?;
        if s.enable_load {
            clock.say(&format!("▶ {}: stopping the load generator", phase::UNLOAD));
            step!(phase::UNLOAD, rt.stop_load())?;
        }
        Ok(())
    }
    .await;

    let mut bad_config = false;
    let outcome = match outcome {
        Ok(()) => Outcome::Completed,
        Err(stop) => {
            let outcome = match stop {
                Stop::Interrupted => {
                    clock.say(&format!("interrupted during {current}: stopping the load, writing the partial report"));
                    Outcome::Interrupted {
                        phase: current.to_owned(),
                    }
                }
                Stop::Failed(e) => {
                    clock.say(&format!("failed during {current}: {e}"));
                    failures.push(e.to_string());
                    Outcome::Failed {
                        phase: current.to_owned(),
                        error: e.to_string(),
                    }
                }
                Stop::BadConfig(why) => {
                    let error = format!("bad configuration: {why}");
                    clock.say(&error);
                    failures.push(error.clone());
                    bad_config = true;
                    Outcome::Failed {
                        phase: current.to_owned(),
                        error,
                    }
                }
            };
            if s.enable_load || s.capability.enabled {
                let bound = rt.stop_timeout();
                match tokio::time::timeout(bound, rt.stop_load()).await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => failures.push(format!("stopping the load: {e}")),
                    Err(_) => failures.push(format!("stopping the load took over {bound:?}")),
                }
            }
            outcome
        }
    };

    if let Some(kill) = kill {
        let note = kill.note().await;
        clock.say(&format!("  note: {note}"));
        notes.push(note);
    }

    // Before the sampler's last round: its production count then includes every order.
    let drain = outcome == Outcome::Completed;
    let pipeline_end = rt.pipeline_end(drain).await;
    sampler_stop.cancel();
    if let Err(e) = sampler.await {
        failures.push(format!("the sampler stopped: {e}"));
    }
    let points = points.lock().map(|p| p.clone()).unwrap_or_default();
    let mut report = Report::build(
        s.clone(),
        opts.config.clone(),
        rt.name(),
        started_at,
        outcome,
        &phases,
        points,
        time_to_ready,
        failures,
        notes,
        rt.endpoints(),
    );
    report.resources = Some(crate::resources::section(
        &report.points,
        &phases,
        rt.resource_source(),
    ));
    report.autoscale = auto.then(|| {
        crate::autoscale::report::AutoscaleReport::build(s, &phases, &report.points, driver.syncs)
    });
    report.pipeline = crate::pipeline::report::build(&report.points, &phases, pipeline_end);
    report.iterations =
        crate::iterations::report::build(s.iterations.count, &report.phases, &report.points);
    if let Some(i) = report.iterations.as_mut() {
        i.pod_startup =
            crate::iterations::report::PodStartup::from_seconds(rt.name(), rt.pod_startup().await);
    }
    report.capability = climb.as_ref().map(|c| {
        CapabilityReport::build(
            c,
            &report.points,
            s.iterations.count,
            s.capability.settle.get().as_secs_f64(),
        )
    });
    // Before the teardown: the alerts need the run's Prometheus.
    let prometheus = rt.prometheus_apis();
    report.gate = Box::pin(gate.evaluate(
        &report,
        &prometheus,
        wall_start,
        std::time::SystemTime::now(),
    ))
    .await;
    let dir = opts.runs_dir.join(&s.uuid);
    let write_error = report
        .write(&dir)
        .err()
        .map(|e| format!("cannot write the report to {}: {e}", dir.display()))
        .or_else(|| gate.write_junit(&s.uuid, report.gate.as_ref()).err());
    match &write_error {
        None => clock.say(&format!(
            "report: {}/report.{{json,md,html}}",
            dir.display()
        )),
        Some(e) => clock.say(e),
    }
    print!("{}", summary(&report));
    if let Some(g) = &report.gate {
        print!("{}", crate::gate::render::summary(g));
    }

    if opts.hold && report.outcome == Outcome::Completed {
        clock.say("the stack stays up (--hold); press Ctrl-C to stop it");
        for e in rt.endpoints() {
            clock.say(&format!("  {}: {}", e.name, e.url));
        }
        cancel.cancelled().await;
    }
    if let Err(e) = rt.teardown(opts.keep).await {
        clock.say(&format!("teardown: {e}"));
    }
    signal_task.abort();
    clock.say("done");
    RunResult {
        report,
        dir,
        write_error,
        bad_config,
    }
}
