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

/// What a model does, and so which route serves it: chat models answer
/// `/v1/chat/completions` (and the native routes), embedding models `/v1/embeddings`. A model
/// named on the other kind's route is refused with 400 rather than sent to a provider that
/// would answer with its own error.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ModelKind {
    #[default]
    Chat,
    Embedding,
}

impl ModelKind {
    /// The name in configs and the admin API.
    pub fn name(self) -> &'static str {
        match self {
            ModelKind::Chat => "chat",
            ModelKind::Embedding => "embedding",
        }
    }

    pub fn from_name(name: &str) -> Option<ModelKind> {
        [ModelKind::Chat, ModelKind::Embedding]
            .into_iter()
            .find(|k| k.name() == name)
    }
}

/// One alias of the model catalog.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct ModelRoute {
    /// What clients send in `model`.
    pub alias: String,
    pub provider: Provider,
    pub kind: ModelKind,
    /// What the provider is sent in place of the alias.
    pub upstream_model: String,
    /// Aliases tried, in order, when every key of this route has failed before anything
    /// reached the client (translated as needed).
    pub fallbacks: Vec<String>,
}

/// Whether `provider` can serve a model of `kind`: Anthropic has no embeddings API; every
/// OpenAI-compatible provider may (the operator names which of its models embed).
pub fn serves(provider: Provider, kind: ModelKind) -> bool {
    kind == ModelKind::Chat || provider != Provider::Anthropic
}

/// Check a catalog: every alias's provider serves its kind, and every fallback is another alias
/// of the same kind (an embedding request cannot fall back to a chat model).
pub fn check_models(models: &[ModelRoute]) -> Result<(), String> {
    for m in models {
        if !serves(m.provider, m.kind) {
            return Err(format!(
                "{}: {} has no {} models",
                m.alias,
                m.provider.name(),
                m.kind.name()
            ));
        }
        for f in &m.fallbacks {
            match models.iter().find(|r| r.alias == *f) {
                Some(r) if r.alias != m.alias && r.kind == m.kind => {}
                Some(r) if r.alias != m.alias => {
                    return Err(format!(
                        "{}: fallback {f:?} is a {} model, not a {} one",
                        m.alias,
                        r.kind.name(),
                        m.kind.name()
                    ))
                }
                _ => {
                    return Err(format!(
                        "{}: fallback {f:?} is not another known alias",
                        m.alias
                    ))
                }
            }
        }
    }
    Ok(())
}

/// The built-in embedding aliases (also added to an existing control plane's catalog by its
/// migration 0011).
pub const DEFAULT_EMBEDDING_MODELS: &[(&str, Provider, &str)] = &[
    (
        "text-embedding-3-small",
        Provider::OpenAi,
        "text-embedding-3-small",
    ),
    (
        "text-embedding-3-large",
        Provider::OpenAi,
        "text-embedding-3-large",
    ),
    (
        "gemini-embedding-001",
        Provider::Google,
        "gemini-embedding-001",
    ),
];

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
            kind: ModelKind::Chat,
            upstream_model: (*upstream).to_owned(),
            fallbacks: Vec::new(),
        })
        .chain(
            DEFAULT_EMBEDDING_MODELS
                .iter()
                .map(|(alias, provider, upstream)| ModelRoute {
                    alias: (*alias).to_owned(),
                    provider: *provider,
                    kind: ModelKind::Embedding,
                    upstream_model: (*upstream).to_owned(),
                    fallbacks: Vec::new(),
                }),
        )
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
    // Embeddings bill input tokens only.
    ("openai", "text-embedding-3-small", "0.02", "0.00"),
    ("openai", "text-embedding-3-large", "0.13", "0.00"),
    ("google", "gemini-embedding-001", "0.15", "0.00"),
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
        assert_eq!(check_models(&default_models()), Ok(()));
    }

    #[test]
    fn embedding_aliases_need_a_provider_that_embeds_and_fallbacks_of_their_kind() {
        let route = |alias: &str, provider, kind, fallbacks: &[&str]| ModelRoute {
            alias: alias.into(),
            provider,
            kind,
            upstream_model: alias.into(),
            fallbacks: fallbacks.iter().map(|f| (*f).to_owned()).collect(),
        };
        let claude = route(
            "claude-embed",
            Provider::Anthropic,
            ModelKind::Embedding,
            &[],
        );
        assert!(check_models(&[claude])
            .unwrap_err()
            .contains("anthropic has no embedding"));
        let mixed = [
            route("e", Provider::OpenAi, ModelKind::Embedding, &["c"]),
            route("c", Provider::OpenAi, ModelKind::Chat, &[]),
        ];
        assert!(check_models(&mixed)
            .unwrap_err()
            .contains("is a chat model"));
        let same = [
            route("e", Provider::OpenAi, ModelKind::Embedding, &["g"]),
            route("g", Provider::Google, ModelKind::Embedding, &[]),
        ];
        assert_eq!(check_models(&same), Ok(()));
    }
}
