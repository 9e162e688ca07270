//! Translation cost per request and per stream event, for each provider dialect: the OpenAI
//! request fixture out to Anthropic and Gemini, their responses back, and their streams event
//! by event (tests/fixtures/wire).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::hint::black_box;
use warden_benches::fixture;
use warden_dataplane::sse::EventFramer;
use warden_dataplane::translate::{anthropic, gemini, messages, Meta, StreamTranslator};

fn meta() -> Meta {
    Meta {
        id: "chatcmpl-bench".into(),
        model: "alias".into(),
        created: 1_760_000_000,
        include_usage: true,
        json_tool: false,
        show_reasoning: true,
    }
}

fn requests(c: &mut Criterion) {
    let body = fixture("openai-chat-request.json");
    let mut g = c.benchmark_group("translate_request");
    g.throughput(Throughput::Bytes(body.len() as u64));
    let mut scratch = Vec::with_capacity(body.len());
    let mut out = Vec::with_capacity(2048);
    g.bench_function("openai_to_anthropic", |b| {
        b.iter(|| {
            scratch.clear();
            scratch.extend_from_slice(&body);
            let v = simd_json::to_borrowed_value(&mut scratch).unwrap();
            out.clear();
            anthropic::request(black_box(&v), "claude-sonnet-4-6", true, &mut out).unwrap();
        })
    });
    g.bench_function("openai_to_gemini", |b| {
        b.iter(|| {
            scratch.clear();
            scratch.extend_from_slice(&body);
            let v = simd_json::to_borrowed_value(&mut scratch).unwrap();
            out.clear();
            gemini::request(black_box(&v), &mut out).unwrap();
        })
    });
    g.finish();
}

fn responses(c: &mut Criterion) {
    let mut g = c.benchmark_group("translate_response");
    let mut out = Vec::with_capacity(2048);
    let m = meta();
    for (name, file) in [
        ("anthropic", "anthropic-messages-response.json"),
        ("gemini", "gemini-response.json"),
    ] {
        let body = fixture(file);
        let mut copy = body.clone();
        g.throughput(Throughput::Bytes(body.len() as u64));
        g.bench_function(BenchmarkId::new("to_openai", name), |b| {
            b.iter(|| {
                copy.copy_from_slice(&body);
                out.clear();
                match name {
                    "anthropic" => anthropic::response(&mut copy, &m, &mut out).unwrap(),
                    _ => gemini::response(&mut copy, &m, "req", &mut out).unwrap(),
                };
            })
        });
    }
    g.finish();
}

fn streams(c: &mut Criterion) {
    let mut g = c.benchmark_group("translate_stream_event");
    for (name, file) in [
        ("anthropic", "anthropic-messages-stream.sse"),
        ("gemini", "gemini-stream.sse"),
    ] {
        let stream = fixture(file);
        let mut framer = EventFramer::new(1 << 20);
        framer.push(&stream).unwrap();
        let events: Vec<(Option<Vec<u8>>, Vec<u8>)> = framer
            .events()
            .map(|e| (e.name.map(<[u8]>::to_vec), e.data.into_owned()))
            .collect();
        // Per event: the whole fixture stream divided by its event count.
        g.throughput(Throughput::Elements(events.len() as u64));
        let mut out = Vec::with_capacity(8192);
        g.bench_function(BenchmarkId::new("to_openai", name), |b| {
            b.iter(|| {
                let mut t = match name {
                    "anthropic" => {
                        StreamTranslator::Anthropic(Box::new(anthropic::Stream::new(meta())))
                    }
                    _ => StreamTranslator::Gemini(Box::new(gemini::Stream::new(
                        meta(),
                        "req".into(),
                    ))),
                };
                out.clear();
                for (event_name, data) in &events {
                    t.event(event_name.as_deref(), black_box(data), &mut out)
                        .unwrap();
                }
                t.finish(&mut out);
            })
        });
    }
    g.finish();
}

/// Anthropic's Messages API over chat (a `/v1/messages` request for another provider's model):
/// the request fixture to a chat request, the chat answer and stream fixtures back.
fn messages_over_chat(c: &mut Criterion) {
    let echo = || messages::Echo {
        id: "msg_bench".into(),
        model: "alias".into(),
    };
    let mut g = c.benchmark_group("translate_messages");
    let request = fixture("anthropic-messages-request.json");
    let mut scratch = Vec::with_capacity(request.len());
    let mut out = Vec::with_capacity(4096);
    g.throughput(Throughput::Bytes(request.len() as u64));
    g.bench_function("request_to_chat", |b| {
        b.iter(|| {
            scratch.clear();
            scratch.extend_from_slice(&request);
            let v = simd_json::to_borrowed_value(&mut scratch).unwrap();
            out.clear();
            messages::request(black_box(&v), &mut out).unwrap();
        })
    });
    let answer = fixture("openai-chat-response.json");
    let mut copy = answer.clone();
    let e = echo();
    g.throughput(Throughput::Bytes(answer.len() as u64));
    g.bench_function("chat_answer_to_message", |b| {
        b.iter(|| {
            copy.copy_from_slice(&answer);
            out.clear();
            messages::answer::response(&mut copy, &e, &mut out).unwrap();
        })
    });
    let stream = fixture("openai-chat-stream.sse");
    let events = warden_dataplane::sse::events_in(&stream).count();
    // Per event: the whole fixture stream divided by its event count.
    g.throughput(Throughput::Elements(events as u64));
    g.bench_function("chat_stream_to_events", |b| {
        b.iter(|| {
            let mut s = messages::stream::Stream::new(echo());
            out.clear();
            s.events(black_box(&stream), &mut out);
        })
    });
    g.finish();
}

criterion_group!(benches, requests, responses, streams, messages_over_chat);
criterion_main!(benches);
