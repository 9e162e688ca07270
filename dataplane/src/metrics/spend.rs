//! What answers used and cost, and what limits refused: tokens and billed dollars by provider and
//! key source, requests and tokens by model alias, and limit and budget rejections.
//!
//! Model aliases are the one label whose values come from the snapshot rather than from an enum,
//! so each shard keeps a fixed table of [`MAX_ALIASES`] slots, claimed by the first request that
//! names an alias; later aliases are counted under `model="other"`. Only routed requests carry an
//! alias (an unknown model is refused before it gets one), so a client cannot grow the label set.
//! The shard is each slot's only writer; `/metrics` reads the names through `OnceLock`.

use std::fmt::Write;
use std::sync::{Arc, OnceLock};

use warden_shared::catalog::Provider;
use warden_shared::snapshot::BillingRates;

use super::{provider_label, Counter, PROVIDERS, TOKEN_KINDS};
use crate::audit::Entry;
use crate::limits::Limit;

/// Model aliases counted by name per shard; the rest go to `model="other"`.
pub const MAX_ALIASES: usize = 64;

/// Status classes of the per-alias request counts.
const CLASSES: [&str; 4] = ["2xx", "4xx", "5xx", "other"];

/// Labels of [`Limit`], in its order.
const LIMITS: [&str; 3] = ["requests_per_minute", "tokens_per_minute", "monthly_spend"];

const KEY_SOURCES: [&str; 2] = ["byok", "pooled"];

#[derive(Default)]
struct AliasSlot {
    name: OnceLock<Arc<str>>,
    requests: [Counter; CLASSES.len()],
    /// Input, output and cached tokens ([`ALIAS_TOKENS`]).
    tokens: [Counter; ALIAS_TOKENS.len()],
    /// Picodollars billed.
    billed: Counter,
}

const ALIAS_TOKENS: [&str; 3] = ["input", "output", "cached"];

pub struct Spend {
    /// [provider][key source][kind, `TOKEN_KINDS` order].
    tokens: [[[Counter; TOKEN_KINDS.len()]; KEY_SOURCES.len()]; PROVIDERS],
    /// Picodollars billed: [provider][key source].
    billed: [[Counter; KEY_SOURCES.len()]; PROVIDERS],
    limits: [Counter; LIMITS.len()],
    aliases: Box<[AliasSlot]>,
    other: AliasSlot,
}

impl Default for Spend {
    fn default() -> Spend {
        Spend {
            tokens: Default::default(),
            billed: Default::default(),
            limits: Default::default(),
            aliases: (0..MAX_ALIASES).map(|_| AliasSlot::default()).collect(),
            other: AliasSlot::default(),
        }
    }
}

impl Spend {
    pub fn refused(&self, limit: Limit) {
        self.limits[limit as usize].inc();
    }

    /// An answered request's status, usage and what it was billed (priced with `billing`).
    pub fn answered(&self, entry: &Entry, status: u16, billing: &BillingRates) {
        let provider = entry.provider.and_then(Provider::from_name);
        let p = provider.map_or(0, |p| p.index() + 1);
        let source = usize::from(entry.key_source == Some("pooled"));
        let slot = entry.model_alias.as_deref().map(|a| self.slot(a));
        if let Some(slot) = slot {
            let class = match status {
                200..=299 => 0,
                400..=499 => 1,
                500..=599 => 2,
                _ => 3,
            };
            slot.requests[class].inc();
        }
        let Some(u) = entry.usage else {
            return;
        };
        // A cached answer used no provider tokens (the cache's own figures count it), and is
        // billed as a hit.
        let hit = entry.cache.is_some();
        let counts = [
            u.input_tokens,
            u.output_tokens,
            u.cached_tokens,
            u.reasoning_tokens,
        ];
        for (counter, n) in self.tokens[p][source].iter().zip(counts) {
            counter.add(if hit { 0 } else { n });
        }
        let pico = provider.map_or(0, |provider| {
            let model = entry.upstream_model.as_deref().unwrap_or("");
            crate::limits::cost(billing, provider, model, source == 1, &u, entry.cache)
        });
        self.billed[p][source].add(pico);
        if let Some(slot) = slot {
            if !hit {
                slot.tokens[0].add(u.input_tokens);
                slot.tokens[1].add(u.output_tokens);
                slot.tokens[2].add(u.cached_tokens);
            }
            slot.billed.add(pico);
        }
    }

