//! Feature extraction for the sequence tagger: per-token precomputation (folded key, shapes,
//! affixes, word-table statistics — clusters, casing in running text, census name bins —,
//! gazetteer matches, sentence mode, document-level casing evidence) and hashed feature ids
//! (templates combined with 64-bit value hashes, masked into the weight table), and the hard
//! decoding constraints (addresses are O; titles in front of a name are not part of it).
//! Stage 2 adds non-local features from the stage-1 labels of the whole document.

use std::ops::Range;

use super::gazetteer::{
    CALENDAR_WORDS, CAT_DISEASE, CAT_TITLE, DISEASES, Gazetteer, HOLIDAYS, ORG_HEADS, token_key,
};
use super::hash::{IdMap, hash_str, mix};
use super::words::{WordStats, WordTable};

/// Number of labels: O, then B/I for PER, ORG, LOC, MISC.
pub const NUM_LABELS: usize = 9;
pub const LABELS: [&str; NUM_LABELS] = [
    "O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC",
];

/// Entity type (0..4) of a label, None for O.
#[inline]
pub fn label_type(l: u8) -> Option<u8> {
    if l == 0 { None } else { Some((l - 1) / 2) }
}

/// Whether a label begins an entity.
#[inline]
pub fn is_begin(l: u8) -> bool {
    l != 0 && l % 2 == 1
}

/// Parses a CoNLL label (`B-PER`, `I-LOC`, `O`).
pub fn parse_label(s: &str) -> Option<u8> {
    LABELS.iter().position(|&x| x == s).map(|p| p as u8)
}

pub const MODE_NORMAL: u8 = 0;
pub const MODE_ALLCAPS: u8 = 1;
pub const MODE_TITLE: u8 = 2;

pub const F_INIT_CAP: u32 = 1;
pub const F_ALL_CAPS: u32 = 2;
pub const F_HAS_DIGIT: u32 = 4;
pub const F_ALL_DIGIT: u32 = 8;
pub const F_HYPHEN: u32 = 16;
pub const F_DOT: u32 = 32;
pub const F_APOS: u32 = 64;
pub const F_MIXED: u32 = 128;
pub const F_ALPHA: u32 = 256;
pub const F_LOWER_INIT: u32 = 512;

/// Function words that stay lower case in Title Case headlines.
const SMALL_WORDS: &[&str] = &[
    "a", "an", "the", "and", "or", "of", "in", "on", "at", "to", "for", "by", "with", "as", "but",
    "from", "vs", "nor", "de", "van", "von", "la", "le", "du", "da", "'s",
];

/// Precomputed per-token values.
#[derive(Clone, Default)]
pub struct TokInfo {
    /// Hash of the token as written.
    pub word: u64,
    pub key: u64,
    shape: u64,
    sshape: u64,
    pre: [u64; 3],
    suf: [u64; 4],
    pub flags: u32,
    gaz: u16,
    pub sent: (u32, u32),
    pub mode: u8,
    pub title: bool,
    docf: u8,
    /// Casing class from the word table (see [`casing_class`]).
    casing: u8,
    fine: u16,
    coarse: u8,
    /// Census first-name bin × 8 + surname bin.
    names: u8,
    /// Occurrence bin in the unlabelled text (0 = never seen).
    freq: u8,
}

/// A document prepared for tagging.
pub struct Prepared {
    pub info: Vec<TokInfo>,
    pub sents: Vec<Range<usize>>,
    /// Aggregated contexts ([`aggregate_contexts`]): token `i`'s values are
    /// `agg_val[agg_off[i]..agg_off[i + 1]]`.
    agg_off: Vec<u32>,
    agg_val: Vec<u64>,
    /// Labels each token may take (bit per label; see [`label_constraints`]), empty when every
    /// token may take every label.
    pub allow: Vec<u16>,
}

/// Every label allowed.
pub const ALLOW_ALL: u16 = (1 << NUM_LABELS) - 1;
const ALLOW_NOT_PER: u16 = ALLOW_ALL & !(1 << 1 | 1 << 2);
const ALLOW_B_MISC: u16 = 1 << 7;
/// Inside a name of any type but a person's (I-ORG, I-LOC, I-MISC).
const ALLOW_INSIDE: u16 = 1 << 4 | 1 << 6 | 1 << 8;
/// Not a person or an organisation.
const ALLOW_NOT_PER_ORG: u16 = ALLOW_ALL & !(1 << 1 | 1 << 2 | 1 << 3 | 1 << 4);

/// Whether a token is a web address, an e-mail address or a handle: never a name (the
/// guidelines tag URLs and handles O, whatever their shape).
pub fn is_address(t: &str) -> bool {
    t.len() >= 2
        && (t.contains("://")
            || t.starts_with('@')
            || t.contains('@') && t.contains('.')
            || t.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("www.")))
}

