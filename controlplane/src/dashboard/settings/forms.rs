//! What each settings form posts, read into the admin API's bodies: a field left empty is the
//! default, a value that does not parse is a 400 naming its field.

use warden_shared::catalog::Provider;
use warden_shared::snapshot::{CacheMode, GuardAction, KeyMode};
use warden_shared::standalone::CacheSection;

use super::{ACTIONS, CATEGORIES, MODES};
use crate::api::policy::{GuardrailBody, LimitsBody, RoutingBody};
use crate::error::{ApiError, ApiResult};

/// The form's fields, by name (every select and input of one form).
pub(super) type Fields = Vec<(String, String)>;

pub(super) fn field<'f>(f: &'f Fields, name: &str) -> &'f str {
    f.iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.trim())
}

/// A field parsed as a `T` ('' is `None`), or a 400 that names it.
fn parsed<T: std::str::FromStr>(f: &Fields, name: &str, want: &str) -> ApiResult<Option<T>> {
    match field(f, name) {
        "" => Ok(None),
        v => v
            .parse()
            .map(Some)
            .map_err(|_| ApiError::BadRequest(format!("{name}: {v:?} is not {want}"))),
    }
}

/// The routing form: the project's mode, and each provider's ('' follows the project's).
pub(super) fn routing_from(f: &Fields) -> ApiResult<RoutingBody> {
    let mode = |v: &str| -> ApiResult<Option<KeyMode>> {
        match v {
            "" => Ok(None),
            v => MODES
                .iter()
                .find(|(_, name, _)| *name == v)
                .map(|(m, ..)| Some(*m))
                .ok_or_else(|| ApiError::BadRequest(format!("key mode {v:?}"))),
        }
    };
    let mut body = RoutingBody {
        key_mode: mode(field(f, "key_mode"))?,
        ..RoutingBody::default()
    };
    for provider in Provider::ALL {
        if let Some(m) = mode(field(f, provider.name()))? {
            body.providers.insert(provider.name().to_owned(), m);
        }
    }
    Ok(body)
}

/// The guardrail form over the stored policy: the categories, thresholds and phone settings; the
/// operator's patterns stay as they are.
pub(super) fn guardrails_from(mut g: GuardrailBody, f: &Fields) -> ApiResult<GuardrailBody> {
    let action = |name: &str| -> ApiResult<Option<GuardAction>> {
        let v = field(f, name);
        let offered = CATEGORIES
            .iter()
            .find(|(n, ..)| *n == name)
            .map_or(&[][..], |c| c.2);
        if v.is_empty() || v == "off" {
            return Ok(None);
        }
        match ACTIONS.iter().find(|(_, a)| *a == v) {
            Some((a, n)) if offered.contains(n) => Ok(Some(*a)),
            _ => Err(ApiError::BadRequest(format!(
                "{name}: {v:?} is not offered"
            ))),
        }
    };
    g.pii = action("pii")?;
    g.secrets = action("secrets")?;
    g.injection = action("injection")?;
    g.content_safety = action("content_safety")?;
    g.response_pii = action("response_pii")?;
    g.response_secrets = action("response_secrets")?;
    g.unscanned = action("unscanned")?;
    g.injection_threshold = parsed(f, "injection_threshold", "a number")?;
    g.injection_tool_threshold = parsed(f, "injection_tool_threshold", "a number")?;
    g.injection_flag_threshold = parsed(f, "injection_flag_threshold", "a number")?;
    // "ke, NG": each region upper-cased; the API's check names a region without a plan.
    g.phone_regions = field(f, "phone_regions")
        .split([',', ' '])
        .filter(|r| !r.is_empty())
        .map(str::to_ascii_uppercase)
        .collect();
    g.phone_standalone = match field(f, "phone_standalone") {
        "" => None,
        "on" => Some(true),
        "off" => Some(false),
        v => {
            return Err(ApiError::BadRequest(format!(
                "phone_standalone: {v:?} is not offered"
            )))
        }
    };
    Ok(g)
}

/// The cache form over the stored policy: the mode, how long an answer is served ('' the
/// default), the closeness a semantic hit needs ('' the default) and the project's share ('' no
/// cap of its own).
pub(super) fn cache_from(mut c: CacheSection, f: &Fields) -> ApiResult<CacheSection> {
    c.mode = match field(f, "mode") {
        "" | "off" => CacheMode::Off,
        "exact" => CacheMode::Exact,
        "semantic" => CacheMode::Semantic,
        v => {
            return Err(ApiError::BadRequest(format!(
                "mode {v:?}: off, exact or semantic"
            )))
        }
    };
    c.ttl_s = parsed(f, "ttl_s", "a whole number of seconds")?;
    c.semantic_threshold = parsed(f, "semantic_threshold", "a number between 0 and 1")?;
    c.semantic_max_temperature = parsed(f, "semantic_max_temperature", "a number between 0 and 2")?;
    c.max_mb = parsed(f, "max_mb", "a whole number of MiB")?;
    Ok(c)
}

/// The limits form: an empty field is no limit.
pub(super) fn limits_from(f: &Fields) -> ApiResult<LimitsBody> {
    let text = |name: &str| Some(field(f, name).to_owned()).filter(|v| !v.is_empty());
    Ok(LimitsBody {
        requests_per_minute: parsed(f, "requests_per_minute", "a whole number")?,
        tokens_per_minute: parsed(f, "tokens_per_minute", "a whole number")?,
        monthly_spend_usd: text("monthly_spend_usd"),
        monthly_spend_warning_usd: text("monthly_spend_warning_usd"),
    })
}
