//! Guardrail accuracy on the labelled corpus (tests/corpus/corpus.jsonl, made by
//! tests/corpus/generate.py with a fixed seed): per-detector precision and recall for the values
//! the detectors locate, recall and false-positive rate for prompt injection and content safety.
//! The floors below are what CI holds the detectors to; the figures are printed for the docs.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)]

use std::collections::BTreeMap;

use warden_dataplane::guard::engine::Engine;
use warden_dataplane::guard::injection::{score_with_variants, Model};
use warden_dataplane::guard::Category;

#[derive(Default, Debug)]
struct Tally {
    tp: u32,
    fp: u32,
    fn_: u32,
}

impl Tally {
    fn precision(&self) -> f64 {
        f64::from(self.tp) / f64::from((self.tp + self.fp).max(1))
    }
    fn recall(&self) -> f64 {
        f64::from(self.tp) / f64::from((self.tp + self.fn_).max(1))
    }
}

/// What a finding is scored as: the phone detectors are one entity — a German and a British
/// number can share a format ("030 1234567"), and both become `[PHONE_n]`.
fn entity(detector: &str) -> &str {
    if detector.starts_with("phone_") {
        "phone"
    } else {
        detector
    }
}

#[test]
fn detectors_meet_their_accuracy_floors() {
    let corpus = std::fs::read_to_string(format!(
        "{}/../tests/corpus/corpus.jsonl",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let engine = Engine::new().unwrap();
    let scratch = engine.scratch().unwrap();
    let mut per: BTreeMap<String, Tally> = BTreeMap::new();
    let (mut inj, mut inj_fp, mut inj_neg) = (Tally::default(), 0u32, 0u32);
    let (mut safety, mut safety_fp, mut safety_neg) = (Tally::default(), 0u32, 0u32);
    for line in corpus.lines() {
        let item: serde_json::Value = serde_json::from_str(line).unwrap();
        let text = item["text"].as_str().unwrap();
        let labels: Vec<(String, Option<String>)> = item["labels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| {
                (
                    entity(l["detector"].as_str().unwrap()).to_owned(),
                    l["value"].as_str().map(str::to_owned),
                )
            })
            .collect();
        let mut found = Vec::new();
        engine.scan(&scratch, text.as_bytes(), &mut found);
        let located: Vec<(String, String)> = found
            .iter()
            .filter(|f| f.detector().category.located())
            .map(|f| {
                (
                    entity(f.detector().id).to_owned(),
                    text[f.start..f.end].to_owned(),
                )
            })
            .collect();
        for (d, v) in &located {
            let t = per.entry(d.clone()).or_default();
            if labels
                .iter()
                .any(|(ld, lv)| ld == d && lv.as_deref() == Some(v.as_str()))
            {
                t.tp += 1;
            } else {
                t.fp += 1;
                if std::env::var("CORPUS_DEBUG").is_ok() {
                    println!("FP {d} {v:?} in {text:?}");
                }
            }
        }
        for (ld, lv) in labels.iter().filter(|(_, v)| v.is_some()) {
            if !located
                .iter()
                .any(|(d, v)| d == ld && Some(v) == lv.as_ref())
            {
                per.entry(ld.clone()).or_default().fn_ += 1;
            }
        }
        let model = Model::builtin();
        let is_injection = score_with_variants(model, text) >= model.default_user;
        let want_injection = labels.iter().any(|(d, _)| d == "prompt_injection");
        match (want_injection, is_injection) {
            (true, true) => inj.tp += 1,
            (true, false) => {
                inj.fn_ += 1;
                if std::env::var("CORPUS_DEBUG").is_ok() {
                    println!("FN injection {text:?}");
                }
            }
            (false, true) => inj_fp += 1,
            _ => {}
        }
        inj_neg += u32::from(!want_injection);
        let is_unsafe = found
            .iter()
            .any(|f| f.detector().category == Category::ContentSafety);
        let want_unsafe = labels.iter().any(|(d, _)| d.starts_with("safety_"));
        match (want_unsafe, is_unsafe) {
            (true, true) => safety.tp += 1,
            (true, false) => safety.fn_ += 1,
            (false, true) => safety_fp += 1,
            _ => {}
        }
        safety_neg += u32::from(!want_unsafe);
    }
    println!("| detector | precision | recall | tp | fp | fn |\n|---|---|---|---|---|---|");
    for (d, t) in &per {
        println!(
            "| {d} | {:.3} | {:.3} | {} | {} | {} |",
            t.precision(),
            t.recall(),
            t.tp,
            t.fp,
            t.fn_
        );
    }
    let inj_fpr = f64::from(inj_fp) / f64::from(inj_neg.max(1));
    let safety_fpr = f64::from(safety_fp) / f64::from(safety_neg.max(1));
    println!(
        "| prompt injection | recall {:.3} | false-positive rate {:.4} |",
        inj.recall(),
        inj_fpr
    );
    println!(
        "| content safety | recall {:.3} | false-positive rate {:.4} |",
        safety.recall(),
        safety_fpr
    );
    for (d, t) in &per {
        assert!(
            t.precision() >= 0.95,
            "{d} precision {:.3} ({t:?})",
            t.precision()
        );
        assert!(t.recall() >= 0.95, "{d} recall {:.3} ({t:?})", t.recall());
    }
    // The injection model is trained on public corpora, never on this one (models/train.py); this
    // corpus is a regression guard for it, the held-out figures are in docs/guardrails.md.
    assert!(inj.recall() >= 0.65, "injection recall {:.3}", inj.recall());
    assert!(
        inj_fpr <= 0.01,
        "injection false-positive rate {inj_fpr:.4}"
    );
    assert!(
        safety.recall() >= 0.9,
        "content-safety recall {:.3}",
        safety.recall()
    );
    assert!(
        safety_fpr <= 0.01,
        "content-safety false-positive rate {safety_fpr:.4}"
    );
}