/// A proper disease name ([`DISEASES`]) written with a capital ("Covid-19", "COVID", "Ebola"),
/// alone or with a hyphenated lower-case part ("COVID-positive", "Covid-related"). Forms that
/// another table also lists (a city "Marburg", a surname) are left to the model.
fn is_disease(tok: &str, x: &TokInfo) -> bool {
    if !tok.starts_with(|c: char| c.is_uppercase()) || (x.gaz | x.gaz >> 8) & !CAT_DISEASE != 0 {
        return false;
    }
    if x.names != 0 && !tok.contains(|c: char| c.is_ascii_digit()) {
        return false;
    }
    let name = match tok.rsplit_once('-') {
        Some((head, tail)) if !tail.is_empty() && tail.chars().all(|c| c.is_lowercase()) => head,
        _ => tok,
    };
    DISEASES
        .iter()
        .any(|d| !d.contains(' ') && d.eq_ignore_ascii_case(name))
}

/// Whether token `i` is "of"/"for"/"on" between an organisation head noun ([`ORG_HEADS`]) and a
/// capitalised word that is not a day, a month or a title: "Commission on Elections", not "the
/// Council on Friday" or "the League of Prime Minister …".
fn org_complement(tokens: &[&str], info: &[TokInfo], i: usize) -> bool {
    let (s0, s1) = (info[i].sent.0 as usize, info[i].sent.1 as usize);
    let capd = |x: &TokInfo| x.flags & F_INIT_CAP != 0 && x.flags & F_ALPHA != 0;
    let title = |x: &TokInfo| (x.gaz | x.gaz >> 8) & CAT_TITLE != 0;
    matches!(tokens[i], "of" | "for" | "on")
        && i > s0
        && i + 1 < s1
        && ORG_HEADS.contains(&tokens[i - 1])
        && capd(&info[i + 1])
        && !title(&info[i + 1])
        && !CALENDAR_WORDS.contains(&tokens[i + 1])
}

/// Hard decoding constraints of a document, as a viterbi label mask per token (empty: none):
/// addresses ([`is_address`]) are O; a proper disease name ([`is_disease`]) is one MISC token,
/// as the guidelines and CoNLL-2003 tag them; a holiday ([`HOLIDAYS`]) is no person or
/// organisation; "of/for/on" after an organisation head noun and the capitalised word after it
/// stay inside the name ([`org_complement`]); an honorific or job title in front of a capitalised word
/// ("Prince Charles", "Queen Elizabeth", "Dame Val") is not part of a person's name, unless a
/// capitalised word precedes it ("Martin Luther King") or it is a common first name ("Dean
/// Jones", Census bin ≥ 0.1%).
fn label_constraints(tokens: &[&str], info: &[TokInfo]) -> Vec<u16> {
    let mut allow: Vec<u16> = Vec::new();
    let set = |i: usize, m: u16, allow: &mut Vec<u16>| {
        if allow.is_empty() {
            allow.resize(info.len(), ALLOW_ALL);
        }
        allow[i] &= m;
    };
    let title = |x: &TokInfo| (x.gaz | x.gaz >> 8) & CAT_TITLE != 0;
    let capd = |x: &TokInfo| x.flags & F_INIT_CAP != 0 && x.flags & F_ALPHA != 0;
    let mut i = 0;
    while i < info.len() {
        if is_address(tokens[i]) {
            set(i, 1, &mut allow);
        } else if is_disease(tokens[i], &info[i]) {
            set(i, ALLOW_B_MISC, &mut allow);
        } else if HOLIDAYS.contains(&tokens[i]) {
            set(i, ALLOW_NOT_PER_ORG, &mut allow);
        } else if org_complement(tokens, info, i) {
            set(i, ALLOW_INSIDE, &mut allow);
            set(i + 1, ALLOW_INSIDE, &mut allow);
        }
        if !title(&info[i]) {
            i += 1;
            continue;
        }
        let (s0, s1) = (info[i].sent.0 as usize, info[i].sent.1 as usize);
        let mut j = i;
        while j < s1 && title(&info[j]) {
            j += 1;
        }
        let free = i == s0 || !capd(&info[i - 1]) || at_start(i, s0, info[s0].flags);
        let name_follows = j < s1 && capd(&info[j]);
        let first_name = j == i + 1 && info[i].names >> 3 >= 4;
        if free && name_follows && !first_name {
            for k in i..j {
                set(k, ALLOW_NOT_PER, &mut allow);
            }
        }
        for k in i + 1..j {
            if is_address(tokens[k]) {
                set(k, 1, &mut allow);
            }
        }
        i = j;
    }
    allow
}

/// At most this many other occurrences of a word lend it their contexts.
const AGG_OTHERS: usize = 3;

