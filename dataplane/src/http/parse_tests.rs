use super::*;

const LIMITS: Limits = Limits {
    max_head: 16 * 1024,
    max_headers: 64,
};

fn req(buf: &[u8]) -> Result<Option<RequestHead>, HeadError> {
    parse_request(buf, LIMITS)
}

const VALID: &[&[u8]] = &[
    b"GET /v1/models HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer wdn_k\r\n\r\n",
    b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Type: application/json\r\n\r\n{}",
    b"POST /v1/chat/completions HTTP/1.1\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
    b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    b"POST /x HTTP/1.1\r\nx-api-key: k\r\nx-request-id: abc\r\nConnection: close\r\ncontent-length:  0 \r\n\r\n",
];

#[test]
fn every_valid_request_split_at_every_byte_parses_identically() -> Result<(), HeadError> {
    for full in VALID {
        let whole = req(full)?.ok_or(HeadError::Malformed("whole request incomplete"))?;
        for cut in 0..whole.len {
            assert!(
                req(&full[..cut])?.is_none(),
                "prefix of {cut} bytes parsed as complete"
            );
        }
        for cut in whole.len..=full.len() {
            let h =
                req(&full[..cut])?.ok_or(HeadError::Malformed("complete head reported partial"))?;
            assert_eq!(
                (h.len, h.framing, h.keep_alive),
                (whole.len, whole.framing, whole.keep_alive)
            );
            assert_eq!(h.path.get(full), whole.path.get(full));
        }
    }
    Ok(())
}

#[test]
fn fields_are_read_by_offset() -> Result<(), HeadError> {
    let h = req(VALID[0])?.ok_or(HeadError::Malformed("partial"))?;
    assert_eq!(h.method, Method::Get);
    assert_eq!(h.path.get(VALID[0]), b"/v1/models");
    assert_eq!(
        h.authorization.map(|s| s.get(VALID[0])),
        Some(&b"Bearer wdn_k"[..])
    );
    assert_eq!(h.framing, Framing::Empty);
    let h = req(VALID[2])?.ok_or(HeadError::Malformed("partial"))?;
    assert!(h.expect_continue);
    assert_eq!(h.framing, Framing::Chunked);
    let h = req(VALID[3])?.ok_or(HeadError::Malformed("partial"))?;
    assert!(h.keep_alive, "HTTP/1.0 with keep-alive");
    let h = req(VALID[4])?.ok_or(HeadError::Malformed("partial"))?;
    assert!(!h.keep_alive);
    assert_eq!(h.request_id.map(|s| s.get(VALID[4])), Some(&b"abc"[..]));
    Ok(())
}

#[test]
fn smuggling_shapes_are_refused() {
    let cases: &[&[u8]] = &[
        b"POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n",
        b"POST / HTTP/1.1\r\nContent-Length: 3, 3\r\n\r\n",
        b"POST / HTTP/1.1\r\nContent-Length: +3\r\n\r\n",
        b"POST / HTTP/1.1\r\nContent-Length: 0x10\r\n\r\n",
        b"POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n",
        b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"POST / HTTP/1.1\r\nTransfer-Encoding: identity\r\n\r\n",
        b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
    ];
    for c in cases {
        assert!(
            matches!(req(c), Err(HeadError::Framing(_))),
            "{:?}",
            String::from_utf8_lossy(c)
        );
    }
}

