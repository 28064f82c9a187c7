//! Text features for story grouping: tokenising, stop words, light stemming, the lead of an
//! article, the background document frequencies ([`Background`]) that give features their
//! rarity weight (IDF), and the English word-frequency prior behind it on a cold start.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::OnceLock;

use super::StoryArticle;

/// Prefix of entity-key features ("e:north korea").
pub(crate) const ENTITY_PREFIX: &str = "e:";
/// Prefix of term features ("t:missile").
pub(crate) const TERM_PREFIX: &str = "t:";

/// Document counts behind the rarity (IDF) weights: how many documents were seen and, per
/// feature, in how many of them it occurred. Feature keys are namespaced: `e:<entity key>` for
/// canonical entities (see [`crate::model::fold_key`]) and `t:<term>` for stemmed words.
///
/// The background should hold recent articles from *before* the window being grouped; [`group`]
/// adds the window's own articles itself.
///
/// [`group`]: super::group
#[derive(Debug, Default, Clone)]
pub struct Background {
    docs: u64,
    df: HashMap<String, u64>,
}

impl Background {
    /// An empty background (rarity is then judged from the window alone).
    pub fn new() -> Self {
        Self::default()
    }

    /// Rebuilds a background from stored counts; keys are namespaced as described on the type.
    pub fn from_counts(docs: u64, df: impl IntoIterator<Item = (String, u64)>) -> Self {
        let mut bg = Background {
            docs,
            df: HashMap::new(),
        };
        for (k, n) in df {
            *bg.df.entry(k).or_insert(0) += n;
        }
        bg
    }

    /// Counts one document given its entity keys (already folded) and its terms (as returned by
    /// [`terms`]). Repeated keys within one document count once.
    pub fn add_document(
        &mut self,
        entity_keys: impl IntoIterator<Item = String>,
        terms: impl IntoIterator<Item = String>,
    ) {
        let mut keys: Vec<String> = entity_keys
            .into_iter()
            .map(|k| format!("{ENTITY_PREFIX}{k}"))
            .chain(terms.into_iter().map(|t| format!("{TERM_PREFIX}{t}")))
            .collect();
        keys.sort_unstable();
        keys.dedup();
        self.docs += 1;
        for k in keys {
            *self.df.entry(k).or_insert(0) += 1;
        }
    }

    /// Counts one article, extracting its features as [`group`](super::group) does. Prefer
    /// [`add_articles`](Self::add_articles) for a batch: it also gives an article without a
    /// detected language its outlet's language, as grouping does.
    pub fn add_article(&mut self, article: &StoryArticle) {
        self.add_articles(std::slice::from_ref(article));
    }

    /// Counts a batch of articles exactly as [`group`](super::group) extracts their features: an
    /// article without a detected language takes the non-English language its outlet's other
    /// articles in the batch were detected in, so that function words of short undetected items
    /// ("ng", "sa") are not counted as rare words.
    pub fn add_articles(&mut self, articles: &[StoryArticle]) {
        let outlet_language = outlet_languages(articles);
        for a in articles {
            let language = a
                .language
                .or_else(|| outlet_language.get(a.outlet).copied());
            let terms = article_terms(a.title, a.text, language);
            self.add_document(a.entities.iter().map(|e| e.key()), terms);
        }
    }

    /// Number of documents counted.
    pub fn docs(&self) -> u64 {
        self.docs
    }

    /// Document frequency of a namespaced key (`e:…` / `t:…`).
    pub fn df(&self, key: &str) -> u64 {
        self.df.get(key).copied().unwrap_or(0)
    }

    /// All counts, sorted by key, for persisting.
    pub fn counts(&self) -> Vec<(String, u64)> {
        let mut v: Vec<(String, u64)> = self.df.iter().map(|(k, n)| (k.clone(), *n)).collect();
        v.sort_unstable();
        v
    }
}

