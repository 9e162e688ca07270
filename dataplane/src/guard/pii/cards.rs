//! Payment card numbers: Luhn, then the issuer table (prefix range and lengths of each network),
//! or, for a Luhn-valid number outside it, a card word just before it ("card", "Karte", "Visa").
//!
//! The table follows the IIN ranges the networks publish (ISO/IEC 7812 issuer identification
//! numbers as collected in the "Payment card number" reference table, 2025 edition). UATP (prefix
//! 1, 15 digits) is left out on purpose: it would claim every Luhn-valid French NIR.

use super::{digits, luhn, Candidate};

/// One network's range: numbers whose first `len(lo)` digits fall in `lo..=hi`, with one of
/// `lengths` digits in all.
struct Range {
    lo: u32,
    hi: u32,
    digits: u8,
    lengths: &'static [u8],
}

const fn r(lo: u32, hi: u32, digits: u8, lengths: &'static [u8]) -> Range {
    Range {
        lo,
        hi,
        digits,
        lengths,
    }
}

const L16_19: &[u8] = &[16, 17, 18, 19];
const L12_19: &[u8] = &[12, 13, 14, 15, 16, 17, 18, 19];

const RANGES: &[Range] = &[
    // Visa (incl. Electron); Visa 13 is legacy but still valid.
    r(4, 4, 1, &[13, 16, 19]),
    // Mastercard, 2-series included.
    r(51, 55, 2, &[16]),
    r(2221, 2720, 4, &[16]),
    // American Express.
    r(34, 34, 2, &[15]),
    r(37, 37, 2, &[15]),
    // Diners Club International.
    r(300, 305, 3, &[14, 15, 16, 17, 18, 19]),
    r(3095, 3095, 4, &[14, 15, 16, 17, 18, 19]),
    r(36, 36, 2, &[14, 15, 16, 17, 18, 19]),
    r(38, 39, 2, &[14, 15, 16, 17, 18, 19]),
    // Discover.
    r(6011, 6011, 4, L16_19),
    r(644, 649, 3, L16_19),
    r(65, 65, 2, L16_19),
    // JCB, and its legacy 15-digit ranges.
    r(3528, 3589, 4, L16_19),
    r(1800, 1800, 4, &[15]),
    r(2131, 2131, 4, &[15]),
    // UnionPay.
    r(62, 62, 2, L16_19),
    r(81, 81, 2, L16_19),
    // Maestro (domestic ranges included: 50, 56–69).
    r(50, 50, 2, L12_19),
    r(56, 69, 2, L12_19),
    // Mir, Borica.
    r(2200, 2205, 4, L16_19),
    // RuPay.
    r(60, 60, 2, &[16]),
    r(82, 82, 2, &[16]),
    r(508, 508, 3, &[16]),
    r(353, 353, 3, &[16]),
    r(356, 356, 3, &[16]),
    // Elo (the Brazilian ranges outside Visa's 4 and Maestro's 5/6 are 50xxxx and 65xxxx, covered
    // above); Troy, Humo, UzCard, BC Card.
    r(9792, 9792, 4, &[16]),
    r(9860, 9860, 4, &[16]),
    r(8600, 8600, 4, &[16]),
    r(94, 94, 2, &[16]),
    // Verve and Dankort sit inside the 50/65 ranges above; InterPayment and InstaPayment (636–639)
    // inside Maestro's 56–69.
];

/// Words that make a Luhn-valid number a card even outside the table.
const CONTEXT: &[&str] = &[
    "card",
    "cards",
    "cc",
    "credit",
    "debit",
    "visa",
    "mastercard",
    "amex",
    "maestro",
    "jcb",
    "discover",
    "diners",
    "unionpay",
    "karte",
    "kreditkarte",
    "carte",
    "tarjeta",
    "carta",
    "kaart",
    "karta",
    "kort",
    "cartão",
    "pay",
    "paid",
    "payment",
    "charge",
    "charged",
    "refund",
    "billing",
    "checkout",
    "purchase",
];

/// Names of product codes whose 12–13 digits can fall in a card range and pass Luhn.
const PRODUCT_CODES: &[&str] = &["ean", "ean-13", "gtin", "upc", "isbn", "isbn-13"];

