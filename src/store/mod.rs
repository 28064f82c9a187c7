//! SQLite persistence: versioned migrations, feeds with their HTTP cache state and health, articles
//! with their entities, which feed saw which article, the digest outbox, deliveries, and persisted stories.
//!
//! The store knows nothing of rendering or delivery: a digest is stored as an opaque JSON document, and
//! deliveries are rows with a target string and a status. Every multi-row change runs in a transaction,
//! so a crash at any point loses nothing and duplicates nothing on restart.

mod background;
mod open;
mod retention;
mod schema;

use std::path::{Path, PathBuf};

use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use crate::model::{Article, Entity, EntityKind, fold_key};

pub use open::{DATABASE_FILE, InstanceLock, LOCK_FILE, check_state_dir, ensure_state_dir};
pub use retention::{RetentionReport, horizon as retention_horizon};

/// Errors of the store. Every one names the database file (or the state directory) and, for a
/// failed statement, what the store was doing.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("state directory {}: {message}", path.display())]
    StateDir { path: PathBuf, message: String },
    #[error("{}", locked_message(dir, *pid))]
    Locked { dir: PathBuf, pid: Option<u32> },
    #[error("database {}: {reason}", path.display())]
    Unusable { path: PathBuf, reason: String },
    #[error("database {}: schema migration failed: {cause}", path.display())]
    Migration {
        path: PathBuf,
        cause: rusqlite_migration::Error,
    },
    #[error("database {}: {what}: {cause}", path.display())]
    Sql {
        path: PathBuf,
        what: String,
        cause: rusqlite::Error,
    },
    #[error("database {}: {what}: corrupt JSON ({field}): {cause}", path.display())]
    Json {
        path: PathBuf,
        what: String,
        field: &'static str,
        cause: serde_json::Error,
    },
}

fn locked_message(dir: &Path, pid: Option<u32>) -> String {
    match pid {
        Some(pid) => format!(
            "another digestif is running (pid {pid}) with the state directory {}",
            dir.display()
        ),
        None => format!(
            "another digestif is running with the state directory {}",
            dir.display()
        ),
    }
}

impl StoreError {
    /// True when the database file itself is unusable (empty, foreign, damaged, too new).
    pub fn is_unusable(&self) -> bool {
        matches!(self, StoreError::Unusable { .. })
    }
}

type Result<T> = std::result::Result<T, StoreError>;

/// What failed inside an operation, before the database path and the operation are attached.
enum Fail {
    Sql(rusqlite::Error),
    Json(&'static str, serde_json::Error),
}

impl From<rusqlite::Error> for Fail {
    fn from(e: rusqlite::Error) -> Self {
        Fail::Sql(e)
    }
}

fn json_err(field: &'static str) -> impl FnOnce(serde_json::Error) -> Fail {
    move |e| Fail::Json(field, e)
}

type FResult<T> = std::result::Result<T, Fail>;

/// Cache and health state of one feed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FeedState {
    pub name: String,
    pub url: String,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub last_fetch: Option<Timestamp>,
    pub last_success: Option<Timestamp>,
    pub last_error: Option<String>,
    pub last_error_at: Option<Timestamp>,
    pub consecutive_failures: u32,
    pub next_attempt: Option<Timestamp>,
    pub items_seen: u64,
}

/// What a successful fetch changes in a feed's state.
#[derive(Debug, Clone, Default)]
pub struct FetchSuccess {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    /// Whether the validators should be replaced (false on 304: keep the stored ones).
    pub replace_validators: bool,
}

/// An article as loaded back from the store.
#[derive(Debug, Clone)]
pub struct StoredArticle {
    pub id: i64,
    pub first_seen: Timestamp,
    /// Every configured feed that has carried this article, first one first.
    pub feeds: Vec<String>,
    pub article: Article,
}

/// A digest in the outbox.
#[derive(Debug, Clone)]
pub struct StoredDigest {
    pub id: i64,
    pub name: String,
    pub built_at: Timestamp,
    pub window_start: Timestamp,
    pub window_end: Timestamp,
    pub story_count: u32,
    pub article_count: u32,
    pub json: String,
}

/// A digest of the outbox without its JSON (for `status`).
#[derive(Debug, Clone)]
pub struct DigestSummary {
    pub id: i64,
    pub name: String,
    pub built_at: Timestamp,
    pub story_count: u32,
    pub article_count: u32,
}

/// One delivery of one digest to one target (`email:a@b,c@d`, `file:/dir`).
#[derive(Debug, Clone)]
pub struct Delivery {
    pub id: i64,
    pub digest_id: i64,
    pub target: String,
    pub status: String,
    pub attempts: u32,
    pub next_attempt: Timestamp,
    pub last_error: Option<String>,
    /// When the message body was last handed to the server (a crash or timeout after that
    /// leaves the delivery `uncertain`: it may have arrived).
    pub body_sent_at: Option<Timestamp>,
}

/// A story persisted for continuity across digests.
#[derive(Debug, Clone)]
pub struct StoredStory {
    pub id: i64,
    pub headline: String,
    pub first_headline: String,
    pub signature: Vec<(String, f32)>,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    pub days: u32,
}

/// The new digest to put in the outbox, with everything that must change atomically with it.
#[derive(Debug, Clone)]
pub struct NewDigest<'a> {
    pub name: &'a str,
    pub built_at: Timestamp,
    pub window_start: Timestamp,
    pub window_end: Timestamp,
    /// Highest `article_feeds.id` considered; the next build starts after it.
    pub cursor: i64,
    pub story_count: u32,
    pub article_ids: &'a [i64],
    pub json: &'a str,
    /// Delivery targets; empty when nothing is to be delivered (e.g. an empty digest not sent).
    pub targets: &'a [String],
    /// Stories to insert (id None) or update (id Some).
    pub stories: &'a [StoryUpsert],
}

/// A story row to insert or update at digest build.
#[derive(Debug, Clone)]
pub struct StoryUpsert {
    pub id: Option<i64>,
    pub headline: String,
    pub first_headline: String,
    pub signature: Vec<(String, f32)>,
    pub first_seen: Timestamp,
    pub days: u32,
}

/// Delivery states. `uncertain`: the server took the message body but its confirmation never
/// came (timeout, dropped connection, crash); the message may have arrived, so it is not sent
/// again before [`UNCERTAIN_RETRY`] has passed.
pub const DELIVERY_STATUSES: &[&str] = &["pending", "sending", "sent", "failed", "uncertain"];

/// How long an `uncertain` delivery waits before it is tried again (a second copy is possible
/// then; most mail clients show one because the Message-ID is the same).
pub const UNCERTAIN_RETRY: std::time::Duration = std::time::Duration::from_secs(12 * 3600);

/// What ingest knows of a feed entry before normalising it: its key when the raw entry tells it
/// (canonical URL or `guid:`), and the fingerprint of the raw entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryProbe {
    pub key: Option<String>,
    pub fingerprint: i64,
}

/// A stored article an entry matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownArticle {
    pub id: i64,
    /// The fingerprint of the entry it was made from (None: stored before fingerprints were kept).
    pub fingerprint: Option<i64>,
    /// Whether it is already linked to the feed being ingested.
    pub linked: bool,
}

/// The answer of [`Store::known_entries`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FeedKnowledge {
    /// One per probe, in order.
    pub known: Vec<Option<KnownArticle>>,
    /// Languages of the feed's most recent articles (at most [`RECENT_LANGUAGES`]), newest first.
    pub recent_languages: Vec<Option<String>>,
}

/// How many of a feed's recent articles [`Store::known_entries`] reports the languages of.
pub const RECENT_LANGUAGES: usize = 40;

/// An article to store, with the fingerprint of the entry it was made from.
#[derive(Debug, Clone)]
pub struct NewArticle {
    pub article: Article,
    pub fingerprint: Option<i64>,
}

/// What one fetch of one feed brings to the store.
#[derive(Debug, Clone, Default)]
pub struct IngestBatch {
    /// Articles whose key the store did not know.
    pub new: Vec<NewArticle>,
    /// Known articles whose entry changed: (stored id, new version).
    pub changed: Vec<(i64, NewArticle)>,
    /// Known, unchanged articles not yet linked to this feed.
    pub link: Vec<i64>,
    /// Known articles stored without a fingerprint: (id, fingerprint) to record.
    pub fingerprints: Vec<(i64, i64)>,
}