/// Per outlet, the language other than English its articles in the window were most often
/// detected in (ties to the smaller code). An article whose language was not detected (short
/// titles often are not) is taken to be in it for stop words: an outlet that writes in Tagalog
/// does so in its undetected items too, and its English items lose only a few short words.
pub(crate) fn outlet_languages<'a>(articles: &[StoryArticle<'a>]) -> FastMap<&'a str, &'a str> {
    let mut counts: FastMap<(&'a str, &'a str), usize> = FastMap::default();
    for a in articles {
        if let Some(l) = a.language.filter(|&l| l != "en") {
            *counts.entry((a.outlet, l)).or_insert(0) += 1;
        }
    }
    let mut best: FastMap<&'a str, (&'a str, usize)> = FastMap::default();
    for ((outlet, l), n) in counts {
        let e = best.entry(outlet).or_insert((l, n));
        if n > e.1 || (n == e.1 && l < e.0) {
            *e = (l, n);
        }
    }
    best.into_iter().map(|(o, (l, _))| (o, l)).collect()
}

/// A small fast hasher (FxHash) for the internal maps; iteration order is never used for output.
#[derive(Default, Clone, Copy)]
pub(crate) struct FxHasher(u64);

impl Hasher for FxHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            self.add(u64::from_le_bytes(b));
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.add(i as u64);
    }
    fn write_u32(&mut self, i: u32) {
        self.add(i as u64);
    }
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
}

