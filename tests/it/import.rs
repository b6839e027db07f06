//! `recipe import curl`: every file of `tests/data/curl/` is a case (whole-command snapshots;
//! `err_*` cases must fail), and the myKaarma walk-through is checked field by field.

use std::path::Path;
use std::process::Command;

use recipe::hooks::Action;

use crate::support::root;

/// Runs the binary in the repository root: the exit code, stdout and stderr.
fn recipe(args: &[&str]) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_recipe")).args(args).current_dir(root()).output().expect("the binary runs");
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    (output.status.code().unwrap_or(-1), text(&output.stdout), text(&output.stderr))
}

#[test]
fn curl_cases() {
    insta::glob!("../data/curl", "*.txt", |path| {
        let relative = path.strip_prefix(root()).unwrap().to_string_lossy().replace('\\', "/");
        let (code, stdout, stderr) = recipe(&["import", "curl", &relative]);
        let name = path.file_name().unwrap().to_string_lossy();
        if name.starts_with("err_") {
            assert_eq!(code, 2, "{name} must fail with a usage error:\n{stderr}");
        } else {
            assert_eq!(code, 0, "{name}:\n{stderr}");
            if let Err(report) = recipe::load_str(&name, &stdout) {
                panic!("the recipe imported from {name} does not pass `recipe check`:\n{report}\n{stdout}");
            }
        }
        insta::assert_snapshot!(format!("exit: {code}\n--- stdout\n{stdout}--- stderr\n{stderr}"));
    });
}

#[test]
fn literal_credentials_are_never_copied_wherever_they_are() {
    let (code, stdout, stderr) = recipe(&["import", "curl", "tests/data/curl/literal_credentials.txt"]);
    assert_eq!(code, 0, "{stderr}");
    // The user name of basic credentials is kept; the password never.
    assert!(stdout.contains("basic: { username: user2, password: \"{{ env.BASIC_AUTH_PASSWORD }}\" }"), "{stdout}");
    for literal in ["UrlUserinfoPw66", "AKIALITERALKEY123", "LiteralClientSecret99", "JsonLiteralPw77", "UrlencTok55"] {
        assert!(!stdout.contains(literal), "`{literal}` was copied:\n{stdout}");
    }
    assert!(stdout.contains("author: Jane") && stdout.contains("grant_type=client_credentials"), "plain fields stay:\n{stdout}");
}

