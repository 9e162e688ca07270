//! Complexity routing: a request for model `auto` (or another route group) is scored and sent
//! to the model its tier maps to — `simple`, `medium`, `complex` or `reasoning`.
//!
//! The score reads the request body once: one Hyperscan pass (compiled once per process) finds
//! cue words, each category counting once, and one byte-class pass counts code punctuation and
//! digits; the length, the number of messages, tools and the output size asked for come from
//! the same bytes and the parsed fields. Points:
//!
//! | cue | points |
//! |---|---|
//! | body over 2 KB / over 8 KB | +1 / +1 more |
//! | code: a fence; code syntax or a language name (or dense code punctuation); an engineering task ("refactor", "implement", "debug", …) or asking for a program ("write a C++ program", "implement a function", …); an engineering artefact ("unit tests", "REST API", "stack trace", …) | +1 each |
//! | a writing task ("write", "draft", "summarise", "explain", …) | +1 |
//! | mathematics: math words, LaTeX, quantitative tasks ("calculate", "solve", "how many ways", "expected value", …), or digits and operators over 4 % of the bytes | +1 |
//! | analysis words: "analyse/evaluate", "trade-offs/pros and cons", "design a/architecture" | +1 each |
//! | strong reasoning words ("step by step", "prove", "derive", "think carefully", "puzzle", "riddle", "logic", "deduce", "liars") | +2 |
//! | tools offered; more than 6 messages; more than 2 000 output tokens asked for | +1 each |
//!
//! Tier: `reasoning` for strong reasoning words, two analysis cues, or mathematics without code;
//! otherwise `complex` from 3 points or when a program is asked for, `medium` from 1, else
//! `simple`. The cues were revised against public corpora (docs/routing.md), never the held-out
//! ones. The answer's
//! `x-warden-route` header says which tier, the score and the cues.

pub mod cli;

use hyperscan::prelude::*;

/// The tiers, cheapest first.
pub const TIERS: [&str; 4] = ["simple", "medium", "complex", "reasoning"];

// Cue categories; each counts once per request however often it matches.
const FENCE: usize = 0;
const SYNTAX: usize = 1;
const TASK: usize = 2;
const ARTEFACT: usize = 3;
const WRITING: usize = 4;
const MATH: usize = 5;
const STRONG: usize = 6;
const WEAK_ANALYSIS: usize = 7;
const WEAK_TRADEOFF: usize = 8;
const WEAK_DESIGN: usize = 9;
const PROGRAM: usize = 10;
const CATEGORIES: usize = 11;

const CUES: &[(usize, &str)] = &[
    (FENCE, r"```"),
    (
        SYNTAX,
        r"\b(?:def|fn|func|class|struct|impl|import|#include|public static|select|console\.log|println!?|return|function|regex|python|rust|golang|javascript|typescript|java|c\+\+|sql)\b",
    ),
    (
        TASK,
        r"\b(?:refactor|implement|migrate|port this|debug|review this|write a complete|build a)\b",
    ),
    (
        ARTEFACT,
        r"\b(?:unit tests?|rest api|crud|endpoints?|stack ?trace|traceback|thread-safe|crash loop|type hints)\b",
    ),
    (
        WRITING,
        r"\b(?:write|draft|summari[sz]e|rewrite|explain|describe|compose|cover letter|email)\b|\blist \w+ ideas\b",
    ),
    (
        MATH,
        r"\b(?:integral|derivative|equation|theorem|matrix|eigen\w*|probability|polynomial|prime numbers?|modulo|induction)\b",
    ),
    (MATH, r"\\(?:frac|sum|int|sqrt|lim)\b|\$\$"),
    (
        MATH,
        r"\b(?:calculate|compute|solve|find the value|remainder|how many (?:ways|integers|solutions|times)|area of|volume of|average of|sum of the|expected value|odds of)\b",
    ),
    (
        STRONG,
        r"\b(?:puzzle|riddle|logic(?:al)?|deduce|deduction|truth-tellers?|liars?)\b",
    ),
    (
        STRONG,
        r"\b(?:step[ -]by[ -]step|prove|proof|derive|think carefully|reason about)\b",
    ),
    (WEAK_ANALYSIS, r"\b(?:analy[sz]e|evaluate|assess)\b"),
    (
        WEAK_TRADEOFF,
        r"\b(?:trade-?offs?|pros and cons|compare and contrast)\b",
    ),
    (WEAK_DESIGN, r"\b(?:design an?|architecture)\b"),
    (
        PROGRAM,
        r"\b(?:write|implement|develop|create|build|code|generate|give me)\s+(?:me\s+)?(?:an?\s+|the\s+|some\s+)?(?:[\w+#.-]+\s+){0,3}(?:program|function|script|class|method|website|web ?page|web ?app|app|api|endpoint|query|regex|algorithm|module|library|cli|bot)s?\b",
    ),
];

/// Byte classes for the density counts.
const CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let punct = b"{};()<>[]";
    let mut i = 0;
    while i < punct.len() {
        t[punct[i] as usize] = 1;
        i += 1;
    }
    let numeric = b"0123456789+*=^/";
    let mut i = 0;
    while i < numeric.len() {
        t[numeric[i] as usize] = 2;
        i += 1;
    }
    t
};

pub struct Scorer {
    db: BlockDatabase,
}

/// A request's score and what it found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Score {
    pub points: u32,
    pub tier: usize,
    pub code: bool,
    pub math: bool,
    pub reasoning: bool,
    pub tools: bool,
    pub long: bool,
    pub deep: bool,
    pub big_output: bool,
}

