//! How the semantic cache reads a question (`cache/semantic/spelling.rs`, `salient.rs`) on any
//! text: never a panic; a text with nothing to correct comes back as it was; a question matches
//! itself exactly when it has a salient token, and matching is symmetric.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use warden_dataplane::cache::semantic::salient::Salient;
use warden_dataplane::cache::semantic::spelling::Vocabulary;

fn dictionary() -> &'static Vocabulary {
    static WORDS: OnceLock<Vocabulary> = OnceLock::new();
    WORDS.get_or_init(|| {
        Vocabulary::from_counts([
            ("change", 345),
            ("address", 98),
            ("account", 203),
            ("amount", 92),
            ("thanks", 80),
            ("please", 70),
            ("router", 19),
            ("route", 31),
            ("hello", 12),
            ("question", 40),
        ])
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let fixed = dictionary().corrected(text);
    if !text.bytes().any(|b| b.is_ascii_alphabetic()) {
        assert_eq!(&*fixed, text);
    }
    let (a, b) = (Salient::of(&fixed), Salient::of(text));
    assert_eq!(a.matches(&a), !a.is_empty());
    assert_eq!(b.matches(&b), !b.is_empty());
    assert_eq!(a.matches(&b), b.matches(&a), "{text:?}");
});
