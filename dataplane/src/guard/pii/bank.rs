//! Bank account numbers (IBAN) and bank codes (BIC/SWIFT).
//!
//! IBAN lengths follow the SWIFT IBAN registry (release 99, 2025): a value must have its
//! country's length and pass ISO 7064 mod 97. A BIC is four letters, an ISO 3166 country, two
//! location and three optional branch characters; since an eight- or eleven-letter capitalised
//! word can take that shape, a BIC without a digit needs "BIC", "SWIFT" or "bank" before it.

use super::Candidate;

/// Country code and IBAN length, from the registry.
const IBAN_LENGTHS: &[(&[u8; 2], usize)] = &[
    (b"AD", 24),
    (b"AE", 23),
    (b"AL", 28),
    (b"AT", 20),
    (b"AZ", 28),
    (b"BA", 20),
    (b"BE", 16),
    (b"BG", 22),
    (b"BH", 22),
    (b"BI", 27),
    (b"BR", 29),
    (b"BY", 28),
    (b"CH", 21),
    (b"CR", 22),
    (b"CY", 28),
    (b"CZ", 24),
    (b"DE", 22),
    (b"DJ", 27),
    (b"DK", 18),
    (b"DO", 28),
    (b"EE", 20),
    (b"EG", 29),
    (b"ES", 24),
    (b"FI", 18),
    (b"FK", 18),
    (b"FO", 18),
    (b"FR", 27),
    (b"GB", 22),
    (b"GE", 22),
    (b"GI", 23),
    (b"GL", 18),
    (b"GR", 27),
    (b"GT", 28),
    (b"HN", 28),
    (b"HR", 21),
    (b"HU", 28),
    (b"IE", 22),
    (b"IL", 23),
    (b"IQ", 23),
    (b"IS", 26),
    (b"IT", 27),
    (b"JO", 30),
    (b"KW", 30),
    (b"KZ", 20),
    (b"LB", 28),
    (b"LC", 32),
    (b"LI", 21),
    (b"LT", 20),
    (b"LU", 20),
    (b"LV", 21),
    (b"LY", 25),
    (b"MC", 27),
    (b"MD", 24),
    (b"ME", 22),
    (b"MK", 19),
    (b"MN", 20),
    (b"MR", 27),
    (b"MT", 31),
    (b"MU", 30),
    (b"NI", 28),
    (b"NL", 18),
    (b"NO", 15),
    (b"OM", 23),
    (b"PK", 24),
    (b"PL", 28),
    (b"PS", 29),
    (b"PT", 25),
    (b"QA", 29),
    (b"RO", 24),
    (b"RS", 22),
    (b"RU", 33),
    (b"SA", 24),
    (b"SC", 31),
    (b"SD", 18),
    (b"SE", 24),
    (b"SI", 19),
    (b"SK", 24),
    (b"SM", 27),
    (b"SO", 23),
    (b"ST", 25),
    (b"SV", 28),
    (b"TL", 23),
    (b"TN", 24),
    (b"TR", 26),
    (b"UA", 29),
    (b"VA", 22),
    (b"VG", 24),
    (b"XK", 20),
    (b"YE", 30),
];

/// ISO 3166-1 alpha-2 codes, two letters each.
const COUNTRIES: &[u8] =
    b"ADAEAFAGAIALAMAOAQARASATAUAWAXAZBABBBDBEBFBGBHBIBJBLBMBNBOBQBRBSBTBVBWBYBZ\
CACCCDCFCGCHCICKCLCMCNCOCRCUCVCWCXCYCZDEDJDKDMDODZECEEEGEHERESETFIFJFKFMFOFRGAGBGDGEGFGGGHGIGLGMGN\
GPGQGRGSGTGUGWGYHKHMHNHRHTHUIDIEILIMINIOIQIRISITJEJMJOJPKEKGKHKIKMKNKPKRKWKYKZLALBLCLILKLRLSLTLULV\
LYMAMCMDMEMFMGMHMKMLMMMNMOMPMQMRMSMTMUMVMWMXMYMZNANCNENFNGNINLNONPNRNUNZOMPAPEPFPGPHPKPLPMPNPRPSPT\
PWPYQARERORSRURWSASBSCSDSESGSHSISJSKSLSMSNSOSRSSSTSVSXSYSZTCTDTFTGTHTJTKTLTMTNTOTRTTTVTWTZUAUGUMUS\
UYUZVAVCVEVGVIVNVUWFWSXKYEYTZAZMZW";

fn country(code: &[u8]) -> bool {
    COUNTRIES.chunks(2).any(|c| c == code)
}

/// The country's IBAN length and the ISO 7064 mod-97 check.
pub fn iban(c: &Candidate) -> Option<(usize, usize)> {
    let m = c.bytes();
    let s: Vec<u8> = m
        .iter()
        .filter(|b| **b != b' ')
        .map(u8::to_ascii_uppercase)
        .collect();
    let len = IBAN_LENGTHS
        .iter()
        .find(|(code, _)| code[..] == s[..2])
        .map(|(_, len)| *len)?;
    if s.len() != len {
        return None;
    }
    let mut rem: u32 = 0;
    for &ch in s[4..].iter().chain(&s[..4]) {
        rem = match ch {
            b'0'..=b'9' => (rem * 10 + u32::from(ch - b'0')) % 97,
            b'A'..=b'Z' => (rem * 100 + u32::from(ch - b'A') + 10) % 97,
            _ => return None,
        };
    }
    (rem == 1).then_some((0, m.len()))
}

/// A BIC: a real country; a digit in it, or a word naming it before it.
pub fn bic(c: &Candidate) -> Option<(usize, usize)> {
    let m = c.bytes();
    let digit = m[6..].iter().any(u8::is_ascii_digit);
    let named = c.preceded_by(&["bic", "swift", "bank", "banque", "swift/bic", "bic/swift"]);
    (country(&m[4..6]) && (digit || named)).then_some((0, m.len()))
}
