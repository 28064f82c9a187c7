//! Ingest: fetch → parse → normalise → tag → store, with bounded concurrency, and the per-feed
//! schedule (when a feed is next due, how long a failing one backs off).
//!
//! Three kinds of worker share a fetch round: the async reactor only fetches (up to `concurrency`
//! requests in flight); each fetched body goes to the CPU pool ([`super::cpu`]), where
//! [`super::prepare`] parses it, looks its entries up in the store and normalises and tags only
//! the new or changed ones; the batch then goes to the round's writer thread
//! ([`super::writer`]), which stores it in one transaction.

use std::time::Duration;

use futures_util::StreamExt;
use jiff::Timestamp;

use super::prepare::{self, FeedBody, PrepareError};
use super::writer::Writer;
use super::{Context, Result, add, cpu};
use crate::config::FeedSettings;
use crate::fetch::{self, FetchOutcome, FetchRequest};
use crate::store::{FetchSuccess, IngestBatch};

/// What happened to one feed in one fetch round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedStatus {
    /// Fetched and parsed: entries in the feed, articles new to the store, and entries that were
    /// normalised and tagged (new or changed; known unchanged entries skip that work).
    Fetched {
        entries: usize,
        new: usize,
        tagged: usize,
    },
    NotModified,
    /// Not due (interval or backoff) and not forced.
    Skipped,
    Failed(String),
}

/// The outcome of one feed.
#[derive(Debug, Clone)]
pub struct FeedReport {
    pub feed: String,
    pub url: String,
    pub status: FeedStatus,
}

impl FeedReport {
    fn new(feed: &FeedSettings, status: FeedStatus) -> FeedReport {
        FeedReport {
            feed: feed.name.clone(),
            url: feed.url.clone(),
            status,
        }
    }
}

/// When `feed` is next due, from its stored state (last fetch + interval with jitter, backoff).
pub fn feed_due_at(ctx: &Context, feed: &FeedSettings) -> Result<Timestamp> {
    let state = ctx.with_store(|s| s.feed_state(&feed.name))?;
    let Some(state) = state else {
        return Ok(Timestamp::UNIX_EPOCH);
    };
    let mut due = match state.last_fetch {
        None => Timestamp::UNIX_EPOCH,
        Some(last) => {
            let seed = crate::schedule::seed_for(&feed.name);
            let wait = feed
                .interval
                .saturating_add(crate::schedule::jitter(feed.interval, seed));
            add(last, wait)
        }
    };
    if let Some(next) = state.next_attempt {
        due = due.max(next);
    }
    Ok(due)
}

/// Fetches, parses, normalises, tags and stores one feed. Never fails for the feed's own faults: those
/// are recorded in the store (health, backoff) and returned as [`FeedStatus::Failed`].
pub async fn ingest_feed(ctx: &Context, feed: &FeedSettings, force: bool) -> Result<FeedReport> {
    let writer = Writer::start(ctx.store.clone())?;
    ingest_with(ctx, feed, force, &writer).await
}

