//! Training of the two-stage averaged-perceptron tagger (`digestif train ner`): reads the
//! labelled sets of `../shared` (CoNLL-2003 train, GUM train split, WNUT-17 train, BTC; see
//! [`super::corpus`]), builds the word table from all the unlabelled text ([`build_words`]),
//! trains, selects epochs on the dev sets (CoNLL-2003 dev, GUM dev, the modern-news dev set) and
//! writes `models/ner.bin` and `data/ner/words.bin`.
//!
//! Training is deterministic: fixed iteration order, sentence shuffling with a fixed-seed
//! xorshift generator, a fixed jackknife split (document index mod K) for the stage-1
//! predictions that stage 2 learns from, and sorted tables.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

pub use super::corpus::{ConllDoc, read_conll};
pub use super::gazbuild::build_gazetteers;

use super::NerError;
use super::clusters::{Bigrams, exchange};
use super::corpus::{self, GumSplit};
use super::features::{self, NUM_LABELS, NonLocal, Prepared};
use super::gazetteer::{Gazetteer, token_key};
use super::hash::hash_str;
use super::tagger::{Stage, Tagger, Words, viterbi};
use super::words::{WordStats, WordTable, read_census};

/// Options of `digestif train ner`.
#[derive(Debug, Clone)]
pub struct TrainOptions {
    /// The `../shared/data` folder: every input is found under it.
    pub data: PathBuf,
    pub out: PathBuf,
    /// Where the word table is written (and read from, with `reuse_words`).
    pub words_out: PathBuf,
    /// Read the word table from `words_out` instead of building it (quicker experiments).
    pub reuse_words: bool,
    /// Maximum epochs per stage (the best epoch on the dev sets is kept).
    pub epochs: usize,
    /// log2 of the number of hashed feature buckets.
    pub hash_bits: u32,
    /// Train the second (non-local) stage.
    pub two_stage: bool,
    /// Jackknife folds for stage-1 predictions on train.
    pub folds: usize,
    /// Every `title_case_every`-th training document with a headline is added again with its
    /// headline and every third sentence in Title Case (0 = off).
    pub title_case_every: usize,
    /// Update weight of each training set (0 = not used).
    pub w_conll: f32,
    pub w_gum: f32,
    pub w_wnut: f32,
    pub w_btc: f32,
    /// Exchange clusters: fine and coarse class counts, minimum word count.
    pub fine_clusters: usize,
    pub coarse_clusters: usize,
    pub cluster_min_count: u32,
    /// Word forms with at least this many occurrences in the text get a compiled weight block.
    pub block_min_count: u32,
    pub seed: u64,
}

impl TrainOptions {
    /// Defaults used for the committed model: inputs under `data` (`../shared/data`).
    pub fn new(data: PathBuf, out: PathBuf, words_out: PathBuf) -> Self {
        TrainOptions {
            data,
            out,
            words_out,
            reuse_words: false,
            epochs: 12,
            hash_bits: 18,
            two_stage: true,
            folds: 4,
            title_case_every: 2,
            w_conll: 1.0,
            w_gum: 1.0,
            w_wnut: 0.5,
            w_btc: 0.5,
            fine_clusters: 256,
            coarse_clusters: 32,
            cluster_min_count: 3,
            block_min_count: 3,
            seed: 0x5eed,
        }
    }
}

/// A training document with its update weight and its original (for Title Case copies).
struct TrainDoc {
    doc: ConllDoc,
    weight: f32,
    orig: usize,
}

/// The labelled data of one run.
struct Sets {
    train: Vec<TrainDoc>,
    /// (name, documents) of each dev set.
    dev: Vec<(String, Vec<ConllDoc>)>,
}