impl FxHasher {
    #[inline]
    fn add(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

/// HashMap with [`FxHasher`].
pub(crate) type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// [`crate::model::fold_key`] with a fast path for ASCII names (same result).
pub(crate) fn entity_key(name: &str, out: &mut String) {
    out.clear();
    if !name.is_ascii() {
        out.push_str(&crate::model::fold_key(name));
        return;
    }
    let mut last_space = true;
    for b in name.bytes() {
        match b {
            b'.' => {}
            b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c | b'_' => {
                if !last_space {
                    out.push(' ');
                    last_space = true;
                }
            }
            b'`' => {
                out.push('\'');
                last_space = false;
            }
            _ => {
                out.push(b.to_ascii_lowercase() as char);
                last_space = false;
            }
        }
    }
    if out.ends_with(' ') {
        out.pop();
    }
}

/// The distinct terms of an article as used for grouping: title terms plus lead terms.
/// `language` (ISO 639-1, as detected at ingest) adds that language's stop words.
pub fn article_terms(title: &str, text: &str, language: Option<&str>) -> Vec<String> {
    let mut v = terms_in(title, language);
    v.extend(terms_in(lead(text), language));
    v.sort_unstable();
    v.dedup();
    v
}

/// The lead of a text: its first paragraph, cut to about 60 words.
pub fn lead(text: &str) -> &str {
    let text = text.trim_start();
    let para = text.split("\n\n").next().unwrap_or("");
    let mut words = 0;
    let mut in_word = false;
    for (i, c) in para.char_indices() {
        if c.is_whitespace() {
            if in_word {
                words += 1;
                if words >= 60 {
                    return &para[..i];
                }
            }
            in_word = false;
        } else {
            in_word = true;
        }
    }
    para
}

/// Lower-cased, stop-word-free, lightly stemmed word tokens of `s` (in order, with repeats).
pub fn terms(s: &str) -> Vec<String> {
    terms_in(s, None)
}

/// [`terms`] of a text in `language` (ISO 639-1): that language's stop words are dropped too.
pub fn terms_in(s: &str, language: Option<&str>) -> Vec<String> {
    let mut out = Vec::new();
    let mut buf = String::new();
    for_each_term(s, language, &mut buf, |t| out.push(t.to_string()));
    out
}

/// Calls `f` with each term of `s` as [`terms_in`] returns them, without allocating per word:
/// `buf` is the scratch space the term is built in.
pub(crate) fn for_each_term(
    s: &str,
    language: Option<&str>,
    buf: &mut String,
    mut f: impl FnMut(&str),
) {
    let foreign = language.and_then(foreign_stopwords);
    for w in s.split(|c: char| !c.is_alphanumeric()) {
        if w.is_empty() {
            continue;
        }
        lower_into(w, buf);
        if buf.chars().count() < 2
            || is_stopword(buf)
            || foreign.is_some_and(|set| set.contains(buf.as_str()))
        {
            continue;
        }
        if buf.bytes().all(|b| b.is_ascii_digit()) {
            // years, amounts and flight numbers are informative; days of the month, counts and
            // the "19" of "Covid-19" are not
            if buf.len() >= 3 {
                f(buf);
            }
        } else {
            stem_in_place(buf);
            f(buf);
        }
    }
}

/// `w` lower-cased into `buf` (an ASCII fast path; otherwise [`str::to_lowercase`]).
pub(crate) fn lower_into(w: &str, buf: &mut String) {
    buf.clear();
    if w.is_ascii() {
        buf.push_str(w);
        buf.make_ascii_lowercase();
    } else {
        buf.push_str(&w.to_lowercase());
    }
}

/// Lower-cased alphanumeric word tokens (apostrophes and other punctuation split words).
pub(crate) fn words(s: &str) -> impl Iterator<Item = &str> + '_ {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
}

/// Calls `f` with each lower-cased word of `s` (see [`words`]), built in `buf`.
pub(crate) fn for_each_word(s: &str, buf: &mut String, mut f: impl FnMut(&str)) {
    for w in words(s) {
        lower_into(w, buf);
        f(buf);
    }
}

/// [`stem_in_place`] on an owned word (tests).
#[cfg(test)]
pub(crate) fn stem(mut w: String) -> String {
    stem_in_place(&mut w);
    w
}

/// Harman's "S" stemmer, in place: folds regular plurals only, which is safe for names and
/// headlines.
pub(crate) fn stem_in_place(w: &mut String) {
    let n = w.len();
    if n > 4 && w.ends_with("ies") && !w.ends_with("eies") && !w.ends_with("aies") {
        w.truncate(n - 3);
        w.push('y');
    } else if n > 3
        && w.ends_with("es")
        && !w.ends_with("aes")
        && !w.ends_with("ees")
        && !w.ends_with("oes")
    {
        w.truncate(n - 1);
        // "taxes", "matches", "crashes", "classes": the "e" belongs to the plural
        if ["xe", "sse", "che", "she", "zze"]
            .iter()
            .any(|s| w.ends_with(s))
        {
            w.pop();
        }
    } else if n > 3 && w.ends_with('s') && !w.ends_with("us") && !w.ends_with("ss") {
        w.truncate(n - 1);
    }
}

/// English word frequencies (per word of running text) from `data/wordfreq/en.tsv`, keyed as
/// terms are (lower case, plurals folded by [`stem_in_place`]; the forms that fold together add up).
fn word_frequencies() -> &'static FastMap<String, f32> {
    static TABLE: &str = include_str!("../../data/wordfreq/en.tsv");
    static MAP: OnceLock<FastMap<String, f32>> = OnceLock::new();
    MAP.get_or_init(|| {
        let mut map: FastMap<String, f32> = FastMap::default();
        let mut buf = String::new();
        for line in TABLE.lines().filter(|l| !l.starts_with('#')) {
            let Some((word, cb)) = line.split_once('\t') else {
                continue;
            };
            let Ok(cb) = cb.trim().parse::<f32>() else {
                continue;
            };
            lower_into(word, &mut buf);
            if !buf.bytes().all(|b| b.is_ascii_digit()) {
                stem_in_place(&mut buf);
            }
            *map.entry(buf.clone()).or_insert(0.0) += 10f32.powf(-cb / 100.0);
        }
        map
    })
}

/// How often a feature is expected in a news article of about `words` words (title and lead)
/// by general English usage: `1 - exp(-words * frequency)` for terms and one-word entities found
/// in the word-frequency table, 0 for anything rarer or longer.
pub(crate) fn prior_doc_frequency(key: &str, words: f32) -> f32 {
    let word = if let Some(t) = key.strip_prefix(TERM_PREFIX) {
        std::borrow::Cow::Borrowed(t)
    } else if let Some(e) = key.strip_prefix(ENTITY_PREFIX) {
        if e.contains(' ') {
            return 0.0;
        }
        let mut w = e.to_string();
        stem_in_place(&mut w);
        std::borrow::Cow::Owned(w)
    } else {
        return 0.0;
    };
    match word_frequencies().get(word.as_ref()) {
        Some(&f) => 1.0 - (-words * f).exp(),
        None => 0.0,
    }
}

