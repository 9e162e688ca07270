//! What usage costs. BYOK traffic pays only Warden's overhead (by default $0.10 per million
//! input tokens and $0.20 per million output tokens); pooled traffic pays the provider's price
//! from the editable price table plus the same overhead. Cached prompt tokens are free on both
//! counts. Answers from Warden's own cache cost no provider anything: an exact hit is free, a
//! semantic hit pays half the overhead; what they would have cost is reported as savings. All
//! arithmetic is exact ([`warden_shared::money`]).

use std::collections::HashMap;

use serde::Deserialize;

use crate::store::usage::{Price, UsageRow};
use warden_shared::money::{Rate, Usd};

/// `[billing]` in the control plane's config.
#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields, default)]
pub struct BillingSection {
    /// Dollars per million (uncached) input tokens.
    pub overhead_input_per_mtok: String,
    /// Dollars per million output tokens.
    pub overhead_output_per_mtok: String,
}

impl Default for BillingSection {
    fn default() -> Self {
        BillingSection {
            overhead_input_per_mtok: "0.10".into(),
            overhead_output_per_mtok: "0.20".into(),
        }
    }
}

/// Warden's overhead rates.
#[derive(Debug, Clone, Copy, Default)]
pub struct Overhead {
    pub input: Rate,
    pub output: Rate,
}

impl BillingSection {
    pub fn overhead(&self) -> anyhow::Result<Overhead> {
        let rate = |s: &str, name: &str| {
            Rate::per_mtok(s).ok_or_else(|| {
                anyhow::anyhow!("[billing] {name} {s:?}: a decimal with at most 6 places")
            })
        };
        Ok(Overhead {
            input: rate(&self.overhead_input_per_mtok, "overhead_input_per_mtok")?,
            output: rate(&self.overhead_output_per_mtok, "overhead_output_per_mtok")?,
        })
    }
}

pub use warden_shared::catalog::DEFAULT_PRICES;

/// The price table as rates, by (provider, model).
pub type Prices = HashMap<(String, String), (Rate, Rate)>;

pub fn price_map(prices: &[Price]) -> Prices {
    prices
        .iter()
        .filter_map(|p| {
            Some((
                (p.provider.clone(), p.model.clone()),
                (
                    Rate::per_mtok(&p.input_per_mtok)?,
                    Rate::per_mtok(&p.output_per_mtok)?,
                ),
            ))
        })
        .collect()
}

/// Sums over usage rows: counts, tokens and money.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    pub requests: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cached_tokens: u64,
    pub overhead: Usd,
    pub provider_cost: Usd,
    /// Pooled traffic on a model missing from the price table (its provider cost is 0 here).
    pub unpriced: bool,
    /// Requests answered from Warden's cache (exact or semantic).
    pub cache_hits: u64,
    /// What those answers would have cost from the provider, less what they were billed.
    pub cache_savings: Usd,
}

impl Totals {
    /// Add one usage row, priced.
    pub fn add(&mut self, row: &UsageRow, overhead: &Overhead, prices: &Prices) {
        let n = |v: i64| u64::try_from(v).unwrap_or(0);
        let (input, output, cached) = (
            n(row.input_tokens),
            n(row.output_tokens),
            n(row.cached_tokens),
        );
        let billable = input.saturating_sub(cached);
        self.requests += n(row.requests);
        self.input_tokens += input;
        self.output_tokens += output;
        self.cached_tokens += cached;
        let full_overhead = overhead
            .input
            .cost(billable)
            .plus(overhead.output.cost(output));
        let mut full_provider = Usd(0);
        if row.key_source == "pooled" {
            match prices.get(&(row.provider.clone(), row.model.clone())) {
                Some((i, o)) => full_provider = i.cost(billable).plus(o.cost(output)),
                None => self.unpriced = true,
            }
        }
        let (overhead, provider) = match row.cache.as_str() {
            "" => (full_overhead, full_provider),
            "semantic" => (Usd(full_overhead.0 / 2), Usd(0)),
            // "exact", and any kind a newer data plane names: no provider was asked.
            _ => (Usd(0), Usd(0)),
        };
        if !row.cache.is_empty() {
            self.cache_hits += n(row.requests);
            let full = full_overhead.plus(full_provider).0;
            let billed = overhead.plus(provider).0;
            self.cache_savings = self.cache_savings.plus(Usd(full - billed));
        }
        self.overhead = self.overhead.plus(overhead);
        self.provider_cost = self.provider_cost.plus(provider);
    }