#[test]
fn the_walkthrough_becomes_one_request_step_per_curl_command() {
    let text = std::fs::read_to_string(root().join("tests/data/curl/walkthrough.txt")).unwrap();
    let commands = text.lines().filter(|line| line.trim_start().starts_with("curl ")).count();
    assert_eq!(commands, 6);
    let imported = recipe::hooks::import_curl(&text, "walkthrough", "walkthrough.txt").unwrap();
    let plan = recipe::load_str("walkthrough.yaml", &imported.yaml).unwrap_or_else(|report| panic!("{report}\n{}", imported.yaml));
    let recipe = plan.recipe();
    assert_eq!(recipe.steps.len(), commands);

    let requests: Vec<(&str, &str, &str)> = recipe
        .steps
        .iter()
        .map(|step| match &step.action {
            Action::Request(request) => (step.id.text.as_str(), request.method.as_str(), request.url.text.as_str()),
            other => panic!("step `{}` is a {} step", step.id.text, other.keyword()),
        })
        .collect();
    assert_eq!(
        requests,
        vec![
            ("list", "GET", "/customer/v2/department/{{ inputs.dept_uuid }}/customer/list"),
            ("opcodes", "POST", "/appointment/v2/department/{{ inputs.dept_uuid }}/fetch/opcodes"),
            ("eligible_advisor_list", "GET", "/appointment/v2/dealer/{{ inputs.dealer_uuid }}/eligibleAdvisor/list"),
            ("transport_option_list", "GET", "/appointment/v2/department/{{ inputs.dept_uuid }}/transportOption/list"),
            ("availability", "POST", "/appointment/v2/department/{{ inputs.dealerDepartmentUuid }}/availability"),
            ("draft_appointment", "POST", "/appointment/v2/dealer/{{ inputs.dealer_uuid }}/draftAppointment"),
        ]
    );

    let inputs: Vec<&str> = recipe.inputs.iter().map(|input| input.name.text.as_str()).collect();
    assert_eq!(inputs, ["dept_uuid", "test_vin", "dealer_uuid", "dealerDepartmentUuid", "test_vin_customer_uuid", "test_vin_vehicle_uuid"]);
    assert!(recipe.inputs.iter().all(|input| input.is_required() && input.description.is_some()));

    let secrets: Vec<&str> = recipe.env.iter().filter(|var| var.secret).map(|var| var.name.text.as_str()).collect();
    assert_eq!(secrets, ["BASIC_AUTH_TOKEN"]);
    let base = recipe.env.iter().find(|var| var.name.text == "MYKAARMA_BASE_URL").expect("a base URL variable");
    assert_eq!((base.default.as_deref(), base.secret), (Some("https://api.mykaarma.com"), false));
    assert_eq!(recipe.http.base_url.as_ref().map(|url| url.text.as_str()), Some("{{ env.MYKAARMA_BASE_URL }}"));

    // The credential is a secret variable, with the scheme the vendor wrote.
    let request = |index: usize| match &recipe.steps[index].action {
        Action::Request(request) => request,
        _ => unreachable!(),
    };
    let header = |index: usize, name: &str| {
        request(index).headers.iter().find(|(header, _)| header.text == name).map(|(_, value)| value.text.clone())
    };
    assert_eq!(header(0, "Authorization").as_deref(), Some("{{ env.BASIC_AUTH_TOKEN }}"));
    assert_eq!(header(4, "Authorization").as_deref(), Some("Basic {{ env.BASIC_AUTH_TOKEN }}"));
    assert!(!imported.yaml.contains("{{basic_auth_token}}"));

    // The query string is a `query:` map; JSON data is a `json:` body.
    let query: Vec<&str> = request(0).query.iter().map(|(name, _)| name.text.as_str()).collect();
    assert_eq!(query, ["searchTerm", "searchPreference", "maxResults"]);
    assert!(request(1).json.is_some() && request(5).json.is_some());

    // The availability example's `"name": ""string""` is not JSON: a raw body, with the reason.
    assert!(request(4).json.is_none());
    assert!(request(4).body.as_ref().is_some_and(|body| body.text.contains(r#""name": ""string"""#)));
    assert!(imported.yaml.contains("# The curl data is not valid JSON (expected `,` or `}` at line 6 column 11)"), "{}", imported.yaml);
    assert_eq!(imported.warnings.len(), 1, "{:?}", imported.warnings);
}

#[test]
fn stdin_and_output_files() {
    let folder = std::env::temp_dir().join(format!("recipe-import-{}", std::process::id()));
    let output = folder.join("nested/imported.yaml");
    let (code, stdout, stderr) = crate::support::piped(
        &["import", "curl", "-", "-o", output.to_str().unwrap(), "--name", "from-stdin"],
        "curl https://api.example.com/v1/ping\n",
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.is_empty());
    let written = std::fs::read_to_string(&output).unwrap();
    assert!(written.contains("name: from-stdin\n") && written.contains("  - id: ping\n"), "{written}");
    let (code, stdout, _) = recipe(&["check", output.to_str().unwrap()]);
    assert_eq!(code, 0, "{stdout}");
    let _ = std::fs::remove_dir_all(Path::new(&folder));
}

/// Pieces of curl text, valid and broken, for the property test.
const FRAGMENTS: [&str; 40] = [
    "curl ",
    "\ncurl ",
    "$ curl -sSL ",
    "-H ",
    "--header ",
    "'",
    "\"",
    " \\\n",
    "\n",
    "\n--data ",
    "{{x}}",
    "{{ dealer-uuid }}",
    "{{1st}}",
    "{{$guid}}",
    "$TOKEN",
    "${API_KEY}",
    "https://api.example.com/v1/{id}/items?q=1&r=",
    "http://127.0.0.1:8080/",
    "{{baseUrl}}/users",
    "-d ",
    "--json ",
    "'{\"a\": {{n}}, \"b\": [1, \"{{ y }}\"]}'",
    "'{\"broken\": \"\"x\"\"}'",
    "-X PATCH ",
    "-XOPTIONS ",
    "'Authorization: Bearer sk_live_1'",
    "'X-Api-Key: {{api_key}}'",
    "'Cookie: a=b'",
    "{%",
    "{# #}",
    "}}",
    " # comment",
    " | jq .",
    "--data-urlencode 'q=a b' -G ",
    "-u user:pass ",
    "-d @body.json ",
    "-m 1.5 ",
    "é",
    "\t",
    "1. {{x}} - the x\n",
];

#[test]
fn any_text_imports_to_a_checked_recipe_or_an_error() {
    use proptest::collection::vec;
    use proptest::sample::select;
    use proptest::test_runner::{Config, RngSeed, TestCaseError, TestRunner};
    let config = Config { cases: 600, failure_persistence: None, rng_seed: RngSeed::Fixed(0x6375_726c), ..Config::default() };
    let mut runner = TestRunner::new(config);
    let result = runner.run(&vec(select(&FRAGMENTS[..]), 1..30), |parts| {
        let text = format!("curl https://api.example.com/{}", parts.concat());
        if let Ok(imported) = recipe::hooks::import_curl(&text, "fuzz", "fuzz.txt")
            && let Err(report) = recipe::load_str("fuzz.yaml", &imported.yaml)
        {
            return Err(TestCaseError::fail(format!("{report}\n--- text\n{text}\n--- recipe\n{}", imported.yaml)));
        }
        Ok(())
    });
    if let Err(error) = result {
        panic!("{error}");
    }
}
