//! Named-entity tagging and linking (PER, ORG, LOC, MISC) for news articles.
//!
//! Owns the tokeniser, the two-stage averaged-perceptron sequence tagger (hashed features,
//! Viterbi decoding with BIO constraints; stage 2 adds document-level features from stage 1's
//! labels), the embedded model and gazetteers, and per-article linking of mentions to canonical
//! entities. Pure: text in, data out; only the train/eval/build functions read files.

// Index loops over the fixed label dimension are the clearest form for this numeric code.
#![allow(clippy::needless_range_loop)]

pub mod eval;
pub mod features;
pub mod gazetteer;
pub mod hash;
pub mod link;
pub mod tokenize;
pub mod train;

use std::sync::OnceLock;

use crate::model::{Entity, EntityKind};
use features::{NUM_LABELS, Prepared};
use gazetteer::Gazetteer;

/// Errors of the NER module.
#[derive(Debug, thiserror::Error)]
pub enum NerError {
    #[error("reading {path}: {source}")]
    Io {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}:{line}: {msg}")]
    Format {
        path: std::path::PathBuf,
        line: usize,
        msg: String,
    },
    #[error("invalid model file: {0}")]
    Model(String),
    #[error("training: {0}")]
    Train(String),
}

const MAGIC: &[u8; 8] = b"DGNER\x02\0\0";
static MODEL_BYTES: &[u8] = include_bytes!("../../models/ner.bin");

/// One row of quantised weights, one per label. Unpadded: the tables must stay small enough for
/// the last-level cache (padding rows to 32 bytes measured slower).
#[derive(Clone, Copy, Default)]
pub(crate) struct Row(pub(crate) [i16; NUM_LABELS]);

/// One tagging stage: weights quantised to i16 (one `Row` per hashed feature), transitions.
pub(crate) struct Stage {
    pub(crate) mask: u64,
    pub(crate) w: Vec<Row>,
    pub(crate) scale: f32,
    pub(crate) start: [f32; NUM_LABELS],
    pub(crate) trans: [f32; NUM_LABELS * NUM_LABELS],
}

/// Whether label `cur` may follow label `prev` (None = sentence start) under BIO.
#[inline]
pub(crate) fn allowed(prev: Option<u8>, cur: u8) -> bool {
    if cur == 0 || features::is_begin(cur) {
        return true;
    }
    match prev {
        None => false,
        Some(p) => p == cur || p + 1 == cur && features::is_begin(p),
    }
}

/// Viterbi decoding over emission scores (`n × 9`), BIO constraints enforced.
pub(crate) fn viterbi(
    em: &[[f32; NUM_LABELS]],
    start: &[f32; NUM_LABELS],
    trans: &[f32; NUM_LABELS * NUM_LABELS],
    out: &mut Vec<u8>,
) {
    const NEG: f32 = -1e30;
    let n = em.len();
    out.clear();
    if n == 0 {
        return;
    }
    // transitions with disallowed pairs masked, laid out [cur][prev]
    let mut t = [[NEG; NUM_LABELS]; NUM_LABELS];
    for c in 0..NUM_LABELS {
        for p in 0..NUM_LABELS {
            if allowed(Some(p as u8), c as u8) {
                t[c][p] = trans[p * NUM_LABELS + c];
            }
        }
    }
    let mut back: Vec<[u8; NUM_LABELS]> = Vec::with_capacity(n);
    back.push([0; NUM_LABELS]);
    let mut score = [NEG; NUM_LABELS];
    for l in 0..NUM_LABELS {
        if allowed(None, l as u8) {
            score[l] = start[l] + em[0][l];
        }
    }
    for e in &em[1..] {
        let mut next = [NEG; NUM_LABELS];
        let mut bk = [0u8; NUM_LABELS];
        for c in 0..NUM_LABELS {
            let tc = &t[c];
            let mut best = score[0] + tc[0];
            let mut arg = 0u8;
            for p in 1..NUM_LABELS {
                let s = score[p] + tc[p];
                if s > best {
                    best = s;
                    arg = p as u8;
                }
            }
            next[c] = best + e[c];
            bk[c] = arg;
        }
        back.push(bk);
        score = next;
    }
    let mut last = 0;
    for l in 1..NUM_LABELS {
        if score[l] > score[last] {
            last = l;
        }
    }
    out.resize(n, 0);
    let mut cur = last as u8;
    for i in (0..n).rev() {
        out[i] = cur;
        cur = back[i][cur as usize];
    }
}

impl Stage {
    #[inline]
    fn add(&self, feats: &[u32], acc: &mut [i32; NUM_LABELS]) {
        for &f in feats {
            let row = &self.w[f as usize].0;
            for l in 0..NUM_LABELS {
                acc[l] += row[l] as i32;
            }
        }
    }

