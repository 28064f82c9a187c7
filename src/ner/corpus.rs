//! Training and evaluation corpora of the tagger, each mapped onto the CoNLL-2003 classes
//! (PER, ORG, LOC, MISC) by the rules documented in the README's model card:
//!
//! - CoNLL-2003 (`token POS chunk NER`, IOB1 or IOB2) as it is;
//! - the Broad Twitter Corpus (`token<TAB>tag`, PER/ORG/LOC; it has no MISC class, so its `O`
//!   tokens may hide a MISC entity and training treats them as "O or MISC");
//! - WNUT-17 (person → PER, location → LOC, corporation and group → ORG, product and
//!   creative-work → MISC; also "O or MISC" for unlabelled tokens, as WNUT has no class for
//!   nationalities, events or laws);
//! - GUM CoNLL-U (entity brackets of 10 types in the MISC column; see [`read_gum`]).
//!
//! Also collects the unlabelled text of `../shared` (feed snapshots, BASIL articles, UCI
//! headlines, GUM, the training sets) for the word clusters and casing statistics.
//! Only this module and `train`/`eval` read files.

use std::path::{Path, PathBuf};

use super::NerError;
use super::features::label_type;
use super::gazetteer::Gazetteer;

/// One labelled document: sentences of (token, IOB2 label index into `features::LABELS`).
#[derive(Debug, Clone, Default)]
pub struct ConllDoc {
    pub sents: Vec<Vec<(String, u8)>>,
    /// The first sentence is a headline (CoNLL and GUM documents, news items).
    pub has_title: bool,
    /// The source has no MISC class: its `O` tokens may be MISC (BTC, WNUT-17).
    pub no_misc: bool,
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

/// The tag set of a CoNLL-style file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagSet {
    /// PER, ORG, LOC, MISC (CoNLL-2003, the ner-news set, BTC).
    Conll,
    /// WNUT-17: person, location, corporation, group, product, creative-work.
    Wnut,
}

/// Entity type index (PER 0, ORG 1, LOC 2, MISC 3) of a tag's type name; `Some(None)` for a type
/// that maps to O.
fn map_type(set: TagSet, ty: &str) -> Option<Option<u8>> {
    Some(Some(match (set, ty) {
        (TagSet::Conll, "PER") | (TagSet::Wnut, "person") => 0,
        (TagSet::Conll, "ORG") | (TagSet::Wnut, "corporation" | "group") => 1,
        (TagSet::Conll, "LOC") | (TagSet::Wnut, "location") => 2,
        (TagSet::Conll, "MISC") | (TagSet::Wnut, "product" | "creative-work") => 3,
        _ => return None,
    }))
}

