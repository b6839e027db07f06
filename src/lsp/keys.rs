//! Recipe keys: which key a line is under (found from the indentation, so that it works while
//! the file does not parse), and the keys and descriptions the JSON Schema gives there. The
//! schema is [`crate::model::schema`], the one `recipe schema` prints, so completion and the
//! schema file never disagree.

use std::sync::LazyLock;

use serde_json::Value as Json;

static SCHEMA: LazyLock<Json> = LazyLock::new(crate::model::schema);

/// One step of a key path: a map key, or an item of a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Segment {
    Key(String),
    Item,
}

/// A key a map may have, and what it is for.
pub(super) struct KeyInfo {
    pub(super) name: String,
    pub(super) description: Option<String>,
}

/// The parts of a line: the column where its key (or value) starts after the indentation and
/// any `- ` markers, the column of its last `- ` marker, and its key.
struct Line<'a> {
    column: usize,
    dash: Option<usize>,
    key: Option<&'a str>,
}

fn split(line: &str) -> Option<Line<'_>> {
    let mut rest = line.trim_start_matches(' ');
    let mut dash = None;
    while let Some(after) = rest.strip_prefix('-').filter(|after| after.is_empty() || after.starts_with(' ')) {
        dash = Some(line.len() - rest.len());
        rest = after.trim_start_matches(' ');
    }
    if (rest.is_empty() && dash.is_none()) || rest.starts_with('#') {
        return None;
    }
    let column = line.len() - rest.len();
    let key = rest.split_once(':').map(|(key, _)| key.trim()).filter(|key| !key.is_empty() && !key.contains(['{', '"', '\'', ' ']));
    Some(Line { column, dash, key })
}

/// The keys the line `line` (0-based) is under, outermost first, for a key starting at
/// `column`: `steps`, an item, `request` for a line inside a step's request.
pub(super) fn path_at(lines: &[&str], line: usize, column: usize) -> Vec<Segment> {
    let mut path = Vec::new();
    let mut target = column;
    // In a list item: its list's key may be at the same column as the dash.
    let mut in_item = false;
    if let Some(current) = lines.get(line).and_then(|text| split(text))
        && let Some(dash) = current.dash
        && column >= current.column
    {
        path.push(Segment::Item);
        target = dash;
        in_item = true;
    }
    for text in lines[..line.min(lines.len())].iter().rev() {
        if target == 0 && !in_item {
            break;
        }
        let Some(parsed) = split(text) else { continue };
        let parent = parsed.column < target || (in_item && parsed.column == target && parsed.dash.is_none());
        if parsed.dash.is_some() && parsed.column == target && !in_item {
            // The first line of the item this line's map is in.
            path.push(Segment::Item);
            target = parsed.dash.unwrap_or(0);
            in_item = true;
            continue;
        }
        if !parent {
            continue;
        }
        let Some(key) = parsed.key else { break };
        path.push(Segment::Key(key.to_owned()));
        in_item = false;
        target = parsed.column;
        if let Some(dash) = parsed.dash {
            path.push(Segment::Item);
            target = dash;
            in_item = true;
        }
    }
    path.reverse();
    path
}

/// The schemas a node stands for: itself, what it refers to, and its alternatives.
fn variants(node: &Json) -> Vec<&Json> {
    let mut found = Vec::new();
    let mut stack = vec![node];
    while let Some(node) = stack.pop() {
        if found.len() > 64 {
            break;
        }
        if let Some(reference) = node.get("$ref").and_then(Json::as_str) {
            let name = reference.trim_start_matches("#/definitions/");
            if let Some(target) = SCHEMA["definitions"].get(name) {
                stack.push(target);
            }
        }
        for keyword in ["anyOf", "oneOf", "allOf"] {
            stack.extend(node.get(keyword).and_then(Json::as_array).into_iter().flatten());
        }
        found.push(node);
    }
    found
}

/// The schema at a key path.
fn schema_at(path: &[Segment]) -> Vec<&'static Json> {
    let mut nodes: Vec<&Json> = vec![&SCHEMA];
    for segment in path {
        let expanded: Vec<&Json> = nodes.iter().flat_map(|node| variants(node)).collect();
        nodes = match segment {
            Segment::Key(key) => {
                let named: Vec<&Json> = expanded.iter().filter_map(|node| node.get("properties")?.get(key)).collect();
                if named.is_empty() {
                    expanded.iter().filter_map(|node| node.get("additionalProperties").filter(|value| value.is_object())).collect()
                } else {
                    named
                }
            }
            Segment::Item => expanded.iter().filter_map(|node| node.get("items")).collect(),
        };
    }
    nodes
}

/// The keys a map at `path` may have, with their descriptions, in the schema's order.
pub(super) fn keys_at(path: &[Segment]) -> Vec<KeyInfo> {
    let mut keys: Vec<KeyInfo> = Vec::new();
    for node in schema_at(path).into_iter().flat_map(variants) {
        for (name, property) in node.get("properties").and_then(Json::as_object).into_iter().flatten() {
            if !keys.iter().any(|key| key.name == *name) {
                keys.push(KeyInfo { name: name.clone(), description: description(property) });
            }
        }
    }
    keys
}

/// What the key at the end of `path` is for.
pub(super) fn description_at(path: &[Segment]) -> Option<String> {
    schema_at(path).into_iter().find_map(description)
}

fn description(node: &Json) -> Option<String> {
    variants(node).into_iter().find_map(|node| node.get("description").and_then(Json::as_str)).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str) -> Segment {
        Segment::Key(name.to_owned())
    }

    #[test]
    fn finds_the_keys_a_line_is_under() {
        let text = "recipe: 1\nsteps:\n  - id: a\n    request:\n      method: GET\n      u\n  - id: b\n    \n";
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(path_at(&lines, 5, 6), [key("steps"), Segment::Item, key("request")]);
        assert_eq!(path_at(&lines, 7, 4), [key("steps"), Segment::Item]);
        assert_eq!(path_at(&lines, 1, 0), []);
    }

    #[test]
    fn keys_come_from_the_schema() {
        let names = |path: &[Segment]| keys_at(path).into_iter().map(|key| key.name).collect::<Vec<_>>();
        assert!(names(&[]).contains(&"steps".to_owned()));
        let step = names(&[key("steps"), Segment::Item]);
        assert!(step.contains(&"request".to_owned()) && step.contains(&"bind".to_owned()), "{step:?}");
        let request = names(&[key("steps"), Segment::Item, key("request")]);
        assert!(request.contains(&"method".to_owned()) && request.contains(&"url".to_owned()), "{request:?}");
        assert!(description_at(&[key("steps"), Segment::Item, key("when")]).unwrap().contains("boolean"));
    }
}
