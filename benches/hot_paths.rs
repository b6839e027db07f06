//! Criterion benchmarks of the per-flow hot paths of `benches/flow.yaml`: parsing the ~20 KB
//! customer search response, the filter that keeps one customer out of 50, and rendering the
//! availability request body. Run with `cargo bench --bench hot_paths`.

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
    serde_json::to_vec(&json!({"customers": customers, "total": 50})).expect("JSON")
}

fn hot_paths(c: &mut Criterion) {
    let plan = recipe::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/flow.yaml")).expect("benches/flow.yaml loads");
    let bytes = search_response();
    let headers = BTreeMap::from([("content-type".to_owned(), "application/json".to_owned())]);
    c.bench_function("parse the 20 KB search response", |b| b.iter(|| ResponseData::from_bytes(200, headers.clone(), black_box(&bytes))));
    c.bench_function("parse the 20 KB search response with serde_json::from_slice (baseline)", |b| {
        b.iter(|| serde_json::from_slice::<Json>(black_box(&bytes)).expect("JSON"));
    });

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