    /// Tags all sentences; token `i`'s features are `base[off[i]..off[i+1]]` plus, for stage 2,
    /// the non-local features from `nl`.
    fn tag(
        &self,
        p: &Prepared,
        base: &[u32],
        off: &[u32],
        nl: Option<&[features::NonLocal]>,
        labels: &mut Vec<u8>,
        scratch: &mut Scratch,
    ) {
        labels.clear();
        labels.resize(p.info.len(), 0);
        for r in &p.sents {
            scratch.em.clear();
            for i in r.clone() {
                let mut acc = [0i32; NUM_LABELS];
                self.add(&base[off[i] as usize..off[i + 1] as usize], &mut acc);
                if let Some(nl) = nl {
                    scratch.feats.clear();
                    features::nl_features(p, i, &nl[i], self.mask, &mut scratch.feats);
                    self.add(&scratch.feats, &mut acc);
                }
                let mut e = [0f32; NUM_LABELS];
                for l in 0..NUM_LABELS {
                    e[l] = acc[l] as f32 * self.scale;
                }
                scratch.em.push(e);
            }
            viterbi(&scratch.em, &self.start, &self.trans, &mut scratch.path);
            labels[r.clone()].copy_from_slice(&scratch.path);
        }
    }
}

#[derive(Default)]
struct Scratch {
    feats: Vec<u32>,
    em: Vec<[f32; NUM_LABELS]>,
    path: Vec<u8>,
}

/// The trained tagger (one or two stages).
pub struct Tagger {
    pub(crate) stages: Vec<Stage>,
    pub(crate) lex: features::Lexicon,
    /// For two-stage models loaded from bytes: both stages' rows side by side, so one memory
    /// access per feature serves both stages (the stages' own `w` are then empty).
    pub(crate) joint: Vec<[i16; 2 * NUM_LABELS]>,
}

struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], NerError> {
        if self.pos + n > self.b.len() {
            return Err(NerError::Model(format!("truncated at byte {}", self.pos)));
        }
        let s = &self.b[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    fn u32(&mut self) -> Result<u32, NerError> {
        let s = self.take(4)?;
        Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
    }
    fn f32(&mut self) -> Result<f32, NerError> {
        Ok(f32::from_bits(self.u32()?))
    }
}

impl Tagger {
    /// The embedded model, loaded once (OnceLock).
    pub fn global() -> &'static Tagger {
        static T: OnceLock<Tagger> = OnceLock::new();
        T.get_or_init(|| {
            Tagger::from_bytes(MODEL_BYTES).expect("the embedded models/ner.bin is a valid model")
        })
    }

    /// Parses a model file.
    pub fn from_bytes(bytes: &[u8]) -> Result<Tagger, NerError> {
        let mut r = Reader { b: bytes, pos: 0 };
        if r.take(8)? != MAGIC {
            return Err(NerError::Model(
                "bad magic (not a digestif NER model)".into(),
            ));
        }
        let n_stages = r.u32()?;
        if !(1..=2).contains(&n_stages) {
            return Err(NerError::Model(format!("{n_stages} stages")));
        }
        let mut stages = Vec::new();
        for _ in 0..n_stages {
            let bits = r.u32()?;
            if !(10..=24).contains(&bits) {
                return Err(NerError::Model(format!("hash bits {bits}")));
            }
            let scale = r.f32()?;
            let mut start = [0f32; NUM_LABELS];
            for s in start.iter_mut() {
                *s = r.f32()?;
            }
            let mut trans = [0f32; NUM_LABELS * NUM_LABELS];
            for t in trans.iter_mut() {
                *t = r.f32()?;
            }
            let nrows = r.u32()? as usize;
            let buckets = 1usize << bits;
            let mut w = vec![Row::default(); buckets];
            let mut bucket = 0usize;
            for k in 0..nrows {
                // rows are sorted; buckets are delta-encoded as u32
                let d = r.u32()? as usize;
                bucket = if k == 0 { d } else { bucket + d };
                if bucket >= buckets {
                    return Err(NerError::Model(format!("bucket {bucket} out of range")));
                }
                let row = r.take(2 * NUM_LABELS)?;
                for l in 0..NUM_LABELS {
                    w[bucket].0[l] = i16::from_le_bytes([row[2 * l], row[2 * l + 1]]);
                }
            }
            if stages
                .first()
                .is_some_and(|s: &Stage| s.mask != (buckets - 1) as u64)
            {
                return Err(NerError::Model("stages differ in hash bits".into()));
            }
            stages.push(Stage {
                mask: (buckets - 1) as u64,
                w,
                scale,
                start,
                trans,
            });
        }
        let n_lex = r.u32()? as usize;
        let mut entries = Vec::with_capacity(n_lex);
        for _ in 0..n_lex {
            let b = r.take(9)?;
            let k = u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
            entries.push((k, b[8]));
        }
        if r.pos != bytes.len() {
            return Err(NerError::Model(format!(
                "{} trailing bytes",
                bytes.len() - r.pos
            )));
        }
        let mut joint = Vec::new();
        if let [s1, s2] = stages.as_mut_slice() {
            joint =
                s1.w.iter()
                    .zip(&s2.w)
                    .map(|(a, b)| {
                        let mut r = [0i16; 2 * NUM_LABELS];
                        r[..NUM_LABELS].copy_from_slice(&a.0);
                        r[NUM_LABELS..].copy_from_slice(&b.0);
                        r
                    })
                    .collect();
            s1.w = Vec::new();
            s2.w = Vec::new();
        }
        Ok(Tagger {
            stages,
            lex: features::Lexicon::from_entries(entries),
            joint,
        })
    }

    /// Number of stages (1 = local features only, 2 = with document-level features).
    pub fn stages_len(&self) -> usize {
        self.stages.len()
    }

    /// Serialises the model.
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&(self.stages.len() as u32).to_le_bytes());
        for (si, s) in self.stages.iter().enumerate() {
            let bits = (s.mask + 1).trailing_zeros();
            out.extend_from_slice(&bits.to_le_bytes());
            out.extend_from_slice(&s.scale.to_le_bytes());
            for v in s.start.iter().chain(s.trans.iter()) {
                out.extend_from_slice(&v.to_le_bytes());
            }
            let rows: Vec<usize> = (0..=s.mask as usize)
                .filter(|&b| self.row(si, b).iter().any(|&x| x != 0))
                .collect();
            out.extend_from_slice(&(rows.len() as u32).to_le_bytes());
            let mut prev = 0usize;
            for (k, &b) in rows.iter().enumerate() {
                let d = if k == 0 { b } else { b - prev };
                prev = b;
                out.extend_from_slice(&(d as u32).to_le_bytes());
                for &x in self.row(si, b) {
                    out.extend_from_slice(&x.to_le_bytes());
                }
            }
        }
        let entries = self.lex.entries();
        out.extend_from_slice(&(entries.len() as u32).to_le_bytes());
        for (k, c) in entries {
            out.extend_from_slice(&k.to_le_bytes());
            out.push(c);
        }
        out
    }

    /// Tags a prepared document; returns one label per token.
    /// Weights of stage `si` for bucket `b`.
    fn row(&self, si: usize, b: usize) -> &[i16] {
        if self.joint.is_empty() {
            &self.stages[si].w[b].0
        } else {
            &self.joint[b][si * NUM_LABELS..(si + 1) * NUM_LABELS]
        }
    }

    /// Two-stage tagging over the joint table: stage 1 and the local part of stage 2 are summed in
    /// one pass; stage 2 then adds only its non-local features.
    fn tag_joint(&self, p: &Prepared) -> Vec<u8> {
        let (s1, s2) = (&self.stages[0], &self.stages[1]);
        let mask = s1.mask;
        let n = p.info.len();
        let mut local2: Vec<[i32; NUM_LABELS]> = Vec::with_capacity(n);
        let mut labels = vec![0u8; n];
        let mut feats = Vec::with_capacity(128);
        let mut em: Vec<[f32; NUM_LABELS]> = Vec::new();
        let mut path = Vec::new();
        for r in &p.sents {
            em.clear();
            for i in r.clone() {
                feats.clear();
                features::base_features(p, i, mask, &mut feats);
                let mut a = [0i32; 2 * NUM_LABELS];
                for &f in &feats {
                    let row = &self.joint[f as usize];
                    for l in 0..2 * NUM_LABELS {
                        a[l] += row[l] as i32;
                    }
                }
                let mut e = [0f32; NUM_LABELS];
                let mut b = [0i32; NUM_LABELS];
                for l in 0..NUM_LABELS {
                    e[l] = a[l] as f32 * s1.scale;
                    b[l] = a[NUM_LABELS + l];
                }
                em.push(e);
                local2.push(b);
            }
            viterbi(&em, &s1.start, &s1.trans, &mut path);
            labels[r.clone()].copy_from_slice(&path);
        }
        let nl = features::non_local(p, &labels);
        for r in &p.sents {
            em.clear();
            for i in r.clone() {
                feats.clear();
                features::nl_features(p, i, &nl[i], mask, &mut feats);
                let mut a = local2[i];
                for &f in &feats {
                    let row = &self.joint[f as usize];
                    for l in 0..NUM_LABELS {
                        a[l] += row[NUM_LABELS + l] as i32;
                    }
                }
                let mut e = [0f32; NUM_LABELS];
                for l in 0..NUM_LABELS {
                    e[l] = a[l] as f32 * s2.scale;
                }
                em.push(e);
            }
            viterbi(&em, &s2.start, &s2.trans, &mut path);
            labels[r.clone()].copy_from_slice(&path);
        }
        labels
    }

    pub(crate) fn tag_prepared(&self, p: &Prepared) -> Vec<u8> {
        if !self.joint.is_empty() {
            return self.tag_joint(p);
        }
        let mut scratch = Scratch::default();
        let mask = self.stages[0].mask;
        let mut base = Vec::with_capacity(p.info.len() * 64);
        let mut off = Vec::with_capacity(p.info.len() + 1);
        off.push(0u32);
        for i in 0..p.info.len() {
            features::base_features(p, i, mask, &mut base);
            off.push(base.len() as u32);
        }
        let mut labels = Vec::new();
        self.stages[0].tag(p, &base, &off, None, &mut labels, &mut scratch);
        if let Some(s2) = self.stages.get(1) {
            let nl = features::non_local(p, &labels);
            let mut l2 = Vec::new();
            s2.tag(p, &base, &off, Some(&nl), &mut l2, &mut scratch);
            labels = l2;
        }
        labels
    }

    /// Tags a tokenised document (sentence ranges over `tokens`); returns CoNLL labels as indices
    /// into [`features::LABELS`]. The first sentence is treated as a headline when `first_is_title`.
    pub fn tag_tokens(
        &self,
        tokens: &[&str],
        sents: &[std::ops::Range<usize>],
        first_is_title: bool,
    ) -> Vec<u8> {
        let p = features::prepare(
            tokens,
            sents,
            first_is_title,
            Gazetteer::global(),
            &self.lex,
        );
        self.tag_prepared(&p)
    }
}

