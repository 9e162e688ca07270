//! The answer cache's view of an OpenAI-compatible body: which requests share a key.

use super::openai_body_key;
use crate::cache::{Key, Shared};
use crate::route::inspect_chat;
use crate::state::RouteTarget;
use warden_shared::catalog::{ModelKind, Provider};

fn key(body: &str, either_shape: bool) -> Key {
    let target = RouteTarget {
        alias: "fast".into(),
        provider: Provider::OpenAi,
        kind: ModelKind::Chat,
        upstream_model: "gpt-4o-mini".into(),
        fallbacks: Vec::new(),
    };
    let fields = inspect_chat(body.as_bytes(), &mut Vec::new()).expect("a chat request");
    let cache = Shared::new(1, 1 << 20, 1 << 16, Some([7; 32]), None)
        .expect("a cache")
        .shard(0, Default::default());
    let mut h = cache.hasher("project", 0);
    openai_body_key(body.as_bytes(), &fields, &target, &[], either_shape, &mut h).expect("a key");
    h.finish()
}

const MSGS: &str = r#""messages":[{"role":"user","content":"hi"}]"#;

#[test]
fn the_stream_flags_are_left_out_only_where_either_shape_serves() {
    let whole = format!(r#"{{"model":"fast",{MSGS}}}"#);
    let same = [
        format!(r#"{{"model":"fast",{MSGS},"stream":false}}"#),
        format!(r#"{{"stream":true,"model":"fast",{MSGS}}}"#),
        format!(
            r#"{{"model":"fast",{MSGS},"stream":true,"stream_options":{{"include_usage":true}}}}"#
        ),
        format!(
            r#"{{"model":"fast","stream_options":{{"include_usage":false}},"stream":true,{MSGS}}}"#
        ),
    ];
    for body in &same {
        assert_eq!(key(&whole, true), key(body, true), "{body}");
    }
    assert_ne!(key(&whole, false), key(&same[1], false));
    // Not the same request: another parameter, or stream_options on a request that does not
    // stream (which OpenAI refuses: it must not be answered from the cache).
    for body in [
        format!(r#"{{"model":"fast",{MSGS},"temperature":0}}"#),
        format!(r#"{{"model":"fast",{MSGS},"stream_options":{{"include_usage":true}}}}"#),
        format!(r#"{{"model":"fast",{MSGS},"metadata":{{"stream":true}}}}"#),
    ] {
        assert_ne!(key(&whole, true), key(&body, true), "{body}");
    }
}