/// Context aggregation over the document (Ratinov & Roth 2009): each capitalised token gets the
/// left and right neighbours of up to [`AGG_OTHERS`] other capitalised occurrences of the same
/// word, so "Coron" in "visit Coron" learns from "in Coron" elsewhere in the article.
fn aggregate_contexts(info: &[TokInfo]) -> (Vec<u32>, Vec<u64>) {
    let capd = |x: &TokInfo| x.flags & (F_INIT_CAP | F_ALL_CAPS) != 0 && x.flags & F_ALPHA != 0;
    let mut occ: Vec<(u64, u32)> = (0..info.len())
        .filter(|&i| capd(&info[i]))
        .map(|i| (info[i].key, i as u32))
        .collect();
    occ.sort_unstable();
    let side = |j: usize, d: isize| -> u64 {
        let x = &info[j];
        let k = j as isize + d;
        if k < x.sent.0 as isize || k >= x.sent.1 as isize {
            if d < 0 { BOS } else { EOS }
        } else {
            info[k as usize].key
        }
    };
    let mut per: Vec<Vec<u64>> = Vec::new();
    let mut slot = vec![u32::MAX; info.len()];
    for g in occ.chunk_by(|a, b| a.0 == b.0).filter(|g| g.len() > 1) {
        for &(_, i) in g {
            let mut v = Vec::with_capacity(2 * AGG_OTHERS);
            for &(_, j) in g.iter().filter(|o| o.1 != i).take(AGG_OTHERS) {
                v.push(h2(1, side(j as usize, -1)));
                v.push(h2(2, side(j as usize, 1)));
            }
            slot[i as usize] = per.len() as u32;
            per.push(v);
        }
    }
    let mut off = Vec::with_capacity(info.len() + 1);
    let mut val = Vec::new();
    off.push(0);
    for s in slot {
        if s != u32::MAX {
            val.extend_from_slice(&per[s as usize]);
        }
        off.push(val.len() as u32);
    }
    (off, val)
}

/// Long shape hash, short shape hash (runs collapsed) and flags of a token.
pub fn shapes(tok: &str) -> (u64, u64, u32) {
    const P: u64 = crate::hash::FNV_PRIME;
    let mut hl: u64 = crate::hash::FNV_OFFSET;
    let mut hs: u64 = crate::hash::FNV_OFFSET;
    let mut last = 0u8;
    let mut run = 0;
    let mut flags = 0;
    let (mut up, mut low, mut dig, mut alpha) = (0, 0, 0, 0);
    for (i, c) in tok.chars().enumerate() {
        let cls = if c.is_ascii_lowercase() || (!c.is_ascii() && c.is_lowercase()) {
            low += 1;
            alpha += 1;
            if i == 0 {
                flags |= F_LOWER_INIT;
            }
            b'x'
        } else if c.is_ascii_uppercase() || (!c.is_ascii() && c.is_uppercase()) {
            up += 1;
            alpha += 1;
            if i == 0 {
                flags |= F_INIT_CAP;
            } else if low > 0 {
                flags |= F_MIXED;
            }
            b'X'
        } else if c.is_ascii_digit() || (!c.is_ascii() && c.is_numeric()) {
            dig += 1;
            b'd'
        } else if !c.is_ascii() && c.is_alphabetic() {
            alpha += 1;
            b'a'
        } else {
            punct_class(c, &mut flags)
        };
        if i > 0 && last == cls {
            run += 1;
        } else {
            run = 1;
            hs = (hs ^ cls as u64).wrapping_mul(P);
        }
        if run <= 4 {
            hl = (hl ^ cls as u64).wrapping_mul(P);
        }
        last = cls;
    }
    if up > 0 && low == 0 {
        flags |= F_ALL_CAPS;
    }
    if dig > 0 {
        flags |= F_HAS_DIGIT;
        if alpha == 0 {
            flags |= F_ALL_DIGIT;
        }
    }
    if alpha > 0 {
        flags |= F_ALPHA;
    }
    (mix(hl), mix(hs), flags)
}

fn punct_class(c: char, flags: &mut u32) -> u8 {
    if c.is_ascii() {
        match c {
            '-' => *flags |= F_HYPHEN,
            '.' => *flags |= F_DOT,
            '\'' => *flags |= F_APOS,
            _ => {}
        }
        return c as u8;
    }
    match c {
        '\u{2019}' => {
            *flags |= F_APOS;
            b'\''
        }
        '\u{2010}'..='\u{2015}' => b'-',
        '\u{201c}' | '\u{201d}' | '\u{ab}' | '\u{bb}' => b'"',
        _ => b'#',
    }
}

fn affix_hashes(key: &str) -> ([u64; 3], [u64; 4]) {
    let mut pre = [1u64; 3];
    let mut suf = [1u64; 4];
    for (k, (i, _)) in key
        .char_indices()
        .skip(1)
        .chain([(key.len(), ' ')])
        .take(3)
        .enumerate()
    {
        pre[k] = hash_str(&key[..i]);
    }
    for (k, (i, _)) in key.char_indices().rev().take(4).enumerate() {
        suf[k] = hash_str(&key[i..]);
    }
    (pre, suf)
}

