//! The load generator's flags for a test run, built once: most tests want "this target, this
//! constant rate, this long, quietly" plus a flag or two of their own, and spelled that out
//! by hand each time.

/// The argument list of one load generator run (program name first, as `Opts::try_parse_from`
/// takes it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadgenArgs(Vec<String>);

impl LoadgenArgs {
    /// `rps` requests a second against `target` for `duration` (`"2s"`, `"10m"`), at a
    /// constant rate, with no progress output.
    pub fn constant(target: &str, rps: impl ToString, duration: &str) -> Self {
        Self(
            [
                "loadgen",
                "--target",
                target,
                "--progress",
                "off",
                "--base-rps",
                &rps.to_string(),
                "--ramp-factor",
                "1",
                "--duration",
                duration,
            ]
            .map(str::to_owned)
            .to_vec(),
        )
    }

    /// Adds `flag value`.
    pub fn with(mut self, flag: &str, value: impl ToString) -> Self {
        self.0.push(flag.to_owned());
        self.0.push(value.to_string());
        self
    }

    /// Adds a flag that takes no value.
    pub fn flag(mut self, flag: &str) -> Self {
        self.0.push(flag.to_owned());
        self
    }

    /// The arguments, program name first.
    pub fn to_vec(&self) -> Vec<String> {
        self.0.clone()
    }
}

impl IntoIterator for LoadgenArgs {
    type Item = String;
    type IntoIter = std::vec::IntoIter<String>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_follow_the_constant_plan_in_order() {
        let args = LoadgenArgs::constant("http://127.0.0.1:1", 40, "2s")
            .with("--timeout", "300ms")
            .flag("--wait-for-target");
        let v = args.to_vec();
        assert_eq!(v[0], "loadgen");
        let at = |flag: &str| v.iter().position(|a| a == flag).unwrap();
        assert_eq!(v[at("--target") + 1], "http://127.0.0.1:1");
        assert_eq!(v[at("--base-rps") + 1], "40");
        assert_eq!(v[at("--ramp-factor") + 1], "1");
        assert_eq!(v[at("--duration") + 1], "2s");
        assert_eq!(v[at("--timeout") + 1], "300ms");
        assert_eq!(v.last().map(String::as_str), Some("--wait-for-target"));
        assert_eq!(args.into_iter().count(), v.len());
    }
}