/// A mention found in text: surface form, canonical name, kind and byte range.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Mention {
    pub text: String,
    pub name: String,
    pub kind: EntityKind,
    pub start: usize,
    pub end: usize,
}

/// Entity spans from labels: (first token, end token exclusive, kind).
pub fn spans(labels: &[u8]) -> Vec<(usize, usize, EntityKind)> {
    let kinds = [
        EntityKind::Person,
        EntityKind::Organization,
        EntityKind::Location,
        EntityKind::Misc,
    ];
    let mut out = Vec::new();
    let mut i = 0;
    while i < labels.len() {
        match features::label_type(labels[i]) {
            None => i += 1,
            Some(t) => {
                let mut j = i + 1;
                while j < labels.len() && labels[j] == 2 * t + 2 {
                    j += 1;
                }
                out.push((i, j, kinds[t as usize]));
                i = j;
            }
        }
    }
    out
}

/// Tokenises, tags and links `text`; `title_len` is the byte length of a leading title (0 if none).
fn run(text: &str, title_len: usize) -> (Vec<Mention>, Vec<Entity>) {
    let toks = tokenize::tokenize(text);
    let mut sents = tokenize::split_sentences(text, &toks);
    // the title is one sentence of its own
    if title_len > 0 {
        let split: Vec<_> = sents
            .iter()
            .flat_map(|r| {
                let cut = r
                    .clone()
                    .find(|&i| toks[i].start >= title_len && toks[r.start].start < title_len);
                match cut {
                    Some(c) => vec![r.start..c, c..r.end],
                    None => vec![r.clone()],
                }
            })
            .collect();
        sents = split;
    }
    let strs: Vec<&str> = toks.iter().map(|t| t.text(text)).collect();
    let labels = Tagger::global().tag_tokens(&strs, &sents, title_len > 0);
    let raw: Vec<link::RawMention> = spans(&labels)
        .into_iter()
        .map(|(a, b, kind)| link::RawMention {
            tokens: toks[a..b].to_vec(),
            kind,
        })
        .collect();
    link::link(text, &raw, title_len, Gazetteer::global())
}

/// Tag + link one article. Offsets index into `format!("{title}\n\n{text}")`.
pub fn tag_article(title: &str, text: &str) -> Vec<Entity> {
    let full = format!("{title}\n\n{text}");
    let title_len = if title.trim().is_empty() {
        0
    } else {
        title.len()
    };
    run(&full, title_len).1
}

/// Mentions in free text for the `digestif tag` command, plus the linked entities.
pub fn tag_text(text: &str) -> (Vec<Mention>, Vec<Entity>) {
    run(text, 0)
}

/// Alias lookup used for `follow = ["US", "Putin"]`: canonical display name + kind if the alias
/// tables know it.
pub fn canonical_name(alias: &str) -> Option<(String, EntityKind)> {
    let g = Gazetteer::global();
    let key = crate::model::fold_key(alias);
    if let Some(c) = g.alias(&key) {
        return Some((c.name.clone(), c.kind));
    }
    g.demonym(&key).map(|c| (c.name.clone(), c.kind))
}
