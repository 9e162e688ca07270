//! Guardrail scanning cost: a 4 KB prompt through every detector (MB/s per core), and a
//! 20-byte delta, the size of one streamed token event; and the de-obfuscation pass that runs
//! before injection scoring, on a 4 KB prompt with nothing hidden (the common case); and the
//! injection model's score (the fast tier: features and the windowed sum) on 1 KB and 4 KB of
//! English prose, 1 KB of German and 32 different kilobytes of documentation, the issue's "µs
//! per KB"; and putting placeholders into an outgoing body (`guard_redact`), beside the raw-bytes
//! search it replaced; and a whole request's check under a policy (`guard_check`): 4 KB in one
//! text, and the same 4 KB in 16 content parts, whose seams are read too.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;
use warden_dataplane::guard::engine::Engine;
use warden_dataplane::guard::normalize::variants;

fn prompt(bytes: usize) -> String {
    prompt_with(bytes, true)
}

fn prompt_with(bytes: usize, pii: bool) -> String {
    let filler =
        "The quarterly report covers revenue, churn and the roadmap for the next two releases. ";
    let mut s = String::with_capacity(bytes + 128);
    let mut i = 0;
    while s.len() < bytes {
        s.push_str(filler);
        if pii && i % 8 == 3 {
            s.push_str("Contact jane.doe@example.com or +44 20 7946 0958. ");
        }
        i += 1;
    }
    s.truncate(bytes);
    s
}

fn scan(c: &mut Criterion) {
    let engine = Engine::new().unwrap();
    let scratch = engine.scratch().unwrap();
    let mut found = Vec::new();
    let text = prompt(4096);
    let mut g = c.benchmark_group("guard_scan");
    g.throughput(Throughput::Bytes(text.len() as u64));
    g.bench_function("prompt_4k_with_pii", |b| {
        b.iter(|| {
            found.clear();
            engine.scan(&scratch, black_box(text.as_bytes()), &mut found);
        })
    });
    let clean = prompt_with(4096, false);
    g.throughput(Throughput::Bytes(clean.len() as u64));
    g.bench_function("prompt_4k_no_pii", |b| {
        b.iter(|| {
            found.clear();
            engine.scan(&scratch, black_box(clean.as_bytes()), &mut found);
        })
    });
    let delta = "the next two release";
    g.throughput(Throughput::Bytes(delta.len() as u64));
    g.bench_function("delta_20_bytes", |b| {
        b.iter(|| {
            found.clear();
            engine.scan(&scratch, black_box(delta.as_bytes()), &mut found);
        })
    });
    g.finish();
}

fn injection_model(c: &mut Criterion) {
    use warden_dataplane::guard::injection::{score_with_variants, Model};
    let model = Model::builtin();
    let mut g = c.benchmark_group("injection_model");
    let german = "Bitte fasse den Quartalsbericht zusammen: Umsatz, Kündigungen und die Planung \
                  für die nächsten zwei Versionen. ";
    for (name, text) in [
        ("prose_1k", prompt_with(1024, false)),
        ("prose_4k", prompt_with(4096, false)),
        ("german_1k", german.repeat(1024 / german.len() + 1)),
    ] {
        let mut text = text;
        while text.len() > 1024 * (1 + usize::from(name.ends_with("4k")) * 3) {
            text.pop();
        }
        g.throughput(Throughput::Bytes(text.len() as u64));
        g.bench_function(format!("score_{name}"), |b| {
            b.iter(|| model.score(black_box(&text)))
        });
    }
    // The texts above repeat one sentence, so their features stay in the first level of cache
    // and the branch predictor learns them; real text does neither. 32 different kilobytes of
    // this repository's documentation prose (a frozen copy, a few characters outside ASCII in
    // most of them), one after another.
    let docs = include_str!("../data/docs-prose-32k.txt");
    let mut pieces = Vec::new();
    let mut rest = docs;
    while rest.len() >= 1024 {
        let mut cut = 1024;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        pieces.push(&rest[..cut]);
        rest = &rest[cut..];
    }
    let mut next = 0;
    g.throughput(Throughput::Bytes(1024));
    g.bench_function("score_docs_1k_each_different", |b| {
        b.iter(|| {
            next = (next + 1) % pieces.len();
            model.score(black_box(pieces[next]))
        })
    });
    let text = prompt_with(1024, false);
    g.throughput(Throughput::Bytes(text.len() as u64));
    g.bench_function("score_with_variants_prose_1k", |b| {
        b.iter(|| score_with_variants(model, black_box(&text)))
    });
    g.finish();
}

fn deobfuscate(c: &mut Criterion) {
    let clean = prompt(4096);
    let mut g = c.benchmark_group("guard_normalize");
    g.throughput(Throughput::Bytes(clean.len() as u64));
    g.bench_function("variants_4k_nothing_hidden", |b| {
        b.iter(|| variants(black_box(&clean)))
    });
    g.finish();
}

