//! Criterion benchmarks of the per-flow hot paths of `benches/flow.yaml`: parsing the ~20 KB
//! customer search response whole and into what the flow reads of it (`src/reads.rs`), the
//! filter that keeps one customer out of 50, rendering the availability request body, a row's
//! four bodies parsed and selected from (whole, projected, and filtered while parsing), and loading and checking the
//! draft recipe. Run with `cargo bench --bench hot_paths`.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use recipe::ResponseData;
use recipe::hooks::Action;
use serde_json::{Value as Json, json};

/// A search response shaped like `../shared/bench/server/gen_data.py` writes it: 50 customers,
/// one of them named Target with VIN123.
fn search_response() -> Vec<u8> {
    let customers: Vec<Json> = (0..50)
        .map(|i| {
            let (last, vin) = match i {
                37 => ("Target".to_owned(), "VIN123".to_owned()),
                11 => ("Target".to_owned(), "VIN999".to_owned()),
                _ => (format!("Last{}", i % 10), format!("WVW{i:011}0")),
            };
            let vehicles: Vec<Json> = (0..=usize::from(i % 3 == 0))
                .map(|j| json!({"uuid": format!("veh-{i}-{j}"), "vin": if j == 0 { vin.clone() } else { format!("WVW{i:011}1") }, "make": "Toyota", "model": "Corolla", "year": 2010 + i % 14}))
                .collect();
            json!({
                "uuid": format!("cust-{i}"), "firstName": "Ana", "lastName": last, "email": format!("customer{i}@example.test"),
                "phone": format!("+1-555-01{i:02}"), "address": {"street": format!("{} Main Street", 100 + i), "city": "Springfield", "zip": format!("{}", 10000 + i * 7)},
                "createdAt": "2024-01-01T10:00:00Z", "vehicles": vehicles
            })
        })
        .collect();
    serde_json::to_vec(&json!({"requestId": "0f3c2a", "customers": customers, "total": 50})).expect("JSON")
}

/// The other three answers of a row, shaped like the mock's: 10 advisors, 20 slots, a draft.
fn other_responses() -> [Vec<u8>; 3] {
    let advisors: Vec<Json> =
        (0..10).map(|i| json!({"uuid": format!("adv-{i}"), "name": format!("Advisor {i}"), "active": true, "shop": "main"})).collect();
    let slots: Vec<Json> = (0..20)
        .map(|i| json!({"start": format!("2030-01-15T{:02}:{:02}:00Z", 8 + i / 4, i % 4 * 15), "end": "later", "advisorUuid": "adv-0"}))
        .collect();
    let draft = json!({"requestId": "0f3c2a", "draftUuid": "draft-1", "schedulerLink": "http://127.0.0.1:18080/scheduler/draft-1"});
    [json!({"advisors": advisors}), json!({"requestId": "0f3c2a", "slots": slots}), draft]
        .map(|value| serde_json::to_vec(&value).expect("JSON"))
}

fn hot_paths(c: &mut Criterion) {
    let plan = recipe::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/flow.yaml")).expect("benches/flow.yaml loads");
    let bytes = search_response();
    let headers = BTreeMap::from([("content-type".to_owned(), "application/json".to_owned())]);
    c.bench_function("parse the 20 KB search response", |b| b.iter(|| ResponseData::from_bytes(200, headers.clone(), black_box(&bytes))));
    c.bench_function("parse the 20 KB search response with serde_json::from_slice (baseline)", |b| {
        b.iter(|| serde_json::from_slice::<Json>(black_box(&bytes)).expect("JSON"));
    });
    c.bench_function("parse the 20 KB search response into what the flow reads", |b| {
        b.iter(|| recipe::hooks::parse_as_read(&plan, "search", black_box(&bytes)).expect("JSON"));
    });
    c.bench_function("parse the 20 KB search response into what the flow reads, building only the customer it keeps", |b| {
        b.iter(|| recipe::hooks::parse_as_row(&plan, "search", black_box(&bytes)).expect("JSON"));
    });
    c.bench_function("read the 20 KB search response with serde_json, keeping nothing (the floor)", |b| {
        b.iter(|| serde_json::from_slice::<serde::de::IgnoredAny>(black_box(&bytes)).expect("JSON"));
    });

    // A row's parsing and selecting, without the network: the four answers, the filter and the pick.
    let [advisors, slots, draft] = other_responses();
    let Action::Pick(pick) = &plan.recipe().steps[3].action else { panic!("step 4 of flow.yaml is the advisor pick") };
    let masker = recipe::hooks::Masker::default();
    let empty = recipe::hooks::context(&json!({}));
    let Action::Filter(customer) = &plan.recipe().steps[1].action else { panic!("step 2 of flow.yaml is the customer filter") };
    let row = |parse: &dyn Fn(&str, &[u8]) -> Json| {
        let search = parse("search", &bytes);
        let chosen = recipe::hooks::filter(&plan.engine, &masker, customer, &search, &empty).expect("one customer");
        let advisors = parse("advisors", &advisors);
        let first = recipe::hooks::pick(&plan.engine, &masker, pick, &advisors, None, &empty).expect("an advisor");
        (chosen, first, parse("availability", &slots), parse("draft", &draft))
    };
    c.bench_function("a row's four answers parsed whole, the filter and the pick", |b| {
        b.iter(|| row(&|_, bytes| recipe::hooks::parse_whole(black_box(bytes)).expect("JSON")));
    });
    c.bench_function("a row's four answers parsed into what the flow reads, the filter and the pick", |b| {
        b.iter(|| row(&|step, bytes| recipe::hooks::parse_as_read(&plan, step, black_box(bytes)).expect("JSON")));
    });
    c.bench_function("a row's four answers parsed as a batch row parses them (the sieve too), the filter and the pick", |b| {
        b.iter(|| row(&|step, bytes| recipe::hooks::parse_as_row(&plan, step, black_box(bytes)).expect("JSON")));
    });
    let draft_recipe = Path::new(env!("CARGO_MANIFEST_DIR")).join("recipes/draft.yaml");
    c.bench_function("load and check recipes/draft.yaml", |b| b.iter(|| recipe::load(black_box(&draft_recipe)).expect("draft.yaml loads")));

    let body: Json = serde_json::from_slice(&bytes).expect("JSON");
    let context = recipe::hooks::context(&json!({}));
    let Action::Filter(filter) = &plan.recipe().steps[1].action else { panic!("step 2 of flow.yaml is the customer filter") };
    c.bench_function("filter one customer of 50", |b| {
        b.iter(|| {
            recipe::hooks::filter(&plan.engine, &recipe::hooks::Masker::default(), filter, black_box(&body), &context)
                .expect("one customer")
        });
    });

    let Action::Request(request) = &plan.recipe().steps[4].action else { panic!("step 5 of flow.yaml is the availability request") };
    let template = request.json.as_ref().expect("a JSON body");
    let vars = recipe::hooks::context(&json!({"vars": {"customer_uuid": "cust-37", "vehicle_uuid": "veh-37-0", "advisor_uuid": "adv-0"}}));
    c.bench_function("render the availability body", |b| b.iter(|| plan.engine.render_tree(template, black_box(&vars)).expect("renders")));
}

criterion_group!(benches, hot_paths);
criterion_main!(benches);
