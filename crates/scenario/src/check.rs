//! The per-value rules every layer's value must pass on its own: Kubernetes names, image
//! references, ranges, NodePorts, action lists; and the "did you mean" of unknown names.

use std::str::FromStr;

use super::error::{ErrorKind, Problem};
use super::value::Typed;
use common::api::Action;
use common::load::vus::{ThinkTime, parse_vu_stages};
use common::load::{Profile as LoadProfile, parse_stages};

/// Per-value rules, applied to every layer's value on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Check {
    None,
    /// An RFC 1123 label: lowercase letters, digits and `-`, alphanumeric at both ends, ≤ 63.
    Label,
    /// An RFC 1123 label that also starts with a letter: it names a Service (RFC 1035). At
    /// most this many characters, so the names made from it fit in 63 too: the pre-pull
    /// container `pull-<name>`, `<backend>-headless`, `<prometheus>-config`.
    ServiceName(usize),
    /// A container image reference: not empty, no whitespace.
    Image,
    /// A whole number at least this large.
    AtLeast(u32),
    /// A whole number in this range (inclusive).
    Between(u64, u64),
    /// A duration of at most this many milliseconds.
    AtMostMs(u64),
    /// A number above 0.
    Positive,
    /// An autoscaler's target: a number above 0.
    Target,
    /// A growth factor: at least 1 (1 keeps the rate constant).
    Factor,
    /// A climb's growth factor: above 1, or it would never climb.
    Climb,
    /// A share from 0 to 1 (an error rate).
    Fraction,
    /// A NodePort in Kubernetes' default range.
    NodePort,
    /// A duration above 0.
    NonZero,
    /// A weighted action list.
    Actions,
    /// k6-style stages (when set).
    Stages,
    /// A named load profile (when set).
    Profile,
    /// Closed-loop VU stages (when set).
    VuStages,
    /// A think time or range (when set).
    ThinkTime,
}

/// Kubernetes' default `--service-node-port-range`.
pub(crate) const NODE_PORTS: std::ops::RangeInclusive<u64> = 30000..=32767;

impl Check {
    pub(crate) fn run(self, v: &Typed) -> Result<(), Problem> {
        match (self, v) {
            (Check::Label, Typed::Text(s)) => label(s, false, 63),
            (Check::ServiceName(max), Typed::Text(s)) => label(s, true, max),
            (Check::Image, Typed::Text(s)) => {
                if s.is_empty() || s.chars().any(char::is_whitespace) {
                    Err(Problem::new(
                        ErrorKind::InvalidName,
                        "an image reference must be non-empty and without spaces",
                        "write it like `registry.example/name:tag`",
                    ))
                } else {
                    Ok(())
                }
            }
            (Check::AtLeast(min), Typed::Int(n)) if *n < u64::from(min) => Err(Problem::new(
                ErrorKind::OutOfRange,
                format!("must be at least {min}"),
                format!("set it to {min} or more"),
            )),
            (Check::Between(min, max), Typed::Int(n)) if !(min..=max).contains(n) => {
                Err(Problem::new(
                    ErrorKind::OutOfRange,
                    format!("must be from {min} to {max}"),
                    format!("set a whole number from {min} to {max}"),
                ))
            }
            (Check::AtMostMs(max), Typed::Duration(d)) if d.get().as_millis() > u128::from(max) => {
                Err(Problem::new(
                    ErrorKind::OutOfRange,
                    format!("must be at most {max}ms"),
                    format!("set a duration of {max}ms or less, such as `2ms`"),
                ))
            }
            (Check::Positive, Typed::Float(x) | Typed::Cap(Some(x))) if *x <= 0.0 => {
                Err(Problem::new(
                    ErrorKind::OutOfRange,
                    "a rate must be greater than 0 requests per second",
                    if matches!(v, Typed::Cap(_)) {
                        "set a positive cap such as 300, or `none` for no cap"
                    } else {
                        "set a positive rate such as 10"
                    },
                ))
            }
            (Check::Target, Typed::Float(x)) if *x <= 0.0 => Err(Problem::new(
                ErrorKind::OutOfRange,
                "an autoscaler's target must be greater than 0",
                "set the value per replica you want, such as 80 (%), 50 (rps) or 250 (ms)",
            )),
            (Check::Factor, Typed::Float(x)) if *x < 1.0 => Err(Problem::new(
                ErrorKind::OutOfRange,
                "the ramp factor must be at least 1 (a factor below 1 would shrink the load)",
                "set 1 for a constant rate, or more (such as 1.35 or 5) to ramp up",
            )),
            (Check::Climb, Typed::Float(x)) if *x <= 1.0 => Err(Problem::new(
                ErrorKind::OutOfRange,
                "the capability climb's factor must be above 1, or the rate would never rise",
                "set a factor such as 1.5 (each step 50 % above the last)",
            )),
            (Check::Fraction, Typed::Float(x)) if !(0.0..=1.0).contains(x) => Err(Problem::new(
                ErrorKind::OutOfRange,
                "a share must lie from 0 to 1",
                "write it as a fraction, such as 0.01 for 1 %",
            )),
            (Check::NodePort, Typed::Int(n)) if !NODE_PORTS.contains(n) => Err(Problem::new(
                ErrorKind::OutOfRange,
                format!(
                    "a NodePort must lie in Kubernetes' default range {}-{}",
                    NODE_PORTS.start(),
                    NODE_PORTS.end()
                ),
                "pick a port from 30000 to 32767",
            )),
            (Check::NonZero, Typed::Duration(d)) if d.get().is_zero() => Err(Problem::new(
                ErrorKind::OutOfRange,
                "must be longer than 0",
                "set a positive duration such as `5s`",
            )),
            (Check::Actions, Typed::Text(s)) => actions(s),
            (Check::Stages, Typed::OptText(Some(s))) => {
                parse_stages(s).map(drop).map_err(|e| {
                    Problem::new(
                        ErrorKind::BadShape,
                        e.to_string(),
                        "write stages as duration:rate pairs like `30s:20,1m:20,10s:0` (rates of 0 or more)",
                    )
                })
            }
            (Check::VuStages, Typed::OptText(Some(s))) => parse_vu_stages(s).map(drop).map_err(|e| {
                Problem::new(
                    ErrorKind::BadShape,
                    e,
                    "write VU stages as duration:users pairs like `30s:20,1m:20,10s:0`",
                )
            }),
            (Check::ThinkTime, Typed::OptText(Some(s))) => {
                s.parse::<ThinkTime>().map(drop).map_err(|e| {
                    Problem::new(
                        ErrorKind::BadShape,
                        e,
                        "write a duration like `1s`, or a range like `500ms..2s`",
                    )
                })
            }
            (Check::Profile, Typed::OptText(Some(s))) => {
                LoadProfile::parse(s).map(drop).map_err(|e| {
                    Problem::new(
                        ErrorKind::BadShape,
                        e.to_string(),
                        format!("use one of {}", LoadProfile::ALL.map(LoadProfile::name).join(", ")),
                    )
                })
            }
            _ => Ok(()),
        }
    }
}