/// [`ingest_feed`] with the round's writer.
async fn ingest_with(
    ctx: &Context,
    feed: &FeedSettings,
    force: bool,
    writer: &Writer,
) -> Result<FeedReport> {
    let now = Timestamp::now();
    if !force && feed_due_at(ctx, feed)? > now {
        return Ok(FeedReport::new(feed, FeedStatus::Skipped));
    }
    let state = ctx
        .with_store(|s| s.feed_state(&feed.name))?
        .unwrap_or_default();
    let failures = state.consecutive_failures;
    let password = match feed.password.as_ref().map(|s| s.resolve()).transpose() {
        Ok(p) => p,
        Err(e) => {
            let msg = format!("feed `{}` ({}): password: {e}", feed.name, feed.url);
            return fail(ctx, feed, msg, failures, None, now);
        }
    };
    let req = FetchRequest {
        feed: feed.name.clone(),
        url: feed.url.clone(),
        headers: feed.headers.clone(),
        basic_auth: feed.username.clone().map(|u| (u, password)),
        etag: state.etag.clone(),
        last_modified: state.last_modified.clone(),
    };
    match ctx.fetcher.fetch(&req).await {
        Ok(FetchOutcome::NotModified) => {
            let batch = IngestBatch::default();
            writer
                .ingest(&feed.name, batch, FetchSuccess::default(), now)
                .await?;
            Ok(FeedReport::new(feed, FeedStatus::NotModified))
        }
        Ok(FetchOutcome::Fetched {
            body,
            etag,
            last_modified,
            final_url,
            ..
        }) => {
            let job = FeedBody {
                feed: feed.name.clone(),
                url: feed.url.clone(),
                final_url,
                body,
                now,
                max_items: feed.max_items,
            };
            let store = ctx.store.clone();
            let prepared = match cpu::run(move || prepare::prepare(job, &store)).await? {
                Ok(p) => p,
                Err(PrepareError::Feed(msg)) => return fail(ctx, feed, msg, failures, None, now),
                Err(PrepareError::Store(e)) => return Err(e.into()),
            };
            let success = FetchSuccess {
                etag,
                last_modified,
                replace_validators: true,
            };
            let counts = writer
                .ingest(&feed.name, prepared.batch, success, now)
                .await?;
            let status = FeedStatus::Fetched {
                entries: prepared.entries,
                new: counts.new,
                tagged: prepared.tagged,
            };
            tracing::debug!(
                feed = %feed.name,
                entries = prepared.entries,
                new = counts.new,
                changed = counts.changed,
                tagged = prepared.tagged,
                languages_inferred = prepared.languages_inferred,
                "ingested"
            );
            Ok(FeedReport::new(feed, status))
        }
        Err(e) => fail(ctx, feed, e.to_string(), failures, e.retry_after(), now),
    }
}

/// The wait before the next attempt of `feed` after `failures` failures in a row: a point of the
/// jittered back-off window ([`fetch::backoff_jittered`]) drawn from the feed's name and failure
/// count, so feeds that fail together (a network outage) retry spread out, while one feed's
/// schedule stays reproducible.
pub fn feed_backoff(feed: &str, failures: u32, retry_after: Option<Duration>) -> Duration {
    let seed = crate::schedule::seed_for(feed) ^ u64::from(failures).rotate_left(32);
    fetch::backoff_jittered(failures, retry_after, crate::hash::unit_interval(seed))
}

fn fail(
    ctx: &Context,
    feed: &FeedSettings,
    msg: String,
    failures: u32,
    retry_after: Option<Duration>,
    now: Timestamp,
) -> Result<FeedReport> {
    let delay = feed_backoff(&feed.name, failures + 1, retry_after);
    let next = add(now, delay);
    tracing::warn!(feed = %feed.name, url = %feed.url, retry_in_s = delay.as_secs(), "{msg}");
    ctx.with_store(|s| s.record_feed_failure(&feed.name, &msg, now, next))?;
    Ok(FeedReport::new(feed, FeedStatus::Failed(msg)))
}

/// A feed whose ingest failed in a way no feed should (a store error, a panic while preparing
/// it) is recorded as failed in its health, with the cause and the usual back-off, and the round
/// goes on with the other feeds.
fn unexpected_failure(ctx: &Context, feed: &FeedSettings, e: &super::PipelineError) -> FeedReport {
    let msg = format!("feed `{}` ({}): unexpected error: {e}", feed.name, feed.url);
    let failures = ctx
        .with_store(|s| s.feed_state(&feed.name))
        .ok()
        .flatten()
        .map_or(0, |s| s.consecutive_failures);
    match fail(ctx, feed, msg.clone(), failures, None, Timestamp::now()) {
        Ok(report) => report,
        Err(also) => {
            tracing::error!(feed = %feed.name, "{msg}; recording it failed too: {also}");
            FeedReport::new(feed, FeedStatus::Failed(msg))
        }
    }
}