impl Score {
    pub fn tier_name(&self) -> &'static str {
        TIERS[self.tier]
    }

    /// The cues found, comma-separated (`code,tools`), or `none`.
    pub fn cue_names(&self) -> String {
        let cues: Vec<&str> = [
            (self.code, "code"),
            (self.math, "math"),
            (self.reasoning, "reasoning"),
            (self.tools, "tools"),
            (self.long, "long"),
            (self.deep, "deep"),
            (self.big_output, "output"),
        ]
        .into_iter()
        .filter_map(|(on, name)| on.then_some(name))
        .collect();
        if cues.is_empty() {
            "none".to_owned()
        } else {
            cues.join(",")
        }
    }

    /// The `x-warden-route` header value: `tier=complex; score=4; cues=code,tools; model=…`.
    pub fn header(&self, model: &str) -> Vec<u8> {
        format!(
            "tier={}; score={}; cues={}; model={model}",
            self.tier_name(),
            self.points,
            self.cue_names()
        )
        .into_bytes()
    }
}

/// What the scorer reads besides the body bytes.
#[derive(Debug, Clone, Copy, Default)]
pub struct Shape {
    pub messages: usize,
    pub tools: bool,
    pub max_output: Option<u64>,
}

impl Scorer {
    pub fn new() -> Result<Scorer, String> {
        let patterns: Vec<Pattern> = CUES
            .iter()
            .enumerate()
            .map(|(i, (_, p))| Pattern {
                expression: (*p).to_owned(),
                flags: CompileFlags::CASELESS | CompileFlags::SINGLEMATCH,
                id: Some(i),
                ext: Default::default(),
                som: None,
            })
            .collect();
        let db = Patterns(patterns)
            .build()
            .map_err(|e| format!("compiling the complexity cues: {e}"))?;
        Ok(Scorer { db })
    }

    pub fn scratch(&self) -> Result<Scratch, String> {
        self.db
            .alloc_scratch()
            .map_err(|e| format!("complexity scratch: {e}"))
    }

    pub fn score(&self, scratch: &Scratch, body: &[u8], shape: Shape) -> Score {
        let mut found = [false; CATEGORIES];
        let _ = self.db.scan(body, scratch, |id, _, _, _| {
            found[CUES[id as usize].0] = true;
            Matching::Continue
        });
        // One table lookup per byte: bit 0 code punctuation, bit 1 digits and operators.
        let (mut punct, mut numeric) = (0usize, 0usize);
        for &b in body {
            let c = CLASS[usize::from(b)];
            punct += usize::from(c & 1);
            numeric += usize::from(c >> 1);
        }
        let n = body.len().max(1);
        let hit = |c: usize| u32::from(found[c]);
        let weak = hit(WEAK_ANALYSIS) + hit(WEAK_TRADEOFF) + hit(WEAK_DESIGN);
        let dense_code = punct * 50 > n && n > 200;
        let code_points = hit(FENCE)
            + hit(SYNTAX).max(u32::from(dense_code))
            + hit(TASK).max(hit(PROGRAM))
            + hit(ARTEFACT);
        let mut s = Score {
            code: code_points > 0,
            math: found[MATH] || numeric * 25 > n && n > 40,
            reasoning: found[STRONG] || weak >= 2,
            tools: shape.tools,
            long: body.len() > 2048,
            deep: shape.messages > 6,
            big_output: shape.max_output.is_some_and(|m| m > 2000),
            ..Score::default()
        };
        s.points = u32::from(s.long)
            + u32::from(body.len() > 8192)
            + code_points
            + hit(WRITING)
            + u32::from(s.math)
            + weak
            + 2 * hit(STRONG)
            + u32::from(s.tools)
            + u32::from(s.deep)
            + u32::from(s.big_output);
        s.tier = if s.reasoning || (s.math && (weak >= 1 || !s.code)) {
            3
        } else if s.points >= 3 || found[PROGRAM] {
            2
        } else if s.points >= 1 {
            1
        } else {
            0
        };
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tier(scorer: &Scorer, text: &str, shape: Shape) -> &'static str {
        let scratch = scorer.scratch().unwrap_or_else(|e| panic!("{e}"));
        let body =
            serde_json::json!({"model": "auto", "messages": [{"role": "user", "content": text}]})
                .to_string();
        scorer.score(&scratch, body.as_bytes(), shape).tier_name()
    }

    #[test]
    fn tiers_follow_the_cues() {
        let s = Scorer::new().unwrap_or_else(|e| panic!("{e}"));
        let one = Shape {
            messages: 1,
            ..Shape::default()
        };
        assert_eq!(tier(&s, "What is the capital of France?", one), "simple");
        assert_eq!(
            tier(&s, "Fix this: ```fn main() { println!(\"hi\") }```", one),
            "medium"
        );
        assert_eq!(
            tier(
                &s,
                "Refactor this function and add unit tests: ```def f(x): return x```",
                Shape { tools: true, ..one }
            ),
            "complex"
        );
        assert_eq!(
            tier(
                &s,
                "Prove step by step that the integral of 2x is x^2 + C.",
                one
            ),
            "reasoning"
        );
        // Mathematics without code is reasoning; with code it is a programming task.
        assert_eq!(
            tier(
                &s,
                "Two dice are rolled. What is the expected value of their sum?",
                one
            ),
            "reasoning"
        );
        assert_eq!(
            tier(
                &s,
                "Calculate the total in this Python function: ```def total(xs): return sum(xs)```",
                one
            ),
            "complex"
        );
        assert_eq!(
            tier(&s, "A logic puzzle: who owns the zebra?", one),
            "reasoning"
        );
        // Asking for a program is a programming task, whatever the words around it.
        assert_eq!(
            tier(
                &s,
                "Write a C++ program to print the nth Fibonacci number.",
                one
            ),
            "complex"
        );
        assert_eq!(
            tier(
                &s,
                "Write a letter to my landlord about the broken heating.",
                one
            ),
            "medium"
        );
    }
}
