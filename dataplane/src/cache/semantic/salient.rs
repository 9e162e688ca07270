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
//! Greetings, thanks and hesitations around a question ("Hi team,", "um", "Thanks in advance")
//! are not content either, and a text written all in capitals is read as if it were not (its
//! words are not acronyms). One move is allowed: a phrase set off by a comma at the start may
//! stand at the end instead ("On train tickets, is there a student discount?" asks what "Is
//! there a student discount on train tickets?" asks) — the phrase whole, so "from Paris to Rome"
//! and "from Rome to Paris" still differ.
//!
//! So a hit is a rephrasing in function words, word forms, contractions, casing, punctuation,
//! pleasantries and a fronted phrase; a question with one content word changed, added or moved
//! elsewhere is a miss, and so is a text with no content word at all ("Hello", "How are you?",
//! "Thanks!": nothing to compare). The guard trades recall for precision, as a cache must; the
//! embedding threshold gates what is left.

/// The salient tokens of a text, each reduced to a 64-bit hash, in order; where its commas
/// cut them; and how many negations it has (wherever they stand: "why isn't it" and "why is it
/// not" ask the same). Two texts ask the same question when they [`match`](Salient::matches).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Salient {
    tokens: Box<[u64]>,
    /// How many tokens stand before each of the first [`MAX_CUTS`] commas that follow one.
    cuts: Box<[u16]>,
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
/// had) are content: they change the question. Hesitations ("um", "äh", "euh") are fillers
/// wherever they stand.
const FILLERS: &[&str] = &[
    "a", "an", "the", "is", "are", "be", "been", "being", "am", "do", "does", "doing", "done",
    "have", "has", "having", "it", "its", "itself", "this", "that", "these", "those", "there",
    "here", "what", "whats", "how", "of", "in", "on", "at", "for", "about", "as", "by", "and",
    "or", "so", "to", "can", "could", "would", "should", "shall", "may", "might", "must", "please",
    "pls", "kindly", "tell", "give", "show", "let", "lets", "know", "want", "need", "just",
    "really", "actually", "exactly", "also", "some", "any", "way", "ways", "best", "simple",
    "simply", "quick", "quickly", "briefly", "brief", "explain", "describe", "question", "hi",
    "hello", "hey", "thanks", "thank", "okay", "ok", "one", "get", "like", "i", "we", "you", "im",
    "ive", "id", "youre", "youve", "youd", "um", "umm", "uh", "uhm", "erm", "hmm", "curious", "äh",
    "ähm", "euh", "ehm",
];

/// Commas recorded per text (a fronted phrase is set off by the first one or two).
const MAX_CUTS: usize = 4;

/// Phrases that open a request without being part of it: greetings (in the languages whose
/// negations count, above), hesitations, a word of introduction. Dropped from the start only,
/// as often as they repeat ("um hi, …").
const OPENERS: &[&[&str]] = &[
    // de, fr, es, it
    &["hallo"],
    &["guten", "tag"],
    &["guten", "morgen"],
    &["servus"],
    &["moin"],
    &["bonjour"],
    &["bonsoir"],
    &["salut"],
    &["hola"],
    &["buenos", "días"],
    &["buenas", "tardes"],
    &["buenas"],
    &["ciao"],
    &["salve"],
    &["buongiorno"],
    &["buonasera"],
    // en
    &["hi"],
    &["hello"],
    &["hey"],
    &["hiya"],
    &["howdy"],
    &["hi", "there"],
    &["hello", "there"],
    &["hey", "there"],
    &["hi", "team"],
    &["hello", "team"],
    &["hey", "team"],
    &["hi", "all"],
    &["hello", "all"],
    &["hi", "everyone"],
    &["dear", "team"],
    &["dear", "sir"],
    &["dear", "madam"],
    &["dear", "support"],
    &["good", "morning"],
    &["good", "afternoon"],
    &["good", "evening"],
    &["quick", "question"],
    &["a", "quick", "question"],
    &["just", "wondering"],
    &["i", "was", "wondering"],
    &["im", "wondering"],
    &["i", "wonder"],
    &["just", "curious"],
    &["im", "curious"],
    &["sorry"],
    &["sorry", "to", "bother", "you"],
    &["excuse", "me"],
    &["er"],
    &["so"],
    &["yeah"],
    &["yes"],
    &["ok"],
    &["okay"],
    &["alright"],
    &["and"],
    &["also"],
    &["btw"],
    &["by", "the", "way"],
];

