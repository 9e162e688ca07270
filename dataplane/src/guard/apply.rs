//! Applying a project's policy to a request: scan every model-visible text, decide per finding
//! by its category's action, and either refuse the request, rewrite the outgoing body with
//! placeholders, or let it pass — recording verdicts either way.
//!
//! Rewriting works on the final outgoing bytes (after the model splice or a translation), on
//! each JSON string decoded, so a value is replaced however the client escaped it
//! (`apply/rewrite.rs`). A value in no string fails closed: the request is refused rather than
//! sent unredacted.

use std::borrow::Cow;

use simd_json::BorrowedValue;
use warden_shared::catalog::Dialect;
use warden_shared::snapshot::{GuardAction, GuardrailPolicy};

use super::custom::CustomScan;
use super::engine::{Engine, Finding};
use super::injection::{self, Model};
use super::pii::Plans;
use super::Category;
use crate::error::{Error, Kind};

mod rewrite;
mod seams;
use crate::extract::Source;
pub use rewrite::rewrite;

/// One verdict: a detector fired `count` times and the policy applied `action`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub category: Category,
    /// A built-in detector's id, or an operator pattern's (`custom` category).
    pub detector: Cow<'static, str>,
    /// Never `Off` (nothing is recorded for an ignored finding).
    pub action: GuardAction,
    pub count: u32,
}

/// What the request needs done to its outgoing body.
#[derive(Debug, Default)]
pub struct Plan {
    pub verdicts: Vec<Verdict>,
    /// (value, placeholder) pairs, in first-seen order.
    pub replacements: Vec<(Vec<u8>, Vec<u8>)>,
    /// The pairs whose category's action is `restore`: the answer gets the values back.
    pub restore: Vec<(Vec<u8>, Vec<u8>)>,
    /// The category that blocks the request, if one does.
    pub blocked: Option<&'static str>,
    /// It blocks because a value its policy would redact sits where it cannot be replaced: the
    /// request is refused, not sent with it.
    pub sealed: Option<Sealed>,
    /// The injection model's highest score over the scored texts (when `injection` is on).
    pub injection_score: Option<f32>,
    /// It blocks because the request carries content no guardrail reads, of this kind.
    pub unread: Option<&'static str>,
}

/// Where a value to redact sits that no placeholder can take its place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sealed {
    /// In an encoded attachment (a base64 text document).
    Attachment,
    /// Split across two texts the model reads as one (`apply/seams.rs`).
    Split,
}

impl Plan {
    /// The block as the error the client gets.
    pub fn refusal(&self) -> Option<Error> {
        self.blocked.map(|category| {
            let error = Error::new(
                Kind::GuardrailBlocked,
                "the request was blocked by a guardrail",
            );
            if let Some(sealed) = self.sealed {
                let place = match sealed {
                    Sealed::Attachment => "is in an encoded attachment",
                    Sealed::Split => "is split across two parts of the request",
                };
                error.with_detail(format!(
                    "{category}: a value to redact {place}, where it cannot be replaced"
                ))
            } else if let Some(kind) = self.unread {
                error.with_detail(format!(
                    "{category}: the request carries {kind} content, which no guardrail reads, and this project refuses what it cannot screen"
                ))
            } else {
                error.with_detail(category)
            }
        })
    }
}

/// Count one finding into `verdicts` (one entry per detector and action).
pub fn count_verdict(
    verdicts: &mut Vec<Verdict>,
    category: Category,
    detector: &str,
    action: GuardAction,
) {
    match verdicts
        .iter_mut()
        .find(|v| v.detector == detector && v.action == action && v.category == category)
    {
        Some(v) => v.count += 1,
        None => verdicts.push(Verdict {
            category,
            detector: match super::detectors::DETECTORS
                .iter()
                .find(|d| d.id == detector)
            {
                Some(d) if category != Category::Custom => Cow::Borrowed(d.id),
                _ => Cow::Owned(detector.to_owned()),
            },
            action,
            count: 1,
        }),
    }
}