/// Mode of a sentence from its tokens' flags and keys: ALL CAPS, Title Case or normal.
pub fn sentence_mode(toks: impl Iterator<Item = (u32, u64)>, small: &[u64]) -> u8 {
    let (mut letters, mut allcaps, mut content, mut capped) = (0, 0, 0, 0);
    for (flags, key) in toks {
        if flags & F_ALPHA != 0 {
            letters += 1;
            if flags & F_ALL_CAPS != 0 {
                allcaps += 1;
            }
            if !small.contains(&key) {
                content += 1;
                if flags & F_INIT_CAP != 0 {
                    capped += 1;
                }
            }
        }
    }
    if letters >= 2 && allcaps * 10 >= letters * 8 {
        MODE_ALLCAPS
    } else if content >= 3 && capped * 10 >= content * 8 {
        MODE_TITLE
    } else {
        MODE_NORMAL
    }
}

/// Hashes of the small (Title Case function) words.
pub fn small_word_keys() -> &'static [u64] {
    static K: std::sync::OnceLock<Vec<u64>> = std::sync::OnceLock::new();
    K.get_or_init(|| SMALL_WORDS.iter().map(|w| hash_str(w)).collect())
}

/// Whether token `i` of a sentence starting at `s0` is at its start (also right after an
/// opening quote or bracket).
#[inline]
pub fn at_start(i: usize, s0: usize, first_flags: u32) -> bool {
    i == s0 || (i == s0 + 1 && first_flags & (F_ALPHA | F_HAS_DIGIT) == 0)
}

/// Casing observation of a token for the word table: `Some(true)` capitalised, `Some(false)`
/// lower case, None when its position says nothing (sentence start, headline, ALL CAPS or Title
/// Case line, no letters).
#[inline]
pub fn casing_obs(flags: u32, mode: u8, title: bool, start: bool) -> Option<bool> {
    if mode != MODE_NORMAL || title || start || flags & F_ALPHA == 0 {
        return None;
    }
    if flags & F_LOWER_INIT != 0 {
        Some(false)
    } else if flags & F_INIT_CAP != 0 {
        Some(true)
    } else {
        None
    }
}

/// Casing class of a word from its counts in running text: 0 never seen there, else
/// 1 + 3·(share of capitalised occurrences in 5 bands) + (number of observations in 3 bands).
pub fn casing_class(lower: u32, cap: u32) -> u8 {
    let t = lower + cap;
    if t == 0 {
        return 0;
    }
    let r = cap as f64 / t as f64;
    let band = match r {
        r if r < 0.05 => 0,
        r if r < 0.25 => 1,
        r if r < 0.75 => 2,
        r if r < 0.95 => 3,
        _ => 4,
    };
    let n = match t {
        0..=2 => 0,
        3..=19 => 1,
        _ => 2,
    };
    1 + band * 3 + n
}

/// Occurrence bin: 0 never, 1: 1–2, 2: 3–9, 3: 10–99, 4: 100 or more.
fn freq_bin(count: u32) -> u8 {
    match count {
        0 => 0,
        1..=2 => 1,
        3..=9 => 2,
        10..=99 => 3,
        _ => 4,
    }
}

/// Per-token values that need only the token itself (and the word table).
pub fn token_info(t: &str, kbuf: &mut String, words: &WordTable) -> TokInfo {
    token_key(t, kbuf);
    let (shape, sshape, flags) = shapes(t);
    let (pre, suf) = affix_hashes(kbuf);
    let key = hash_str(kbuf);
    let mut inf = TokInfo {
        word: hash_str(t),
        key,
        shape,
        sshape,
        pre,
        suf,
        flags,
        ..TokInfo::default()
    };
    if let Some(s) = words.get(key) {
        set_stats(&mut inf, s);
    }
    inf
}

fn set_stats(inf: &mut TokInfo, s: &WordStats) {
    inf.casing = casing_class(s.lower, s.cap);
    inf.fine = s.fine;
    inf.coarse = s.coarse;
    inf.names = s.first * 8 + s.last;
    inf.freq = freq_bin(s.count);
}

