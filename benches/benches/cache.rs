//! The answer cache on the shard: what a lookup costs — the key (the upstream body spliced and
//! hashed with SHA-256) and the store's get — for a 1 KiB and a 16 KiB chat request, in a store
//! holding 100 000 entries; and a fill. The issue's aim: an exact-hit lookup within 5 µs. And
//! what one step of a purge holds the shard for: 256 entries dropped from a store of 10 000 (a
//! sweep takes that many, then lets the shard's requests run).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use warden_dataplane::cache::{Directives, Key, Plan, Shape, Shared};
use warden_dataplane::proxy::request::openai_body_key;
use warden_dataplane::route::inspect_chat;
use warden_dataplane::state::RouteTarget;
use warden_shared::catalog::{ModelKind, Provider};
use warden_shared::snapshot::{CacheMode, CachePolicy};

/// The shape the benches' entries are kept in (streams) and asked for.
const KEPT: Shape = Shape {
    event_stream: true,
    wire: None,
};

fn chat_body(prompt_bytes: usize) -> Vec<u8> {
    let prompt = "lorem ipsum ".repeat(prompt_bytes / 12);
    format!(
        r#"{{"messages":[{{"role":"system","content":"You are terse."}},{{"role":"user","content":"{prompt}"}}],"model":"gpt-4o-mini","stream":true,"temperature":0}}"#
    )
    .into_bytes()
}

fn lookup(c: &mut Criterion) {
    let target = RouteTarget {
        alias: "gpt-4o-mini".into(),
        provider: Provider::OpenAi,
        kind: ModelKind::Chat,
        upstream_model: "gpt-4o-mini-2024-07-18".into(),
        fallbacks: Vec::new(),
    };
    let shared = Shared::new(1, 1 << 30, 1 << 20, None, None).unwrap();
    let cache = shared.shard(0, Default::default());
    let project: Arc<str> = "acme-prod".into();
    let policy = CachePolicy {
        mode: CacheMode::Exact,
        ..CachePolicy::default()
    };
    // 100 000 entries of 1 KiB answers.
    let answer = vec![b'a'; 1024];
    for i in 0u32..100_000 {
        let mut h = cache.hasher(&project, 0);
        h.part(&i.to_le_bytes());
        let key = h.finish();
        if let Plan::Fill(fill) =
            cache.plan(&policy, Directives::default(), &project, KEPT, || Some(key))
        {
            cache.fill(fill, true, &answer);
        }
    }
    let mut g = c.benchmark_group("cache");
    for size in [1024usize, 16 * 1024] {
        let body = chat_body(size);
        let mut scratch = Vec::new();
        let fields = inspect_chat(&body, &mut scratch).unwrap();
        let key = || {
            let mut h = cache.hasher(&project, 0);
            h.part(b"openai");
            openai_body_key(&body, &fields, &target, &[], true, &mut h).unwrap();
            h.finish()
        };
        let k = key();
        if let Plan::Fill(fill) =
            cache.plan(&policy, Directives::default(), &project, KEPT, || Some(k))
        {
            cache.fill(fill, true, &answer);
        }
        g.throughput(Throughput::Bytes(body.len() as u64));
        g.bench_with_input(BenchmarkId::new("key", size), &body, |b, _| {
            b.iter(|| black_box(key()))
        });
        g.bench_with_input(BenchmarkId::new("key_and_hit", size), &body, |b, _| {
            b.iter(|| {
                let plan = cache.plan(&policy, Directives::default(), &project, KEPT, || {
                    Some(key())
                });
                assert!(matches!(plan, Plan::Hit(_)));
                black_box(plan)
            })
        });
    }
    g.throughput(Throughput::Elements(1));
    let miss = Key([7; 32]);
    g.bench_function("get_miss_100k", |b| {
        b.iter(|| {
            black_box(
                cache.plan(&policy, Directives::default(), &project, KEPT, || {
                    Some(miss)
                }),
            )
        })
    });
    let mut n = 1_000_000u32;
    g.bench_function("miss_and_fill_1k", |b| {
        b.iter(|| {
            n += 1;
            let mut h = cache.hasher(&project, 0);
            h.part(&n.to_le_bytes());
            let key = h.finish();
            if let Plan::Fill(fill) =
                cache.plan(&policy, Directives::default(), &project, KEPT, || Some(key))
            {
                cache.fill(fill, true, &answer);
            }
        })
    });
    g.finish();
}