    /// The slot counting `alias`: its own, a free one it claims, or `other`.
    fn slot(&self, alias: &str) -> &AliasSlot {
        for slot in self.aliases.iter() {
            match slot.name.get() {
                Some(name) if **name == *alias => return slot,
                Some(_) => continue,
                None => {
                    // This shard is the only writer: the slot it finds free stays its own.
                    let _ = slot.name.set(Arc::from(alias));
                    return slot;
                }
            }
        }
        &self.other
    }
}

/// Every shard's figures, summed (aliases merged by name).
pub fn render(out: &mut String, shards: &[&Spend]) {
    let sum = |f: &dyn Fn(&Spend) -> u64| shards.iter().map(|s| f(s)).sum::<u64>();
    let _ = writeln!(
        out,
        "# HELP warden_tokens_total Tokens by provider, key source and kind (input counts cached ones too).\n# TYPE warden_tokens_total counter"
    );
    for p in 1..PROVIDERS {
        for (s, source) in KEY_SOURCES.iter().enumerate() {
            for (k, kind) in TOKEN_KINDS.iter().enumerate() {
                let n = sum(&|m| m.tokens[p][s][k].get());
                let _ = writeln!(
                    out,
                    "warden_tokens_total{{provider=\"{}\",key_source=\"{source}\",kind=\"{kind}\"}} {n}",
                    provider_label(p)
                );
            }
        }
    }
    let _ = writeln!(
        out,
        "# HELP warden_billed_dollars_total What answers were billed, by provider and key source: Warden's overhead, plus the provider's list price for pooled keys ([billing] rates of the snapshot).\n# TYPE warden_billed_dollars_total counter"
    );
    for p in 1..PROVIDERS {
        for (s, source) in KEY_SOURCES.iter().enumerate() {
            let pico = sum(&|m| m.billed[p][s].get());
            let _ = writeln!(
                out,
                "warden_billed_dollars_total{{provider=\"{}\",key_source=\"{source}\"}} {}",
                provider_label(p),
                pico as f64 / 1e12
            );
        }
    }
    let _ = writeln!(
        out,
        "# HELP warden_limit_rejections_total Requests refused (429) by a project's limit or spend cap.\n# TYPE warden_limit_rejections_total counter"
    );
    for (l, limit) in LIMITS.iter().enumerate() {
        let n = sum(&|m| m.limits[l].get());
        let _ = writeln!(
            out,
            "warden_limit_rejections_total{{limit=\"{limit}\"}} {n}"
        );
    }
    // Aliases by name across shards, in first-seen order; `other` last.
    let mut names: Vec<&str> = Vec::new();
    for s in shards {
        for slot in s.aliases.iter() {
            match slot.name.get() {
                Some(n) if !names.contains(&&**n) => names.push(n),
                Some(_) => {}
                None => break,
            }
        }
    }
    let of = |name: Option<&str>, f: &dyn Fn(&AliasSlot) -> u64| -> u64 {
        shards
            .iter()
            .map(|s| match name {
                Some(name) => s
                    .aliases
                    .iter()
                    .find(|slot| slot.name.get().is_some_and(|n| **n == *name))
                    .map_or(0, f),
                None => f(&s.other),
            })
            .sum()
    };
    let labels: Vec<(Option<&str>, String)> = names
        .iter()
        .map(|n| (Some(*n), label_value(n)))
        .chain([(None, "other".to_owned())])
        .collect();
    let _ = writeln!(
        out,
        "# HELP warden_model_requests_total Routed requests by model alias (at most {MAX_ALIASES} per shard; the rest as \"other\") and status class.\n# TYPE warden_model_requests_total counter"
    );
    for (name, label) in &labels {
        for (c, class) in CLASSES.iter().enumerate() {
            let n = of(*name, &|slot| slot.requests[c].get());
            if n > 0 {
                let _ = writeln!(
                    out,
                    "warden_model_requests_total{{model=\"{label}\",status_class=\"{class}\"}} {n}"
                );
            }
        }
    }
    let _ = writeln!(
        out,
        "# HELP warden_model_tokens_total Tokens by model alias and kind.\n# TYPE warden_model_tokens_total counter"
    );
    for (name, label) in &labels {
        for (k, kind) in ALIAS_TOKENS.iter().enumerate() {
            let n = of(*name, &|slot| slot.tokens[k].get());
            if n > 0 {
                let _ = writeln!(
                    out,
                    "warden_model_tokens_total{{model=\"{label}\",kind=\"{kind}\"}} {n}"
                );
            }
        }
    }
    render_billed(out, &labels, &|name| of(name, &|slot| slot.billed.get()));
}

