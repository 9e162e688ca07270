//! A project's answer-cache policy as the snapshot carries it (`[tenants.projects.cache]` and
//! `PUT /admin/v1/projects/{project}/cache` both become one of these, checked the same way).

use rkyv::{Archive, Deserialize, Serialize};

/// Which answers a project serves from the cache.
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
    Default,
)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum CacheMode {
    #[default]
    Off,
    /// The same request (after request guardrails) to the same provider and model.
    Exact,
    /// Exact, and also a paraphrase of the last user turn when everything before it is equal.
    Semantic,
}

/// A project's answer cache. Entries are partitioned by project: no request reads another
/// project's answers, whatever their content.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct CachePolicy {
    pub mode: CacheMode,
    /// How long an answer is served from the cache after the provider gave it.
    pub ttl_s: u32,
    /// The cosine similarity a semantic hit needs, in ten-thousandths (8000 = 0.80).
    pub semantic_threshold: u16,
    /// The highest sampling temperature a request may ask for and still be answered by meaning,
    /// in hundredths ([`CachePolicy::ANY_TEMPERATURE`]: no limit). A request without one counts
    /// as 1.0, the providers' default.
    pub semantic_max_temperature: u16,
    /// The most bytes of this project's answers each shard keeps (0: no cap of its own, only the
    /// data plane's `[cache] memory_mb`).
    pub max_bytes: u64,
    /// Part of every key: raised (by turning the cache off, or purging it), it leaves every
    /// answer kept before unreachable on every data plane and in the shared tier, and each data
    /// plane drops its own copies.
    pub generation: u32,
}

impl CachePolicy {
    /// The longest `ttl_s`: 30 days.
    pub const MAX_TTL_S: u32 = 30 * 24 * 3600;
    /// `semantic_max_temperature` unset: every temperature qualifies.
    pub const ANY_TEMPERATURE: u16 = u16::MAX;

    /// A policy from its configured form (TOML or the admin API), checked.
    pub fn from_parts(
        mode: CacheMode,
        ttl_s: Option<u32>,
        semantic_threshold: Option<f64>,
        semantic_max_temperature: Option<f64>,
        max_mb: Option<u64>,
    ) -> Result<CachePolicy, String> {
        let d = CachePolicy::default();
        let ttl_s = ttl_s.unwrap_or(d.ttl_s);
        if ttl_s == 0 || ttl_s > Self::MAX_TTL_S {
            return Err(format!(
                "ttl_s {ttl_s}: between 1 and {} (30 days)",
                Self::MAX_TTL_S
            ));
        }
        let threshold = match semantic_threshold {
            None => d.semantic_threshold,
            Some(t) if t > 0.0 && t <= 1.0 => (t * 10_000.0).round() as u16,
            Some(t) => return Err(format!("semantic_threshold {t}: above 0, at most 1")),
        };
        let max_temperature = match semantic_max_temperature {
            None => Self::ANY_TEMPERATURE,
            Some(t) if (0.0..=2.0).contains(&t) => (t * 100.0).round() as u16,
            Some(t) => return Err(format!("semantic_max_temperature {t}: 0 to 2")),
        };
        let max_bytes = match max_mb {
            None => 0,
            Some(mb) if mb <= 1 << 20 => mb << 20,
            Some(mb) => return Err(format!("max_mb {mb}: at most 1048576")),
        };
        Ok(CachePolicy {
            mode,
            ttl_s,
            semantic_threshold: threshold,
            semantic_max_temperature: max_temperature,
            max_bytes,
            generation: 0,
        })
    }
}

impl Default for CachePolicy {
    fn default() -> Self {
        CachePolicy {
            mode: CacheMode::Off,
            ttl_s: 3600,
            semantic_threshold: 8000,
            semantic_max_temperature: Self::ANY_TEMPERATURE,
            max_bytes: 0,
            generation: 0,
        }
    }
}
