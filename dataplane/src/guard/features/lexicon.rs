//! The words of German, French, Spanish and Italian that carry an instruction, as the English
//! word the injection model learned them from, looked up by word hash; and that hash.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::sync::OnceLock;

/// Words of the other supported languages that carry an instruction, and the English word the
/// model learned them from (the training corpora are mostly English). Character n-grams still
/// see the original spelling.
const LEXICON: &[(&str, &str)] = &[
    ("ignoriere", "ignore"),
    ("ignorieren", "ignore"),
    ("ignoriert", "ignore"),
    ("ignorez", "ignore"),
    ("ignora", "ignore"),
    ("ignorar", "ignore"),
    ("ignorare", "ignore"),
    ("ignorate", "ignore"),
    ("ignorá", "ignore"),
    ("missachte", "disregard"),
    ("missachten", "disregard"),
    ("négligez", "disregard"),
    ("desestima", "disregard"),
    ("desatiende", "disregard"),
    ("trascura", "disregard"),
    ("tralascia", "disregard"),
    ("vergiss", "forget"),
    ("vergessen", "forget"),
    ("vergesst", "forget"),
    ("oublie", "forget"),
    ("oubliez", "forget"),
    ("olvida", "forget"),
    ("olvidad", "forget"),
    ("olvide", "forget"),
    ("dimentica", "forget"),
    ("dimenticate", "forget"),
    ("scorda", "forget"),
    ("vorherigen", "previous"),
    ("vorherige", "previous"),
    ("bisherigen", "previous"),
    ("vorangegangenen", "previous"),
    ("früheren", "previous"),
    ("précédentes", "previous"),
    ("précédents", "previous"),
    ("précédente", "previous"),
    ("antérieures", "previous"),
    ("anteriores", "previous"),
    ("previas", "previous"),
    ("previos", "previous"),
    ("precedenti", "previous"),
    ("precedente", "previous"),
    ("previe", "previous"),
    ("obigen", "above"),
    ("oben", "above"),
    ("dessus", "above"),
    ("arriba", "above"),
    ("sopra", "above"),
    ("alle", "all"),
    ("allen", "all"),
    ("toutes", "all"),
    ("tous", "all"),
    ("todas", "all"),
    ("todos", "all"),
    ("tutte", "all"),
    ("tutti", "all"),
    ("alles", "everything"),
    ("tout", "everything"),
    ("todo", "everything"),
    ("tutto", "everything"),
    ("anweisungen", "instructions"),
    ("anweisung", "instructions"),
    ("instruktionen", "instructions"),
    ("consignes", "instructions"),
    ("instrucciones", "instructions"),
    ("instrucción", "instructions"),
    ("istruzioni", "instructions"),
    ("istruzione", "instructions"),
    ("indicaciones", "instructions"),
    ("indicazioni", "instructions"),
    ("regeln", "rules"),
    ("règles", "rules"),
    ("reglas", "rules"),
    ("regole", "rules"),
    ("richtlinien", "rules"),
    ("directives", "rules"),
    ("directrices", "rules"),
    ("direttive", "rules"),
    ("normas", "rules"),
    ("norme", "rules"),
    ("systemanweisung", "systemprompt"),
    ("systemnachricht", "systemprompt"),
    ("système", "system"),
    ("sistema", "system"),
    ("einschränkungen", "restrictions"),
    ("beschränkungen", "restrictions"),
    ("restricciones", "restrictions"),
    ("restrizioni", "restrictions"),
    ("limites", "restrictions"),
    ("límites", "restrictions"),
    ("limiti", "restrictions"),
    ("grenzen", "restrictions"),
    ("filter", "filters"),
    ("filtres", "filters"),
    ("filtros", "filters"),
    ("filtri", "filters"),
    ("zensur", "filters"),
    ("censure", "filters"),
    ("censura", "filters"),
    ("zeige", "show"),
    ("zeig", "show"),
    ("zeigen", "show"),
    ("montre", "show"),
    ("montrez", "show"),
    ("affiche", "show"),
    ("affichez", "show"),
    ("muestra", "show"),
    ("muéstrame", "show"),
    ("muestre", "show"),
    ("mostra", "show"),
    ("mostrami", "show"),
    ("mostrate", "show"),
    ("enthülle", "reveal"),
    ("verrate", "reveal"),
    ("offenbare", "reveal"),
    ("révèle", "reveal"),
    ("révélez", "reveal"),
    ("revela", "reveal"),
    ("revélame", "reveal"),
    ("rivela", "reveal"),
    ("rivelami", "reveal"),
    ("wiederhole", "repeat"),
    ("répète", "repeat"),
    ("répétez", "repeat"),
    ("repite", "repeat"),
    ("ripeti", "repeat"),
    ("sag", "tell"),
    ("sage", "tell"),
    ("dis", "tell"),
    ("dites", "tell"),
    ("dime", "tell"),
    ("dimmi", "tell"),
    ("gib", "give"),
    ("ausgeben", "give"),
    ("donne", "give"),
    ("donnez", "give"),
    ("dame", "give"),
    ("dammi", "give"),
    ("schicke", "send"),
    ("sende", "send"),
    ("senden", "send"),
    ("envoie", "send"),
    ("envoyez", "send"),
    ("envía", "send"),
    ("enviar", "send"),
    ("invia", "send"),
    ("inviare", "send"),
    ("manda", "send"),
    ("drucke", "print"),
    ("imprime", "print"),
    ("imprimez", "print"),
    ("stampa", "print"),
    ("jetzt", "now"),
    ("nun", "now"),
    ("maintenant", "now"),
    ("désormais", "now"),
    ("ahora", "now"),
    ("ora", "now"),
    ("adesso", "now"),
    ("neue", "new"),
    ("neuen", "new"),
    ("nouvelles", "new"),
    ("nouvelle", "new"),
    ("nuevas", "new"),
    ("nuevo", "new"),
    ("nuova", "new"),
    ("nuove", "new"),
    ("ohne", "without"),
    ("sans", "without"),
    ("sin", "without"),
    ("senza", "without"),
    ("geheim", "secret"),
    ("geheime", "secret"),
    ("geheimen", "secret"),
    ("secrète", "secret"),
    ("secreto", "secret"),
    ("secreta", "secret"),
    ("segreto", "secret"),
    ("segreta", "secret"),
    ("passwort", "password"),
    ("kennwort", "password"),
    ("mot", "password"),
    ("contraseña", "password"),
    ("clave", "password"),
    ("versteckten", "hidden"),
    ("versteckte", "hidden"),
    ("cachées", "hidden"),
    ("cachés", "hidden"),
    ("ocultas", "hidden"),
    ("ocultos", "hidden"),
    ("nascoste", "hidden"),
    ("nascosti", "hidden"),
    ("vertraulich", "confidential"),
    ("vertraulichen", "confidential"),
    ("confidentielles", "confidential"),
    ("confidenciales", "confidential"),
    ("riservate", "confidential"),
    ("riservati", "confidential"),
    ("du", "you"),
    ("tu", "you"),
    ("sie", "you"),
    ("vous", "you"),
    ("usted", "you"),
    ("bist", "are"),
    ("êtes", "are"),
    ("eres", "are"),
    ("sei", "are"),
    ("tue", "act"),
    ("agis", "act"),
    ("agissez", "act"),
    ("actúa", "act"),
    ("actua", "act"),
    ("agisci", "act"),
    ("comportati", "act"),
    ("als", "as"),
    ("comme", "as"),
    ("como", "as"),
    ("modus", "mode"),
    ("modo", "mode"),
    ("modalità", "mode"),
    ("entwickler", "developer"),
    ("développeur", "developer"),
    ("desarrollador", "developer"),
    ("sviluppatore", "developer"),
    ("uneingeschränkt", "unrestricted"),
    ("uneingeschränkter", "unrestricted"),
    ("ungefiltert", "unrestricted"),
    ("ungefilterter", "unrestricted"),
    ("illimité", "unrestricted"),
    ("restreint", "unrestricted"),
    ("restringido", "unrestricted"),
    ("ilimitado", "unrestricted"),
    ("illimitato", "unrestricted"),
    ("limitato", "unrestricted"),
    ("antworte", "answer"),
    ("antworten", "answer"),
    ("réponds", "answer"),
    ("répondez", "answer"),
    ("responde", "answer"),
    ("responda", "answer"),
    ("rispondi", "answer"),
    ("befehle", "commands"),
    ("befehl", "commands"),
    ("ordres", "commands"),
    ("órdenes", "commands"),
    ("ordini", "commands"),
    ("comandi", "commands"),
    ("vorgaben", "instructions"),
];

