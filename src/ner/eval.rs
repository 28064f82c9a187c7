//! Evaluation: conlleval-style exact-match P/R/F1 of the embedded tagger on a CoNLL file or the
//! GUM dev split (with tagging throughput and, on request, the first wrong or missed spans with
//! their sentences), and accuracy of alias linking on GUM's gold identity links
//! (`../shared/data/gum/aliases.tsv`).

use std::fmt;
use std::path::Path;
use std::time::Instant;

use crate::model::{EntityKind, fold_key};

use super::corpus::{ConllDoc, read_conll};
use super::gazetteer::Gazetteer;
use super::link::{RawMention, link};
use super::{NerError, Tagger, tokenize};

/// Result of `eval_conll`.
#[derive(Debug, Clone)]
pub struct ConllReport {
    /// (true positives, predicted, gold) for PER, ORG, LOC, MISC.
    pub counts: [[u64; 3]; 4],
    pub tokens: usize,
    pub docs: usize,
    /// Wall-clock seconds spent tagging (median pass).
    pub seconds: f64,
    /// CPU seconds of the tagging thread (Linux `/proc/thread-self/schedstat`; median pass), when
    /// available.
    pub cpu_seconds: Option<f64>,
    /// The first wrong or missed spans (at most the number asked for), with their sentences.
    pub errors: Vec<SpanError>,
}

/// One wrong or missed span: the sentence with gold and predicted spans marked.
#[derive(Debug, Clone)]
pub struct SpanError {
    /// 1-based document and sentence number in the file.
    pub doc: usize,
    pub sentence: usize,
    /// The sentence with gold spans as `[TYPE tokens]`.
    pub gold: String,
    /// The sentence with predicted spans.
    pub predicted: String,
    /// What differs: `missed [PER Joe Biden]`, `wrong [ORG Biden]`, one per span.
    pub diffs: Vec<String>,
}

/// CPU time of the calling thread in nanoseconds, from `/proc/thread-self/schedstat` (Linux).
fn thread_cpu_ns() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace().next()?.parse().ok()
}

fn prf(c: [u64; 3]) -> (f64, f64, f64) {
    let p = if c[1] > 0 {
        c[0] as f64 / c[1] as f64
    } else {
        0.0
    };
    let r = if c[2] > 0 {
        c[0] as f64 / c[2] as f64
    } else {
        0.0
    };
    let f = if p + r > 0.0 {
        2.0 * p * r / (p + r)
    } else {
        0.0
    };
    (p, r, f)
}

/// Exact-match entity counts: (true positives, predicted, gold) per type (PER, ORG, LOC, MISC).
pub fn span_counts(gold: &[u8], pred: &[u8], counts: &mut [[u64; 3]; 4]) {
    let g = super::spans(gold);
    let p = super::spans(pred);
    let ix = |k: EntityKind| k as usize;
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

/// Overall micro F1 of span counts.
pub fn f1_of(counts: &[[u64; 3]; 4]) -> f64 {
    let mut t = [0u64; 3];
    for c in counts {
        for k in 0..3 {
            t[k] += c[k];
        }
    }
    prf(t).2
}

impl ConllReport {
    /// Overall (precision, recall, F1).
    pub fn overall(&self) -> (f64, f64, f64) {
        let mut t = [0u64; 3];
        for c in &self.counts {
            for k in 0..3 {
                t[k] += c[k];
            }
        }
        prf(t)
    }

    /// F1 of one type (PER 0, ORG 1, LOC 2, MISC 3).
    pub fn f1(&self, kind: EntityKind) -> f64 {
        prf(self.counts[kind as usize]).2
    }

    /// Tagging throughput on one core: tokens per CPU second of the tagging thread when the OS
    /// reports it (so other load on the machine does not distort it), else per wall-clock second.
    pub fn tokens_per_sec(&self) -> u64 {
        let secs = self.cpu_seconds.unwrap_or(self.seconds);
        (self.tokens as f64 / secs.max(1e-9)) as u64
    }

    /// Tagging throughput per wall-clock second.
    pub fn tokens_per_wall_sec(&self) -> u64 {
        (self.tokens as f64 / self.seconds.max(1e-9)) as u64
    }
}

impl fmt::Display for SpanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "doc {} sentence {}: {}",
            self.doc,
            self.sentence,
            self.diffs.join("; ")
        )?;
        writeln!(f, "  gold: {}", self.gold)?;
        write!(f, "  got:  {}", self.predicted)
    }
}

