//! SQLite persistence: versioned migrations, feeds with their HTTP cache state and health, articles
//! with their entities, which feed saw which article, the digest outbox, deliveries, and persisted stories.
//!
//! The store knows nothing of rendering or delivery: a digest is stored as an opaque JSON document, and
//! deliveries are rows with a target string and a status. Every multi-row change runs in a transaction,
//! so a crash at any point loses nothing and duplicates nothing on restart.

use std::path::{Path, PathBuf};

use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use rusqlite_migration::{M, Migrations};

use crate::model::{Article, Entity, EntityKind, fold_key};

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open database {path}: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("cannot create state directory {path}: {source}")]
    StateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("database migration failed: {0}")]
    Migration(#[from] rusqlite_migration::Error),
    #[error("database error: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("corrupt JSON in database ({what}): {source}")]
    Json {
        what: &'static str,
        source: serde_json::Error,
    },
}

type Result<T> = std::result::Result<T, StoreError>;

fn migrations() -> Migrations<'static> {
    Migrations::new(vec![
        M::up(
            r#"
CREATE TABLE feeds (
    name TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    etag TEXT,
    last_modified TEXT,
    last_fetch INTEGER,
    last_success INTEGER,
    last_error TEXT,
    last_error_at INTEGER,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    next_attempt INTEGER,
    items_seen INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE articles (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    feed TEXT NOT NULL,
    url TEXT,
    guid TEXT,
    title TEXT NOT NULL,
    text TEXT NOT NULL,
    html TEXT NOT NULL,
    author TEXT,
    published INTEGER NOT NULL,
    first_seen INTEGER NOT NULL,
    language TEXT,
    entities TEXT NOT NULL
);
CREATE INDEX articles_published ON articles(published);
CREATE INDEX articles_title ON articles(feed, title);
CREATE TABLE article_feeds (
    id INTEGER PRIMARY KEY,
    article_id INTEGER NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    feed TEXT NOT NULL,
    seen_at INTEGER NOT NULL,
    UNIQUE(article_id, feed)
);
CREATE INDEX article_feeds_feed ON article_feeds(feed, id);
CREATE TABLE article_entities (
    article_id INTEGER NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    mentions INTEGER NOT NULL,
    in_title INTEGER NOT NULL,
    day INTEGER NOT NULL,
    PRIMARY KEY(article_id, key)
);
CREATE INDEX article_entities_day ON article_entities(day, key);
CREATE TABLE digests (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    built_at INTEGER NOT NULL,
    window_start INTEGER NOT NULL,
    window_end INTEGER NOT NULL,
    cursor INTEGER NOT NULL,
    story_count INTEGER NOT NULL,
    article_count INTEGER NOT NULL,
    json TEXT NOT NULL
);
CREATE INDEX digests_name ON digests(name, id);
CREATE TABLE digest_articles (
    digest_name TEXT NOT NULL,
    article_id INTEGER NOT NULL,
    digest_id INTEGER NOT NULL REFERENCES digests(id) ON DELETE CASCADE,
    PRIMARY KEY(digest_name, article_id)
);
CREATE TABLE deliveries (
    id INTEGER PRIMARY KEY,
    digest_id INTEGER NOT NULL REFERENCES digests(id) ON DELETE CASCADE,
    target TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'sending', 'sent', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt INTEGER NOT NULL,
    last_error TEXT,
    delivered_at INTEGER,
    detail TEXT,
    UNIQUE(digest_id, target)
);
CREATE INDEX deliveries_status ON deliveries(status, next_attempt);
CREATE TABLE stories (
    id INTEGER PRIMARY KEY,
    digest_name TEXT NOT NULL,
    headline TEXT NOT NULL,
    first_headline TEXT NOT NULL,
    signature TEXT NOT NULL,
    first_seen INTEGER NOT NULL,
    last_seen INTEGER NOT NULL,
    days INTEGER NOT NULL
);
CREATE INDEX stories_digest ON stories(digest_name, last_seen);
"#,
        ),
        M::up(V2_FINGERPRINTS),
    ])
}

