//! A project's guardrail policy as the snapshot carries it: an action per category, where the
//! injection model's decision sits, and the operator's own detectors.

use rkyv::{Archive, Deserialize, Serialize};

/// What a guardrail does when its detector fires.
#[derive(
    Archive,
    Serialize,
    Deserialize,
    serde::Deserialize,
    serde::Serialize,
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum GuardAction {
    Off,
    Flag,
    Redact,
    /// Placeholders go upstream; the originals are put back into the response for the client.
    Restore,
    Block,
}

#[derive(Archive, Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct GuardrailPolicy {
    pub pii: GuardAction,
    pub secrets: GuardAction,
    pub injection: GuardAction,
    pub content_safety: GuardAction,
    pub response_pii: GuardAction,
    pub response_secrets: GuardAction,
    pub injection_thresholds: InjectionThresholds,
    /// What no guardrail reads — images, audio, video, PDFs and other binary files, content
    /// given by reference (a file id, a URL): `off` lets it pass unread, `flag` records it,
    /// `block` refuses the request (a project that must vouch for everything it sends).
    pub unscanned: GuardAction,
}

impl GuardrailPolicy {
    /// `unscanned` takes `off`, `flag` or `block`: there is nothing in such content to redact.
    pub fn check_unscanned(action: Option<GuardAction>) -> Result<(), String> {
        match action {
            Some(GuardAction::Redact | GuardAction::Restore) => Err(
                "unscanned takes off, flag or block: nothing in content no guardrail reads can be redacted".into(),
            ),
            _ => Ok(()),
        }
    }
}

/// Where a project moves the injection model's decision, in thousandths of its 0–1 score;
/// `None`: the default the model was trained with (docs/guardrails.md).
#[derive(Archive, Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct InjectionThresholds {
    /// User and assistant text and tool-call arguments scoring at or above this get
    /// `injection`'s action (the system prompt is not scored).
    pub user: Option<u16>,
    /// Tool results and tool definitions scoring at or above this get `injection`'s action.
    pub tool: Option<u16>,
    /// Text scoring at or above this but under its threshold is flagged (forwarded unchanged).
    /// `None` with `user` also `None`: user text is flagged from the model's user threshold up
    /// to its user block threshold (the default `user`).
    pub flag: Option<u16>,
}

impl InjectionThresholds {
    /// From the configured fractions (`injection_threshold = 0.8`, …), each in (0, 1].
    pub fn from_fractions(
        user: Option<f64>,
        tool: Option<f64>,
        flag: Option<f64>,
    ) -> Result<InjectionThresholds, String> {
        let one = |name: &str, v: Option<f64>| -> Result<Option<u16>, String> {
            match v {
                None => Ok(None),
                Some(v) if v > 0.0 && v <= 1.0 => Ok(Some((v * 1000.0).round() as u16)),
                Some(v) => Err(format!("{name} must be above 0 and at most 1, not {v}")),
            }
        };
        Ok(InjectionThresholds {
            user: one("injection_threshold", user)?,
            tool: one("injection_tool_threshold", tool)?,
            flag: one("injection_flag_threshold", flag)?,
        })
    }
}

impl Default for GuardrailPolicy {
    fn default() -> Self {
        GuardrailPolicy {
            pii: GuardAction::Off,
            secrets: GuardAction::Off,
            injection: GuardAction::Off,
            content_safety: GuardAction::Off,
            response_pii: GuardAction::Off,
            response_secrets: GuardAction::Off,
            injection_thresholds: InjectionThresholds::default(),
            unscanned: GuardAction::Off,
        }
    }
}

/// An operator-defined detector: a Hyperscan expression and what to do when it matches. Values
/// it finds are replaced by `[ID_n]` placeholders (the id in upper case).
#[derive(
    Archive,
    Serialize,
    Deserialize,
    serde::Deserialize,
    serde::Serialize,
    Debug,
    Clone,
    PartialEq,
    Eq,
)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CustomPattern {
    /// `[a-z][a-z0-9_]*`, at most 40 bytes, unique in the project; named in verdicts.
    #[cfg_attr(feature = "openapi", schema(pattern = "^[a-z][a-z0-9_]{0,39}$"))]
    pub id: String,
    /// Hyperscan syntax (PCRE without lookaround or backreferences), at most 1024 bytes.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 1024))]
    pub pattern: String,
    #[serde(default)]
    pub caseless: bool,
    /// Request side: `off | flag | redact | restore | block`.
    pub action: GuardAction,
    /// Response side (streamed too): `off | flag | redact | block`.
    #[serde(default = "off")]
    pub response_action: GuardAction,
}

fn off() -> GuardAction {
    GuardAction::Off
}