impl fmt::Display for ConllReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for e in &self.errors {
            writeln!(f, "{e}")?;
        }
        let cpu = match self.cpu_seconds {
            Some(c) => format!("{c:.3}s CPU"),
            None => "CPU time unavailable".to_string(),
        };
        writeln!(
            f,
            "{} documents, {} tokens, tagging (median of {TIMED_PASSES} passes) {:.3}s wall clock ({} tokens/s), {cpu}",
            self.docs,
            self.tokens,
            self.seconds,
            self.tokens_per_wall_sec()
        )?;
        for (name, c) in ["PER", "ORG", "LOC", "MISC"].iter().zip(self.counts) {
            let (p, r, f1) = prf(c);
            writeln!(
                f,
                "{name:<5} P {p:.4} R {r:.4} F1 {f1:.4} (gold {}, predicted {}, correct {})",
                c[2], c[1], c[0]
            )?;
        }
        let (p, r, f1) = self.overall();
        write!(
            f,
            "overall P {p:.4} R {r:.4} F1 {f1:.4} tokens/s {}",
            self.tokens_per_sec()
        )
    }
}

const TYPE_NAMES: [&str; 4] = ["PER", "ORG", "LOC", "MISC"];

/// The sentence with `spans` written inline as `[TYPE tokens]`.
fn marked(toks: &[&str], spans: &[(usize, usize, EntityKind)]) -> String {
    let mut out = Vec::with_capacity(toks.len());
    let mut i = 0;
    while i < toks.len() {
        match spans.iter().find(|s| s.0 == i) {
            Some(&(a, b, k)) => {
                out.push(format!(
                    "[{} {}]",
                    TYPE_NAMES[k as usize],
                    toks[a..b].join(" ")
                ));
                i = b;
            }
            None => {
                out.push(toks[i].to_string());
                i += 1;
            }
        }
    }
    out.join(" ")
}

/// A [`SpanError`] for a sentence whose predicted spans differ from the gold ones.
fn span_error(
    doc: usize,
    sentence: usize,
    toks: &[&str],
    gold: &[u8],
    pred: &[u8],
) -> Option<SpanError> {
    let g = super::spans(gold);
    let p = super::spans(pred);
    let show = |s: &(usize, usize, EntityKind)| {
        format!(
            "[{} {}]",
            TYPE_NAMES[s.2 as usize],
            toks[s.0..s.1].join(" ")
        )
    };
    let mut diffs: Vec<String> = g
        .iter()
        .filter(|s| !p.contains(s))
        .map(|s| format!("missed {}", show(s)))
        .collect();
    diffs.extend(
        p.iter()
            .filter(|s| !g.contains(s))
            .map(|s| format!("wrong {}", show(s))),
    );
    if diffs.is_empty() {
        return None;
    }
    Some(SpanError {
        doc,
        sentence,
        gold: marked(toks, &g),
        predicted: marked(toks, &p),
        diffs,
    })
}

/// Tags each `-DOCSTART-` document of a CoNLL file and scores it; collects the first `errors`
/// sentences with wrong or missed spans.
pub fn eval_conll(tagger: &Tagger, path: &Path, errors: usize) -> Result<ConllReport, NerError> {
    Ok(eval_docs(tagger, &read_conll(path)?, errors))
}

