//! Signing in and out. The sign-in form is protected by a double-submitted token (a
//! `warden_login` cookie and the same value in the form), so another site cannot sign a browser
//! in as someone else. Failed sign-ins are counted in the store, by the name tried and by the
//! client's address, over `login_window_s`: past `login_attempts` for a name (or ten times that
//! from one address) the form answers 429 until the window has passed, right password or not.
//! A name that does not exist costs what a wrong password costs (a hash is checked either way).

use std::sync::Arc;

use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;

use super::pages;
use super::session::{self, cookie, set_cookie};
use crate::app::App;
use crate::error::ApiResult;
use crate::secrets::{constant_time_eq, now_s};

const LOGIN_COOKIE: &str = "warden_login";

/// Compared against when the name does not exist, so that answer takes as long as a wrong
/// password (a hash of a random password, made once).
static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();

#[derive(Deserialize)]
pub struct LoginForm {
    name: String,
    password: String,
    csrf: String,
}

#[derive(Deserialize)]
pub struct LogoutForm {
    csrf: String,
}

/// `GET /dashboard/login`: the form, with a fresh double-submit token.
pub async fn form(State(app): State<Arc<App>>) -> ApiResult<Response> {
    page(&app, StatusCode::OK, "")
}

fn page(app: &App, status: StatusCode, message: &str) -> ApiResult<Response> {
    let token = session::token()?;
    let html = pages::login(&token, message);
    Ok((
        status,
        [(
            header::SET_COOKIE,
            set_cookie(app, LOGIN_COOKIE, &token, "/dashboard", 3600),
        )],
        html,
    )
        .into_response())
}

/// `POST /dashboard/login`.
pub async fn login(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<super::Peer>,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> ApiResult<Response> {
    let expected = cookie(&headers, LOGIN_COOKIE).unwrap_or("");
    if expected.is_empty() || !constant_time_eq(f.csrf.as_bytes(), expected.as_bytes()) {
        return page(
            &app,
            StatusCode::FORBIDDEN,
            "The sign-in form had expired. Please try again.",
        );
    }
    let d = &app.dashboard;
    let (now, addr) = (now_s(), peer.0.ip().to_string());
    let since = now - d.login_window_s;
    let (by_name, by_addr) = app.store.login_failures(&f.name, &addr, since).await?;
    if by_name >= d.login_attempts || by_addr >= d.login_attempts * 10 {
        tracing::warn!(name = %f.name, %addr, "sign-in refused: too many failures");
        let minutes = (d.login_window_s + 59) / 60;
        return page(
            &app,
            StatusCode::TOO_MANY_REQUESTS,
            &format!("Too many failed sign-ins. Try again in {minutes} minutes."),
        );
    }
    let user = app.store.user_by_name(&f.name).await?;
    let stored = match &user {
        Some(u) => u.password.clone(),
        None => decoy()?,
    };
    let password = zeroize::Zeroizing::new(f.password);
    let right = tokio::task::spawn_blocking(move || super::passwords::verify(&password, &stored))
        .await
        .map_err(anyhow::Error::from)?;
    let Some(user) = user.filter(|_| right) else {
        app.store.login_failed(&f.name, &addr, now, since).await?;
        tracing::info!(name = %f.name, %addr, "sign-in failed");
        return page(&app, StatusCode::UNAUTHORIZED, "Wrong name or password.");
    };
    let cookie = session::open(&app, &user).await?;
    tracing::info!(name = %user.name, role = %user.role, "signed in");
    let mut response = Redirect::to("/dashboard/").into_response();
    let headers = response.headers_mut();
    for value in [
        set_cookie(&app, session::COOKIE, &cookie, "/", d.session_max_s),
        set_cookie(&app, LOGIN_COOKIE, "", "/dashboard", 0),
    ] {
        headers.append(
            header::SET_COOKIE,
            value.parse().map_err(anyhow::Error::from)?,
        );
    }
    Ok(response)
}

fn decoy() -> ApiResult<String> {
    if let Some(d) = DECOY.get() {
        return Ok(d.clone());
    }
    let made = super::passwords::hash(&super::passwords::generate()?)?;
    Ok(DECOY.get_or_init(|| made).clone())
}

/// `POST /dashboard/logout`: ends the session (form with the session's CSRF token).
pub async fn logout(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Form(f): Form<LogoutForm>,
) -> ApiResult<Response> {
    let Some(signed) = session::current(&app, &headers).await? else {
        return Ok(Redirect::to("/dashboard/login").into_response());
    };
    if !signed.csrf_ok(&f.csrf) {
        return Ok((StatusCode::FORBIDDEN, "missing or wrong CSRF token").into_response());
    }
    end(&app, &headers).await
}

async fn end(app: &App, headers: &HeaderMap) -> ApiResult<Response> {
    if let Some(c) = cookie(headers, session::COOKIE) {
        let d = &app.dashboard;
        let now = now_s();
        app.store
            .end_sessions(
                &session::session_id(c),
                now - d.session_max_s,
                now - d.session_idle_s,
            )
            .await?;
    }
    Ok((
        StatusCode::SEE_OTHER,
        [
            (header::LOCATION, "/dashboard/login".to_owned()),
            (
                header::SET_COOKIE,
                set_cookie(app, session::COOKIE, "", "/", 0),
            ),
        ],
    )
        .into_response())
}
