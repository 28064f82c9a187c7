//! The CPU side of ingesting one fetched feed body, run on the CPU pool ([`super::cpu`]), never on
//! the async reactor: parse → key every entry from the raw entry → one lookup of all keys in the
//! store → normalise, strip boilerplate (found over the whole fetch), detect languages and tag only the entries that are new or changed →
//! an [`IngestBatch`] for the writer.
//!
//! An entry's key is its canonical URL, else its guid, else (no link, no guid) the fingerprint of
//! the raw entry; an entry is changed when its fingerprint ([`normalize::fingerprint`]: every
//! field normalising reads, the `updated` time included) differs from the stored one. So a feed
//! fetched again without validators costs a parse and one lookup per entry.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use jiff::Timestamp;
use rayon::prelude::*;

use crate::feed::RawEntry;
use crate::model::Article;
use crate::normalize;
use crate::store::{EntryProbe, IngestBatch, KnownArticle, NewArticle, Store, StoreError};

/// One fetched body to prepare.
pub(super) struct FeedBody {
    pub feed: String,
    pub url: String,
    pub final_url: String,
    pub body: Vec<u8>,
    pub now: Timestamp,
    /// The feed's `max_items`: items read, the newest first.
    pub max_items: usize,
}

/// What preparing one body gave.
#[derive(Debug, Default)]
pub(super) struct Prepared {
    /// Entries in the feed.
    pub entries: usize,
    /// Entries normalised, language-detected and tagged this time (new or changed).
    pub tagged: usize,
    /// Articles whose language was taken from the feed's settled language (no trigram scoring).
    pub languages_inferred: usize,
    pub batch: IngestBatch,
}

/// Why a body could not be prepared.
pub(super) enum PrepareError {
    /// The feed's own fault (not a feed, unparsable): recorded as the feed's failure.
    Feed(String),
    Store(StoreError),
}

/// Parses, looks up, normalises and tags one fetched body. CPU-bound: call it on the CPU pool.
pub(super) fn prepare(job: FeedBody, store: &Arc<Mutex<Store>>) -> Result<Prepared, PrepareError> {
    crate::testhook::panic_at("prepare", &job.feed);
    let FeedBody {
        feed,
        url,
        final_url,
        body,
        now,
        max_items,
    } = job;
    let limits = crate::feed::ParseLimits { max_items };
    let parsed = match crate::feed::parse_with(&body, &final_url, &limits) {
        Ok(p) => p,
        // A valid channel with no items right now is a successful fetch, not a failure.
        Err(crate::feed::FeedError::Empty) => return Ok(Prepared::default()),
        Err(e) => return Err(PrepareError::Feed(format!("feed `{feed}` ({url}): {e}"))),
    };
    drop(body);
    if parsed.items_over_limit > 0 {
        tracing::info!(
            feed = %feed,
            "{} usable items, the oldest {} beyond max_items = {max_items} not read",
            crate::feed::thousands(parsed.items_total.saturating_sub(parsed.items_empty)),
            crate::feed::thousands(parsed.items_over_limit),
        );
    }
    let entries = parsed.entries;
    let probes = probes(&entries, &final_url);
    let knowledge = {
        let guard = match store.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        guard
            .known_entries(&feed, &probes)
            .map_err(PrepareError::Store)?
    };
    let mut batch = IngestBatch::default();
    let mut todo: Vec<Todo> = Vec::new();
    for (i, (probe, known)) in probes.iter().zip(&knowledge.known).enumerate() {
        match sort_entry(probe, known.as_ref()) {
            Fate::New => todo.push((i, None)),
            Fate::Changed(id) => todo.push((i, Some(id))),
            Fate::Unchanged { link, record } => {
                if let Some(id) = link {
                    batch.link.push(id);
                }
                if let Some(r) = record {
                    batch.fingerprints.push(r);
                }
            }
        }
    }
    let declared = entries.iter().find_map(|e| e.language.clone());
    let settled = normalize::settled_language(&knowledge.recent_languages).map(str::to_string);
    let work = Work {
        feed: &feed,
        base: &final_url,
        now,
        declared: declared.as_deref(),
        settled: settled.as_deref(),
    };
    let (articles, inferred) = work.articles(&entries, &probes, &todo);
    let tagged = articles.len();
    for (a, (_, changed)) in articles {
        match changed {
            Some(id) => batch.changed.push((id, a)),
            None => batch.new.push(a),
        }
    }
    Ok(Prepared {
        entries: entries.len(),
        tagged,
        languages_inferred: inferred,
        batch,
    })
}