/// Checks an RFC 1123 label of at most `max` characters, as the API server would;
/// `letter_first` adds RFC 1035's leading letter (Service names).
fn label(s: &str, letter_first: bool, max: usize) -> Result<(), Problem> {
    let fix = "use lowercase letters, digits and `-`, starting and ending with a letter or digit, at most 63 characters, like `my-name-1`";
    let bad = |why: &str| {
        Err(Problem::new(
            ErrorKind::InvalidName,
            format!("not a valid Kubernetes name (RFC 1123 label): {why}"),
            fix,
        ))
    };
    if s.is_empty() {
        return bad("it is empty");
    }
    if s.len() > 63 {
        return bad(&format!("it is {} characters long, above 63", s.len()));
    }
    if s.len() > max {
        return bad(&format!(
            "it is {} characters long, above {max}: the names made from it (`pull-<name>`, `<name>-headless`, `<name>-config`) would pass 63",
            s.len()
        ));
    }
    if let Some(c) = s
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        return bad(&format!("`{c}` is not allowed"));
    }
    if s.starts_with('-') || s.ends_with('-') {
        return bad("it must start and end with a letter or digit");
    }
    if letter_first && !s.starts_with(|c: char| c.is_ascii_lowercase()) {
        return bad("it names a Service, which must start with a letter (RFC 1035)");
    }
    Ok(())
}

/// Checks `book_ticket=5,cancel_ticket,...`: known actions, whole weights above 0.
fn actions(s: &str) -> Result<(), Problem> {
    let names = Action::ALL.map(Action::as_str).join(", ");
    let fix = format!(
        "list actions from {names}, with optional weights, like `book_ticket=5,cancel_ticket`"
    );
    let mut count = 0;
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (name, weight) = match part.split_once('=') {
            Some((n, w)) => (n.trim(), Some(w.trim())),
            None => (part, None),
        };
        if Action::from_str(name).is_err() {
            let hint = strsim_hint(name, &Action::ALL.map(Action::as_str));
            return Err(Problem::new(
                ErrorKind::UnknownAction,
                format!("`{name}` is not an action{hint}"),
                fix,
            ));
        }
        if let Some(w) = weight
            && !matches!(w.parse::<u32>(), Ok(n) if n > 0)
        {
            return Err(Problem::new(
                ErrorKind::UnknownAction,
                format!("the weight of `{name}` is `{w}`, not a whole number above 0"),
                "give each action a weight of 1 or more, or leave it out",
            ));
        }
        count += 1;
    }
    if count == 0 {
        return Err(Problem::new(
            ErrorKind::UnknownAction,
            "no action is listed",
            fix,
        ));
    }
    Ok(())
}

/// `" (did you mean `x`?)"` when one of `candidates` is close to `name`, else `""`.
pub(crate) fn strsim_hint(name: &str, candidates: &[&str]) -> String {
    closest(name, candidates)
        .map(|c| format!(" (did you mean `{c}`?)"))
        .unwrap_or_default()
}

/// The candidate closest to `name`, if it is close enough to be a likely typo.
pub(crate) fn closest<'a>(name: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let name = name.to_ascii_lowercase().replace(['.', '-'], "_");
    candidates
        .iter()
        .map(|c| (strsim::levenshtein(&name, &c.to_ascii_lowercase()), *c))
        .filter(|(d, c)| *d <= (c.len() / 4).clamp(1, 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}