/// What [`Store::ingest_batch`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IngestCounts {
    /// Articles new to the store.
    pub new: usize,
    /// Stored articles updated to a newer version of their entry.
    pub changed: usize,
}

fn known_row(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<KnownArticle> {
    Ok(KnownArticle {
        id: r.get(at)?,
        fingerprint: r.get(at + 1)?,
        linked: r.get(at + 2)?,
    })
}

fn json_list<T: serde::Serialize>(items: &[T]) -> FResult<String> {
    serde_json::to_string(items).map_err(json_err("lookup list"))
}

fn entities_json(entities: &[Entity]) -> FResult<String> {
    serde_json::to_string(entities).map_err(json_err("article entities"))
}

/// The SQLite store.
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

fn ts(secs: i64) -> Timestamp {
    Timestamp::from_second(secs).unwrap_or(Timestamp::UNIX_EPOCH)
}

fn ots(v: Option<i64>) -> Option<Timestamp> {
    v.map(ts)
}

fn day_of(t: Timestamp) -> i64 {
    t.as_second().div_euclid(86_400)
}

fn add_secs(t: Timestamp, d: std::time::Duration) -> Timestamp {
    let secs = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
    t.checked_add(jiff::SignedDuration::from_secs(secs))
        .unwrap_or(Timestamp::MAX)
}

impl Store {
    /// Opens (creating if needed) `state_dir/digestif.sqlite3`; see [`Store::open`]. Does not
    /// take the [`InstanceLock`]: writers take it first.
    pub fn open_in(state_dir: &Path) -> Result<Store> {
        ensure_state_dir(state_dir)?;
        Self::open(&state_dir.join(DATABASE_FILE))
    }

    /// Opens the database file at `path`, creating it (atomically) when it does not exist. A
    /// zero-byte, foreign (not SQLite, or another program's SQLite) or damaged file (`PRAGMA
    /// quick_check`) is refused with [`StoreError::Unusable`], never reset. Then WAL mode and the
    /// migrations.
    pub fn open(path: &Path) -> Result<Store> {
        let conn = open::open_checked(path)?;
        Ok(Store {
            conn,
            path: path.to_path_buf(),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Attaches the database path and what was being done to a failure.
    fn ctx<T>(&self, what: impl FnOnce() -> String, r: FResult<T>) -> Result<T> {
        r.map_err(|f| match f {
            Fail::Sql(cause) => StoreError::Sql {
                path: self.path.clone(),
                what: what(),
                cause,
            },
            Fail::Json(field, cause) => StoreError::Json {
                path: self.path.clone(),
                what: what(),
                field,
                cause,
            },
        })
    }

    // ---------------------------------------------------------------- feeds

    /// Makes sure a row exists for each configured feed (keeps state of feeds whose URL is unchanged;
    /// resets HTTP validators when the URL changed).
    pub fn sync_feeds<'a>(
        &mut self,
        feeds: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<()> {
        let r = (|| -> FResult<()> {
            let tx = self.conn.transaction()?;
            for (name, url) in feeds {
                let old: Option<String> = tx
                    .query_row("SELECT url FROM feeds WHERE name = ?1", [name], |r| {
                        r.get(0)
                    })
                    .optional()?;
                match old {
                    None => {
                        tx.execute(
                            "INSERT INTO feeds(name, url) VALUES (?1, ?2)",
                            params![name, url],
                        )?;
                    }
                    Some(u) if u != url => {
                        tx.execute(
                            "UPDATE feeds SET url = ?2, etag = NULL, last_modified = NULL,
                             consecutive_failures = 0, next_attempt = NULL WHERE name = ?1",
                            params![name, url],
                        )?;
                    }
                    Some(_) => {}
                }
            }
            tx.commit()?;
            Ok(())
        })();
        self.ctx(|| "registering the configured feeds".into(), r)
    }

    /// The state of one feed, if known.
    pub fn feed_state(&self, name: &str) -> Result<Option<FeedState>> {
        let r = self
            .conn
            .query_row(
                "SELECT name, url, etag, last_modified, last_fetch, last_success, last_error, last_error_at,
                        consecutive_failures, next_attempt, items_seen FROM feeds WHERE name = ?1",
                [name],
                Self::feed_row,
            )
            .optional()
            .map_err(Fail::from);
        self.ctx(|| format!("reading the state of feed {name:?}"), r)
    }

    /// The state of every known feed, by name.
    pub fn feed_states(&self) -> Result<Vec<FeedState>> {
        let r = (|| -> FResult<Vec<FeedState>> {
            let mut st = self.conn.prepare(
                "SELECT name, url, etag, last_modified, last_fetch, last_success, last_error, last_error_at,
                        consecutive_failures, next_attempt, items_seen FROM feeds ORDER BY name",
            )?;
            let rows = st.query_map([], Self::feed_row)?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })();
        self.ctx(|| "reading the feed states".into(), r)
    }

    fn feed_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<FeedState> {
        Ok(FeedState {
            name: r.get(0)?,
            url: r.get(1)?,
            etag: r.get(2)?,
            last_modified: r.get(3)?,
            last_fetch: ots(r.get(4)?),
            last_success: ots(r.get(5)?),
            last_error: r.get(6)?,
            last_error_at: ots(r.get(7)?),
            consecutive_failures: r.get(8)?,
            next_attempt: ots(r.get(9)?),
            items_seen: r.get(10)?,
        })
    }

    /// Records a failed fetch or parse: health and the time of the next attempt (backoff).
    pub fn record_feed_failure(
        &mut self,
        name: &str,
        error: &str,
        now: Timestamp,
        next_attempt: Timestamp,
    ) -> Result<()> {
        let r = self
            .conn
            .execute(
                "UPDATE feeds SET last_fetch = ?2, last_error = ?3, last_error_at = ?2,
                 consecutive_failures = consecutive_failures + 1, next_attempt = ?4 WHERE name = ?1",
                params![name, now.as_second(), error, next_attempt.as_second()],
            )
            .map(|_| ())
            .map_err(Fail::from);
        self.ctx(|| format!("recording a failure of feed {name:?}"), r)
    }

    /// Stores the articles of one successful fetch and the feed's new cache state in one transaction.
    /// Returns the number of articles new to the store (an article already stored from another feed is
    /// linked to this feed too, but is not new; one removed by retention stays removed).
    pub fn ingest(
        &mut self,
        feed: &str,
        articles: &[Article],
        success: &FetchSuccess,
        now: Timestamp,
    ) -> Result<usize> {
        let batch = IngestBatch {
            new: articles
                .iter()
                .map(|a| NewArticle {
                    article: a.clone(),
                    fingerprint: None,
                })
                .collect(),
            ..IngestBatch::default()
        };
        Ok(self.ingest_batch(feed, &batch, success, now)?.new)
    }

    /// Stores what one successful fetch of `feed` brought, and the feed's new cache state, in one
    /// transaction: new articles inserted (or, when another feed stored them first, linked; one
    /// removed by retention stays removed), changed ones updated in place (text, language,
    /// entities; their first-seen and published times stay), unchanged known ones linked to this
    /// feed. The background counts follow in the same transaction: a new article's features are
    /// added, a changed article's old features replaced by its new ones.
    pub fn ingest_batch(
        &mut self,
        feed: &str,
        batch: &IngestBatch,
        success: &FetchSuccess,
        now: Timestamp,
    ) -> Result<IngestCounts> {
        let r = Self::ingest_tx(&mut self.conn, feed, batch, success, now);
        self.ctx(
            || {
                format!(
                    "storing {} new and {} changed articles of feed {feed:?}",
                    batch.new.len(),
                    batch.changed.len()
                )
            },
            r,
        )
    }

    fn ingest_tx(
        conn: &mut Connection,
        feed: &str,
        batch: &IngestBatch,
        success: &FetchSuccess,
        now: Timestamp,
    ) -> FResult<IngestCounts> {
        let tx = conn.transaction()?;
        let mut new: Vec<&Article> = Vec::new();
        for a in &batch.new {
            if Self::insert_article(&tx, feed, a, now)? {
                new.push(&a.article);
            }
        }
        background::add(&tx, &new, now)?;
        for (id, a) in &batch.changed {
            Self::update_article(&tx, *id, a, now)?;
        }
        {
            let mut link = tx.prepare_cached(
                "INSERT OR IGNORE INTO article_feeds(article_id, feed, seen_at) VALUES (?1, ?2, ?3)",
            )?;
            for id in batch.changed.iter().map(|(id, _)| id).chain(&batch.link) {
                link.execute(params![id, feed, now.as_second()])?;
            }
            let mut fp = tx.prepare_cached(
                "UPDATE articles SET fingerprint = ?2 WHERE id = ?1 AND fingerprint IS NULL",
            )?;
            for (id, f) in &batch.fingerprints {
                fp.execute(params![id, f])?;
            }
        }
        if success.replace_validators {
            tx.prepare_cached("UPDATE feeds SET etag = ?2, last_modified = ?3 WHERE name = ?1")?
                .execute(params![feed, success.etag, success.last_modified])?;
        }
        tx.prepare_cached(
            "UPDATE feeds SET last_fetch = ?2, last_success = ?2, last_error = NULL,
             consecutive_failures = 0, next_attempt = NULL, items_seen = items_seen + ?3 WHERE name = ?1",
        )?
        .execute(params![feed, now.as_second(), new.len() as i64])?;
        crate::testhook::pause("ingest-commit");
        tx.commit()?;
        Ok(IngestCounts {
            new: new.len(),
            changed: batch.changed.len(),
        })
    }

    fn insert_article(
        tx: &Transaction<'_>,
        feed: &str,
        new: &NewArticle,
        now: Timestamp,
    ) -> FResult<bool> {
        let a = &new.article;
        let existing: Option<i64> = tx
            .prepare_cached("SELECT id FROM articles WHERE key = ?1")?
            .query_row([&a.key], |r| r.get(0))
            .optional()?;
        // A second copy of the same entry under another key (same feed, same title, same text) is the
        // same article: some feeds rotate tracking ids in their links.
        let existing = match existing {
            Some(id) => Some(id),
            None => tx
                .prepare_cached(
                    "SELECT id FROM articles WHERE feed = ?1 AND title = ?2 AND text = ?3 LIMIT 1",
                )?
                .query_row(params![feed, a.title, a.text], |r| r.get(0))
                .optional()?,
        };
        let (id, is_new) = match existing {
            Some(id) => (id, false),
            None if retention::is_retired(tx, &a.key)? => return Ok(false),
            None => {
                tx.prepare_cached(
                    "INSERT INTO articles(key, feed, url, guid, title, text, html, author, published,
                                          first_seen, language, entities, fingerprint)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
                )?
                .execute(params![
                    a.key,
                    feed,
                    a.url,
                    a.guid,
                    a.title,
                    a.text,
                    a.html,
                    a.author,
                    a.published.as_second(),
                    now.as_second(),
                    a.language,
                    entities_json(&a.entities)?,
                    new.fingerprint
                ])?;
                let id = tx.last_insert_rowid();
                Self::insert_entities(tx, id, a, background::day_of_article(a, now))?;
                (id, true)
            }
        };
        tx.prepare_cached(
            "INSERT OR IGNORE INTO article_feeds(article_id, feed, seen_at) VALUES (?1, ?2, ?3)",
        )?
        .execute(params![id, feed, now.as_second()])?;
        Ok(is_new)
    }

    /// Replaces the content of stored article `id` with a newer version of its entry; its
    /// background counts are moved from the old version's features to the new one's (the day
    /// stays: publication and first-seen times are kept).
    fn update_article(
        tx: &Transaction<'_>,
        id: i64,
        new: &NewArticle,
        now: Timestamp,
    ) -> FResult<()> {
        let Some(old) = background::stored_article(tx, id)? else {
            return Ok(());
        };
        let a = &new.article;
        tx.prepare_cached(
            "UPDATE articles SET url = ?2, guid = ?3, title = ?4, text = ?5, html = ?6,
                    author = ?7, language = ?8, entities = ?9, fingerprint = ?10
             WHERE id = ?1",
        )?
        .execute(params![
            id,
            a.url,
            a.guid,
            a.title,
            a.text,
            a.html,
            a.author,
            a.language,
            entities_json(&a.entities)?,
            new.fingerprint
        ])?;
        background::replace(tx, &old, a)?;
        tx.prepare_cached("DELETE FROM article_entities WHERE article_id = ?1")?
            .execute([id])?;
        Self::insert_entities(tx, id, a, day_of(old.article.published.min(now)))
    }

    fn insert_entities(tx: &Transaction<'_>, id: i64, a: &Article, day: i64) -> FResult<()> {
        let mut st = tx.prepare_cached(
            "INSERT OR IGNORE INTO article_entities(article_id, key, name, kind, mentions, in_title, day)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?;
        for e in &a.entities {
            st.execute(params![
                id,
                fold_key(&e.name),
                e.name,
                e.kind.as_str(),
                e.mentions,
                e.in_title,
                day
            ])?;
        }
        Ok(())
    }

    /// What the store knows of the entries of one fetch of `feed`, in one indexed lookup: for each
    /// probe the stored article with its key (or, for an entry with neither link nor guid, with its
    /// fingerprint), and the languages of the feed's most recent articles, newest first.
    pub fn known_entries(&self, feed: &str, probes: &[EntryProbe]) -> Result<FeedKnowledge> {
        let r = self.known_entries_q(feed, probes);
        self.ctx(
            || format!("looking up {} entries of feed {feed:?}", probes.len()),
            r,
        )
    }

    fn known_entries_q(&self, feed: &str, probes: &[EntryProbe]) -> FResult<FeedKnowledge> {
        let keys: Vec<&str> = probes.iter().filter_map(|p| p.key.as_deref()).collect();
        let mut by_key = std::collections::HashMap::new();
        if !keys.is_empty() {
            let mut st = self.conn.prepare_cached(
                "SELECT j.value, a.id, a.fingerprint,
                        EXISTS(SELECT 1 FROM article_feeds af WHERE af.article_id = a.id AND af.feed = ?2)
                 FROM json_each(?1) j JOIN articles a ON a.key = j.value",
            )?;
            let rows = st.query_map(params![json_list(&keys)?, feed], |r| {
                Ok((r.get::<_, String>(0)?, known_row(r, 1)?))
            })?;
            for row in rows {
                let (k, known) = row?;
                by_key.insert(k, known);
            }
        }
        let unkeyed: Vec<i64> = probes
            .iter()
            .filter(|p| p.key.is_none())
            .map(|p| p.fingerprint)
            .collect();
        let mut by_fp = std::collections::HashMap::new();
        if !unkeyed.is_empty() {
            let mut st = self.conn.prepare_cached(
                "SELECT a.fingerprint, a.id, a.fingerprint,
                        EXISTS(SELECT 1 FROM article_feeds af WHERE af.article_id = a.id AND af.feed = ?2)
                 FROM articles a
                 WHERE a.url IS NULL AND a.guid IS NULL
                   AND a.fingerprint IN (SELECT value FROM json_each(?1))",
            )?;
            let rows = st.query_map(params![json_list(&unkeyed)?, feed], |r| {
                Ok((r.get::<_, i64>(0)?, known_row(r, 1)?))
            })?;
            for row in rows {
                let (f, known) = row?;
                by_fp.insert(f, known);
            }
        }
        let known = probes
            .iter()
            .map(|p| match &p.key {
                Some(k) => by_key.get(k.as_str()).copied(),
                None => by_fp.get(&p.fingerprint).copied(),
            })
            .collect();
        let mut st = self.conn.prepare_cached(
            "SELECT a.language FROM article_feeds af JOIN articles a ON a.id = af.article_id
             WHERE af.feed = ?1 ORDER BY af.id DESC LIMIT ?2",
        )?;
        let recent_languages = st
            .query_map(params![feed, RECENT_LANGUAGES as i64], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(FeedKnowledge {
            known,
            recent_languages,
        })
    }

    /// Number of stored articles.
    pub fn article_count(&self) -> Result<u64> {
        let r = self
            .conn
            .query_row("SELECT COUNT(*) FROM articles", [], |r| r.get(0))
            .map_err(Fail::from);
        self.ctx(|| "counting articles".into(), r)
    }

    // ---------------------------------------------------------------- digest selection

    /// The cursor (highest `article_feeds.id` considered) of the last build of digest `name`.
    pub fn last_build(&self, name: &str) -> Result<Option<(Timestamp, i64)>> {
        let r = self
            .conn
            .query_row(
                "SELECT built_at, cursor FROM digests WHERE name = ?1 ORDER BY id DESC LIMIT 1",
                [name],
                |r| Ok((ts(r.get(0)?), r.get::<_, i64>(1)?)),
            )
            .optional()
            .map_err(Fail::from);
        self.ctx(|| format!("reading the last build of digest {name:?}"), r)
    }

    /// The current highest `article_feeds.id`.
    pub fn max_cursor(&self) -> Result<i64> {
        let r = self
            .conn
            .query_row("SELECT COALESCE(MAX(id), 0) FROM article_feeds", [], |r| {
                r.get(0)
            })
            .map_err(Fail::from);
        self.ctx(|| "reading the newest article link".into(), r)
    }

    /// Candidate articles for digest `name`: seen in one of `feeds` after `after_cursor` (up to
    /// `upto_cursor`), or, on a first build (`after_cursor` None), published at or after `since`;
    /// never an article already in an earlier digest of the same name. Newest first; their `html`
    /// is not read (left empty).
    pub fn candidates(
        &self,
        name: &str,
        feeds: &[String],
        after_cursor: Option<i64>,
        upto_cursor: i64,
        since: Timestamp,
    ) -> Result<Vec<StoredArticle>> {
        let span = (after_cursor, upto_cursor, since);
        self.candidates_where(name, feeds, span, &mut |_| true)
    }

    /// [`candidates`](Self::candidates) (`span` = its `after_cursor`, `upto_cursor`, `since`),
    /// each row handed to `admit` as it is read: it keeps the row (true) or drops it, and may
    /// shrink what it keeps, so that a build never holds every candidate's full text at once.
    pub fn candidates_where(
        &self,
        name: &str,
        feeds: &[String],
        span: (Option<i64>, i64, Timestamp),
        admit: &mut dyn FnMut(&mut StoredArticle) -> bool,
    ) -> Result<Vec<StoredArticle>> {
        let r = self.candidates_q(name, feeds, span, admit);
        self.ctx(|| format!("selecting the articles of digest {name:?}"), r)
    }

    fn candidates_q(
        &self,
        name: &str,
        feeds: &[String],
        (after_cursor, upto_cursor, since): (Option<i64>, i64, Timestamp),
        admit: &mut dyn FnMut(&mut StoredArticle) -> bool,
    ) -> FResult<Vec<StoredArticle>> {
        let feed_list = serde_json::to_string(feeds).map_err(json_err("feed list"))?;
        let sql = "
            SELECT a.id, a.key, a.feed, a.url, a.guid, a.title, a.text, a.author, a.published,
                   a.first_seen, a.language, a.entities
            FROM articles a
            WHERE a.id IN (
                SELECT af.article_id FROM article_feeds af
                WHERE af.feed IN (SELECT value FROM json_each(?1))
                  AND af.id <= ?3
                  AND (CASE WHEN ?2 IS NULL THEN 1 ELSE af.id > ?2 END))
              AND (?2 IS NOT NULL OR a.published >= ?4)
              AND a.id NOT IN (SELECT article_id FROM digest_articles WHERE digest_name = ?5)
            ORDER BY a.published DESC, a.id";
        let mut st = self.conn.prepare(sql)?;
        let rows = st.query_map(
            params![
                feed_list,
                after_cursor,
                upto_cursor,
                since.as_second(),
                name
            ],
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(9)?,
                    r.get::<_, String>(11)?,
                    Article {
                        key: r.get(1)?,
                        feed: r.get(2)?,
                        url: r.get(3)?,
                        guid: r.get(4)?,
                        title: r.get(5)?,
                        text: r.get(6)?,
                        // not read: a digest shows the plain text's excerpt
                        html: String::new(),
                        author: r.get(7)?,
                        published: ts(r.get(8)?),
                        language: r.get(10)?,
                        entities: Vec::new(),
                    },
                ))
            },
        )?;
        let mut feeds_of = self
            .conn
            .prepare_cached("SELECT feed FROM article_feeds WHERE article_id = ?1 ORDER BY id")?;
        let mut out = Vec::new();
        for row in rows {
            let (id, first_seen, entities, mut article) = row?;
            article.entities = serde_json::from_str::<Vec<Entity>>(&entities)
                .map_err(json_err("article entities"))?;
            let feeds = feeds_of.query_map([id], |r| r.get::<_, String>(0))?;
            let mut a = StoredArticle {
                id,
                first_seen: ts(first_seen),
                feeds: feeds.collect::<rusqlite::Result<_>>()?,
                article,
            };
            if admit(&mut a) {
                out.push(a);
            }
        }
        Ok(out)
    }

    /// Articles published in `[from, to)` **or first seen** in `[from, to]` (a window starts at
    /// the previous build, which saw the articles fetched in the same second), newest first (by
    /// the later of the two times), at most `limit`. Either time places an article in a week: a fresh state's
    /// first fetch holds the week's older items (first seen now, published days ago), and a
    /// state fed an archive or a replayed snapshot holds articles seen last build but published
    /// long ago.
    pub fn articles_between(
        &self,
        from: Timestamp,
        to: Timestamp,
        limit: usize,
    ) -> Result<Vec<Article>> {
        let r = (|| -> FResult<Vec<Article>> {
            let mut st = self.conn.prepare(
                "SELECT key, feed, url, guid, title, text, author, published, language, entities
                 FROM articles
                 WHERE (published >= ?1 AND published < ?2) OR (first_seen >= ?1 AND first_seen <= ?2)
                 ORDER BY MAX(published, first_seen) DESC, id LIMIT ?3",
            )?;
            let rows = st.query_map(
                params![from.as_second(), to.as_second(), limit as i64],
                |r| {
                    Ok((
                        Article {
                            key: r.get(0)?,
                            feed: r.get(1)?,
                            url: r.get(2)?,
                            guid: r.get(3)?,
                            title: r.get(4)?,
                            text: r.get(5)?,
                            html: String::new(),
                            author: r.get(6)?,
                            published: ts(r.get(7)?),
                            language: r.get(8)?,
                            entities: Vec::new(),
                        },
                        r.get::<_, String>(9)?,
                    ))
                },
            )?;
            let mut out = Vec::new();
            for row in rows {
                let (mut a, entities) = row?;
                a.entities =
                    serde_json::from_str(&entities).map_err(json_err("article entities"))?;
                out.push(a);
            }
            Ok(out)
        })();
        self.ctx(|| "reading recent articles".into(), r)
    }

    /// The rarity background of the articles published on the days `[from, to)` (UTC days of
    /// the two times), from the counts kept at ingest: documents and per-feature document
    /// frequencies, for [`crate::stories::Background::from_counts`].
    pub fn background_counts(
        &self,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<(u64, Vec<(String, u64)>)> {
        let r = background::read(&self.conn, day_of(from), day_of(to)).map_err(Fail::from);
        self.ctx(|| "reading the background counts".into(), r)
    }

    /// Mentions per entity (articles mentioning it) per day in `[from_day, to_day)`, summed: the
    /// history for trending. Returns `(key, name, kind, articles)`.
    pub fn entity_history(
        &self,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<(String, String, EntityKind, u64)>> {
        let r = (|| -> FResult<Vec<(String, String, EntityKind, u64)>> {
            let mut st = self.conn.prepare(
                "SELECT key, MIN(name), MIN(kind), COUNT(*) FROM article_entities
                 WHERE day >= ?1 AND day < ?2 GROUP BY key ORDER BY key",
            )?;
            let rows = st.query_map(params![day_of(from), day_of(to)], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, u64>(3)?,
                ))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (k, n, kind, c) = row?;
                out.push((
                    k,
                    n,
                    EntityKind::parse(&kind).unwrap_or(EntityKind::Misc),
                    c,
                ));
            }
            Ok(out)
        })();
        self.ctx(|| "reading the entity history".into(), r)
    }

    /// The first day for which any article is stored.
    pub fn first_article_day(&self) -> Result<Option<Timestamp>> {
        let r = self
            .conn
            .query_row("SELECT MIN(day) FROM article_entities", [], |r| {
                r.get::<_, Option<i64>>(0)
            })
            .map_err(Fail::from);
        let v = self.ctx(|| "reading the first article day".into(), r)?;
        Ok(v.map(|d| ts(d.saturating_mul(86_400))))
    }

    // ---------------------------------------------------------------- stories

    /// Stories of digest `name` seen at or after `since`, for continuity.
    pub fn recent_stories(&self, name: &str, since: Timestamp) -> Result<Vec<StoredStory>> {
        let r = (|| -> FResult<Vec<StoredStory>> {
            let mut st = self.conn.prepare(
                "SELECT id, headline, first_headline, signature, first_seen, last_seen, days FROM stories
                 WHERE digest_name = ?1 AND last_seen >= ?2 ORDER BY id",
            )?;
            let rows = st.query_map(params![name, since.as_second()], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, i64>(5)?,
                    r.get::<_, u32>(6)?,
                ))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (id, headline, first_headline, sig, first_seen, last_seen, days) = row?;
                let signature = serde_json::from_str(&sig).map_err(json_err("story signature"))?;
                out.push(StoredStory {
                    id,
                    headline,
                    first_headline,
                    signature,
                    first_seen: ts(first_seen),
                    last_seen: ts(last_seen),
                    days,
                });
            }
            Ok(out)
        })();
        self.ctx(
            || format!("reading the recent stories of digest {name:?}"),
            r,
        )
    }

    // ---------------------------------------------------------------- outbox

    /// Puts a built digest in the outbox, marks its articles as used by digest `name`, advances the
    /// cursor, persists its stories and queues its deliveries — all in one transaction.
    pub fn store_digest(&mut self, d: &NewDigest<'_>) -> Result<i64> {
        let r = Self::store_digest_tx(&mut self.conn, d);
        self.ctx(|| format!("storing digest {:?}", d.name), r)
    }

    fn store_digest_tx(conn: &mut Connection, d: &NewDigest<'_>) -> FResult<i64> {
        let tx = conn.transaction()?;
        tx.execute(
            "INSERT INTO digests(name, built_at, window_start, window_end, cursor, story_count,
                                 article_count, json)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                d.name,
                d.built_at.as_second(),
                d.window_start.as_second(),
                d.window_end.as_second(),
                d.cursor,
                d.story_count,
                d.article_ids.len() as i64,
                d.json
            ],
        )?;
        let id = tx.last_insert_rowid();
        {
            let mut st = tx.prepare_cached(
                "INSERT OR IGNORE INTO digest_articles(digest_name, article_id, digest_id) VALUES (?1, ?2, ?3)",
            )?;
            for a in d.article_ids {
                st.execute(params![d.name, a, id])?;
            }
            let mut st = tx.prepare_cached(
                "INSERT INTO deliveries(digest_id, target, status, next_attempt) VALUES (?1, ?2, 'pending', ?3)",
            )?;
            for t in d.targets {
                st.execute(params![id, t, d.built_at.as_second()])?;
            }
            for s in d.stories {
                Self::upsert_story(&tx, d, s)?;
            }
        }
        crate::testhook::pause("digest-commit");
        tx.commit()?;
        Ok(id)
    }

    fn upsert_story(tx: &Transaction<'_>, d: &NewDigest<'_>, s: &StoryUpsert) -> FResult<()> {
        let sig = serde_json::to_string(&s.signature).map_err(json_err("story signature"))?;
        match s.id {
            Some(sid) => {
                tx.execute(
                    "UPDATE stories SET headline = ?2, signature = ?3, last_seen = ?4, days = ?5
                     WHERE id = ?1",
                    params![sid, s.headline, sig, d.built_at.as_second(), s.days],
                )?;
            }
            None => {
                tx.execute(
                    "INSERT INTO stories(digest_name, headline, first_headline, signature,
                                         first_seen, last_seen, days)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    params![
                        d.name,
                        s.headline,
                        s.first_headline,
                        sig,
                        s.first_seen.as_second(),
                        d.built_at.as_second(),
                        s.days
                    ],
                )?;
            }
        }
        Ok(())
    }

    /// A digest from the outbox.
    pub fn digest(&self, id: i64) -> Result<Option<StoredDigest>> {
        let r = self
            .conn
            .query_row(
                "SELECT id, name, built_at, window_start, window_end, story_count, article_count, json
                 FROM digests WHERE id = ?1",
                [id],
                |r| {
                    Ok(StoredDigest {
                        id: r.get(0)?,
                        name: r.get(1)?,
                        built_at: ts(r.get(2)?),
                        window_start: ts(r.get(3)?),
                        window_end: ts(r.get(4)?),
                        story_count: r.get(5)?,
                        article_count: r.get(6)?,
                        json: r.get(7)?,
                    })
                },
            )
            .optional()
            .map_err(Fail::from);
        self.ctx(|| format!("reading digest #{id}"), r)
    }

    /// Number of digests built, per name or all.
    pub fn digest_count(&self, name: Option<&str>) -> Result<u64> {
        let r = match name {
            Some(n) => {
                self.conn
                    .query_row("SELECT COUNT(*) FROM digests WHERE name = ?1", [n], |r| {
                        r.get(0)
                    })
            }
            None => self
                .conn
                .query_row("SELECT COUNT(*) FROM digests", [], |r| r.get(0)),
        }
        .map_err(Fail::from);
        self.ctx(|| "counting digests".into(), r)
    }

    // ---------------------------------------------------------------- deliveries

    /// Deliveries waiting to be sent: all pending/failed ones when `due_by` is None, else those due
    /// by then. Rows left in `sending` by a crash before the body went out are included (they are
    /// retried). An `uncertain` delivery (the body went out, no confirmation) is included only once
    /// it is due, even when `due_by` is None: sending it again early would likely double it.
    pub fn pending_deliveries(&self, due_by: Option<Timestamp>) -> Result<Vec<Delivery>> {
        let now = Timestamp::now();
        let r = (|| -> FResult<Vec<Delivery>> {
            let mut st = self.conn.prepare(
                "SELECT id, digest_id, target, status, attempts, next_attempt, last_error, body_sent_at
                 FROM deliveries
                 WHERE (status IN ('pending', 'failed', 'sending') AND (?1 IS NULL OR next_attempt <= ?1))
                    OR (status = 'uncertain' AND next_attempt <= COALESCE(?1, ?2))
                 ORDER BY digest_id, id",
            )?;
            let rows = st.query_map(
                params![due_by.map(|t| t.as_second()), now.as_second()],
                Self::delivery_row,
            )?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })();
        self.ctx(|| "reading the pending deliveries".into(), r)
    }

    fn delivery_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Delivery> {
        Ok(Delivery {
            id: r.get(0)?,
            digest_id: r.get(1)?,
            target: r.get(2)?,
            status: r.get(3)?,
            attempts: r.get(4)?,
            next_attempt: ts(r.get(5)?),
            last_error: r.get(6)?,
            body_sent_at: ots(r.get(7)?),
        })
    }

    /// How many deliveries wait in each state that is not `sent` (`pending`, `sending`, `failed`,
    /// `uncertain`), due or not.
    pub fn waiting_delivery_counts(&self) -> Result<Vec<(String, usize)>> {
        let r = (|| -> FResult<Vec<(String, usize)>> {
            let mut st = self.conn.prepare(
                "SELECT status, COUNT(*) FROM deliveries WHERE status != 'sent'
                 GROUP BY status ORDER BY status",
            )?;
            let rows =
                st.query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)?.max(0) as usize)))?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })();
        self.ctx(|| "counting the waiting deliveries".into(), r)
    }

    /// The earliest time a waiting delivery is due, if any.
    pub fn next_delivery_due(&self) -> Result<Option<Timestamp>> {
        let r = self
            .conn
            .query_row(
                "SELECT MIN(next_attempt) FROM deliveries
                 WHERE status IN ('pending', 'failed', 'sending', 'uncertain')",
                [],
                |r| r.get::<_, Option<i64>>(0),
            )
            .map_err(Fail::from);
        Ok(ots(self.ctx(|| "reading the next delivery time".into(), r)?))
    }

    /// Deliveries a crash interrupted after their body was handed to the server become
    /// `uncertain` (retried after [`UNCERTAIN_RETRY`]); returns them. Call before delivering.
    pub fn recover_interrupted_deliveries(&mut self, now: Timestamp) -> Result<Vec<Delivery>> {
        let next = add_secs(now, UNCERTAIN_RETRY);
        let r = (|| -> FResult<Vec<Delivery>> {
            let tx = self.conn.transaction()?;
            tx.execute(
                "UPDATE deliveries SET status = 'uncertain', next_attempt = ?1,
                 last_error = 'interrupted after the message was handed to the server; it may have arrived'
                 WHERE status = 'sending' AND body_sent_at IS NOT NULL",
                [next.as_second()],
            )?;
            let out = {
                let mut st = tx.prepare(
                    "SELECT id, digest_id, target, status, attempts, next_attempt, last_error, body_sent_at
                     FROM deliveries WHERE status = 'uncertain' AND next_attempt = ?1",
                )?;
                let rows = st.query_map([next.as_second()], Self::delivery_row)?;
                rows.collect::<rusqlite::Result<Vec<_>>>()?
            };
            tx.commit()?;
            Ok(out)
        })();
        self.ctx(|| "recovering interrupted deliveries".into(), r)
    }

    /// Marks a delivery as being attempted now (before any byte goes out).
    pub fn mark_sending(&mut self, id: i64) -> Result<()> {
        let r = self
            .conn
            .execute(
                "UPDATE deliveries SET status = 'sending', attempts = attempts + 1, body_sent_at = NULL
                 WHERE id = ?1",
                [id],
            )
            .map(|_| ())
            .map_err(Fail::from);
        self.ctx(|| format!("marking delivery {id} as sending"), r)
    }

    /// Records that the message body is about to be handed over (just before the final "."): from
    /// here on, an interruption leaves the delivery uncertain rather than failed.
    pub fn mark_body_sent(&mut self, id: i64, now: Timestamp) -> Result<()> {
        let r = self
            .conn
            .execute(
                "UPDATE deliveries SET body_sent_at = ?2 WHERE id = ?1",
                params![id, now.as_second()],
            )
            .map(|_| ())
            .map_err(Fail::from);
        self.ctx(|| format!("marking the body of delivery {id} as sent"), r)
    }

    /// Marks a delivery as done. Only a delivery not yet sent changes; returns false if it was sent already.
    pub fn mark_sent(&mut self, id: i64, now: Timestamp, detail: &str) -> Result<bool> {
        let r = self
            .conn
            .execute(
                "UPDATE deliveries SET status = 'sent', delivered_at = ?2, detail = ?3, last_error = NULL
                 WHERE id = ?1 AND status != 'sent'",
                params![id, now.as_second(), detail],
            )
            .map_err(Fail::from);
        Ok(self.ctx(|| format!("marking delivery {id} as sent"), r)? == 1)
    }

    /// Records a failed attempt and when to retry.
    pub fn mark_failed(&mut self, id: i64, error: &str, next_attempt: Timestamp) -> Result<()> {
        let r = self
            .conn
            .execute(
                "UPDATE deliveries SET status = 'failed', last_error = ?2, next_attempt = ?3 WHERE id = ?1",
                params![id, error, next_attempt.as_second()],
            )
            .map(|_| ())
            .map_err(Fail::from);
        self.ctx(|| format!("marking delivery {id} as failed"), r)
    }

    /// Records an attempt whose outcome is unknown (the body went out, no confirmation came):
    /// not retried before `next_attempt`, also not by `once`.
    pub fn mark_uncertain(&mut self, id: i64, error: &str, next_attempt: Timestamp) -> Result<()> {
        let r = self
            .conn
            .execute(
                "UPDATE deliveries SET status = 'uncertain', last_error = ?2, next_attempt = ?3
                 WHERE id = ?1 AND status != 'sent'",
                params![id, error, next_attempt.as_second()],
            )
            .map(|_| ())
            .map_err(Fail::from);
        self.ctx(|| format!("marking delivery {id} as uncertain"), r)
    }

    /// Every delivery of a digest (for status output and tests).
    pub fn deliveries_of(&self, digest_id: i64) -> Result<Vec<Delivery>> {
        let r = (|| -> FResult<Vec<Delivery>> {
            let mut st = self.conn.prepare(
                "SELECT id, digest_id, target, status, attempts, next_attempt, last_error, body_sent_at
                 FROM deliveries WHERE digest_id = ?1 ORDER BY id",
            )?;
            let rows = st.query_map([digest_id], Self::delivery_row)?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })();
        self.ctx(
            || format!("reading the deliveries of digest #{digest_id}"),
            r,
        )
    }

    /// The newest `limit` digests of the outbox (all names), newest first, without their JSON.
    pub fn recent_digests(&self, limit: usize) -> Result<Vec<DigestSummary>> {
        let r = (|| -> FResult<Vec<DigestSummary>> {
            let mut st = self.conn.prepare(
                "SELECT id, name, built_at, story_count, article_count FROM digests
                 ORDER BY id DESC LIMIT ?1",
            )?;
            let rows = st.query_map([i64::try_from(limit).unwrap_or(i64::MAX)], |r| {
                Ok(DigestSummary {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    built_at: ts(r.get(2)?),
                    story_count: r.get(3)?,
                    article_count: r.get(4)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })();
        self.ctx(|| "reading the recent digests".into(), r)
    }

    /// The ids of the newest `limit` digests called `name`, newest first (the Atom output).
    pub fn digest_ids_named(&self, name: &str, limit: usize) -> Result<Vec<i64>> {
        let r = (|| -> FResult<Vec<i64>> {
            let mut st = self
                .conn
                .prepare("SELECT id FROM digests WHERE name = ?1 ORDER BY id DESC LIMIT ?2")?;
            let limit = i64::try_from(limit).unwrap_or(i64::MAX);
            let rows = st.query_map(params![name, limit], |r| r.get(0))?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })();
        self.ctx(|| format!("reading the digests called {name}"), r)
    }

    /// The id of the newest digest called `name`, if any.
    pub fn last_digest_id(&self, name: &str) -> Result<Option<i64>> {
        let r = self
            .conn
            .query_row("SELECT MAX(id) FROM digests WHERE name = ?1", [name], |r| {
                r.get(0)
            })
            .map_err(Fail::from);
        self.ctx(|| format!("reading the newest digest {name:?}"), r)
    }

    /// Queues every delivery of digest `digest_id` again, due at `now` (a re-send of a stored
    /// digest: its rows go back to `pending`, also an `uncertain` one — the operator asked; the
    /// attempt count is kept). Returns how many.
    pub fn requeue_deliveries(&mut self, digest_id: i64, now: Timestamp) -> Result<usize> {
        let r = self
            .conn
            .execute(
                "UPDATE deliveries SET status = 'pending', next_attempt = ?2 WHERE digest_id = ?1",
                params![digest_id, now.as_second()],
            )
            .map_err(Fail::from);
        self.ctx(
            || format!("queueing the deliveries of digest #{digest_id} again"),
            r,
        )
    }

    /// The last successful delivery per digest name, for status: `(name, digest id, when)`.
    pub fn last_sent(&self) -> Result<Vec<(String, i64, Timestamp)>> {
        let r = (|| -> FResult<Vec<(String, i64, Timestamp)>> {
            let mut st = self.conn.prepare(
                "SELECT d.name, MAX(d.id), MAX(x.delivered_at) FROM deliveries x
                 JOIN digests d ON d.id = x.digest_id
                 WHERE x.status = 'sent' AND x.delivered_at IS NOT NULL
                 GROUP BY d.name ORDER BY d.name",
            )?;
            let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, ts(r.get(2)?))))?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })();
        self.ctx(|| "reading the last deliveries".into(), r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn article(key: &str, title: &str, published: i64) -> Article {
        Article {
            key: key.into(),
            feed: String::new(),
            url: Some(key.into()),
            guid: None,
            title: title.into(),
            text: format!("text of {title}"),
            html: String::new(),
            author: None,
            published: ts(published),
            language: None,
            entities: vec![Entity {
                name: "North Korea".into(),
                kind: EntityKind::Location,
                mentions: 2,
                first_offset: 0,
                in_title: true,
                salience: 0.8,
            }],
        }
    }

    #[test]
    fn article_seen_in_two_feeds_is_stored_once_and_linked_to_both() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open_in(dir.path()).unwrap();
        s.sync_feeds([("a", "http://a"), ("b", "http://b")])
            .unwrap();
        let now = ts(1_700_000_000);
        let ok = FetchSuccess::default();
        assert_eq!(
            s.ingest("a", &[article("u1", "One", 1_699_999_000)], &ok, now)
                .unwrap(),
            1
        );
        assert_eq!(
            s.ingest("b", &[article("u1", "One", 1_699_999_000)], &ok, now)
                .unwrap(),
            0
        );
        assert_eq!(s.article_count().unwrap(), 1);
        let c = s
            .candidates(
                "d",
                &["a".into(), "b".into()],
                None,
                s.max_cursor().unwrap(),
                ts(0),
            )
            .unwrap();
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].feeds, vec!["a".to_string(), "b".to_string()]);
        assert_eq!(c[0].article.entities.len(), 1);
    }

    #[test]
    fn digest_articles_never_selected_twice() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open_in(dir.path()).unwrap();
        s.sync_feeds([("a", "http://a")]).unwrap();
        let now = ts(1_700_000_000);
        s.ingest(
            "a",
            &[article("u1", "One", 1_699_999_000)],
            &FetchSuccess::default(),
            now,
        )
        .unwrap();
        let cur = s.max_cursor().unwrap();
        let c = s.candidates("d", &["a".into()], None, cur, ts(0)).unwrap();
        let ids: Vec<i64> = c.iter().map(|a| a.id).collect();
        let id = s
            .store_digest(&NewDigest {
                name: "d",
                built_at: now,
                window_start: ts(0),
                window_end: now,
                cursor: cur,
                story_count: 1,
                article_ids: &ids,
                json: "{}",
                targets: &["email:x@y".to_string()],
                stories: &[],
            })
            .unwrap();
        // Even a first-build style query (no cursor) excludes it now.
        assert!(
            s.candidates("d", &["a".into()], None, cur, ts(0))
                .unwrap()
                .is_empty()
        );
        let p = s.pending_deliveries(None).unwrap();
        assert_eq!(p.len(), 1);
        s.mark_sending(p[0].id).unwrap();
        assert!(s.mark_sent(p[0].id, now, "ok").unwrap());
        assert!(!s.mark_sent(p[0].id, now, "ok").unwrap());
        assert!(s.pending_deliveries(None).unwrap().is_empty());
        assert_eq!(s.deliveries_of(id).unwrap()[0].status, "sent");
    }

    fn unusable_reason(path: &Path) -> String {
        match Store::open(path) {
            Err(StoreError::Unusable { path: p, reason }) => {
                assert_eq!(p, path);
                reason
            }
            Err(e) => panic!("expected Unusable, got {e}"),
            Ok(_) => panic!("expected Unusable, the database opened"),
        }
    }

    #[test]
    fn zero_byte_database_is_refused_not_reset() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DATABASE_FILE);
        std::fs::write(&path, b"").unwrap();
        assert!(unusable_reason(&path).contains("0 bytes"));
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 0, "file untouched");
    }

    #[test]
    fn foreign_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let text = dir.path().join("text.sqlite3");
        std::fs::write(&text, "name,value\nx,1\n".repeat(100)).unwrap();
        assert!(unusable_reason(&text).contains("not an SQLite database"));
        // A valid SQLite database of another program.
        let other = dir.path().join("other.sqlite3");
        let c = Connection::open(&other).unwrap();
        c.execute_batch("CREATE TABLE moz_places(id INTEGER PRIMARY KEY, url TEXT); INSERT INTO moz_places(url) VALUES ('x');")
            .unwrap();
        drop(c);
        let r = unusable_reason(&other);
        assert!(
            r.contains("another program") && r.contains("moz_places"),
            "{r}"
        );
    }

    #[test]
    fn garbage_in_the_middle_fails_quick_check() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DATABASE_FILE);
        {
            let mut s = Store::open(&path).unwrap();
            s.sync_feeds([("a", "http://a")]).unwrap();
            let arts: Vec<Article> = (0..300)
                .map(|i| article(&format!("u{i}"), &format!("Title {i}"), 1_699_999_000))
                .collect();
            s.ingest("a", &arts, &FetchSuccess::default(), ts(1_700_000_000))
                .unwrap();
            s.conn
                .pragma_update(None, "wal_checkpoint", "TRUNCATE")
                .ok();
        }
        let mut bytes = std::fs::read(&path).unwrap();
        assert!(bytes.len() > 40_000);
        let mid = bytes.len() / 2;
        for b in &mut bytes[mid..mid + 8192] {
            *b = 0xA5;
        }
        std::fs::write(&path, &bytes).unwrap();
        let r = unusable_reason(&path);
        assert!(r.contains("damaged") || r.contains("not an SQLite"), "{r}");
    }

    #[test]
    fn second_instance_lock_names_the_pid() {
        let dir = tempfile::tempdir().unwrap();
        let first = InstanceLock::acquire(dir.path()).unwrap();
        match InstanceLock::acquire(dir.path()) {
            Err(e @ StoreError::Locked { .. }) => {
                let msg = e.to_string();
                assert!(
                    msg.contains(&format!(
                        "another digestif is running (pid {})",
                        std::process::id()
                    )),
                    "{msg}"
                );
            }
            other => panic!("expected Locked, got {other:?}"),
        }
        drop(first);
        InstanceLock::acquire(dir.path()).unwrap();
    }

    #[test]
    fn state_dir_that_is_a_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("state");
        std::fs::write(&file, "x").unwrap();
        assert!(
            check_state_dir(&file)
                .unwrap_err()
                .contains("not a directory")
        );
        assert!(matches!(
            Store::open_in(&file),
            Err(StoreError::StateDir { .. })
        ));
        assert!(check_state_dir(&dir.path().join("new/sub")).is_ok());
    }

    #[test]
    fn sql_errors_name_the_database_and_the_operation() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open_in(dir.path()).unwrap();
        s.conn.execute_batch("DROP TABLE digests").unwrap();
        let e = s.last_build("daily").unwrap_err().to_string();
        assert!(e.contains(&s.path().display().to_string()), "{e}");
        assert!(
            e.contains("reading the last build of digest \"daily\""),
            "{e}"
        );
    }

    #[test]
    fn background_counts_equal_retokenising_the_same_articles() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open_in(dir.path()).unwrap();
        s.sync_feeds([("a", "http://a")]).unwrap();
        let now = ts(1_700_000_000);
        let arts: Vec<Article> = (0..20)
            .map(|i| {
                let mut a = article(
                    &format!("u{i}"),
                    &format!("Missile test number {i} near Pyongyang"),
                    1_699_990_000 - i * 40_000,
                );
                a.feed = "a".into();
                a
            })
            .collect();
        s.ingest("a", &arts, &FetchSuccess::default(), now).unwrap();
        let (docs, df) = s
            .background_counts(ts(0), ts(now.as_second() + 86_400))
            .unwrap();
        assert_eq!(docs, 20);
        let stored = crate::stories::Background::from_counts(docs, df);
        let views: Vec<crate::stories::StoryArticle<'_>> = arts
            .iter()
            .map(|a| crate::stories::StoryArticle::of(0, a))
            .collect();
        let mut direct = crate::stories::Background::new();
        direct.add_articles(&views);
        assert_eq!(stored.docs(), direct.docs());
        assert_eq!(stored.counts(), direct.counts());
        // A day range excludes the other days.
        let (d1, _) = s
            .background_counts(ts(1_699_990_000 - 86_400), ts(1_700_000_000))
            .unwrap();
        assert!(d1 < 20 && d1 > 0, "{d1}");
    }

    #[test]
    fn changed_article_is_counted_once_in_the_background() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open_in(dir.path()).unwrap();
        s.sync_feeds([("a", "http://a")]).unwrap();
        let now = ts(1_700_000_000);
        let mut a = article("u1", "Missile test near Pyongyang", 1_699_990_000);
        a.feed = "a".into();
        s.ingest("a", std::slice::from_ref(&a), &FetchSuccess::default(), now)
            .unwrap();
        let id: i64 = s
            .conn
            .query_row("SELECT id FROM articles WHERE key = 'u1'", [], |r| r.get(0))
            .unwrap();
        let mut changed = a.clone();
        changed.title = "Satellite launch over Hokkaido".into();
        changed.text = "text of the launch".into();
        let batch = IngestBatch {
            changed: vec![(
                id,
                NewArticle {
                    article: changed.clone(),
                    fingerprint: Some(7),
                },
            )],
            ..IngestBatch::default()
        };
        let later = ts(now.as_second() + 3_600);
        let counts = s
            .ingest_batch("a", &batch, &FetchSuccess::default(), later)
            .unwrap();
        assert_eq!(counts.changed, 1);
        let (docs, df) = s
            .background_counts(ts(0), ts(now.as_second() + 86_400))
            .unwrap();
        // One document, with the new version's features only.
        assert_eq!(docs, 1);
        let df: std::collections::HashMap<String, u64> = df.into_iter().collect();
        assert_eq!(df.get("t:missile").copied().unwrap_or(0), 0, "{df:?}");
        assert_eq!(df.get("t:satellite").copied(), Some(1), "{df:?}");
    }

    #[test]
    fn retention_removes_old_rows_in_batches_and_keeps_them_removed() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open_in(dir.path()).unwrap();
        s.sync_feeds([("a", "http://a")]).unwrap();
        let day = 86_400;
        let old = ts(1_700_000_000);
        let arts: Vec<Article> = (0..25)
            .map(|i| {
                article(
                    &format!("old{i}"),
                    &format!("Old {i}"),
                    old.as_second() - 10,
                )
            })
            .collect();
        s.ingest("a", &arts, &FetchSuccess::default(), old).unwrap();
        let ids: Vec<i64> = s
            .candidates("d", &["a".into()], None, s.max_cursor().unwrap(), ts(0))
            .unwrap()
            .iter()
            .map(|a| a.id)
            .collect();
        for k in 0..2 {
            s.store_digest(&NewDigest {
                name: "d",
                built_at: ts(old.as_second() + k),
                window_start: ts(0),
                window_end: old,
                cursor: s.max_cursor().unwrap(),
                story_count: 1,
                article_ids: if k == 0 { &ids } else { &[] },
                json: "{}",
                targets: &[],
                stories: &[],
            })
            .unwrap();
        }
        let now = ts(old.as_second() + 100 * day);
        let recent = article("new", "New", now.as_second() - 10);
        s.ingest(
            "a",
            std::slice::from_ref(&recent),
            &FetchSuccess::default(),
            now,
        )
        .unwrap();
        let h = retention::horizon(now, std::time::Duration::from_secs(90 * day as u64));
        let mut total = RetentionReport::default();
        let mut steps = 0;
        loop {
            let r = s.retention_step(h, now, 10).unwrap();
            if r.is_empty() {
                break;
            }
            assert!(r.articles <= 10);
            total.add(&r);
            steps += 1;
        }
        assert!(steps >= 3, "small batches: {steps}");
        assert_eq!(total.articles, 25);
        assert_eq!(total.digests, 1, "the latest digest of a name is kept");
        assert_eq!(s.article_count().unwrap(), 1);
        assert_eq!(s.digest_count(Some("d")).unwrap(), 1);
        // A feed that still carries a removed article does not bring it back.
        let again = s
            .ingest("a", &arts[..3], &FetchSuccess::default(), now)
            .unwrap();
        assert_eq!(again, 0);
        assert_eq!(s.article_count().unwrap(), 1);
        // Old background counts are gone, recent ones kept.
        let (docs, _) = s
            .background_counts(ts(0), ts(now.as_second() + day))
            .unwrap();
        assert_eq!(docs, 1);
        assert!(s.ensure_incremental_vacuum().is_ok());
        assert_eq!(s.incremental_vacuum(10_000).unwrap(), 0);
    }

    #[test]
    fn link_ids_never_go_back_after_retention_removed_the_newest() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open_in(dir.path()).unwrap();
        s.sync_feeds([("a", "http://a")]).unwrap();
        let t0 = ts(1_700_000_000);
        s.ingest(
            "a",
            &[article("x", "X", t0.as_second())],
            &FetchSuccess::default(),
            t0,
        )
        .unwrap();
        let cursor = s.max_cursor().unwrap();
        let now = ts(t0.as_second() + 200 * 86_400);
        let h = retention::horizon(now, std::time::Duration::from_secs(90 * 86_400));
        while !s.retention_step(h, now, 100).unwrap().is_empty() {}
        s.ingest(
            "a",
            &[article("y", "Y", now.as_second())],
            &FetchSuccess::default(),
            now,
        )
        .unwrap();
        assert!(s.max_cursor().unwrap() > cursor);
    }

    #[test]
    fn uncertain_delivery_waits_even_for_a_forced_round() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open_in(dir.path()).unwrap();
        let now = Timestamp::now();
        let id = s
            .store_digest(&NewDigest {
                name: "d",
                built_at: now,
                window_start: ts(0),
                window_end: now,
                cursor: 0,
                story_count: 0,
                article_ids: &[],
                json: "{}",
                targets: &["email:x@y".to_string()],
                stories: &[],
            })
            .unwrap();
        let d = s.pending_deliveries(None).unwrap();
        assert_eq!(d.len(), 1);
        s.mark_sending(d[0].id).unwrap();
        s.mark_body_sent(d[0].id, now).unwrap();
        // A crash here: the next process finds it in `sending` with the body out.
        let rec = s.recover_interrupted_deliveries(now).unwrap();
        assert_eq!(rec.len(), 1);
        assert_eq!(s.deliveries_of(id).unwrap()[0].status, "uncertain");
        assert!(s.pending_deliveries(None).unwrap().is_empty());
        let later = add_secs(now, UNCERTAIN_RETRY);
        assert!(s.next_delivery_due().unwrap().unwrap().as_second() >= later.as_second());
        // A crash before the body went out is retried at once.
        s.mark_sending(d[0].id).unwrap();
        assert!(s.recover_interrupted_deliveries(now).unwrap().is_empty());
        assert_eq!(s.pending_deliveries(None).unwrap().len(), 1);
    }

    #[test]
    fn version_1_database_upgrades_with_its_data_and_background() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DATABASE_FILE);
        {
            let mut c = Connection::open(&path).unwrap();
            rusqlite_migration::Migrations::new(vec![rusqlite_migration::M::up(schema::V1)])
                .to_latest(&mut c)
                .unwrap();
            let now = Timestamp::now().as_second();
            c.execute(
                "INSERT INTO articles(key, feed, title, text, html, published, first_seen, entities)
                 VALUES ('k', 'a', 'Missile test', 'text', '', ?1, ?1, '[]')",
                [now],
            )
            .unwrap();
            c.execute(
                "INSERT INTO deliveries(digest_id, target, status, next_attempt) VALUES (1, 't', 'sent', 0)",
                [],
            )
            .ok();
        }
        let s = Store::open(&path).unwrap();
        assert_eq!(s.article_count().unwrap(), 1);
        let (docs, df) = s
            .background_counts(ts(0), ts(Timestamp::now().as_second() + 86_400))
            .unwrap();
        assert_eq!(docs, 1);
        assert!(df.iter().any(|(k, _)| k == "t:missile"), "{df:?}");
    }
}
