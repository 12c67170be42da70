//! `[[load]]`: several load plans in one scenario, each checked with the flat keys' rules and
//! named in every error; a scenario without them is one plan of the flat keys.

use scenario::{
    ConfigInputs, ErrorKind, LoadMode, MAIN_PLAN, OutputFormat, Scenario, Source,
    scenario_from_toml, scenario_to_toml,
};

use super::{Files, env, error_about, errors, file_inputs, ok};

const TWO: &str = r#"uuid = "two"

[[load]]
name = "checkout"
stages = "2s:20,2s:20"
actions = ["book_ticket"]
arrival = "poisson"
seed = 7

[[load]]
name = "feedback"
base_rps = 5
ramp_factor = 1
run_duration = "4s"
actions = "give_feedback=2,cancel_ticket"
mode = "async"
"#;

#[test]
fn load_entries_are_plans_with_their_own_shape_actions_and_mode() {
    let files = Files::new();
    let (inputs, path) = file_inputs(&files, TWO);
    let r = ok(&inputs);
    let plans = r.scenario.load_plans();
    let names: Vec<&str> = plans.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["checkout", "feedback"]);
    let (checkout, feedback) = (&plans[0], &plans[1]);
    assert_eq!(checkout.actions, "book_ticket");
    assert_eq!(checkout.load.stages.as_deref(), Some("2s:20,2s:20"));
    assert_eq!(checkout.load.seed, 7);
    assert_eq!(feedback.actions, "give_feedback=2,cancel_ticket");
    assert_eq!(feedback.load.base_rps, 5.0);
    assert_eq!(feedback.load.mode, LoadMode::Async);
    // What an entry leaves out is the built-in default, not another plan's value.
    assert_eq!(feedback.load.seed, Scenario::default().load.seed);
    assert_eq!(feedback.load.stages, None);
    assert_eq!(
        r.scenario.load_duration(),
        std::time::Duration::from_secs(4)
    );
    // Both open-loop plans add up to the planned load.
    let planned = r.scenario.planned_before(4_000_000_000);
    let each: f64 = plans
        .iter()
        .map(|p| p.load.curve().count_before(4_000_000_000))
        .sum();
    assert!(planned > 0.0 && (planned - each).abs() < 1e-9, "{planned}");
    assert_eq!(r.sources["load[1]"].to_string(), format!("{path}:10"));
    let table = r.render(OutputFormat::Table);
    assert!(
        table.contains("load[0]") && table.contains("checkout: stages 2s:20,2s:20"),
        "{table}"
    );
    assert!(
        table.contains("(unused: the [[load]] plans give the load)"),
        "{table}"
    );
    let json = r.render(OutputFormat::Json);
    assert!(json.contains("\"load[1]\""), "{json}");
}

#[test]
fn a_scenario_without_load_entries_is_one_plan_named_main_of_the_flat_keys() {
    let inputs = ConfigInputs {
        env: env(&[("LOAD_STAGES", "3s:10"), ("ACTIONS", "give_feedback")]),
        ..ConfigInputs::default()
    };
    let r = ok(&inputs);
    assert!(r.scenario.plans.is_empty());
    let plans = r.scenario.load_plans();
    assert_eq!(plans.len(), 1);
    assert_eq!(plans[0].name, MAIN_PLAN);
    assert_eq!(plans[0].load, r.scenario.load);
    assert_eq!(plans[0].actions, "give_feedback");
    assert_eq!(r.scenario.loadgen_name(&plans[0]), r.scenario.loadgen.name);
    assert_eq!(r.scenario.describe_load(), r.scenario.load.describe());
}

#[test]
fn plans_round_trip_through_config_toml() {
    let files = Files::new();
    let (inputs, _) = file_inputs(&files, TWO);
    let r = ok(&inputs);
    let text = scenario_to_toml(&r.scenario);
    assert!(text.contains("[[load]]\nname = \"checkout\"\n"), "{text}");
    assert!(text.contains("# load_base_rps = "), "{text}");
    assert_eq!(scenario_from_toml(&text), Ok(r.scenario));
}

#[test]
fn two_plans_with_one_name_are_refused() {
    let files = Files::new();
    let (inputs, path) = file_inputs(
        &files,
        "[[load]]\nname = \"a\"\n\n[[load]]\nname = \"b\"\n\n[[load]]\nname = \"a\"\nvus = 2\n",
    );
    let e = errors(&inputs);
    let dup = error_about(
        &e,
        ErrorKind::Conflict,
        "load[2].name",
        "\"a\"",
        &format!("{path}:8"),
    );
    assert!(dup.problem.contains("load[0] has the same name"), "{dup}");
    assert_eq!(e.len(), 1, "{e}");
}

