//! `warden-loadtest mock`: one port serving the providers' APIs with their exact wire formats,
//! deterministic answers (`echo: ` + the last user message), the knobs of [`crate::knobs`],
//! a capture file of every request received (auth values masked), and per-key failure statuses.
//!
//! It stands in for the real providers in tests and benchmarks, so it must be fast enough not
//! to be the bottleneck: monoio, one SO_REUSEPORT socket per thread, keep-alive.

pub mod anthropic;
pub mod embeddings;
pub mod fleet;
pub mod gemini;
pub mod openai;
mod plan;
pub mod prompt_cache;
pub mod responses;
pub mod schema;
pub mod thinking;

pub use plan::{Plan, DEFAULT_CHUNKS};

use std::cell::RefCell;
use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use monoio::buf::IoBufMut;
use monoio::io::{AsyncReadRent, AsyncWriteRent, AsyncWriteRentExt};
use monoio_rustls::TlsAcceptor;
use warden_dataplane::http::body::ChunkedDecoder;
use warden_dataplane::http::parse::{parse_request, Framing, Limits};

pub use fleet::Timing;
use fleet::TIMING;

const LIMITS: Limits = Limits {
    max_head: 64 * 1024,
    max_headers: 100,
};
const MAX_BODY: u64 = 64 * 1024 * 1024;

pub struct MockConfig {
    pub listen: SocketAddr,
    pub threads: usize,
    pub capture: Option<std::path::PathBuf>,
    /// Provider key → status to fail with.
    pub key_status: HashMap<String, u16>,
    /// Close a keep-alive connection silently after this many responses, as providers do with
    /// idle connections (exercises the gateway's stale-connection retry).
    pub max_requests_per_conn: Option<usize>,
    /// Serve HTTPS with this PEM certificate chain and PKCS#8 key.
    pub tls: Option<(std::path::PathBuf, std::path::PathBuf)>,
    /// How the fleet answers when a request's own knobs do not say.
    pub timing: Timing,
}

/// A request as the mock sees it.
pub struct MockRequest<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub headers: Vec<(&'a str, &'a [u8])>,
    pub body: &'a [u8],
}

impl MockRequest<'_> {
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }
}

/// In a stamped event (`mock:stamp=1`), the zeros are replaced by the wall-clock time in
/// microseconds, zero-padded, as the event is written.
pub const SENT_MARK: &str = "sent_us:0000000000000000";

/// What a dialect handler wants done.
pub enum Reply {
    /// A complete response, sent after `delay` (a slow first byte).
    Full {
        status: u16,
        body: Vec<u8>,
        delay: Duration,
    },
    /// SSE events: the first after `first_delay`, each preceded by `delay`; `drop_after`
    /// closes the connection mid-stream; `stamp` writes the time into each [`SENT_MARK`].
    Stream {
        events: Vec<Vec<u8>>,
        first_delay: Duration,
        delay: Duration,
        drop_after: Option<usize>,
        stamp: bool,
    },
    /// Close without answering.
    Drop,
}

/// A token count's answer: `body` with the number of words in `texts` (the mock's tokens).
fn word_count(texts: &[String], body: impl FnOnce(usize) -> serde_json::Value) -> Reply {
    let n = texts.iter().map(|t| t.split_whitespace().count()).sum();
    Reply::Full {
        status: 200,
        body: body(n).to_string().into_bytes(),
        delay: Duration::ZERO,
    }
}

pub fn run(config: MockConfig) -> anyhow::Result<()> {
    let _ = TIMING.set(config.timing);
    let listeners = warden_dataplane::listener::bind_all(config.listen, config.threads.max(1))?;
    let local = listeners[0].local_addr()?;
    let acceptor = match &config.tls {
        Some((cert, key)) => Some(tls_acceptor(cert, key)?),
        None => None,
    };
    let shared = Arc::new(config);
    let mut handles = Vec::new();
    for listener in listeners {
        let shared = Arc::clone(&shared);
        let acceptor = acceptor.clone();
        handles.push(std::thread::spawn(move || -> anyhow::Result<()> {
            let mut rt = monoio::RuntimeBuilder::<monoio::FusionDriver>::new()
                .with_entries(256)
                .enable_timer()
                .build()?;
            rt.block_on(async move {
                let capture = match &shared.capture {
                    Some(p) => Some(File::options().create(true).append(true).open(p)?),
                    None => None,
                };
                let ctx = Rc::new(Ctx {
                    shared,
                    capture: RefCell::new(capture),
                });
                let listener = monoio::net::TcpListener::from_std(listener)?;
                loop {
                    let (stream, _) = listener.accept().await?;
                    let _ = stream.set_nodelay(true);
                    let ctx = Rc::clone(&ctx);
                    match acceptor.clone() {
                        Some(acceptor) => {
                            monoio::spawn(async move {
                                if let Ok(tls) = acceptor.accept(stream).await {
                                    serve(ctx, tls).await;
                                }
                            });
                        }
                        None => {
                            monoio::spawn(serve(ctx, stream));
                        }
                    }
                }
            })
        }));
    }
    let scheme = if shared.tls.is_some() {
        "https"
    } else {
        "http"
    };
    println!("mock listening on {scheme}://{local}");
    let _ = std::io::stdout().flush();
    for h in handles {
        h.join()
            .map_err(|_| anyhow::anyhow!("mock thread panicked"))??;
    }
    Ok(())
}