    pub fn merge(&mut self, other: &Totals) {
        self.requests += other.requests;
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
        self.cached_tokens += other.cached_tokens;
        self.overhead = self.overhead.plus(other.overhead);
        self.provider_cost = self.provider_cost.plus(other.provider_cost);
        self.unpriced |= other.unpriced;
        self.cache_hits += other.cache_hits;
        self.cache_savings = self.cache_savings.plus(other.cache_savings);
    }

    pub fn total(&self) -> Usd {
        self.overhead.plus(self.provider_cost)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(key_source: &str, input: i64, cached: i64, output: i64) -> UsageRow {
        UsageRow {
            day: "2026-11-22".into(),
            tenant: "t".into(),
            project: "p".into(),
            environment: "production".into(),
            provider: "openai".into(),
            model: "gpt-4o".into(),
            key_source: key_source.into(),
            cache: String::new(),
            requests: 1,
            input_tokens: input,
            output_tokens: output,
            cached_tokens: cached,
        }
    }

    /// gpt-4o at $2.50 / $10.00 per million input / output tokens.
    fn gpt_4o_list_price() -> Prices {
        price_map(&[Price {
            provider: "openai".into(),
            model: "gpt-4o".into(),
            input_per_mtok: "2.50".into(),
            output_per_mtok: "10.00".into(),
        }])
    }

    #[test]
    fn byok_pays_overhead_pooled_pays_the_provider_too_and_cached_tokens_are_free() {
        let overhead = BillingSection::default().overhead().unwrap_or_default();
        let prices = gpt_4o_list_price();
        let mut byok = Totals::default();
        byok.add(
            &row("byok", 1_000_000, 200_000, 500_000),
            &overhead,
            &prices,
        );
        // 800 000 billable input × $0.10/M + 500 000 output × $0.20/M = $0.08 + $0.10.
        assert_eq!(byok.overhead.to_string(), "0.18");
        assert_eq!(byok.provider_cost, Usd(0));
        let mut pooled = Totals::default();
        pooled.add(
            &row("pooled", 1_000_000, 200_000, 500_000),
            &overhead,
            &prices,
        );
        // 800 000 × $2.50/M + 500 000 × $10/M = $2 + $5.
        assert_eq!(pooled.provider_cost.to_string(), "7.00");
        assert_eq!(pooled.total().to_string(), "7.18");
        let mut unknown = row("pooled", 10, 0, 10);
        unknown.model = "gpt-9".into();
        let mut t = Totals::default();
        t.add(&unknown, &overhead, &prices);
        assert!(t.unpriced);
    }

    #[test]
    fn cache_hits_cost_no_provider_exact_is_free_semantic_pays_half_the_overhead() {
        let overhead = BillingSection::default().overhead().unwrap_or_default();
        let prices = gpt_4o_list_price();
        let hit = |source: &str, cache: &str| {
            let mut r = row(source, 1_000_000, 200_000, 500_000);
            r.cache = cache.into();
            let mut t = Totals::default();
            t.add(&r, &overhead, &prices);
            t
        };
        let exact = hit("pooled", "exact");
        assert_eq!((exact.total(), exact.cache_hits), (Usd(0), 1));
        // Would have been $7.00 from the provider + $0.18 overhead.
        assert_eq!(exact.cache_savings.to_string(), "7.18");
        let semantic = hit("byok", "semantic");
        assert_eq!(semantic.overhead.to_string(), "0.09");
        assert_eq!(semantic.provider_cost, Usd(0));
        assert_eq!(semantic.cache_savings.to_string(), "0.09");
        let mut sum = exact;
        sum.merge(&semantic);
        assert_eq!(
            (sum.cache_hits, sum.cache_savings.to_string().as_str()),
            (2, "7.27")
        );
    }
}
