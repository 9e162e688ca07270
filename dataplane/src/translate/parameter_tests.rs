//! Request parameters on their way to Anthropic and Gemini: what each provider can take of
//! OpenAI's (`n`, sampling values) and how.

use simd_json::prelude::*;
use simd_json::OwnedValue;

use super::*;

fn json(bytes: &[u8]) -> OwnedValue {
    let mut copy = bytes.to_vec();
    simd_json::to_owned_value(&mut copy)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(bytes)))
}

#[test]
fn more_than_one_choice_is_refused_where_the_provider_answers_one() {
    let body = |n: &str| {
        format!(r#"{{"model":"m","n":{n},"messages":[{{"role":"user","content":"hi"}}]}}"#)
    };
    for (n, ok) in [
        ("1", true),
        ("null", true),
        ("2", false),
        ("0", false),
        ("\"2\"", false),
    ] {
        let mut bytes = body(n).into_bytes();
        let v = simd_json::to_borrowed_value(&mut bytes).expect("json");
        let mut out = Vec::new();
        let r = anthropic::request(&v, "claude", false, &mut out);
        assert_eq!(r.is_ok(), ok, "n = {n}");
        if let Err(e) = r {
            assert!(e.to_string().contains("'n' must be 1"), "{e}");
        }
    }
}

#[test]
fn whole_number_sampling_values_reach_the_provider() {
    // `temperature=0` is sent as the integer 0 by most clients: it must not be taken for
    // "no temperature" (the provider's default, 1, would answer instead).
    for (t, p) in [("0", "1"), ("1", "0.5"), ("0.0", "1.0")] {
        let mut body = format!(
            r#"{{"model":"m","temperature":{t},"top_p":{p},"messages":[{{"role":"user","content":"hi"}}]}}"#
        )
        .into_bytes();
        let v = simd_json::to_borrowed_value(&mut body).expect("json");
        let mut out = Vec::new();
        anthropic::request(&v, "claude", false, &mut out).expect("translates");
        let a = json(&out);
        assert_eq!(a["temperature"].cast_f64(), t.parse().ok(), "{t}");
        assert_eq!(a["top_p"].cast_f64(), p.parse().ok(), "{p}");
        let mut out = Vec::new();
        gemini::request(&v, &mut out).expect("translates");
        let g = json(&out);
        let config = &g["generationConfig"];
        assert_eq!(config["temperature"].cast_f64(), t.parse().ok(), "{t}");
        assert_eq!(config["topP"].cast_f64(), p.parse().ok(), "{p}");
    }
}
