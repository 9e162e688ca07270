use super::*;

fn full() -> Record {
    Record {
        kind: Kind::Response,
        at_us: 1_764_000_000_000_000,
        request_id: Some("req_\"1".into()),
        received_us: Some(5),
        first_byte_us: Some(6),
        tenant: Some("acme".into()),
        project: Some("p".into()),
        environment: Some("production".into()),
        api_key_id: Some("key_1".into()),
        client: Some("[::1]:8080".into()),
        dialect: Some("openai".into()),
        route: Some("chat_completions".into()),
        stream: Some(true),
        model_alias: Some("gpt-4o".into()),
        provider: Some("openai".into()),
        upstream_model: Some("gpt-4o-2024".into()),
        key_source: Some("byok".into()),
        provider_key_id: Some("pk_1".into()),
        provider_key_fingerprint: Some("sha256:0123456789ab".into()),
        attempts: vec![
            Attempt {
                provider: "openai".into(),
                key_id: "pk_1".into(),
                key_source: "byok".into(),
                outcome: "status".into(),
                status: Some(429),
            },
            Attempt {
                provider: "anthropic".into(),
                key_id: "pool_0".into(),
                key_source: "pooled".into(),
                outcome: "connect".into(),
                status: None,
            },
        ],
        status: Some(200),
        error: Some("provider_error".into()),
        usage: Some(Usage {
            input_tokens: 1,
            output_tokens: u64::MAX,
            cached_tokens: 3,
            reasoning_tokens: 4,
        }),
        usage_estimated: Some(true),
        cache: Some("exact".into()),
        injection_score: Some(917),
        verdicts: vec![Verdict {
            category: "pii".into(),
            detector: "email".into(),
            action: "redact".into(),
            count: 2,
        }],
        overhead_us: Some(7),
        upstream_us: Some(8),
        count: Some(9),
        deleted_through: Some(10),
        shard: Some(3),
        seq: Some(1 << 40),
    }
}

#[test]
fn every_field_survives_a_round_trip() {
    let r = full();
    assert_eq!(Record::decode(&r.encode()), Ok(r));
    let v4 = Record {
        client: Some("127.0.0.1:1".into()),
        ..Record::default()
    };
    assert_eq!(Record::decode(&v4.encode()), Ok(v4));
    assert_eq!(
        Record::decode(&Record::default().encode()),
        Ok(Record::default())
    );
}

#[test]
fn binary_is_far_smaller_than_json() {
    let r = full();
    let (bin, json) = (
        r.encode().len(),
        serde_json::to_vec(&r).map_or(0, |j| j.len()),
    );
    assert!(bin * 2 < json, "binary {bin} B vs JSON {json} B");
}

#[test]
fn json_payloads_of_older_segments_still_decode() {
    let r = full();
    let json = serde_json::to_vec(&r).unwrap_or_default();
    assert_eq!(Record::decode(&json), Ok(r));
}

#[test]
fn every_truncation_and_corruption_is_an_error_not_a_panic() {
    let bytes = full().encode();
    for cut in 0..bytes.len() {
        let r = Record::decode(&bytes[..cut]);
        // A cut exactly between fields decodes to a shorter record; anything else is an error.
        if let Ok(short) = r {
            assert_ne!(short, full(), "cut at {cut}");
        }
    }
    for at in 1..bytes.len() {
        for flip in [0x01u8, 0x80, 0xff] {
            let mut b = bytes.clone();
            b[at] ^= flip;
            let _ = Record::decode(&b);
        }
    }
    assert!(Record::decode(&[VERSION, 99, 0]).is_err(), "unknown tag");
    assert!(Record::decode(&[VERSION, tag::STATUS, 0xff, 0xff, 0x7f]).is_err());
    assert!(Record::decode(&[VERSION, tag::TENANT, 2, 0xff, 0xfe]).is_err());
    assert!(Record::decode(&[
        VERSION,
        tag::AT_US,
        0xff,
        0xff,
        0xff,
        0xff,
        0xff,
        0xff,
        0xff,
        0xff,
        0xff,
        0x7f
    ])
    .is_err());
    assert!(Record::decode(b"").is_err());
}
