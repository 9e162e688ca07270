//! Providers and the model catalog: which alias goes to which provider under which upstream name.
//!
//! The catalog is data, not code paths: the control plane can edit it and ship it in a snapshot;
//! [`default_models`] is what a fresh install (or a standalone config without `[[models]]`) uses.

use rkyv::{Archive, Deserialize, Serialize};

/// An upstream LLM provider.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Provider {
    OpenAi,
    Anthropic,
    Google,
    Groq,
    DeepSeek,
}

/// The wire format a provider speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// OpenAI chat completions (OpenAI, Groq, DeepSeek).
    OpenAi,
    /// Anthropic Messages.
    Anthropic,
    /// Google Gemini generateContent.
    Gemini,
}

impl Provider {
    pub const ALL: [Provider; 5] = [
        Provider::OpenAi,
        Provider::Anthropic,
        Provider::Google,
        Provider::Groq,
        Provider::DeepSeek,
    ];

    /// The name used in configs, the admin API, metrics labels and audit records.
    pub fn name(self) -> &'static str {
        match self {
            Provider::OpenAi => "openai",
            Provider::Anthropic => "anthropic",
            Provider::Google => "google",
            Provider::Groq => "groq",
            Provider::DeepSeek => "deepseek",
        }
    }

    pub fn from_name(name: &str) -> Option<Provider> {
        Provider::ALL.into_iter().find(|p| p.name() == name)
    }

    pub fn dialect(self) -> Dialect {
        match self {
            Provider::OpenAi | Provider::Groq | Provider::DeepSeek => Dialect::OpenAi,
            Provider::Anthropic => Dialect::Anthropic,
            Provider::Google => Dialect::Gemini,
        }
    }

    /// Default base URL, following each provider SDK's own convention: OpenAI-compatible providers
    /// include the version path (Warden appends `/chat/completions`); Anthropic and Gemini are roots.
    pub fn default_base_url(self) -> &'static str {
        match self {
            Provider::OpenAi => "https://api.openai.com/v1",
            Provider::Anthropic => "https://api.anthropic.com",
            Provider::Google => "https://generativelanguage.googleapis.com",
            Provider::Groq => "https://api.groq.com/openai/v1",
            Provider::DeepSeek => "https://api.deepseek.com",
        }
    }

    /// Index into per-provider arrays (metrics), stable across releases.
    pub fn index(self) -> usize {
        self as usize
    }
}

/// One alias of the model catalog.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct ModelRoute {
    /// What clients send in `model`.
    pub alias: String,
    pub provider: Provider,
    /// What the provider is sent in place of the alias.
    pub upstream_model: String,
    /// Aliases tried, in order, when every key of this route has failed before anything
    /// reached the client (translated as needed).
    pub fallbacks: Vec<String>,
}

/// The built-in catalog. Aliases map to the provider's own current model name.
pub fn default_models() -> Vec<ModelRoute> {
    const MODELS: &[(&str, Provider, &str)] = &[
        ("gpt-4o", Provider::OpenAi, "gpt-4o"),
        ("gpt-4o-mini", Provider::OpenAi, "gpt-4o-mini"),
        ("o3", Provider::OpenAi, "o3"),
        ("o3-mini", Provider::OpenAi, "o3-mini"),
        // Claude Sonnet 4 (claude-sonnet-4-20250514) reached end of life in June 2026 and
        // Claude 3.5 Sonnet is retired: both aliases are served by the current Sonnet 4.x.
        ("claude-4-sonnet", Provider::Anthropic, "claude-sonnet-4-6"),
        (
            "claude-3-5-sonnet",
            Provider::Anthropic,
            "claude-sonnet-4-6",
        ),
        ("gemini-2.0-flash", Provider::Google, "gemini-2.0-flash"),
        (
            "llama-3.3-70b-versatile",
            Provider::Groq,
            "llama-3.3-70b-versatile",
        ),
        ("deepseek-chat", Provider::DeepSeek, "deepseek-chat"),
        ("deepseek-reasoner", Provider::DeepSeek, "deepseek-reasoner"),
    ];
    MODELS
        .iter()
        .map(|(alias, provider, upstream)| ModelRoute {
            alias: (*alias).to_owned(),
            provider: *provider,
            upstream_model: (*upstream).to_owned(),
            fallbacks: Vec::new(),
        })
        .collect()
}

/// Public list prices (dollars per million input / output tokens) for the catalog's upstream
/// models, seeded into an empty price table. Operators edit them with
/// `PUT /admin/v1/prices/{provider}/{model}` (control plane); check them before billing.
pub const DEFAULT_PRICES: &[(&str, &str, &str, &str)] = &[
    ("openai", "gpt-4o", "2.50", "10.00"),
    ("openai", "gpt-4o-mini", "0.15", "0.60"),
    ("openai", "o3", "2.00", "8.00"),
    ("openai", "o3-mini", "1.10", "4.40"),
    ("anthropic", "claude-sonnet-4-6", "3.00", "15.00"),
    ("google", "gemini-2.0-flash", "0.10", "0.40"),
    ("groq", "llama-3.3-70b-versatile", "0.59", "0.79"),
    ("deepseek", "deepseek-chat", "0.28", "0.42"),
    ("deepseek", "deepseek-reasoner", "0.28", "0.42"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_catalog_covers_every_provider() {
        for p in Provider::ALL {
            assert_eq!(Provider::from_name(p.name()), Some(p));
            assert!(
                default_models().iter().any(|m| m.provider == p),
                "{p:?} has no alias"
            );
        }
        assert_eq!(Provider::from_name("azure"), None);
    }
}