fn read_text(path: &Path) -> Result<String, NerError> {
    std::fs::read_to_string(path).map_err(|source| NerError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Parses one tag (`O`, `B-X`, `I-X`) given the type of the previous token; IOB1 `I-` after
/// another type becomes `B-`.
fn parse_tag(set: TagSet, tag: &str, prev: Option<u8>) -> Result<u8, String> {
    if tag == "O" {
        return Ok(0);
    }
    let (bi, ty) = tag
        .split_once('-')
        .ok_or_else(|| format!("bad tag {tag:?}"))?;
    let t = map_type(set, ty).ok_or_else(|| format!("unknown entity type in tag {tag:?}"))?;
    let Some(t) = t else { return Ok(0) };
    match bi {
        "B" => Ok(2 * t + 1),
        "I" if prev == Some(t) => Ok(2 * t + 2),
        "I" => Ok(2 * t + 1),
        _ => Err(format!("bad tag {tag:?}")),
    }
}

/// Reads a CoNLL-style file of the CoNLL-2003 tag set (token first column, NER tag last,
/// `-DOCSTART-` separators; IOB1 or IOB2 tags are converted to IOB2). Every document's first
/// sentence is read as its headline.
pub fn read_conll(path: &Path) -> Result<Vec<ConllDoc>, NerError> {
    read_conll_as(path, TagSet::Conll, false)
}

/// Reads a CoNLL-style file with the given tag set. `sentence_docs`: every sentence is a document
/// of its own (tweets), with no headline.
pub fn read_conll_as(
    path: &Path,
    set: TagSet,
    sentence_docs: bool,
) -> Result<Vec<ConllDoc>, NerError> {
    let text = read_text(path)?;
    let new_doc = || ConllDoc {
        sents: Vec::new(),
        has_title: !sentence_docs,
        no_misc: set == TagSet::Wnut,
    };
    let mut docs = vec![new_doc()];
    let mut sent: Vec<(String, u8)> = Vec::new();
    let mut prev_type: Option<u8> = None;
    let flush = |docs: &mut Vec<ConllDoc>, sent: &mut Vec<(String, u8)>| {
        if sent.is_empty() {
            return;
        }
        if sentence_docs && docs.last().is_some_and(|d| !d.sents.is_empty()) {
            docs.push(new_doc());
        }
        if let Some(d) = docs.last_mut() {
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
        if cols.len() == 1 && line.contains('\t') {
            continue; // a whitespace token (tweets): nothing to tag
        }
        if cols[0] == "-DOCSTART-" {
            flush(&mut docs, &mut sent);
            prev_type = None;
            if docs.last().is_some_and(|d| !d.sents.is_empty()) {
                docs.push(new_doc());
            }
            continue;
        }
        let fmt_err = |msg: String| NerError::Format {
            path: path.to_path_buf(),
            line: ln + 1,
            msg,
        };
        if cols.len() < 2 {
            return Err(fmt_err(format!("expected token and tag, got {line:?}")));
        }
        let label = parse_tag(set, cols[cols.len() - 1], prev_type).map_err(fmt_err)?;
        prev_type = label_type(label);
        sent.push((cols[0].to_string(), label));
    }
    flush(&mut docs, &mut sent);
    docs.retain(|d| !d.sents.is_empty());
    Ok(docs)
}

/// The Broad Twitter Corpus sections (`a.conll` … `h.conll`) in a folder; each tweet is a
/// document; no MISC class.
pub fn read_btc(dir: &Path) -> Result<Vec<ConllDoc>, NerError> {
    let mut out = Vec::new();
    for sec in ["a", "b", "e", "f", "g", "h"] {
        let mut docs = read_conll_as(&dir.join(format!("{sec}.conll")), TagSet::Conll, true)?;
        for d in &mut docs {
            d.no_misc = true;
        }
        out.extend(docs);
    }
    Ok(out)
}

/// WNUT-17 training file (`wnut17train.conll`), each post a document.
pub fn read_wnut(dir: &Path) -> Result<Vec<ConllDoc>, NerError> {
    read_conll_as(&dir.join("wnut17train.conll"), TagSet::Wnut, true)
}

/// Which part of GUM to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GumSplit {
    /// Documents listed under neither `dev` nor `test` (nor `test2`) in `splits.md`.
    Train,
    /// Documents listed under `dev`.
    Dev,
}

/// Document names listed under each heading of GUM's `splits.md`: (dev, test).
fn gum_splits(path: &Path) -> Result<(Vec<String>, Vec<String>), NerError> {
    let text = read_text(path)?;
    let (mut dev, mut test) = (Vec::new(), Vec::new());
    let mut cur: Option<&mut Vec<String>> = None;
    for line in text.lines() {
        let l = line.trim();
        if let Some(h) = l.strip_prefix("## ") {
            cur = match h.trim() {
                "dev" => Some(&mut dev),
                "test" | "test2" => Some(&mut test),
                _ => None,
            };
        } else if let (Some(name), Some(list)) = (l.strip_prefix("* "), cur.as_mut()) {
            list.push(name.trim().to_string());
        }
    }
    if dev.is_empty() {
        return Err(NerError::Format {
            path: path.to_path_buf(),
            line: 1,
            msg: "no documents listed under \"## dev\"".into(),
        });
    }
    Ok((dev, test))
}

/// The GUM `.conllu` files of one split (sorted by name), from the GUM folder holding `conllu/`
/// and `splits.md`.
pub fn gum_files(gum: &Path, split: GumSplit) -> Result<Vec<PathBuf>, NerError> {
    let (dev, test) = gum_splits(&gum.join("splits.md"))?;
    let dir = gum.join("conllu");
    let rd = std::fs::read_dir(&dir).map_err(|source| NerError::Io {
        path: dir.clone(),
        source,
    })?;
    let mut files: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "conllu"))
        .filter(|p| {
            let stem = p.file_stem().map(|s| s.to_string_lossy().into_owned());
            let stem = stem.unwrap_or_default();
            match split {
                GumSplit::Dev => dev.contains(&stem),
                GumSplit::Train => !dev.contains(&stem) && !test.contains(&stem),
            }
        })
        .collect();
    files.sort();
    Ok(files)
}