/// Scores a tagger on the GUM dev split (documents listed under `dev` in `splits.md`, mapped to
/// CoNLL classes by [`super::corpus`]'s rules); `gum` holds `conllu/` and `splits.md`.
pub fn eval_gum(tagger: &Tagger, gum: &Path, errors: usize) -> Result<ConllReport, NerError> {
    let docs = super::corpus::read_gum(gum, super::corpus::GumSplit::Dev, Gazetteer::global())?;
    Ok(eval_docs(tagger, &docs, errors))
}

/// Times the tagging this many times and reports the median pass: the first pass also pays for
/// page faults on the freshly loaded model, and one pass over a dev set is short enough for a
/// single scheduling hiccup to move it (the tagger is deterministic, so every pass gives the same
/// labels).
const TIMED_PASSES: usize = 5;

/// The median of `xs` (the upper one of the middle two for an even count); 0 when empty.
fn median(xs: &mut [f64]) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs.get(xs.len() / 2).copied().unwrap_or(0.0)
}

/// Tags labelled documents with `tagger` and scores them (throughput measured on the tagging
/// alone: CPU time of this thread, median of [`TIMED_PASSES`] passes).
pub fn eval_docs(tagger: &Tagger, docs: &[ConllDoc], errors: usize) -> ConllReport {
    let _ = Gazetteer::global();
    let mut counts = [[0u64; 3]; 4];
    let mut tokens = 0;
    let prepared: Vec<_> = docs.iter().map(|d| (d.tokens(), d.labels())).collect();
    let tag_all = || -> Vec<Vec<u8>> {
        prepared
            .iter()
            .zip(docs)
            .map(|(((toks, sents), _), d)| tagger.tag_tokens(toks, sents, d.has_title))
            .collect()
    };
    let (mut walls, mut cpus) = (Vec::new(), Vec::new());
    let mut preds = Vec::new();
    for _ in 0..TIMED_PASSES {
        let cpu0 = thread_cpu_ns();
        let t0 = Instant::now();
        preds = tag_all();
        walls.push(t0.elapsed().as_secs_f64());
        if let (Some(a), Some(b)) = (cpu0, thread_cpu_ns())
            && b > a
        {
            cpus.push((b - a) as f64 / 1e9);
        }
    }
    let seconds = median(&mut walls);
    let cpu_seconds = (cpus.len() == TIMED_PASSES).then(|| median(&mut cpus));
    let mut errs = Vec::new();
    for (di, (((toks, sents), gold), pred)) in prepared.iter().zip(&preds).enumerate() {
        tokens += toks.len();
        for (si, r) in sents.iter().enumerate() {
            span_counts(&gold[r.clone()], &pred[r.clone()], &mut counts);
            if errs.len() < errors
                && let Some(e) = span_error(
                    di + 1,
                    si + 1,
                    &toks[r.clone()],
                    &gold[r.clone()],
                    &pred[r.clone()],
                )
            {
                errs.push(e);
            }
        }
    }
    ConllReport {
        counts,
        tokens,
        docs: docs.len(),
        seconds,
        cpu_seconds,
        errors: errs,
    }
}

/// Result of `eval_aliases`.
#[derive(Debug, Clone)]
pub struct AliasReport {
    pub identities: usize,
    /// Surface-form occurrences evaluated (weighted by their counts).
    pub forms: u64,
    pub correct: u64,
    /// Distinct forms evaluated / correct.
    pub distinct: usize,
    pub distinct_correct: usize,
    pub examples_wrong: Vec<(String, String, String)>,
}

impl AliasReport {
    /// Accuracy over form occurrences.
    pub fn accuracy(&self) -> f64 {
        if self.forms == 0 {
            0.0
        } else {
            self.correct as f64 / self.forms as f64
        }
    }
}