/// What the response guard adds to each streamed event: one OpenAI chunk with a 20-byte delta
/// parsed, its text released through the guard (scan of the held-back tail included), and the
/// chunk written again — the added inter-event latency, in CPU time.
fn stream_event(c: &mut Criterion) {
    use warden_dataplane::guard::response::ResponseGuard;
    use warden_shared::snapshot::{GuardAction, GuardrailPolicy};
    let engine = Engine::new().unwrap();
    let scratch = engine.scratch().unwrap();
    let policy = GuardrailPolicy {
        response_pii: GuardAction::Redact,
        response_secrets: GuardAction::Redact,
        ..GuardrailPolicy::default()
    };
    let mut guard = ResponseGuard::for_policy(&policy).unwrap();
    let chunk = br#"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"content":"the next two release"},"finish_reason":null}]}"#;
    let mut template = None;
    let mut out = Vec::with_capacity(1024);
    let mut g = c.benchmark_group("guard_stream");
    g.bench_function("openai_event_20_byte_delta", |b| {
        b.iter(|| {
            out.clear();
            guard.filter_event(
                &engine,
                &scratch,
                None,
                black_box(chunk),
                &mut template,
                &mut out,
            )
        })
    });
    g.finish();
}

/// A chat body of `messages` user turns of `prompt(bytes)`, serialised as Python's `json.dumps`
/// writes it when `ascii` (every character outside ASCII a `\u` escape) or as the openai SDK does.
fn chat(messages: usize, bytes: usize, ascii: bool) -> Vec<u8> {
    let text = prompt(bytes).replace("roadmap", "feuille de route élargie");
    let turns: Vec<String> = (0..messages)
        .map(|_| {
            let mut s = String::new();
            for c in text.chars() {
                match c {
                    '"' | '\\' => s.push_str(&format!("\\{c}")),
                    c if ascii && !c.is_ascii() => s.push_str(&format!("\\u{:04x}", c as u32)),
                    c => s.push(c),
                }
            }
            format!(r#"{{"role":"user","content":"{s}"}}"#)
        })
        .collect();
    format!(r#"{{"model":"gpt-4o","messages":[{}]}}"#, turns.join(",")).into_bytes()
}

/// The search `rewrite` replaced (until 2026-12-06): each value's bytes looked for in the raw body.
fn raw_search(body: &[u8], values: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
    let mut current = body.to_vec();
    for (value, placeholder) in values {
        let mut next = Vec::with_capacity(current.len());
        let mut at = 0;
        for i in memchr::memmem::find_iter(&current, value) {
            if i >= at {
                next.extend_from_slice(&current[at..i]);
                next.extend_from_slice(placeholder);
                at = i + value.len();
            }
        }
        next.extend_from_slice(&current[at..]);
        current = next;
    }
    current
}

fn redact(c: &mut Criterion) {
    use warden_dataplane::guard::apply::rewrite;
    let values = vec![
        (b"jane.doe@example.com".to_vec(), b"[EMAIL_1]".to_vec()),
        (b"+44 20 7946 0958".to_vec(), b"[PHONE_1]".to_vec()),
    ];
    let mut g = c.benchmark_group("guard_redact");
    for (name, body) in [
        ("1_turn_4k", chat(1, 4096, false)),
        ("16_turns_64k", chat(16, 4096, false)),
        ("16_turns_64k_escaped", chat(16, 4096, true)),
    ] {
        g.throughput(Throughput::Bytes(body.len() as u64));
        g.bench_function(format!("rewrite_{name}"), |b| {
            b.iter(|| rewrite(black_box(&body), &values).unwrap())
        });
        g.bench_function(format!("raw_search_{name}"), |b| {
            b.iter(|| raw_search(black_box(&body), &values))
        });
    }
    g.finish();
}

/// `apply::check` on a chat request whose user turn is `parts` text parts of 4 KB together
/// (PII redacted, injection blocked: every text scanned and scored).
fn check(c: &mut Criterion) {
    use warden_dataplane::guard::apply;
    use warden_shared::catalog::Dialect;
    use warden_shared::snapshot::{GuardAction, GuardrailPolicy};
    let engine = Engine::new().unwrap();
    let scratch = engine.scratch().unwrap();
    let policy = GuardrailPolicy {
        pii: GuardAction::Redact,
        injection: GuardAction::Block,
        ..GuardrailPolicy::default()
    };
    let text = prompt(4096);
    let mut g = c.benchmark_group("guard_check");
    g.throughput(Throughput::Bytes(4096));
    for parts in [1, 16] {
        // Cut at sentence ends, so that no value is split (which would refuse the request).
        let sentences: Vec<&str> = text.split_inclusive(". ").collect();
        let per = sentences.len().div_ceil(parts);
        let items: Vec<String> = sentences
            .chunks(per)
            .map(|part| format!(r#"{{"type":"text","text":"{}"}}"#, part.concat()))
            .collect();
        let mut body = format!(
            r#"{{"model":"gpt-4o","messages":[{{"role":"user","content":[{}]}}]}}"#,
            items.join(",")
        )
        .into_bytes();
        let value = simd_json::to_borrowed_value(&mut body).unwrap();
        g.bench_function(format!("chat_4k_in_{}_parts", items.len()), |b| {
            b.iter(|| {
                let plan = apply::check(
                    &engine,
                    (&scratch, None),
                    None,
                    Dialect::OpenAi,
                    black_box(&value),
                    &policy,
                );
                assert!(plan.blocked.is_none());
                plan
            })
        });
    }
    g.finish();
}

criterion_group!(
    benches,
    scan,
    injection_model,
    deobfuscate,
    stream_event,
    redact,
    check
);
criterion_main!(benches);
