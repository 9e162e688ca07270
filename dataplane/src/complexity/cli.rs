//! `warden-dataplane route score FILE`: run the complexity router over sample prompts the way the
//! data plane scores a request for `model: "auto"`, and print each prompt's tier. Operators use
//! it to see where their own traffic would go; `models/evaluate_routing.py` uses it to measure
//! the router on public corpora (docs/routing.md).
//!
//! FILE (or `-` for stdin) holds JSON lines, each an object with a `"text"` string: the one user
//! message of a chat request (`{"model":"auto","messages":[{"role":"user","content":TEXT}]}`, the
//! body the scorer reads). Each output line is `{"tier":…,"score":…,"cues":…}`, the tier and the
//! cues as the answer's `x-warden-route` header gives them.

use std::io::Write;

use super::{Scorer, Shape};

const USAGE: &str = "usage: warden-dataplane route score FILE|-\nFILE: JSON lines, each an object with a \"text\" string (the user message)";

/// Run a `route` subcommand; returns the process exit code.
pub fn run(args: &[String], out: &mut impl Write, err: &mut impl Write) -> u8 {
    crate::cli::run_tool(args, USAGE, out, err, |out, _| match args {
        [cmd, file] if cmd == "score" => score_cmd(file, out).map(|()| 0),
        _ => Err(USAGE.to_owned()),
    })
}

fn score_cmd(file: &str, out: &mut impl Write) -> Result<(), String> {
    let texts = crate::cli::read_texts(file)?;
    let scorer = Scorer::new()?;
    let scratch = scorer.scratch()?;
    let shape = Shape {
        messages: 1,
        ..Shape::default()
    };
    for text in texts {
        let body = serde_json::json!({
            "model": "auto",
            "messages": [{"role": "user", "content": text}],
        })
        .to_string();
        let s = scorer.score(&scratch, body.as_bytes(), shape);
        let line = serde_json::json!({
            "tier": s.tier_name(),
            "score": s.points,
            "cues": s.cue_names(),
        });
        writeln!(out, "{line}").map_err(|e| format!("writing: {e}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file of `lines` in a directory of this test's own.
    fn prompts(name: &str, lines: &str) -> std::path::PathBuf {
        let dir =
            std::env::temp_dir().join(format!("warden-route-cli-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        let file = dir.join("prompts.jsonl");
        std::fs::write(&file, lines).unwrap_or_else(|e| panic!("{e}"));
        file
    }

    fn run_with(args: &[&str]) -> (u8, String, String) {
        let args: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = run(&args, &mut out, &mut err);
        (
            code,
            String::from_utf8_lossy(&out).into_owned(),
            String::from_utf8_lossy(&err).into_owned(),
        )
    }

    #[test]
    fn each_prompt_gets_the_tier_a_request_would() {
        let file = prompts(
            "tiers",
            "{\"text\":\"hi there\"}\n\n{\"text\":\"Prove step by step that the square root of 2 is irrational.\"}\n",
        );
        let (code, out, err) = run_with(&["score", &file.to_string_lossy()]);
        assert_eq!(code, 0, "{err}");
        let lines: Vec<serde_json::Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["tier"], "simple");
        assert_eq!(lines[0]["cues"], "none");
        assert_eq!(lines[1]["tier"], "reasoning");
        assert_eq!(lines[1]["cues"], "reasoning");
    }

    #[test]
    fn mistakes_are_named_and_help_is_not_one() {
        assert_eq!(run_with(&["--help"]).0, 0);
        let (code, _, err) = run_with(&["score"]);
        assert_eq!(code, 2);
        assert!(err.contains("usage"), "{err}");
        let file = prompts("bad", "{\"txt\":1}\n");
        let (code, _, err) = run_with(&["score", &file.to_string_lossy()]);
        assert_eq!(code, 2);
        assert!(err.contains("line 1"), "{err}");
    }
}