/// Reads the GUM documents of one split, mapped to flat CoNLL spans (see [`gum_doc`]).
pub fn read_gum(gum: &Path, split: GumSplit, gaz: &Gazetteer) -> Result<Vec<ConllDoc>, NerError> {
    gum_files(gum, split)?
        .iter()
        .map(|f| gum_doc(f, &read_text(f)?, gaz))
        .collect()
}

/// One word line of a CoNLL-U sentence.
struct UWord {
    form: String,
    xpos: String,
    /// Entity brackets opened here: (id, etype, 0-based head token offsets within the mention).
    opens: Vec<(String, String, Vec<usize>)>,
    /// Entity ids closed after this word.
    closes: Vec<String>,
}

/// A mention: tokens `start..end`, GUM entity type, head tokens (absolute).
struct UMention {
    start: usize,
    end: usize,
    etype: String,
    heads: Vec<usize>,
}

/// Parses the `Entity=` value of a CoNLL-U MISC column: opening brackets
/// `(id-etype-infstat-salience-centering-minspan-link[-identity]` and closings `id)`.
fn parse_entity_field(v: &str, w: &mut UWord) {
    let b = v.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'(' {
            let j = v[i + 1..]
                .find(['(', ')'])
                .map(|k| i + 1 + k)
                .unwrap_or(v.len());
            let parts: Vec<&str> = v[i + 1..j].split('-').collect();
            if parts.len() >= 6 {
                let heads = parts[5]
                    .split(',')
                    .filter_map(|x| x.parse::<usize>().ok())
                    .filter(|&x| x >= 1)
                    .map(|x| x - 1)
                    .collect();
                w.opens
                    .push((parts[0].to_string(), parts[1].to_string(), heads));
            }
            if j < v.len() && b[j] == b')' {
                w.closes.push(parts[0].to_string());
                i = j + 1;
            } else {
                i = j;
            }
        } else {
            let j = v[i..].find(['(', ')']).map(|k| i + k).unwrap_or(v.len());
            if j < v.len() && b[j] == b')' {
                w.closes.push(v[i..j].to_string());
                i = j + 1;
            } else {
                i = j.max(i + 1);
            }
        }
    }
}

/// The mentions of one sentence from its words' brackets.
fn mentions_of(words: &[UWord]) -> Vec<UMention> {
    let mut open: Vec<(String, String, Vec<usize>, usize)> = Vec::new();
    let mut out = Vec::new();
    for (k, w) in words.iter().enumerate() {
        for (id, ty, heads) in &w.opens {
            open.push((id.clone(), ty.clone(), heads.clone(), k));
        }
        for id in &w.closes {
            if let Some(p) = open.iter().rposition(|o| &o.0 == id) {
                let (_, etype, heads, start) = open.remove(p);
                let heads = heads
                    .iter()
                    .map(|h| start + h)
                    .filter(|&h| h <= k)
                    .collect();
                out.push(UMention {
                    start,
                    end: k + 1,
                    etype,
                    heads,
                });
            }
        }
    }
    out
}

/// Tokens that may sit inside a multi-word proper name between two proper nouns.
const CONNECTORS: &[&str] = &[
    "of", "the", "and", "&", "for", "de", "du", "da", "von", "van",
];

fn is_propn(w: &UWord) -> bool {
    w.xpos == "NNP" || w.xpos == "NNPS"
}

/// CoNLL type of a GUM entity type (PER 0, ORG 1, LOC 2, MISC 3); None = not a CoNLL entity
/// (time, substance, plant).
fn gum_type(etype: &str) -> Option<u8> {
    match etype {
        "person" | "animal" => Some(0),
        "organization" => Some(1),
        "place" => Some(2),
        "event" | "object" | "abstract" => Some(3),
        _ => None,
    }
}