impl fmt::Display for AliasReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (form, got, want) in
            self.examples_wrong
                .iter()
                .take(if f.alternate() { usize::MAX } else { 10 })
        {
            writeln!(f, "  wrong: {form:?} -> {got:?} (gold {want:?})")?;
        }
        write!(
            f,
            "aliases: {} identities, {} distinct forms ({} correct), accuracy {:.4} over {} occurrences",
            self.identities,
            self.distinct,
            self.distinct_correct,
            self.accuracy(),
            self.forms
        )
    }
}

/// Gold name of a Wikipedia identity: underscores to spaces, trailing "(disambiguation)" dropped.
fn identity_name(id: &str) -> String {
    let s = id.replace('_', " ");
    match s.find(" (") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// Alias-linking accuracy on GUM: for every person/place/organisation identity with more than one
/// form, all its proper-name forms (capitalised, at most 6 words, no brackets) are linked together
/// as the mentions of one article; a form is correct when it resolves to the identity's name.
pub fn eval_aliases(path: &Path) -> Result<AliasReport, NerError> {
    let text = std::fs::read_to_string(path).map_err(|source| NerError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let gaz = Gazetteer::global();
    let mut rep = AliasReport {
        identities: 0,
        forms: 0,
        correct: 0,
        distinct: 0,
        distinct_correct: 0,
        examples_wrong: Vec::new(),
    };
    for (ln, line) in text.lines().enumerate().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        if cols.len() < 4 {
            return Err(NerError::Format {
                path: path.to_path_buf(),
                line: ln + 1,
                msg: "expected 4 columns".into(),
            });
        }
        let kind = match cols[1] {
            "person" => EntityKind::Person,
            "place" => EntityKind::Location,
            "organization" => EntityKind::Organization,
            _ => continue,
        };
        let want = identity_name(cols[0]);
        // forms with counts: "Form(12)"
        let mut forms: Vec<(String, u64)> = Vec::new();
        for f in cols[3].split('|') {
            let Some(open) = f.rfind('(') else { continue };
            let count: u64 = f[open + 1..].trim_end_matches(')').parse().unwrap_or(1);
            let form = f[..open].trim();
            let form = form
                .strip_suffix(" 's")
                .or_else(|| form.strip_suffix(" ’s"))
                .or_else(|| form.strip_suffix(" '"))
                .unwrap_or(form);
            let ok = form.chars().next().is_some_and(char::is_uppercase)
                && form.split_whitespace().count() <= 6
                && !form.contains(['(', ')', '[', ';', ','])
                && form.split_whitespace().all(|w| {
                    w.chars()
                        .next()
                        .is_some_and(|c| c.is_uppercase() || !c.is_alphabetic())
                        || ["of", "the", "and", "de", "von", "van"].contains(&w)
                });
            if ok {
                match forms.iter_mut().find(|(x, _)| x == form) {
                    Some(x) => x.1 += count,
                    None => forms.push((form.to_string(), count)),
                }
            }
        }
        if forms.len() < 2 {
            continue;
        }
        rep.identities += 1;
        // one synthetic article: the forms, one per sentence
        let mut doc = String::new();
        let mut raw = Vec::new();
        for (f, _) in &forms {
            let start = doc.len();
            doc.push_str(f);
            let toks: Vec<tokenize::Token> = tokenize::tokenize(f)
                .into_iter()
                .map(|t| tokenize::Token {
                    start: t.start + start,
                    end: t.end + start,
                })
                .collect();
            doc.push_str(" .\n");
            raw.push(RawMention { tokens: toks, kind });
        }
        let (mentions, _) = link(&doc, &raw, 0, gaz);
        for ((f, count), m) in forms.iter().zip(&mentions) {
            rep.distinct += 1;
            rep.forms += count;
            if fold_key(&m.name) == fold_key(&want) {
                rep.correct += count;
                rep.distinct_correct += 1;
            } else if rep.examples_wrong.len() < 400 {
                rep.examples_wrong
                    .push((f.clone(), m.name.clone(), want.clone()));
            }
        }
    }
    Ok(rep)
}
