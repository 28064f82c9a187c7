//! The word table: what unlabelled text and name lists say about each word, keyed by the hash of
//! its folded form (`gazetteer::token_key`). Built by `digestif train ner` from `../shared`
//! ([`build`]), written to `data/ner/words.bin` and embedded in the binary:
//!
//! - occurrences in all the unlabelled text;
//! - casing counts: how often the word is written lower case and how often capitalised inside
//!   running text (not at a sentence start, not in a headline or an ALL-CAPS/Title Case line), so
//!   a Title Case headline word ("Fears", "Rage") can be told from a name;
//! - two word clusters (exchange algorithm, [`super::clusters`]): a fine and a coarse class;
//! - US Census 1990 first-name and surname frequency bins (a feature, never a rule).

use std::path::Path;
use std::sync::OnceLock;

use super::NerError;
use super::hash::mix;

/// What the table knows about one word.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WordStats {
    pub count: u32,
    /// Occurrences in running text starting lower case / upper case.
    pub lower: u32,
    pub cap: u32,
    /// Fine cluster (1-based; 0 = none: the word is too rare).
    pub fine: u16,
    /// Coarse cluster (1-based; 0 = none).
    pub coarse: u8,
    /// Census first-name bin (0 none, 1 rare … 5 very common) and surname bin.
    pub first: u8,
    pub last: u8,
}

const MAGIC: &[u8; 8] = b"DGWRD\x02\0\0";
const ROW: usize = 8 + 4 + 4 + 4 + 2 + 1 + 1 + 1;

/// Open-addressing table from key hash to [`WordStats`], plus the frequent word forms of the
/// text (as written, with their counts) that training compiles into per-word weight blocks.
pub struct WordTable {
    keys: Vec<u64>,
    vals: Vec<WordStats>,
    mask: usize,
    len: usize,
    /// Serialised frequent forms (`u32 count, u16 length, bytes` each), parsed only by training.
    forms: Vec<u8>,
    /// Hash of the serialised table; the model records the table it was trained with.
    pub checksum: u64,
}

/// Key 0 marks an empty slot; a real key hash of 0 is stored as 1.
#[inline]
fn slot_key(k: u64) -> u64 {
    if k == 0 { 1 } else { k }
}

impl WordTable {
    /// An empty table for `n` entries.
    fn with_capacity(n: usize) -> WordTable {
        let cap = (n * 2).next_power_of_two().max(16);
        WordTable {
            keys: vec![0; cap],
            vals: vec![WordStats::default(); cap],
            mask: cap - 1,
            len: 0,
            forms: Vec::new(),
            checksum: 0,
        }
    }

    fn insert(&mut self, key: u64, v: WordStats) {
        let k = slot_key(key);
        let mut i = mix(k) as usize & self.mask;
        loop {
            if self.keys[i] == 0 {
                self.keys[i] = k;
                self.vals[i] = v;
                self.len += 1;
                return;
            }
            if self.keys[i] == k {
                self.vals[i] = v;
                return;
            }
            i = (i + 1) & self.mask;
        }
    }

    /// Statistics of the word with key hash `key` (see `gazetteer::token_key`), if known.
    #[inline]
    pub fn get(&self, key: u64) -> Option<&WordStats> {
        let k = slot_key(key);
        let mut i = mix(k) as usize & self.mask;
        loop {
            let s = self.keys[i];
            if s == k {
                return Some(&self.vals[i]);
            }
            if s == 0 {
                return None;
            }
            i = (i + 1) & self.mask;
        }
    }

    /// Number of words.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The table from `pairs` (any order; serialised sorted by key) and frequent word `forms`
    /// with their counts (serialised in the given order).
    pub fn from_pairs(pairs: &[(u64, WordStats)], forms: &[(String, u32)]) -> WordTable {
        let mut t = WordTable::with_capacity(pairs.len());
        for &(k, v) in pairs {
            t.insert(k, v);
        }
        for (f, c) in forms {
            let b = &f.as_bytes()[..f.len().min(u16::MAX as usize)];
            t.forms.extend_from_slice(&c.to_le_bytes());
            t.forms.extend_from_slice(&(b.len() as u16).to_le_bytes());
            t.forms.extend_from_slice(b);
        }
        t.checksum = super::hash::hash_bytes(&t.to_bytes());
        t
    }

