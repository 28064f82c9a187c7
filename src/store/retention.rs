//! Retention: removing what is older than the configured `retention` in small batches (each its
//! own short transaction, so fetches and digest builds are never blocked for long), remembering
//! the keys of removed articles so feeds that still carry them do not bring them back as new, and
//! giving the freed pages back to the file system with incremental vacuum.

use jiff::Timestamp;
use rusqlite::{OptionalExtension, Transaction, params};

use super::{Fail, Result, Store, background};

/// What one retention batch removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RetentionReport {
    /// Articles removed (with their entities and feed links).
    pub articles: u64,
    /// Delivered digests removed (with their deliveries); the latest of each name is kept.
    pub digests: u64,
    /// Stories not seen since the horizon.
    pub stories: u64,
    /// Background-count rows of days no digest reads any more.
    pub counts: u64,
    /// Expired keys of removed articles.
    pub tombstones: u64,
}

impl RetentionReport {
    /// True when the batch removed nothing: retention is done for now.
    pub fn is_empty(&self) -> bool {
        *self == RetentionReport::default()
    }

    /// Adds another batch's counts.
    pub fn add(&mut self, o: &RetentionReport) {
        self.articles += o.articles;
        self.digests += o.digests;
        self.stories += o.stories;
        self.counts += o.counts;
        self.tombstones += o.tombstones;
    }
}

/// The retention horizon for `retention` at `now` (None: keep everything).
pub fn horizon(now: Timestamp, retention: std::time::Duration) -> Option<Timestamp> {
    if retention.is_zero() {
        return None;
    }
    let secs = i64::try_from(retention.as_secs()).ok()?;
    now.checked_sub(jiff::SignedDuration::from_secs(secs)).ok()
}

/// A stable 63-bit hash of an article key (for the tombstones of removed articles).
pub(crate) fn key_hash(key: &str) -> i64 {
    use sha2::{Digest, Sha256};
    let h = Sha256::digest(key.as_bytes());
    let mut b = [0u8; 8];
    b.copy_from_slice(&h[..8]);
    (u64::from_le_bytes(b) >> 1) as i64
}

impl Store {
    /// One batch of retention work at `now`: at most `batch` articles first seen before
    /// `horizon` (None: keep articles, digests and stories forever), at most `batch` delivered
    /// digests built before it (never the latest of a name, never one with a delivery not yet
    /// sent), stories last seen before it, background counts no digest reads any more, and
    /// tombstones older than twice the retention. Call until [`RetentionReport::is_empty`].
    pub fn retention_step(
        &mut self,
        horizon: Option<Timestamp>,
        now: Timestamp,
        batch: usize,
    ) -> Result<RetentionReport> {
        let r = (|| -> std::result::Result<RetentionReport, Fail> {
            let tx = self.conn.transaction()?;
            let mut rep = RetentionReport::default();
            if let Some(h) = horizon {
                rep.articles = retire_articles(&tx, h, now, batch)?;
                rep.digests = remove_digests(&tx, h, batch)?;
                rep.stories = tx.execute(
                    "DELETE FROM stories WHERE id IN (
                         SELECT id FROM stories WHERE last_seen < ?1 LIMIT ?2)",
                    params![h.as_second(), batch as i64],
                )? as u64;
                // A removed article's key is remembered for as long again as it was kept.
                let span = now.as_second() - h.as_second();
                rep.tombstones = tx.execute(
                    "DELETE FROM retired_articles WHERE hash IN (
                         SELECT hash FROM retired_articles WHERE retired_at < ?1 LIMIT ?2)",
                    params![now.as_second() - span, batch as i64],
                )? as u64;
            }
            let keep_from = super::day_of(now) - background::KEEP_DAYS;
            rep.counts = background::prune(&tx, keep_from, batch.saturating_mul(20))? as u64;
            tx.commit()?;
            Ok(rep)
        })();
        self.ctx(|| "removing old rows (retention)".to_string(), r)
    }

    /// Whether the database gives freed pages back (auto_vacuum = INCREMENTAL). Databases
    /// created before retention existed are converted once with a full `VACUUM` (this rewrites
    /// the file and needs as much free disk space as the database takes). Returns true when it
    /// converted the database now.
    pub fn ensure_incremental_vacuum(&mut self) -> Result<bool> {
        let r = (|| -> std::result::Result<bool, Fail> {
            let mode: i64 = self
                .conn
                .query_row("PRAGMA auto_vacuum", [], |r| r.get(0))?;
            if mode == 2 {
                return Ok(false);
            }
            self.conn
                .pragma_update(None, "auto_vacuum", "INCREMENTAL")?;
            self.conn.execute_batch("VACUUM")?;
            Ok(true)
        })();
        self.ctx(|| "converting to incremental vacuum".to_string(), r)
    }

    /// Gives at most `max_pages` free pages back to the file system; returns the free pages
    /// left (0 when done).
    pub fn incremental_vacuum(&mut self, max_pages: u32) -> Result<u64> {
        let r = (|| -> std::result::Result<u64, Fail> {
            // The pragma returns one row per step; run it to completion.
            let mut st = self
                .conn
                .prepare(&format!("PRAGMA incremental_vacuum({max_pages})"))?;
            let mut rows = st.query([])?;
            while rows.next()?.is_some() {}
            drop(rows);
            drop(st);
            let left: i64 = self
                .conn
                .query_row("PRAGMA freelist_count", [], |r| r.get(0))?;
            Ok(left.max(0) as u64)
        })();
        self.ctx(|| "incremental vacuum".to_string(), r)
    }

    /// Size of the database in bytes (pages in use and free), for logs and the README figures.
    pub fn size_bytes(&self) -> Result<u64> {
        let r = (|| -> std::result::Result<u64, Fail> {
            let pages: i64 = self.conn.query_row("PRAGMA page_count", [], |r| r.get(0))?;
            let size: i64 = self.conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
            Ok((pages.max(0) * size.max(0)) as u64)
        })();
        self.ctx(|| "reading the database size".to_string(), r)
    }
}