/// A hasher for keys that are already hashes.
#[derive(Default)]
struct Identity(u64);

impl std::hash::Hasher for Identity {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

type ByHash = HashMap<u64, u64, BuildHasherDefault<Identity>>;

/// The word's hash, or its English counterpart's (`LEXICON`). Most words are in no lexicon: a
/// 256-bit filter on the hash's low byte turns them away before the table is probed.
pub(super) fn canonical(hash: u64) -> u64 {
    static TABLE: OnceLock<([u64; 4], ByHash)> = OnceLock::new();
    let (filter, table) = TABLE.get_or_init(|| {
        let mut filter = [0u64; 4];
        let mut table = ByHash::default();
        for (w, e) in LEXICON {
            let h = word_hash(w.as_bytes());
            filter[usize::from(h as u8 >> 6)] |= 1 << (h & 63);
            table.insert(h, word_hash(e.as_bytes()));
        }
        (filter, table)
    });
    if filter[usize::from(hash as u8 >> 6)] & (1 << (hash & 63)) == 0 {
        return hash;
    }
    table.get(&hash).copied().unwrap_or(hash)
}

/// The hash of the word at `start..end` of `bytes`: its bytes eight at a time, one multiply
/// each, the bytes past `end` masked off. Read in place where `bytes` has seven bytes after
/// `end` (the normalised text is padded); otherwise a padded copy is hashed.
#[inline(always)]
pub(super) fn word_hash_at(bytes: &[u8], start: usize, end: usize) -> u64 {
    let mut h = (end - start) as u64;
    let mut at = start;
    while at < end {
        let Some(eight) = bytes.get(at..at + 8) else {
            return word_hash(bytes.get(start..end).unwrap_or(&[]));
        };
        let mut word = u64::from_le_bytes([
            eight[0], eight[1], eight[2], eight[3], eight[4], eight[5], eight[6], eight[7],
        ]);
        if end - at < 8 {
            word &= (1u64 << (8 * (end - at))) - 1;
        }
        h = (h.rotate_left(23) ^ word).wrapping_mul(0xff51_afd7_ed55_8ccd);
        at += 8;
    }
    h
}

/// A word's hash (`word_hash_at` of a zero-padded copy): for the lexicon, built once.
pub(super) fn word_hash(bytes: &[u8]) -> u64 {
    let mut padded = Vec::with_capacity(bytes.len() + 8);
    padded.extend_from_slice(bytes);
    padded.extend_from_slice(&[0; 8]);
    word_hash_at(&padded, 0, bytes.len())
}