fn sweep(c: &mut Criterion) {
    use std::time::{Duration, Instant};
    use warden_dataplane::cache::{store::Store, Entry};
    let project: Arc<str> = "acme-prod".into();
    let filled = Instant::now();
    let store = || {
        let mut s = Store::new(1 << 30);
        for i in 0u32..10_000 {
            let mut key = [0u8; 32];
            key[..4].copy_from_slice(&i.to_le_bytes());
            s.insert(
                Arc::new(Entry {
                    key: Key(key),
                    project: Arc::clone(&project),
                    generation: 0,
                    event_stream: false,
                    body: vec![b'a'; 1024].into(),
                    filled,
                    expires: filled + Duration::from_secs(3600),
                }),
                0,
            );
        }
        s
    };
    let mut g = c.benchmark_group("cache");
    g.throughput(Throughput::Elements(256));
    g.bench_function("sweep_step_256_of_10k", |b| {
        b.iter_batched_ref(
            store,
            |s| black_box(s.sweep("acme-prod", 256, |e| e.generation != 1)),
            criterion::BatchSize::LargeInput,
        )
    });
    g.finish();
}

/// What serving a kept answer in the other shape adds to a hit: a chat answer of about 1 KiB
/// of text, kept whole and served as a stream, and kept as the provider's stream (one chunk
/// every ~16 bytes of text, as OpenAI and Anthropic send them) and served whole.
fn reshape(c: &mut Criterion) {
    use warden_dataplane::cache::reshape::reshape;
    use warden_dataplane::cache::Wire;
    let text = "The cache keeps one answer per conversation. ".repeat(23);
    let pieces: Vec<String> = text
        .as_bytes()
        .chunks(16)
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect();
    let escaped = |s: &str| serde_json::to_string(s).unwrap();
    let openai_body = format!(
        r#"{{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4o-mini","choices":[{{"index":0,"message":{{"role":"assistant","content":{},"refusal":null}},"logprobs":null,"finish_reason":"stop"}}],"usage":{{"prompt_tokens":20,"completion_tokens":230,"total_tokens":250}}}}"#,
        escaped(&text)
    );
    let mut openai_stream = String::new();
    for p in &pieces {
        openai_stream.push_str(&format!(
            "data: {{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o-mini\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":{}}},\"logprobs\":null,\"finish_reason\":null}}],\"usage\":null}}\n\n",
            escaped(p)
        ));
    }
    openai_stream.push_str("data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o-mini\",\"choices\":[],\"usage\":{\"prompt_tokens\":20,\"completion_tokens\":230,\"total_tokens\":250}}\n\ndata: [DONE]\n\n");
    let anthropic_body = format!(
        r#"{{"id":"msg_1","type":"message","role":"assistant","model":"claude-haiku-4-5","content":[{{"type":"text","text":{}}}],"stop_reason":"end_turn","stop_sequence":null,"usage":{{"input_tokens":20,"output_tokens":230}}}}"#,
        escaped(&text)
    );
    let mut anthropic_stream = String::from(concat!(
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-haiku-4-5\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":20,\"output_tokens\":1}}}\n\n",
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
    ));
    for p in &pieces {
        anthropic_stream.push_str(&format!(
            "event: content_block_delta\ndata: {{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{{\"type\":\"text_delta\",\"text\":{}}}}}\n\n",
            escaped(p)
        ));
    }
    anthropic_stream.push_str(concat!(
        "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
        "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":230}}\n\n",
        "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
    ));
    let responses_body = format!(
        r#"{{"id":"resp_1","object":"response","created_at":1,"status":"completed","model":"gpt-4o-mini","output":[{{"type":"message","id":"msg_1","status":"completed","role":"assistant","content":[{{"type":"output_text","text":{},"annotations":[],"logprobs":[]}}]}}],"usage":{{"input_tokens":20,"output_tokens":230,"total_tokens":250}}}}"#,
        escaped(&text)
    );
    // As OpenAI streams it: a delta every 16 bytes between the opening and the whole response.
    let mut responses_stream = String::from(concat!(
        "event: response.created\ndata: {\"type\":\"response.created\",\"sequence_number\":0,\"response\":{\"id\":\"resp_1\",\"object\":\"response\",\"status\":\"in_progress\",\"output\":[]}}\n\n",
        "event: response.output_item.added\ndata: {\"type\":\"response.output_item.added\",\"sequence_number\":1,\"output_index\":0,\"item\":{\"type\":\"message\",\"id\":\"msg_1\",\"status\":\"in_progress\",\"role\":\"assistant\",\"content\":[]}}\n\n",
    ));
    for (n, p) in pieces.iter().enumerate() {
        responses_stream.push_str(&format!(
            "event: response.output_text.delta\ndata: {{\"type\":\"response.output_text.delta\",\"sequence_number\":{},\"item_id\":\"msg_1\",\"output_index\":0,\"content_index\":0,\"delta\":{},\"logprobs\":[]}}\n\n",
            n + 2,
            escaped(p)
        ));
    }
    responses_stream.push_str(&format!(
        "event: response.completed\ndata: {{\"type\":\"response.completed\",\"sequence_number\":{},\"response\":{}}}\n\n",
        pieces.len() + 2,
        responses_body
    ));
    let mut g = c.benchmark_group("cache");
    g.throughput(Throughput::Bytes(text.len() as u64));
    g.bench_function("reshape_responses_body_to_stream_1k", |b| {
        b.iter(|| {
            black_box(reshape(
                Wire::OpenAiResponses,
                false,
                responses_body.as_bytes(),
            ))
        })
    });
    g.bench_function("reshape_responses_stream_to_body_1k", |b| {
        b.iter(|| {
            black_box(reshape(
                Wire::OpenAiResponses,
                true,
                responses_stream.as_bytes(),
            ))
        })
    });
    g.bench_function("reshape_openai_body_to_stream_1k", |b| {
        b.iter(|| black_box(reshape(Wire::OpenAiChat, false, openai_body.as_bytes())))
    });
    g.bench_function("reshape_openai_stream_to_body_1k", |b| {
        b.iter(|| black_box(reshape(Wire::OpenAiChat, true, openai_stream.as_bytes())))
    });
    g.bench_function("reshape_anthropic_body_to_stream_1k", |b| {
        b.iter(|| black_box(reshape(Wire::Anthropic, false, anthropic_body.as_bytes())))
    });
    g.bench_function("reshape_anthropic_stream_to_body_1k", |b| {
        b.iter(|| black_box(reshape(Wire::Anthropic, true, anthropic_stream.as_bytes())))
    });
    for (wire, kept) in [
        (Wire::OpenAiChat, &openai_stream),
        (Wire::Anthropic, &anthropic_stream),
        (Wire::OpenAiResponses, &responses_stream),
    ] {
        let body = reshape(wire, true, kept.as_bytes()).expect("the stream joins");
        assert!(memchr_count(&body, text.as_bytes()) == 1, "{wire:?}");
    }
    g.finish();
}

/// How often `needle` occurs in `hay`.
fn memchr_count(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len()).filter(|w| *w == needle).count()
}

criterion_group!(benches, lookup, sweep, reshape);
criterion_main!(benches);
