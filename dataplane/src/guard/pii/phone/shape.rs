//! How a candidate is written: where its extension starts, its digit groups, the shapes that are
//! never phone numbers (dates, dotted quads, decimals, versions), and the ways of writing that
//! only telephone numbers use — an area code in brackets, the NANP's `1` before a 3-3-4 grouping,
//! a trunk zero leading the area code's group, an extension. Pure functions over the candidate's
//! bytes; the decision that uses them is `phone::phone`.

/// Where the number ends and its extension (`x123`, `ext. 123`, `extension 123`) begins.
pub(super) fn main_part(m: &[u8]) -> &[u8] {
    let lower: Vec<u8> = m.iter().map(u8::to_ascii_lowercase).collect();
    let cut = memchr::memmem::find(&lower, b"ext")
        .or_else(|| memchr::memchr(b'x', &lower))
        .or_else(|| memchr::memchr(b'#', &lower))
        .unwrap_or(m.len());
    let mut end = cut;
    while end > 0 && !m[end - 1].is_ascii_digit() {
        end -= 1;
    }
    &m[..end]
}

/// Digit groups of a national number, for shape checks.
pub(super) fn groups(m: &[u8]) -> Vec<usize> {
    m.split(|b| !b.is_ascii_digit())
        .filter(|g| !g.is_empty())
        .map(<[u8]>::len)
        .collect()
}

/// Dates (2024-03-15, 15.03.2024, 03/15/2024) and dotted quads are not phone numbers.
pub(super) fn not_a_phone_shape(main: &[u8], g: &[usize]) -> bool {
    let seps: Vec<u8> = main
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_digit())
        .collect();
    let date_seps = !seps.is_empty() && seps.iter().all(|b| matches!(b, b'-' | b'.' | b'/'));
    let date = (date_seps
        && matches!(g, [4, 1..=2, 1..=2] | [1..=2, 1..=2, 4] | [1..=2, 1..=2, 2]))
        || spaced_date(main, &seps, g);
    let dots = !seps.is_empty() && seps.iter().all(|b| *b == b'.');
    let quad = dots && g.len() == 4 && g.iter().all(|n| *n <= 3);
    // 32.1896105 (a decimal), 10.0.19045.3803 (a version). Four and four (`4635.1119`) is how
    // Australian local numbers are written too: that shape goes on, and needs a phone word (a
    // short pair, see `phone::phone`).
    let decimal = dots && g.len() == 2 && g != [4, 4];
    let version = dots && g.len() >= 3 && g.contains(&1);
    date || quad || decimal || version
}

/// A date written with spaces (`15 03 2024`, `03 15 1998`): day and month in either order, a
/// year of this century or the last. Eight digits in three groups are a phone number's shape in
/// some plans too; written so, they are a date first.
fn spaced_date(main: &[u8], seps: &[u8], g: &[usize]) -> bool {
    if !matches!(g, [1..=2, 1..=2, 4]) || !seps.iter().all(|b| *b == b' ') {
        return false;
    }
    let mut parts = main
        .split(|b| *b == b' ')
        .filter(|p| !p.is_empty())
        .map(|p| p.iter().fold(0u32, |n, b| n * 10 + u32::from(b - b'0')));
    let (Some(a), Some(b), Some(year)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let day_month = |d: u32, m: u32| (1..=31).contains(&d) && (1..=12).contains(&m);
    (1900..=2099).contains(&year) && (day_month(a, b) || day_month(b, a))
}

/// Whether the way a national number is written says "telephone" where its digits alone cannot
/// (a number only *possible* in a hint region: the right length, no range of the plan):
/// - an extension written with it: `243-0758x877`, `(415) 555-2671 ext. 12`;
/// - the area code in brackets: `(0118) 496 0007`, `(178) 787-0831`;
/// - the NANP's trunk `1` before a 3-3-4 grouping: `1-300-243-0758`, `1 (178) 787-0831`;
/// - a trunk zero (not `00`, an exit code) leading a group of three to five digits, then one to
///   three more groups: `0311 523 8910`, `030/12345678` (a date's first group has two digits).
///
/// Order numbers, dates, amounts and versions are not written so; the shapes that other
/// numbers share (SSN, card and check-digit groupings, two groups ending in four) are the
/// caller's to exclude.
pub(super) fn written_as_phone(m: &[u8], main: &[u8], g: &[usize]) -> bool {
    // Japan's plan makes 16 and 17 digits possible (a few special services); a number written
    // out at home is shorter, and an order number (`029-5348244-1290153`) is not.
    if digit_count(main) > 14 {
        return false;
    }
    let mut d = main.iter().filter(|b| b.is_ascii_digit());
    has_extension(m, main)
        || bracketed_area_code(main)
        || nanp_trunk(main, g)
        || (d.next() == Some(&b'0')
            && d.next() != Some(&b'0')
            && (2..=4).contains(&g.len())
            && (3..=5).contains(&g[0]))
}

fn digit_count(m: &[u8]) -> usize {
    m.iter().filter(|b| b.is_ascii_digit()).count()
}

/// An extension after the main part: `x`, `ext` or `extension`, then digits.
fn has_extension(m: &[u8], main: &[u8]) -> bool {
    let tail = &m[main.len()..];
    tail.iter().any(|b| matches!(b, b'x' | b'X')) && tail.last().is_some_and(u8::is_ascii_digit)
}

/// `(` an area code `)`, then more digits: three digits (the NANP's), or two to five led by a
/// trunk zero. A year or a count in brackets (`(2024) 123-4567`) is neither.
fn bracketed_area_code(main: &[u8]) -> bool {
    let Some(rest) = main.strip_prefix(b"(") else {
        return false;
    };
    let inside = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    (inside == 3 || ((2..=5).contains(&inside) && rest[0] == b'0'))
        && rest.get(inside) == Some(&b')')
        && rest[inside + 1..].iter().any(u8::is_ascii_digit)
}

/// `1`, a separator, then three, three and four digits.
fn nanp_trunk(main: &[u8], g: &[usize]) -> bool {
    g == [1, 3, 3, 4] && main.first() == Some(&b'1')
}

/// The international digits without a `(0)` written after the country code.
pub(super) fn strip_bracketed_trunk(main: &[u8], rest: &str) -> String {
    let mut s = rest.to_owned();
    if let Some(at) = memchr::memmem::find(main, b"(0)") {
        // Digits before the bracket, less the international prefix dropped from `rest`.
        let dropped = digit_count(main) - rest.len();
        if let Some(i) = digit_count(&main[..at]).checked_sub(dropped) {
            if i < s.len() {
                s.remove(i);
            }
        }
    }
    s
}

/// Whether the first group is an exit code with the country code run on (`001-300-…`,
/// `0044 20 …`): the exit code of `skip` digits, then one to three more, then a separator, and at
/// least two groups after it.
pub(super) fn exit_code_run_on(main: &[u8], skip: usize, g: &[usize]) -> bool {
    let first = main.iter().take_while(|b| b.is_ascii_digit()).count();
    (skip + 1..=skip + 3).contains(&first) && g.len() >= 3
}
