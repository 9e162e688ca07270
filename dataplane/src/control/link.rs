//! The data plane's calls to the control plane: registration (enrolment first) and the blocking
//! HTTP/1.1 `POST` the usage shipper uses too.
//!
//! A data plane without a credential enrols with the enrolment token (`control_plane_token_file`)
//! and keeps the credential the control plane answers with in `state_dir/dataplane.credential`
//! (0600); from then on it registers and ships usage with that credential only, and accepts
//! pushes only when they carry it. A control plane that refuses the credential (an operator
//! revoked it) is logged, not worked around: removing the file enrols the data plane again.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use std::sync::OnceLock;

use zeroize::Zeroizing;

use super::Control;

/// Trust for an `https://` control plane: webpki roots and `control_plane_ca_file`.
static TLS: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();

/// Set the trust for `https://` control-plane URLs (once, at start).
pub fn init_tls(ca_file: Option<&std::path::Path>) -> Result<(), String> {
    let config = crate::upstream::client::tls_client_config(ca_file)?;
    let _ = TLS.set(config);
    Ok(())
}

/// The credential file in `state_dir`.
pub const CREDENTIAL: &str = "dataplane.credential";

/// The most of a control-plane answer read.
const MAX_REPLY: usize = 64 * 1024;

/// Register with every control plane of the cluster every few seconds (every second while none
/// answers). The first to answer an unenrolled data plane enrols it; the others are then
/// registered with the credential it issued (control planes of one cluster share its key).
pub fn spawn_registration(
    control_planes: Vec<String>,
    control: Arc<Control>,
    id: String,
    push_url: String,
    version: Arc<AtomicU64>,
) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("warden-register".into())
        .spawn(move || loop {
            let mut any = false;
            for control_plane in &control_planes {
                any |= register(control_plane, &control, &id, &push_url, &version).is_ok();
            }
            std::thread::sleep(Duration::from_secs(if any { 3 } else { 1 }));
        })?;
    Ok(())
}

fn register(
    control_plane: &str,
    control: &Control,
    id: &str,
    push_url: &str,
    version: &AtomicU64,
) -> Result<(), ()> {
    let body =
        serde_json::json!({"id": id, "push_url": push_url, "version": version.load(Relaxed)})
            .to_string();
    let url = format!(
        "{}/dataplane/v1/register",
        control_plane.trim_end_matches('/')
    );
    let credential = control.credential_for(id);
    let bearer = credential.as_ref().unwrap_or(&control.token);
    match post_json_reply(&url, bearer, &body) {
        Ok((200..=299, reply)) => {
            let issued = serde_json::from_slice::<serde_json::Value>(&reply)
                .ok()
                .and_then(|v| {
                    v["credential"]
                        .as_str()
                        .map(|c| Zeroizing::new(c.to_owned()))
                });
            if let Some(c) = issued {
                if let Err(e) = control.set_credential(id, c) {
                    tracing::error!("keeping the data-plane credential: {e}");
                    return Err(());
                }
                tracing::info!(dataplane = id, "enrolled with the control plane");
            }
            Ok(())
        }
        Ok((409, _)) => {
            tracing::error!(
                dataplane = id,
                "the control plane says this data-plane id is already enrolled and this data plane has no credential for it: use another dataplane_id, or have an operator revoke it"
            );
            Err(())
        }
        Ok((401, _)) if credential.is_some() => {
            tracing::error!(
                dataplane = id,
                "the control plane refused this data plane's credential (revoked?); remove state_dir/{CREDENTIAL} to enrol again"
            );
            Err(())
        }
        Ok((status, _)) => {
            tracing::warn!(
                status,
                control_plane,
                "the control plane refused the registration"
            );
            Err(())
        }
        Err(e) => {
            tracing::debug!(control_plane, "control plane unreachable: {e}");
            Err(())
        }
    }
}

/// A blocking `POST` over plain HTTP/1.1; returns the status.
pub fn post_json(url: &str, bearer: &str, body: &str) -> std::io::Result<u16> {
    post_json_reply(url, bearer, body).map(|(status, _)| status)
}

/// A blocking `POST` over plain HTTP/1.1 (the control-plane link is operator-internal; put it
/// behind TLS termination if it crosses networks): the status and at most 64 KiB of the body,
/// within 5 s.
pub fn post_json_reply(url: &str, bearer: &str, body: &str) -> std::io::Result<(u16, Vec<u8>)> {
    let (rest, secure) = match (url.strip_prefix("https://"), url.strip_prefix("http://")) {
        (Some(rest), _) => (rest, true),
        (None, Some(rest)) => (rest, false),
        _ => {
            return Err(std::io::Error::other(
                "control_plane must be an http:// or https:// URL",
            ))
        }
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let addr = authority
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| std::io::Error::other("no address"))?;
    let tcp = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    tcp.set_read_timeout(Some(Duration::from_secs(5)))?;
    tcp.set_write_timeout(Some(Duration::from_secs(5)))?;
    if secure {
        let config = TLS
            .get()
            .ok_or_else(|| std::io::Error::other("no TLS configuration for the control plane"))?;
        let host = warden_shared::authority_host(authority);
        let name = rustls::pki_types::ServerName::try_from(host.to_owned())
            .map_err(|_| std::io::Error::other("control_plane host is not a name or address"))?;
        let conn = rustls::ClientConnection::new(Arc::clone(config), name)
            .map_err(std::io::Error::other)?;
        let s = rustls::StreamOwned::new(conn, tcp);
        return exchange(s, authority, path, bearer, body);
    }
    exchange(tcp, authority, path, bearer, body)
}

/// Write the request, read the answer: the status and at most 64 KiB of the body, within 5 s.
fn exchange<S: Read + Write>(
    mut s: S,
    authority: &str,
    path: &str,
    bearer: &str,
    body: &str,
) -> std::io::Result<(u16, Vec<u8>)> {
    let head = format!(
        "POST {path} HTTP/1.1\r\nhost: {authority}\r\nauthorization: Bearer {bearer}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    let mut request = Zeroizing::new(head.into_bytes());
    request.extend_from_slice(body.as_bytes());
    s.write_all(&request)?;
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut response = Zeroizing::new(Vec::with_capacity(1024));
    let mut chunk = [0u8; 4096];
    while response.len() < MAX_REPLY {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        match s.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => {
                let room = MAX_REPLY - response.len();
                response.extend_from_slice(&chunk[..n.min(room)]);
            }
            Err(e) if response.is_empty() => return Err(e),
            Err(_) => break,
        }
    }
    let text = String::from_utf8_lossy(&response);
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other("bad response"))?;
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.as_bytes().to_vec())
        .unwrap_or_default();
    Ok((status, body))
}