/// Numbered placeholders per kind (`[EMAIL_1]`, `[EMAIL_2]`, …); a value seen again keeps its
/// placeholder.
#[derive(Debug, Default)]
pub struct Placeholders {
    /// (value, placeholder), in first-seen order.
    pub pairs: Vec<(Vec<u8>, Vec<u8>)>,
    /// The last number given per placeholder type.
    numbers: Vec<(String, u32)>,
}

impl Placeholders {
    /// Continue the numbering of `pairs` (an answer's new values must not reuse a request's
    /// placeholders).
    pub fn seeded(pairs: &[(Vec<u8>, Vec<u8>)]) -> Placeholders {
        let mut p = Placeholders {
            pairs: pairs.to_vec(),
            numbers: Vec::new(),
        };
        for (_, placeholder) in pairs {
            let text = String::from_utf8_lossy(placeholder);
            let inner = text.trim_start_matches('[').trim_end_matches(']');
            if let Some((kind, n)) = inner.rsplit_once('_') {
                let n: u32 = n.parse().unwrap_or(0);
                match p.numbers.iter_mut().find(|(k, _)| *k == kind) {
                    Some((_, m)) => *m = (*m).max(n),
                    None => p.numbers.push((kind.to_owned(), n)),
                }
            }
        }
        p
    }

    pub fn for_value(&mut self, value: &[u8], kind: &str) -> &[u8] {
        if let Some(i) = self.pairs.iter().position(|(v, _)| v == value) {
            return &self.pairs[i].1;
        }
        let n = match self.numbers.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, n)) => {
                *n += 1;
                *n
            }
            None => {
                self.numbers.push((kind.to_owned(), 1));
                1
            }
        };
        self.pairs
            .push((value.to_vec(), format!("[{kind}_{n}]").into_bytes()));
        &self.pairs[self.pairs.len() - 1].1
    }
}

pub fn action_for(policy: &GuardrailPolicy, category: Category) -> GuardAction {
    match category {
        Category::Pii => policy.pii,
        Category::Secrets => policy.secrets,
        Category::Injection => policy.injection,
        Category::ContentSafety => policy.content_safety,
        // Each operator pattern carries its own actions.
        Category::Custom => GuardAction::Off,
        Category::Unscanned => policy.unscanned,
    }
}

/// The injection model's verdict on one text: `injection`'s action at or above the project's
/// threshold for the text's channel, `flag` from the project's flag threshold up, nothing under
/// both. Tool results and tool definitions (often a third party's: an MCP server's descriptions)
/// answer to the tool threshold, what people and models wrote to the user threshold. The system
/// prompt is the application's own instructions and is not scored. Where the project sets no
/// user threshold, user text gets the action from the model's user block threshold and is
/// flagged from its user threshold (unless the project sets a flag threshold): blocking every
/// text over the user threshold would refuse about a quarter of ordinary instruction-heavy
/// requests (docs/guardrails.md).
pub fn injection_action(
    policy: &GuardrailPolicy,
    source: Source,
    score: f32,
) -> Option<(&'static str, GuardAction)> {
    let model = Model::builtin();
    let th = &policy.injection_thresholds;
    let at = |t: Option<u16>, default: f32| t.map_or(default, |t| f32::from(t) / 1000.0);
    // The third: where the flag band starts when the project sets no flag threshold.
    let (detector, threshold, flag_default) = match source {
        Source::System | Source::Unread => return None,
        Source::ToolResult | Source::Attachment => (
            "prompt_injection_tool",
            at(th.tool, model.default_tool),
            None,
        ),
        Source::Definition => (
            "prompt_injection_tool_definition",
            at(th.tool, model.default_tool),
            None,
        ),
        Source::User | Source::Assistant | Source::ToolArguments => (
            "prompt_injection",
            at(th.user, model.default_user_block),
            th.user.is_none().then_some(model.default_user),
        ),
    };
    let flag_from = th.flag.map(|f| f32::from(f) / 1000.0).or(flag_default);
    if score >= threshold {
        let action = match policy.injection {
            GuardAction::Off => return None,
            GuardAction::Block => GuardAction::Block,
            _ => GuardAction::Flag,
        };
        Some((detector, action))
    } else if flag_from.is_some_and(|f| score >= f) {
        (policy.injection != GuardAction::Off).then_some((detector, GuardAction::Flag))
    } else {
        None
    }
}