/// Sentence mode, title flag and gazetteer matches of every sentence.
fn annotate_sentences(
    info: &mut [TokInfo],
    sents: &[Range<usize>],
    first_is_title: bool,
    gaz: &Gazetteer,
) {
    let small = small_word_keys();
    let (mut gz, mut caps, mut keys, mut upper) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (si, r) in sents.iter().enumerate() {
        let mode = sentence_mode(info[r.clone()].iter().map(|x| (x.flags, x.key)), small);
        let s = &info[r.clone()];
        caps.clear();
        caps.extend(s.iter().map(|x| x.flags & (F_INIT_CAP | F_HAS_DIGIT) != 0));
        keys.clear();
        keys.extend(s.iter().map(|x| x.key));
        upper.clear();
        upper.extend(
            s.iter()
                .map(|x| x.flags & F_ALL_CAPS != 0 && mode != MODE_ALLCAPS),
        );
        gz.clear();
        gz.resize(r.len(), 0u16);
        gaz.annotate(&keys, &caps, &upper, &mut gz);
        for (k, i) in r.clone().enumerate() {
            let inf = &mut info[i];
            inf.sent = (r.start as u32, r.end as u32);
            inf.mode = mode;
            inf.title = first_is_title && si == 0;
            inf.gaz = gz[k];
        }
    }
}

/// Document-level casing evidence per key (bit 1: written lower case somewhere; bit 2:
/// capitalised inside a normal sentence; bit 4: ALL CAPS there). With `leave_out`, the word
/// table's casing counts of each token exclude this document's own observations (training
/// documents are part of the text the table was counted on).
fn document_casing(info: &mut [TokInfo], words: &WordTable, leave_out: bool) {
    let mut doc: IdMap<(u8, u32, u32)> = IdMap::default();
    for i in 0..info.len() {
        let inf = &info[i];
        let s0 = inf.sent.0 as usize;
        let start = at_start(i, s0, info[s0].flags);
        let e = doc.entry(inf.key).or_insert((0, 0, 0));
        if inf.flags & F_LOWER_INIT != 0 {
            e.0 |= 1;
        }
        if inf.mode == MODE_NORMAL && !inf.title && !start && inf.flags & F_INIT_CAP != 0 {
            e.0 |= 2;
            if inf.flags & F_ALL_CAPS != 0 && inf.flags & F_ALPHA != 0 {
                e.0 |= 4;
            }
        }
        match casing_obs(inf.flags, inf.mode, inf.title, start) {
            Some(true) => e.2 += 1,
            Some(false) => e.1 += 1,
            None => {}
        }
    }
    for inf in info.iter_mut() {
        let (f, lo, ca) = doc.get(&inf.key).copied().unwrap_or((0, 0, 0));
        inf.docf = f;
        if leave_out && let Some(s) = words.get(inf.key) {
            let mut s = *s;
            s.lower = s.lower.saturating_sub(lo);
            s.cap = s.cap.saturating_sub(ca);
            s.count = s.count.saturating_sub(lo + ca);
            set_stats(inf, &s);
            if s.count < 3 {
                inf.fine = 0;
                inf.coarse = 0;
            }
        }
    }
}

/// Prepares a document given its tokens and sentence ranges. The first sentence is treated as
/// the title/headline when `first_is_title` is set. `leave_out`: see [`document_casing`].
pub fn prepare(
    tokens: &[&str],
    sents: &[Range<usize>],
    first_is_title: bool,
    gaz: &Gazetteer,
    words: &WordTable,
    leave_out: bool,
) -> Prepared {
    let mut kbuf = String::new();
    let mut info: Vec<TokInfo> = tokens
        .iter()
        .map(|t| token_info(t, &mut kbuf, words))
        .collect();
    annotate_sentences(&mut info, sents, first_is_title, gaz);
    document_casing(&mut info, words, leave_out);
    let (agg_off, agg_val) = aggregate_contexts(&info);
    let allow = label_constraints(tokens, &info);
    Prepared {
        info,
        sents: sents.to_vec(),
        agg_off,
        agg_val,
        allow,
    }
}

/// Stage-1 labels of a whole document, summarised per token for stage-2 features.
#[derive(Clone, Copy, Default)]
pub struct NonLocal {
    others: [u16; 4],
    others_o: u16,
    /// Majority type of the same word in normal running text (0 none, 1..4 type, 5 O).
    normal: u8,
    first: u8,
    own: u8,
    prev: u8,
    next: u8,
}

#[derive(Default, Clone, Copy)]
struct Acc {
    counts: [u16; 4],
    o: u16,
    normal: [u16; 5],
    first_idx: u32,
    first_label: u8,
    seen: bool,
}

/// Label counts per capitalised key over the document.
fn count_labels(p: &Prepared, labels: &[u8]) -> IdMap<Acc> {
    let mut acc: IdMap<Acc> = IdMap::default();
    for (i, inf) in p.info.iter().enumerate() {
        if inf.flags & (F_INIT_CAP | F_ALL_CAPS) == 0 {
            continue;
        }
        let a = acc.entry(inf.key).or_default();
        let t = label_type(labels[i]);
        match t {
            Some(t) => a.counts[t as usize] += 1,
            None => a.o += 1,
        }
        if inf.mode == MODE_NORMAL && !inf.title {
            a.normal[t.map(|t| t as usize).unwrap_or(4)] += 1;
        }
        if !a.seen {
            a.seen = true;
            a.first_idx = i as u32;
            a.first_label = labels[i];
        }
    }
    acc
}