/// The store probe (key, fingerprint) of every entry, from the raw entries alone.
fn probes(entries: &[RawEntry], base: &str) -> Vec<EntryProbe> {
    entries
        .par_iter()
        .map(|e| EntryProbe {
            key: normalize::raw_key(e, base),
            fingerprint: normalize::fingerprint(e),
        })
        .collect()
}

/// What to do with one entry.
enum Fate {
    New,
    /// Known under its key, but its entry changed: normalise again and update article `id`.
    Changed(i64),
    /// Known and unchanged: at most link it to this feed and record its fingerprint.
    Unchanged {
        link: Option<i64>,
        record: Option<(i64, i64)>,
    },
}

fn sort_entry(probe: &EntryProbe, known: Option<&KnownArticle>) -> Fate {
    let Some(k) = known else {
        return Fate::New;
    };
    let link = (!k.linked).then_some(k.id);
    match k.fingerprint {
        Some(f) if f == probe.fingerprint => Fate::Unchanged { link, record: None },
        // Stored before fingerprints were kept: take it as unchanged and remember this one.
        None => Fate::Unchanged {
            link,
            record: Some((k.id, probe.fingerprint)),
        },
        Some(_) => Fate::Changed(k.id),
    }
}

/// An entry to normalise: its index in the feed, and the stored article it updates when changed.
type Todo = (usize, Option<i64>);

/// The expensive path for the entries that need it.
struct Work<'a> {
    feed: &'a str,
    base: &'a str,
    now: Timestamp,
    declared: Option<&'a str>,
    settled: Option<&'a str>,
}

impl Work<'_> {
    /// Normalises the `todo` entries (index, stored id when changed) in parallel, detects their
    /// languages as one fetch of the feed, and tags them in parallel. Returns the articles with
    /// their `todo` row, and how many languages were inferred from the feed's settled language.
    fn articles(
        &self,
        entries: &[RawEntry],
        probes: &[EntryProbe],
        todo: &[Todo],
    ) -> (Vec<(NewArticle, Todo)>, usize) {
        // 1. Normalise (HTML → text, sanitised excerpt, canonical URL, key).
        let normalised: Vec<Option<Article>> = todo
            .par_iter()
            .map(|&(i, _)| normalize::normalize_text(&entries[i], self.feed, self.base, self.now))
            .collect();
        let mut seen = HashSet::new();
        let mut articles = Vec::with_capacity(todo.len());
        let mut rows = Vec::with_capacity(todo.len());
        for (a, row) in normalised.into_iter().zip(todo) {
            // One article per key and fetch: a feed listing an entry twice keeps the first.
            if let Some(a) = a
                && seen.insert(a.key.clone())
            {
                articles.push(a);
                rows.push(*row);
            }
        }
        // 2. Boilerplate, found over the whole fetch: the known entries' text counts too.
        self.strip_boilerplate(entries, todo, &mut articles);
        // 3. Languages, as one fetch of this feed (cheap when the feed is settled).
        let languages = normalize::detect_languages(&mut articles, self.declared, self.settled);
        // 4. Entities.
        articles.par_iter_mut().for_each(|a| {
            a.entities = crate::ner::tag_article(&a.title, &a.text);
        });
        let out = articles
            .into_iter()
            .zip(rows)
            .map(|(article, row)| {
                let new = NewArticle {
                    article,
                    fingerprint: Some(probes[row.0].fingerprint),
                };
                (new, row)
            })
            .collect();
        (out, languages.inferred)
    }

    /// Strips the fetch's boilerplate ([`normalize::Boilerplate`]) from `articles` (the normalised
    /// entries of `todo`). Found over every entry of the fetch, so a feed whose
    /// other items are already stored still has its recurring lines recognised.
    fn strip_boilerplate(&self, entries: &[RawEntry], todo: &[Todo], articles: &mut [Article]) {
        if articles.is_empty() {
            return;
        }
        let normalised: HashSet<usize> = todo.iter().map(|&(i, _)| i).collect();
        let mut texts: Vec<String> = (0..entries.len())
            .into_par_iter()
            .filter(|i| !normalised.contains(i))
            .map(|i| normalize::entry_text(&entries[i]))
            .collect();
        texts.extend(articles.iter().map(|a| a.text.clone()));
        let bp = normalize::Boilerplate::find(&texts);
        if !bp.found().is_empty() {
            tracing::debug!(feed = %self.feed, found = bp.found().len(), items = texts.len(), "boilerplate");
        }
        for a in articles.iter_mut() {
            a.text = bp.strip(&a.text);
        }
    }
}
