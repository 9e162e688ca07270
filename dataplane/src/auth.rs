//! Authentication: the Warden API key from the request head, hashed, looked up in the serving
//! state. Step three of the request path, after the head and body are read.
//!
//! Invariant: the key is never copied, logged or echoed; errors say only that it was missing or
//! unknown.

use warden_shared::api_key_hash;

use crate::error::{Error, Kind, Result};
use crate::http::parse::RequestHead;
use crate::state::{ApiKeyRef, ProjectState, ServingState};

pub struct Caller<'s> {
    pub key: &'s ApiKeyRef,
    pub project: &'s ProjectState,
}

/// `Authorization: Bearer <key>`; on routes that allow it, `x-api-key: <key>` too.
pub fn authenticate<'s>(
    state: &'s ServingState,
    buf: &[u8],
    head: &RequestHead,
    allow_x_api_key: bool,
) -> Result<Caller<'s>> {
    let token = match (head.authorization, head.x_api_key) {
        (Some(auth), _) => bearer(auth.get(buf)).ok_or(Error::new(
            Kind::InvalidApiKey,
            "Authorization must be 'Bearer <key>'",
        ))?,
        (None, Some(key)) if allow_x_api_key => key.get(buf),
        _ => {
            return Err(Error::new(
                Kind::MissingApiKey,
                "missing API key: send 'Authorization: Bearer <warden key>'",
            ))
        }
    };
    let key = state
        .api_key(&api_key_hash(token))
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
