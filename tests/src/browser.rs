//! A browser's part in the dashboard tests: a cookie jar, the sign-in form, forms posted with the
//! token the page carries, and the page's JSON API — HTTP as a browser sends it.

use std::collections::HashMap;

use crate::http::{Conn, Response};
use crate::ControlPlane;

/// A browser's view of one control plane: its cookie jar.
pub struct Browser {
    addr: std::net::SocketAddr,
    /// By name: what the control plane set and has not cleared.
    pub cookies: HashMap<String, String>,
}

impl Browser {
    pub fn new(cp: &ControlPlane) -> Browser {
        Browser {
            addr: cp.addr,
            cookies: HashMap::new(),
        }
    }

    pub fn send(
        &mut self,
        method: &str,
        path: &str,
        body: Option<(&str, String)>,
        extra: &[(&str, &str)],
    ) -> Response {
        let mut r = format!("{method} {path} HTTP/1.1\r\nhost: test\r\n");
        if !self.cookies.is_empty() {
            let jar: Vec<String> = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            r.push_str(&format!("cookie: {}\r\n", jar.join("; ")));
        }
        for (name, value) in extra {
            r.push_str(&format!("{name}: {value}\r\n"));
        }
        let body = match body {
            Some((kind, text)) => {
                r.push_str(&format!(
                    "content-type: {kind}\r\ncontent-length: {}\r\n",
                    text.len()
                ));
                text
            }
            None if method == "POST" => {
                r.push_str("content-length: 0\r\n");
                String::new()
            }
            None => String::new(),
        };
        r.push_str("\r\n");
        r.push_str(&body);
        let mut c = Conn::open(self.addr);
        c.send(r.as_bytes());
        let response = c.read_response().expect("response");
        for (name, value) in &response.headers {
            if !name.eq_ignore_ascii_case("set-cookie") {
                continue;
            }
            let (pair, _) = value.split_once(';').unwrap_or((value, ""));
            let (k, v) = pair.split_once('=').unwrap();
            if value.contains("Max-Age=0") {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_owned(), v.to_owned());
            }
        }
        response
    }

    pub fn get(&mut self, path: &str) -> Response {
        self.send("GET", path, None, &[])
    }

    pub fn form(&mut self, path: &str, fields: &[(&str, &str)]) -> Response {
        let text: Vec<String> = fields
            .iter()
            .map(|(k, v)| format!("{k}={}", encode(v)))
            .collect();
        self.send(
            "POST",
            path,
            Some(("application/x-www-form-urlencoded", text.join("&"))),
            &[],
        )
    }

    /// Sign in through the form, as a person would: the form's page first.
    pub fn sign_in(&mut self, name: &str, password: &str) -> Response {
        let page = self.get("/dashboard/login");
        assert_eq!(page.status, 200, "{}", page.text());
        let csrf = hidden(&page.text(), "csrf");
        self.form(
            "/dashboard/login",
            &[("name", name), ("password", password), ("csrf", &csrf)],
        )
    }

    /// The CSRF token the signed-in page carries.
    pub fn page_csrf(&mut self) -> String {
        let page = self.get("/dashboard/");
        assert_eq!(page.status, 200, "{}", page.text());
        hidden(&page.text(), "csrf")
    }

    pub fn api(
        &mut self,
        method: &str,
        path: &str,
        body: &serde_json::Value,
        csrf: Option<&str>,
    ) -> Response {
        let extra: Vec<(&str, &str)> = csrf.map(|c| ("x-csrf-token", c)).into_iter().collect();
        self.send(
            method,
            path,
            Some(("application/json", body.to_string())),
            &extra,
        )
    }
}

pub fn encode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The value of hidden input `name` in a page.
pub fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let at = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} field in\n{html}"))
        + marker.len();
    html[at..].split('"').next().unwrap().to_owned()
}

/// The first operator's password, as the control plane wrote it at its first start.
pub fn initial_password(cp: &ControlPlane) -> String {
    std::fs::read_to_string(cp.data_dir().join("initial-admin-password"))
        .unwrap()
        .trim()
        .to_owned()
}
