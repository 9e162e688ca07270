//! Misspelt words put right before questions are compared: "How do I chnage my adress?" asks
//! what "How do I change my address?" asks. The corrected text is what is embedded and reduced
//! to its salient tokens, when a question is indexed and when one is looked up.
//!
//! The dictionary is SymSpell's English frequency list (82 765 words with their counts in
//! Google Books, the intersection of that corpus with the SCOWL word lists; MIT), as the PyPI
//! package symspellpy 6.9.0 carries it — `scripts/semantic-model.sh` writes it beside the model
//! as `words.txt` —, together with the model's own whole words (`tokenizer.json`), which are
//! never corrected either. A word is corrected only when it is in neither (whatever its case: a
//! question and its lower-cased copy must stay alike), is not an acronym in capitals, has at
//! least [`MIN_LEN`] ASCII letters, and a listed word is one edit away after its first letter —
//! a letter dropped, added, changed, or two neighbours swapped (typists rarely miss the first
//! letter, and "adress" is "address", not "dress"). Among several such words the slip undone
//! decides — two keys swapped, then a key missed, then a key too many, then a wrong key
//! ("acount" is "account", not "amount") — and then the count. A listed word is never changed,
//! so two different words ("price", "prime"; "router", "route") never meet.
//!
//! Without `words.txt` (a model directory made before it existed) nothing is corrected.

use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::path::Path;

/// Shorter words have too many neighbours one edit away to guess from.
const MIN_LEN: usize = 5;
/// Longer "words" are identifiers, hashes or run-together text, not misspellings.
const MAX_LEN: usize = 24;
/// Unknown words looked into at most per text (each costs a few hundred look-ups, about
/// 10 µs); the words after them stay as written.
const MAX_TRIED: usize = 32;
/// The dictionary's file in the model directory: `word count` per line.
pub const WORDS: &str = "words.txt";
/// Words read from it at most (SymSpell's has 82 765).
const MAX_WORDS: usize = 1 << 20;

/// Known words and how often each is written (0 for the model's words not in the list).
#[derive(Debug, Default)]
pub struct Vocabulary {
    words: HashMap<Box<str>, u64, BuildHasherDefault<Fnv>>,
}

/// FNV-1a: a correction hashes a few hundred short candidates, where SipHash's setup dominates.
/// The table is fixed at load, so a caller cannot grow its collision chains.
#[derive(Default)]
struct Fnv(u64);

