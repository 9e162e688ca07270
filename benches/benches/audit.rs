//! The audit path's costs: what a shard pays per request (an entry made of shared strings,
//! pushed into its ring), and how many records per second the drain writes — framing, chain
//! hashing and one write per batch — with and without an fdatasync per batch.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use crossbeam_queue::ArrayQueue;
use std::hint::black_box;
use warden_dataplane::audit::ring::Item;
use warden_dataplane::audit::writer::Writer;
use warden_dataplane::audit::{AttemptEntry, AuditConfig, Entry};
use warden_shared::audit::Kind;

fn entry() -> Entry {
    Entry {
        kind: Kind::Response,
        request_id: Some("req_0123456789abcdef000000000001".into()),
        received_us: 1_795_390_000_000_000,
        tenant: Some(Arc::from("acme")),
        project: Some(Arc::from("acme-prod")),
        environment: Some("production"),
        api_key_id: Some(Arc::from("key_3f2a9c1b7d4e")),
        client: Some("127.0.0.1:50000".parse().unwrap()),
        dialect: Some("openai"),
        route: Some("chat_completions"),
        stream: Some(false),
        model_alias: Some(Arc::from("gpt-4o")),
        provider: Some("openai"),
        upstream_model: Some(Arc::from("gpt-4o")),
        key_source: Some("byok"),
        provider_key_id: Some(Arc::from("pk_acme-prod_openai_0")),
        provider_key_fingerprint: Some(Arc::from("sha256:3f2a9c1b7d4e")),
        attempts: vec![AttemptEntry {
            provider: "openai",
            key_id: Arc::from("pk_acme-prod_openai_0"),
            key_source: "byok",
            outcome: "ok",
            status: Some(200),
        }],
        status: Some(200),
        usage: Some(warden_shared::audit::Usage {
            input_tokens: 120,
            output_tokens: 40,
            cached_tokens: 0,
            reasoning_tokens: 0,
        }),
        overhead_us: Some(35),
        upstream_us: Some(950),
        ..Entry::default()
    }
}

/// The shard's side: clone the request's entry (shared strings) and push it; the pop stands in
/// for the drain thread so the ring never fills.
fn shard_push(c: &mut Criterion) {
    let ring: ArrayQueue<Item> = ArrayQueue::new(4096);
    let draft = entry();
    let mut g = c.benchmark_group("audit_shard");
    g.throughput(Throughput::Elements(1));
    g.bench_function("entry_clone_and_push", |b| {
        b.iter(|| {
            let e = black_box(&draft).clone();
            let _ = ring.push(Item {
                entry: e,
                done: None,
            });
            black_box(ring.pop());
        })
    });
    g.finish();
}

fn drain(c: &mut Criterion) {
    const BATCH: usize = 4096;
    let mut g = c.benchmark_group("audit_drain");
    g.throughput(Throughput::Elements(BATCH as u64));
    g.sample_size(20);
    let e = entry();
    // The drain's CPU work alone: JSON, CRC32C and the SHA-256 chain, into a batch buffer.
    let (mut buf, mut json, mut chain) = (
        Vec::with_capacity(4 << 20),
        Vec::with_capacity(1024),
        [0u8; 32],
    );
    g.bench_function("encode_frame_chain", |b| {
        b.iter(|| {
            buf.clear();
            for _ in 0..BATCH {
                json.clear();
                e.write_json(1_795_390_000_000_000, &mut json);
                chain = warden_shared::audit::frame(&mut buf, &chain, &json);
            }
            black_box(&buf);
        })
    });
    let mut one = Vec::new();
    e.write_json(1, &mut one);
    g.bench_function("json_only", |b| {
        b.iter(|| {
            for _ in 0..BATCH {
                json.clear();
                e.write_json(1_795_390_000_000_000, &mut json);
            }
            black_box(&json);
        })
    });
    g.bench_function("sha256_only", |b| {
        b.iter(|| {
            for _ in 0..BATCH {
                chain = warden_shared::audit::chain(&chain, black_box(&one));
            }
        })
    });
    for (name, sync) in [
        ("buffered_write", false),
        ("buffered_write_fdatasync", true),
    ] {
        let dir =
            std::env::temp_dir().join(format!("warden-bench-audit-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let config = AuditConfig {
            segment_max_bytes: 256 * 1024 * 1024,
            ..AuditConfig::default()
        };
        let mut w = Writer::open(&dir, &config).unwrap();
        g.bench_function(name, |b| {
            b.iter(|| {
                for _ in 0..BATCH {
                    w.append_with(|json| e.write_json(1_795_390_000_000_000, json));
                }
                w.flush().unwrap();
                if sync {
                    w.sync().unwrap();
                }
            })
        });
        let _ = std::fs::remove_dir_all(&dir);
    }
    g.finish();
}

criterion_group!(benches, shard_push, drain);
criterion_main!(benches);