/// Whether the table knows the number's prefix with its length.
fn network(d: &[u8]) -> bool {
    let len = d.len() as u8;
    RANGES.iter().any(|range| {
        let n = usize::from(range.digits);
        let prefix = d.iter().take(n).fold(0u32, |a, &x| a * 10 + u32::from(x));
        d.len() >= n && (range.lo..=range.hi).contains(&prefix) && range.lengths.contains(&len)
    })
}

/// Luhn, and a known issuer range or a card word before it.
pub fn card(c: &Candidate) -> Option<(usize, usize)> {
    let m = c.bytes();
    let d = digits(m);
    if !(12..=19).contains(&d.len()) || !luhn(&d) || !super::one_separator(m) {
        return None;
    }
    // The first groups of a longer number written the same way (`4842-4376-4116-7596-882`, a
    // 19-digit run whose first 16 digits pass): not a card of their own.
    let sep = m.iter().copied().find(|b| !b.is_ascii_digit());
    if sep.is_some() && c.after() == sep && c.text.get(c.end + 1).is_some_and(u8::is_ascii_digit) {
        return None;
    }
    // Twelve or thirteen bare digits in a network's range and Luhn-valid are a card too: a random
    // 12-digit id passes both about 1.5 % of the time (Maestro's 50 and 56–69 with Luhn), a
    // 13-digit one 1 % (Visa's 4) — a false redaction we take over a card sent upstream. Named
    // as a product code (EAN, GTIN, UPC, ISBN), they are not. Four groups of four is how cards
    // are written, whatever the issuer.
    let product_code = d.len() <= 13 && m.len() == d.len() && c.preceded_by(PRODUCT_CODES);
    let four_by_four = d.len() == 16 && m.len() == 19;
    let ok = (network(&d) && !product_code) || four_by_four || c.preceded_by(CONTEXT);
    ok.then_some((0, m.len()))
}

#[cfg(test)]
mod tests {
    use super::super::{Candidate, Plans};
    use super::*;

    fn check(text: &str) -> bool {
        let plans = Plans::empty();
        let at = text.find(|c: char| c.is_ascii_digit()).unwrap_or(0);
        let c = Candidate {
            text: text.as_bytes(),
            start: at,
            end: text.len(),
            phones: &plans,
        };
        card(&c).is_some()
    }

    #[test]
    fn every_network_in_any_grouping() {
        for n in [
            "4111 1111 1111 1111",
            "4222 2222 22222",
            "Visa 4222222222222",
            "5555-5555-5555-4444",
            "2223003122003222",
            "3782 822463 10005",
            "3056 930902 5904",
            "6011111111111117",
            "3530111333300000",
            "213100000000001",
            "6200000000000005",
            "6759649826438453",
            "2200000000000004",
            "6521 0000 0000 0007",
        ] {
            assert!(check(n), "{n}");
        }
    }

    #[test]
    fn lookalikes_need_a_card_word() {
        assert!(!check("4111 1111 1111 1112"), "Luhn");
        assert!(!check("1234567890123452"), "no such issuer");
        assert!(check("card 1234567890123452"), "Luhn-valid, named a card");
        assert!(
            check("1234 5678 9012 3452"),
            "Luhn-valid, written as cards are"
        );
        assert!(
            check("676329492851"),
            "12 bare digits in Maestro's range, Luhn-valid"
        );
        assert!(!check("EAN 676329492851"), "named as a product code");
        assert!(check("6763 2949 2851") && check("Maestro 676329492851"));
        assert!(!check("4111-1111 1111-1111"), "mixed separators");
        let longer = "4111-1111-1111-1111-882";
        let c = Candidate {
            text: longer.as_bytes(),
            start: 0,
            end: 19,
            phones: &Plans::empty(),
        };
        assert_eq!(card(&c), None, "the first groups of a longer number");
        assert!(
            check("4006381333932"),
            "thirteen bare digits, Visa's range, Luhn-valid"
        );
        assert!(!check("EAN 4006381333932") && !check("GTIN: 4006381333932"));
    }
}