/// Stop words of a language other than English (ISO 639-1 code), from the stopwords-iso lists
/// of the `stop-words` crate; `None` for English (our own list, [`STOPWORDS`], is tuned for
/// news and keeps words the ISO English list drops, such as "world" or "home") and for
/// languages without a list. Function words of another language ("ng", "sa" in Tagalog) would
/// otherwise link unrelated reports of the outlets that write in it.
fn foreign_stopwords(language: &str) -> Option<&'static HashSet<&'static str>> {
    type Sets = FastMap<&'static str, HashSet<&'static str>>;
    static SETS: OnceLock<Sets> = OnceLock::new();
    if language == "en" {
        return None;
    }
    SETS.get_or_init(|| {
        stop_words::available_languages()
            .iter()
            .filter(|&&l| l != "en")
            .filter_map(|&l| Some((l, stop_words::lookup(l)?.iter().copied().collect())))
            .collect()
    })
    .get(language)
}

fn is_stopword(w: &str) -> bool {
    static SET: OnceLock<HashSet<&'static str, BuildHasherDefault<FxHasher>>> = OnceLock::new();
    // short-circuit on length: every stop word has 2..=10 bytes
    (2..=10).contains(&w.len())
        && SET
            .get_or_init(|| STOPWORDS.iter().copied().collect())
            .contains(w)
}

