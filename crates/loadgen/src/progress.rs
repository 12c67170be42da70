//! What the operator sees during a run: a live line on a terminal (elapsed, target vs
//! achieved rate, p50/p99, errors, drops), a log line every 5 s otherwise, or nothing.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::Progress;
use crate::report::{TimelinePoint, fmt_ms};

/// Seconds between two log lines when there is no terminal.
const LOG_EVERY: f64 = 5.0;

/// Running totals shown next to the last second's numbers.
pub(crate) struct Totals {
    pub(crate) sent: u64,
    pub(crate) errors: u64,
    pub(crate) dropped: u64,
}

pub(crate) enum Display {
    Bar(ProgressBar),
    Log { next_at: f64 },
    Off,
}

impl Display {
    pub(crate) fn new(mode: Progress, planned: Duration) -> Self {
        match mode {
            Progress::Off => Display::Off,
            Progress::Log => Display::Log { next_at: LOG_EVERY },
            Progress::Auto if !std::io::stderr().is_terminal() => {
                Display::Log { next_at: LOG_EVERY }
            }
            Progress::Auto => {
                let bar = ProgressBar::with_draw_target(
                    Some(planned.as_secs().max(1)),
                    ProgressDrawTarget::stderr(),
                );
                let style = ProgressStyle::with_template("{elapsed:>4} [{bar:24}] {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> ");
                bar.set_style(style);
                Display::Bar(bar)
            }
        }
    }

    pub(crate) fn update(&mut self, p: &TimelinePoint, t: &Totals) {
        let ms = |v: Option<f64>| v.map_or_else(|| "-".to_string(), fmt_ms);
        match self {
            Display::Off => {}
            Display::Bar(bar) => {
                bar.set_position(p.t_s as u64);
                bar.set_message(format!(
                    "{:.0}/{:.0} rps  p50 {}  p99 {}  sent {}  errors {}  dropped {}  in flight {}",
                    p.achieved_rps,
                    p.target_rps,
                    ms(p.p50_ms),
                    ms(p.p99_ms),
                    t.sent,
                    t.errors,
                    t.dropped,
                    p.in_flight
                ));
            }
            Display::Log { next_at } => {
                if p.t_s + 1e-3 < *next_at {
                    return;
                }
                *next_at += LOG_EVERY;
                tracing::info!(
                    elapsed_s = p.t_s,
                    target_rps = p.target_rps,
                    achieved_rps = p.achieved_rps,
                    p50 = %ms(p.p50_ms),
                    p99 = %ms(p.p99_ms),
                    sent = t.sent,
                    errors = t.errors,
                    dropped = t.dropped,
                    in_flight = p.in_flight,
                    "progress"
                );
            }
        }
    }

    pub(crate) fn finish(&self) {
        if let Display::Bar(bar) = self {
            bar.finish_and_clear();
        }
    }
}