/// Version 2: the fingerprint of the raw entry each article was made from
/// ([`crate::normalize::fingerprint`]), so that ingest tells an unchanged entry without
/// normalising it. Entries with neither link nor guid are found by it (partial index).
const V2_FINGERPRINTS: &str = "
ALTER TABLE articles ADD COLUMN fingerprint INTEGER;
CREATE INDEX articles_fingerprint ON articles(fingerprint) WHERE url IS NULL AND guid IS NULL;
";

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

fn json_list<T: serde::Serialize>(items: &[T]) -> Result<String> {
    serde_json::to_string(items).map_err(|source| StoreError::Json {
        what: "lookup list",
        source,
    })
}

fn entities_json(entities: &[Entity]) -> Result<String> {
    serde_json::to_string(entities).map_err(|source| StoreError::Json {
        what: "article entities",
        source,
    })
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

impl Store {
    /// Opens (creating if needed) `state_dir/digestif.sqlite3`, enables WAL and runs migrations.
    pub fn open_in(state_dir: &Path) -> Result<Store> {
        std::fs::create_dir_all(state_dir).map_err(|source| StoreError::StateDir {
            path: state_dir.to_path_buf(),
            source,
        })?;
        Self::open(&state_dir.join("digestif.sqlite3"))
    }

    /// Opens the database file at `path`, enables WAL and runs migrations.
    pub fn open(path: &Path) -> Result<Store> {
        let mut conn = Connection::open(path).map_err(|source| StoreError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        migrations().to_latest(&mut conn)?;
        Ok(Store {
            conn,
            path: path.to_path_buf(),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    // ---------------------------------------------------------------- feeds

    /// Makes sure a row exists for each configured feed (keeps state of feeds whose URL is unchanged;
    /// resets HTTP validators when the URL changed).
    pub fn sync_feeds<'a>(
        &mut self,
        feeds: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<()> {
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
    }

    /// The state of one feed, if known.
    pub fn feed_state(&self, name: &str) -> Result<Option<FeedState>> {
        Ok(self
            .conn
            .query_row(
                "SELECT name, url, etag, last_modified, last_fetch, last_success, last_error, last_error_at,
                        consecutive_failures, next_attempt, items_seen FROM feeds WHERE name = ?1",
                [name],
                Self::feed_row,
            )
            .optional()?)
    }

    /// The state of every known feed, by name.
    pub fn feed_states(&self) -> Result<Vec<FeedState>> {
        let mut st = self.conn.prepare(
            "SELECT name, url, etag, last_modified, last_fetch, last_success, last_error, last_error_at,
                    consecutive_failures, next_attempt, items_seen FROM feeds ORDER BY name",
        )?;
        let rows = st.query_map([], Self::feed_row)?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
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
        self.conn.execute(
            "UPDATE feeds SET last_fetch = ?2, last_error = ?3, last_error_at = ?2,
             consecutive_failures = consecutive_failures + 1, next_attempt = ?4 WHERE name = ?1",
            params![name, now.as_second(), error, next_attempt.as_second()],
        )?;
        Ok(())
    }

    /// Stores the articles of one successful fetch and the feed's new cache state in one transaction.
    /// Returns the number of articles new to the store (an article already stored from another feed is
    /// linked to this feed too, but is not new).
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
    /// transaction: new articles inserted (or, when another feed stored them first, linked),
    /// changed ones updated in place (text, language, entities; their first-seen and published
    /// times stay), unchanged known ones linked to this feed.
    pub fn ingest_batch(
        &mut self,
        feed: &str,
        batch: &IngestBatch,
        success: &FetchSuccess,
        now: Timestamp,
    ) -> Result<IngestCounts> {
        let tx = self.conn.transaction()?;
        let mut counts = IngestCounts::default();
        for a in &batch.new {
            if Self::insert_article(&tx, feed, a, now)? {
                counts.new += 1;
            }
        }
        for (id, a) in &batch.changed {
            Self::update_article(&tx, *id, a, now)?;
            counts.changed += 1;
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
        .execute(params![feed, now.as_second(), counts.new as i64])?;
        tx.commit()?;
        Ok(counts)
    }

    fn insert_article(
        tx: &Transaction<'_>,
        feed: &str,
        new: &NewArticle,
        now: Timestamp,
    ) -> Result<bool> {
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
                Self::insert_entities(tx, id, a, day_of(a.published.min(now)))?;
                (id, true)
            }
        };
        tx.prepare_cached(
            "INSERT OR IGNORE INTO article_feeds(article_id, feed, seen_at) VALUES (?1, ?2, ?3)",
        )?
        .execute(params![id, feed, now.as_second()])?;
        Ok(is_new)
    }

    /// Replaces the content of stored article `id` with a newer version of its entry.
    fn update_article(
        tx: &Transaction<'_>,
        id: i64,
        new: &NewArticle,
        now: Timestamp,
    ) -> Result<()> {
        let a = &new.article;
        let published: i64 = tx
            .prepare_cached(
                "UPDATE articles SET url = ?2, guid = ?3, title = ?4, text = ?5, html = ?6,
                        author = ?7, language = ?8, entities = ?9, fingerprint = ?10
                 WHERE id = ?1 RETURNING published",
            )?
            .query_row(
                params![
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
                ],
                |r| r.get(0),
            )?;
        tx.prepare_cached("DELETE FROM article_entities WHERE article_id = ?1")?
            .execute([id])?;
        Self::insert_entities(tx, id, a, day_of(ts(published).min(now)))
    }

    fn insert_entities(tx: &Transaction<'_>, id: i64, a: &Article, day: i64) -> Result<()> {
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
            .collect::<std::result::Result<_, _>>()?;
        Ok(FeedKnowledge {
            known,
            recent_languages,
        })
    }

    /// Number of stored articles.
    pub fn article_count(&self) -> Result<u64> {
        Ok(self
            .conn
            .query_row("SELECT COUNT(*) FROM articles", [], |r| r.get(0))?)
    }

    // ---------------------------------------------------------------- digest selection

    /// The cursor (highest `article_feeds.id` considered) of the last build of digest `name`.
    pub fn last_build(&self, name: &str) -> Result<Option<(Timestamp, i64)>> {
        Ok(self
            .conn
            .query_row(
                "SELECT built_at, cursor FROM digests WHERE name = ?1 ORDER BY id DESC LIMIT 1",
                [name],
                |r| Ok((ts(r.get(0)?), r.get::<_, i64>(1)?)),
            )
            .optional()?)
    }

    /// The current highest `article_feeds.id`.
    pub fn max_cursor(&self) -> Result<i64> {
        Ok(self
            .conn
            .query_row("SELECT COALESCE(MAX(id), 0) FROM article_feeds", [], |r| {
                r.get(0)
            })?)
    }

    /// Candidate articles for digest `name`: seen in one of `feeds` after `after_cursor` (up to
    /// `upto_cursor`), or, on a first build (`after_cursor` None), published at or after `since`;
    /// never an article already in an earlier digest of the same name.
    pub fn candidates(
        &self,
        name: &str,
        feeds: &[String],
        after_cursor: Option<i64>,
        upto_cursor: i64,
        since: Timestamp,
    ) -> Result<Vec<StoredArticle>> {
        let feed_list = serde_json::to_string(feeds).map_err(|source| StoreError::Json {
            what: "feed list",
            source,
        })?;
        let sql = "
            SELECT a.id, a.key, a.feed, a.url, a.guid, a.title, a.text, a.html, a.author, a.published,
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
                    r.get::<_, i64>(10)?,
                    r.get::<_, String>(12)?,
                    Article {
                        key: r.get(1)?,
                        feed: r.get(2)?,
                        url: r.get(3)?,
                        guid: r.get(4)?,
                        title: r.get(5)?,
                        text: r.get(6)?,
                        html: r.get(7)?,
                        author: r.get(8)?,
                        published: ts(r.get(9)?),
                        language: r.get(11)?,
                        entities: Vec::new(),
                    },
                ))
            },
        )?;
        let mut out = Vec::new();
        for row in rows {
            let (id, first_seen, entities, mut article) = row?;
            article.entities =
                serde_json::from_str::<Vec<Entity>>(&entities).map_err(|source| {
                    StoreError::Json {
                        what: "article entities",
                        source,
                    }
                })?;
            out.push(StoredArticle {
                id,
                first_seen: ts(first_seen),
                feeds: Vec::new(),
                article,
            });
        }
        let mut st = self
            .conn
            .prepare_cached("SELECT feed FROM article_feeds WHERE article_id = ?1 ORDER BY id")?;
        for a in &mut out {
            let feeds = st.query_map([a.id], |r| r.get::<_, String>(0))?;
            a.feeds = feeds.collect::<std::result::Result<_, _>>()?;
        }
        Ok(out)
    }

    /// Articles published in `[from, to)`, newest first, at most `limit`: the rolling background
    /// against which the rarity of entities and terms is judged at digest time.
    pub fn articles_published_between(
        &self,
        from: Timestamp,
        to: Timestamp,
        limit: usize,
    ) -> Result<Vec<Article>> {
        let mut st = self.conn.prepare(
            "SELECT key, feed, url, guid, title, text, author, published, language, entities
             FROM articles WHERE published >= ?1 AND published < ?2
             ORDER BY published DESC, id LIMIT ?3",
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
            a.entities = serde_json::from_str(&entities).map_err(|source| StoreError::Json {
                what: "article entities",
                source,
            })?;
            out.push(a);
        }
        Ok(out)
    }

    /// Mentions per entity (articles mentioning it) per day in `[from_day, to_day)`, summed: the
    /// history for trending. Returns `(key, name, kind, articles)`.
    pub fn entity_history(
        &self,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<(String, String, EntityKind, u64)>> {
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
    }

    /// The first day for which any article is stored.
    pub fn first_article_day(&self) -> Result<Option<Timestamp>> {
        let v: Option<i64> =
            self.conn
                .query_row("SELECT MIN(day) FROM article_entities", [], |r| r.get(0))?;
        Ok(v.map(|d| ts(d * 86_400)))
    }

    // ---------------------------------------------------------------- stories

    /// Stories of digest `name` seen at or after `since`, for continuity.
    pub fn recent_stories(&self, name: &str, since: Timestamp) -> Result<Vec<StoredStory>> {
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
            let signature = serde_json::from_str(&sig).map_err(|source| StoreError::Json {
                what: "story signature",
                source,
            })?;
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
    }

    // ---------------------------------------------------------------- outbox

    /// Puts a built digest in the outbox, marks its articles as used by digest `name`, advances the
    /// cursor, persists its stories and queues its deliveries — all in one transaction.
    pub fn store_digest(&mut self, d: &NewDigest<'_>) -> Result<i64> {
        let tx = self.conn.transaction()?;
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
                let sig =
                    serde_json::to_string(&s.signature).map_err(|source| StoreError::Json {
                        what: "story signature",
                        source,
                    })?;
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
            }
        }
        tx.commit()?;
        Ok(id)
    }

    /// A digest from the outbox.
    pub fn digest(&self, id: i64) -> Result<Option<StoredDigest>> {
        Ok(self
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
            .optional()?)
    }

    /// Number of digests built, per name or all.
    pub fn digest_count(&self, name: Option<&str>) -> Result<u64> {
        Ok(match name {
            Some(n) => {
                self.conn
                    .query_row("SELECT COUNT(*) FROM digests WHERE name = ?1", [n], |r| {
                        r.get(0)
                    })?
            }
            None => self
                .conn
                .query_row("SELECT COUNT(*) FROM digests", [], |r| r.get(0))?,
        })
    }

    /// Deliveries waiting to be sent: all pending/failed ones when `due_by` is None, else those due by then.
    /// Rows left in `sending` by a crash are included (they are retried; see README on at-least-once).
    pub fn pending_deliveries(&self, due_by: Option<Timestamp>) -> Result<Vec<Delivery>> {
        let mut st = self.conn.prepare(
            "SELECT id, digest_id, target, status, attempts, next_attempt, last_error FROM deliveries
             WHERE status IN ('pending', 'failed', 'sending') AND (?1 IS NULL OR next_attempt <= ?1)
             ORDER BY digest_id, id",
        )?;
        let rows = st.query_map(params![due_by.map(|t| t.as_second())], Self::delivery_row)?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
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
        })
    }

    /// The earliest time a waiting delivery is due, if any.
    pub fn next_delivery_due(&self) -> Result<Option<Timestamp>> {
        let v: Option<i64> = self.conn.query_row(
            "SELECT MIN(next_attempt) FROM deliveries WHERE status IN ('pending', 'failed', 'sending')",
            [],
            |r| r.get(0),
        )?;
        Ok(ots(v))
    }

    /// Marks a delivery as being attempted now (before any byte goes out).
    pub fn mark_sending(&mut self, id: i64) -> Result<()> {
        self.conn.execute(
            "UPDATE deliveries SET status = 'sending', attempts = attempts + 1 WHERE id = ?1",
            [id],
        )?;
        Ok(())
    }

    /// Marks a delivery as done. Only a delivery not yet sent changes; returns false if it was sent already.
    pub fn mark_sent(&mut self, id: i64, now: Timestamp, detail: &str) -> Result<bool> {
        let n = self.conn.execute(
            "UPDATE deliveries SET status = 'sent', delivered_at = ?2, detail = ?3, last_error = NULL
             WHERE id = ?1 AND status != 'sent'",
            params![id, now.as_second(), detail],
        )?;
        Ok(n == 1)
    }

    /// Records a failed attempt and when to retry.
    pub fn mark_failed(&mut self, id: i64, error: &str, next_attempt: Timestamp) -> Result<()> {
        self.conn.execute(
            "UPDATE deliveries SET status = 'failed', last_error = ?2, next_attempt = ?3 WHERE id = ?1",
            params![id, error, next_attempt.as_second()],
        )?;
        Ok(())
    }

    /// Every delivery of a digest (for status output and tests).
    pub fn deliveries_of(&self, digest_id: i64) -> Result<Vec<Delivery>> {
        let mut st = self.conn.prepare(
            "SELECT id, digest_id, target, status, attempts, next_attempt, last_error FROM deliveries
             WHERE digest_id = ?1 ORDER BY id",
        )?;
        let rows = st.query_map([digest_id], Self::delivery_row)?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }

    /// The newest `limit` digests of the outbox (all names), newest first, without their JSON.
    pub fn recent_digests(&self, limit: usize) -> Result<Vec<DigestSummary>> {
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
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }

    /// The id of the newest digest called `name`, if any.
    pub fn last_digest_id(&self, name: &str) -> Result<Option<i64>> {
        Ok(self
            .conn
            .query_row("SELECT MAX(id) FROM digests WHERE name = ?1", [name], |r| {
                r.get(0)
            })?)
    }

    /// Queues every delivery of digest `digest_id` again, due at `now` (a re-send of a stored
    /// digest: its rows go back to `pending`; the attempt count is kept). Returns how many.
    pub fn requeue_deliveries(&mut self, digest_id: i64, now: Timestamp) -> Result<usize> {
        Ok(self.conn.execute(
            "UPDATE deliveries SET status = 'pending', next_attempt = ?2 WHERE digest_id = ?1",
            params![digest_id, now.as_second()],
        )?)
    }

    /// The last successful delivery per digest name, for status: `(name, digest id, when)`.
    pub fn last_sent(&self) -> Result<Vec<(String, i64, Timestamp)>> {
        let mut st = self.conn.prepare(
            "SELECT d.name, MAX(d.id), MAX(x.delivered_at) FROM deliveries x
             JOIN digests d ON d.id = x.digest_id
             WHERE x.status = 'sent' AND x.delivered_at IS NOT NULL
             GROUP BY d.name ORDER BY d.name",
        )?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, ts(r.get(2)?))))?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
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
}
