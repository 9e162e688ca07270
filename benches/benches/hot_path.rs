//! Hot-path pieces in isolation: request-head parsing, chat body inspection and model rewrite,
//! chunked decoding, SSE event framing. Inputs are shaped like what the official SDKs send and
//! what providers stream back.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::hint::black_box;
use warden_dataplane::http::body::ChunkedDecoder;
use warden_dataplane::http::parse::{parse_request, Limits};
use warden_dataplane::http::respond::json_string;
use warden_dataplane::route::{inspect_chat, split_at_model};
use warden_dataplane::sse::EventFramer;

const LIMITS: Limits = Limits {
    max_head: 16 * 1024,
    max_headers: 64,
};

/// The head the openai Python SDK sends for a chat completion.
const SDK_HEAD: &[u8] = b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nAccept-Encoding: gzip, deflate\r\n\
Connection: keep-alive\r\nAccept: application/json\r\nContent-Type: application/json\r\nUser-Agent: OpenAI/Python 3.54.0\r\n\
X-Stainless-Lang: python\r\nX-Stainless-Package-Version: 3.54.0\r\nX-Stainless-OS: Linux\r\nX-Stainless-Arch: x64\r\n\
X-Stainless-Runtime: CPython\r\nX-Stainless-Runtime-Version: 3.11.7\r\nAuthorization: Bearer wdn_0123456789abcdef0123456789abcdef\r\n\
X-Stainless-Async: false\r\nx-stainless-retry-count: 0\r\nx-stainless-read-timeout: 600\r\nContent-Length: 1100\r\n\r\n";

fn chat_body(prompt_bytes: usize) -> Vec<u8> {
    let prompt = "lorem ipsum ".repeat(prompt_bytes / 12);
    format!(
        r#"{{"messages":[{{"role":"system","content":"You are terse."}},{{"role":"user","content":"{prompt}"}}],"model":"gpt-4o-mini","stream":true,"stream_options":{{"include_usage":true}},"temperature":0.2}}"#
    )
    .into_bytes()
}

fn openai_stream(events: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..events {
        out.extend_from_slice(
            format!("data: {{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1760000000,\"model\":\"gpt-4o-mini\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"token{i} \"}},\"finish_reason\":null}}]}}\n\n")
                .as_bytes(),
        );
    }
    out.extend_from_slice(b"data: [DONE]\n\n");
    out
}

fn head_parsing(c: &mut Criterion) {
    let mut g = c.benchmark_group("parse_request_head");
    g.throughput(Throughput::Bytes(SDK_HEAD.len() as u64));
    g.bench_function("openai_sdk_head", |b| {
        b.iter(|| parse_request(black_box(SDK_HEAD), LIMITS).unwrap().unwrap())
    });
    let minimal = b"GET /v1/models HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer wdn_k\r\n\r\n";
    g.bench_function("minimal_head", |b| {
        b.iter(|| parse_request(black_box(minimal), LIMITS).unwrap().unwrap())
    });
    g.finish();
}

fn body_inspection(c: &mut Criterion) {
    let mut g = c.benchmark_group("inspect_chat_body");
    for size in [1024usize, 16 * 1024] {
        let body = chat_body(size);
        let mut scratch = Vec::with_capacity(body.len());
        let mut out = Vec::with_capacity(body.len() + 64);
        g.throughput(Throughput::Bytes(body.len() as u64));
        g.bench_with_input(
            BenchmarkId::new("inspect_and_rewrite", size),
            &body,
            |b, body| {
                b.iter(|| {
                    let f = inspect_chat(black_box(body), &mut scratch).unwrap();
                    out.clear();
                    let (before, after) = split_at_model(body, &f.model_span);
                    out.extend_from_slice(before);
                    json_string(&mut out, "gpt-4o-mini-2024-07-18");
                    out.extend_from_slice(after);
                    black_box(out.len())
                })
            },
        );
        g.bench_with_input(
            BenchmarkId::new("duplicate_key_check", size),
            &body,
            |b, body| {
                let mut check = warden_dataplane::route::keys::KeyCheck::default();
                b.iter(|| check.check(black_box(body)).is_ok())
            },
        );
    }
    g.finish();
}

fn chunked(c: &mut Criterion) {
    let payload = openai_stream(200);
    let mut encoded = Vec::new();
    for piece in payload.chunks(180) {
        encoded.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        encoded.extend_from_slice(piece);
        encoded.extend_from_slice(b"\r\n");
    }
    encoded.extend_from_slice(b"0\r\n\r\n");
    let mut g = c.benchmark_group("chunked_decode");
    g.throughput(Throughput::Bytes(encoded.len() as u64));
    let mut sink = Vec::with_capacity(payload.len());
    g.bench_function("200_events_in_180_byte_chunks", |b| {
        b.iter(|| {
            sink.clear();
            let mut d = ChunkedDecoder::new(u64::MAX);
            d.decode(black_box(&encoded), &mut sink).unwrap();
            assert!(d.is_done());
        })
    });
    g.finish();
}

fn sse_framing(c: &mut Criterion) {
    let stream = openai_stream(200);
    let mut g = c.benchmark_group("sse_framing");
    g.throughput(Throughput::Bytes(stream.len() as u64));
    for read in [64usize, 1460, 16 * 1024] {
        g.bench_with_input(
            BenchmarkId::new("200_events_read_size", read),
            &read,
            |b, &read| {
                b.iter(|| {
                    let mut f = EventFramer::new(1 << 20);
                    let mut forwarded = 0;
                    for piece in stream.chunks(read) {
                        f.push(black_box(piece)).unwrap();
                        forwarded += f.complete().len();
                        f.take_complete();
                    }
                    assert_eq!(forwarded, stream.len());
                })
            },
        );
    }
    g.finish();
}

criterion_group!(benches, head_parsing, body_inspection, chunked, sse_framing);
criterion_main!(benches);