    /// The frequent word forms with their counts, as stored (for compiling a model).
    pub fn forms(&self) -> Vec<(String, u32)> {
        let mut out = Vec::new();
        let b = &self.forms;
        let mut i = 0;
        while i + 6 <= b.len() {
            let c = u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
            let n = u16::from_le_bytes([b[i + 4], b[i + 5]]) as usize;
            let end = (i + 6 + n).min(b.len());
            out.push((String::from_utf8_lossy(&b[i + 6..end]).into_owned(), c));
            i = end;
        }
        out
    }

    /// Entries sorted by key.
    pub fn entries(&self) -> Vec<(u64, WordStats)> {
        let mut v: Vec<(u64, WordStats)> = self
            .keys
            .iter()
            .zip(&self.vals)
            .filter(|(k, _)| **k != 0)
            .map(|(&k, &v)| (k, v))
            .collect();
        v.sort_unstable_by_key(|e| e.0);
        v
    }

    /// Serialised form: magic, count, then sorted fixed-size rows.
    pub fn to_bytes(&self) -> Vec<u8> {
        let e = self.entries();
        let mut out = Vec::with_capacity(16 + e.len() * ROW);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&(e.len() as u32).to_le_bytes());
        for (k, v) in e {
            out.extend_from_slice(&k.to_le_bytes());
            out.extend_from_slice(&v.count.to_le_bytes());
            out.extend_from_slice(&v.lower.to_le_bytes());
            out.extend_from_slice(&v.cap.to_le_bytes());
            out.extend_from_slice(&v.fine.to_le_bytes());
            out.extend_from_slice(&[v.coarse, v.first, v.last]);
        }
        out.extend_from_slice(&(self.forms.len() as u32).to_le_bytes());
        out.extend_from_slice(&self.forms);
        out
    }

    /// Parses a serialised table.
    pub fn from_bytes(b: &[u8]) -> Result<WordTable, NerError> {
        let bad = |m: &str| NerError::Model(format!("word table: {m}"));
        if b.len() < 12 || &b[..8] != MAGIC {
            return Err(bad("bad magic"));
        }
        let n = u32::from_le_bytes([b[8], b[9], b[10], b[11]]) as usize;
        let rows_end = 12 + n * ROW;
        if b.len() < rows_end + 4 {
            return Err(bad("truncated"));
        }
        let r = &b[rows_end..rows_end + 4];
        let nf = u32::from_le_bytes([r[0], r[1], r[2], r[3]]) as usize;
        if b.len() != rows_end + 4 + nf {
            return Err(bad("wrong length"));
        }
        let mut t = WordTable::with_capacity(n);
        t.forms = b[rows_end + 4..].to_vec();
        for r in b[12..rows_end].chunks_exact(ROW) {
            let u32_at = |i: usize| u32::from_le_bytes([r[i], r[i + 1], r[i + 2], r[i + 3]]);
            let k = u64::from_le_bytes([r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]]);
            t.insert(
                k,
                WordStats {
                    count: u32_at(8),
                    lower: u32_at(12),
                    cap: u32_at(16),
                    fine: u16::from_le_bytes([r[20], r[21]]),
                    coarse: r[22],
                    first: r[23],
                    last: r[24],
                },
            );
        }
        t.checksum = super::hash::hash_bytes(b);
        Ok(t)
    }

    /// The embedded table (`data/ner/words.bin`), parsed once.
    pub fn global() -> &'static WordTable {
        static BYTES: &[u8] = include_bytes!("../../data/ner/words.bin");
        static T: OnceLock<WordTable> = OnceLock::new();
        T.get_or_init(|| {
            WordTable::from_bytes(BYTES).expect("the embedded data/ner/words.bin is a valid table")
        })
    }
}

