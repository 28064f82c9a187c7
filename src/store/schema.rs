//! The database schema as versioned migrations (`PRAGMA user_version`), and the application id
//! that marks a file as a digestif database.

use rusqlite::Transaction;
use rusqlite_migration::{HookResult, M, Migrations};

/// `PRAGMA application_id` of a digestif database ("dgif").
pub(crate) const APPLICATION_ID: i32 = 0x6467_6966;

/// Tables every digestif database has since the first schema version; a database without an
/// application id but with these is one written before the id was set.
pub(crate) const CORE_TABLES: &[&str] = &["feeds", "articles", "article_feeds", "deliveries"];

pub(crate) const V1: &str = r#"
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
"#;

/// Version 2: the fingerprint of the raw entry each article was made from
/// ([`crate::normalize::fingerprint`]), so that ingest tells an unchanged entry without
/// normalising it. Entries with neither link nor guid are found by it (partial index).
const V2: &str = "
ALTER TABLE articles ADD COLUMN fingerprint INTEGER;
CREATE INDEX articles_fingerprint ON articles(fingerprint) WHERE url IS NULL AND guid IS NULL;
";

/// Version 3: retention and honest delivery state.
/// - `deliveries.status` may be `uncertain` (the server took the message body but never
///   confirmed it), and `body_sent_at` records when the body was handed over;
/// - `article_feeds` ids never go back (AUTOINCREMENT): digests select "seen after the cursor",
///   so an id must not be reused after retention deleted the newest rows;
/// - incremental background counts per day (`background_docs`, `background_df`), so a digest
///   build reads counts instead of re-tokenising a week of articles;
/// - `retired_articles`: hashes of the keys of articles removed by retention, so a feed that
///   still carries one does not bring it back as new;
/// - indexes for retention (`articles.first_seen`, `digest_articles.article_id`).
const V3: &str = r#"
CREATE TABLE deliveries_v2 (
    id INTEGER PRIMARY KEY,
    digest_id INTEGER NOT NULL REFERENCES digests(id) ON DELETE CASCADE,
    target TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'uncertain')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt INTEGER NOT NULL,
    last_error TEXT,
    delivered_at INTEGER,
    detail TEXT,
    body_sent_at INTEGER,
    UNIQUE(digest_id, target)
);
INSERT INTO deliveries_v2(id, digest_id, target, status, attempts, next_attempt, last_error,
                          delivered_at, detail)
    SELECT id, digest_id, target, status, attempts, next_attempt, last_error, delivered_at, detail
    FROM deliveries;
DROP TABLE deliveries;
ALTER TABLE deliveries_v2 RENAME TO deliveries;
CREATE INDEX deliveries_status ON deliveries(status, next_attempt);

CREATE TABLE article_feeds_v2 (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    article_id INTEGER NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    feed TEXT NOT NULL,
    seen_at INTEGER NOT NULL,
    UNIQUE(article_id, feed)
);
INSERT INTO article_feeds_v2(id, article_id, feed, seen_at)
    SELECT id, article_id, feed, seen_at FROM article_feeds;
DROP TABLE article_feeds;
ALTER TABLE article_feeds_v2 RENAME TO article_feeds;
CREATE INDEX article_feeds_feed ON article_feeds(feed, id);
CREATE INDEX article_feeds_article ON article_feeds(article_id);

CREATE TABLE background_docs (
    day INTEGER PRIMARY KEY,
    docs INTEGER NOT NULL
);
CREATE TABLE background_df (
    day INTEGER NOT NULL,
    key TEXT NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY(day, key)
) WITHOUT ROWID;
CREATE TABLE retired_articles (
    hash INTEGER PRIMARY KEY,
    retired_at INTEGER NOT NULL
);
CREATE INDEX articles_first_seen ON articles(first_seen);
CREATE INDEX digest_articles_article ON digest_articles(article_id);
CREATE INDEX digests_built ON digests(built_at);
CREATE INDEX stories_last_seen ON stories(last_seen);
"#;

/// The migrations, oldest first. Version 3 also fills the background counts of the articles
/// already stored (the last [`super::background::KEEP_DAYS`] days).
pub(crate) fn migrations() -> Migrations<'static> {
    Migrations::new(vec![
        M::up(V1),
        M::up(V2),
        M::up_with_hook(V3, |tx: &Transaction<'_>| -> HookResult {
            super::background::backfill(tx)?;
            Ok(())
        }),
    ])
}

/// The newest schema version this build knows.
pub(crate) fn latest_version() -> usize {
    3
}