fn load_sets(o: &TrainOptions, gaz: &Gazetteer, log: &mut String) -> Result<Sets, NerError> {
    let d = &o.data;
    let mut train = Vec::new();
    type Reader<'a> = Box<dyn Fn() -> Result<Vec<ConllDoc>, NerError> + 'a>;
    let sources: [(&str, f32, Reader); 4] = [
        (
            "conll2003",
            o.w_conll,
            Box::new(|| read_conll(&d.join("conll2003/train.txt"))),
        ),
        (
            "gum",
            o.w_gum,
            Box::new(|| corpus::read_gum(&d.join("gum"), GumSplit::Train, gaz)),
        ),
        (
            "wnut17",
            o.w_wnut,
            Box::new(|| corpus::read_wnut(&d.join("ner-extra/wnut17"))),
        ),
        (
            "btc",
            o.w_btc,
            Box::new(|| corpus::read_btc(&d.join("ner-extra/btc"))),
        ),
    ];
    for (name, weight, read) in sources {
        if weight <= 0.0 {
            continue;
        }
        let docs = read()?;
        let toks: usize = docs.iter().flat_map(|d| &d.sents).map(Vec::len).sum();
        let _ = writeln!(
            log,
            "train set {name}: {} docs, {toks} tokens, weight {weight}",
            docs.len()
        );
        for doc in docs {
            let orig = train.len();
            train.push(TrainDoc { doc, weight, orig });
        }
    }
    if train.is_empty() {
        return Err(NerError::Train("no training data (all weights 0)".into()));
    }
    let dev = vec![
        (
            "conll-dev".to_string(),
            read_conll(&d.join("conll2003/dev.txt"))?,
        ),
        (
            "gum-dev".to_string(),
            corpus::read_gum(&d.join("gum"), GumSplit::Dev, gaz)?,
        ),
        (
            "news-dev".to_string(),
            read_conll(&d.join("ner-news/news-dev-2020-2021.iob2.txt"))?,
        ),
    ];
    Ok(Sets { train, dev })
}

/// Counts gathered over the unlabelled text for the word table.
#[derive(Default)]
struct TextStats {
    ids: HashMap<String, u32>,
    keys: Vec<String>,
    counts: Vec<u64>,
    lower: Vec<u32>,
    cap: Vec<u32>,
    bigrams: HashMap<(u32, u32), u32>,
    /// occurrences of each form as written
    forms: HashMap<String, u32>,
    tokens: u64,
}

impl TextStats {
    fn new() -> Self {
        let mut s = TextStats::default();
        s.id("<s>");
        s
    }

    fn id(&mut self, key: &str) -> u32 {
        if let Some(&i) = self.ids.get(key) {
            return i;
        }
        let i = self.keys.len() as u32;
        self.ids.insert(key.to_string(), i);
        self.keys.push(key.to_string());
        self.counts.push(0);
        self.lower.push(0);
        self.cap.push(0);
        i
    }

    /// Adds one sentence: occurrences, bigrams (with the boundary word 0 at both ends) and the
    /// casing observations of `features::casing_obs`.
    fn add(&mut self, toks: &[&str], title: bool, kbuf: &mut String) {
        let small = features::small_word_keys();
        let info: Vec<(u32, u64)> = toks
            .iter()
            .map(|t| {
                token_key(t, kbuf);
                (features::shapes(t).2, hash_str(kbuf))
            })
            .collect();
        let mode = features::sentence_mode(info.iter().copied(), small);
        let first_flags = info.first().map(|x| x.0).unwrap_or(0);
        let mut prev = 0u32;
        for (i, t) in toks.iter().enumerate() {
            token_key(t, kbuf);
            if kbuf.is_empty() {
                continue;
            }
            let id = self.id(kbuf) as usize;
            self.counts[id] += 1;
            match self.forms.get_mut(*t) {
                Some(c) => *c += 1,
                None => {
                    self.forms.insert(t.to_string(), 1);
                }
            }
            self.tokens += 1;
            match features::casing_obs(
                info[i].0,
                mode,
                title,
                features::at_start(i, 0, first_flags),
            ) {
                Some(true) => self.cap[id] += 1,
                Some(false) => self.lower[id] += 1,
                None => {}
            }
            *self.bigrams.entry((prev, id as u32)).or_insert(0) += 1;
            prev = id as u32;
        }
        *self.bigrams.entry((prev, 0)).or_insert(0) += 1;
        self.counts[0] += 1;
    }
}

