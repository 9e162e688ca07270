//! What the newer routes add per request and per stream event: a Responses request converted to
//! the chat request it becomes, a chat answer to a Responses object, a chat stream's chunks to
//! typed Responses events, and an embeddings request to Gemini's batch call and its answer back
//! (floats and base64). The chat fixtures come from tests/fixtures/wire.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;
use warden_benches::fixture;
use warden_dataplane::translate::embeddings::{self, EmbedMeta};
use warden_dataplane::translate::responses::{self, stream::Stream, Echo};

/// A Responses request of the size an agent sends: instructions, a few turns, a tool round trip.
const RESPONSES_REQUEST: &str = r#"{"model":"gpt-4o","instructions":"You are a concise assistant for a travel company. Answer in two sentences.","input":[{"role":"user","content":[{"type":"input_text","text":"What is the weather in Oslo tomorrow, and should I pack an umbrella?"}]},{"type":"function_call","call_id":"call_1","name":"get_weather","arguments":"{\"city\":\"Oslo\",\"day\":\"tomorrow\"}"},{"type":"function_call_output","call_id":"call_1","output":"{\"conditions\":\"rain\",\"high_c\":7,\"low_c\":2}"},{"role":"assistant","content":[{"type":"output_text","text":"Tomorrow in Oslo brings rain, 2 to 7 C."}]},{"role":"user","content":"And on Friday?"}],"tools":[{"type":"function","name":"get_weather","description":"Forecast for a city and day","parameters":{"type":"object","properties":{"city":{"type":"string"},"day":{"type":"string"}},"required":["city"]}}],"max_output_tokens":400,"temperature":0.3,"stream":true}"#;

fn echo() -> Echo {
    Echo {
        id: "resp_bench".into(),
        model: "gpt-4o".into(),
        created_at: 1_760_000_000,
        fields: b"\"instructions\":null,\"store\":false".to_vec(),
    }
}

fn responses_route(c: &mut Criterion) {
    let mut g = c.benchmark_group("responses");
    let body = RESPONSES_REQUEST.as_bytes().to_vec();
    g.throughput(Throughput::Bytes(body.len() as u64));
    let (mut scratch, mut out) = (Vec::with_capacity(body.len()), Vec::with_capacity(2048));
    g.bench_function("request_to_chat", |b| {
        b.iter(|| {
            scratch.clear();
            scratch.extend_from_slice(&body);
            let v = simd_json::to_borrowed_value(&mut scratch).unwrap();
            out.clear();
            black_box(responses::request(black_box(&v), &mut out).unwrap());
        })
    });
    let answer = fixture("openai-chat-response.json");
    g.bench_function("chat_answer_to_response", |b| {
        b.iter(|| {
            scratch.clear();
            scratch.extend_from_slice(&answer);
            out.clear();
            responses::response(black_box(&mut scratch), &echo(), &mut out).unwrap();
        })
    });
    // Per event: the chat stream fixture's chunks, averaged over its events.
    let chat_stream = fixture("openai-chat-stream.sse");
    let events = warden_dataplane::sse::events_in(&chat_stream).count() as u64;
    g.throughput(Throughput::Elements(events));
    g.bench_function("chat_stream_to_events", |b| {
        b.iter(|| {
            let mut s = Stream::new(echo());
            out.clear();
            s.events(black_box(&chat_stream), &mut out);
            black_box(out.len());
        })
    });
    g.finish();
}

fn embeddings_route(c: &mut Criterion) {
    let mut g = c.benchmark_group("embeddings");
    let request = br#"{"model":"gemini-embedding-001","input":["The quick brown fox jumps over the lazy dog.","Pack an umbrella for Oslo tomorrow.","Invoices are due within 30 days."],"dimensions":768}"#.to_vec();
    let (mut scratch, mut out) = (Vec::new(), Vec::with_capacity(1 << 16));
    g.bench_function("request_to_gemini", |b| {
        b.iter(|| {
            scratch.clear();
            scratch.extend_from_slice(&request);
            let v = simd_json::to_borrowed_value(&mut scratch).unwrap();
            out.clear();
            black_box(
                embeddings::gemini_request(black_box(&v), "gemini-embedding-001", &mut out)
                    .unwrap(),
            );
        })
    });
    // Three 768-dimension vectors, as Gemini writes them.
    let vector: Vec<String> = (0..768)
        .map(|i| format!("{:.9}", (i as f64 * 0.37).sin() / 27.7))
        .collect();
    let one = format!("{{\"values\":[{}]}}", vector.join(","));
    let answer = format!("{{\"embeddings\":[{one},{one},{one}]}}").into_bytes();
    g.throughput(Throughput::Bytes(answer.len() as u64));
    for base64 in [false, true] {
        let meta = EmbedMeta {
            model: "gemini-embedding-001".into(),
            base64,
            estimated_tokens: 30,
        };
        let name = if base64 {
            "answer_to_openai_base64"
        } else {
            "answer_to_openai_floats"
        };
        g.bench_function(name, |b| {
            b.iter(|| {
                scratch.clear();
                scratch.extend_from_slice(&answer);
                out.clear();
                embeddings::gemini_response(black_box(&mut scratch), &meta, &mut out).unwrap();
            })
        });
    }
    g.finish();
}

criterion_group!(benches, responses_route, embeddings_route);
criterion_main!(benches);
