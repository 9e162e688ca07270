//! The dashboard's pages and stylesheet, embedded in the binary (`controlplane/assets/`): nothing
//! is loaded from elsewhere, and the pages work offline. Values are HTML-escaped as they are put
//! in; pages go out with a Content-Security-Policy that allows only this origin.

use axum::http::header;
use axum::response::{IntoResponse, Response};

const LOGIN: &str = include_str!("../../assets/login.html");
const LAYOUT: &str = include_str!("../../assets/layout.html");
const SHELL: &str = include_str!("../../assets/shell.html");
const CSS: &str = include_str!("../../assets/warden.css");
const PROJECT: &str = include_str!("../../assets/project.html");
const SETTINGS: &str = include_str!("../../assets/settings.html");
const KEY_MADE: &str = include_str!("../../assets/key-made.html");
const REQUESTS: &str = include_str!("../../assets/requests.html");
const TEAM: &str = include_str!("../../assets/team.html");
const USAGE: &str = include_str!("../../assets/usage.html");
const OPERATIONS: &str = include_str!("../../assets/operations.html");
const STATEMENT: &str = include_str!("../../assets/statement.html");
const USAGE_JS: &str = include_str!("../../assets/usage.js");
const COPY_JS: &str = include_str!("../../assets/copy.js");
/// uPlot 1.6.32 (npm `uplot`, MIT, `assets/vendor/uPlot.LICENSE`): the charts.
const UPLOT_JS: &str = include_str!("../../assets/vendor/uPlot.iife.min.js");
const UPLOT_CSS: &str = include_str!("../../assets/vendor/uPlot.min.css");

/// Headers every page carries: its type, no framing, scripts and styles from this origin only,
/// and no caching of what a signed-in person saw.
const PAGE_HEADERS: [(header::HeaderName, &str); 4] = [
    (header::CONTENT_TYPE, "text/html; charset=utf-8"),
    (
        header::CONTENT_SECURITY_POLICY,
        "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    ),
    (header::X_FRAME_OPTIONS, "DENY"),
    (header::CACHE_CONTROL, "no-store"),
];

/// The sign-in page, with its double-submit token and a message (may be empty).
pub fn login(csrf: &str, message: &str) -> Response {
    html(&fill(LOGIN, &[("csrf", csrf), ("message", message)]))
}

/// The signed-in pages: each a content template of `assets/` in the one layout (`layout.html`:
/// the head, the header with who is signed in and the sign-out form). `values` fill the content;
/// "name" and "csrf" among them fill the header too. Values named in `{{!…}}` are markup the
/// caller built with [`escape`].
#[derive(Clone, Copy)]
pub enum Page {
    Projects,
    Project,
    Settings,
    Requests,
    People,
    Usage,
    Operations,
    Statement,
}

impl Page {
    /// (title, extra head markup, content template).
    fn parts(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Page::Projects => ("Projects", "", SHELL),
            Page::Project => ("Project", "", PROJECT),
            Page::Settings => ("Project settings", "", SETTINGS),
            Page::Requests => ("Requests", "", REQUESTS),
            Page::People => ("People", "", TEAM),
            Page::Usage => ("Usage", USAGE_HEAD, USAGE),
            Page::Operations => ("Operations", "", OPERATIONS),
            Page::Statement => ("Statement", "", STATEMENT),
        }
    }
}

/// The usage page's chart: uPlot and the script that feeds it, from the binary.
const USAGE_HEAD: &str = "<link rel=\"stylesheet\" href=\"/dashboard/assets/uplot.css\">\n\
    <script src=\"/dashboard/assets/uplot.js\" defer></script>\n\
    <script src=\"/dashboard/assets/usage.js\" defer></script>";

/// Signed-in page `page` with `values`.
pub fn framed(page: Page, values: &[(&str, &str)]) -> Response {
    let (title, head, content) = page.parts();
    let get = |key: &str| {
        values
            .iter()
            .find(|(k, _)| *k == key)
            .map_or("", |(_, v)| *v)
    };
    let main = fill(content, values);
    html(&fill(
        LAYOUT,
        &[
            ("title", title),
            ("head", head),
            ("who", get("who")),
            ("csrf", get("csrf")),
            ("main", &main),
        ],
    ))
}

/// The page that shows a new Warden key, once.
pub fn key_made(key: &str, project_id: &str) -> Response {
    html(&fill(KEY_MADE, &[("key", key), ("project_id", project_id)]))
}

/// `GET /dashboard/assets/{name}`: the stylesheets and scripts, from the binary.
pub async fn asset(axum::extract::Path(name): axum::extract::Path<String>) -> Response {
    let (kind, body) = match name.as_str() {
        "warden.css" => ("text/css; charset=utf-8", CSS),
        "uplot.css" => ("text/css; charset=utf-8", UPLOT_CSS),
        "uplot.js" => ("text/javascript; charset=utf-8", UPLOT_JS),
        "usage.js" => ("text/javascript; charset=utf-8", USAGE_JS),
        "copy.js" => ("text/javascript; charset=utf-8", COPY_JS),
        _ => return axum::http::StatusCode::NOT_FOUND.into_response(),
    };
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "max-age=3600"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response()
}

fn html(body: &str) -> Response {
    (PAGE_HEADERS, body.to_owned()).into_response()
}

/// `template` with each `{{key}}` replaced by its value, escaped (`{{!key}}`: as it is), in one pass (a value is never
/// read as a placeholder); an unknown key is left out.
fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() + 256);
    let mut rest = template;
    while let Some(open) = rest.find("{{") {
        out.push_str(&rest[..open]);
        let after = &rest[open + 2..];
        let Some(close) = after.find("}}") else {
            out.push_str(&rest[open..]);
            return out;
        };
        let key = &after[..close];
        // `{{!key}}`: markup the caller built (and escaped) itself.
        let (raw, name) = match key.strip_prefix('!') {
            Some(name) => (true, name),
            None => (false, key),
        };
        if let Some((_, v)) = values.iter().find(|(k, _)| *k == name) {
            if raw {
                out.push_str(v);
            } else {
                out.push_str(&escape(v));
            }
        }
        rest = &after[close + 2..];
    }
    out.push_str(rest);
    out
}

pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn values_are_escaped_and_every_placeholder_is_filled() {
        let values = [
            ("who", "<b>&\"x' {{csrf}}"),
            ("title", "Projects"),
            ("csrf", "t0k"),
        ];
        let page = super::fill(super::LAYOUT, &values);
        assert!(
            page.contains("{{csrf}}"),
            "a value is not read as a placeholder"
        );
        assert_eq!(page.matches("t0k").count(), 2, "{page}");
        assert!(page.contains("&lt;b&gt;&amp;&quot;x&#39;"));
        assert!(!page.contains("<b>&"));
        assert!(
            !page.contains("{{who}}") && !page.contains("{{title}}"),
            "{page}"
        );
        let login = super::fill(super::LOGIN, &[("csrf", "t"), ("message", "")]);
        assert!(!login.contains("{{"));
        assert!(login.contains("type=\"password\""));
    }
}