struct Ctx {
    shared: Arc<MockConfig>,
    capture: RefCell<Option<File>>,
}

async fn serve<S: AsyncReadRent + AsyncWriteRent>(ctx: Rc<Ctx>, mut stream: S) {
    let mut buf: Vec<u8> = Vec::with_capacity(16 * 1024);
    let mut served = 0usize;
    loop {
        if ctx
            .shared
            .max_requests_per_conn
            .is_some_and(|max| served >= max)
        {
            return;
        }
        let head = loop {
            if let Ok(Some(head)) = parse_request(&buf, LIMITS) {
                break head;
            }
            if !read_more(&mut stream, &mut buf).await {
                return;
            }
        };
        let (body, consumed) = match head.framing {
            Framing::Length(n) if n <= MAX_BODY => {
                let end = head.len + n as usize;
                while buf.len() < end {
                    if !read_more(&mut stream, &mut buf).await {
                        return;
                    }
                }
                (buf[head.len..end].to_vec(), end)
            }
            Framing::Chunked => {
                let mut decoder = ChunkedDecoder::new(MAX_BODY);
                let mut body = Vec::new();
                let mut pos = head.len;
                loop {
                    match decoder.decode(&buf[pos..], &mut body) {
                        Ok(n) => pos += n,
                        Err(_) => return,
                    }
                    if decoder.is_done() {
                        break;
                    }
                    if !read_more(&mut stream, &mut buf).await {
                        return;
                    }
                }
                (body, pos)
            }
            Framing::Empty | Framing::UntilClose => (Vec::new(), head.len),
            Framing::Length(_) => return,
        };
        let reply = {
            let mut headers = [httparse::EMPTY_HEADER; 100];
            let mut parsed = httparse::Request::new(&mut headers);
            if parsed.parse(&buf[..head.len]).is_err() {
                return;
            }
            let req = MockRequest {
                method: parsed.method.unwrap_or(""),
                path: parsed.path.unwrap_or(""),
                headers: parsed.headers.iter().map(|h| (h.name, h.value)).collect(),
                body: &body,
            };
            ctx.capture(&req);
            dispatch(&ctx.shared, &req)
        };
        buf.drain(..consumed);
        if !write_reply(&mut stream, reply).await {
            return;
        }
        served += 1;
    }
}

fn dispatch(config: &MockConfig, req: &MockRequest<'_>) -> Reply {
    let path = req.path.split('?').next().unwrap_or("");
    match (req.method, path) {
        ("POST", p) if p.ends_with("/chat/completions") => openai::chat(config, req),
        ("POST", p) if p.ends_with("/embeddings") => embeddings::openai(config, req),
        ("POST", p) if p.ends_with("/responses") => responses::create(config, req),
        ("POST", p) if p.ends_with("/responses/input_tokens") => {
            responses::input_tokens(config, req)
        }
        ("POST", "/v1/messages") => anthropic::messages(config, req),
        ("POST", "/v1/messages/count_tokens") => anthropic::count_tokens(config, req),
        ("POST", p) if p.starts_with("/v1beta/models/") || p.starts_with("/v1/models/") => {
            gemini::generate(config, req)
        }
        _ => openai::error(
            404,
            "not_found",
            "invalid_request_error",
            &format!("Unknown request URL: {} {}", req.method, path),
        ),
    }
}