/// Computes non-local summaries from stage-1 labels.
pub fn non_local(p: &Prepared, labels: &[u8]) -> Vec<NonLocal> {
    let acc = count_labels(p, labels);
    p.info
        .iter()
        .enumerate()
        .map(|(i, inf)| {
            let own = labels[i];
            let prev = if i as u32 > inf.sent.0 {
                labels[i - 1] + 1
            } else {
                0
            };
            let next = if ((i + 1) as u32) < inf.sent.1 {
                labels[i + 1] + 1
            } else {
                0
            };
            let mut nl = NonLocal {
                own: own + 1,
                prev,
                next,
                ..Default::default()
            };
            let Some(a) = acc.get(&inf.key) else {
                return nl;
            };
            nl.others = a.counts;
            nl.others_o = a.o;
            let mut normal = a.normal;
            // the token itself was counted only when capitalised
            if inf.flags & (F_INIT_CAP | F_ALL_CAPS) != 0 {
                let t = label_type(own);
                match t {
                    Some(t) => nl.others[t as usize] = nl.others[t as usize].saturating_sub(1),
                    None => nl.others_o = nl.others_o.saturating_sub(1),
                }
                if inf.mode == MODE_NORMAL && !inf.title {
                    let k = t.map(|t| t as usize).unwrap_or(4);
                    normal[k] = normal[k].saturating_sub(1);
                }
            }
            let best = (0..5).max_by_key(|&k| (normal[k], 5 - k)).unwrap_or(0);
            if normal[best] > 0 {
                nl.normal = best as u8 + 1;
            }
            if (a.first_idx as usize) < i {
                nl.first = label_type(a.first_label).map(|t| t + 1).unwrap_or(5);
            }
            nl
        })
        .collect()
}

#[inline]
fn fh(t: u64, v: u64) -> u64 {
    mix(v ^ t.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17))
}

#[inline]
fn h2(a: u64, b: u64) -> u64 {
    mix(a.rotate_left(23) ^ b)
}

/// Pushes the hashed feature buckets of token `i` (masked with `mask`) into `out`: the local
/// features, plus the non-local ones when `nl` is given.
pub fn features(p: &Prepared, i: usize, nl: Option<&NonLocal>, mask: u64, out: &mut Vec<u32>) {
    base_features(p, i, mask, out);
    if let Some(nl) = nl {
        nl_features(p, i, nl, mask, out);
    }
}

/// Sentence context of token `i`: mode, sentence start, headline.
#[inline]
fn ctx_of(p: &Prepared, i: usize) -> u64 {
    let x = &p.info[i];
    let s0 = x.sent.0 as usize;
    let start = at_start(i, s0, p.info[s0].flags);
    (x.mode as u64) | ((start as u64) << 4) | ((x.title as u64) << 5)
}

/// Non-local (stage-2) features of token `i`.
pub fn nl_features(p: &Prepared, i: usize, nl: &NonLocal, mask: u64, out: &mut Vec<u32>) {
    let x = &p.info[i];
    let ctx = ctx_of(p, i);
    let mut push = |t: u64, v: u64| out.push((fh(t, v) & mask) as u32);
    let capd = (x.flags & (F_INIT_CAP | F_ALL_CAPS) != 0) as u64;
    let total: u16 = nl.others.iter().sum();
    let maj = if total == 0 {
        if nl.others_o > 0 { 5 } else { 6 }
    } else {
        let mut best = 0;
        for t in 1..4 {
            if nl.others[t] > nl.others[best] {
                best = t;
            }
        }
        best as u64 + 1
    };
    push(50, h2(maj, capd));
    push(51, h2(maj, ctx));
    for t in 0..4 {
        if nl.others[t] > 0 {
            push(52, t as u64);
        }
    }
    push(53, nl.first as u64);
    push(54, nl.own as u64);
    push(55, h2(nl.own as u64, nl.prev as u64));
    push(56, h2(nl.own as u64, nl.next as u64));
    push(57, h2(nl.own as u64, maj));
    push(58, h2(nl.normal as u64, ctx));
}

/// Values of the neighbour at offset `d` inside the sentence (boundary markers outside).
struct Near<'a> {
    p: &'a Prepared,
    i: usize,
    s0: usize,
    s1: usize,
}

const BOS: u64 = 0x0b05;
const EOS: u64 = 0x0e05;

impl Near<'_> {
    #[inline]
    fn at(&self, d: isize) -> Option<&TokInfo> {
        let j = self.i as isize + d;
        (j >= self.s0 as isize && j < self.s1 as isize).then(|| &self.p.info[j as usize])
    }
    #[inline]
    fn get(&self, d: isize, f: impl Fn(&TokInfo) -> u64) -> u64 {
        self.at(d).map(f).unwrap_or(if d < 0 { BOS } else { EOS })
    }
}

