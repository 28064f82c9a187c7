//! Incremental background counts: per day of publication, how many articles were stored and in
//! how many of them each grouping feature (`e:<entity key>`, `t:<term>`) occurs. Written in the
//! ingest transaction for each new article, read back as sums over a range of days at digest
//! time (for [`crate::stories::Background::from_counts`]), pruned by retention.
//!
//! The features are exactly those [`crate::stories::Background::add_articles`] extracts, so a
//! background read from the counts equals one built by re-tokenising the same articles.

use std::collections::BTreeMap;

use rusqlite::{Transaction, params};

use crate::model::Article;
use crate::stories::{Background, StoryArticle};

/// Days of counts kept: the 7-day background before a window, for windows up to 30 days late.
pub(crate) const KEEP_DAYS: i64 = 37;

/// The day (days since the epoch, UTC) an article counts for: its publication, never later than
/// when it was first seen.
pub(crate) fn day_of_article(a: &Article, first_seen: jiff::Timestamp) -> i64 {
    super::day_of(a.published.min(first_seen))
}

/// Adds the features of `articles` (newly stored, all first seen at `now`) to the counts.
pub(crate) fn add(
    tx: &Transaction<'_>,
    articles: &[&Article],
    now: jiff::Timestamp,
) -> rusqlite::Result<()> {
    let mut by_day: BTreeMap<i64, Vec<StoryArticle<'_>>> = BTreeMap::new();
    for a in articles {
        by_day
            .entry(day_of_article(a, now))
            .or_default()
            .push(view(a));
    }
    for (day, views) in by_day {
        let mut bg = Background::new();
        bg.add_articles(&views);
        write(tx, day, &bg, 1)?;
    }
    Ok(())
}

fn view(a: &Article) -> StoryArticle<'_> {
    StoryArticle::of(0, a)
}

/// Adds (`sign` 1) or subtracts (`sign` -1) the counts of `bg` to those of `day`.
fn write(tx: &Transaction<'_>, day: i64, bg: &Background, sign: i64) -> rusqlite::Result<()> {
    let signed = |n: u64| i64::try_from(n).unwrap_or(i64::MAX).saturating_mul(sign);
    tx.prepare_cached(
        "INSERT INTO background_docs(day, docs) VALUES (?1, ?2)
         ON CONFLICT(day) DO UPDATE SET docs = docs + excluded.docs",
    )?
    .execute(params![day, signed(bg.docs())])?;
    let mut st = tx.prepare_cached(
        "INSERT INTO background_df(day, key, n) VALUES (?1, ?2, ?3)
         ON CONFLICT(day, key) DO UPDATE SET n = n + excluded.n",
    )?;
    for (key, n) in bg.counts() {
        st.execute(params![day, key, signed(n)])?;
    }
    Ok(())
}

/// A stored article as its background features were counted: the article and when it was
/// first seen (which, with its publication time, gives the day it counts for).
pub(crate) struct Counted {
    pub article: Article,
    pub first_seen: jiff::Timestamp,
}

/// The stored article `id` as counted, if it exists.
pub(crate) fn stored_article(tx: &Transaction<'_>, id: i64) -> rusqlite::Result<Option<Counted>> {
    use rusqlite::OptionalExtension;
    tx.prepare_cached(
        "SELECT id, first_seen, key, feed, url, title, text, published, language, entities
         FROM articles WHERE id = ?1",
    )?
    .query_row([id], |r| {
        let (_, first_seen, article) = article_row(r)?;
        Ok(Counted {
            article,
            first_seen: super::ts(first_seen),
        })
    })
    .optional()
}

/// Moves the counts of a changed article from its old version's features to the new one's.
/// Its day stays (publication and first-seen times are kept on update), and so does its outlet.
/// The old features are re-extracted from the stored text; for an article without a detected
/// language in an outlet that writes in another language, the batch it was first counted in may
/// have given it that language's stop words, so a few term counts can stay off by one.
pub(crate) fn replace(tx: &Transaction<'_>, old: &Counted, new: &Article) -> rusqlite::Result<()> {
    let day = day_of_article(&old.article, old.first_seen);
    let before = view(&old.article);
    let after = StoryArticle {
        outlet: &old.article.feed,
        published: old.article.published.as_second(),
        ..view(new)
    };
    let mut minus = Background::new();
    minus.add_articles(&[before]);
    let mut plus = Background::new();
    plus.add_articles(&[after]);
    write(tx, day, &minus, -1)?;
    write(tx, day, &plus, 1)
}

