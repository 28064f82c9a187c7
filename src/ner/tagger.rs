//! The trained tagger: two stages of i16-quantised hashed feature weights with BIO-constrained
//! first-order Viterbi decoding, the model file format, and tagging of prepared documents.

use std::sync::OnceLock;

use super::NerError;
use super::features::{self, NUM_LABELS, Prepared};
use super::gazetteer::Gazetteer;
use super::hash::{HashIndex, hash_str};
use super::words::WordTable;

const MAGIC: &[u8; 8] = b"DGNER\x04\0\0";
static MODEL_BYTES: &[u8] = include_bytes!("../../models/ner.bin");

/// One row of quantised weights, one per label.
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

/// Viterbi decoding over emission scores (`n × 9`), BIO constraints enforced. With `only`, token
/// `i` may take only the labels whose bit is set in `only[i]` (constrained decoding for
/// partially labelled training data).
pub(crate) fn viterbi(
    em: &[[f32; NUM_LABELS]],
    start: &[f32; NUM_LABELS],
    trans: &[f32; NUM_LABELS * NUM_LABELS],
    only: Option<&[u16]>,
    out: &mut Vec<u8>,
) {
    const NEG: f32 = -1e30;
    let n = em.len();
    out.clear();
    if n == 0 {
        return;
    }
    let ok = |i: usize, l: usize| only.is_none_or(|m| m[i] & (1 << l) != 0);
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
        if allowed(None, l as u8) && ok(0, l) {
            score[l] = start[l] + em[0][l];
        }
    }
    for (i, e) in em.iter().enumerate().skip(1) {
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
            next[c] = if ok(i, c) { best + e[c] } else { NEG };
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

/// The word table a tagger was trained with: the embedded one, or one built by training.
pub(crate) enum Words {
    Embedded(&'static WordTable),
    Owned(Box<WordTable>),
}

impl std::ops::Deref for Words {
    type Target = WordTable;
    fn deref(&self) -> &WordTable {
        match self {
            Words::Embedded(w) => w,
            Words::Owned(w) => w,
        }
    }
}

/// Rows of both stages side by side.
type JointRow = [i16; 2 * NUM_LABELS];

/// Number of weight rows in a compiled word block: the word's own features, then the features
/// it contributes as each neighbour in `features::NEAR`.
const BLOCK_ROWS: usize = 1 + features::NEAR.len();

/// Compiled per-word weights: for each frequent word form (by the hash of its text), the sums of
/// the rows of [`features::self_features`] and of [`features::near_features`] at each offset, so a
/// known word costs one block instead of some thirty scattered rows. Exact up to rounding.
#[derive(Default)]
pub(crate) struct Blocks {
    index: HashIndex,
    hashes: Vec<u64>,
    rows: Vec<[JointRow; BLOCK_ROWS]>,
    /// Scale of the block entries of stage 1 and stage 2.
    scale: [f32; 2],
}

/// Block index of a token without a block.
const NO_BLOCK: u32 = u32::MAX;

/// The trained tagger (one or two stages).
pub struct Tagger {
    pub(crate) stages: Vec<Stage>,
    pub(crate) words: Words,
    /// For two-stage models: both stages' rows side by side, so one memory access per feature
    /// serves both stages (the stages' own `w` are then empty).
    pub(crate) joint: Vec<JointRow>,
    pub(crate) blocks: Blocks,
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
    fn u64(&mut self) -> Result<u64, NerError> {
        Ok(self.u32()? as u64 | (self.u32()? as u64) << 32)
    }
    fn f32(&mut self) -> Result<f32, NerError> {
        Ok(f32::from_bits(self.u32()?))
    }
}

/// Reads one stage: hash bits, scale, start and transition scores, sparse delta-coded rows.
fn read_stage(r: &mut Reader) -> Result<Stage, NerError> {
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
    Ok(Stage {
        mask: (buckets - 1) as u64,
        w,
        scale,
        start,
        trans,
    })
}

impl Blocks {
    /// Quantises summed blocks (integer units of each stage's scale `unit`) to i16 with one
    /// scale per stage.
    fn quantise(sums: &[(u64, [[i32; 2 * NUM_LABELS]; BLOCK_ROWS])], unit: [f32; 2]) -> Blocks {
        let mut max = [1i32; 2];
        for (_, b) in sums {
            for row in b {
                for (l, &v) in row.iter().enumerate() {
                    let s = l / NUM_LABELS;
                    max[s] = max[s].max(v.saturating_abs());
                }
            }
        }
        let scale = [0, 1].map(|s| unit[s] * max[s] as f32 / 32767.0);
        let ratio = [0, 1].map(|s| unit[s] / scale[s]);
        let rows = sums
            .iter()
            .map(|(_, b)| {
                b.map(|row| {
                    let mut q = [0i16; 2 * NUM_LABELS];
                    for (l, &v) in row.iter().enumerate() {
                        let x = (v as f32 * ratio[l / NUM_LABELS]).round();
                        q[l] = x.clamp(-32767.0, 32767.0) as i16;
                    }
                    q
                })
            })
            .collect();
        let hashes: Vec<u64> = sums.iter().map(|s| s.0).collect();
        Blocks {
            index: HashIndex::new(hashes.iter().enumerate().map(|(i, &h)| (h, i as u32))),
            hashes,
            rows,
            scale,
        }
    }
}

/// Reads the compiled word blocks (possibly none).
fn read_blocks(r: &mut Reader) -> Result<Blocks, NerError> {
    let n = r.u32()? as usize;
    let scale = [r.f32()?, r.f32()?];
    let mut hashes = Vec::with_capacity(n);
    let mut rows = Vec::with_capacity(n);
    for _ in 0..n {
        hashes.push(r.u64()?);
        let b = r.take(2 * 2 * NUM_LABELS * BLOCK_ROWS)?;
        let mut block = [[0i16; 2 * NUM_LABELS]; BLOCK_ROWS];
        for (k, v) in block.iter_mut().flatten().enumerate() {
            *v = i16::from_le_bytes([b[2 * k], b[2 * k + 1]]);
        }
        rows.push(block);
    }
    Ok(Blocks {
        index: HashIndex::new(hashes.iter().enumerate().map(|(i, &h)| (h, i as u32))),
        hashes,
        rows,
        scale,
    })
}

/// Gives the pages of an embedded (static, read-only) byte table back once it has been parsed:
/// they stay in the page cache, but no longer count in the process's resident memory beside
/// the parsed copy. A later read of the bytes faults them in again from the binary, so this only
/// costs time if they are read again. Only the whole pages inside `bytes` are released.
/// Elsewhere than Linux a no-op.
fn release_pages(bytes: &'static [u8]) {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: sysconf only reads a system constant.
        let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(0);
        if page == 0 {
            return;
        }
        let start = (bytes.as_ptr() as usize).next_multiple_of(page);
        let end = (bytes.as_ptr() as usize + bytes.len()) / page * page;
        if end > start {
            // SAFETY: the range is whole pages inside a `'static` immutable byte slice embedded in
            // the binary's read-only, file-backed mapping; MADV_DONTNEED on such a private file
            // mapping only drops the page-table entries, and later reads repopulate them with
            // the same bytes from the file. No pointer is handed out or written through.
            unsafe {
                libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED);
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = bytes;
}

impl Tagger {
    /// The embedded model, loaded once (OnceLock); the pages of its file bytes are released
    /// after parsing ([`release_pages`]).
    pub fn global() -> &'static Tagger {
        static T: OnceLock<Tagger> = OnceLock::new();
        T.get_or_init(|| {
            let t = Tagger::from_bytes(MODEL_BYTES)
                .expect("the embedded models/ner.bin is a valid model");
            release_pages(MODEL_BYTES);
            t
        })
    }

    /// Parses a model file trained with the embedded word table.
    pub fn from_bytes(bytes: &[u8]) -> Result<Tagger, NerError> {
        Tagger::from_bytes_with(bytes, Words::Embedded(WordTable::global()))
    }

    /// Loads a model file and the word table file it was trained with (for evaluating a freshly
    /// trained model before it is embedded).
    pub fn from_files(
        model: &std::path::Path,
        words: &std::path::Path,
    ) -> Result<Tagger, NerError> {
        let read = |p: &std::path::Path| {
            std::fs::read(p).map_err(|source| NerError::Io {
                path: p.to_path_buf(),
                source,
            })
        };
        let w = WordTable::from_bytes(&read(words)?)?;
        Tagger::from_bytes_with(&read(model)?, Words::Owned(Box::new(w)))
    }

    /// Parses a model file; `words` must be the table it was trained with.
    pub(crate) fn from_bytes_with(bytes: &[u8], words: Words) -> Result<Tagger, NerError> {
        let mut r = Reader { b: bytes, pos: 0 };
        if r.take(8)? != MAGIC {
            return Err(NerError::Model(
                "bad magic (not a digestif NER model of this version)".into(),
            ));
        }
        let checksum = r.u64()?;
        if checksum != words.checksum {
            return Err(NerError::Model(format!(
                "trained with word table {checksum:016x}, but the table is {:016x} (rebuild after `digestif train ner`)",
                words.checksum
            )));
        }
        let n_stages = r.u32()?;
        if !(1..=2).contains(&n_stages) {
            return Err(NerError::Model(format!("{n_stages} stages")));
        }
        let mut stages = Vec::new();
        for _ in 0..n_stages {
            let s = read_stage(&mut r)?;
            if stages.first().is_some_and(|f: &Stage| f.mask != s.mask) {
                return Err(NerError::Model("stages differ in hash bits".into()));
            }
            stages.push(s);
        }
        let blocks = read_blocks(&mut r)?;
        if r.pos != bytes.len() {
            return Err(NerError::Model(format!(
                "{} trailing bytes",
                bytes.len() - r.pos
            )));
        }
        let mut t = Tagger::assemble(stages, words);
        if !blocks.rows.is_empty() && t.joint.is_empty() {
            return Err(NerError::Model("word blocks in a one-stage model".into()));
        }
        t.blocks = blocks;
        Ok(t)
    }

    /// A tagger from trained stages; two stages get their rows interleaved.
    pub(crate) fn assemble(mut stages: Vec<Stage>, words: Words) -> Tagger {
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
        Tagger {
            stages,
            words,
            joint,
            blocks: Blocks::default(),
        }
    }

    /// Compiles per-word blocks for the given word forms (two-stage models only).
    pub(crate) fn compile(&mut self, forms: &[(String, u32)]) {
        if self.joint.is_empty() {
            return;
        }
        let mask = self.stages[0].mask;
        let mut kbuf = String::new();
        let mut feats = Vec::with_capacity(32);
        let mut sums: Vec<(u64, [[i32; 2 * NUM_LABELS]; BLOCK_ROWS])> =
            Vec::with_capacity(forms.len());
        for (form, _) in forms {
            let x = features::token_info(form, &mut kbuf, &self.words);
            let mut block = [[0i32; 2 * NUM_LABELS]; BLOCK_ROWS];
            for (k, row) in block.iter_mut().enumerate() {
                feats.clear();
                let mut push = |t: u64, v: u64| feats.push(features::bucket(t, v, mask));
                if k == 0 {
                    features::self_features(&x, &mut push);
                } else {
                    features::near_features(features::NEAR[k - 1], Some(&x), &mut push);
                }
                for &f in &feats {
                    for l in 0..2 * NUM_LABELS {
                        row[l] += self.joint[f as usize][l] as i32;
                    }
                }
            }
            sums.push((hash_str(form), block));
        }
        sums.sort_unstable_by_key(|s| s.0);
        sums.dedup_by_key(|s| s.0);
        self.blocks = Blocks::quantise(&sums, [self.stages[0].scale, self.stages[1].scale]);
    }

    /// Number of stages (1 = local features only, 2 = with document-level features).
    pub fn stages_len(&self) -> usize {
        self.stages.len()
    }

    /// Serialises the model.
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&self.words.checksum.to_le_bytes());
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
        let bl = &self.blocks;
        out.extend_from_slice(&(bl.rows.len() as u32).to_le_bytes());
        for v in bl.scale {
            out.extend_from_slice(&v.to_le_bytes());
        }
        for (h, rows) in bl.hashes.iter().zip(&bl.rows) {
            out.extend_from_slice(&h.to_le_bytes());
            for &x in rows.iter().flatten() {
                out.extend_from_slice(&x.to_le_bytes());
            }
        }
        out
    }

    /// Weights of stage `si` for bucket `b`.
    fn row(&self, si: usize, b: usize) -> &[i16] {
        if self.joint.is_empty() {
            &self.stages[si].w[b].0
        } else {
            &self.joint[b][si * NUM_LABELS..(si + 1) * NUM_LABELS]
        }
    }

    /// Stage-1 emissions and the stage-2 sums of the local features (both scaled), one pass
    /// over the joint table and the word blocks.
    fn local_scores(
        &self,
        p: &Prepared,
        em1: &mut Vec<[f32; NUM_LABELS]>,
        local2: &mut Vec<[f32; NUM_LABELS]>,
    ) {
        let (s1, s2) = (self.stages[0].scale, self.stages[1].scale);
        let bl = &self.blocks;
        let mask = self.stages[0].mask;
        let idx: Vec<u32> = p
            .info
            .iter()
            .map(|x| bl.index.get(x.word).unwrap_or(NO_BLOCK))
            .collect();
        let mut feats = Vec::with_capacity(64);
        em1.clear();
        local2.clear();
        for i in 0..p.info.len() {
            let x = &p.info[i];
            let (s0, s1_) = (x.sent.0 as isize, x.sent.1 as isize);
            let mut b = [0i32; 2 * NUM_LABELS];
            feats.clear();
            let mut push = |t: u64, v: u64| feats.push(features::bucket(t, v, mask));
            let mut add_block = |j: usize, k: usize| {
                for (acc, &w) in b.iter_mut().zip(&bl.rows[idx[j] as usize][k]) {
                    *acc += w as i32;
                }
            };
            if idx[i] == NO_BLOCK {
                features::self_features(x, &mut push);
            } else {
                add_block(i, 0);
            }
            for (k, &d) in features::NEAR.iter().enumerate() {
                let j = i as isize + d;
                if j < s0 || j >= s1_ {
                    features::near_features(d, None, &mut push);
                } else if idx[j as usize] == NO_BLOCK {
                    features::near_features(d, Some(&p.info[j as usize]), &mut push);
                } else {
                    add_block(j as usize, k + 1);
                }
            }
            features::context_features(p, i, &mut push);
            let mut a = [0i32; 2 * NUM_LABELS];
            for &f in &feats {
                let row = &self.joint[f as usize];
                for l in 0..2 * NUM_LABELS {
                    a[l] += row[l] as i32;
                }
            }
            let mut e = [0f32; NUM_LABELS];
            let mut e2 = [0f32; NUM_LABELS];
            for l in 0..NUM_LABELS {
                e[l] = a[l] as f32 * s1 + b[l] as f32 * bl.scale[0];
                e2[l] = a[NUM_LABELS + l] as f32 * s2 + b[NUM_LABELS + l] as f32 * bl.scale[1];
            }
            em1.push(e);
            local2.push(e2);
        }
    }

    /// Two-stage tagging over the joint table: stage 1 and the local part of stage 2 are summed in
    /// one pass; stage 2 then adds only its non-local features.
    fn tag_joint(&self, p: &Prepared) -> Vec<u8> {
        let (s1, s2) = (&self.stages[0], &self.stages[1]);
        let mut em1 = Vec::with_capacity(p.info.len());
        let mut local2 = Vec::with_capacity(p.info.len());
        self.local_scores(p, &mut em1, &mut local2);
        let mut labels = vec![0u8; p.info.len()];
        let mut path = Vec::new();
        for r in &p.sents {
            let only = p.allow.get(r.clone());
            viterbi(&em1[r.clone()], &s1.start, &s1.trans, only, &mut path);
            labels[r.clone()].copy_from_slice(&path);
        }
        let nl = features::non_local(p, &labels);
        let mut feats = Vec::with_capacity(16);
        let mut em: Vec<[f32; NUM_LABELS]> = Vec::new();
        for r in &p.sents {
            em.clear();
            for i in r.clone() {
                feats.clear();
                features::nl_features(p, i, &nl[i], s2.mask, &mut feats);
                let mut a = [0i32; NUM_LABELS];
                for &f in &feats {
                    let row = &self.joint[f as usize];
                    for l in 0..NUM_LABELS {
                        a[l] += row[NUM_LABELS + l] as i32;
                    }
                }
                let mut e = local2[i];
                for l in 0..NUM_LABELS {
                    e[l] += a[l] as f32 * s2.scale;
                }
                em.push(e);
            }
            viterbi(&em, &s2.start, &s2.trans, p.allow.get(r.clone()), &mut path);
            labels[r.clone()].copy_from_slice(&path);
        }
        labels
    }

    /// One-stage tagging (models trained without the document-level stage).
    fn tag_single(&self, p: &Prepared) -> Vec<u8> {
        let s = &self.stages[0];
        let mut labels = vec![0u8; p.info.len()];
        let mut feats = Vec::with_capacity(96);
        let mut em: Vec<[f32; NUM_LABELS]> = Vec::new();
        let mut path = Vec::new();
        for r in &p.sents {
            em.clear();
            for i in r.clone() {
                feats.clear();
                features::base_features(p, i, s.mask, &mut feats);
                let mut a = [0i32; NUM_LABELS];
                for &f in &feats {
                    for l in 0..NUM_LABELS {
                        a[l] += s.w[f as usize].0[l] as i32;
                    }
                }
                em.push(a.map(|x| x as f32 * s.scale));
            }
            viterbi(&em, &s.start, &s.trans, p.allow.get(r.clone()), &mut path);
            labels[r.clone()].copy_from_slice(&path);
        }
        labels
    }

    /// Tags a prepared document; returns one label per token.
    pub(crate) fn tag_prepared(&self, p: &Prepared) -> Vec<u8> {
        if self.joint.is_empty() {
            self.tag_single(p)
        } else {
            self.tag_joint(p)
        }
    }

    /// Prepares a tokenised document with this tagger's word table.
    pub(crate) fn prepare(
        &self,
        tokens: &[&str],
        sents: &[std::ops::Range<usize>],
        first_is_title: bool,
    ) -> Prepared {
        features::prepare(
            tokens,
            sents,
            first_is_title,
            Gazetteer::global(),
            &self.words,
            false,
        )
    }

    /// Tags a tokenised document (sentence ranges over `tokens`); returns CoNLL labels as indices
    /// into [`features::LABELS`]. The first sentence is treated as a headline when `first_is_title`.
    pub fn tag_tokens(
        &self,
        tokens: &[&str],
        sents: &[std::ops::Range<usize>],
        first_is_title: bool,
    ) -> Vec<u8> {
        self.tag_prepared(&self.prepare(tokens, sents, first_is_title))
    }
}
