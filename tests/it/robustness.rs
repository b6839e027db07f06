//! No input file, however malformed, makes `recipe` panic: every prefix of the shipped recipes
//! and a set of single-character corruptions must load or fail with diagnostics.

#[test]
fn truncated_and_corrupted_recipes_never_panic() {
    let text = std::fs::read_to_string(crate::support::root().join("recipes/draft.yaml")).unwrap();
    let mut checked = 0;
    for (index, _) in text.char_indices().step_by(7) {
        let _ = recipe::check::load_str("prefix.yaml", &text[..index]);
        checked += 1;
    }
    let bytes: Vec<char> = text.chars().collect();
    for (position, replacement) in (0..bytes.len())
        .step_by(13)
        .zip([':', '{', '[', '"', '\'', '-', '\t', '&', '*', '|', '}', '$', 'é', '€', '\u{1F600}', '%'].iter().cycle())
    {
        let mut corrupted = bytes.clone();
        corrupted[position] = *replacement;
        let corrupted: String = corrupted.into_iter().collect();
        if let Err(report) = recipe::check::load_str("corrupt.yaml", &corrupted) {
            // Every diagnostic renders (points at a real line or none).
            let _ = report.to_string();
        }
        checked += 1;
    }
    assert!(checked > 500);
}