/// Frequency bin of a census name (percent of the population): 5 for ≥ 1%, 4 ≥ 0.1%,
/// 3 ≥ 0.01%, 2 ≥ 0.001%, 1 below.
fn name_bin(pct: f64) -> u8 {
    match pct {
        p if p >= 1.0 => 5,
        p if p >= 0.1 => 4,
        p if p >= 0.01 => 3,
        p if p >= 0.001 => 2,
        _ => 1,
    }
}

/// Reads a census name file (`NAME freq cumfreq rank`) into (folded name, bin), keeping the
/// highest bin of a name listed twice.
pub fn read_census(path: &Path) -> Result<Vec<(String, u8)>, NerError> {
    let text = std::fs::read_to_string(path).map_err(|source| NerError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut out = Vec::new();
    for (ln, line) in text.lines().enumerate() {
        let mut cols = line.split_whitespace();
        let (Some(name), Some(freq)) = (cols.next(), cols.next()) else {
            continue;
        };
        let pct: f64 = freq.parse().map_err(|_| NerError::Format {
            path: path.to_path_buf(),
            line: ln + 1,
            msg: format!("bad frequency {freq:?}"),
        })?;
        out.push((name.to_lowercase(), name_bin(pct)));
    }
    Ok(out)
}

/// `data/ner/ATTRIBUTION.md`, written next to the table.
pub const ATTRIBUTION: &str = "# Word table: sources, attribution and licences

`words.bin` is written by `digestif train ner` (`ner::train::build_words`) from `../shared/data`.
It holds, per word (keyed by a 64-bit hash of its folded form; no text is stored): its number of
occurrences, how often it is written lower case and how often capitalised inside running text,
a fine and a coarse word cluster (exchange algorithm over the class-bigram likelihood), and the
frequency bins of the word as a US first name and surname. It is a statistical summary; no
sentence or passage of any source can be recovered from it.

| source | used for | licence |
|---|---|---|
| feed snapshots (`feeds/news-snapshots`, titles and descriptions of 17–18 publishers' feeds, 2020–2021) | counts, casing, clusters | publishers' text, read locally; only word statistics are derived |
| BASIL articles (`clusters/basil-dev.jsonl`) | counts, casing, clusters | research data set, texts of the publishers; only word statistics are derived |
| UCI News Aggregator headlines (`clusters/uci-headlines-dev.csv`) | counts, casing, clusters | **CC BY 4.0**: UCI Machine Learning Repository, News Aggregator data set (Gasparetti 2016) |
| GUM corpus, train split (`gum/conllu`) | counts, casing, clusters | **CC BY 4.0** annotations; texts CC BY 2.5 (Wikinews), CC BY-SA 3.0 (Wikipedia, Wikivoyage), CC BY 4.0 (academic, court): Zeldes (2017), The GUM Corpus, Language Resources and Evaluation 51(3) |
| Broad Twitter Corpus (`ner-extra/btc`) | counts, casing, clusters | **CC BY 4.0**: Derczynski, Bontcheva & Roberts (2016), Broad Twitter Corpus, COLING |
| WNUT-17 train (`ner-extra/wnut17`) | counts, casing, clusters | **CC BY 4.0**: Derczynski et al. (2017), Results of the WNUT2017 Shared Task on Novel and Emerging Entity Recognition |
| CoNLL-2003 train (`conll2003/train.txt`, Reuters RCV1) | counts, casing, clusters | Reuters text, used for training only; only word statistics are derived |
| US Census 1990 name lists (`gazetteers/us-census-names`) | first-name and surname bins | public domain (US government work), via the MIT-licensed `names` package |

Because some sources are share-alike (CC BY-SA 3.0 texts of GUM), this table is distributed under
**CC BY-SA 4.0**, with the attributions above.
";
