//! What two questions must share before their closeness in meaning counts: their content
//! words, numbers and negations, in the same order.
//!
//! An embedding puts "What is 12 times 7?" next to "What is 12 times 8?", "Is X safe?" next to
//! "Is X not safe?", "a haiku about autumn" next to "a haiku about spring" and "convert celsius
//! to fahrenheit" next to "convert fahrenheit to celsius": close in meaning, different in answer.
//! Measured on our static model, a synonym pair (buy/purchase 0.83) is no closer than a pair of
//! different things (monday/tuesday 0.85, cheap/expensive 0.76), so no threshold on word
//! vectors can tell a rephrasing from another question. A semantic hit therefore needs both
//! texts to reduce to the same sequence of salient tokens:
//!
//! - content words, lowercased and stripped of common English endings (`eggs` = `egg`,
//!   `boiling` = `boil`); function words and request fillers ("please", "can you tell me",
//!   "what's the best way to", "explain") are not content;
//! - numbers (digit runs with their decimal point; thousands separators dropped) and words that
//!   mix letters and digits (`gpt4`, `A320`);
//! - negations (`not`, `no`, `never`, `-n't`, … in English, German, French, Spanish and Italian),
//!   all one marker: "not" and "never" are interchangeable, their number is not.
//!
//! So a hit is a rephrasing in function words, word forms, contractions, casing and
//! punctuation; a question with one content word changed, added or moved is a miss. The guard
//! trades recall for precision, as a cache must; the embedding threshold gates what is left.

/// The salient tokens of a text, each reduced to a 64-bit hash, in order; and how many
/// negations it has (wherever they stand: "why isn't it" and "why is it not" ask the same).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Salient {
    tokens: Box<[u64]>,
    negations: u32,
    /// Which grammatical persons the pronouns name (bits 0, 1, 2).
    persons: u8,
}

/// Negation words, lowercase, in the languages the guardrails read.
const NEGATIONS: &[&str] = &[
    // en
    "not", "no", "never", "none", "nobody", "nothing", "neither", "nor", "nowhere", "without",
    "cannot", "cant", "dont", "doesnt", "didnt", "isnt", "arent", "wasnt", "werent", "wont",
    "wouldnt", "shouldnt", "couldnt", "hasnt", "havent", "hadnt", "mustnt", "neednt",
    // de
    "nicht", "kein", "keine", "keinen", "keinem", "keiner", "keines", "nie", "niemals", "nichts",
    "ohne", "weder", // fr
    "ne", "pas", "jamais", "aucun", "aucune", "rien", "sans", "ni", // es, it
    "nunca", "ningún", "ninguno", "ninguna", "nada", "sin", "tampoco", "non", "mai", "nessuno",
    "nessuna", "niente", "senza", "né",
];

/// Words that are not content: English function words, and the fillers requests are wrapped
/// in. "What" and "how" (a request for a way: "how do I", "what's the best way to") are
/// fillers; the other interrogatives (why, when, where, who, which), directional prepositions
/// (from, into, before, after, …) and the auxiliaries that carry tense (was, were, did, will,
/// had) are content: they change the question.
const FILLERS: &[&str] = &[
    "a", "an", "the", "is", "are", "be", "been", "being", "am", "do", "does", "doing", "done",
    "have", "has", "having", "it", "its", "itself", "this", "that", "these", "those", "there",
    "here", "what", "whats", "how", "of", "in", "on", "at", "for", "about", "as", "by", "and",
    "or", "so", "to", "can", "could", "would", "should", "shall", "may", "might", "must", "please",
    "pls", "kindly", "tell", "give", "show", "let", "lets", "know", "want", "need", "just",
    "really", "actually", "exactly", "also", "some", "any", "way", "ways", "best", "simple",
    "simply", "quick", "quickly", "briefly", "brief", "explain", "describe", "question", "hi",
    "hello", "hey", "thanks", "thank", "okay", "ok", "one", "get", "like", "i", "we", "you", "im",
    "ive", "id", "youre", "youve", "youd",
];