impl Hasher for Fnv {
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for &b in bytes {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

impl Vocabulary {
    /// `dir/words.txt` and the whole words of the WordPiece vocabulary in `dir/tokenizer.json`
    /// (pieces that continue a word, `##…`, and special tokens left out). Without `words.txt`:
    /// an empty dictionary, which corrects nothing.
    pub fn load(dir: &Path) -> anyhow::Result<Vocabulary> {
        let err = |path: &Path, e: &dyn std::fmt::Display| {
            anyhow::anyhow!("cache.semantic_model {}: {e}", path.display())
        };
        let list = dir.join(WORDS);
        let text = match std::fs::read_to_string(&list) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vocabulary::default()),
            Err(e) => return Err(err(&list, &e)),
        };
        let mut counted = Vec::new();
        for (n, line) in text.lines().enumerate().take(MAX_WORDS) {
            let mut fields = line.split_ascii_whitespace();
            let (Some(word), Some(count)) = (fields.next(), fields.next()) else {
                continue;
            };
            let count = count
                .parse::<u64>()
                .map_err(|e| err(&list, &format!("line {}: {e}", n + 1)))?;
            counted.push((word, count));
        }
        let path = dir.join("tokenizer.json");
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).map_err(|e| err(&path, &e))?)
                .map_err(|e| err(&path, &e))?;
        let vocab = json["model"]["vocab"]
            .as_object()
            .ok_or_else(|| err(&path, &"no model.vocab map"))?;
        Ok(Vocabulary::from_counts(
            vocab.keys().map(|w| (w.as_str(), 0)).chain(counted),
        ))
    }

    /// A dictionary of `(word, count)` (a word listed twice keeps its higher count); words
    /// that are not all lower-case ASCII letters are left out.
    pub fn from_counts<'a>(words: impl IntoIterator<Item = (&'a str, u64)>) -> Vocabulary {
        let mut map: HashMap<Box<str>, u64, BuildHasherDefault<Fnv>> = HashMap::default();
        for (w, count) in words {
            if w.len() >= 2 && w.bytes().all(|b| b.is_ascii_lowercase()) {
                let slot = map.entry(w.into()).or_default();
                *slot = (*slot).max(count);
            }
        }
        Vocabulary { words: map }
    }

    /// Whether the dictionary is empty (no `words.txt`): nothing is corrected.
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// `text` with its misspelt words put right (written as the word was: in lower case,
    /// capitalised or in capitals): words of ASCII letters alone (not glued to digits, `_` or
    /// letters of other scripts), in lower case or capitalised — in capitals only where the
    /// whole text is —; the first [`MAX_TRIED`] unknown words only.
    pub fn corrected<'t>(&self, text: &'t str) -> Cow<'t, str> {
        if self.words.is_empty() {
            return Cow::Borrowed(text);
        }
        let bytes = text.as_bytes();
        let shouted = !text.chars().any(char::is_lowercase);
        let (mut out, mut copied, mut fixed, mut tried) = (String::new(), 0, 0, 0);
        let (mut buf, mut lower) = (Vec::new(), String::new());
        let mut i = 0;
        while i < bytes.len() && tried < MAX_TRIED {
            if !bytes[i].is_ascii_alphabetic() {
                i += 1;
                continue;
            }
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
                i += 1;
            }
            // A word, not part of an identifier, a number or a word in another script.
            let glued = |b: u8| b.is_ascii_digit() || b >= 0x80 || b == b'_';
            let alone =
                (start == 0 || !glued(bytes[start - 1])) && (i == bytes.len() || !glued(bytes[i]));
            let word = &text[start..i];
            // In lower case or capitalised; a word in capitals is an acronym unless the whole
            // text is in capitals.
            let cased = word.bytes().skip(1).all(|b| b.is_ascii_lowercase())
                || (shouted && word.bytes().all(|b| b.is_ascii_uppercase()));
            if !alone || !cased {
                continue;
            }
            lower.clear();
            lower.extend(word.chars().map(|c| c.to_ascii_lowercase()));
            if !(MIN_LEN..=MAX_LEN).contains(&lower.len()) || self.words.contains_key(&*lower) {
                continue;
            }
            tried += 1;
            if let Some(right) = self.correct(&lower, &mut buf) {
                out.push_str(&text[copied..start]);
                let first = word.as_bytes()[0].is_ascii_uppercase();
                let all = first && word.len() > 1 && word.bytes().all(|b| b.is_ascii_uppercase());
                for (n, c) in right.chars().enumerate() {
                    out.push(if all || (first && n == 0) {
                        c.to_ascii_uppercase()
                    } else {
                        c
                    });
                }
                copied = i;
                fixed += 1;
            }
        }
        if fixed == 0 {
            return Cow::Borrowed(text);
        }
        out.push_str(&text[copied..]);
        Cow::Owned(out)
    }

    /// The dictionary word `word` (lower case, as read) stands for, when it is a misspelling of
    /// one; `None` when it is a known word, too short or long, or nothing is one edit away.
    /// `buf` is scratch space.
    pub fn correct(&self, word: &str, buf: &mut Vec<u8>) -> Option<&str> {
        let w = word.as_bytes();
        if self.words.is_empty()
            || !(MIN_LEN..=MAX_LEN).contains(&w.len())
            || !w.iter().all(u8::is_ascii_lowercase)
            || self.words.contains_key(word)
        {
            return None;
        }
        // The best candidate by the kind of slip it undoes (two keys swapped, then a key
        // missed, then one too many, then a wrong key), then by how often it is written.
        let mut best: Option<(&str, (u8, std::cmp::Reverse<u64>))> = None;
        let mut consider = |slip: u8, candidate: &[u8]| {
            // Only ASCII letters were put in, so the candidate is UTF-8.
            let Ok(c) = std::str::from_utf8(candidate) else {
                return;
            };
            if let Some((known, &count)) = self.words.get_key_value(c) {
                let rank = (slip, std::cmp::Reverse(count));
                if best.is_none_or(|(_, b)| rank < b) {
                    best = Some((known, rank));
                }
            }
        };
        // The first letter stays.
        for i in 1..w.len() {
            if i + 1 < w.len() && w[i] != w[i + 1] {
                edit(buf, &w[..i], &[w[i + 1], w[i]], &w[i + 2..]);
                consider(0, buf);
            }
            edit(buf, &w[..i], &[], &w[i + 1..]);
            consider(2, buf);
            for c in b'a'..=b'z' {
                if c != w[i] {
                    edit(buf, &w[..i], &[c], &w[i + 1..]);
                    consider(3, buf);
                }
            }
        }
        for i in 1..=w.len() {
            for c in b'a'..=b'z' {
                edit(buf, &w[..i], &[c], &w[i..]);
                consider(1, buf);
            }
        }
        best.map(|(known, _)| known)
    }
}