/// Offsets of the neighbours whose own features ([`near_features`]) count for a token.
pub const NEAR: [isize; 4] = [-1, 1, -2, 2];

/// Features of the token itself: a function of its text and the word table only, so a compiled
/// model can sum them once per word ([`super::tagger`]).
#[inline]
pub fn self_features(x: &TokInfo, push: &mut impl FnMut(u64, u64)) {
    push(1, 0);
    push(2, x.word);
    push(3, x.key);
    push(4, x.shape);
    push(5, x.sshape);
    for k in 0..3 {
        push(6 + k as u64, x.pre[k]);
    }
    for k in 0..4 {
        push(10 + k as u64, x.suf[k]);
    }
    push(28, x.flags as u64);
    push(70, x.fine as u64);
    push(71, x.coarse as u64);
    push(72, h2(x.names as u64, x.flags as u64 & 3));
    push(73, x.freq as u64);
}

/// Features that the neighbour at offset `d` (one of [`NEAR`]) contributes: a function of that
/// neighbour's text only (`None`: outside the sentence).
#[inline]
pub fn near_features(d: isize, t: Option<&TokInfo>, push: &mut impl FnMut(u64, u64)) {
    let get = |f: fn(&TokInfo) -> u64| t.map(f).unwrap_or(if d < 0 { BOS } else { EOS });
    match d {
        -1 => {
            push(14, get(|t| t.key));
            push(18, get(|t| t.word));
            push(31, get(|t| t.shape));
            push(74, get(|t| t.fine as u64));
        }
        1 => {
            push(15, get(|t| t.key));
            push(19, get(|t| t.word));
            push(32, get(|t| t.shape));
            push(75, get(|t| t.fine as u64));
        }
        -2 => push(16, get(|t| t.key)),
        _ => push(17, get(|t| t.key)),
    }
}

/// Hashed bucket of feature template `t` with value `v`.
#[inline]
pub fn bucket(t: u64, v: u64, mask: u64) -> u32 {
    (fh(t, v) & mask) as u32
}

/// Local (stage-1) features of token `i`.
pub fn base_features(p: &Prepared, i: usize, mask: u64, out: &mut Vec<u32>) {
    let x = &p.info[i];
    let nb = Near {
        p,
        i,
        s0: x.sent.0 as usize,
        s1: x.sent.1 as usize,
    };
    let mut push = |t: u64, v: u64| out.push(bucket(t, v, mask));
    self_features(x, &mut push);
    for d in NEAR {
        near_features(d, nb.at(d), &mut push);
    }
    context_features(p, i, &mut push);
}

/// The hashed features of token `i` that depend on its context (all but [`self_features`] and
/// [`near_features`]).
pub fn context_features(p: &Prepared, i: usize, push: &mut impl FnMut(u64, u64)) {
    let x = &p.info[i];
    let nb = Near {
        p,
        i,
        s0: x.sent.0 as usize,
        s1: x.sent.1 as usize,
    };
    conjunctions(x, &nb, ctx_of(p, i), push);
    for &v in &p.agg_val[p.agg_off[i] as usize..p.agg_off[i + 1] as usize] {
        push(80, v);
    }
}

