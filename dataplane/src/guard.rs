//! Guardrails on requests: the text a model will read (see `extract`) is scanned by one
//! Hyperscan block-mode database of every detector ([`detectors`]), candidates are confirmed by
//! validators, and each project's policy decides per category what happens ([`apply`]):
//! `block` (400 in the caller's dialect, the category but never the value, no upstream call),
//! `redact` (typed placeholders such as `[EMAIL_1]` go upstream instead of the values), `flag`
//! (forwarded unchanged). Verdicts — category, detector, action, count, never the value — go to
//! the audit record and the metrics.
//!
//! The database is compiled once at start and shared read-only; each shard has its own scratch.

pub mod apply;
pub mod cli;
pub mod custom;
pub mod detectors;
pub mod engine;
pub mod features;
pub mod injection;
pub mod normalize;
pub mod pii;
pub mod response;
pub mod views;

/// What a detector looks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    Pii,
    Secrets,
    /// Prompt injection: scored per text, not acted on per hit (see `apply`).
    Injection,
    /// Self-harm, violence, sexual content involving minors, hate: phrase lists.
    ContentSafety,
    /// The project's operator-defined patterns (never a built-in detector's category).
    Custom,
    /// Content no guardrail reads (an image, a PDF, a file by reference): the detector is its
    /// kind (`extract::unread`).
    Unscanned,
}

impl Category {
    /// Whether findings need their span (to redact): PII and secrets. Injection and content
    /// safety are signals — which fired matters, not where.
    pub fn located(self) -> bool {
        matches!(self, Category::Pii | Category::Secrets | Category::Custom)
    }

    pub fn name(self) -> &'static str {
        match self {
            Category::Pii => "pii",
            Category::Secrets => "secrets",
            Category::Injection => "injection",
            Category::ContentSafety => "content_safety",
            Category::Custom => "custom",
            Category::Unscanned => "unscanned",
        }
    }

    /// Every category, in metric order (`Category as usize` indexes it).
    pub const ALL: [Category; 6] = [
        Category::Pii,
        Category::Secrets,
        Category::Injection,
        Category::ContentSafety,
        Category::Custom,
        Category::Unscanned,
    ];
}
