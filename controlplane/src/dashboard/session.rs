//! Who is signed in: the `warden_session` cookie (32 random bytes, hex; HttpOnly, SameSite=Strict,
//! Secure when the control plane serves TLS) names a session the store keeps by the cookie's
//! SHA-256. A session ends at sign-out, after `session_max_s` since sign-in, or after
//! `session_idle_s` without a request. Every change made from the page carries the session's
//! CSRF token (`x-csrf-token`, or the `csrf` field of a form), compared in constant time; the
//! SameSite cookie alone is not relied on.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method};
use axum::response::{IntoResponse, Redirect, Response};
use sha2::{Digest, Sha256};

use crate::app::App;
use crate::error::ApiError;
use crate::secrets::{constant_time_eq, hex, now_s, random_bytes};
use crate::store::people::UserRow;

pub const COOKIE: &str = "warden_session";

/// How often a session's last use is written back (not at every request).
const TOUCH_EVERY_S: i64 = 60;

/// The signed-in user of a request.
pub struct Signed {
    pub user: UserRow,
    /// The session's CSRF token (the page carries it).
    pub csrf: String,
}

/// The value of cookie `name` among the request's `Cookie` headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all("cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A `Set-Cookie` value for `name`: HttpOnly, SameSite=Strict, for `path`, `max_age` seconds
/// (0 clears it), Secure when the control plane serves TLS.
pub fn set_cookie(app: &App, name: &str, value: &str, path: &str, max_age: i64) -> String {
    let secure = if app.dashboard.secure { "; Secure" } else { "" };
    format!("{name}={value}; HttpOnly; SameSite=Strict; Path={path}; Max-Age={max_age}{secure}")
}

/// The store's key for a session cookie.
pub fn session_id(cookie: &str) -> String {
    hex(&Sha256::digest(cookie.as_bytes()))
}

/// A new random token (cookies, CSRF tokens): 32 bytes, hex.
pub fn token() -> anyhow::Result<String> {
    Ok(hex(&random_bytes::<32>()?))
}

/// Open a session for `user`: the cookie's value.
pub async fn open(app: &App, user: &UserRow) -> anyhow::Result<String> {
    let cookie = token()?;
    app.store
        .insert_session(&session_id(&cookie), &user.id, &token()?, now_s())
        .await?;
    Ok(cookie)
}

/// The signed-in user of `headers`, if its session is open and current; an expired one is
/// ended on the way.
pub async fn current(app: &App, headers: &HeaderMap) -> Result<Option<Signed>, ApiError> {
    let Some(cookie) = cookie(headers, COOKIE) else {
        return Ok(None);
    };
    let id = session_id(cookie);
    let Some(s) = app.store.session(&id).await? else {
        return Ok(None);
    };
    let now = now_s();
    let d = &app.dashboard;
    if now - s.created_at >= d.session_max_s || now - s.seen_at >= d.session_idle_s {
        app.store
            .end_sessions(&id, now - d.session_max_s, now - d.session_idle_s)
            .await?;
        return Ok(None);
    }
    if now - s.seen_at >= TOUCH_EVERY_S {
        app.store.touch_session(&id, now).await?;
    }
    Ok(Some(Signed {
        user: s.user,
        csrf: s.csrf,
    }))
}

/// The signed-in user of a form post, the form's CSRF token checked (403 otherwise); `Err`: not
/// signed in, and where to send the browser.
pub async fn form_user(
    app: &App,
    headers: &HeaderMap,
    csrf: &str,
) -> Result<Result<Signed, Response>, ApiError> {
    let Some(s) = current(app, headers).await? else {
        return Ok(Err(Redirect::to("/dashboard/login").into_response()));
    };
    if !s.csrf_ok(csrf) {
        return Err(ApiError::Forbidden(
            "missing or wrong CSRF token: reload the page".into(),
        ));
    }
    Ok(Ok(s))
}

impl Signed {
    /// Whether `presented` is this session's CSRF token.
    pub fn csrf_ok(&self, presented: &str) -> bool {
        !presented.is_empty() && constant_time_eq(presented.as_bytes(), self.csrf.as_bytes())
    }

    pub fn is_operator(&self) -> bool {
        self.user.tenant_id.is_none() && self.user.role == "operator"
    }

    /// Whether this user may see and change tenant `tenant`'s objects: an operator any, a
    /// tenant's user its own only.
    pub fn may_see(&self, tenant: &str) -> bool {
        self.is_operator() || self.user.tenant_id.as_deref() == Some(tenant)
    }
}

/// A signed-in user's API request (JSON 401 otherwise). Methods that change something must
/// carry the session's CSRF token in `x-csrf-token` (403 otherwise).
impl FromRequestParts<Arc<App>> for Signed {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Signed, ApiError> {
        let signed = current(app, &parts.headers)
            .await?
            .ok_or(ApiError::NotSignedIn)?;
        let safe = matches!(parts.method, Method::GET | Method::HEAD);
        let presented = parts
            .headers
            .get("x-csrf-token")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !safe && !signed.csrf_ok(presented) {
            return Err(ApiError::Forbidden(
                "missing or wrong x-csrf-token: reload the page".into(),
            ));
        }
        Ok(signed)
    }
}