pub fn action_name(a: GuardAction) -> &'static str {
    match a {
        GuardAction::Off => "off",
        GuardAction::Flag => "flag",
        GuardAction::Redact => "redact",
        GuardAction::Restore => "restore",
        GuardAction::Block => "block",
    }
}

/// Scan a parsed request: the verdicts, the replacements to apply to the outgoing body, and the
/// blocking category if any.
pub fn check(
    engine: &Engine,
    (scratch, phones): (&super::engine::Scratch, Option<&Plans>),
    custom: Option<&CustomScan>,
    dialect: Dialect,
    body: &BorrowedValue<'_>,
    policy: &GuardrailPolicy,
) -> Plan {
    let texts = |f: &mut dyn FnMut(Source, &str)| {
        crate::extract::texts(dialect, body, &mut |s, t| f(s, t));
    };
    check_texts(engine, (scratch, phones), custom, texts, policy)
}

/// [`check`] over the texts `texts` hands its callback (each with where it came from).
/// `phones`: the project's own phone plans (`None`: the data plane's).
pub fn check_texts(
    engine: &Engine,
    (scratch, phones): (&super::engine::Scratch, Option<&Plans>),
    custom: Option<&CustomScan>,
    texts: impl FnOnce(&mut dyn FnMut(Source, &str)),
    policy: &GuardrailPolicy,
) -> Plan {
    let all_off = [
        policy.pii,
        policy.secrets,
        policy.injection,
        policy.content_safety,
        policy.unscanned,
    ]
    .iter()
    .all(|a| *a == GuardAction::Off);
    if all_off && custom.is_none() {
        return Plan::default();
    }
    let mut plan = Plan::default();
    let mut findings: Vec<Finding> = Vec::new();
    let mut own: Vec<Finding> = Vec::new();
    let mut placeholders = Placeholders::default();
    let mut restored: Vec<Vec<u8>> = Vec::new();
    let mut seams = seams::Seams::default();
    let readers = seams::Readers {
        engine,
        scratch,
        phones,
        custom,
    };
    texts(&mut |source, text| {
        if source == Source::Unread {
            seams.read(&readers, (source, text, (&[], &[])), &mut |source, seam| {
                let taking = (&mut plan, &mut placeholders, &mut restored);
                seams::apply(taking, (policy, custom), source, seam);
            });
            unread(&mut plan, policy.unscanned, text);
            return;
        }
        findings.clear();
        own.clear();
        engine.scan_in(scratch, phones, text.as_bytes(), &mut findings);
        score_injection(&mut plan, policy, source, text);
        if policy.content_safety != GuardAction::Off {
            let action = if policy.content_safety == GuardAction::Block {
                GuardAction::Block
            } else {
                GuardAction::Flag
            };
            for f in findings
                .iter()
                .filter(|f| f.detector().category == Category::ContentSafety)
            {
                count_verdict(
                    &mut plan.verdicts,
                    Category::ContentSafety,
                    f.detector().id,
                    action,
                );
                if action == GuardAction::Block {
                    plan.blocked.get_or_insert(Category::ContentSafety.name());
                }
            }
        }
        findings.retain(|f| f.detector().category.located());
        for f in &findings {
            let d = f.detector();
            let value = &text.as_bytes()[f.start..f.end];
            let action = action_for(policy, d.category);
            let found = (d.category, d.id, value, d.placeholder);
            let action = attached(&mut plan, source, action);
            take(&mut plan, &mut placeholders, &mut restored, found, action);
        }
        if let Some(custom) = custom {
            custom.scan(text.as_bytes(), &findings, &mut own);
            for f in &own {
                let (p, kind) = custom.pattern(f.detector);
                let value = &text.as_bytes()[f.start..f.end];
                let found = (Category::Custom, p.id.as_str(), value, kind);
                let action = attached(&mut plan, source, p.action);
                take(&mut plan, &mut placeholders, &mut restored, found, action);
            }
        }
        // After the text's own reading: a value found in it is no split value's part.
        let found = (findings.as_slice(), own.as_slice());
        seams.read(&readers, (source, text, found), &mut |source, seam| {
            let taking = (&mut plan, &mut placeholders, &mut restored);
            seams::apply(taking, (policy, custom), source, seam);
        });
    });
    seams.finish(&readers, &mut |source, seam| {
        let taking = (&mut plan, &mut placeholders, &mut restored);
        seams::apply(taking, (policy, custom), source, seam);
    });
    plan.restore = placeholders
        .pairs
        .iter()
        .filter(|(v, _)| restored.contains(v))
        .cloned()
        .collect();
    plan.replacements = placeholders.pairs;
    plan
}

