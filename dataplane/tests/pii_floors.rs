//! PII accuracy floors on the frozen independent set (benches/pii/test.jsonl: values from Faker
//! 40.54.0 in 16 locales, templates the detectors were never tuned on; see
//! benches/pii/generate.py). Recall per entity, precision per entity, and the share of look-alike
//! lines (EAN-13, ISBN, Unix times, order and tracking numbers, invalid SSNs, Luhn-invalid card
//! numbers, …) with any PII finding. benches/pii/evaluate.py prints the same figures beside
//! Presidio's.
//!
//! The floors are the aims (precision 0.95 for every entity), except where a setting
//! trades one figure for another (`phone_standalone`, below): there the floor is the measured
//! figure, so CI catches a regression, and the trade stays visible here and in
//! docs/guardrails.md.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)]

use std::collections::BTreeMap;

use warden_dataplane::guard::engine::Engine;
use warden_dataplane::guard::Category;

/// The set's entity for a Warden detector (detectors not named here are not compared).
fn entity(detector: &str) -> Option<&'static str> {
    Some(match detector {
        "email" => "EMAIL_ADDRESS",
        "payment_card" => "CREDIT_CARD",
        "phone" => "PHONE_NUMBER",
        "iban" => "IBAN_CODE",
        "bic" => "SWIFT_CODE",
        "ipv4" | "ipv6" => "IP_ADDRESS",
        "us_ssn" => "US_SSN",
        "us_itin" => "US_ITIN",
        "uk_nino" => "UK_NINO",
        "fr_nir" => "FR_NIR",
        "es_dni" => "ES_NIF",
        "es_nie" => "ES_NIE",
        "it_fiscal_code" => "IT_FISCAL_CODE",
        "nl_bsn" => "NL_BSN",
        "pl_pesel" => "PL_PESEL",
        "ca_sin" => "CA_SIN",
        "in_aadhaar" => "IN_AADHAAR",
        "br_cpf" => "BR_CPF",
        "se_personnummer" => "SE_PERSONNUMMER",
        "passport" => "US_PASSPORT",
        _ => return None,
    })
}

/// (entity, recall floor). The aims: 0.99 for cards, IBAN, SSN/ITIN and checksummed national
/// ids; 0.97 for phones and e-mail; 0.95 for IPs.
const FLOORS: &[(&str, f64)] = &[
    ("CREDIT_CARD", 0.99),
    ("IBAN_CODE", 0.99),
    ("US_SSN", 0.99),
    ("US_ITIN", 0.99),
    ("UK_NINO", 0.99),
    ("FR_NIR", 0.99),
    ("ES_NIF", 0.99),
    ("ES_NIE", 0.99),
    ("IT_FISCAL_CODE", 0.99),
    ("NL_BSN", 0.99),
    ("PL_PESEL", 0.99),
    ("CA_SIN", 0.99),
    ("IN_AADHAAR", 0.99),
    ("BR_CPF", 0.99),
    ("SE_PERSONNUMMER", 0.99),
    ("SWIFT_CODE", 0.99),
    ("US_PASSPORT", 0.99),
    // Measured 0.980 on this set (seed 12012, 2026-12-06; precision 0.985). The 8 misses are
    // bare numbers with no leading zero and no telephony word ("neue Nummer:", "localizarme en
    // el", a number before "(ask for …)"), which only `phone_standalone` takes (below).
    ("PHONE_NUMBER", 0.97),
    ("EMAIL_ADDRESS", 0.97),
    ("IP_ADDRESS", 0.95),
];

#[derive(Default)]
struct Tally {
    tp: u32,
    fp: u32,
    fn_: u32,
}

