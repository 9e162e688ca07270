//! Money without floats: US dollars as an exact number of picodollars (10^-12 USD) in a u128,
//! and prices per million tokens as picodollars per token. A price with at most six decimal
//! places per million tokens is a whole number of picodollars per token, so every cost is an
//! exact integer product and every sum adds up to the cent and beyond.

use std::fmt;

const PICO_PER_USD: u128 = 1_000_000_000_000;

/// An amount in US dollars, exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Usd(pub u128);

impl Usd {
    /// A non-negative decimal amount (`"2.50"`, `"0.000001"`), at most 12 decimal places.
    pub fn parse(s: &str) -> Option<Usd> {
        let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
        if whole.is_empty() && frac.is_empty()
            || frac.len() > 12
            || !whole
                .bytes()
                .chain(frac.bytes())
                .all(|b| b.is_ascii_digit())
            || whole.len() > 15
        {
            return None;
        }
        let whole: u128 = if whole.is_empty() {
            0
        } else {
            whole.parse().ok()?
        };
        let frac: u128 = if frac.is_empty() {
            0
        } else {
            format!("{frac:0<12}").parse().ok()?
        };
        Some(Usd(whole * PICO_PER_USD + frac))
    }

    /// Saturating: token counts come from data planes, prices from operators.
    pub fn plus(self, other: Usd) -> Usd {
        Usd(self.0.saturating_add(other.0))
    }
}

impl fmt::Display for Usd {
    /// Every significant digit, at least two decimals: `12.50`, `0.0000021`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let whole = self.0 / PICO_PER_USD;
        let frac = format!("{:012}", self.0 % PICO_PER_USD);
        let trimmed = frac.trim_end_matches('0');
        let shown = if trimmed.len() < 2 {
            &frac[..2]
        } else {
            trimmed
        };
        write!(f, "{whole}.{shown}")
    }
}

/// A price per token, from a price per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rate(u128);

impl Rate {
    /// `"2.50"` dollars per million tokens; at most six decimal places.
    pub fn per_mtok(s: &str) -> Option<Rate> {
        let usd = Usd::parse(s)?;
        (usd.0 % 1_000_000 == 0).then_some(Rate(usd.0 / 1_000_000))
    }

    /// Saturating (a price near the parser's limit times a token count near u64's).
    pub fn cost(self, tokens: u64) -> Usd {
        Usd(self.0.saturating_mul(u128::from(tokens)))
    }

    /// Picodollars per token.
    pub fn pico_per_token(self) -> u128 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_parse_and_print_exactly() {
        assert_eq!(
            Usd::parse("2.50").map(|u| u.to_string()).as_deref(),
            Some("2.50")
        );
        assert_eq!(
            Usd::parse("0.000001").map(|u| u.to_string()).as_deref(),
            Some("0.000001")
        );
        assert_eq!(
            Usd::parse("3").map(|u| u.to_string()).as_deref(),
            Some("3.00")
        );
        for bad in ["", ".", "-1", "1e3", "0.1234567890123", "1,5"] {
            assert_eq!(Usd::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn costs_are_exact_products() {
        let overhead_in = Rate::per_mtok("0.10").unwrap_or_default();
        // 1 234 567 tokens at $0.10 per million: $0.1234567, exactly.
        assert_eq!(overhead_in.cost(1_234_567).to_string(), "0.1234567");
        let three: Usd = (0..3).map(|_| overhead_in.cost(1)).fold(Usd(0), Usd::plus);
        assert_eq!(three, overhead_in.cost(3), "no rounding drift in sums");
        assert_eq!(Rate::per_mtok("0.0000001"), None, "more than six decimals");
        assert_eq!(
            Rate::per_mtok("2.5")
                .unwrap_or_default()
                .cost(1_000_000)
                .to_string(),
            "2.50"
        );
    }
}