/// Pronouns count by person only, as a set: "what is my name" and "what is your name" differ,
/// but where in the sentence the person is named does not matter. The first and second person
/// as a subject are fillers: "how do I boil an egg" asks what "how to boil an egg" asks.
const PERSONS: [&[&str]; 3] = [
    &[
        "me",
        "my",
        "mine",
        "myself",
        "us",
        "our",
        "ours",
        "ourselves",
    ],
    &["your", "yours", "yourself", "yourselves"],
    &[
        "he",
        "him",
        "his",
        "himself",
        "she",
        "her",
        "hers",
        "herself",
        "they",
        "them",
        "their",
        "theirs",
        "themselves",
    ],
];

/// Request wrappers, dropped before anything is counted: "can you …", "tell me …".
fn wrapper(word: &str, next: Option<&str>) -> bool {
    matches!(
        (word, next),
        ("can" | "could" | "would" | "will", Some("you"))
            | (
                "tell" | "give" | "show" | "help" | "let" | "send",
                Some("me" | "us")
            )
    )
}

impl Salient {
    pub fn of(text: &str) -> Salient {
        let words = words(text);
        let mut tokens = Vec::new();
        let (mut negations, mut persons) = (0u32, 0u8);
        let mut i = 0;
        while i < words.len() {
            let (word, kind) = (&words[i].0, words[i].1);
            if kind == Kind::Word && wrapper(word, words.get(i + 1).map(|w| w.0.as_str())) {
                i += 2;
                continue;
            }
            i += 1;
            match kind {
                Kind::Number => tokens.push(hash(b'#', word)),
                Kind::Caps => tokens.push(hash(b'w', word)),
                Kind::Word => {
                    if NEGATIONS.contains(&word.as_str()) {
                        negations += 1;
                    } else if let Some(p) = PERSONS.iter().position(|p| p.contains(&word.as_str()))
                    {
                        persons |= 1 << p;
                    } else if !FILLERS.contains(&word.as_str()) {
                        tokens.push(hash(b'w', stem(word)));
                    }
                }
            }
        }
        Salient {
            tokens: tokens.into(),
            negations,
            persons,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Lowercased, apostrophes dropped.
    Word,
    /// A word in capitals (an acronym: never a filler or a pronoun).
    Caps,
    /// Digits (with a decimal point; thousands separators dropped), or digits and letters.
    Number,
}

/// The text's words and numbers, in order.
fn words(text: &str) -> Vec<(String, Kind)> {
    let mut out = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        if c.is_numeric() {
            let mut digits = String::new();
            while let Some(&(i, c)) = chars.peek() {
                if c.is_numeric() {
                    digits.push(c);
                } else if (c == '.' || c == ',') && next_is_digit(&text[i + 1..]) {
                    if c == '.' {
                        digits.push('.');
                    }
                } else if c.is_alphabetic() {
                    // Letters glued to digits: a model or part number, kept whole.
                    digits.extend(c.to_lowercase());
                } else {
                    break;
                }
                chars.next();
            }
            out.push((digits, Kind::Number));
        } else if c.is_alphabetic() {
            let mut end = start;
            let mut has_digit = false;
            while let Some(&(i, c)) = chars.peek() {
                let apostrophe = (c == '\'' || c == '’')
                    && text[i + c.len_utf8()..]
                        .chars()
                        .next()
                        .is_some_and(char::is_alphabetic);
                if !(c.is_alphanumeric() || apostrophe) {
                    break;
                }
                has_digit |= c.is_numeric();
                end = i + c.len_utf8();
                chars.next();
            }
            let word = &text[start..end];
            let lower: String = word
                .chars()
                .filter(|c| *c != '\'' && *c != '’')
                .flat_map(char::to_lowercase)
                .collect();
            let caps = word.chars().filter(|c| c.is_alphabetic()).count() >= 2
                && word.chars().all(|c| !c.is_lowercase());
            let kind = if has_digit {
                Kind::Number
            } else if caps {
                Kind::Caps
            } else {
                Kind::Word
            };
            out.push((lower, kind));
        } else {
            chars.next();
        }
    }
    out
}

fn next_is_digit(rest: &str) -> bool {
    rest.chars().next().is_some_and(char::is_numeric)
}

/// A light English stemmer: the plural, past, gerund and adverb endings, once.
fn stem(word: &str) -> &str {
    let n = word.len();
    for (suffix, min) in [
        ("ies", 5),
        ("sses", 6),
        ("ing", 6),
        ("ed", 5),
        ("ly", 5),
        ("es", 5),
        ("s", 4),
    ] {
        if n >= min && word.ends_with(suffix) && word.is_char_boundary(n - suffix.len()) {
            if suffix == "s" && word.ends_with("ss") {
                return word;
            }
            if suffix == "sses" {
                return &word[..n - 2];
            }
            return drop_e(&word[..n - suffix.len()]);
        }
    }
    drop_e(word)
}

/// A final silent "e" goes too, so that "compile" and "compiling" meet.
fn drop_e(word: &str) -> &str {
    match word.strip_suffix('e') {
        Some(stem) if stem.len() >= 4 => stem,
        _ => word,
    }
}

/// FNV-1a over a kind byte and the token.
fn hash(kind: u8, token: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in std::iter::once(kind).chain(token.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::Salient;

    fn same(a: &str, b: &str) -> bool {
        Salient::of(a) == Salient::of(b)
    }

    #[test]
    fn rephrasings_in_function_words_forms_and_punctuation_match() {
        assert!(same("How do I learn Python?", "how can i learn python"));
        assert!(same(
            "Can you please summarise the 2023 report in 3 bullet points?",
            "summarise the 2023 report in 3 bullet points"
        ));
        assert!(same(
            "Why isn't my code compiling?",
            "Why does my code not compile?"
        ));
        assert!(same(
            "What is 1,000 divided by 8?",
            "what's 1000 divided by 8"
        ));
        assert!(same("Explain recursion", "Please explain recursion."));
        assert!(same(
            "What are the side effects of ibuprofen?",
            "side effects of ibuprofen"
        ));
        assert!(same("How to boil eggs", "How do I boil an egg?"));
        assert!(same(
            "How do I boil an egg?",
            "What's the best way to boil an egg?"
        ));
        assert!(same(
            "How do I boil an egg?",
            "Can you please tell me how I boil an egg"
        ));
    }

    #[test]
    fn a_different_number_word_order_or_negation_does_not() {
        assert!(!same("What is 12 times 7?", "What is 12 times 8?"));
        assert!(!same("What is 7 minus 3?", "What is 3 minus 7?"));
        assert!(!same(
            "Flights from Paris to Rome",
            "Flights from Rome to Paris"
        ));
        assert!(!same(
            "convert celsius to fahrenheit",
            "convert fahrenheit to celsius"
        ));
        assert!(!same(
            "Is ibuprofen safe with alcohol?",
            "Is ibuprofen not safe with alcohol?"
        ));
        assert!(!same(
            "Tell me about the iPhone 15",
            "Tell me about the iPhone 16"
        ));
        assert!(!same("Explain GDPR fines", "Explain HIPAA fines"));
        assert!(!same(
            "What did Marie Curie discover?",
            "What did Pierre Curie discover?"
        ));
        assert!(!same(
            "Versions 3.10 and 3.1 differ how?",
            "Versions 3.1 and 3.10 differ how?"
        ));
        assert!(!same(
            "Write a haiku about autumn",
            "Write a haiku about spring"
        ));
        assert!(!same(
            "What is the capital of france",
            "what is the capital of germany"
        ));
        assert!(!same("How did Rome fall?", "Why did Rome fall?"));
        assert!(!same("When did Rome fall?", "Why did Rome fall?"));
        assert!(!same("What is my name?", "What is your name?"));
        assert!(!same("Who won the election?", "Who will win the election?"));
        assert!(!same(
            "What was the population of Peru?",
            "What is the population of Peru?"
        ));
        assert!(!same("Explain NATO", "Explain recursion"));
    }

    #[test]
    fn negations_in_other_languages_count() {
        assert!(!same("Das ist sicher", "Das ist nicht sicher"));
        assert!(!same("C'est possible", "Ce n'est pas possible"));
        assert!(!same("Es seguro", "No es seguro"));
        assert!(!same("È sicuro", "Non è sicuro"));
    }
}
