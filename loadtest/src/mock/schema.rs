//! Structured output in the mock: when a request asks for JSON (OpenAI `response_format`,
//! Gemini `responseMimeType: application/json`, Anthropic a forced tool), the answer is JSON
//! that follows the schema — as the real providers' constrained decoding guarantees — built
//! deterministically from it: every declared property, strings carrying the echo text, the first
//! of an `enum`, `const` as given, numbers at their minimum, one item per array.

use serde_json::{json, Map, Value};

/// A value that validates against `schema` (JSON Schema as the providers take it). Without a
/// schema, `{"echo": text}`.
pub fn instance(schema: Option<&Value>, text: &str) -> Value {
    match schema {
        Some(s) => value(s, text, 0),
        None => json!({ "echo": text }),
    }
}

fn value(s: &Value, text: &str, depth: usize) -> Value {
    if depth > 16 {
        return Value::Null;
    }
    if let Some(c) = s.get("const") {
        return c.clone();
    }
    if let Some(first) = s
        .get("enum")
        .and_then(Value::as_array)
        .and_then(|e| e.first())
    {
        return first.clone();
    }
    for key in ["anyOf", "oneOf", "allOf"] {
        if let Some(first) = s.get(key).and_then(Value::as_array).and_then(|e| e.first()) {
            return value(first, text, depth + 1);
        }
    }
    let kind = match s.get("type") {
        Some(Value::String(t)) => t.as_str(),
        // A list of types: the first that is not null.
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null")
            .unwrap_or("null"),
        _ if s.get("properties").is_some() => "object",
        _ => "string",
    };
    match kind {
        "object" => {
            let mut out = Map::new();
            if let Some(props) = s.get("properties").and_then(Value::as_object) {
                for (name, p) in props {
                    out.insert(name.clone(), value(p, text, depth + 1));
                }
            }
            Value::Object(out)
        }
        "array" => {
            let item = s
                .get("items")
                .map_or(Value::Null, |i| value(i, text, depth + 1));
            let n = s
                .get("minItems")
                .and_then(Value::as_u64)
                .unwrap_or(1)
                .max(1);
            Value::Array(vec![item; n as usize])
        }
        "integer" => json!(s.get("minimum").and_then(Value::as_i64).unwrap_or(0)),
        "number" => json!(s.get("minimum").and_then(Value::as_f64).unwrap_or(0.0)),
        "boolean" => json!(true),
        "null" => Value::Null,
        _ => json!(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instances_follow_the_schema() {
        let schema = json!({"type": "object", "properties": {
            "city": {"type": "string"}, "temp": {"type": "number", "minimum": -50},
            "unit": {"enum": ["C", "F"]}, "tags": {"type": "array", "items": {"type": "integer"}},
            "note": {"type": ["null", "string"]}}, "required": ["city"], "additionalProperties": false});
        assert_eq!(
            instance(Some(&schema), "hi"),
            json!({"city": "hi", "temp": -50.0, "unit": "C", "tags": [0], "note": "hi"})
        );
        assert_eq!(instance(None, "x"), json!({"echo": "x"}));
    }
}
