//! Tests of `engine.rs`: what the detectors find and where, and that each pattern compiles on
//! its own.

use super::*;

fn ids(engine: &Engine, text: &str) -> Vec<(&'static str, String)> {
    let scratch = engine.scratch().unwrap_or_else(|e| panic!("{e}"));
    let mut out = Vec::new();
    engine.scan(&scratch, text.as_bytes(), &mut out);
    out.iter()
        .map(|f| (f.detector().id, text[f.start..f.end].to_owned()))
        .collect()
}

#[test]
fn values_the_provider_reads_through_folded_characters_are_found_with_their_own_spans() {
    let engine = Engine::for_tests();
    let text = "Mail geor\u{200b}gia@example.com, card ４１１１ １１１１ １１１１ １１１１, \
                call ٠١٥٣٥٢٤٦٦٢ or (0118)\u{a0}496\u{a0}0007, key AKIA\u{200b}IOSFODNN7EXAMPLE.";
    let want = [
        ("email", "geor\u{200b}gia@example.com"),
        ("payment_card", "４１１１ １１１１ １１１１ １１１１"),
        ("phone", "٠١٥٣٥٢٤٦٦٢"),
        ("phone", "(0118)\u{a0}496\u{a0}0007"),
        ("aws_access_key_id", "AKIA\u{200b}IOSFODNN7EXAMPLE"),
    ];
    assert_eq!(
        ids(engine, text),
        want.iter()
            .map(|(a, b)| (*a, (*b).to_owned()))
            .collect::<Vec<_>>()
    );
}

#[test]
fn finds_confirmed_values_only() {
    let engine = Engine::for_tests();
    let found = ids(
        engine,
        "Mail jane.doe@example.co.uk or call +44 20 7946 0958; card 4111-1111-1111-1111, order 4111-1111-1111-1112. \
         SSN 123-45-6789, IBAN DE89 3704 0044 0532 0130 00, host 10.0.0.254, key sk-ant-api03-abcdefghijklmnopqrstuvwxyz, \
         gateway key wdn_4f9a0c2e7b1d5a3f9e8c7b6a5d4c3b2a1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c.",
    );
    let want = [
        ("email", "jane.doe@example.co.uk"),
        ("phone", "+44 20 7946 0958"),
        ("payment_card", "4111-1111-1111-1111"),
        ("us_ssn", "123-45-6789"),
        ("iban", "DE89 3704 0044 0532 0130 00"),
        ("ipv4", "10.0.0.254"),
        (
            "anthropic_api_key",
            "sk-ant-api03-abcdefghijklmnopqrstuvwxyz",
        ),
        (
            "warden_api_key",
            "wdn_4f9a0c2e7b1d5a3f9e8c7b6a5d4c3b2a1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c",
        ),
    ];
    assert_eq!(
        found,
        want.iter()
            .map(|(a, b)| (*a, (*b).to_owned()))
            .collect::<Vec<_>>()
    );
    assert!(ids(
        engine,
        "Order 4111-1111-1111-1112 shipped; tracking 1Z999AA10123456784."
    )
    .is_empty());
}

#[test]
fn addresses_with_letters_beyond_ascii_are_found_whole_and_cjk_words_stay_out() {
    let engine = Engine::for_tests();
    let text = "Schreib an jürgen.müller@beispiel.de, à françois@exemple.fr, an \
                иван.петров@пример.рф или ivan@mail.ru; 请发邮件到jane@example.com谢谢. \
                IBAN de89 3704 0044 0532 0130 00; <a href=\"tel:+14155552671\">call</a>";
    let want = [
        ("email", "jürgen.müller@beispiel.de"),
        ("email", "françois@exemple.fr"),
        ("email", "иван.петров@пример.рф"),
        ("email", "ivan@mail.ru"),
        ("email", "jane@example.com"),
        ("iban", "de89 3704 0044 0532 0130 00"),
        ("phone", "+14155552671"),
    ];
    assert_eq!(
        ids(engine, text),
        want.iter()
            .map(|(a, b)| (*a, (*b).to_owned()))
            .collect::<Vec<_>>()
    );
}

#[test]
fn eight_digits_in_two_groups_of_four_are_phones_after_a_phone_word_only() {
    let engine = Engine::for_tests();
    for text in [
        "Tel: 6123 4567",
        "Call me at 9123 4567 tonight",
        "Ring 3212 3456",
    ] {
        let found = ids(engine, text);
        assert!(
            found.iter().any(|(id, v)| *id == "phone" && v.len() == 9),
            "{text}: {found:?}"
        );
    }
    for text in [
        "Revenue grew between 2019 2020 and fell after.",
        "Seats 1234 5678 are free.",
        "ISO 9001 2015 certified.",
    ] {
        assert_eq!(ids(engine, text), Vec::new(), "{text}");
    }
}

