use super::*;

fn card() -> Vec<(Vec<u8>, Vec<u8>)> {
    vec![(b"4111 1111 1111 1111".to_vec(), b"[CARD_1]".to_vec())]
}

fn ok(body: &str, values: &[(Vec<u8>, Vec<u8>)]) -> String {
    let out = rewrite(body.as_bytes(), values).unwrap_or_else(|e| panic!("{body}: {e:?}"));
    let text = String::from_utf8(out).unwrap_or_else(|e| panic!("{e}"));
    // Whatever the input's escapes, the output is JSON still.
    serde_json::from_str::<serde_json::Value>(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
    text
}

#[test]
fn a_value_is_replaced_however_its_characters_are_escaped() {
    for body in [
        r#"{"c":"pay 4111 1111 1111 1111 now"}"#,
        // The first character escaped: raw search found `4111 …` inside the escape and left
        // `\u003[CARD_1]`, invalid JSON.
        r#"{"c":"pay \u0034111 1111 1111 1111 now"}"#,
        r#"{"c":"pay 4111\u00201111 1111 111\u0031 now"}"#,
        r#"{"c":"pay \u0034\u0031\u0031\u0031\u0020\u0031\u0031\u0031\u0031 1111 1111 now"}"#,
    ] {
        assert_eq!(ok(body, &card()), r#"{"c":"pay [CARD_1] now"}"#, "{body}");
    }
}

#[test]
fn an_escaped_copy_of_a_value_found_plainly_elsewhere_is_replaced_too() {
    // Raw search replaced the plain copy, counted the value as done, and sent the escaped one.
    let body = r#"{"c":"a 4111 1111 1111 1111 b 4111 1111 1111 111\u0031 c","d":["x\u0034111 1111 1111 1111"]}"#;
    assert_eq!(
        ok(body, &card()),
        r#"{"c":"a [CARD_1] b [CARD_1] c","d":["x[CARD_1]"]}"#
    );
}

#[test]
fn a_value_outside_ascii_is_replaced_as_written_and_as_json_escapes() {
    let card = vec![(
        "４１１１ １１１１".as_bytes().to_vec(),
        b"[CARD_1]".to_vec(),
    )];
    // Raw UTF-8 (JavaScript, Go, the openai SDK), Python's default escapes, upper-case hex, and
    // one character escaped with the next not.
    for body in [
        r#"{"content":"pay ４１１１ １１１１ now"}"#,
        r#"{"content":"pay \uff14\uff11\uff11\uff11 \uff11\uff11\uff11\uff11 now"}"#,
        r#"{"content":"pay \uFF14\uFF11\uFF11\uFF11 \uFF11\uFF11\uFF11\uFF11 now"}"#,
        r#"{"content":"pay \uff14１１１ １１１１ now"}"#,
    ] {
        assert_eq!(
            ok(body, &card),
            r#"{"content":"pay [CARD_1] now"}"#,
            "{body}"
        );
    }
    // A character past the BMP is two escapes.
    let math = vec![("𝟒𝟏".as_bytes().to_vec(), b"[X]".to_vec())];
    assert_eq!(
        ok(r#"{"c":"\ud835\udfd2\ud835\udfcf"}"#, &math),
        r#"{"c":"[X]"}"#
    );
}

#[test]
fn longer_values_win_keys_count_and_structure_is_left_alone() {
    let values = vec![
        (b"jane@example.com".to_vec(), b"[EMAIL_1]".to_vec()),
        (b"example.com".to_vec(), b"[DOMAIN_1]".to_vec()),
    ];
    assert_eq!(
        ok(
            r#"{"jane@example.com":"write to jane@example.com or example.com","n":1}"#,
            &values
        ),
        r#"{"[EMAIL_1]":"write to [EMAIL_1] or [DOMAIN_1]","n":1}"#
    );
    // Escaped quotes and backslashes inside a string do not end it.
    assert_eq!(
        ok(r#"{"c":"say \"4111 1111 1111 1111\" \\ ok"}"#, &card()),
        r#"{"c":"say \"[CARD_1]\" \\ ok"}"#
    );
    // A value in no string (a number here) is refused, not sent.
    let digits = vec![(b"4155550100".to_vec(), b"[PHONE_1]".to_vec())];
    assert!(rewrite(br#"{"c":4155550100}"#, &digits).is_err());
}

#[test]
fn a_value_that_is_also_a_json_number_is_refused_not_half_replaced() {
    let digits = vec![(b"4111111111111111".to_vec(), b"[CARD_1]".to_vec())];
    // Replacing the string's copy would send the number's.
    for body in [
        r#"{"c":"card 4111111111111111","payment":{"card":4111111111111111}}"#,
        r#"{"payment":[4111111111111111]}"#,
        r#"{"payment":-4111111111111111}"#,
        // The same number with an exponent or a fraction: a provider reads the same value.
        r#"{"c":"card 4111111111111111","payment":{"card":4.111111111111111e15}}"#,
        r#"{"c":"card 4111111111111111","payment":[1.5, 4111111111111111.0]}"#,
        r#"{"c":"card 4111111111111111","payment":-41111111111111.11E2}"#,
        // Not the value, but its digits stand as written.
        r#"{"c":"card 4111111111111111","payment":4111111111111111.5}"#,
    ] {
        let err = rewrite(body.as_bytes(), &digits).err();
        assert!(
            err.is_some_and(|e| e.to_string().contains("JSON number")),
            "{body}"
        );
    }
    // Digits that only contain the value are another number.
    assert_eq!(
        ok(
            r#"{"c":"card 4111111111111111","n":41111111111111112}"#,
            &digits
        ),
        r#"{"c":"card [CARD_1]","n":41111111111111112}"#
    );
    // So do numbers whose value is another, whole or not.
    assert_eq!(
        ok(
            r#"{"c":"card 4111111111111111","n":[4.1111111111111115e15,4.111111111111112e15,1e3]}"#,
            &digits
        ),
        r#"{"c":"card [CARD_1]","n":[4.1111111111111115e15,4.111111111111112e15,1e3]}"#
    );
}