#[test]
fn shapes_mixed_in_one_plan_are_refused_naming_the_entry_and_its_fields() {
    let files = Files::new();
    let (inputs, path) = file_inputs(
        &files,
        "[[load]]\nname = \"ok\"\n\n[[load]]\nname = \"mixed\"\nbase_rps = 20\nstages = \"3s:10\"\nthink_time = \"1s\"\n",
    );
    let e = errors(&inputs);
    let mixed = error_about(
        &e,
        ErrorKind::Conflict,
        "load[1].stages",
        "3s:10",
        &format!("{path}:7"),
    );
    assert!(
        mixed.problem.contains("stages and base_rps") && !mixed.problem.contains("load_"),
        "{mixed}"
    );
    let think = error_about(
        &e,
        ErrorKind::Conflict,
        "load[1].think_time",
        "1s",
        &format!("{path}:8"),
    );
    assert!(think.fix.contains("set vus or vu_stages"), "{think}");
    assert_eq!(e.len(), 2, "{e}");
}

#[test]
fn flat_load_keys_beside_load_entries_are_refused_from_any_layer() {
    let files = Files::new();
    let (mut inputs, path) = file_inputs(
        &files,
        "load_stages = \"3s:10\"\nload_pause = \"5s\"\n\n[[load]]\nname = \"a\"\n",
    );
    inputs.env = env(&[("LOAD_SEED", "9"), ("ACTIONS", "book_ticket")]);
    let e = errors(&inputs);
    let stages = error_about(
        &e,
        ErrorKind::Conflict,
        "load_stages",
        "3s:10",
        &format!("{path}:1"),
    );
    assert!(stages.problem.contains(&format!("{path}:4")), "{stages}");
    assert!(
        stages.fix.contains("set `stages` in each [[load]]"),
        "{stages}"
    );
    error_about(&e, ErrorKind::Conflict, "load_seed", "9", "env LOAD_SEED");
    error_about(
        &e,
        ErrorKind::Conflict,
        "actions",
        "book_ticket",
        "env ACTIONS",
    );
    // The timeline's keys are not a plan's: load_pause stays.
    assert_eq!(e.len(), 3, "{e}");
}

#[test]
fn every_mistake_in_a_plan_names_the_entry_field_value_and_fix() {
    let files = Files::new();
    let (inputs, path) = file_inputs(
        &files,
        r#"[[load]]
name = "Checkout"
stage = "3s:10"

[[load]]
base_rps = -1
mode = "later"

[[load]]
name = "x"
actions = "book_tickets"
"#,
    );
    let e = errors(&inputs);
    error_about(
        &e,
        ErrorKind::InvalidName,
        "load[0].name",
        "\"Checkout\"",
        &format!("{path}:2"),
    );
    let typo = error_about(
        &e,
        ErrorKind::BadEntry,
        "load[0].stage",
        "\"3s:10\"",
        &format!("{path}:3"),
    );
    assert!(typo.fix.contains("did you mean `stages`"), "{typo}");
    error_about(
        &e,
        ErrorKind::OutOfRange,
        "load[1].base_rps",
        "-1",
        &format!("{path}:6"),
    );
    error_about(
        &e,
        ErrorKind::WrongType,
        "load[1].mode",
        "\"later\"",
        &format!("{path}:7"),
    );
    let unnamed = e.iter().find(|x| x.key == "load[1]").expect("load[1]");
    assert!(unnamed.problem.contains("no `name`"), "{unnamed}");
    let action = error_about(
        &e,
        ErrorKind::UnknownAction,
        "load[2].actions",
        "\"book_tickets\"",
        &format!("{path}:11"),
    );
    assert!(
        action.problem.contains("did you mean `book_ticket`"),
        "{action}"
    );
    assert_eq!(e.len(), 6, "{e}");
}

#[test]
fn a_plan_whose_load_generator_name_is_too_long_is_refused() {
    let files = Files::new();
    let long = "p".repeat(60);
    let (inputs, path) = file_inputs(&files, &format!("[[load]]\nname = \"{long}\"\n"));
    let e = errors(&inputs);
    let too_long = error_about(
        &e,
        ErrorKind::InvalidName,
        "load[0].name",
        &long,
        &format!("{path}:1"),
    );
    assert!(too_long.problem.contains("loadgen-pppp"), "{too_long}");
    assert!(matches!(
        e.iter().next().and_then(|x| x.origin.clone()),
        Some(Source::File { .. })
    ));
}