/// Fine and coarse exchange classes (1-based, 0 = too rare) of every word in `st`.
fn cluster_words(st: &TextStats, o: &TrainOptions, log: &mut String) -> (Vec<u16>, Vec<u8>) {
    let t0 = Instant::now();
    // compact ids: boundary 0, rare words 1, then the words with at least the minimum count
    let mut map = vec![1u32; st.keys.len()];
    map[0] = 0;
    let mut n = 2u32;
    for w in 1..st.keys.len() {
        if st.counts[w] >= o.cluster_min_count as u64 {
            map[w] = n;
            n += 1;
        }
    }
    let mut counts = vec![0u64; n as usize];
    for w in 0..st.keys.len() {
        counts[map[w] as usize] += st.counts[w];
    }
    let mut pairs: HashMap<(u32, u32), u32> = HashMap::new();
    for (&(a, b), &c) in &st.bigrams {
        *pairs.entry((map[a as usize], map[b as usize])).or_insert(0) += c;
    }
    let mut pairs: Vec<((u32, u32), u32)> = pairs.into_iter().collect();
    pairs.sort_unstable();
    let bg = Bigrams::new(n as usize, counts, pairs);
    let fine = exchange(&bg, o.fine_clusters + 1, 15);
    let coarse_of_fine = exchange(
        &bg.of_classes(&fine, o.fine_clusters + 1),
        o.coarse_clusters + 1,
        15,
    );
    let _ = writeln!(
        log,
        "clusters: {} words with >= {} occurrences, {} fine and {} coarse classes ({:.1}s)",
        n - 2,
        o.cluster_min_count,
        o.fine_clusters,
        o.coarse_clusters,
        t0.elapsed().as_secs_f64()
    );
    let f: Vec<u16> = map
        .iter()
        .map(|&m| if m >= 2 { fine[m as usize] } else { 0 })
        .collect();
    let c: Vec<u8> = f
        .iter()
        .map(|&x| {
            if x > 0 {
                coarse_of_fine[x as usize] as u8
            } else {
                0
            }
        })
        .collect();
    (f, c)
}

/// Census first-name and surname bins by folded name.
fn census_bins(data: &Path) -> Result<HashMap<String, (u8, u8)>, NerError> {
    let dir = data.join("gazetteers/us-census-names");
    let mut bins: HashMap<String, (u8, u8)> = HashMap::new();
    for f in ["dist.male.first", "dist.female.first"] {
        for (name, b) in read_census(&dir.join(f))? {
            let e = bins.entry(name).or_insert((0, 0));
            e.0 = e.0.max(b);
        }
    }
    for (name, b) in read_census(&dir.join("dist.all.last"))? {
        let e = bins.entry(name).or_insert((0, 0));
        e.1 = e.1.max(b);
    }
    Ok(bins)
}

