//! The semantic tier's size and speed at scale, measured in one process (not a test):
//!
//!     cargo run --release -p warden-benches --bin semantic-index -- \
//!         [--entries 1000000] [--partitions 1] [--model target/models/semantic]
//!
//! Fills an index (`cache/semantic/index.rs`) with `entries` unit vectors (random: the hardest
//! case for a graph, no clusters to exploit) over `partitions` partitions, reports the resident
//! memory it added per entry, then times 2 000 lookups of 1 KiB prompts — spelling, embedding
//! with the real model, salient tokens, search of one partition — on this one thread: p50, p99,
//! max. What a worker does per lookup, without the queue. Then the spelling pass alone on its
//! worst case: 1 KiB of words in no dictionary, none of them one edit from a word.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
// A measuring tool: its report is what it prints.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::time::{Duration, Instant};

use warden_dataplane::cache::semantic::index::Index;
use warden_dataplane::cache::semantic::salient::Salient;
use warden_dataplane::cache::semantic::spelling::Vocabulary;
use warden_dataplane::cache::semantic::{embed, load};
use warden_dataplane::cache::Key;

fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb: u64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap();
    kb * 1024
}

fn main() {
    let mut entries = 1_000_000usize;
    let mut partitions = 1usize;
    let mut model_dir = std::path::PathBuf::from("target/models/semantic");
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let v = args.next().expect("a value after each flag");
        match a.as_str() {
            "--entries" => entries = v.parse().unwrap(),
            "--partitions" => partitions = v.parse().unwrap(),
            "--model" => model_dir = v.into(),
            other => panic!("unknown flag {other}"),
        }
    }
    let model = load(&model_dir).unwrap();
    let vocabulary = Vocabulary::load(&model_dir).unwrap();
    let dim = model.dim();
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let mut unit = || {
        let v: Vec<f32> = (0..dim)
            .map(|_| {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                (rng >> 40) as f32 / (1u64 << 24) as f32 - 0.5
            })
            .collect();
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.into_iter().map(|x| x / n).collect::<Vec<f32>>()
    };
    let ttl = Duration::from_secs(3600);
    let now = Instant::now();
    let before = rss_bytes();
    // Room for every entry: the bound is what is measured, not what evicts.
    let mut index = Index::new(dim, entries * 2);
    let salient = Salient::of("how do i boil an egg");
    let project: std::sync::Arc<str> = std::sync::Arc::from("bench");
    let start = Instant::now();
    for i in 0..entries {
        let mut k = [0u8; 32];
        k[..8].copy_from_slice(&(i as u64).to_le_bytes());
        let p = [(i % partitions) as u8; 32];
        index.insert(&project, p, &unit(), salient.clone(), Key(k), ttl, now);
        if i > 0 && i % 100_000 == 0 {
            eprintln!("{i} entries, {:.0} s", start.elapsed().as_secs_f64());
        }
    }
    let built = start.elapsed();
    let after = rss_bytes();
    println!(
        "index: {entries} entries in {partitions} partition(s), dim {dim}; built in {:.1} s ({:.1} µs an insert); resident memory +{:.0} MiB = {:.0} bytes an entry",
        built.as_secs_f64(),
        built.as_secs_f64() * 1e6 / entries as f64,
        (after - before) as f64 / (1 << 20) as f64,
        (after - before) as f64 / entries as f64
    );

    // 1 KiB prompts: a question padded with context, different each time.
    let base = "Please summarise the following meeting notes for the team and list the decisions and owners. ";
    let mut lookups = Vec::with_capacity(2000);
    let mut embeds = Vec::with_capacity(2000);
    for i in 0..2000 {
        let mut prompt = format!("{i} ");
        while prompt.len() < 1024 {
            prompt.push_str(base);
        }
        prompt.truncate(1024);
        let t = Instant::now();
        let prompt = vocabulary.corrected(&prompt);
        let spelt = t.elapsed();
        let v = embed(&model, &prompt);
        embeds.push(t.elapsed() - spelt);
        let s = Salient::of(&prompt);
        let found = index.find(&[(i % partitions) as u8; 32], &v, &s, 0.8, now);
        lookups.push(t.elapsed());
        std::hint::black_box(found);
    }
    let pct = |v: &mut Vec<Duration>, p: f64| {
        v.sort();
        v[((v.len() as f64 * p) as usize).min(v.len() - 1)].as_secs_f64() * 1e6
    };
    println!(
        "lookup of a 1 KiB prompt (spelling + embed + salient + search), 2000 on one thread: p50 {:.0} µs, p99 {:.0} µs, max {:.0} µs; embedding alone p50 {:.0} µs, p99 {:.0} µs",
        pct(&mut lookups, 0.5),
        pct(&mut lookups, 0.99),
        pct(&mut lookups, 1.0),
        pct(&mut embeds, 0.5),
        pct(&mut embeds, 0.99),
    );

    // The spelling pass's worst case: every word unknown and nothing near it ("qxzjv…").
    let mut spellings = Vec::with_capacity(2000);
    for i in 0..2000u32 {
        let mut prompt = String::with_capacity(1100);
        let mut n = i;
        while prompt.len() < 1024 {
            for _ in 0..7 {
                prompt.push(char::from(b"qxzjvkw"[(n % 7) as usize]));
                n = n.wrapping_mul(31).wrapping_add(7);
            }
            prompt.push(' ');
        }
        let t = Instant::now();
        std::hint::black_box(vocabulary.corrected(&prompt));
        spellings.push(t.elapsed());
    }
    println!(
        "spelling alone, 1 KiB of unknown words (the first 32 looked into): p50 {:.0} µs, p99 {:.0} µs",
        pct(&mut spellings, 0.5),
        pct(&mut spellings, 0.99),
    );
}
