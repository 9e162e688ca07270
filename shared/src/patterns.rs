//! Operator-defined guardrail patterns: the checks a project's set must pass before anything
//! accepts it (the admin API, the standalone config, a data plane taking a snapshot), and — with
//! the `hyperscan` feature — compiling the set into one Hyperscan database, the same way the
//! data plane scans with it. Compiling is the real validation: what Hyperscan cannot build
//! (lookaround, backreferences, a pattern that matches the empty string) is refused when it is
//! set, with Hyperscan's reason and the pattern's id, never later on a request.

use crate::snapshot::{CustomPattern, GuardAction};

/// The most patterns one project may define.
pub const MAX_PATTERNS: usize = 32;
/// The longest pattern id, in bytes.
pub const MAX_ID: usize = 40;
/// The longest expression, in bytes.
pub const MAX_EXPRESSION: usize = 1024;

/// Check a project's set; with the `hyperscan` feature, also compile it.
pub fn check(patterns: &[CustomPattern]) -> Result<(), String> {
    if patterns.len() > MAX_PATTERNS {
        return Err(format!(
            "{} custom patterns; at most {MAX_PATTERNS} per project",
            patterns.len()
        ));
    }
    for (i, p) in patterns.iter().enumerate() {
        let id_ok = p.id.len() <= MAX_ID
            && p.id.starts_with(|c: char| c.is_ascii_lowercase())
            && p.id
                .bytes()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_');
        if !id_ok {
            return Err(format!(
                "custom pattern id {:?}: want a lower-case letter, then letters, digits or '_', at most {MAX_ID} bytes",
                p.id
            ));
        }
        if patterns[..i].iter().any(|q| q.id == p.id) {
            return Err(format!("custom pattern id {:?} is used twice", p.id));
        }
        if p.pattern.is_empty() || p.pattern.len() > MAX_EXPRESSION {
            return Err(format!(
                "custom pattern {}: the expression must be 1 to {MAX_EXPRESSION} bytes",
                p.id
            ));
        }
        if p.pattern.contains('\0') {
            return Err(format!(
                "custom pattern {}: the expression contains a NUL byte",
                p.id
            ));
        }
        if p.response_action == GuardAction::Restore {
            return Err(format!(
                "custom pattern {}: restore applies to the request side only",
                p.id
            ));
        }
    }
    #[cfg(feature = "hyperscan")]
    if !patterns.is_empty() {
        compile(patterns)?;
    }
    Ok(())
}

/// The placeholder type of a pattern's values: its id in upper case (`employee_id` →
/// `[EMPLOYEE_ID_1]`).
pub fn placeholder(p: &CustomPattern) -> String {
    p.id.to_ascii_uppercase()
}

/// One block-mode database of the whole set, reporting leftmost start offsets; each pattern's
/// Hyperscan id is its index in `patterns`. On failure, the error names the pattern at fault.
#[cfg(feature = "hyperscan")]
pub fn compile(patterns: &[CustomPattern]) -> Result<hyperscan::BlockDatabase, String> {
    use hyperscan::prelude::*;
    let pattern = |i: usize, p: &CustomPattern| {
        let mut flags = CompileFlags::SOM_LEFTMOST | CompileFlags::UTF8;
        if p.caseless {
            flags |= CompileFlags::CASELESS;
        }
        Pattern {
            expression: p.pattern.clone(),
            flags,
            id: Some(i),
            ext: Default::default(),
            som: None,
        }
    };
    let all = Patterns(
        patterns
            .iter()
            .enumerate()
            .map(|(i, p)| pattern(i, p))
            .collect(),
    );
    match all.build() {
        Ok(db) => Ok(db),
        Err(whole) => {
            // Name the culprit: build each alone.
            for (i, p) in patterns.iter().enumerate() {
                let alone: Result<BlockDatabase, _> = Patterns(vec![pattern(i, p)]).build();
                if let Err(e) = alone {
                    return Err(format!("custom pattern {}: {}", p.id, reason(&e)));
                }
            }
            Err(format!("custom patterns: {}", reason(&whole)))
        }
    }
}

/// Hyperscan's own message, without the crate's wrapping.
#[cfg(feature = "hyperscan")]
fn reason(e: &hyperscan::Error) -> String {
    match e {
        hyperscan::Error::Hyperscan(hyperscan::HsError::CompileError(c)) => c.message().to_owned(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(id: &str, pattern: &str) -> CustomPattern {
        CustomPattern {
            id: id.to_owned(),
            pattern: pattern.to_owned(),
            caseless: false,
            action: GuardAction::Redact,
            response_action: GuardAction::Off,
        }
    }

    #[test]
    fn a_good_set_passes() {
        assert_eq!(
            check(&[
                p("employee_id", r"\bEMP-\d{6}\b"),
                p("codename", "Project (?:Falcon|Osprey)")
            ]),
            Ok(())
        );
        assert_eq!(placeholder(&p("employee_id", "x")), "EMPLOYEE_ID");
    }

    #[test]
    fn bad_sets_are_refused_with_the_reason() {
        let err = |set: &[CustomPattern]| check(set).unwrap_err();
        assert!(err(&[p("Bad-Id", "x")]).contains("lower-case"));
        assert!(err(&[p("a", "x"), p("a", "y")]).contains("used twice"));
        assert!(err(&[p("a", "")]).contains("1 to 1024"));
        let mut restore = p("a", "x");
        restore.response_action = GuardAction::Restore;
        assert!(err(&[restore]).contains("request side only"));
        let many: Vec<CustomPattern> = (0..33).map(|i| p(&format!("p{i}"), "x")).collect();
        assert!(err(&many).contains("at most 32"));
    }

    #[cfg(feature = "hyperscan")]
    #[test]
    fn what_hyperscan_cannot_build_is_refused_by_name() {
        let e = check(&[p("fine", r"\d{4}"), p("lookahead", r"foo(?=bar)")]).unwrap_err();
        assert!(e.starts_with("custom pattern lookahead:"), "{e}");
        let e = check(&[p("empty", r"x*")]).unwrap_err();
        assert!(e.starts_with("custom pattern empty:"), "{e}");
        let e = check(&[p("unbalanced", r"(abc")]).unwrap_err();
        assert!(e.starts_with("custom pattern unbalanced:"), "{e}");
    }
}
