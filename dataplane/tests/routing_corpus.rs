//! Complexity routing accuracy on the labelled prompts in tests/corpus/routing.jsonl (written
//! by hand, labelled by the tier a person would pick, not by the scorer): the share routed to
//! their labelled tier, and that no prompt lands more than one tier away. The figures are
//! printed for the docs.

#![allow(clippy::unwrap_used, clippy::print_stdout)]

use warden_dataplane::complexity::{Scorer, Shape, TIERS};

/// (share in their labelled tier, prompts more than one tier off) for one labelled file.
fn run(file: &str) -> (f64, u32) {
    let corpus = std::fs::read_to_string(format!(
        "{}/../tests/corpus/{file}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let scorer = Scorer::new().unwrap();
    let scratch = scorer.scratch().unwrap();
    let mut confusion = [[0u32; 4]; 4];
    let (mut right, mut total, mut far) = (0u32, 0u32, 0u32);
    for line in corpus.lines() {
        let item: serde_json::Value = serde_json::from_str(line).unwrap();
        let want = TIERS
            .iter()
            .position(|t| *t == item["tier"].as_str().unwrap())
            .unwrap();
        let body = serde_json::json!({"model": "auto", "messages": [{"role": "user", "content": item["text"]}]})
            .to_string();
        let shape = Shape {
            messages: 1,
            ..Shape::default()
        };
        let got = scorer.score(&scratch, body.as_bytes(), shape).tier;
        confusion[want][got] += 1;
        total += 1;
        right += u32::from(got == want);
        if want.abs_diff(got) > 1 {
            far += 1;
            println!(
                "far: labelled {} routed {}: {}",
                TIERS[want], TIERS[got], item["text"]
            );
        }
    }
    println!("labelled \\ routed: {TIERS:?}");
    for (i, row) in confusion.iter().enumerate() {
        println!("{:>10} {row:?}", TIERS[i]);
    }
    let accuracy = f64::from(right) / f64::from(total);
    println!("{file}: accuracy {accuracy:.3} ({right}/{total}), more than one tier off: {far}");
    (accuracy, far)
}

/// The set the cue lists were revised against (a first run scored 0.553): it must keep passing,
/// but its figure is fitted, not an estimate of accuracy on new prompts.
#[test]
fn prompts_land_in_their_labelled_tier() {
    let (accuracy, far) = run("routing.jsonl");
    assert!(accuracy >= 0.9, "accuracy {accuracy:.3}");
    assert!(far == 0, "{far} prompts more than one tier off");
}

/// Written after the revision and never tuned against: the honest estimates, and they are poor
/// (0.375 and 0.389 when written: cue words miss reasoning and engineering tasks phrased without
/// them). A second revision of the cues that fitted the first set moved the second by nothing
/// and cost 60 % more time per KB, so it was dropped. The floors guard against regressions;
/// they are not a quality bar.
#[test]
fn held_out_prompts_are_measured() {
    let (accuracy, far) = run("routing-holdout.jsonl");
    assert!(accuracy >= 0.35, "accuracy {accuracy:.3}");
    assert!(far <= 5, "{far} prompts more than one tier off");
    let (accuracy, far) = run("routing-holdout-2.jsonl");
    assert!(accuracy >= 0.35, "accuracy {accuracy:.3}");
    assert!(far <= 4, "{far} prompts more than one tier off");
}
