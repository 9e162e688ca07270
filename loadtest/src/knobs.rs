//! Test knobs riding in the last user message (`mock:chunks=3 mock:delay_ms=100 ...`), so an
//! unmodified client SDK can steer the mock through the gateway.

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Knobs {
    /// Content events in a stream.
    pub chunks: Option<usize>,
    /// Before each stream event, and before a non-stream answer.
    pub delay_ms: u64,
    /// Answer with this status and the provider's error body.
    pub status: Option<u16>,
    /// Close the connection after this many stream events (0: before any response).
    pub drop_after: Option<usize>,
    /// Answer with a call of this tool when the request offers it.
    pub tool: Option<String>,
    /// Reply text from these bytes instead of the echo.
    pub reply: Option<Vec<u8>>,
    /// Leave usage out of the answer, whatever the request asked (as some OpenAI-compatible
    /// providers ignore `stream_options.include_usage`).
    pub no_usage: bool,
    /// Stamp each stream event with the time it is written ([`crate::mock::SENT_MARK`]), for
    /// `warden-loadtest streams` to measure each event's delay.
    pub stamp: bool,
}

impl Knobs {
    pub fn parse(text: &str) -> Knobs {
        let mut k = Knobs::default();
        for word in text.split_whitespace() {
            let Some(rest) = word.strip_prefix("mock:") else {
                continue;
            };
            let Some((name, value)) = rest.split_once('=') else {
                continue;
            };
            match name {
                "chunks" => k.chunks = value.parse().ok().filter(|n| *n > 0),
                "delay_ms" => k.delay_ms = value.parse().unwrap_or(0).min(600_000),
                "status" => k.status = value.parse().ok().filter(|s| (100..=599).contains(s)),
                "drop_after" => k.drop_after = value.parse().ok(),
                "tool" => k.tool = Some(value.to_owned()),
                "reply_hex" => k.reply = decode_hex(value),
                "no_usage" => k.no_usage = value == "1",
                "stamp" => k.stamp = value == "1",
                _ => {}
            }
        }
        k
    }
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Split `text` into `n` pieces of nearly equal length on character boundaries.
pub fn split(text: &str, n: usize) -> Vec<&str> {
    let chars: Vec<usize> = text
        .char_indices()
        .map(|(i, _)| i)
        .chain([text.len()])
        .collect();
    let count = chars.len() - 1;
    let n = n.clamp(1, count.max(1));
    (0..n)
        .map(|i| {
            let (a, b) = (chars[i * count / n], chars[(i + 1) * count / n]);
            &text[a..b]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_knobs_among_words() {
        let k = Knobs::parse(
            "hello mock:chunks=10 mock:delay_ms=100 mock:reply_hex=6869 mock:tool=get_weather x",
        );
        assert_eq!(k.chunks, Some(10));
        assert_eq!(k.delay_ms, 100);
        assert_eq!(k.reply.as_deref(), Some(&b"hi"[..]));
        assert_eq!(k.tool.as_deref(), Some("get_weather"));
        assert_eq!(Knobs::parse("mock:status=abc").status, None);
    }

    #[test]
    fn split_keeps_every_character() {
        let text = "echo: héllo wörld";
        for n in 1..25 {
            let parts = split(text, n);
            assert_eq!(parts.concat(), text);
            assert!(parts.len() <= n);
        }
        assert_eq!(split("", 3), vec![""]);
    }
}