fn retire_articles(
    tx: &Transaction<'_>,
    horizon: Timestamp,
    now: Timestamp,
    batch: usize,
) -> rusqlite::Result<u64> {
    let victims: Vec<(i64, String)> = {
        let mut st = tx.prepare(
            "SELECT id, key FROM articles WHERE first_seen < ?1 ORDER BY first_seen LIMIT ?2",
        )?;
        let rows = st.query_map(params![horizon.as_second(), batch as i64], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    let mut tomb = tx.prepare_cached(
        "INSERT INTO retired_articles(hash, retired_at) VALUES (?1, ?2)
         ON CONFLICT(hash) DO UPDATE SET retired_at = excluded.retired_at",
    )?;
    let mut used = tx.prepare_cached("DELETE FROM digest_articles WHERE article_id = ?1")?;
    let mut del = tx.prepare_cached("DELETE FROM articles WHERE id = ?1")?;
    for (id, key) in &victims {
        tomb.execute(params![key_hash(key), now.as_second()])?;
        used.execute([id])?;
        del.execute([id])?;
    }
    Ok(victims.len() as u64)
}

fn remove_digests(tx: &Transaction<'_>, horizon: Timestamp, batch: usize) -> rusqlite::Result<u64> {
    Ok(tx.execute(
        "DELETE FROM digests WHERE id IN (
             SELECT d.id FROM digests d
             WHERE d.built_at < ?1
               AND d.id < (SELECT MAX(id) FROM digests l WHERE l.name = d.name)
               AND NOT EXISTS (SELECT 1 FROM deliveries v
                               WHERE v.digest_id = d.id AND v.status != 'sent')
             LIMIT ?2)",
        params![horizon.as_second(), batch as i64],
    )? as u64)
}

/// Whether an article key was removed by retention (and so must not come back as new).
pub(crate) fn is_retired(tx: &Transaction<'_>, key: &str) -> rusqlite::Result<bool> {
    Ok(tx
        .prepare_cached("SELECT 1 FROM retired_articles WHERE hash = ?1")?
        .query_row([key_hash(key)], |_| Ok(()))
        .optional()?
        .is_some())
}
