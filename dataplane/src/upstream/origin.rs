//! A provider origin parsed once from its base URL when the serving state is built: scheme,
//! host, port, the Host header value, the base path that request paths are appended to, and the
//! pool key that keeps connections to different origins apart.

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub tls: bool,
    /// Hostname or IP literal, without brackets.
    pub host: Box<str>,
    pub port: u16,
    /// `host[:port]` as sent in the Host header.
    pub authority: Box<str>,
    /// Path prefix without a trailing slash (`/v1`, or empty).
    pub base_path: Box<str>,
    /// `scheme://host:port`.
    pub pool_key: Box<str>,
}

impl Origin {
    pub fn parse(url: &str) -> Result<Origin, String> {
        let (tls, rest) = if let Some(r) = url.strip_prefix("https://") {
            (true, r)
        } else if let Some(r) = url.strip_prefix("http://") {
            (false, r)
        } else {
            return Err(format!(
                "base URL {url:?} must start with http:// or https://"
            ));
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        if authority.is_empty() || authority.contains('@') || path.contains(['?', '#']) {
            return Err(format!(
                "base URL {url:?} needs a host, and no credentials, query or fragment"
            ));
        }
        let default_port = if tls { 443 } else { 80 };
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let end = v6
                .find(']')
                .ok_or_else(|| format!("base URL {url:?}: unclosed IPv6 literal"))?;
            let port = match &v6[end + 1..] {
                "" => default_port,
                p => parse_port(p.strip_prefix(':').unwrap_or("x"), url)?,
            };
            (&v6[..end], port)
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h, parse_port(p, url)?),
                None => (authority, default_port),
            }
        };
        let scheme = if tls { "https" } else { "http" };
        Ok(Origin {
            tls,
            host: host.into(),
            port,
            authority: authority.into(),
            base_path: path.trim_end_matches('/').into(),
            pool_key: format!("{scheme}://{authority}:{port}").into(),
        })
    }
}

fn parse_port(p: &str, url: &str) -> Result<u16, String> {
    p.parse()
        .map_err(|_| format!("base URL {url:?}: invalid port"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_provider_urls() -> Result<(), String> {
        let o = Origin::parse("https://api.openai.com/v1")?;
        assert_eq!(
            (o.tls, &*o.host, o.port, &*o.base_path),
            (true, "api.openai.com", 443, "/v1")
        );
        let o = Origin::parse("http://127.0.0.1:9000")?;
        assert_eq!(
            (&*o.authority, o.port, &*o.base_path),
            ("127.0.0.1:9000", 9000, "")
        );
        let o = Origin::parse("http://[::1]:9000/openai/v1/")?;
        assert_eq!(
            (&*o.host, o.port, &*o.base_path),
            ("::1", 9000, "/openai/v1")
        );
        assert!(Origin::parse("ftp://x").is_err());
        assert!(Origin::parse("https://user:pw@x").is_err());
        assert!(Origin::parse("http://x:notaport").is_err());
        Ok(())
    }
}
