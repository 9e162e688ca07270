//! Authentication: the Warden API key from the request head, hashed, looked up in the serving
//! state. Once, right after the head and before any of the body is read (conn.rs); the request
//! carries the caller, and the snapshot it was found in, to its end.
//!
//! Invariant: the key is never copied, logged or echoed; errors say only that it was missing or
//! unknown.

use crate::error::{Error, Kind, Result};
use crate::http::parse::RequestHead;
use crate::state::{ApiKeyRef, ProjectState, ServingState};

pub struct Caller<'s> {
    pub key: ApiKeyRef<'s>,
    pub project: &'s ProjectState,
}

impl Caller<'_> {
    /// Record who is asking in the request's audit entry (ids only, never the key).
    pub fn note(&self, entry: &mut crate::audit::Entry) {
        entry.tenant = Some(self.project.tenant.clone());
        entry.project = Some(self.project.id.clone());
        entry.environment = Some(match self.project.environment {
            warden_shared::snapshot::Environment::Development => "development",
            warden_shared::snapshot::Environment::Staging => "staging",
            warden_shared::snapshot::Environment::Production => "production",
        });
        entry.api_key_id = Some(self.key.id.into());
    }
}

/// Which header besides `Authorization: Bearer` may carry the Warden key on a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyHeader {
    BearerOnly,
    /// Anthropic's `x-api-key`.
    XApiKey,
    /// Gemini's `x-goog-api-key`.
    XGoogApiKey,
}

/// `Authorization: Bearer <key>`, or the route's own key header.
pub fn authenticate<'s>(
    state: &'s ServingState,
    buf: &[u8],
    head: &RequestHead,
    header: KeyHeader,
) -> Result<Caller<'s>> {
    let own = match header {
        KeyHeader::BearerOnly => None,
        KeyHeader::XApiKey => head.x_api_key,
        KeyHeader::XGoogApiKey => head.x_goog_api_key,
    };
    let token = match (own, head.authorization) {
        (Some(key), Some(auth)) => {
            // Two credentials must name the same key: which one counts is never a guess.
            let key = key.get(buf);
            if bearer(auth.get(buf)) != Some(key) {
                return Err(Error::new(
                    Kind::InvalidApiKey,
                    "conflicting credentials: the route's key header and Authorization name different keys",
                ));
            }
            key
        }
        (Some(key), None) => key.get(buf),
        (None, Some(auth)) => bearer(auth.get(buf)).ok_or(Error::new(
            Kind::InvalidApiKey,
            "Authorization must be 'Bearer <key>'",
        ))?,
        (None, None) => {
            return Err(Error::new(
                Kind::MissingApiKey,
                "missing API key: send 'Authorization: Bearer <warden key>'",
            ))
        }
    };
    let key = state
        .api_key(token)
        .ok_or(Error::new(Kind::InvalidApiKey, "invalid API key"))?;
    let project = state
        .projects
        .get(key.project)
        .ok_or(Error::new(Kind::Internal, "key maps to no project"))?;
    Ok(Caller { key, project })
}

fn bearer(value: &[u8]) -> Option<&[u8]> {
    let scheme = value.get(..7)?;
    if !scheme.eq_ignore_ascii_case(b"bearer ") {
        return None;
    }
    let token = value[7..].trim_ascii();
    (!token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::bearer;

    #[test]
    fn bearer_scheme_is_case_insensitive_and_trimmed() {
        assert_eq!(bearer(b"Bearer wdn_x"), Some(&b"wdn_x"[..]));
        assert_eq!(bearer(b"bearer   wdn_x "), Some(&b"wdn_x"[..]));
        assert_eq!(bearer(b"Basic abc"), None);
        assert_eq!(bearer(b"Bearer "), None);
    }
}