/// The summed counts of the days `[from_day, to_day)`: documents and per-feature frequencies.
pub(crate) fn read(
    conn: &rusqlite::Connection,
    from_day: i64,
    to_day: i64,
) -> rusqlite::Result<(u64, Vec<(String, u64)>)> {
    let docs: i64 = conn.query_row(
        "SELECT COALESCE(SUM(docs), 0) FROM background_docs WHERE day >= ?1 AND day < ?2",
        params![from_day, to_day],
        |r| r.get(0),
    )?;
    let mut st = conn.prepare(
        "SELECT key, SUM(n) FROM background_df WHERE day >= ?1 AND day < ?2 GROUP BY key",
    )?;
    let rows = st.query_map(params![from_day, to_day], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?.max(0) as u64))
    })?;
    let df = rows.collect::<rusqlite::Result<Vec<_>>>()?;
    Ok((docs.max(0) as u64, df))
}

/// Deletes the counts of days before `before_day`, at most `limit` feature rows; returns the
/// number of rows deleted.
pub(crate) fn prune(
    tx: &Transaction<'_>,
    before_day: i64,
    limit: usize,
) -> rusqlite::Result<usize> {
    let n = tx.execute(
        "DELETE FROM background_df WHERE (day, key) IN (
             SELECT day, key FROM background_df WHERE day < ?1 LIMIT ?2)",
        params![before_day, limit as i64],
    )?;
    let d = tx.execute(
        "DELETE FROM background_docs WHERE day < ?1 AND NOT EXISTS (
             SELECT 1 FROM background_df WHERE background_df.day = background_docs.day)",
        params![before_day],
    )?;
    Ok(n + d)
}

/// Fills the counts from the articles already stored (schema upgrade): those first seen in the
/// last [`KEEP_DAYS`] days, in batches.
pub(crate) fn backfill(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    let now = jiff::Timestamp::now();
    let since = now.as_second() - KEEP_DAYS * 86_400;
    let mut last_id = 0i64;
    loop {
        let batch = load_batch(tx, since, last_id)?;
        let Some(last) = batch.last() else {
            return Ok(());
        };
        last_id = last.0;
        // Group by (feed, first seen) so each group is one fetch, as at ingest.
        let mut groups: BTreeMap<(String, i64), Vec<&Article>> = BTreeMap::new();
        for (_, first_seen, a) in &batch {
            groups
                .entry((a.feed.clone(), *first_seen))
                .or_default()
                .push(a);
        }
        for ((_, first_seen), articles) in groups {
            let seen = jiff::Timestamp::from_second(first_seen).unwrap_or(now);
            add(tx, &articles, seen)?;
        }
    }
}

fn load_batch(
    tx: &Transaction<'_>,
    since: i64,
    after_id: i64,
) -> rusqlite::Result<Vec<(i64, i64, Article)>> {
    let mut st = tx.prepare(
        "SELECT id, first_seen, key, feed, url, title, text, published, language, entities
         FROM articles WHERE first_seen >= ?1 AND id > ?2 ORDER BY id LIMIT 2000",
    )?;
    let rows = st.query_map(params![since, after_id], article_row)?;
    rows.collect()
}

/// `id, first_seen, key, feed, url, title, text, published, language, entities` as an article
/// with what its features need.
fn article_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(i64, i64, Article)> {
    let entities: String = r.get(9)?;
    Ok((
        r.get::<_, i64>(0)?,
        r.get::<_, i64>(1)?,
        Article {
            key: r.get(2)?,
            feed: r.get(3)?,
            url: r.get(4)?,
            guid: None,
            title: r.get(5)?,
            text: r.get(6)?,
            html: String::new(),
            author: None,
            published: super::ts(r.get(7)?),
            language: r.get(8)?,
            // Unreadable entities only cost this article its entity features.
            entities: serde_json::from_str(&entities).unwrap_or_default(),
        },
    ))
}
