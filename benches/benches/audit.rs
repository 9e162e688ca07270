//! The audit path's costs: what a shard pays per record (encoding its entry and putting it in
//! its memory-mapped ring), and how many records per second the drain writes — framing, chain
//! hashing and one write per batch — with and without an fdatasync per batch.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::cell::Cell;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;
use warden_dataplane::audit::ring::Ring;
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
            outcome: warden_dataplane::audit::AttemptOutcome::Ok,
            status: Some(200),
            n: 0,
            sent_us: 0,
            head_us: 0,
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

/// The shard's side: encode the request's entry and put it in its mapped ring; the consumer's
/// read and release stand in for the drain thread so the ring never fills.
fn shard_put(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("warden-bench-ring-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let ring = Ring::open(&dir, 0, 2 << 20, 0).unwrap();
    let seen = Cell::new(0);
    let draft = entry();
    let mut scratch = Vec::with_capacity(1024);
    let mut g = c.benchmark_group("audit_shard");
    g.throughput(Throughput::Elements(1));
    g.bench_function("encode_and_put", |b| {
        b.iter(|| {
            scratch.clear();
            black_box(&draft).encode(1_795_390_000_000_000, &mut scratch);
            let end = ring.put(&scratch, &seen).unwrap();
            ring.release(end);
        })
    });
    g.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

fn drain(c: &mut Criterion) {
    const BATCH: usize = 4096;
    let mut g = c.benchmark_group("audit_drain");
    g.throughput(Throughput::Elements(BATCH as u64));
    g.sample_size(20);
    let mut one = Vec::new();
    entry().encode(1_795_390_000_000_000, &mut one);
    // The drain's CPU work alone: CRC32C and the HMAC-SHA256 chain, into a batch buffer.
    let (mut buf, mut chain) = (Vec::with_capacity(4 << 20), [0u8; 32]);
    let key = warden_shared::audit::ChainKey::from_secret(&[7u8; 32]);
    g.bench_function("frame_chain", |b| {
        b.iter(|| {
            buf.clear();
            for _ in 0..BATCH {
                chain = warden_shared::audit::frame(&mut buf, Some(&key), &chain, black_box(&one));
            }
            black_box(&buf);
        })
    });
    // The same with the plain SHA-256 chain of segments written before keyed chains.
    g.bench_function("frame_chain_unkeyed", |b| {
        b.iter(|| {
            buf.clear();
            for _ in 0..BATCH {
                chain = warden_shared::audit::frame(&mut buf, None, &chain, black_box(&one));
            }
            black_box(&buf);
        })
    });
    g.bench_function("hmac_sha256_only", |b| {
        b.iter(|| {
            for _ in 0..BATCH {
                chain = warden_shared::audit::chain(Some(&key), &chain, black_box(&one));
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
        let mut w = Writer::open(&dir, &config, Some(key.clone())).unwrap();
        let mut seq = 0;
        g.bench_function(name, |b| {
            b.iter(|| {
                for _ in 0..BATCH {
                    w.append_ring(&one, 0, seq);
                    seq += 8;
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

criterion_group!(benches, shard_put, drain);
criterion_main!(benches);
