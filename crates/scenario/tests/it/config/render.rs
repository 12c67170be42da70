//! Rendering: the table, JSON and TOML outputs, the TOML round trip, the committed
//! scenario files, and `.env.example` kept equal to the key table.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use common::HumanDuration;
use scenario::{
    ConfigInputs, LoadgenKind, OutputFormat, Scenario, ServiceType, Source, dotenv_example,
    key_names, scenario_from_toml, scenario_to_toml,
};

use super::{Files, env, ok, sets};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn the_default_scenario_round_trips_through_toml() {
    let text = scenario_to_toml(&Scenario::default());
    assert_eq!(scenario_from_toml(&text), Ok(Scenario::default()));
    for key in key_names() {
        assert!(
            text.contains(&format!("\n{key} = ")) || text.starts_with(&format!("{key} = ")),
            "{key} missing:\n{text}"
        );
    }
}

#[test]
fn a_scenario_with_every_kind_of_value_round_trips() {
    let mut s = Scenario {
        uuid: "round-trip".into(),
        ..Scenario::default()
    };
    s.load.max_rps = None;
    s.load.base_rps = 0.1;
    s.load.ramp_factor = 1.35;
    s.load.ramp_interval = HumanDuration::from_millis(1500);
    s.backend_capacity.service_time = HumanDuration::from_millis(3);
    s.frontend_service_type = ServiceType::ClusterIP;
    s.loadgen_kind = LoadgenKind::Job;
    s.enable_load = false;
    s.actions = "book_ticket=5,give_feedback".into();
    s.backend_scale_replicas = 7;
    let text = scenario_to_toml(&s);
    assert!(text.contains("load_max_rps = \"none\"\n"), "{text}");
    assert!(
        text.contains("load_ramp_interval = \"1s500ms\"\n"),
        "{text}"
    );
    assert_eq!(scenario_from_toml(&text), Ok(s));
}

#[test]
fn scenario_from_toml_reports_errors_like_resolve() {
    let e = scenario_from_toml("load_base_rps = -1\nbackend_replicas = 0\n").unwrap_err();
    assert_eq!(e.len(), 2, "{e}");
    assert!(
        e.to_string().contains("<toml>:1: load_base_rps = `-1`"),
        "{e}"
    );
}

#[test]
fn the_table_shows_key_value_and_source_of_every_key() {
    let files = Files::new();
    let path = files.write("s.toml", "uuid = \"t\"\nload_base_rps = 20\n");
    let r = ok(&ConfigInputs {
        scenario_file: Some(path.clone()),
        env: env(&[("LOAD_PAUSE", "1m30s")]),
        sets: sets(&["load_max_rps=none"]),
        ..ConfigInputs::default()
    });
    let table = r.render(OutputFormat::Table);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), key_names().len() + 1, "{table}");
    let columns = |line: &str| {
        line.split_whitespace()
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    assert_eq!(columns(lines[0]), ["KEY", "VALUE", "SOURCE"]);
    let row = |key: &str| {
        lines
            .iter()
            .map(|l| columns(l))
            .find(|c| c[0] == key)
            .unwrap_or_else(|| panic!("no row for {key}:\n{table}"))
    };
    assert_eq!(
        row("load_base_rps"),
        ["load_base_rps", "20", &format!("{}:2", path.display())]
    );
    assert_eq!(
        row("load_pause"),
        ["load_pause", "1m30s", "env", "LOAD_PAUSE"]
    );
    assert_eq!(row("load_max_rps"), ["load_max_rps", "none", "--set"]);
    assert_eq!(row("app_name"), ["app_name", "movie-night", "default"]);
    // The value column starts at the same place on every line.
    let at = lines[0].find("VALUE").unwrap_or(0);
    assert!(
        lines
            .iter()
            .skip(1)
            .all(|l| l[..at].ends_with("  ") && !l[at..].starts_with(' ')),
        "{table}"
    );
}

#[test]
fn json_has_typed_values_and_sources() {
    let r = ok(&ConfigInputs {
        env: env(&[("LOAD_BASE_RPS", "12.5")]),
        sets: sets(&["load_max_rps=none", "enable_load=false"]),
        ..ConfigInputs::default()
    });
    let doc: serde_json::Value =
        serde_json::from_str(&r.render(OutputFormat::Json)).expect("valid JSON");
    assert_eq!(doc["values"]["load_base_rps"], 12.5);
    assert_eq!(doc["values"]["load_max_rps"], serde_json::Value::Null);
    assert_eq!(doc["values"]["enable_load"], false);
    assert_eq!(doc["values"]["backend_replicas"], 1);
    assert_eq!(doc["values"]["baseline_pause"], "20s");
    assert_eq!(doc["sources"]["load_base_rps"], "env LOAD_BASE_RPS");
    assert_eq!(doc["sources"]["enable_load"], "--set");
    assert_eq!(doc["sources"]["uuid"], "default");
    assert_eq!(
        doc["values"].as_object().map(|m| m.len()),
        Some(key_names().len())
    );
}