/// The proper-name span of a named mention: the run of proper nouns (with connectors between
/// them) inside the mention that holds its first proper-noun head token.
fn name_span(words: &[UWord], m: &UMention) -> Option<(usize, usize)> {
    let h = *m
        .heads
        .iter()
        .find(|&&h| h < words.len() && is_propn(&words[h]))?;
    let inside = |k: usize| k >= m.start && k < m.end;
    let mut a = h;
    while a > m.start && inside(a - 1) {
        let w = &words[a - 1];
        if is_propn(w) {
            a -= 1;
        } else if CONNECTORS.contains(&w.form.as_str())
            && a >= 2
            && inside(a - 2)
            && is_propn(&words[a - 2])
        {
            a -= 2;
        } else {
            break;
        }
    }
    let mut b = h + 1;
    while b < m.end {
        if is_propn(&words[b]) {
            b += 1;
        } else if CONNECTORS.contains(&words[b].form.as_str())
            && b + 1 < m.end
            && is_propn(&words[b + 1])
        {
            b += 2;
        } else {
            break;
        }
    }
    // a number right after the name belongs to it ("World War II", "Title IV", "Emmys 2021")
    if b < m.end && words[b].xpos == "CD" && words[b].form.chars().all(|c| c.is_alphanumeric()) {
        b += 1;
    }
    Some((a, b))
}

/// Flat CoNLL labels of one GUM sentence (rules in the README's model card):
/// 1. a mention is named when one of its head tokens (the `minspan` field) is a proper noun
///    (NNP/NNPS); its span is the proper-noun run around that head (connectors such as "of",
///    "the", "and" allowed between proper nouns; a number right after it included: "World War
///    II"), typed person/animal → PER,
///    organization → ORG, place → LOC, event/object/abstract → MISC (time, substance, plant: O);
/// 2. overlapping spans: the longest wins ("University of Helsinki", not "Helsinki");
/// 3. a person span starting with an honorific or job title ("President", "Professor") keeps
///    only the name after it, and the tokens before the title are labelled again as a span of
///    their own when an inner mention names them ("U.S." in "U.S. President Barack Obama");
/// 4. a span that is only a demonym ("Australians") is MISC, and so is any capitalised demonym
///    or other capitalised adjective (JJ) outside spans, except at a sentence start or in a
///    headline ("Australian", "Christian"), as in CoNLL.
fn gum_labels(words: &[UWord], heading: bool, gaz: &Gazetteer) -> Vec<u8> {
    let ms = mentions_of(words);
    let mut spans: Vec<(usize, usize, u8, usize)> = ms
        .iter()
        .filter_map(|m| {
            let t = gum_type(&m.etype)?;
            let (a, b) = name_span(words, m)?;
            Some((a, b, t, m.end - m.start))
        })
        .collect();
    // longest first; ties: the smaller (innermost) mention
    spans.sort_by(|x, y| {
        (y.1 - y.0)
            .cmp(&(x.1 - x.0))
            .then(x.3.cmp(&y.3))
            .then(x.0.cmp(&y.0))
    });
    let mut labels = vec![0u8; words.len()];
    let mut taken = vec![false; words.len()];
    let keys: Vec<String> = words
        .iter()
        .map(|w| crate::model::fold_key(&w.form))
        .collect();
    let mut queue = spans;
    let mut k = 0;
    while k < queue.len() {
        let (a, b, t, size) = queue[k];
        k += 1;
        if taken[a..b].iter().any(|&x| x) {
            continue;
        }
        let (a, b, t) = if t == 0 {
            match strip_title(&ms, &keys, words, (a, b, size), gaz, &mut queue) {
                Some(s) => s,
                None => continue,
            }
        } else {
            (a, b, t)
        };
        let t = if gaz.demonym(&keys[a..b].join(" ")).is_some() {
            3
        } else {
            t
        };
        for j in a..b {
            taken[j] = true;
            labels[j] = if j == a { 2 * t + 1 } else { 2 * t + 2 };
        }
    }
    for (j, w) in words.iter().enumerate() {
        let capitalised = w.form.chars().next().is_some_and(char::is_uppercase);
        let first = j == 0 || (j == 1 && !words[0].form.chars().any(char::is_alphanumeric));
        if taken[j] || !capitalised || first || heading {
            continue;
        }
        if w.xpos == "JJ" || (is_propn(w) && gaz.demonym(&keys[j]).is_some()) {
            labels[j] = 7;
        }
    }
    labels
}

