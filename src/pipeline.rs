//! The jobs that tie the stages together: ingest (fetch → parse → normalise → tag → store), digest
//! build (select → group → render model → outbox) and delivery (outbox → files, SMTP, sendmail).
//!
//! Both the daemon and the one-shot CLI verbs call these; they own no timers and no signals.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use jiff::{Timestamp, ToSpan};
use serde::{Deserialize, Serialize};

use crate::config::{DigestSettings, FeedSettings, OutputSettings, Settings};
use crate::deliver::{self, DeliverError, EmailContent};
use crate::digest::{
    ArticleOut, Developing, Digest, EntityRef, FeedHealthOut, FeedStatus as OutFeedStatus, Format,
    LineOut, Renderer, Section as OutSection, StoryOut, TrendOut,
};
use crate::fetch::{self, FetchOutcome, FetchRequest, Fetcher};
use crate::model::{Article, EntityKind, fold_key};
use crate::store::{self, FetchSuccess, NewDigest, Store, StoryUpsert};
use crate::stories::{self, Background, GroupOptions, PreviousStory, Section, StoryArticle};

/// Errors of the jobs (a failing feed is not one: it is recorded and reported per feed).
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error(transparent)]
    Fetch(#[from] fetch::FetchError),
    #[error(transparent)]
    Render(#[from] crate::digest::RenderError),
    #[error("stored digest {id} is unreadable: {source}")]
    DigestJson { id: i64, source: serde_json::Error },
    #[error("no digest named `{0}` in the configuration")]
    UnknownDigest(String),
    #[error("a background task failed: {0}")]
    Join(String),
    #[error("secret for {what}: {message}")]
    Secret { what: String, message: String },
}

type Result<T> = std::result::Result<T, PipelineError>;

/// Everything a job needs.
#[derive(Clone)]
pub struct Context {
    pub settings: Arc<Settings>,
    pub store: Arc<Mutex<Store>>,
    pub fetcher: Fetcher,
    pub renderer: Arc<Renderer>,
}

impl Context {
    /// Opens the store, registers the configured feeds and builds the fetcher and renderer.
    pub fn new(settings: Settings) -> Result<Context> {
        let mut store = Store::open_in(&settings.state_dir)?;
        store.sync_feeds(
            settings
                .feeds
                .iter()
                .map(|f| (f.name.as_str(), f.url.as_str())),
        )?;
        let fetcher = Fetcher::new(fetch_options(&settings))?;
        let renderer = Renderer::new(settings.template_dir.as_deref())?
            .with_time_zone(settings.timezone.clone());
        Ok(Context {
            settings: Arc::new(settings),
            store: Arc::new(Mutex::new(store)),
            fetcher,
            renderer: Arc::new(renderer),
        })
    }

    /// Runs `f` with the store locked. The lock is never held across an await.
    pub fn with_store<T>(&self, f: impl FnOnce(&mut Store) -> T) -> T {
        let mut guard = match self.store.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        f(&mut guard)
    }
}

fn fetch_options(s: &Settings) -> fetch::FetchOptions {
    fetch::FetchOptions {
        connect_timeout: s.fetch.connect_timeout,
        timeout: s.fetch.timeout,
        max_body_bytes: s.fetch.max_body,
        max_redirects: 5,
        concurrency: s.fetch.concurrency,
        per_host: s.fetch.per_host,
        user_agent: s.fetch.user_agent.clone(),
    }
}

// ------------------------------------------------------------------------------------------ ingest

/// What happened to one feed in one fetch round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedStatus {
    /// Fetched and parsed: entries in the feed, articles new to the store.
    Fetched {
        entries: usize,
        new: usize,
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

/// When `feed` is next due, from its stored state (last fetch + interval with jitter, backoff).
pub fn feed_due_at(ctx: &Context, feed: &FeedSettings) -> Result<Timestamp> {
    let state = ctx.with_store(|s| s.feed_state(&feed.name))?;
    let Some(state) = state else {
        return Ok(Timestamp::UNIX_EPOCH);
    };
    let mut due = match state.last_fetch {
        None => Timestamp::UNIX_EPOCH,
        Some(last) => {
            let seed = feed_seed(&feed.name);
            let wait = feed.interval + crate::schedule::jitter(feed.interval, seed);
            add(last, wait)
        }
    };
    if let Some(next) = state.next_attempt {
        due = due.max(next);
    }
    Ok(due)
}

fn feed_seed(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

fn add(t: Timestamp, d: Duration) -> Timestamp {
    let secs = i64::try_from(d.as_secs()).unwrap_or(i64::MAX / 4);
    t.checked_add(secs.seconds()).unwrap_or(Timestamp::MAX)
}

fn sub(t: Timestamp, d: Duration) -> Timestamp {
    let secs = i64::try_from(d.as_secs()).unwrap_or(i64::MAX / 4);
    t.checked_sub(secs.seconds()).unwrap_or(Timestamp::MIN)
}

/// Fetches, parses, normalises, tags and stores one feed. Never fails for the feed's own faults: those
/// are recorded in the store (health, backoff) and returned as [`FeedStatus::Failed`].
pub async fn ingest_feed(ctx: &Context, feed: &FeedSettings, force: bool) -> Result<FeedReport> {
    let now = Timestamp::now();
    let report = |status| FeedReport {
        feed: feed.name.clone(),
        url: feed.url.clone(),
        status,
    };
    if !force && feed_due_at(ctx, feed)? > now {
        return Ok(report(FeedStatus::Skipped));
    }
    let state = ctx
        .with_store(|s| s.feed_state(&feed.name))?
        .unwrap_or_default();
    let password = match &feed.password {
        Some(secret) => match secret.resolve() {
            Ok(p) => Some(p),
            Err(e) => {
                let msg = format!("feed `{}` ({}): password: {e}", feed.name, feed.url);
                return fail(ctx, feed, msg, state.consecutive_failures, None, now);
            }
        },
        None => None,
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
            ctx.with_store(|s| s.ingest(&feed.name, &[], &FetchSuccess::default(), now))?;
            Ok(report(FeedStatus::NotModified))
        }
        Ok(FetchOutcome::Fetched {
            body,
            etag,
            last_modified,
            final_url,
            ..
        }) => {
            let name = feed.name.clone();
            let url = feed.url.clone();
            let parsed = tokio::task::spawn_blocking(move || {
                parse_and_tag(&body, &name, &url, &final_url, now)
            })
            .await
            .map_err(|e| PipelineError::Join(e.to_string()))?;
            match parsed {
                Ok((entries, articles)) => {
                    let success = FetchSuccess {
                        etag,
                        last_modified,
                        replace_validators: true,
                    };
                    let new = ctx.with_store(|s| s.ingest(&feed.name, &articles, &success, now))?;
                    Ok(report(FeedStatus::Fetched { entries, new }))
                }
                Err(msg) => fail(ctx, feed, msg, state.consecutive_failures, None, now),
            }
        }
        Err(e) => {
            let retry = e.retry_after();
            fail(
                ctx,
                feed,
                e.to_string(),
                state.consecutive_failures,
                retry,
                now,
            )
        }
    }
}

fn fail(
    ctx: &Context,
    feed: &FeedSettings,
    msg: String,
    failures: u32,
    retry_after: Option<Duration>,
    now: Timestamp,
) -> Result<FeedReport> {
    let delay = fetch::backoff_delay(failures + 1, retry_after);
    let next = add(now, delay);
    tracing::warn!(feed = %feed.name, url = %feed.url, retry_in_s = delay.as_secs(), "{msg}");
    ctx.with_store(|s| s.record_feed_failure(&feed.name, &msg, now, next))?;
    Ok(FeedReport {
        feed: feed.name.clone(),
        url: feed.url.clone(),
        status: FeedStatus::Failed(msg),
    })
}

/// Parses a fetched body and turns its entries into tagged articles. CPU-bound: run off the runtime.
pub fn parse_and_tag(
    body: &[u8],
    feed: &str,
    url: &str,
    final_url: &str,
    now: Timestamp,
) -> std::result::Result<(usize, Vec<Article>), String> {
    let parsed = match crate::feed::parse(body, final_url) {
        Ok(p) => p,
        // A valid channel with no items right now is a successful fetch, not a failure.
        Err(crate::feed::FeedError::Empty) => return Ok((0, Vec::new())),
        Err(e) => return Err(format!("feed `{feed}` ({url}): {e}")),
    };
    let entries = parsed.entries.len();
    let mut seen = HashSet::new();
    let mut articles = Vec::with_capacity(entries);
    for entry in &parsed.entries {
        if let Some(mut a) = crate::normalize::normalize(entry, feed, final_url, now) {
            if !seen.insert(a.key.clone()) {
                continue;
            }
            a.entities = crate::ner::tag_article(&a.title, &a.text);
            articles.push(a);
        }
    }
    Ok((entries, articles))
}

/// Fetches every enabled feed (or only those due, unless `force`), with bounded concurrency.
/// One feed's failure never stops the others.
pub async fn fetch_all(ctx: &Context, force: bool, progress: bool) -> Result<Vec<FeedReport>> {
    let feeds: Vec<FeedSettings> = ctx
        .settings
        .feeds
        .iter()
        .filter(|f| f.enabled)
        .cloned()
        .collect();
    let bar = progress.then(|| {
        let bar = indicatif::ProgressBar::new(feeds.len() as u64);
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{spinner} fetching [{bar:30}] {pos}/{len} {msg}",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar
    });
    let limit = ctx.settings.fetch.concurrency.max(1);
    let mut stream = futures_util::stream::iter(feeds.iter())
        .map(|f| async move { ingest_feed(ctx, f, force).await })
        .buffer_unordered(limit);
    let mut reports = Vec::with_capacity(feeds.len());
    while let Some(r) = stream.next().await {
        let r = r?;
        if let Some(bar) = &bar {
            bar.set_message(r.feed.clone());
            bar.inc(1);
        }
        reports.push(r);
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    reports.sort_by(|a, b| a.feed.cmp(&b.feed));
    Ok(reports)
}

// ------------------------------------------------------------------------------------------ digest

/// Where a stored digest goes. Stored as JSON in the delivery row, so a delivery does not depend on
/// the configuration at the time it is retried.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Target {
    File { dir: PathBuf, formats: Vec<String> },
    Email { to: Vec<String> },
}

/// The result of building one digest.
#[derive(Debug, Clone)]
pub struct BuildOutcome {
    pub name: String,
    /// Outbox id; None for a dry run or an empty digest that is not sent.
    pub digest_id: Option<i64>,
    pub digest: Digest,
    pub article_count: usize,
}

/// Days of stored articles before the window that form the rarity background.
const BACKGROUND_DAYS: u64 = 7;
/// At most this many background articles are read (newest first).
const BACKGROUND_LIMIT: usize = 20_000;

/// The IDF background: entities and terms of the articles published in the week before the window.
fn background(ctx: &Context, window_start: Timestamp) -> Result<Background> {
    let from = sub(window_start, Duration::from_secs(BACKGROUND_DAYS * 86_400));
    let articles =
        ctx.with_store(|s| s.articles_published_between(from, window_start, BACKGROUND_LIMIT))?;
    let view: Vec<StoryArticle> = articles
        .iter()
        .map(|a| StoryArticle {
            id: 0,
            title: &a.title,
            text: &a.text,
            outlet: &a.feed,
            url: a.url.as_deref(),
            published: a.published.as_second(),
            entities: &a.entities,
            language: a.language.as_deref(),
        })
        .collect();
    let mut bg = Background::new();
    bg.add_articles(&view);
    Ok(bg)
}

/// Builds digest `d` at `now`: selects the articles first seen since its last build (first build:
/// published within `window`), filters, groups and ranks them, and — unless `dry_run` — stores it in
/// the outbox with its deliveries queued, atomically.
pub fn build_digest(
    ctx: &Context,
    d: &DigestSettings,
    now: Timestamp,
    dry_run: bool,
) -> Result<BuildOutcome> {
    let settings = &ctx.settings;
    let last = ctx.with_store(|s| s.last_build(&d.name))?;
    let upto = ctx.with_store(|s| s.max_cursor())?;
    let window_start = match last {
        Some((built, _)) => built,
        None => sub(now, d.window),
    };
    let mut cands = ctx.with_store(|s| {
        s.candidates(
            &d.name,
            &d.feeds,
            last.map(|l| l.1),
            upto,
            sub(now, d.window),
        )
    })?;
    cands.retain(|a| {
        let hay = format!("{}\n{}", a.article.title, a.article.text);
        (d.include.is_empty() || d.include.iter().any(|r| r.is_match(&hay)))
            && !d.exclude.iter().any(|r| r.is_match(&hay))
    });
    if let Some(max) = d.max_per_feed {
        let mut per: HashMap<String, usize> = HashMap::new();
        // candidates come newest first, so the newest `max` of each feed stay
        cands.retain(|a| {
            let n = per.entry(a.article.feed.clone()).or_default();
            *n += 1;
            *n <= max
        });
    }
    let bg = background(ctx, window_start)?;
    let inputs: Vec<StoryArticle<'_>> = cands
        .iter()
        .enumerate()
        .map(|(i, a)| StoryArticle {
            id: i,
            title: &a.article.title,
            text: &a.article.text,
            outlet: &a.article.feed,
            url: a.article.url.as_deref(),
            published: a.article.published.as_second(),
            entities: &a.article.entities,
            language: a.article.language.as_deref(),
        })
        .collect();
    let groups = stories::group(&inputs, &bg, &GroupOptions::default());

    // continuity across digests
    let previous_rows =
        ctx.with_store(|s| s.recent_stories(&d.name, sub(now, Duration::from_secs(7 * 86_400))))?;
    let previous: Vec<PreviousStory> = previous_rows
        .iter()
        .map(|p| PreviousStory {
            id: p.id,
            headline: p.headline.clone(),
            signature: p.signature.clone(),
            first_seen: p.first_seen.as_second(),
            days: p.days,
        })
        .collect();
    let mut upserts = Vec::new();
    let mut used_previous = HashSet::new();
    let mut story_outs = Vec::with_capacity(groups.len());
    let tz = &settings.timezone;
    let today = now.to_zoned(tz.clone()).date();
    for (si, g) in groups.iter().enumerate() {
        let headline_title = cands
            .get(g.headline)
            .map(|a| a.article.title.clone())
            .unwrap_or_default();
        let sig = stories::signature(g, &inputs);
        let mut developing = None;
        let mut upsert = StoryUpsert {
            id: None,
            headline: headline_title.clone(),
            first_headline: headline_title.clone(),
            signature: sig.clone(),
            first_seen: now,
            days: 1,
        };
        if let Some(pi) = stories::continuation(&sig, &previous)
            && let Some(prev) = previous_rows.get(pi)
            && used_previous.insert(prev.id)
        {
            let last_day = prev.last_seen.to_zoned(tz.clone()).date();
            let days = if last_day < today {
                prev.days + 1
            } else {
                prev.days
            };
            upsert.id = Some(prev.id);
            upsert.first_headline = prev.first_headline.clone();
            upsert.first_seen = prev.first_seen;
            upsert.days = days;
            developing = Some(Developing {
                day: days,
                first_headline: prev.first_headline.clone(),
                since: prev.first_seen,
            });
        }
        if g.section == Section::Top || upsert.id.is_some() {
            upserts.push(upsert);
        }
        let article_entities: Vec<&[crate::model::Entity]> = g
            .members
            .iter()
            .filter_map(|&m| cands.get(m))
            .map(|a| a.article.entities.as_slice())
            .collect();
        let following = stories::follows(&g.shared_entities, &article_entities, &d.follow);
        let member_pos: HashMap<usize, usize> =
            g.members.iter().enumerate().map(|(p, &m)| (m, p)).collect();
        let articles: Vec<ArticleOut> = g
            .members
            .iter()
            .filter_map(|&m| cands.get(m))
            .map(article_out)
            .collect();
        let lines: Vec<LineOut> = g
            .lines
            .iter()
            .filter_map(|line| {
                let first = cands.get(*line.first()?)?;
                let mut outlets = Vec::new();
                for &m in line {
                    if let Some(a) = cands.get(m) {
                        for f in &a.feeds {
                            if !outlets.contains(f) {
                                outlets.push(f.clone());
                            }
                        }
                    }
                }
                Some(LineOut {
                    title: first.article.title.clone(),
                    url: first.article.url.clone(),
                    outlets,
                    articles: line
                        .iter()
                        .filter_map(|m| member_pos.get(m).copied())
                        .collect(),
                })
            })
            .collect();
        let section = if !following.is_empty() {
            OutSection::Following
        } else if g.section == Section::Top {
            OutSection::Top
        } else {
            OutSection::Other
        };
        story_outs.push((
            si,
            StoryOut {
                id: format!("{}-{}", now.as_second(), si + 1),
                title: headline_title,
                summary: g.summary.clone(),
                entities: g
                    .shared_entities
                    .iter()
                    .map(|(name, kind)| EntityRef {
                        name: name.clone(),
                        kind: *kind,
                    })
                    .collect(),
                articles,
                outlets: g.outlets.clone(),
                section,
                developing,
                following,
                lines,
            },
        ));
    }
    // Following first, then the ranked order from grouping.
    story_outs.sort_by_key(|(si, s)| (s.section != OutSection::Following, *si));
    let stories_out: Vec<StoryOut> = story_outs.into_iter().map(|(_, s)| s).collect();

    let trending = trending(ctx, &cands, window_start, now)?;
    let feed_health = feed_health(ctx, d)?;
    let mut digest = Digest {
        digest: d.name.clone(),
        generated_at: now,
        window_start,
        window_end: now,
        subject: String::new(),
        stories: stories_out,
        feed_health,
        trending,
    };
    digest.subject =
        ctx.renderer
            .subject(&digest, d.subject.as_deref(), &settings.timezone_name)?;

    let article_count = cands.len();
    let empty = article_count == 0;
    if dry_run || (empty && !d.send_empty) {
        return Ok(BuildOutcome {
            name: d.name.clone(),
            digest_id: None,
            digest,
            article_count,
        });
    }
    let json = serde_json::to_string_pretty(&digest)
        .map_err(|source| PipelineError::DigestJson { id: 0, source })?;
    let targets: Vec<String> = d
        .outputs
        .iter()
        .map(|o| match o {
            OutputSettings::File { dir, formats } => Target::File {
                dir: dir.clone(),
                formats: formats.clone(),
            },
            OutputSettings::Email { to } => Target::Email { to: to.clone() },
        })
        .filter_map(|t| serde_json::to_string(&t).ok())
        .collect();
    let ids: Vec<i64> = cands.iter().map(|a| a.id).collect();
    let id = ctx.with_store(|s| {
        s.store_digest(&NewDigest {
            name: &d.name,
            built_at: now,
            window_start,
            window_end: now,
            cursor: upto,
            story_count: digest.stories.len() as u32,
            article_ids: &ids,
            json: &json,
            targets: &targets,
            stories: &upserts,
        })
    })?;
    tracing::info!(digest = %d.name, id, stories = digest.stories.len(), articles = article_count, "digest built");
    Ok(BuildOutcome {
        name: d.name.clone(),
        digest_id: Some(id),
        digest,
        article_count,
    })
}

fn article_out(a: &store::StoredArticle) -> ArticleOut {
    ArticleOut {
        title: a.article.title.clone(),
        url: a.article.url.clone(),
        feed: a.article.feed.clone(),
        published: a.article.published,
        author: a.article.author.clone(),
        excerpt: excerpt(&a.article.text, 320),
        entities: a
            .article
            .entities
            .iter()
            .map(|e| EntityRef {
                name: e.name.clone(),
                kind: e.kind,
            })
            .collect(),
    }
}

fn excerpt(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut cut = max;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    let head = &text[..cut];
    let head = head.rsplit_once(' ').map_or(head, |(h, _)| h);
    format!("{head}…")
}

fn trending(
    ctx: &Context,
    cands: &[store::StoredArticle],
    window_start: Timestamp,
    now: Timestamp,
) -> Result<Vec<TrendOut>> {
    let mut window: BTreeMap<String, (String, EntityKind, u32)> = BTreeMap::new();
    for a in cands {
        for e in &a.article.entities {
            let w = window
                .entry(fold_key(&e.name))
                .or_insert_with(|| (e.name.clone(), e.kind, 0));
            w.2 += 1;
        }
    }
    let history_days = 28.0f64;
    let hist_from = sub(window_start, Duration::from_secs(28 * 86_400));
    let hist = ctx.with_store(|s| s.entity_history(hist_from, window_start))?;
    let first_day = ctx.with_store(|s| s.first_article_day())?;
    let days = match first_day {
        Some(f) if f > hist_from => {
            ((window_start.as_second() - f.as_second()) as f64 / 86_400.0).clamp(0.0, history_days)
        }
        Some(_) => history_days,
        None => 0.0,
    };
    let window_days =
        ((now.as_second() - window_start.as_second()) as f64 / 86_400.0).max(1.0 / 24.0);
    // Expected mentions over a window as long as this one.
    let per_window: HashMap<String, f64> = hist
        .into_iter()
        .map(|(k, _, _, c)| {
            (
                k,
                if days > 0.0 {
                    c as f64 / days * window_days
                } else {
                    0.0
                },
            )
        })
        .collect();
    let win: Vec<(String, EntityKind, u32)> = window.into_values().collect();
    let trends = stories::trending(&win, &per_window, days / window_days, 5);
    Ok(trends
        .into_iter()
        .map(|t| TrendOut {
            name: t.name,
            kind: t.kind,
            count: t.count,
            expected: t.expected,
        })
        .collect())
}

fn feed_health(ctx: &Context, d: &DigestSettings) -> Result<Vec<FeedHealthOut>> {
    let states = ctx.with_store(|s| s.feed_states())?;
    Ok(states
        .into_iter()
        .filter(|s| d.feeds.contains(&s.name))
        .map(|s| {
            let failing = s.consecutive_failures > 0;
            FeedHealthOut {
                feed: s.name,
                status: if failing {
                    OutFeedStatus::Error
                } else {
                    OutFeedStatus::Ok
                },
                error: if failing { s.last_error } else { None },
            }
        })
        .collect())
}

// ---------------------------------------------------------------------------------------- delivery

/// The result of a delivery round.
#[derive(Debug, Clone, Default)]
pub struct DeliveryReport {
    pub sent: Vec<String>,
    pub failed: Vec<String>,
}

/// Delay before retry `attempt` (1-based) of a failed delivery: 1 min doubling, at most 6 h.
pub fn delivery_backoff(attempt: u32) -> Duration {
    let secs = 60u64.saturating_mul(1u64 << attempt.saturating_sub(1).min(12));
    Duration::from_secs(secs.min(6 * 3600))
}

/// Delivers what waits in the outbox: everything (`all`) or what is due at `now`. A stored digest is
/// rendered from its stored JSON, never rebuilt. Each delivery is marked `sending` before it starts
/// and `sent` after; a failure is recorded with the next attempt time.
pub async fn deliver_pending(ctx: &Context, now: Timestamp, all: bool) -> Result<DeliveryReport> {
    let pending = ctx.with_store(|s| s.pending_deliveries(if all { None } else { Some(now) }))?;
    let mut report = DeliveryReport::default();
    let mut cache: HashMap<i64, (store::StoredDigest, Digest)> = HashMap::new();
    for p in pending {
        if let std::collections::hash_map::Entry::Vacant(slot) = cache.entry(p.digest_id) {
            let Some(stored) = ctx.with_store(|s| s.digest(p.digest_id))? else {
                continue;
            };
            let digest: Digest =
                serde_json::from_str(&stored.json).map_err(|source| PipelineError::DigestJson {
                    id: stored.id,
                    source,
                })?;
            slot.insert((stored, digest));
        }
        let Some((stored, digest)) = cache.get(&p.digest_id) else {
            continue;
        };
        let label = format!(
            "digest {} #{} → {}",
            stored.name,
            stored.id,
            describe_target(&p.target)
        );
        ctx.with_store(|s| s.mark_sending(p.id))?;
        let result = deliver_one(ctx, stored, digest, &p.target).await;
        let now = Timestamp::now();
        match result {
            Ok(detail) => {
                ctx.with_store(|s| s.mark_sent(p.id, now, &detail))?;
                tracing::info!("delivered {label}: {detail}");
                report.sent.push(label);
            }
            Err(DeliveryFailure {
                message: e,
                transient,
            }) => {
                // A permanent failure (bad address, 5xx) needs a fix by the user: retry only rarely.
                let delay = if transient {
                    delivery_backoff(p.attempts + 1)
                } else {
                    delivery_backoff(u32::MAX)
                };
                let next = add(now, delay);
                ctx.with_store(|s| s.mark_failed(p.id, &e, next))?;
                tracing::warn!("delivery of {label} failed (retry at {next}): {e}");
                report.failed.push(format!("{label}: {e}"));
            }
        }
    }
    Ok(report)
}

fn describe_target(t: &str) -> String {
    match serde_json::from_str::<Target>(t) {
        Ok(Target::File { dir, .. }) => format!("files in {}", dir.display()),
        Ok(Target::Email { to }) => format!("email to {}", to.join(", ")),
        Err(_) => t.to_string(),
    }
}

/// A failed delivery: its message, and whether retrying soon can help (else retry only rarely).
struct DeliveryFailure {
    message: String,
    transient: bool,
}

impl From<String> for DeliveryFailure {
    fn from(message: String) -> Self {
        DeliveryFailure {
            message,
            transient: true,
        }
    }
}

impl From<DeliverError> for DeliveryFailure {
    fn from(e: DeliverError) -> Self {
        DeliveryFailure {
            transient: e.is_transient(),
            message: e.to_string(),
        }
    }
}

async fn deliver_one(
    ctx: &Context,
    stored: &store::StoredDigest,
    digest: &Digest,
    target: &str,
) -> std::result::Result<String, DeliveryFailure> {
    let target: Target =
        serde_json::from_str(target).map_err(|e| format!("unreadable target {target}: {e}"))?;
    let settings = &ctx.settings;
    match target {
        Target::File { dir, formats } => {
            let mut outputs = Vec::new();
            for f in &formats {
                let format: Format = f.parse().map_err(|e| format!("{e}"))?;
                let body = ctx
                    .renderer
                    .render(digest, format)
                    .map_err(|e| e.to_string())?;
                outputs.push((format, body));
            }
            let local = stored
                .built_at
                .to_zoned(settings.timezone.clone())
                .datetime();
            let dir2 = dir.clone();
            let name = stored.name.clone();
            let paths = tokio::task::spawn_blocking(move || {
                deliver::write_files(&dir2, &name, local, &outputs)
            })
            .await
            .map_err(|e| e.to_string())??;
            Ok(paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", "))
        }
        Target::Email { to } => {
            let content = EmailContent {
                subject: digest.subject.clone(),
                text: ctx
                    .renderer
                    .render(digest, Format::Txt)
                    .map_err(|e| e.to_string())?,
                html: ctx
                    .renderer
                    .render(digest, Format::Html)
                    .map_err(|e| e.to_string())?,
                message_id: message_id(stored, &to),
                date: stored.built_at,
            };
            if let Some(smtp) = &settings.smtp {
                let password = match &smtp.password {
                    Some(s) => Some(s.resolve().map_err(|e| format!("smtp password: {e}"))?),
                    None => None,
                };
                let s = deliver::SmtpSettings {
                    host: smtp.host.clone(),
                    port: smtp.port,
                    security: match smtp.security {
                        crate::config::SmtpSecurity::None => deliver::Security::None,
                        crate::config::SmtpSecurity::Tls => deliver::Security::Tls,
                        crate::config::SmtpSecurity::StartTls => deliver::Security::StartTls,
                    },
                    accept_invalid_certs: false,
                    username: smtp.username.clone(),
                    password,
                    from: smtp.from.clone(),
                    timeout: smtp.timeout,
                };
                deliver::send_smtp(&s, &to, &content).await?;
                Ok(format!("sent by SMTP via {}:{}", smtp.host, smtp.port))
            } else if let Some(sm) = &settings.sendmail {
                deliver::send_sendmail(&sm.command, &sm.from, &to, &content).await?;
                Ok(format!("sent by {}", sm.command.display()))
            } else {
                Err("no [smtp] or [sendmail] transport configured"
                    .to_string()
                    .into())
            }
        }
    }
}

/// A Message-ID stable for one digest and recipient list, so a retry is recognisable as the same mail.
fn message_id(stored: &store::StoredDigest, to: &[String]) -> String {
    use sha2::{Digest as _, Sha256};
    let mut h = Sha256::new();
    h.update(stored.name.as_bytes());
    h.update(stored.id.to_le_bytes());
    h.update(stored.built_at.as_second().to_le_bytes());
    for t in to {
        h.update(t.as_bytes());
        h.update([0]);
    }
    let hash = hex::encode(&h.finalize()[..12]);
    format!(
        "<digestif.{}.{}.{hash}@digestif.invalid>",
        stored
            .name
            .replace(|c: char| !c.is_ascii_alphanumeric(), "-"),
        stored.id
    )
}

/// The configured digest called `name`.
pub fn digest_by_name<'a>(settings: &'a Settings, name: &str) -> Result<&'a DigestSettings> {
    settings
        .digests
        .iter()
        .find(|d| d.name == name)
        .ok_or_else(|| PipelineError::UnknownDigest(name.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivery_backoff_grows_and_is_capped() {
        assert_eq!(delivery_backoff(1), Duration::from_secs(60));
        assert_eq!(delivery_backoff(2), Duration::from_secs(120));
        assert_eq!(delivery_backoff(40), Duration::from_secs(6 * 3600));
    }

    #[test]
    fn excerpt_cuts_at_word_boundary_on_char_boundary() {
        let e = excerpt("héllo wörld and more words", 10);
        assert!(e.ends_with('…'));
        assert!(e.starts_with("héllo"));
    }
}