#[test]
fn toml_output_is_a_scenario_file_of_the_effective_values() {
    let r = ok(&ConfigInputs {
        sets: sets(&["uuid=from-flag", "load_ramp_factor=1.5"]),
        ..ConfigInputs::default()
    });
    let text = r.render(OutputFormat::Toml);
    assert_eq!(scenario_from_toml(&text), Ok(r.scenario.clone()));
    assert!(text.contains("uuid = \"from-flag\"\n"), "{text}");
}

#[test]
fn output_formats_parse_by_name() {
    for (text, format) in [
        ("table", OutputFormat::Table),
        ("json", OutputFormat::Json),
        ("TOML", OutputFormat::Toml),
    ] {
        assert_eq!(OutputFormat::from_str(text), Ok(format));
    }
    let e = OutputFormat::from_str("yaml").unwrap_err();
    assert_eq!(
        e.to_string(),
        "unknown format `yaml`: expected table, json or toml"
    );
    assert_eq!(OutputFormat::default(), OutputFormat::Table);
}

#[test]
fn every_committed_scenario_file_is_valid() {
    let dir = repo_root().join("scenarios");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).expect("the scenarios directory") {
        let path = entry.expect("a directory entry").path();
        if path.extension().is_some_and(|e| e == "toml") {
            let r = ok(&ConfigInputs {
                scenario_file: Some(path.clone()),
                ..ConfigInputs::default()
            });
            assert!(
                r.sources.values().any(|s| matches!(s, Source::File { .. })),
                "{} sets no key",
                path.display()
            );
            checked += 1;
        }
    }
    assert!(checked > 0, "no scenario files in {}", dir.display());
}

#[test]
fn dotenv_example_is_up_to_date() {
    let path = repo_root().join(".env.example");
    let expected = dotenv_example();
    if std::env::var_os("UPDATE_DOTENV_EXAMPLE").is_some() {
        std::fs::write(&path, &expected).expect("write .env.example");
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == expected,
        ".env.example is out of date: run `UPDATE_DOTENV_EXAMPLE=1 cargo nextest run -p scenario dotenv_example`"
    );
}

#[test]
fn dotenv_example_documents_true_defaults() {
    // Uncommenting every variable of the example must change nothing but the sources.
    let uncommented: String = dotenv_example()
        .lines()
        .filter_map(|l| l.strip_prefix("# "))
        .filter(|l| {
            l.split_once('=').is_some_and(|(k, _)| {
                !k.is_empty()
                    && k.chars()
                        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
            })
        })
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(
        uncommented.lines().count(),
        key_names().len(),
        "{uncommented}"
    );
    let files = Files::new();
    let dotenv = files.write(".env", &uncommented);
    let r = ok(&ConfigInputs {
        dotenv_file: Some(dotenv),
        ..ConfigInputs::default()
    });
    assert_eq!(r.scenario, Scenario::default());
    assert!(r.sources.values().all(|s| s.to_string().contains(".env:")));
}

#[test]
fn the_readme_lists_every_key_with_its_default() {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap_or_default();
    let r = ok(&ConfigInputs::default());
    for key in key_names() {
        let value = r.value(key).unwrap_or_default();
        let row = format!("| `{key}` | `{value}` | ");
        assert!(
            readme.contains(&row),
            "README.md's Configuration table lacks `{row}`"
        );
    }
}

#[test]
fn every_toml_number_spelling_reads() {
    let s = scenario_from_toml(
        "backend_queue = 1_000\nbackend_workers = 0x10\nload_base_rps = 1_000.5\nload_max_rps = 2e3\nload_ramp_factor = +1\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.backend_capacity.queue, 1000);
    assert_eq!(s.backend_capacity.workers, 16);
    assert_eq!(s.load.base_rps, 1000.5);
    assert_eq!(s.load.max_rps, Some(2000.0));
    assert_eq!(s.load.ramp_factor, 1.0);
}