/// Builds the word table from all unlabelled text under `o.data` (feed snapshots, BASIL, UCI
/// headlines) plus the tokens of the training documents, and the census name lists.
pub fn build_words(
    o: &TrainOptions,
    train: &[&ConllDoc],
    log: &mut String,
) -> Result<WordTable, NerError> {
    let t0 = Instant::now();
    let mut st = TextStats::new();
    let mut kbuf = String::new();
    let rep = corpus::for_each_text(&o.data, &mut |toks, title| st.add(toks, title, &mut kbuf))?;
    for d in train {
        for (k, s) in d.sents.iter().enumerate() {
            let toks: Vec<&str> = s.iter().map(|(t, _)| t.as_str()).collect();
            st.add(&toks, d.has_title && k == 0, &mut kbuf);
        }
    }
    let _ = writeln!(
        log,
        "unlabelled text: {} feed items, {} BASIL articles, {} UCI headlines ({} sentences, {} tokens) + {} training documents; {} tokens, {} word types ({:.1}s)",
        rep.feed_items,
        rep.basil_articles,
        rep.uci_headlines,
        rep.sentences,
        rep.tokens,
        train.len(),
        st.tokens,
        st.keys.len() - 1,
        t0.elapsed().as_secs_f64()
    );
    let (fine, coarse) = cluster_words(&st, o, log);
    let names = census_bins(&o.data)?;
    let mut pairs: HashMap<u64, WordStats> = HashMap::new();
    for w in 1..st.keys.len() {
        let (first, last) = names.get(&st.keys[w]).copied().unwrap_or((0, 0));
        pairs.insert(
            hash_str(&st.keys[w]),
            WordStats {
                count: st.counts[w].min(u32::MAX as u64) as u32,
                lower: st.lower[w],
                cap: st.cap[w],
                fine: fine[w],
                coarse: coarse[w],
                first,
                last,
            },
        );
    }
    for (name, (first, last)) in &names {
        let e = pairs.entry(hash_str(name)).or_default();
        e.first = *first;
        e.last = *last;
    }
    let mut pairs: Vec<(u64, WordStats)> = pairs.into_iter().collect();
    pairs.sort_unstable_by_key(|p| p.0);
    // the forms a compiled model gets a weight block for: frequent ones, most frequent first
    let mut forms: Vec<(String, u32)> = st
        .forms
        .into_iter()
        .filter(|(_, c)| *c >= o.block_min_count)
        .collect();
    forms.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let table = WordTable::from_pairs(&pairs, &forms);
    let _ = writeln!(
        log,
        "word table: {} words, {} forms with >= {} occurrences",
        table.len(),
        forms.len(),
        o.block_min_count
    );
    Ok(table)
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
    /// update weight and "O may be MISC" flag of each sentence
    sent_w: Vec<(f32, bool)>,
    gold: Vec<u8>,
}

/// A prepared document for training: features, gold labels, weight, partial-label flag.
struct PDoc {
    p: Prepared,
    gold: Vec<u8>,
    weight: f32,
    no_misc: bool,
}