#[test]
fn bounds_are_enforced() {
    let mut big = b"GET / HTTP/1.1\r\nX: ".to_vec();
    big.resize(LIMITS.max_head + 10, b'a');
    assert_eq!(
        req(&big).err(),
        Some(HeadError::TooLarge),
        "incomplete head past the limit"
    );
    big.extend_from_slice(b"\r\n\r\n");
    assert_eq!(
        req(&big).err(),
        Some(HeadError::TooLarge),
        "complete head past the limit"
    );

    let mut many = b"GET / HTTP/1.1\r\n".to_vec();
    for i in 0..65 {
        many.extend_from_slice(format!("h{i}: v\r\n").as_bytes());
    }
    many.extend_from_slice(b"\r\n");
    assert_eq!(req(&many).err(), Some(HeadError::TooManyHeaders));

    assert!(matches!(
        req(b"GET / HTTP/2.0\r\n\r\n"),
        Err(HeadError::Version)
    ));
    assert!(matches!(
        req(b"GET /\x01 HTTP/1.1\r\n\r\n"),
        Err(HeadError::Malformed(_))
    ));
    assert!(matches!(
        req(b"POST / HTTP/1.1\r\nExpect: something\r\n\r\n"),
        Err(HeadError::Malformed(_))
    ));
}

#[test]
fn responses_frame_by_status_and_headers() -> Result<(), HeadError> {
    let parse = |b: &[u8]| parse_response(b, LIMITS, false);
    let r = parse(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\nTransfer-Encoding: chunked\r\n\r\n")?
        .ok_or(HeadError::Malformed("partial"))?;
    assert!(r.event_stream && r.keep_alive);
    assert_eq!(r.framing, Framing::Chunked);
    let r = parse(b"HTTP/1.1 429 Too Many\r\nRetry-After: 7\r\nContent-Length: 5\r\n\r\n")?
        .ok_or(HeadError::Malformed("p"))?;
    assert_eq!(
        (r.status, r.framing, r.retry_after_s),
        (429, Framing::Length(5), Some(7))
    );
    let r = parse(b"HTTP/1.1 200 OK\r\n\r\n")?.ok_or(HeadError::Malformed("p"))?;
    assert_eq!(r.framing, Framing::UntilClose);
    assert!(!r.keep_alive);
    let r = parse(b"HTTP/1.1 204 No Content\r\n\r\n")?.ok_or(HeadError::Malformed("p"))?;
    assert_eq!(r.framing, Framing::Empty);
    assert!(matches!(
        parse(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"),
        Err(HeadError::Framing(_))
    ));
    Ok(())
}

#[test]
fn content_codings_other_than_identity_are_marked_on_requests_and_refused_on_answers(
) -> Result<(), HeadError> {
    let coded = |value: &str| -> Result<bool, HeadError> {
        let raw = format!("POST /v1/chat/completions HTTP/1.1\r\nHost: a\r\nContent-Encoding: {value}\r\nContent-Length: 2\r\n\r\n{{}}");
        Ok(req(raw.as_bytes())?
            .ok_or(HeadError::Malformed("partial"))?
            .content_coded)
    };
    for value in [
        "gzip",
        "br",
        "zstd",
        "deflate",
        "identity, gzip",
        "GZIP",
        " x-gzip ",
    ] {
        assert!(coded(value)?, "{value}");
    }
    for value in ["identity", " IDENTITY ", "identity,identity", ""] {
        assert!(!coded(value)?, "{value:?}");
    }
    let plain = req(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n{}")?
        .ok_or(HeadError::Malformed("partial"))?;
    assert!(!plain.content_coded);

    let parse = |b: &[u8]| parse_response(b, LIMITS, false);
    assert!(matches!(
        parse(b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 5\r\n\r\n"),
        Err(HeadError::Malformed(why)) if why.contains("content-coded")
    ));
    assert!(matches!(
        parse(b"HTTP/1.1 200 OK\r\nContent-Encoding: br\r\nTransfer-Encoding: chunked\r\n\r\n"),
        Err(HeadError::Malformed(_))
    ));
    // No body, nothing to read: taken as it is. So is `identity`.
    for ok in [
        b"HTTP/1.1 204 No Content\r\nContent-Encoding: gzip\r\n\r\n".as_slice(),
        b"HTTP/1.1 200 OK\r\nContent-Encoding: identity\r\nContent-Length: 2\r\n\r\n",
    ] {
        assert!(parse(ok)?.is_some());
    }
    Ok(())
}