fn edit(buf: &mut Vec<u8>, head: &[u8], middle: &[u8], tail: &[u8]) {
    buf.clear();
    buf.extend_from_slice(head);
    buf.extend_from_slice(middle);
    buf.extend_from_slice(tail);
}

#[cfg(test)]
mod tests {
    use super::{Vocabulary, MAX_TRIED};

    /// Counts as SymSpell's list has them.
    fn dictionary() -> Vocabulary {
        Vocabulary::from_counts([
            ("change", 345_000_000),
            ("address", 98_000_000),
            ("dress", 30_000_000),
            ("account", 203_611_349),
            ("amount", 92_039_679),
            ("price", 120_000_000),
            ("prime", 60_000_000),
            ("evenings", 9_000_000),
            ("route", 31_439_231),
            ("router", 18_959_289),
            ("##ing", 0),
        ])
    }

    #[test]
    fn a_misspelling_becomes_the_word_one_edit_away() {
        let v = dictionary();
        let mut buf = Vec::new();
        let mut fix = |w: &str| v.correct(w, &mut buf).map(str::to_owned);
        assert_eq!(fix("chnage").as_deref(), Some("change")); // swapped
        assert_eq!(fix("acount").as_deref(), Some("account")); // missed, not "amount"
        assert_eq!(fix("evenigns").as_deref(), Some("evenings"));
        assert_eq!(fix("accounnt").as_deref(), Some("account")); // one too many
                                                                 // The first letter is kept: "dress" is one edit away too, by dropping it.
        assert_eq!(fix("adress").as_deref(), Some("address"));
        // Between two wrong keys, the word written more often.
        assert_eq!(fix("prixe").as_deref(), Some("price"));
        // Listed words stay, whatever is near them ("router" is not "route"); so do short
        // words, words far from any, and words not in lower-case ASCII.
        assert_eq!(fix("price"), None);
        assert_eq!(fix("router"), None);
        assert_eq!(fix("chang").as_deref(), Some("change"));
        assert_eq!(fix("kubectl"), None);
        assert_eq!(fix("Chnage"), None);
        assert_eq!(fix("chnagé"), None);
        assert_eq!(fix("ing"), None);
    }

    #[test]
    fn a_text_is_corrected_word_by_word_in_its_own_case() {
        let v = dictionary();
        assert_eq!(
            v.corrected("How do I chnage the adress on my acount?"),
            "How do I change the address on my account?"
        );
        assert_eq!(v.corrected("Chnage it"), "Change it");
        assert_eq!(v.corrected("HOW DO I CHNAGE IT"), "HOW DO I CHANGE IT");
        // In capitals in a text that is not, glued to digits or other scripts, or underscored:
        // as written.
        for text in [
            "CHNAGE it",
            "acount2 x",
            "x_acount",
            "acountß",
            "nothing to do",
        ] {
            assert!(matches!(v.corrected(text), std::borrow::Cow::Borrowed(t) if t == text));
        }
        // Past the first MAX_TRIED unknown words, words stay as written.
        let noise = |n: usize| "zzzzz ".repeat(n);
        let late = format!("{}chnage", noise(MAX_TRIED));
        assert_eq!(v.corrected(&late), late);
        let in_time = format!("{}chnage", noise(MAX_TRIED - 1));
        assert_eq!(
            v.corrected(&in_time),
            format!("{}change", noise(MAX_TRIED - 1))
        );
        assert_eq!(
            Vocabulary::default().corrected("chnage"),
            "chnage",
            "an empty dictionary corrects nothing"
        );
    }

    #[test]
    fn the_dictionary_is_read_from_the_model_directory() {
        let dir = std::env::temp_dir().join(format!("warden-words-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("tokenizer.json"),
            r###"{"model":{"vocab":{"[CLS]":101,"router":5000,"##er":2121}}}"###,
        )
        .unwrap();
        // Without words.txt: nothing is corrected.
        let v = Vocabulary::load(&dir).unwrap();
        assert_eq!(v.corrected("routr"), "routr");
        std::fs::write(dir.join(super::WORDS), "route 31439231\nchange 345000000\n").unwrap();
        let v = Vocabulary::load(&dir).unwrap();
        // The model's words count as known; the list's are corrected to.
        assert_eq!(v.corrected("chnage the routr"), "change the router");
        std::fs::write(dir.join(super::WORDS), "route many\n").unwrap();
        let e = Vocabulary::load(&dir).unwrap_err().to_string();
        assert!(e.contains("words.txt: line 1"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
