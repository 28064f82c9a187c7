//! Feature extraction for the sequence tagger: per-token precomputation (folded key, shapes,
//! affixes, gazetteer matches, sentence mode, document-level casing evidence) and hashed
//! feature ids (templates combined with 64-bit value hashes, masked into the weight table).
//! Stage 2 adds non-local features from the stage-1 labels of the whole document.

use std::ops::Range;

use super::gazetteer::{Gazetteer, token_key};
use super::hash::{IdMap, hash_str, mix};

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

const MODE_NORMAL: u8 = 0;
const MODE_ALLCAPS: u8 = 1;
const MODE_TITLE: u8 = 2;

const F_INIT_CAP: u32 = 1;
const F_ALL_CAPS: u32 = 2;
const F_HAS_DIGIT: u32 = 4;
const F_ALL_DIGIT: u32 = 8;
const F_HYPHEN: u32 = 16;
const F_DOT: u32 = 32;
const F_APOS: u32 = 64;
const F_MIXED: u32 = 128;
const F_ALPHA: u32 = 256;
const F_LOWER_INIT: u32 = 512;

const SMALL_WORDS: &[&str] = &[
    "a", "an", "the", "and", "or", "of", "in", "on", "at", "to", "for", "by", "with", "as", "but",
    "from", "vs", "nor", "de", "van", "von", "la", "le", "du", "da", "'s",
];

/// Precomputed per-token values.
#[derive(Clone, Default)]
pub struct TokInfo {
    word: u64,
    pub key: u64,
    shape: u64,
    sshape: u64,
    pre: [u64; 4],
    suf: [u64; 4],
    flags: u32,
    gaz: u16,
    sent: (u32, u32),
    mode: u8,
    title: bool,
    docf: u8,
    lex: u8,
}

/// A document prepared for tagging.
pub struct Prepared {
    pub info: Vec<TokInfo>,
    pub sents: Vec<Range<usize>>,
}

