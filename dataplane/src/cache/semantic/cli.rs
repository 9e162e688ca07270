//! `warden-dataplane cache compare --model DIR FILE|-`: how the semantic cache sees pairs of
//! questions. FILE holds JSON lines, each an object with strings `"a"` and `"b"`; each output
//! line is `{"similarity": cosine, "salient": same numbers/negations/names}` — a pair is a hit
//! when `salient` is true and `similarity` is at least the project's `semantic_threshold`.
//! Operators try a threshold on their own traffic with it; `benches/semantic` measures the
//! tier's precision with it. The last line on stderr is a timing summary: texts embedded,
//! their bytes, and the nanoseconds spent correcting spelling and embedding only.
//!
//! `warden-dataplane cache embed --model DIR FILE|-`: each JSON line's `"text"` as the model
//! embeds it, one `[f32, …]` line each (unit vectors, what the index stores); for measuring what
//! the embedding separates (`models/probe_embedding.py`).

use std::io::Write;
use std::time::Instant;

use super::salient::Salient;
use super::spelling::Vocabulary;
use super::{embed, index::dot, load};

const USAGE: &str = "usage: warden-dataplane cache compare --model DIR FILE|-\n       warden-dataplane cache embed --model DIR FILE|-\nFILE: JSON lines, each an object with strings \"a\" and \"b\" (compare) or a \"text\" string (embed)";

/// Run a `cache` subcommand; returns the process exit code.
pub fn run(args: &[String], out: &mut impl Write, err: &mut impl Write) -> u8 {
    crate::cli::run_tool(args, USAGE, out, err, |out, err| {
        match args {
            [cmd, flag, dir, file] if cmd == "compare" && flag == "--model" => {
                compare(dir, file, out, err)
            }
            [cmd, flag, dir, file] if cmd == "embed" && flag == "--model" => {
                embed_cmd(dir, file, out)
            }
            _ => Err(USAGE.to_owned()),
        }
        .map(|()| 0)
    })
}

fn embed_cmd(dir: &str, file: &str, out: &mut impl Write) -> Result<(), String> {
    let model = load(std::path::Path::new(dir)).map_err(|e| format!("{e:#}"))?;
    for text in crate::cli::read_texts(file)? {
        let line = serde_json::to_string(&embed(&model, &text)).map_err(|e| e.to_string())?;
        writeln!(out, "{line}").map_err(|e| format!("writing: {e}"))?;
    }
    Ok(())
}

fn compare(
    dir: &str,
    file: &str,
    out: &mut impl Write,
    err: &mut impl Write,
) -> Result<(), String> {
    let model = load(std::path::Path::new(dir)).map_err(|e| format!("{e:#}"))?;
    let vocabulary = Vocabulary::load(std::path::Path::new(dir)).map_err(|e| format!("{e:#}"))?;
    let (mut texts, mut bytes, mut nanos) = (0u64, 0u64, 0u128);
    for (n, v) in crate::cli::json_lines(file)? {
        let (Some(a), Some(b)) = (v["a"].as_str(), v["b"].as_str()) else {
            return Err(format!("line {n}: wants strings \"a\" and \"b\""));
        };
        let start = Instant::now();
        let (a, b) = (vocabulary.corrected(a), vocabulary.corrected(b));
        let (ea, eb) = (embed(&model, &a), embed(&model, &b));
        nanos += start.elapsed().as_nanos();
        texts += 2;
        bytes += (a.len() + b.len()) as u64;
        let line = serde_json::json!({
            "similarity": dot(&ea, &eb),
            "salient": Salient::of(&a).matches(&Salient::of(&b)),
        });
        writeln!(out, "{line}").map_err(|e| e.to_string())?;
    }
    let _ = writeln!(
        err,
        "{}",
        serde_json::json!({"texts": texts, "bytes": bytes, "embed_ns": nanos as u64})
    );
    Ok(())
}