/// Conjunctions of the token with its context (sentence mode, neighbours, document, word
/// table, gazetteers).
fn conjunctions(x: &TokInfo, nb: &Near, ctx: u64, push: &mut impl FnMut(u64, u64)) {
    let ssh = |d| nb.get(d, |t| t.sshape);
    let key = |d| nb.get(d, |t| t.key);
    push(20, h2(ssh(-1), x.sshape));
    push(21, h2(x.sshape, ssh(1)));
    push(22, h2(h2(ssh(-1), x.sshape), ssh(1)));
    push(23, h2(key(-1), x.key));
    push(24, h2(x.key, key(1)));
    push(25, h2(ctx, x.sshape));
    push(26, h2(ctx, x.key));
    push(27, h2(ctx, x.flags as u64));
    push(29, h2(x.docf as u64 | (ctx << 8), x.sshape));
    push(30, h2(x.docf as u64, x.flags as u64 & 3));
    push(33, h2(x.suf[2], ctx));
    push(34, h2(key(-1), x.sshape));
    push(35, h2(x.sshape, key(1)));
    push(76, h2(x.coarse as u64, ctx));
    push(77, h2(h2(x.names as u64, ctx), x.flags as u64 & 3));
    let cs = |d| nb.get(d, |t| t.casing as u64);
    let lx = x.casing as u64;
    push(60, h2(lx, ctx));
    push(61, h2(h2(lx, ctx), x.sshape));
    push(62, h2(h2(cs(-1), lx), ctx));
    push(63, h2(h2(lx, cs(1)), ctx));
    let gz = x.gaz as u64;
    push(40, gz);
    push(41, h2(gz, x.sshape));
    push(42, nb.get(-1, |t| t.gaz as u64));
    push(43, nb.get(1, |t| t.gaz as u64));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_recognised() {
        for t in [
            "https://www.tvnz.co.nz/one-news",
            "http://x.org",
            "www.Example.com",
            "WWW.EXAMPLE.COM",
            "@BBCBreaking",
            "news@example.org",
        ] {
            assert!(is_address(t), "{t}");
        }
        for t in ["@", "Washington", "AT&T", "U.S.", "www", "Wéé.", "é", "ééé"] {
            assert!(!is_address(t), "{t}");
        }
    }

    /// Label masks of a one-sentence text; `first_names` are the words the table knows as common
    /// first names.
    fn masks(words: &[&str], first_names: &[&str]) -> Vec<u16> {
        let pairs: Vec<(u64, WordStats)> = first_names
            .iter()
            .map(|n| {
                let stats = WordStats {
                    count: 10,
                    first: 4,
                    ..WordStats::default()
                };
                (hash_str(n), stats)
            })
            .collect();
        let table = WordTable::from_pairs(&pairs, &[]);
        let gaz = Gazetteer::global();
        let sentence = 0..words.len();
        let p = prepare(words, &[sentence], false, gaz, &table, false);
        if p.allow.is_empty() {
            vec![ALLOW_ALL; words.len()]
        } else {
            p.allow
        }
    }

    #[test]
    fn a_title_before_a_name_cannot_be_a_person_unless_inside_a_name() {
        let m = masks(&["Prince", "Charles", "met", "Queen", "Elizabeth"], &[]);
        assert_eq!(
            m,
            [
                ALLOW_NOT_PER,
                ALLOW_ALL,
                ALLOW_ALL,
                ALLOW_NOT_PER,
                ALLOW_ALL
            ]
        );
        // after a capitalised word a title word may end a name
        let m = masks(&["by", "Martin", "Luther", "King", "Jr."], &[]);
        assert_eq!(m, [ALLOW_ALL; 5]);
        // a common first name is no title; a title before a lower-case word constrains nothing
        let m = masks(
            &["Dean", "Jones", "and", "the", "President", "said"],
            &["dean"],
        );
        assert_eq!(m, [ALLOW_ALL; 6]);
        // multi-word titles: every word of it
        let m = masks(&["Prime", "Minister", "Jacinda", "Ardern"], &[]);
        assert_eq!(m, [ALLOW_NOT_PER, ALLOW_NOT_PER, ALLOW_ALL, ALLOW_ALL]);
        // addresses only O
        let m = masks(&["see", "www.example.com", "now"], &[]);
        assert_eq!(m, [ALLOW_ALL, 1, ALLOW_ALL]);
    }

    #[test]
    fn disease_names_are_one_misc_token_in_any_capitalised_form() {
        let m = masks(&["Covid-19", "and", "COVID", "rules", "for", "Ebola"], &[]);
        let b = ALLOW_B_MISC;
        assert_eq!(m, [b, ALLOW_ALL, b, ALLOW_ALL, ALLOW_ALL, b]);
        // a hyphenated lower-case part keeps it MISC; lower case and generic names are free
        let m = masks(
            &["COVID-positive", "covid", "coronavirus", "Coronavirus"],
            &[],
        );
        assert_eq!(m, [b, ALLOW_ALL, ALLOW_ALL, ALLOW_ALL]);
    }

    #[test]
    fn holidays_are_never_people_or_organisations() {
        let m = masks(
            &["Halloween", "'s", "return", "to", "Christmas", "Island"],
            &[],
        );
        let all = ALLOW_ALL;
        assert_eq!(
            m,
            [ALLOW_NOT_PER_ORG, all, all, all, ALLOW_NOT_PER_ORG, all]
        );
    }

    #[test]
    fn an_organisation_head_keeps_its_of_complement_inside_the_name() {
        let all = ALLOW_ALL;
        let m = masks(&["the", "Commission", "on", "Elections", "said"], &[]);
        assert_eq!(m, [all, all, ALLOW_INSIDE, ALLOW_INSIDE, all]);
        let m = masks(&["Special", "Tribunal", "for", "Lebanon"], &[]);
        assert_eq!(m, [all, all, ALLOW_INSIDE, ALLOW_INSIDE]);
        // a day, a title, a lower-case word or a non-head noun ends the name
        for words in [
            ["the", "Council", "on", "Friday"],
            ["League", "of", "Prime", "Minister"],
            ["the", "Bank", "of", "our"],
            ["the", "Plan", "for", "Schools"],
        ] {
            assert_eq!(masks(&words, &[]), [all; 4], "{words:?}");
        }
    }
}