async fn read_more<S: AsyncReadRent>(stream: &mut S, buf: &mut Vec<u8>) -> bool {
    if buf.capacity() - buf.len() < 8192 {
        buf.reserve(16 * 1024);
    }
    let (len, cap) = (buf.len(), buf.capacity());
    let (res, slice) = stream.read(std::mem::take(buf).slice_mut(len..cap)).await;
    *buf = slice.into_inner();
    matches!(res, Ok(n) if n > 0)
}

async fn write_reply<S: AsyncWriteRent>(stream: &mut S, reply: Reply) -> bool {
    match reply {
        Reply::Drop => false,
        Reply::Full {
            status,
            body,
            delay,
        } => {
            if !delay.is_zero() {
                monoio::time::sleep(delay).await;
            }
            // Rate limits say when to come back, as the providers' do.
            let retry = if status == 429 {
                "retry-after: 1\r\n"
            } else {
                ""
            };
            let mut out = format!(
                "HTTP/1.1 {status} {}\r\ncontent-type: application/json\r\n{retry}content-length: {}\r\n\r\n",
                warden_dataplane::http::respond::reason(status),
                body.len()
            )
            .into_bytes();
            out.extend_from_slice(&body);
            stream.write_all(out).await.0.is_ok()
        }
        Reply::Stream {
            events,
            first_delay,
            delay,
            drop_after,
            stamp,
        } => {
            if !first_delay.is_zero() {
                monoio::time::sleep(first_delay).await;
            }
            let head = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream; charset=utf-8\r\ntransfer-encoding: chunked\r\ncache-control: no-cache\r\n\r\n";
            if stream.write_all(head.to_vec()).await.0.is_err() {
                return false;
            }
            for (i, mut event) in events.into_iter().enumerate() {
                if drop_after == Some(i) {
                    return false;
                }
                // The first event comes after the time to first token alone, when there is one.
                if !delay.is_zero() && (i > 0 || first_delay.is_zero()) {
                    monoio::time::sleep(delay).await;
                }
                if stamp {
                    stamp_event(&mut event);
                }
                let mut chunk = format!("{:x}\r\n", event.len()).into_bytes();
                chunk.extend_from_slice(&event);
                chunk.extend_from_slice(b"\r\n");
                if stream.write_all(chunk).await.0.is_err() {
                    return false;
                }
            }
            stream.write_all(b"0\r\n\r\n".to_vec()).await.0.is_ok()
        }
    }
}

/// Write the current wall-clock time into the event's [`SENT_MARK`], if it has one.
fn stamp_event(event: &mut [u8]) {
    let Some(at) = memchr::memmem::find(event, SENT_MARK.as_bytes()) else {
        return;
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros());
    let digits = format!("{now:016}");
    let start = at + "sent_us:".len();
    if let Some(slot) = event.get_mut(start..start + 16) {
        slot.copy_from_slice(&digits.as_bytes()[digits.len() - 16..]);
    }
}

fn tls_acceptor(cert: &std::path::Path, key: &std::path::Path) -> anyhow::Result<TlsAcceptor> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let chain = CertificateDer::pem_file_iter(cert)?.collect::<Result<Vec<_>, _>>()?;
    let key = PrivateKeyDer::from_pem_file(key)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

impl Ctx {
    /// One JSON line per request: method, path, headers (auth values masked), body.
    fn capture(&self, req: &MockRequest<'_>) {
        let mut file = self.capture.borrow_mut();
        let Some(file) = file.as_mut() else { return };
        let headers: serde_json::Map<String, serde_json::Value> = req
            .headers
            .iter()
            .map(|(name, value)| {
                let value = String::from_utf8_lossy(value);
                let lower = name.to_ascii_lowercase();
                let shown = if matches!(
                    lower.as_str(),
                    "authorization" | "x-api-key" | "x-goog-api-key"
                ) {
                    mask(&value)
                } else {
                    value.into_owned()
                };
                (lower, serde_json::Value::String(shown))
            })
            .collect();
        let body = serde_json::from_slice::<serde_json::Value>(req.body).unwrap_or_else(|_| {
            serde_json::Value::String(String::from_utf8_lossy(req.body).into_owned())
        });
        let line = serde_json::json!({"method": req.method, "path": req.path, "headers": headers, "body": body});
        let mut bytes = line.to_string().into_bytes();
        bytes.push(b'\n');
        let _ = file.write_all(&bytes);
    }
}

/// `****` and the last four characters.
pub fn mask(value: &str) -> String {
    let tail: String = value
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("****{tail}")
}
