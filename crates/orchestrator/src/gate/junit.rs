//! `--junit PATH`: every threshold, regression rule and alert as a JUnit test case (one
//! suite per kind), so CI systems list them natively. Written by hand: the format is a
//! handful of elements, and escaping is the only subtle part.

use std::fmt::Write;

use super::{Check, GateReport, Kind, Status};

fn esc(s: &str) -> String {
    s.chars()
        .filter(|c| matches!(c, '\t' | '\n' | '\r') || !c.is_control())
        .fold(String::new(), |mut out, c| {
            match c {
                '&' => out.push_str("&amp;"),
                '<' => out.push_str("&lt;"),
                '>' => out.push_str("&gt;"),
                '"' => out.push_str("&quot;"),
                '\'' => out.push_str("&apos;"),
                '\n' => out.push_str("&#10;"),
                c => out.push(c),
            }
            out
        })
}

fn case(out: &mut String, suite: &str, c: &Check) {
    let name = match &c.description {
        Some(d) if c.kind != Kind::Alert => format!("{} ({d})", c.name),
        _ => c.name.clone(),
    };
    let _ = write!(
        out,
        "    <testcase classname=\"load-demo.{suite}\" name=\"{}\" time=\"0\">",
        esc(&name)
    );
    match c.status {
        Status::Failed => {
            let _ = write!(
                out,
                "<failure message=\"{}\" type=\"{suite}\">{}</failure>",
                esc(&c.detail),
                esc(&c.detail)
            );
        }
        Status::Skipped => {
            let _ = write!(out, "<skipped message=\"{}\"/>", esc(&c.detail));
        }
        Status::Passed | Status::Warned => {
            let _ = write!(out, "<system-out>{}</system-out>", esc(&c.detail));
        }
    }
    out.push_str("</testcase>\n");
}

/// The JUnit XML of `gate` for run `uuid`.
pub fn render(uuid: &str, gate: &GateReport) -> String {
    let suites = [
        ("thresholds", &gate.thresholds),
        ("regressions", &gate.regressions),
        ("alerts", &gate.alerts),
    ];
    let count = |checks: &[Check], s: Status| checks.iter().filter(|c| c.status == s).count();
    let all: Vec<&Check> = suites.iter().flat_map(|(_, c)| c.iter()).collect();
    let total_failed = all.iter().filter(|c| c.status == Status::Failed).count();
    let total_skipped = all.iter().filter(|c| c.status == Status::Skipped).count();
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"load-demo gate {}\" tests=\"{}\" failures=\"{total_failed}\" errors=\"0\" skipped=\"{total_skipped}\">\n",
        esc(uuid),
        all.len()
    );
    for (suite, checks) in suites {
        let _ = writeln!(
            out,
            "  <testsuite name=\"{suite}\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"{}\">",
            checks.len(),
            count(checks, Status::Failed),
            count(checks, Status::Skipped)
        );
        for c in checks {
            case(&mut out, suite, c);
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(kind: Kind, name: &str, status: Status, detail: &str) -> Check {
        Check {
            kind,
            name: name.into(),
            description: None,
            status,
            actual: None,
            detail: detail.into(),
        }
    }

    #[test]
    fn every_check_is_a_test_case_and_the_xml_parses_back() {
        let gate = GateReport {
            passed: false,
            thresholds: vec![
                check(Kind::Threshold, "recovery.p95<300ms", Status::Passed, "ok"),
                check(
                    Kind::Threshold,
                    "load.error_rate<1%",
                    Status::Failed,
                    "over by \"31%\" & <more>",
                ),
            ],
            regressions: vec![],
            alerts: vec![check(
                Kind::Alert,
                "up == 0",
                Status::Skipped,
                "no prometheus",
            )],
            ..GateReport::default()
        };
        let xml = render("run-1", &gate);
        let doc = roxmltree::Document::parse(&xml).unwrap();
        let root = doc.root_element();
        assert_eq!(root.attribute("tests"), Some("3"));
        assert_eq!(root.attribute("failures"), Some("1"));
        let cases: Vec<_> = root
            .descendants()
            .filter(|n| n.has_tag_name("testcase"))
            .collect();
        assert_eq!(cases.len(), 3);
        let failed = cases
            .iter()
            .find(|c| c.attribute("name") == Some("load.error_rate<1%"))
            .unwrap();
        let failure = failed
            .children()
            .find(|n| n.has_tag_name("failure"))
            .unwrap();
        assert_eq!(
            failure.attribute("message"),
            Some("over by \"31%\" & <more>")
        );
        assert!(cases[2].children().any(|n| n.has_tag_name("skipped")));
    }
}