/// What each model alias was billed, in dollars.
fn render_billed(
    out: &mut String,
    labels: &[(Option<&str>, String)],
    of: &dyn Fn(Option<&str>) -> u64,
) {
    let _ = writeln!(
        out,
        "# HELP warden_model_billed_dollars_total What answers were billed, by model alias.\n# TYPE warden_model_billed_dollars_total counter"
    );
    for (name, label) in labels {
        let pico = of(*name);
        if pico > 0 {
            let _ = writeln!(
                out,
                "warden_model_billed_dollars_total{{model=\"{label}\"}} {}",
                pico as f64 / 1e12
            );
        }
    }
}

/// A label value as the exposition format wants it: backslash, quote and newline escaped.
fn label_value(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use warden_shared::audit::Usage;

    fn entry(alias: &str, source: &'static str, input: u64, output: u64) -> Entry {
        Entry {
            provider: Some("openai"),
            model_alias: Some(Arc::from(alias)),
            upstream_model: Some(Arc::from("gpt-4o")),
            key_source: Some(source),
            usage: Some(Usage {
                input_tokens: input,
                output_tokens: output,
                ..Usage::default()
            }),
            ..Entry::default()
        }
    }

    #[test]
    fn aliases_are_bounded_and_merged_by_name_and_costs_by_key_source() {
        let billing = BillingRates {
            overhead_input: 1_000_000, // $1 per million input tokens
            prices: vec![(Provider::OpenAi, "gpt-4o".into(), 2_000_000, 0)],
            ..BillingRates::default()
        };
        let (a, b) = (Spend::default(), Spend::default());
        a.answered(&entry("gpt-4o", "byok", 1_000, 10), 200, &billing);
        b.answered(&entry("gpt-4o", "pooled", 1_000, 10), 502, &billing);
        for i in 0..MAX_ALIASES + 5 {
            a.answered(&entry(&format!("alias-{i}"), "byok", 1, 1), 200, &billing);
        }
        a.refused(Limit::MonthlySpend);
        let mut text = String::new();
        render(&mut text, &[&a, &b]);
        assert!(
            text.contains("warden_model_requests_total{model=\"gpt-4o\",status_class=\"2xx\"} 1")
        );
        assert!(
            text.contains("warden_model_requests_total{model=\"gpt-4o\",status_class=\"5xx\"} 1")
        );
        assert!(text.contains("warden_model_tokens_total{model=\"gpt-4o\",kind=\"input\"} 2000"));
        // gpt-4o took one slot: 63 more aliases by name, 6 as other.
        assert!(text.contains("model=\"alias-62\""));
        assert!(!text.contains("model=\"alias-63\""));
        assert!(
            text.contains("warden_model_requests_total{model=\"other\",status_class=\"2xx\"} 6")
        );
        assert!(text.contains(
            "warden_tokens_total{provider=\"openai\",key_source=\"pooled\",kind=\"input\"} 1000"
        ));
        // BYOK: overhead only ($0.001 + 69 × $0.000001); pooled: overhead and list price ($0.003).
        assert!(text.contains(
            "warden_billed_dollars_total{provider=\"openai\",key_source=\"byok\"} 0.001069"
        ));
        assert!(text.contains(
            "warden_billed_dollars_total{provider=\"openai\",key_source=\"pooled\"} 0.003"
        ));
        assert!(text.contains("warden_limit_rejections_total{limit=\"monthly_spend\"} 1"));
        // gpt-4o: $0.001 (BYOK, overhead) + $0.003 (pooled, overhead and list price).
        assert!(text.contains("warden_model_billed_dollars_total{model=\"gpt-4o\"} 0.004"));
        assert!(text.contains("warden_limit_rejections_total{limit=\"tokens_per_minute\"} 0"));
        assert_eq!(label_value("a\"b\\c"), "a\\\"b\\\\c");
    }
}
