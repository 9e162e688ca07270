//! Gemini's request JSON as Google's reader takes it, brought to the one shape the mock reads:
//! protobuf JSON accepts a field under its lowerCamelCase name or its proto name
//! (`system_instruction`), and Google's reader takes one object where a list is expected
//! (`"parts": {"text": …}`, as Google's own curl examples write it). Free-form values — a
//! function call's `args`, a function's `response`, schemas — keep their keys as written.

use serde_json::{Map, Value};

/// Fields whose values are the caller's own structures, not messages of the API.
const FREE_FORM: [&str; 6] = [
    "args",
    "response",
    "parameters",
    "parametersJsonSchema",
    "responseSchema",
    "responseJsonSchema",
];

/// Fields that hold lists.
const LISTS: [&str; 6] = [
    "contents",
    "parts",
    "tools",
    "functionDeclarations",
    "safetySettings",
    "requests",
];

/// `body` with every API field under its lowerCamelCase name and every list field a list.
pub fn canonical(body: Value) -> Value {
    match body {
        Value::Object(members) => {
            let mut out = Map::with_capacity(members.len());
            for (k, v) in members {
                let k = camel(&k);
                let v = if FREE_FORM.contains(&k.as_str()) {
                    v
                } else {
                    canonical(v)
                };
                let v = match v {
                    Value::Object(_) if LISTS.contains(&k.as_str()) => Value::Array(vec![v]),
                    v => v,
                };
                out.insert(k, v);
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.into_iter().map(canonical).collect()),
        v => v,
    }
}

/// `system_instruction` → `systemInstruction`; a name without underscores as it is.
fn camel(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = false;
    for c in name.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::canonical;

    #[test]
    fn both_spellings_and_single_objects_read_as_the_sdk_writes_them() {
        let written = json!({
            "system_instruction": {"parts": {"text": "be brief"}},
            "contents": {"role": "user", "parts": [{"function_response": {"name": "f", "response": {"user_id": 1}}}]},
            "generation_config": {"max_output_tokens": 5}
        });
        let want = json!({
            "systemInstruction": {"parts": [{"text": "be brief"}]},
            "contents": [{"role": "user", "parts": [{"functionResponse": {"name": "f", "response": {"user_id": 1}}}]}],
            "generationConfig": {"maxOutputTokens": 5}
        });
        assert_eq!(canonical(written), want);
    }
}