fn shapes(tok: &str) -> (u64, u64, u32) {
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
        } else if c.is_ascii() {
            match c {
                '-' => flags |= F_HYPHEN,
                '.' => flags |= F_DOT,
                '\'' => flags |= F_APOS,
                _ => {}
            }
            c as u8
        } else {
            match c {
                '\u{2019}' => {
                    flags |= F_APOS;
                    b'\''
                }
                '\u{2010}'..='\u{2015}' => b'-',
                '\u{201c}' | '\u{201d}' | '\u{ab}' | '\u{bb}' => b'"',
                _ => b'#',
            }
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

fn char_prefix_hashes(key: &str) -> ([u64; 4], [u64; 4]) {
    let mut pre = [1u64; 4];
    let mut suf = [1u64; 4];
    for (k, (i, _)) in key
        .char_indices()
        .skip(1)
        .chain([(key.len(), ' ')])
        .take(4)
        .enumerate()
    {
        pre[k] = hash_str(&key[..i]);
    }
    for (k, (i, _)) in key.char_indices().rev().take(4).enumerate() {
        suf[k] = hash_str(&key[i..]);
    }
    (pre, suf)
}

/// Prepares a document given its tokens and sentence ranges. The first sentence is treated as
/// the title/headline when `first_is_title` is set.
pub fn prepare(
    tokens: &[&str],
    sents: &[Range<usize>],
    first_is_title: bool,
    gaz: &Gazetteer,
    lex: &Lexicon,
) -> Prepared {
    let n = tokens.len();
    let mut info = vec![TokInfo::default(); n];
    let mut kbuf = String::new();
    for (i, t) in tokens.iter().enumerate() {
        token_key(t, &mut kbuf);
        let (shape, sshape, flags) = shapes(t);
        let (pre, suf) = char_prefix_hashes(&kbuf);
        let inf = &mut info[i];
        inf.word = hash_str(t);
        inf.key = hash_str(&kbuf);
        inf.shape = shape;
        inf.sshape = sshape;
        inf.flags = flags;
        inf.pre = pre;
        inf.suf = suf;
    }
    let small: Vec<u64> = SMALL_WORDS.iter().map(|w| hash_str(w)).collect();
    let mut caps = Vec::new();
    let mut gz = Vec::new();
    for (si, r) in sents.iter().enumerate() {
        // sentence mode
        let (mut letters, mut allcaps, mut content, mut capped) = (0, 0, 0, 0);
        for inf in &info[r.clone()] {
            if inf.flags & F_ALPHA != 0 {
                letters += 1;
                if inf.flags & F_ALL_CAPS != 0 {
                    allcaps += 1;
                }
                if !small.contains(&inf.key) {
                    content += 1;
                    if inf.flags & F_INIT_CAP != 0 {
                        capped += 1;
                    }
                }
            }
        }
        let mode = if letters >= 2 && allcaps * 10 >= letters * 8 {
            MODE_ALLCAPS
        } else if content >= 3 && capped * 10 >= content * 8 {
            MODE_TITLE
        } else {
            MODE_NORMAL
        };
        caps.clear();
        caps.extend(
            info[r.clone()]
                .iter()
                .map(|x| x.flags & (F_INIT_CAP | F_HAS_DIGIT) != 0),
        );
        let keys: Vec<u64> = info[r.clone()].iter().map(|x| x.key).collect();
        let upper: Vec<bool> = info[r.clone()]
            .iter()
            .map(|x| x.flags & F_ALL_CAPS != 0 && mode != MODE_ALLCAPS)
            .collect();
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
    // document-level casing evidence per key
    let mut doc: IdMap<u8> = IdMap::default();
    for (i, inf) in info.iter().enumerate() {
        let e = doc.entry(inf.key).or_insert(0);
        if inf.flags & F_LOWER_INIT != 0 {
            *e |= 1;
        }
        let start = i as u32 == inf.sent.0;
        if inf.mode == MODE_NORMAL && !inf.title && !start && inf.flags & F_INIT_CAP != 0 {
            *e |= 2;
            if inf.flags & F_ALL_CAPS != 0 && inf.flags & F_ALPHA != 0 {
                *e |= 4;
            }
        }
    }
    for inf in info.iter_mut() {
        inf.docf = doc.get(&inf.key).copied().unwrap_or(0);
        inf.lex = lex.class(inf.key);
    }
    Prepared {
        info,
        sents: sents.to_vec(),
    }
}

/// Casing lexicon learnt from training text: for each folded word, whether it is mostly written
/// lower case, mostly capitalised, or both, counted inside normal sentences and outside sentence
/// starts. Gives headline and sentence-start tokens evidence from how the word is usually written.
#[derive(Default, Clone)]
pub struct Lexicon {
    counts: IdMap<(u32, u32)>,
    classes: IdMap<u8>,
}

impl Lexicon {
    /// Adds the casing evidence of one prepared document.
    pub fn add(&mut self, p: &Prepared) {
        for (i, inf) in p.info.iter().enumerate() {
            if inf.mode != MODE_NORMAL
                || inf.title
                || i as u32 == inf.sent.0
                || inf.flags & F_ALPHA == 0
            {
                continue;
            }
            let e = self.counts.entry(inf.key).or_insert((0, 0));
            if inf.flags & F_LOWER_INIT != 0 {
                e.0 += 1;
            } else if inf.flags & F_INIT_CAP != 0 {
                e.1 += 1;
            }
        }
    }

    /// Freezes the counts into classes.
    pub fn finish(&mut self) {
        self.classes = self
            .counts
            .iter()
            .filter_map(|(&k, &(lo, cap))| {
                let t = lo + cap;
                if t == 0 {
                    return None;
                }
                let c = if lo * 10 >= t * 9 {
                    1
                } else if cap * 10 >= t * 9 {
                    2
                } else {
                    3
                };
                Some((k, c + if t >= 5 { 3 } else { 0 }))
            })
            .collect();
    }

    /// Class of a word: 0 unknown, 1/4 lower case, 2/5 capitalised, 3/6 mixed (4..6: frequent).
    #[inline]
    pub fn class(&self, key: u64) -> u8 {
        self.classes.get(&key).copied().unwrap_or(0)
    }

    /// Serialised form: sorted (key, class) pairs.
    pub fn entries(&self) -> Vec<(u64, u8)> {
        let mut v: Vec<(u64, u8)> = self.classes.iter().map(|(&k, &c)| (k, c)).collect();
        v.sort_unstable();
        v
    }

    /// From serialised pairs.
    pub fn from_entries(e: impl IntoIterator<Item = (u64, u8)>) -> Self {
        Lexicon {
            counts: IdMap::default(),
            classes: e.into_iter().collect(),
        }
    }
}

impl Prepared {
    /// Sets the casing-lexicon class of every token.
    pub fn set_lex(&mut self, lex: &Lexicon) {
        for inf in self.info.iter_mut() {
            inf.lex = lex.class(inf.key);
        }
    }
}

/// Stage-1 labels of a whole document, summarised per token for stage-2 features.
#[derive(Clone, Copy, Default)]
pub struct NonLocal {
    others: [u16; 4],
    others_o: u16,
    first: u8,
    own: u8,
    prev: u8,
    next: u8,
}

/// Computes non-local summaries from stage-1 labels.
pub fn non_local(p: &Prepared, labels: &[u8]) -> Vec<NonLocal> {
    #[derive(Default, Clone, Copy)]
    struct Acc {
        counts: [u16; 4],
        o: u16,
        first_idx: u32,
        first_label: u8,
        seen: bool,
    }
    let mut acc: IdMap<Acc> = IdMap::default();
    for (i, inf) in p.info.iter().enumerate() {
        if inf.flags & (F_INIT_CAP | F_ALL_CAPS) == 0 {
            continue;
        }
        let a = acc.entry(inf.key).or_default();
        match label_type(labels[i]) {
            Some(t) => a.counts[t as usize] += 1,
            None => a.o += 1,
        }
        if !a.seen {
            a.seen = true;
            a.first_idx = i as u32;
            a.first_label = labels[i];
        }
    }
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
            if let Some(a) = acc.get(&inf.key) {
                nl.others = a.counts;
                nl.others_o = a.o;
                // the token itself was counted only when capitalised
                if inf.flags & (F_INIT_CAP | F_ALL_CAPS) != 0 {
                    match label_type(own) {
                        Some(t) => nl.others[t as usize] = nl.others[t as usize].saturating_sub(1),
                        None => nl.others_o = nl.others_o.saturating_sub(1),
                    }
                }
                if (a.first_idx as usize) < i {
                    nl.first = label_type(a.first_label).map(|t| t + 1).unwrap_or(5);
                }
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

#[inline]
fn ctx_of(p: &Prepared, i: usize) -> u64 {
    let info = &p.info;
    let x = &info[i];
    let s0 = x.sent.0 as usize;
    let start = i == s0
        || (i == s0 + 1 && info[s0].flags & F_ALPHA == 0 && info[s0].flags & F_HAS_DIGIT == 0);
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
}

/// Local (stage-1) features of token `i`.
pub fn base_features(p: &Prepared, i: usize, mask: u64, out: &mut Vec<u32>) {
    const BOS: u64 = 0x0b05;
    const EOS: u64 = 0x0e05;
    let info = &p.info;
    let x = &info[i];
    let (s0, s1) = (x.sent.0 as usize, x.sent.1 as usize);
    let at = |d: isize| -> Option<&TokInfo> {
        let j = i as isize + d;
        if j >= s0 as isize && j < s1 as isize {
            Some(&info[j as usize])
        } else {
            None
        }
    };
    let key_at = |d: isize| {
        at(d)
            .map(|t| t.key)
            .unwrap_or(if d < 0 { BOS } else { EOS })
    };
    let word_at = |d: isize| {
        at(d)
            .map(|t| t.word)
            .unwrap_or(if d < 0 { BOS } else { EOS })
    };
    let ssh_at = |d: isize| {
        at(d)
            .map(|t| t.sshape)
            .unwrap_or(if d < 0 { BOS } else { EOS })
    };
    let sh_at = |d: isize| {
        at(d)
            .map(|t| t.shape)
            .unwrap_or(if d < 0 { BOS } else { EOS })
    };
    let start = i == s0
        || (i == s0 + 1 && info[s0].flags & F_ALPHA == 0 && info[s0].flags & F_HAS_DIGIT == 0);
    let ctx = (x.mode as u64) | ((start as u64) << 4) | ((x.title as u64) << 5);
    let mut push = |t: u64, v: u64| out.push((fh(t, v) & mask) as u32);
    push(1, 0);
    push(2, x.word);
    push(3, x.key);
    push(4, x.shape);
    push(5, x.sshape);
    for k in 0..4 {
        push(6 + k as u64, x.pre[k]);
        push(10 + k as u64, x.suf[k]);
    }
    push(14, key_at(-1));
    push(15, key_at(1));
    push(16, key_at(-2));
    push(17, key_at(2));
    push(18, word_at(-1));
    push(19, word_at(1));
    push(20, h2(ssh_at(-1), x.sshape));
    push(21, h2(x.sshape, ssh_at(1)));
    push(22, h2(h2(ssh_at(-1), x.sshape), ssh_at(1)));
    push(23, h2(key_at(-1), x.key));
    push(24, h2(x.key, key_at(1)));
    push(25, h2(ctx, x.sshape));
    push(26, h2(ctx, x.key));
    push(27, h2(ctx, x.flags as u64));
    push(28, x.flags as u64);
    push(29, h2(x.docf as u64 | (ctx << 8), x.sshape));
    push(30, h2(x.docf as u64, x.flags as u64 & 3));
    push(31, sh_at(-1));
    push(32, sh_at(1));
    push(33, h2(x.suf[2], ctx));
    push(34, h2(key_at(-1), x.sshape));
    push(35, h2(x.sshape, key_at(1)));
    let gz = x.gaz;
    if gz != 0 {
        for b in 0..16 {
            if gz & (1 << b) != 0 {
                push(40, b);
                push(41, h2(b, x.sshape));
            }
        }
    } else {
        push(40, 99);
    }
    if let Some(p) = at(-1) {
        for b in 0..16 {
            if p.gaz & (1 << b) != 0 {
                push(42, b);
            }
        }
    }
    if let Some(p) = at(1) {
        for b in 0..16 {
            if p.gaz & (1 << b) != 0 {
                push(43, b);
            }
        }
    }
    let lex_at = |d: isize| at(d).map(|t| t.lex as u64).unwrap_or(9);
    let lx = x.lex as u64;
    push(60, h2(lx, ctx));
    push(61, h2(h2(lx, ctx), x.sshape));
    push(62, h2(h2(lex_at(-1), lx), ctx));
    push(63, h2(h2(lx, lex_at(1)), ctx));
}