fn build_tset<P: std::borrow::Borrow<PDoc>>(
    docs: &[P],
    nl: Option<&[Vec<NonLocal>]>,
    mask: u64,
) -> TSet {
    let mut t = TSet {
        feats: Vec::new(),
        off: vec![0],
        sents: Vec::new(),
        sent_w: Vec::new(),
        gold: Vec::new(),
    };
    for (d, pd) in docs.iter().enumerate() {
        let pd = pd.borrow();
        let base = t.gold.len() as u32;
        for r in &pd.p.sents {
            t.sents.push((base + r.start as u32, base + r.end as u32));
            t.sent_w.push((pd.weight, pd.no_misc));
        }
        for i in 0..pd.p.info.len() {
            features::features(&pd.p, i, nl.map(|v| &v[d][i]), mask, &mut t.feats);
            t.off.push(t.feats.len() as u32);
        }
        t.gold.extend_from_slice(&pd.gold);
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

/// Label masks of a sentence whose `O` tokens may be MISC.
fn misc_masks(gold: &[u8], out: &mut Vec<u16>) {
    out.clear();
    out.extend(
        gold.iter()
            .map(|&g| if g == 0 { 1 | 1 << 7 | 1 << 8 } else { 1 << g }),
    );
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

    /// One structured-perceptron step on sentence `s` of `t`. A partially labelled sentence
    /// learns towards its best-scoring path that agrees with the labels it has.
    fn train_sentence(&mut self, t: &TSet, s: usize, sc: &mut Scratch) {
        let (a, b) = t.sents[s];
        let (wt, partial) = t.sent_w[s];
        emissions(&self.w, t, a, b, &mut sc.em);
        viterbi(&sc.em, &self.start, &self.trans, None, &mut sc.path);
        let gold: &[u8] = if partial {
            misc_masks(&t.gold[a as usize..b as usize], &mut sc.mask);
            viterbi(
                &sc.em,
                &self.start,
                &self.trans,
                Some(&sc.mask),
                &mut sc.gold,
            );
            &sc.gold
        } else {
            &t.gold[a as usize..b as usize]
        };
        if sc.path.as_slice() != gold {
            self.update(t, a, gold, &sc.path, wt);
        }
        self.c += 1.0;
    }

    fn update(&mut self, t: &TSet, a: u32, gold: &[u8], path: &[u8], wt: f32) {
        let c = self.c * wt as f64;
        for k in 0..gold.len() {
            let i = a as usize + k;
            let (g, p) = (gold[k] as usize, path[k] as usize);
            if g != p {
                for &f in &t.feats[t.off[i] as usize..t.off[i + 1] as usize] {
                    let f = f as usize * NUM_LABELS;
                    self.w[f + g] += wt;
                    self.u[f + g] += c;
                    self.w[f + p] -= wt;
                    self.u[f + p] -= c;
                }
            }
            let (gi, pi, tw, tu) = if k == 0 {
                (g, p, &mut self.start[..], &mut self.su[..])
            } else {
                (
                    gold[k - 1] as usize * NUM_LABELS + g,
                    path[k - 1] as usize * NUM_LABELS + p,
                    &mut self.trans[..],
                    &mut self.tu[..],
                )
            };
            if gi != pi {
                tw[gi] += wt;
                tu[gi] += c;
                tw[pi] -= wt;
                tu[pi] -= c;
            }
        }
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

#[derive(Default)]
struct Scratch {
    em: Vec<[f32; NUM_LABELS]>,
    path: Vec<u8>,
    gold: Vec<u8>,
    mask: Vec<u16>,
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
        viterbi(&em, &m.start, &m.trans, None, &mut path);
        out[a as usize..b as usize].copy_from_slice(&path);
    }
    out
}

fn f1_sets(t: &TSet, pred: &[u8]) -> f64 {
    let mut counts = [[0u64; 3]; 4];
    for &(a, b) in &t.sents {
        super::eval::span_counts(
            &t.gold[a as usize..b as usize],
            &pred[a as usize..b as usize],
            &mut counts,
        );
    }
    super::eval::f1_of(&counts)
}

/// Dev sets of a stage: (name, feature table).
type DevSets = [(String, TSet)];

/// Trains one stage; returns the averaged model of the epoch with the best mean F1 over the dev
/// sets (or of the last epoch when `dev` is empty).
fn train_stage(
    t: &TSet,
    dev: &DevSets,
    bits: u32,
    epochs: usize,
    seed: u64,
    log: &mut String,
    name: &str,
) -> (Averaged, usize) {
    let mut p = Perceptron::new(bits);
    let mut order: Vec<usize> = (0..t.sents.len()).collect();
    let mut rng = Rng(seed | 1);
    let mut sc = Scratch::default();
    let mut best: Option<(f64, usize, Averaged)> = None;
    for ep in 1..=epochs {
        let t0 = Instant::now();
        rng.shuffle(&mut order);
        for &s in &order {
            p.train_sentence(t, s, &mut sc);
        }
        if dev.is_empty() {
            eprintln!("{name} epoch {ep} ({:.1}s)", t0.elapsed().as_secs_f64());
            continue;
        }
        let avg = p.average();
        let mut line = format!("{name} epoch {ep}:");
        let mut sum = 0.0;
        for (dn, d) in dev {
            let f = f1_sets(d, &predict(&avg, d));
            sum += f;
            let _ = write!(line, " {dn} {f:.4}");
        }
        let mean = sum / dev.len() as f64;
        let _ = write!(line, " mean {mean:.4} ({:.1}s)", t0.elapsed().as_secs_f64());
        eprintln!("{line}");
        let _ = writeln!(log, "{line}");
        if best.as_ref().is_none_or(|b| mean > b.0) {
            best = Some((mean, ep, avg));
        }
    }
    match best {
        Some((f, ep, avg)) => {
            let _ = writeln!(log, "{name}: best mean dev F1 {f:.4} at epoch {ep}");
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
                let mut r = super::tagger::Row::default();
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

/// Training documents (with Title Case copies) and dev documents prepared with `words`.
struct Prepped {
    train: Vec<PDoc>,
    /// original document of each training document (copies point to their source)
    orig: Vec<usize>,
    dev: Vec<(String, Vec<PDoc>)>,
}

fn prep_all(sets: Sets, o: &TrainOptions, words: &WordTable) -> Prepped {
    let gaz = Gazetteer::global();
    let prep = |d: &ConllDoc, weight: f32, leave_out: bool| {
        let (toks, sents) = d.tokens();
        PDoc {
            p: features::prepare(&toks, &sents, d.has_title, gaz, words, leave_out),
            gold: d.labels(),
            weight,
            no_misc: d.no_misc,
        }
    };
    let mut train = Vec::new();
    let mut orig = Vec::new();
    for (i, td) in sets.train.iter().enumerate() {
        train.push(prep(&td.doc, td.weight, true));
        orig.push(td.orig);
        if o.title_case_every > 0 && td.doc.has_title && i % o.title_case_every == 1 {
            train.push(prep(&title_cased(&td.doc), td.weight, true));
            orig.push(td.orig);
        }
    }
    let dev = sets
        .dev
        .iter()
        .map(|(n, docs)| {
            (
                n.clone(),
                docs.iter().map(|d| prep(d, 1.0, false)).collect(),
            )
        })
        .collect();
    Prepped { train, orig, dev }
}

/// Stage-1 labels of every training document from a K-fold jackknife (each fold tagged by a
/// model trained on the other folds for `epochs` epochs).
fn jackknife(pp: &Prepped, o: &TrainOptions, epochs: usize, log: &mut String) -> Vec<Vec<u8>> {
    let k = o.folds.max(2);
    let mask = (1u64 << o.hash_bits) - 1;
    let mut out: Vec<Vec<u8>> = pp.train.iter().map(|d| vec![0; d.gold.len()]).collect();
    for fold in 0..k {
        let keep: Vec<&PDoc> = (0..pp.train.len())
            .filter(|&d| pp.orig[d] % k != fold)
            .map(|d| &pp.train[d])
            .collect();
        let held: Vec<usize> = (0..pp.train.len())
            .filter(|&d| pp.orig[d] % k == fold)
            .collect();
        let kset = build_tset(&keep, None, mask);
        let (m, _) = train_stage(
            &kset,
            &[],
            o.hash_bits,
            epochs,
            o.seed + fold as u64 + 1,
            log,
            &format!("fold{fold}"),
        );
        drop(kset);
        let hdocs: Vec<&PDoc> = held.iter().map(|&d| &pp.train[d]).collect();
        let pred = predict(&m, &build_tset(&hdocs, None, mask));
        let mut pos = 0;
        for &d in &held {
            let n = out[d].len();
            out[d].copy_from_slice(&pred[pos..pos + n]);
            pos += n;
        }
    }
    out
}

/// Splits flat predictions over `docs` into per-document label vectors.
fn per_doc(pred: &[u8], docs: &[PDoc]) -> Vec<Vec<u8>> {
    let mut pos = 0;
    docs.iter()
        .map(|d| {
            let v = pred[pos..pos + d.gold.len()].to_vec();
            pos += d.gold.len();
            v
        })
        .collect()
}

/// Trains both stages on prepared data; returns the quantised stages.
fn train_stages(pp: &Prepped, o: &TrainOptions, log: &mut String) -> Vec<Stage> {
    let mask = (1u64 << o.hash_bits) - 1;
    let ts = build_tset(&pp.train, None, mask);
    let dev1: Vec<(String, TSet)> = pp
        .dev
        .iter()
        .map(|(n, d)| (n.clone(), build_tset(d, None, mask)))
        .collect();
    let (s1, best_ep) = train_stage(&ts, &dev1, o.hash_bits, o.epochs, o.seed, log, "stage1");
    drop(ts);
    let mut stages = vec![quantise(&s1, o.hash_bits)];
    if !o.two_stage {
        return stages;
    }
    let train_pred = jackknife(pp, o, best_ep, log);
    let tnl: Vec<Vec<NonLocal>> = pp
        .train
        .iter()
        .zip(&train_pred)
        .map(|(d, l)| features::non_local(&d.p, l))
        .collect();
    let dev2: Vec<(String, TSet)> = pp
        .dev
        .iter()
        .zip(&dev1)
        .map(|((n, docs), (_, t1))| {
            let pred = per_doc(&predict(&s1, t1), docs);
            let nl: Vec<Vec<NonLocal>> = docs
                .iter()
                .zip(&pred)
                .map(|(d, l)| features::non_local(&d.p, l))
                .collect();
            (n.clone(), build_tset(docs, Some(&nl), mask))
        })
        .collect();
    drop(dev1);
    let ts2 = build_tset(&pp.train, Some(&tnl), mask);
    let (s2, _) = train_stage(
        &ts2,
        &dev2,
        o.hash_bits,
        o.epochs,
        o.seed + 100,
        log,
        "stage2",
    );
    stages.push(quantise(&s2, o.hash_bits));
    stages
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), NerError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| NerError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    std::fs::write(path, bytes).map_err(|source| NerError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// The word table of a run: built from `../shared` and written to `words_out`, or read from
/// there with `reuse_words`.
fn word_table(o: &TrainOptions, sets: &Sets, log: &mut String) -> Result<WordTable, NerError> {
    if o.reuse_words {
        let b = std::fs::read(&o.words_out).map_err(|source| NerError::Io {
            path: o.words_out.clone(),
            source,
        })?;
        let _ = writeln!(log, "word table: reused {}", o.words_out.display());
        return WordTable::from_bytes(&b);
    }
    let train: Vec<&ConllDoc> = sets.train.iter().map(|t| &t.doc).collect();
    let table = build_words(o, &train, log)?;
    write_file(&o.words_out, &table.to_bytes())?;
    let attribution = o.words_out.with_file_name("ATTRIBUTION.md");
    write_file(&attribution, super::words::ATTRIBUTION.as_bytes())?;
    Ok(table)
}

/// Trains the tagger and writes the model to `opts.out` (and the word table to
/// `opts.words_out`); returns a human-readable report with the scores on every dev set.
pub fn train(o: &TrainOptions) -> Result<String, NerError> {
    let t0 = Instant::now();
    let mut log = String::new();
    let gaz = Gazetteer::global();
    let sets = load_sets(o, gaz, &mut log)?;
    let dev_docs: Vec<(String, Vec<ConllDoc>)> = sets.dev.clone();
    let words = word_table(o, &sets, &mut log)?;
    let pp = prep_all(sets, o, &words);
    let ntok: usize = pp.train.iter().map(|d| d.gold.len()).sum();
    let _ = writeln!(
        log,
        "training: {} documents, {ntok} tokens (with Title Case copies)",
        pp.train.len()
    );
    let stages = train_stages(&pp, o, &mut log);
    drop(pp);
    let forms = words.forms();
    let mut tagger = Tagger::assemble(stages, Words::Owned(Box::new(words)));
    tagger.compile(&forms);
    let _ = writeln!(log, "compiled weight blocks for {} word forms", forms.len());
    let bytes = tagger.to_bytes();
    write_file(&o.out, &bytes)?;
    let _ = writeln!(
        log,
        "wrote {} ({:.1} MB) in {:.0}s",
        o.out.display(),
        bytes.len() as f64 / 1e6,
        t0.elapsed().as_secs_f64()
    );
    for (name, docs) in &dev_docs {
        let rep = super::eval::eval_docs(&tagger, docs, 0);
        let _ = writeln!(log, "== {name}\n{rep}");
    }
    Ok(log)
}

impl TrainOptions {
    /// Sets training-set weights from `conll=1,gum=1,wnut=0.5,btc=0.5` (unnamed sets keep theirs).
    pub fn set_weights(&mut self, spec: &str) -> Result<(), NerError> {
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let bad = || NerError::Train(format!("bad weight {part:?} (want NAME=NUMBER)"));
            let (name, v) = part.split_once('=').ok_or_else(bad)?;
            let v: f32 = v.trim().parse().map_err(|_| bad())?;
            if !(0.0..=100.0).contains(&v) {
                return Err(bad());
            }
            match name.trim() {
                "conll" => self.w_conll = v,
                "gum" => self.w_gum = v,
                "wnut" => self.w_wnut = v,
                "btc" => self.w_btc = v,
                _ => {
                    return Err(NerError::Train(format!(
                        "unknown training set {name:?} (conll, gum, wnut, btc)"
                    )));
                }
            }
        }
        Ok(())
    }
}