/// Progress of a fetch round, for a caller that shows it (the CLI's progress bar).
#[derive(Debug)]
pub enum FetchProgress<'a> {
    /// The round starts with this many feeds.
    Started { feeds: usize },
    /// One feed is done.
    Done(&'a FeedReport),
    /// Every feed is done.
    Finished,
}

/// Fetches every enabled feed (or only those due, unless `force`), with bounded concurrency.
/// One feed's failure never stops the others, also an unexpected one (recorded in its health).
pub async fn fetch_all(ctx: &Context, force: bool) -> Result<Vec<FeedReport>> {
    fetch_all_with_progress(ctx, force, |_| {}).await
}

/// [`fetch_all`], telling `progress` when the round starts, as each feed is done, and at the end.
pub async fn fetch_all_with_progress(
    ctx: &Context,
    force: bool,
    mut progress: impl FnMut(FetchProgress<'_>),
) -> Result<Vec<FeedReport>> {
    let feeds: Vec<FeedSettings> = ctx
        .settings
        .feeds
        .iter()
        .filter(|f| f.enabled)
        .cloned()
        .collect();
    progress(FetchProgress::Started { feeds: feeds.len() });
    let limit = ctx.settings.fetch.concurrency.max(1);
    let writer = Writer::start(ctx.store.clone())?;
    let writer = &writer;
    let mut stream = futures_util::stream::iter(feeds.iter())
        .map(|f| async move { (f, ingest_with(ctx, f, force, writer).await) })
        .buffer_unordered(limit);
    let mut reports = Vec::with_capacity(feeds.len());
    let started = std::time::Instant::now();
    while let Some((f, r)) = stream.next().await {
        let r = r.unwrap_or_else(|e| unexpected_failure(ctx, f, &e));
        progress(FetchProgress::Done(&r));
        reports.push(r);
    }
    drop(stream);
    progress(FetchProgress::Finished);
    reports.sort_by(|a, b| a.feed.cmp(&b.feed));
    log_round(&reports, started.elapsed());
    cpu::release_freed_memory();
    Ok(reports)
}

/// Counts of one fetch round, by what happened to each feed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RoundCounts {
    /// Feeds fetched (not skipped as not due).
    pub feeds: usize,
    /// Articles new to the store.
    pub new: usize,
    pub not_modified: usize,
    pub failed: usize,
}

impl RoundCounts {
    pub fn of(reports: &[FeedReport]) -> RoundCounts {
        let mut c = RoundCounts::default();
        for r in reports {
            match &r.status {
                FeedStatus::Skipped => continue,
                FeedStatus::Fetched { new, .. } => c.new += new,
                FeedStatus::NotModified => c.not_modified += 1,
                FeedStatus::Failed(_) => c.failed += 1,
            }
            c.feeds += 1;
        }
        c
    }
}

/// The one info line of a fetch round (none when no feed was due); each failing feed has had
/// its own warn line, with its name, URL and cause.
fn log_round(reports: &[FeedReport], took: Duration) {
    let c = RoundCounts::of(reports);
    if c.feeds == 0 {
        return;
    }
    tracing::info!(
        feeds = c.feeds,
        new = c.new,
        not_modified = c.not_modified,
        failed = c.failed,
        seconds = format_args!("{:.1}", took.as_secs_f64()),
        "fetch round done"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feed_backoff_spreads_feeds_inside_the_jitter_window() {
        let names: Vec<String> = (0..50).map(|i| format!("feed {i}")).collect();
        let delays: Vec<Duration> = names.iter().map(|n| feed_backoff(n, 3, None)).collect();
        let (low, high) = fetch::backoff_bounds(3, None);
        assert!(delays.iter().all(|d| (low..=high).contains(d)));
        let mut distinct = delays.clone();
        distinct.sort();
        distinct.dedup();
        assert!(distinct.len() > 40, "{} distinct delays", distinct.len());
        assert_eq!(feed_backoff("feed 1", 3, None), delays[1], "reproducible");
        // Retry-After stays a floor.
        let ra = Some(Duration::from_secs(7200));
        assert!(feed_backoff("feed 1", 1, ra) >= Duration::from_secs(7200));
    }
}
