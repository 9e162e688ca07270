//! The phone validator on sentences: what it takes, and the look-alikes it leaves.

use super::*;

fn find(plans: &Plans, text: &str, value: &str) -> bool {
    let start = text.find(value).unwrap_or(0);
    let c = Candidate {
        text: text.as_bytes(),
        start,
        end: start + value.len(),
        phones: plans,
    };
    phone(&c) == Some((0, value.len()))
}

#[test]
fn international_national_and_extension_forms() {
    let plans = Plans::new(DEFAULT_REGIONS).unwrap_or_else(|e| panic!("{e}"));
    for (text, value) in [
        ("Call me at +44 20 7946 0958 now", "+44 20 7946 0958"),
        ("tel. +44(0)20 7496 0305", "+44(0)20 7496 0305"),
        ("phone 502.546.0536x160", "502.546.0536x160"),
        ("call 001-635-686-2894x72951", "001-635-686-2894x72951"),
        ("Ring (0118)4960007", "(0118)4960007"),
        ("Appelez le 01 53 52 46 62", "01 53 52 46 62"),
        ("Telefon (07128) 20003", "(07128) 20003"),
        (
            "reach me on (415) 555-2671 ext. 12",
            "(415) 555-2671 ext. 12",
        ),
        ("Call 0153524662", "0153524662"),
        ("My new number is 6589516109, save it.", "6589516109"),
        ("Front desk 0396475800, extension 12", "0396475800"),
        ("Switchboard 2025550143", "2025550143"),
        ("Ich bin unter 0531719590 erreichbar.", "0531719590"),
        ("Chiamare lo 06-4871234 dopo le nove", "06-4871234"),
        ("Tel: 50-1785099", "50-1785099"),
        // The same digits written otherwise are a Portuguese or Spanish number's usual shapes.
        ("Lisboa: 21 1234567", "21 1234567"),
        // After a label's colon with no space: a `tel:` link, a form's field.
        (r#"<a href="tel:+14155552671">call us</a>"#, "+14155552671"),
        ("tel:+1-415-555-2671", "+1-415-555-2671"),
        ("Phone:+44 20 7946 0958", "+44 20 7946 0958"),
        ("Mobile:07700 900123", "07700 900123"),
    ] {
        assert!(find(&plans, text, value), "{text}");
    }
}

#[test]
fn lookalikes_are_not_phones() {
    let plans = Plans::new(DEFAULT_REGIONS).unwrap_or_else(|e| panic!("{e}"));
    for (text, value) in [
        ("Order 4829104821 shipped", "4829104821"),
        ("on 2024-03-15 at noon", "2024-03-15"),
        ("build 10.0.19045.3803", "10.0.19045.3803"),
        ("at 32.1896105, 99.374011", "32.1896105"),
        ("invoice INV-2024-000123", "2024-000123"),
        ("ISBN 978-1-69000-792-0", "978-1-69000-792-0"),
        ("ref 123-45-6789", "123-45-6789"),
        ("Tax ID: 50-1785099. Address: 12 Main St", "50-1785099"),
        ("+999 1234 5678", "+999 1234 5678"),
        ("Your order number 4829104821 shipped", "4829104821"),
        ("new tracking number 1743072381", "1743072381"),
        ("Order 4829104821, extended warranty", "4829104821"),
        // A colon inside a token is not a label's.
        ("urn:isbn:0451450523", "0451450523"),
        ("key ab:1234567", "1234567"),
    ] {
        assert!(!find(&plans, text, value), "{text}");
    }
}

#[test]
fn a_bare_number_valid_as_written_stands_alone_unless_an_id_word_names_it() {
    let plans = Plans::new(DEFAULT_REGIONS)
        .unwrap_or_else(|e| panic!("{e}"))
        .standalone(true);
    let default = Plans::new(DEFAULT_REGIONS).unwrap_or_else(|e| panic!("{e}"));
    // Valid at home, no word at all, or words that say nothing about telephones. Led by its
    // trunk zero (French, British) or an Italian area code's, a number stands alone by default.
    for (text, value) in [
        ("If it's urgent: 0153524662", "0153524662"),
        ("Por si acaso: 0153524662", "0153524662"),
        ("Shipped. Anyway, 0153524662 is best.", "0153524662"),
        ("Office: 01514960100", "01514960100"),
        ("Pina Paruta: 0376722135", "0376722135"),
    ] {
        assert!(find(&plans, text, value), "{text}");
        assert!(find(&default, text, value), "{text}");
    }
    // Without a leading zero (NANP, Polish, an Italian mobile) only with `phone_standalone`.
    for (text, value) in [
        ("Any questions? 6502530000", "6502530000"),
        ("Per contattarmi: 512345678", "512345678"),
        ("Au cas où, 3471234567.", "3471234567"),
    ] {
        assert!(find(&plans, text, value), "{text}");
        assert!(!find(&default, text, value), "{text}");
    }
    // The same numbers named as something else in their clause, or not valid as written
    // (a British number without its trunk zero, a number padded with zeros), either way.
    for (text, value) in [
        ("Order 0153524662 shipped", "0153524662"),
        ("Ticket #0153524662", "0153524662"),
        ("Ref no. 0153524662", "0153524662"),
        ("Rechnungsnr. 0153524662", "0153524662"),
        ("Die Bestellnummer lautet 0153524662", "0153524662"),
        ("Numéro de commande : 0153524662", "0153524662"),
        ("Orders: 6502530000", "6502530000"),
        ("It came back as 1614960000 again", "1614960000"),
        ("Office: 1514960100", "1514960100"),
        ("Padded: 0000153524", "0000153524"),
    ] {
        assert!(!find(&plans, text, value), "{text}");
        assert!(!find(&default, text, value), "{text}");
    }
}

#[test]
fn two_groups_ending_in_four_need_a_phone_word() {
    let plans = Plans::new(&["SG", "HK", "DK"]).unwrap_or_else(|e| panic!("{e}"));
    for (text, value) in [
        ("Tel: 6123 4567", "6123 4567"),
        ("Call me at 9123 4567", "9123 4567"),
        ("Ring 3212 3456", "3212 3456"),
    ] {
        assert!(find(&plans, text, value), "{text}");
    }
    for (text, value) in [
        ("Revenue between 2019 2020 fell", "2019 2020"),
        ("Seats 6123 4567 are free", "6123 4567"),
        ("PIN 9123 4567", "9123 4567"),
    ] {
        assert!(!find(&plans, text, value), "{text}");
    }
}

#[test]
fn telephony_words_of_other_regions_name_a_number() {
    // Each number needs its word: bare digits, or four-digit groups as cards are written.
    for (region, text, value) in [
        (
            "ID",
            "Hubungi saya di 0812 3456 7890 besok.",
            "0812 3456 7890",
        ),
        ("ID", "Telp: 081234567890", "081234567890"),
        ("MY", "Nombor telefon saya 0123456789", "0123456789"),
        ("TR", "Numaram 05321234567, lütfen arayın", "05321234567"),
        ("RU", "Звоните: 89161234567", "89161234567"),
        ("JP", "電話 09012345678 まで", "09012345678"),
        ("CN", "手机：13812345678", "13812345678"),
        ("KR", "연락처 01012345678", "01012345678"),
        ("VN", "Điện thoại: 0912345678", "0912345678"),
    ] {
        let plans = Plans::new(&[region]).unwrap_or_else(|e| panic!("{e}"));
        assert!(find(&plans, text, value), "{region}: {text}");
        let unnamed = text.replace(text.split(value).next().unwrap_or(""), "Ref ");
        assert!(!find(&plans, &unnamed, value), "{region}: {unnamed}");
    }
    // "тел" alone is the start of other words ("телевизор").
    let plans = Plans::new(&["RU"]).unwrap_or_else(|e| panic!("{e}"));
    assert!(!find(&plans, "Телевизор 89161234567", "89161234567"));
}

#[test]
fn a_label_after_the_number_names_it_as_signatures_write_it() {
    let plans = Plans::new(DEFAULT_REGIONS).unwrap_or_else(|e| panic!("{e}"));
    // Bare digits and four groups of digits need a phone word; in a signature it comes after.
    for (text, value) in [
        (
            "Jane Doe\n2025550142 (office)\njane@example.com",
            "2025550142",
        ),
        ("6502530000 - Mobile", "6502530000"),
        (
            "Reach the front desk any time.\n2025550143 office",
            "2025550143",
        ),
        ("6502530000 Fax, 6502530001 Büro", "6502530000"),
        ("6502530000 Fax, 6502530001 Büro", "6502530001"),
        ("06 1234 5678 portable.", "06 1234 5678"),
        ("2025550143 cell | 2025550144 home", "2025550144"),
    ] {
        assert!(find(&plans, text, value), "{text}");
    }
    // A word that only starts a phrase about something else does not name the number, and the
    // label must be the word itself.
    for (text, value) in [
        ("We closed 2025550143 home loans last year.", "2025550143"),
        ("Shipped 6502530000 office chairs", "6502530000"),
        ("Batch 2025550143 worked fine", "2025550143"),
        ("Order 4829104821 (office supplies)", "4829104821"),
    ] {
        assert!(!find(&plans, text, value), "{text}");
    }
}

#[test]
fn callback_verbs_and_emergency_words_name_a_bare_number() {
    // Bare numbers without a leading zero (a US, an Italian mobile and a Polish mobile number):
    // only a word before them makes them phone numbers.
    let plans = Plans::new(DEFAULT_REGIONS).unwrap_or_else(|e| panic!("{e}"));
    for (text, value) in [
        ("Merci de me rappeler au 3331234567.", "3331234567"),
        ("Rappelez-moi : 6502530000", "6502530000"),
        ("Bitte um Rückruf unter 3331234567", "3331234567"),
        ("Ich bin erreichbar unter 512345678", "512345678"),
        ("Im Notfall: 6502530000", "6502530000"),
        ("Llámeme al 3331234567 mañana", "3331234567"),
        ("En caso de emergencia, 6502530000", "6502530000"),
        ("Richiamami al 3331234567", "3331234567"),
        ("In caso di emergenza: 3331234567", "3331234567"),
        ("Zadzwoń pod 512345678", "512345678"),
        ("Graag terugbellen op 6502530000", "6502530000"),
        ("Soita minulle 3331234567", "3331234567"),
        ("Please leave a callback number: 6502530000", "6502530000"),
        ("In an emergency, 6502530000", "6502530000"),
        ("Si no contesto, marca al 3331234567.", "3331234567"),
        ("Give me a buzz at 6502530000", "6502530000"),
    ] {
        assert!(find(&plans, text, value), "{text}");
        let unnamed = format!("The value is {value}");
        assert!(!find(&plans, &unnamed, value), "{unnamed}");
    }
    // A word that only starts like one of them names nothing.
    assert!(!find(&plans, "Appellation 3331234567", "3331234567"));
    assert!(!find(&plans, "Belted 6502530000", "6502530000"));
    // "Marca" alone is a brand.
    assert!(!find(
        &plans,
        "La marca 3331234567 no existe.",
        "3331234567"
    ));
}

#[test]
fn the_word_index_finds_what_the_word_list_finds() {
    let plans = Plans::empty();
    let mut texts = Vec::new();
    for word in words::WORDS {
        for (before, after) in [
            ("", " "),
            ("x", " "),
            ("Please ", ": "),
            ("Please ", "s "),
            ("9", " "),
            (
                "a long sentence that pushes the word out of the window ",
                " and then some more ",
            ),
        ] {
            texts.push(format!("{before}{word}{after}"));
            texts.push(format!("{before}{}{after}", word.to_uppercase()));
        }
    }
    for text in &texts {
        let text = format!("{text}6502530000");
        let c = Candidate {
            text: text.as_bytes(),
            start: text.len() - 10,
            end: text.len(),
            phones: &plans,
        };
        assert_eq!(
            c.preceded_by_any(&WORD_INDEX),
            c.preceded_by(words::WORDS),
            "{text}"
        );
    }
}

#[test]
fn a_number_only_possible_is_taken_when_written_as_only_phone_numbers_are() {
    let plans = Plans::new(DEFAULT_REGIONS).unwrap_or_else(|e| panic!("{e}"));
    // Area codes no plan has (Faker's, and people's made-up ones): the right length only. No
    // phone word anywhere.
    for (text, value) in [
        ("Note (178) 787-0831 here.", "(178) 787-0831"),
        ("Note 1 (145) 801-2552 here.", "1 (145) 801-2552"),
        ("Note 1-161-344-7194 here.", "1-161-344-7194"),
        ("Note 001-490-884-2637 here.", "001-490-884-2637"),
        ("Note 001-232-432-5885x709 here.", "001-232-432-5885x709"),
        ("Note (07786) 77494 463 here.", "(07786) 77494 463"),
        ("Note 03196/09599618 here.", "03196/09599618"),
    ] {
        assert!(find(&plans, text, value), "{text}");
        // The same digits bare need a word.
        let bare: String = value.chars().filter(char::is_ascii_digit).collect();
        let text = text.replace(value, &bare);
        assert!(!find(&plans, &text, &bare), "{text}");
    }
    for (text, value) in [
        // Dates written with spaces; an id word before the number.
        ("Due 01 12 2024 at the latest.", "01 12 2024"),
        ("Due 15 03 2024 at the latest.", "15 03 2024"),
        ("Due 03 15 1998 at the latest.", "03 15 1998"),
        ("Rechnung 03196/09599618 ist bezahlt.", "03196/09599618"),
        // An order number's shape, possible only in Japan's plan (seed 12012's look-alikes).
        (
            "Draw 029-5348244-1290153: no winner.",
            "029-5348244-1290153",
        ),
        // After a country code a number needs its area code: six digits are a British local.
        ("Note +44 123 456 here.", "+44 123 456"),
    ] {
        assert!(!find(&plans, text, value), "{text}");
    }
}

#[test]
fn four_dot_four_is_a_number_after_a_phone_word_and_a_decimal_otherwise() {
    let plans = Plans::new(DEFAULT_REGIONS).unwrap_or_else(|e| panic!("{e}"));
    assert!(find(&plans, "Phone: 5193.7233.", "5193.7233"));
    assert!(!find(
        &plans,
        "The ratio came out at 5193.7233.",
        "5193.7233"
    ));
    assert!(!find(&plans, "at 32.1896105, 99.374011", "32.1896105"));
}
