//! Routing costs per request: complexity scoring of a 1 KB body (aim: well under a microsecond
//! per KB), and the limit check and settlement with every limit on.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;
use warden_dataplane::complexity::{Scorer, Shape};
use warden_dataplane::limits::{admit, settle, Counters};
use warden_shared::snapshot::Limits;

fn body(bytes: usize) -> String {
    let filler =
        "Please review the quarterly numbers and tell me whether the churn trend is worrying. ";
    let mut text = String::new();
    while text.len() < bytes - 60 {
        text.push_str(filler);
    }
    text.truncate(bytes - 60);
    serde_json::json!({"model": "auto", "messages": [{"role": "user", "content": text}]})
        .to_string()
}

fn scoring(c: &mut Criterion) {
    let scorer = Scorer::new().unwrap();
    let scratch = scorer.scratch().unwrap();
    let body = body(1024);
    let shape = Shape {
        messages: 1,
        ..Shape::default()
    };
    let mut g = c.benchmark_group("complexity");
    g.throughput(Throughput::Bytes(body.len() as u64));
    g.bench_function("score_1k_body", |b| {
        b.iter(|| scorer.score(&scratch, black_box(body.as_bytes()), shape))
    });
    g.finish();
}

fn limits(c: &mut Criterion) {
    let limits = Limits {
        requests_per_minute: u64::MAX,
        tokens_per_minute: u64::MAX,
        monthly_spend: u64::MAX,
        monthly_spend_warning: u64::MAX,
        ..Limits::default()
    };
    let counters = Counters::default();
    let now = 1_795_341_600;
    c.bench_function("limits/admit_and_settle", |b| {
        b.iter(|| {
            let a = admit(black_box(&limits), &counters, 300, now).unwrap();
            settle(&counters, &a, 280, 1_000);
        })
    });
}

criterion_group!(benches, scoring, limits);
criterion_main!(benches);