/// Phrases that close a request: thanks and sign-offs. Dropped from the end only.
const CLOSERS: &[&[&str]] = &[
    // de, fr, es, it
    &["danke"],
    &["danke", "schön"],
    &["danke", "sehr"],
    &["vielen", "dank"],
    &["bitte"],
    &["merci"],
    &["merci", "beaucoup"],
    &["sil", "vous", "plaît"],
    &["svp"],
    &["gracias"],
    &["muchas", "gracias"],
    &["por", "favor"],
    &["grazie"],
    &["grazie", "mille"],
    &["per", "favore"],
    // en
    &["thanks"],
    &["thank", "you"],
    &["thanks", "in", "advance"],
    &["thank", "you", "in", "advance"],
    &["many", "thanks"],
    &["thanks", "a", "lot"],
    &["thanks", "so", "much"],
    &["thank", "you", "so", "much"],
    &["thank", "you", "very", "much"],
    &["cheers"],
    &["ta"],
    &["thx"],
    &["ty"],
    &["please"],
    &["pls"],
    &["much", "appreciated"],
    &["appreciate", "it"],
    &["i", "appreciate", "it"],
    &["regards"],
    &["kind", "regards"],
    &["best", "regards"],
    &["best", "wishes"],
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
        let all = words(text);
        let words = pleasantries_dropped(&all);
        // A text in capitals is shouted, not a row of acronyms.
        let shouted = !text.chars().any(char::is_lowercase)
            && words.iter().filter(|w| w.1 == Kind::Caps).count() >= 3;
        let mut tokens = Vec::new();
        let mut cuts = Vec::new();
        let (mut negations, mut persons) = (0u32, 0u8);
        let mut i = 0;
        while i < words.len() {
            let (word, mut kind) = (words[i].0.as_str(), words[i].1);
            if shouted && kind == Kind::Caps {
                kind = Kind::Word;
            }
            if kind == Kind::Word && wrapper(word, words.get(i + 1).map(|w| w.0.as_str())) {
                i += 2;
                continue;
            }
            i += 1;
            match kind {
                Kind::Comma => {
                    let n = u16::try_from(tokens.len()).unwrap_or(u16::MAX);
                    if n > 0 && cuts.len() < MAX_CUTS && cuts.last() != Some(&n) {
                        cuts.push(n);
                    }
                }
                Kind::Number => tokens.push(hash(b'#', word)),
                Kind::Caps => tokens.push(hash(b'w', word)),
                Kind::Word => {
                    if NEGATIONS.contains(&word) {
                        negations += 1;
                    } else if let Some(p) = PERSONS.iter().position(|p| p.contains(&word)) {
                        persons |= 1 << p;
                    } else if !FILLERS.contains(&word) {
                        tokens.push(hash(b'w', stem(word)));
                    }
                }
            }
        }
        Salient {
            tokens: tokens.into(),
            cuts: cuts.into(),
            negations,
            persons,
        }
    }

    /// Whether the text has no salient token (only pleasantries and function words): it
    /// matches nothing, itself included.
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// Whether `self` and `other` ask the same question: the same negations and persons, and
    /// the same tokens (at least one) in the same order, or in the order of one's phrase before
    /// a comma moved to the end.
    pub fn matches(&self, other: &Salient) -> bool {
        !self.tokens.is_empty()
            && self.negations == other.negations
            && self.persons == other.persons
            && self.tokens.len() == other.tokens.len()
            && (self.tokens == other.tokens || self.fronted(other) || other.fronted(self))
    }

    /// `other`'s tokens are this text's with the phrase before one of its commas put last.
    fn fronted(&self, other: &Salient) -> bool {
        self.cuts.iter().any(|&cut| {
            let (front, rest) = self
                .tokens
                .split_at(usize::from(cut).min(self.tokens.len()));
            !rest.is_empty()
                && other.tokens[..rest.len()] == *rest
                && other.tokens[rest.len()..] == *front
        })
    }
}

/// `words` without the greetings and hesitations it opens with and the thanks it ends with
/// (the commas between them go too).
fn pleasantries_dropped(words: &[(String, Kind)]) -> &[(String, Kind)] {
    let is = |w: &(String, Kind), s: &str| w.1 == Kind::Word && w.0 == s;
    let (mut start, mut end) = (0, words.len());
    loop {
        while start < end && words[start].1 == Kind::Comma {
            start += 1;
        }
        let rest = &words[start..end];
        let Some(n) = OPENERS
            .iter()
            .filter(|p| p.len() < rest.len() && p.iter().zip(rest).all(|(s, w)| is(w, s)))
            .map(|p| p.len())
            .max()
        else {
            break;
        };
        start += n;
    }
    loop {
        while end > start && words[end - 1].1 == Kind::Comma {
            end -= 1;
        }
        let rest = &words[start..end];
        let Some(n) = CLOSERS
            .iter()
            .filter(|p| {
                p.len() < rest.len() && p.iter().rev().zip(rest.iter().rev()).all(|(s, w)| is(w, s))
            })
            .map(|p| p.len())
            .max()
        else {
            break;
        };
        end -= n;
    }
    &words[start..end]
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Lowercased, apostrophes dropped.
    Word,
    /// A word in capitals (an acronym: never a filler or a pronoun).
    Caps,
    /// Digits (with a decimal point; thousands separators dropped), or digits and letters.
    Number,
    /// A comma (or its full-width and Arabic forms): where a fronted phrase may end.
    Comma,
}

/// The text's words, numbers and commas, in order.
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
            if matches!(c, ',' | '，' | '、' | '،') {
                out.push((String::new(), Kind::Comma));
            }
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
mod tests;