#[test]
fn dates_of_birth_in_words_and_iso_form_and_timestamps_that_are_not_phones() {
    let engine = Engine::for_tests();
    for (text, date) in [
        (
            "She was born on May 06, 1934. Her maiden name is King",
            "May 06, 1934",
        ),
        ("She was born on 1911-02-14.", "1911-02-14"),
        ("DOB: 3rd of March, 1990", "3rd of March, 1990"),
        ("Ich bin geboren am 12. März 1985.", "12. März 1985"),
        (
            "Fecha de nacimiento: 5 de mayo de 1979",
            "5 de mayo de 1979",
        ),
        ("Il est né le 14 juillet 1962 à Lyon.", "14 juillet 1962"),
        ("Date of birth: 21/09/1966", "21/09/1966"),
    ] {
        let found = ids(engine, text);
        assert!(
            found
                .iter()
                .any(|(id, v)| *id == "date_of_birth" && v == date),
            "{text}: {found:?}"
        );
    }
    // A date and a time beside a phone word: the number is the phone, not the timestamp.
    let found = ids(
        engine,
        "Date: 2008-10-06 03:10\nName: Jayne Richardson\nPhone: +44 121 496 0219",
    );
    assert_eq!(found, [("phone", "+44 121 496 0219".to_owned())]);
    assert!(ids(engine, "Released on May 06, 1934 and born again").is_empty());
}

#[test]
fn json_escaped_values_are_found_with_their_spans_as_written() {
    // JSON text inside a string (a tool's arguments or result): the model reads the escapes.
    let engine = Engine::for_tests();
    let text =
        r#"{"to":"jane\u0040example.com","card":"4111\u00201111\u00201111\u00201111","ok":"a\/b"}"#;
    assert_eq!(
        ids(engine, text),
        [
            ("email", r"jane\u0040example.com".to_owned()),
            (
                "payment_card",
                r"4111\u00201111\u00201111\u00201111".to_owned()
            ),
        ]
    );
}

#[test]
fn values_written_with_html_references_are_found_with_their_spans_as_written() {
    // As web pages write addresses against harvesters; a retrieved page reaches the model so.
    let engine = Engine::for_tests();
    let text = "Write to jane&#64;example&period;com or bob&commat;example.org; card 4111&#32;1111&#32;1111&#32;1111.";
    assert_eq!(
        ids(engine, text),
        [
            ("email", "jane&#64;example&period;com".to_owned()),
            ("email", "bob&commat;example.org".to_owned()),
            ("payment_card", "4111&#32;1111&#32;1111&#32;1111".to_owned()),
        ]
    );
    let text =
        "Reach jane [at] example [dot] com or BOB(AT)EXAMPLE.ORG; we meet at noon (at) the office.";
    assert_eq!(
        ids(engine, text),
        [
            ("email", "jane [at] example [dot] com".to_owned()),
            ("email", "BOB(AT)EXAMPLE.ORG".to_owned()),
        ]
    );
}

#[test]
fn percent_encoded_values_are_found_with_their_spans_as_written() {
    let engine = Engine::for_tests();
    let text = "see https://x.example/u?mail=jane.doe%40example.com&card=4111%201111%201111%201111 or jane.doe@example.com, 100%25 sure";
    let found = ids(engine, text);
    assert_eq!(
        found,
        [
            ("email", "jane.doe%40example.com".to_owned()),
            ("payment_card", "4111%201111%201111%201111".to_owned()),
            ("email", "jane.doe@example.com".to_owned()),
        ]
    );
    assert!(ids(engine, "50%off, %zz and a lone % sign").is_empty());
}

mod each_pattern {
    use super::super::*;

    #[test]
    fn every_detector_compiles_alone() {
        let mut failed = Vec::new();
        for d in DETECTORS {
            let mut flags = if !d.category.located() {
                CompileFlags::SINGLEMATCH
            } else {
                CompileFlags::SOM_LEFTMOST
            };
            flags |= CompileFlags::UTF8;
            if d.caseless {
                flags |= CompileFlags::CASELESS;
            }
            let p = Pattern {
                expression: d.pattern.to_owned(),
                flags,
                id: Some(0),
                ext: Default::default(),
                som: None,
            };
            let built: Result<BlockDatabase, _> = Patterns(vec![p]).build();
            if let Err(e) = built {
                failed.push(format!("{}: {e}", d.id));
            }
        }
        assert!(failed.is_empty(), "{failed:#?}");
    }
}