/// Each entity's tally on a set of benches/pii, and (look-alike lines, those with a PII
/// finding).
fn measure(engine: &Engine, set: &str) -> (BTreeMap<&'static str, Tally>, u32, u32) {
    let set = std::fs::read_to_string(format!(
        "{}/../benches/pii/{set}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let scratch = engine.scratch().unwrap();
    let mut per: BTreeMap<&str, Tally> = BTreeMap::new();
    let (mut lookalikes, mut false_redactions) = (0u32, 0u32);
    let mut found = Vec::new();
    for line in set.lines() {
        let item: serde_json::Value = serde_json::from_str(line).unwrap();
        let text = item["text"].as_str().unwrap();
        found.clear();
        engine.scan(&scratch, text.as_bytes(), &mut found);
        // (entity, byte start, byte end) of every PII finding.
        let spans: Vec<(&str, usize, usize)> = found
            .iter()
            .filter(|f| f.detector().category == Category::Pii)
            .filter_map(|f| Some((entity(f.detector().id)?, f.start, f.end)))
            .collect();
        if item["group"].as_str().unwrap().starts_with("lookalike:") {
            lookalikes += 1;
            false_redactions += u32::from(!spans.is_empty());
            continue;
        }
        let labels: Vec<(&str, usize, usize)> = item["entities"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                let chars = |k: &str| e[k].as_u64().unwrap() as usize;
                let byte = |c: usize| text.char_indices().nth(c).map_or(text.len(), |(b, _)| b);
                (
                    e["type"].as_str().unwrap(),
                    byte(chars("start")),
                    byte(chars("end")),
                )
            })
            .map(|(t, s, e)| (FLOORS.iter().find(|f| f.0 == t).map_or("", |f| f.0), s, e))
            .collect();
        let mut used = vec![false; labels.len()];
        for &(kind, s, e) in &spans {
            let t = per.entry(kind).or_default();
            match labels
                .iter()
                .enumerate()
                .find(|(i, l)| !used[*i] && l.0 == kind && s < l.2 && l.1 < e)
            {
                Some((i, _)) => {
                    used[i] = true;
                    t.tp += 1;
                }
                None => t.fp += 1,
            }
        }
        for (l, hit) in labels.iter().zip(&used) {
            if !hit {
                per.entry(l.0).or_default().fn_ += 1;
            }
        }
    }
    (per, lookalikes, false_redactions)
}

/// The floors, with `phone` as the phone (recall, precision) floors and `bound` on the
/// look-alike rate.
fn check(engine: &Engine, phone: (f64, f64), bound: f64) {
    let (per, lookalikes, false_redactions) = measure(engine, "test.jsonl");
    let mut failed = floors_missed(&per, FLOORS, phone);
    let rate = f64::from(false_redactions) / f64::from(lookalikes.max(1));
    println!("look-alikes: {false_redactions} of {lookalikes} redacted ({rate:.3})");
    assert!(lookalikes >= 900, "the set holds its look-alikes");
    if rate > bound {
        failed.push(format!("false redactions {rate:.3} > {bound}"));
    }
    assert!(failed.is_empty(), "{failed:#?}");
}

/// The entities of `floors` whose recall is under its floor or whose precision is under 0.95
/// (for phones, the `phone` pair).
fn floors_missed(
    per: &BTreeMap<&str, Tally>,
    floors: &[(&str, f64)],
    phone: (f64, f64),
) -> Vec<String> {
    let mut failed = Vec::new();
    for &(kind, floor) in floors {
        let (floor, precise) = if kind == "PHONE_NUMBER" {
            phone
        } else {
            (floor, 0.95)
        };
        let t = per
            .get(kind)
            .unwrap_or_else(|| panic!("{kind} not in the set"));
        let recall = f64::from(t.tp) / f64::from((t.tp + t.fn_).max(1));
        let precision = f64::from(t.tp) / f64::from((t.tp + t.fp).max(1));
        println!("{kind:>16}: recall {recall:.3} (floor {floor}), precision {precision:.3}");
        if recall < floor || precision < precise {
            failed.push(format!(
                "{kind}: recall {recall:.3} < {floor} or precision {precision:.3} < {precise}"
            ));
        }
    }
    failed
}

#[test]
fn the_frozen_set_meets_the_floors() {
    let floor = FLOORS.iter().find(|f| f.0 == "PHONE_NUMBER").unwrap().1;
    check(&Engine::new().unwrap(), (floor, 0.95), 0.01);
}

/// `phone_standalone = true`: phones 0.993 on this set at precision 0.925, look-alikes 3.6 %
/// redacted (36 of 1 000: order numbers and Unix times valid in some plan, after words that name
/// nothing — "Run", "Sample size:", "The counter stopped at") — over the aim of 1 %, which this
/// switch trades for recall; the floors and bound hold those figures.
#[test]
fn phone_standalone_holds_its_figures() {
    check(
        &Engine::new().unwrap().phone_standalone(true),
        (0.99, 0.92),
        0.04,
    );
}

/// Another author's templates (pii-anon 1.3.0's, values by Faker; benches/pii/
/// pii_anon_templates.py), test half, measured once when added (2026-12-05): phones 1.000
/// (precision 0.986), cards, SSNs, e-mails, IBANs and IPs 1.000. The floors are the aims.
#[test]
fn the_pii_anon_templates_meet_the_aims() {
    const AIMS: &[(&str, f64)] = &[
        ("CREDIT_CARD", 0.99),
        ("IBAN_CODE", 0.99),
        ("US_SSN", 0.99),
        ("PHONE_NUMBER", 0.97),
        ("EMAIL_ADDRESS", 0.97),
        ("IP_ADDRESS", 0.95),
    ];
    let (per, _, _) = measure(&Engine::new().unwrap(), "pa-test.jsonl");
    let failed = floors_missed(&per, AIMS, (0.97, 0.95));
    assert!(failed.is_empty(), "{failed:#?}");
}