/// Rule 3 of [`gum_labels`] for a person span `a..b`: the name after the last honorific or job
/// title in it, or None when nothing of a name is left ("Emperor", "Earl of Clare"). The part
/// before the title, and a place after "Earl of", go back on the `queue` typed by the smallest
/// inner mention that covers them.
fn strip_title(
    ms: &[UMention],
    keys: &[String],
    words: &[UWord],
    (a, b, size): (usize, usize, usize),
    gaz: &Gazetteer,
    queue: &mut Vec<(usize, usize, u8, usize)>,
) -> Option<(usize, usize, u8)> {
    // (start, length) of the last title in the span
    let mut title = None;
    for j in a..b {
        let len = gaz.title_prefix_len(&keys[j..b]);
        if len > 0 && j + len < b {
            title = Some((j, len));
        }
    }
    let Some((ts, len)) = title else {
        // a title alone is no name ("Emperor"); a name ending in a title word is ("King")
        return (gaz.title_prefix_len(&keys[a..b]) != b - a).then_some((a, b, 0));
    };
    let inner = |x: usize, y: usize| {
        ms.iter()
            .filter(|m| m.start <= x && m.end >= y && m.end - m.start < size)
            .min_by_key(|m| m.end - m.start)
            .and_then(|m| gum_type(&m.etype))
    };
    if ts > a
        && let Some(t) = inner(a, ts)
    {
        queue.push((a, ts, t, 0));
    }
    let mut rest = ts + len;
    if rest < b && words[rest].form.starts_with(char::is_uppercase) {
        return Some((rest, b, 0));
    }
    while rest < b && !words[rest].form.starts_with(char::is_uppercase) {
        rest += 1;
    }
    if rest < b
        && let Some(t) = inner(rest, b)
    {
        queue.push((rest, b, t, 0));
    }
    None
}

/// Parses one GUM CoNLL-U document into a labelled document (first sentence = its title).
pub fn gum_doc(path: &Path, text: &str, gaz: &Gazetteer) -> Result<ConllDoc, NerError> {
    let mut doc = ConllDoc {
        sents: Vec::new(),
        has_title: true,
        no_misc: false,
    };
    let mut words: Vec<UWord> = Vec::new();
    let mut heading = false;
    let finish = |words: &mut Vec<UWord>, heading: bool, doc: &mut ConllDoc| {
        if words.is_empty() {
            return;
        }
        let labels = gum_labels(words, heading || doc.sents.is_empty(), gaz);
        doc.sents.push(
            words
                .drain(..)
                .map(|w| w.form)
                .zip(labels)
                .collect::<Vec<_>>(),
        );
    };
    for (ln, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            finish(&mut words, heading, &mut doc);
            heading = false;
            continue;
        }
        if let Some(c) = line.strip_prefix('#') {
            if let Some(v) = c.trim().strip_prefix("newpar_block =") {
                heading = v.trim().starts_with("head");
            }
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        if cols.len() != 10 {
            return Err(NerError::Format {
                path: path.to_path_buf(),
                line: ln + 1,
                msg: format!("expected 10 tab-separated columns, got {}", cols.len()),
            });
        }
        if cols[0].contains(['-', '.']) {
            continue; // multi-word token ranges and empty nodes
        }
        let mut w = UWord {
            form: cols[1].to_string(),
            xpos: cols[4].to_string(),
            opens: Vec::new(),
            closes: Vec::new(),
        };
        for kv in cols[9].split('|') {
            if let Some(v) = kv.strip_prefix("Entity=") {
                parse_entity_field(v, &mut w);
            }
        }
        words.push(w);
    }
    finish(&mut words, heading, &mut doc);
    Ok(doc)
}

