//! A minimal blocking HTTP/1.1 client for tests: enough to read status, headers and bodies
//! (Content-Length or chunked), and to observe a stream's chunks as they arrive.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    /// A chat completion's first choice's `message.content` (empty when there is none).
    pub fn content(&self) -> String {
        self.json()["choices"][0]["message"]["content"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// The text a chat completion stream carries: its chunks' `delta.content`, joined.
    pub fn stream_text(&self) -> String {
        self.events()
            .iter()
            .filter_map(|e| serde_json::from_str::<serde_json::Value>(e).ok())
            .filter_map(|c| {
                c["choices"][0]["delta"]["content"]
                    .as_str()
                    .map(str::to_owned)
            })
            .collect()
    }

    /// The `data:` payloads of an SSE body.
    pub fn events(&self) -> Vec<String> {
        self.text()
            .split("\n\n")
            .filter_map(|e| {
                e.lines()
                    .find_map(|l| l.strip_prefix("data: "))
                    .map(str::to_owned)
            })
            .collect()
    }
}

/// A connection that reads responses one at a time (keep-alive, pipelining).
pub struct Conn {
    pub stream: TcpStream,
    buf: Vec<u8>,
    /// When each body chunk of the last response arrived, for streaming checks.
    pub arrivals: Vec<(Instant, usize)>,
}

impl Conn {
    pub fn open(addr: SocketAddr) -> Conn {
        let stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        Conn {
            stream,
            buf: Vec::new(),
            arrivals: Vec::new(),
        }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }

    fn fill(&mut self) -> bool {
        let mut tmp = [0u8; 16 * 1024];
        match self.stream.read(&mut tmp) {
            Ok(0) | Err(_) => false,
            Ok(n) => {
                self.buf.extend_from_slice(&tmp[..n]);
                true
            }
        }
    }

    /// Read one response. `None` if the connection closed before a full head.
    pub fn read_response(&mut self) -> Option<Response> {
        self.arrivals.clear();
        let head_end = loop {
            if let Some(i) = find(&self.buf, b"\r\n\r\n") {
                break i + 4;
            }
            if !self.fill() {
                return None;
            }
        };
        let head = String::from_utf8_lossy(&self.buf[..head_end]).into_owned();
        let mut lines = head.split("\r\n");
        let status: u16 = lines.next()?.split(' ').nth(1)?.parse().ok()?;
        let headers: Vec<(String, String)> = lines
            .filter(|l| !l.is_empty())
            .filter_map(|l| {
                l.split_once(':')
                    .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
            })
            .collect();
        self.buf.drain(..head_end);
        let get = |n: &str| {
            headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(n))
                .map(|(_, v)| v.clone())
        };
        let body = if get("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
            self.read_chunked()
        } else if let Some(len) = get("content-length") {
            let len: usize = len.parse().unwrap();
            while self.buf.len() < len {
                if !self.fill() {
                    break;
                }
            }
            let n = len.min(self.buf.len());
            self.buf.drain(..n).collect()
        } else if status == 100 || status == 204 {
            Vec::new()
        } else {
            while self.fill() {}
            std::mem::take(&mut self.buf)
        };
        keep_for_scan(&head, &body);
        Some(Response {
            status,
            headers,
            body,
        })
    }

    fn read_chunked(&mut self) -> Vec<u8> {
        let mut body = Vec::new();
        loop {
            let line_end = loop {
                if let Some(i) = find(&self.buf, b"\r\n") {
                    break i;
                }
                if !self.fill() {
                    return body;
                }
            };
            let size =
                usize::from_str_radix(String::from_utf8_lossy(&self.buf[..line_end]).trim(), 16)
                    .unwrap();
            self.buf.drain(..line_end + 2);
            if size == 0 {
                while find(&self.buf, b"\r\n").is_none() && self.fill() {}
                if let Some(i) = find(&self.buf, b"\r\n") {
                    self.buf.drain(..i + 2);
                }
                return body;
            }
            while self.buf.len() < size + 2 {
                if !self.fill() {
                    return body;
                }
            }
            self.arrivals.push((Instant::now(), size));
            body.extend(self.buf.drain(..size));
            self.buf.drain(..2);
        }
    }

    /// Whether the server has closed the connection (reads EOF within `wait`).
    pub fn is_closed(&mut self, wait: Duration) -> bool {
        self.stream.set_read_timeout(Some(wait)).unwrap();
        let mut tmp = [0u8; 1];
        let closed = matches!(self.stream.read(&mut tmp), Ok(0));
        self.stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        closed
    }
}

pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

pub fn request(method: &str, path: &str, key: Option<&str>, body: &[u8]) -> Vec<u8> {
    let mut r = format!("{method} {path} HTTP/1.1\r\nhost: test\r\n");
    if let Some(k) = key {
        r.push_str(&format!("authorization: Bearer {k}\r\n"));
    }
    if method == "POST" {
        r.push_str(&format!(
            "content-type: application/json\r\ncontent-length: {}\r\n",
            body.len()
        ));
    }
    r.push_str("\r\n");
    let mut bytes = r.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

pub fn get(addr: SocketAddr, path: &str) -> Response {
    get_with_key(addr, path, None)
}

pub fn get_with_key(addr: SocketAddr, path: &str, key: Option<&str>) -> Response {
    let mut c = Conn::open(addr);
    c.send(&request("GET", path, key, b""));
    c.read_response().expect("response")
}

pub fn post_json(addr: SocketAddr, path: &str, key: &str, body: &serde_json::Value) -> Response {
    let mut c = Conn::open(addr);
    c.send(&request(
        "POST",
        path,
        Some(key),
        body.to_string().as_bytes(),
    ));
    c.read_response().expect("response")
}

/// [`post_json`] with extra header lines (name, value), sent as given.
pub fn post_json_with(
    addr: SocketAddr,
    path: &str,
    key: &str,
    body: &serde_json::Value,
    headers: &[(&str, &str)],
) -> Response {
    let mut bytes = request("POST", path, Some(key), body.to_string().as_bytes());
    let extra: String = headers
        .iter()
        .map(|(n, v)| format!("{n}: {v}\r\n"))
        .collect();
    let at = find(&bytes, b"\r\n").map_or(0, |i| i + 2);
    bytes.splice(at..at, extra.into_bytes());
    let mut c = Conn::open(addr);
    c.send(&bytes);
    c.read_response().expect("response")
}

/// Any request with a bearer token and an optional JSON body, on a fresh connection.
pub fn call(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: &str,
    body: Option<&serde_json::Value>,
) -> Response {
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let mut r =
        format!("{method} {path} HTTP/1.1\r\nhost: test\r\nauthorization: Bearer {token}\r\n");
    if !body.is_empty() || method == "POST" || method == "PUT" {
        r.push_str(&format!(
            "content-type: application/json\r\ncontent-length: {}\r\n",
            body.len()
        ));
    }
    r.push_str("\r\n");
    r.push_str(&body);
    let mut c = Conn::open(addr);
    c.send(r.as_bytes());
    c.read_response().expect("response")
}

/// Under `WARDEN_SCAN_DIR`, every response head and body a test read (error bodies, metrics
/// pages, answers) is appended to a file there for `scripts/scan_secrets.py`.
fn keep_for_scan(head: &str, body: &[u8]) {
    use std::io::Write;
    let Some(dir) = std::env::var_os("WARDEN_SCAN_DIR") else {
        return;
    };
    let path = std::path::Path::new(&dir).join(format!("responses-{}.log", std::process::id()));
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let _ = f.write_all(head.as_bytes());
        let _ = f.write_all(body);
        let _ = f.write_all(b"\n");
    }
}