/// Score `text` (from `source`) for prompt injection, when the project looks for it, and apply
/// the verdict.
fn score_injection(plan: &mut Plan, policy: &GuardrailPolicy, source: Source, text: &str) {
    if policy.injection == GuardAction::Off || source == Source::System {
        return;
    }
    let score = injection::score_with_variants(Model::builtin(), text);
    plan.injection_score = Some(plan.injection_score.map_or(score, |s| s.max(score)));
    if let Some((detector, action)) = injection_action(policy, source, score) {
        count_verdict(&mut plan.verdicts, Category::Injection, detector, action);
        if action == GuardAction::Block {
            plan.blocked.get_or_insert(Category::Injection.name());
        }
    }
}

/// Content of kind `kind` that no guardrail reads: recorded under `unscanned`'s action, and the
/// request refused when that is `block`.
fn unread(plan: &mut Plan, action: GuardAction, kind: &str) {
    let action = match action {
        GuardAction::Off => return,
        GuardAction::Block => GuardAction::Block,
        _ => GuardAction::Flag,
    };
    let kind = crate::extract::unread::named(kind);
    count_verdict(&mut plan.verdicts, Category::Unscanned, kind, action);
    if action == GuardAction::Block && plan.blocked.is_none() {
        plan.blocked = Some(Category::Unscanned.name());
        plan.unread = Some(kind);
    }
}

/// The action on a value found in a text from `source`: a value to redact or restore in an
/// encoded attachment blocks instead (its bytes are not in the body to replace).
fn attached(plan: &mut Plan, source: Source, action: GuardAction) -> GuardAction {
    if source == Source::Attachment {
        seal(plan, Sealed::Attachment, action)
    } else {
        action
    }
}

/// The action on a value where no placeholder can take its place: redact or restore blocks
/// instead, and marks the plan so the refusal says why (when nothing blocked it before).
fn seal(plan: &mut Plan, place: Sealed, action: GuardAction) -> GuardAction {
    match action {
        GuardAction::Redact | GuardAction::Restore => {
            if plan.blocked.is_none() {
                plan.sealed = Some(place);
            }
            GuardAction::Block
        }
        other => other,
    }
}

/// Apply `action` to one located value — (category, detector id, value, placeholder type) — in
/// a request.
fn take(
    plan: &mut Plan,
    placeholders: &mut Placeholders,
    restored: &mut Vec<Vec<u8>>,
    (category, detector, value, kind): (Category, &str, &[u8], &str),
    action: GuardAction,
) {
    if action == GuardAction::Off {
        return;
    }
    count_verdict(&mut plan.verdicts, category, detector, action);
    match action {
        GuardAction::Block => {
            plan.blocked.get_or_insert(category.name());
        }
        GuardAction::Redact | GuardAction::Restore => {
            placeholders.for_value(value, kind);
            if action == GuardAction::Restore {
                restored.push(value.to_vec());
            }
        }
        GuardAction::Flag | GuardAction::Off => {}
    }
}

#[cfg(test)]
mod tests;