/// Sentences (as token lists) of a GUM CoNLL-U file, for the unlabelled corpus.
pub fn gum_sentences(text: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut cur = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let mut cols = line.split('\t');
        let (Some(id), Some(form)) = (cols.next(), cols.next()) else {
            continue;
        };
        if !id.contains(['-', '.']) {
            cur.push(form.to_string());
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Counts of the unlabelled text read by [`for_each_text`].
#[derive(Debug, Default, Clone)]
pub struct TextReport {
    pub feed_items: usize,
    pub basil_articles: usize,
    pub uci_headlines: usize,
    pub sentences: usize,
    pub tokens: usize,
}

/// Tokenises `text` with the runtime tokeniser and passes each sentence on; `title`: the whole
/// text is one headline.
fn visit_text(text: &str, title: bool, rep: &mut TextReport, visit: &mut dyn FnMut(&[&str], bool)) {
    let toks = super::tokenize::tokenize(text);
    let strs: Vec<&str> = toks.iter().map(|t| t.text(text)).collect();
    if title {
        if !strs.is_empty() {
            rep.sentences += 1;
            rep.tokens += strs.len();
            visit(&strs, true);
        }
        return;
    }
    for r in super::tokenize::split_sentences(text, &toks) {
        rep.sentences += 1;
        rep.tokens += r.len();
        visit(&strs[r], false);
    }
}

/// Titles and texts of every feed snapshot under `snapshots` (`<snapshot>/*.xml`), parsed and
/// normalised as at ingest; an item seen in several snapshots is read once.
fn feed_texts(
    snapshots: &Path,
    rep: &mut TextReport,
    visit: &mut dyn FnMut(&[&str], bool),
) -> Result<(), NerError> {
    let list = |dir: &Path| -> Result<Vec<PathBuf>, NerError> {
        let rd = std::fs::read_dir(dir).map_err(|source| NerError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let mut v: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
        v.sort();
        Ok(v)
    };
    let mut seen = std::collections::HashSet::new();
    let now = jiff::Timestamp::UNIX_EPOCH;
    for snap in list(snapshots)?.into_iter().filter(|p| p.is_dir()) {
        if snap.file_name().is_some_and(|n| n == "edge-cases") {
            continue;
        }
        for f in list(&snap)?
            .into_iter()
            .filter(|p| p.extension().is_some_and(|x| x == "xml"))
        {
            let body = std::fs::read(&f).map_err(|source| NerError::Io {
                path: f.clone(),
                source,
            })?;
            let url = format!("http://127.0.0.1/{}", f.display());
            let Ok(parsed) = crate::feed::parse(&body, &url) else {
                continue;
            };
            for entry in &parsed.entries {
                let Some(a) = crate::normalize::normalize(entry, "feed", &url, now) else {
                    continue;
                };
                if !seen.insert(super::hash::hash_str(&format!("{}\n{}", a.title, a.text))) {
                    continue;
                }
                rep.feed_items += 1;
                visit_text(&a.title, true, rep, visit);
                visit_text(&a.text, false, rep, visit);
            }
        }
    }
    Ok(())
}

/// BASIL articles (`title`, `lead`, `text` of each JSON line).
fn basil_texts(
    path: &Path,
    rep: &mut TextReport,
    visit: &mut dyn FnMut(&[&str], bool),
) -> Result<(), NerError> {
    let text = read_text(path)?;
    for (ln, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let v: serde_json::Value = serde_json::from_str(line).map_err(|e| NerError::Format {
            path: path.to_path_buf(),
            line: ln + 1,
            msg: format!("bad JSON: {e}"),
        })?;
        let field = |k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or("");
        rep.basil_articles += 1;
        visit_text(field("title"), true, rep, visit);
        visit_text(field("lead"), false, rep, visit);
        visit_text(field("text"), false, rep, visit);
    }
    Ok(())
}

/// UCI News Aggregator headlines (the `TITLE` column).
fn uci_texts(
    path: &Path,
    rep: &mut TextReport,
    visit: &mut dyn FnMut(&[&str], bool),
) -> Result<(), NerError> {
    let mut rd = csv::Reader::from_path(path).map_err(|e| NerError::Format {
        path: path.to_path_buf(),
        line: 1,
        msg: e.to_string(),
    })?;
    let headers = rd.headers().map_err(|e| NerError::Format {
        path: path.to_path_buf(),
        line: 1,
        msg: e.to_string(),
    })?;
    let col = headers
        .iter()
        .position(|h| h == "TITLE")
        .ok_or_else(|| NerError::Format {
            path: path.to_path_buf(),
            line: 1,
            msg: "no TITLE column".into(),
        })?;
    for (ln, rec) in rd.records().enumerate() {
        let rec = rec.map_err(|e| NerError::Format {
            path: path.to_path_buf(),
            line: ln + 2,
            msg: e.to_string(),
        })?;
        if let Some(t) = rec.get(col) {
            rep.uci_headlines += 1;
            visit_text(t, true, rep, visit);
        }
    }
    Ok(())
}

/// Visits every sentence of the raw (untokenised) unlabelled text under `data` (the `../shared/data`
/// folder): all feed snapshots, BASIL articles and UCI headlines, each tokenised with the runtime
/// tokeniser. The token-level corpora (GUM, the training sets) are added by the caller.
pub fn for_each_text(
    data: &Path,
    visit: &mut dyn FnMut(&[&str], bool),
) -> Result<TextReport, NerError> {
    let mut rep = TextReport::default();
    feed_texts(&data.join("feeds/news-snapshots"), &mut rep, visit)?;
    basil_texts(&data.join("clusters/basil-dev.jsonl"), &mut rep, visit)?;
    uci_texts(
        &data.join("clusters/uci-headlines-dev.csv"),
        &mut rep,
        visit,
    )?;
    Ok(rep)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A CoNLL-U word line: id, form, xpos, MISC column.
    fn line(id: usize, form: &str, xpos: &str, misc: &str) -> String {
        format!("{id}\t{form}\t_\t_\t{xpos}\t_\t0\t_\t_\t{misc}\n")
    }

    fn labels_of(doc: &ConllDoc, s: usize) -> Vec<(String, &'static str)> {
        doc.sents[s]
            .iter()
            .map(|(t, l)| (t.clone(), super::super::features::LABELS[*l as usize]))
            .collect()
    }

    #[test]
    fn gum_mentions_map_to_flat_conll_spans() {
        // "Headline" then: U.S. President Barack Obama met Australians at the University of
        // Helsinki . (person mention with a nested place; org mention with a nested place)
        let mut t = String::from("# newpar_block = head (1 s)\n");
        t += &line(1, "Headline", "NN", "_");
        t += "\n# newpar_block = p (1 s)\n";
        let body: [(&str, &str, &str); 16] = [
            (
                "U.S.",
                "NNP",
                "Entity=(1-person-new-sssss-cf1-4-coref-Barack_Obama(2-place-new-sssss-cf2-1-sgl-United_States)",
            ),
            ("President", "NNP", "_"),
            ("Barack", "NNP", "_"),
            ("Obama", "NNP", "Entity=1)"),
            ("met", "VBD", "_"),
            (
                "Australians",
                "NNPS",
                "Entity=(3-person-new-sssss-cf3-1-sgl)",
            ),
            ("at", "IN", "_"),
            ("the", "DT", "Entity=(4-organization-new-sssss-cf4-2-sgl"),
            ("University", "NNP", "_"),
            ("of", "IN", "_"),
            ("Helsinki", "NNP", "Entity=(5-place-new-sssss-cf5-1-sgl)4)"),
            ("with", "IN", "_"),
            ("Christian", "JJ", "_"),
            ("friends", "NNS", "_"),
            ("and", "CC", "_"),
            ("Emperor", "NNP", "Entity=(6-person-new-sssss-cf6-1-sgl)"),
        ];
        for (i, (form, pos, misc)) in body.iter().enumerate() {
            t += &line(i + 1, form, pos, misc);
        }
        t += "\n";
        let doc = gum_doc(Path::new("x.conllu"), &t, Gazetteer::global()).expect("parse");
        assert!(doc.has_title && !doc.no_misc);
        let got: Vec<&str> = labels_of(&doc, 1).iter().map(|x| x.1).collect();
        assert_eq!(
            got,
            [
                "B-LOC", "O", "B-PER", "I-PER", "O", "B-MISC", "O", "O", "B-ORG", "I-ORG", "I-ORG",
                "O", "B-MISC", "O", "O", "O"
            ],
            "{:?}",
            labels_of(&doc, 1)
        );
    }

    #[test]
    fn conll_reader_maps_wnut_types_and_skips_whitespace_tokens() {
        let dir = std::env::temp_dir().join(format!("digestif-corpus-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("tmp");
        let p = dir.join("w.conll");
        std::fs::write(
            &p,
            "Tesla\tB-corporation\nModel\tB-product\n3\tI-product\n \tO\nrocks\tO\n\nhi\tO\n",
        )
        .expect("write");
        let docs = read_conll_as(&p, TagSet::Wnut, true).expect("read");
        assert_eq!(docs.len(), 2, "one document per post");
        assert!(docs[0].no_misc && !docs[0].has_title);
        assert_eq!(docs[0].labels(), [3, 7, 8, 0]);
        std::fs::remove_dir_all(&dir).ok();
    }
}