/// English function words, news boilerplate ("new", "update", "video"), reporting verbs, and
/// date words — month and weekday names, "today", "tonight", "yesterday", "tomorrow" (a date says
/// when, not what; the time factor handles when). Sorted.
const STOPWORDS: &[&str] = &[
    "about",
    "above",
    "after",
    "again",
    "against",
    "all",
    "also",
    "am",
    "amid",
    "an",
    "and",
    "anti",
    "any",
    "apr",
    "april",
    "are",
    "as",
    "at",
    "aug",
    "august",
    "be",
    "because",
    "been",
    "before",
    "being",
    "below",
    "between",
    "both",
    "but",
    "by",
    "can",
    "could",
    "dec",
    "december",
    "did",
    "do",
    "does",
    "doing",
    "down",
    "during",
    "each",
    "ex",
    "feb",
    "february",
    "few",
    "for",
    "friday",
    "from",
    "further",
    "had",
    "has",
    "have",
    "having",
    "he",
    "her",
    "here",
    "hers",
    "herself",
    "him",
    "himself",
    "his",
    "how",
    "if",
    "in",
    "into",
    "is",
    "it",
    "its",
    "itself",
    "jan",
    "january",
    "jul",
    "july",
    "jun",
    "june",
    "just",
    "latest",
    "live",
    "mar",
    "march",
    "may",
    "me",
    "might",
    "monday",
    "more",
    "most",
    "mr",
    "mrs",
    "ms",
    "multi",
    "must",
    "my",
    "myself",
    "new",
    "news",
    "no",
    "non",
    "nor",
    "not",
    "nov",
    "november",
    "now",
    "oct",
    "october",
    "of",
    "off",
    "on",
    "once",
    "only",
    "or",
    "other",
    "our",
    "ours",
    "ourselves",
    "out",
    "over",
    "own",
    "pre",
    "said",
    "same",
    "saturday",
    "say",
    "says",
    "semi",
    "sep",
    "sept",
    "september",
    "she",
    "should",
    "so",
    "some",
    "such",
    "sunday",
    "than",
    "that",
    "the",
    "their",
    "theirs",
    "them",
    "themselves",
    "then",
    "there",
    "these",
    "they",
    "this",
    "those",
    "through",
    "thursday",
    "to",
    "today",
    "tomorrow",
    "tonight",
    "too",
    "tuesday",
    "under",
    "until",
    "up",
    "update",
    "upon",
    "us",
    "very",
    "via",
    "video",
    "was",
    "watch",
    "we",
    "wednesday",
    "were",
    "what",
    "when",
    "where",
    "which",
    "while",
    "who",
    "whom",
    "why",
    "will",
    "with",
    "would",
    "yesterday",
    "you",
    "your",
    "yours",
    "yourself",
    "yourselves",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stopwords_are_sorted_for_binary_search() {
        assert!(STOPWORDS.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn plural_stemming_folds_regular_plurals() {
        assert_eq!(stem("stories".into()), "story");
        assert_eq!(stem("taxes".into()), "tax");
        assert_eq!(stem("prices".into()), "price");
        assert_eq!(stem("tax".into()), "tax");
        assert_eq!(stem("jets".into()), "jet");
        assert_eq!(stem("bus".into()), "bus");
        assert_eq!(stem("glass".into()), "glass");
        assert_eq!(
            terms("The Jets' missiles, 2014"),
            vec!["jet", "missile", "2014"]
        );
    }

    #[test]
    fn entity_key_fast_path_matches_fold_key() {
        let mut k = String::new();
        for name in [
            "U.S.",
            "  Vladimir   Putin ",
            "AT&T_Inc",
            "O`Brien",
            "Zoë Ball",
            "a.b. c",
        ] {
            entity_key(name, &mut k);
            assert_eq!(k, crate::model::fold_key(name), "{name}");
        }
    }

    #[test]
    fn lead_takes_first_paragraph() {
        assert_eq!(lead("  One two.\n\nThree."), "One two.");
    }

    #[test]
    fn prior_knows_everyday_words_from_names() {
        let p = |k: &str| prior_doc_frequency(k, 40.0);
        // everyday words are expected in many articles, rarer words and names in few
        assert!(
            p("t:available") > 10.0 * p("t:submarine"),
            "{}",
            p("t:available")
        );
        assert!(p("t:said") > 0.02);
        assert_eq!(p("t:zqxjvw"), 0.0);
        // plurals fold into the stemmed key: "tests" adds to "test"
        assert!(p("t:test") > p("t:tests"));
        // one-word entities use the table, longer names are taken as rare
        assert!(p("e:australia") > 0.0);
        assert_eq!(p("e:gabby petito"), 0.0);
    }

    #[test]
    fn background_batch_gives_undetected_items_their_outlets_language() {
        let art = |title: &'static str, language: Option<&'static str>| StoryArticle {
            id: 0,
            title,
            text: "",
            outlet: "GMA",
            url: None,
            published: 0,
            entities: &[],
            language,
        };
        let batch = [
            art("Mga mall sa Maynila dinagsa ng mga mamimili", Some("tl")),
            art("Hitman na sangkot sa pamamaril, huli ng pulisya", None),
        ];
        let mut one_by_one = Background::new();
        for a in &batch {
            one_by_one.add_article(a);
        }
        assert_eq!(
            one_by_one.df("t:ng"),
            1,
            "the undetected item alone keeps 'ng'"
        );
        let mut bg = Background::new();
        bg.add_articles(&batch);
        assert_eq!(bg.docs(), 2);
        assert_eq!(bg.df("t:ng"), 0);
        assert_eq!(bg.df("t:sa"), 0);
        assert_eq!(bg.df("t:hitman"), 1);
    }

    #[test]
    fn hyphenated_prefixes_are_not_words() {
        // "anti" of "anti-lockdown" and of "anti-nuclear" is not a shared topic
        assert_eq!(terms("anti-lockdown protesters"), ["lockdown", "protester"]);
        assert_eq!(terms("non-profit ex-husband"), ["profit", "husband"]);
    }

    #[test]
    fn stop_words_of_the_article_language_are_dropped() {
        let tl = "Mga mall sa Metro Manila dinagsa ng mga tao";
        assert_eq!(
            terms_in(tl, Some("tl")),
            ["mall", "metro", "manila", "dinagsa", "tao"]
        );
        // without the language only English stop words go
        assert!(terms(tl).contains(&"ng".to_string()));
        // English keeps its own news-tuned list ("world" is a stop word in the ISO English list)
        assert_eq!(terms_in("World news", Some("en")), ["world"]);
        // unknown languages fall back to English only
        assert_eq!(terms_in("World news", Some("xx")), ["world"]);
    }
}
