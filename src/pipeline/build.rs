//! Digest build, in five steps: select the candidate articles, group them into stories, assemble the
//! stories the reader sees (continuity across digests, followed entities, lines of coverage), compose
//! the digest around them (trending entities, feed health, subject) and persist it in the outbox
//! with its deliveries queued, atomically.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::{Context, PipelineError, Result, sub};
use crate::config::{DigestSettings, OutputSettings};
use crate::digest::{
    ArticleOut, Developing, Digest, EntityRef, FeedHealthOut, FeedStatus as OutFeedStatus, LineOut,
    Omitted, Section as OutSection, StoryOut, TrendOut,
};
use crate::store::{NewDigest, StoredArticle, StoredStory, StoryUpsert};
use crate::stories::{self, Background, GroupOptions, PreviousStory, Section, Story, StoryArticle};

/// Where a stored digest goes. Stored as JSON in the delivery row, so a delivery does not depend on
/// the configuration at the time it is retried.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Target {
    File { dir: PathBuf, formats: Vec<String> },
    Email { to: Vec<String> },
}

impl From<&OutputSettings> for Target {
    fn from(o: &OutputSettings) -> Target {
        match o {
            OutputSettings::File { dir, formats } => Target::File {
                dir: dir.clone(),
                formats: formats.clone(),
            },
            OutputSettings::Email { to } => Target::Email { to: to.clone() },
        }
    }
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
/// Stories of earlier digests within this many days can be continued ("developing").
const CONTINUITY_DAYS: u64 = 7;
/// Trending entities shown.
const TREND_TOP: usize = 5;
/// Longest article excerpt, in bytes.
const EXCERPT_BYTES: usize = 320;

/// Builds digest `d` at `now`: selects the articles first seen since its last build (first build:
/// published within `window`), filters, groups and ranks them, and — unless `dry_run` — stores it in
/// the outbox with its deliveries queued, atomically.
pub fn build_digest(
    ctx: &Context,
    d: &DigestSettings,
    now: Timestamp,
    dry_run: bool,
) -> Result<BuildOutcome> {
    let selection = select(ctx, d, now)?;
    // Grouping's inputs and the background go before the digest is stored.
    let (digest, upserts) = {
        let inputs: Vec<StoryArticle<'_>> = selection
            .cands
            .iter()
            .enumerate()
            .map(|(i, a)| StoryArticle::of(i, &a.article))
            .collect();
        let week = background(ctx, &selection)?;
        let groups = stories::group(&inputs, &week.counts, &GroupOptions::default());
        // grouping ran on the pool's threads: their arenas' freed pages go back to the system
        // before this thread builds the digest in its own
        super::cpu::release_freed_memory();
        let (stories, upserts) = assemble(ctx, d, &selection, &inputs, &groups, &week, now)?;
        let (stories, omitted) = cap_stories(stories, d.max_stories, selection.omitted_reports);
        let mut digest = compose(ctx, d, &selection, &inputs, &week.counts, stories, now)?;
        digest.omitted = omitted;
        (digest, upserts)
    };
    let outcome = persist(ctx, d, selection, digest, &upserts, now, dry_run);
    // the serialised digest and the candidates are gone: delivery starts from a trimmed heap
    super::cpu::release_freed_memory();
    outcome
}

// ---------------------------------------------------------------------------------- 1. select

/// The articles a build works on, and the window they come from.
struct Selection {
    /// Filtered candidates, newest first.
    cands: Vec<StoredArticle>,
    window_start: Timestamp,
    /// The store cursor up to which articles were considered (the next build starts after it).
    upto: i64,
    /// Candidates beyond the digest's `max_items` (the oldest): counted, not read.
    omitted_reports: usize,
}

/// Step 1: the articles first seen since the digest's last build (first build: published within
/// `window`), from its feeds, kept by its `include`/`exclude` filters and `max_per_feed`; the
/// newest `max_items` of them, each compacted as it is read ([`compact`]): a build never holds
/// every candidate's full text.
fn select(ctx: &Context, d: &DigestSettings, now: Timestamp) -> Result<Selection> {
    let last = ctx.with_store(|s| s.last_build(&d.name))?;
    let upto = ctx.with_store(|s| s.max_cursor())?;
    let window_start = match last {
        Some((built, _)) => built,
        None => sub(now, d.window),
    };
    let mut per_feed: HashMap<String, usize> = HashMap::new();
    let mut kept_items = 0usize;
    let mut admit = |a: &mut StoredArticle| {
        let hay = format!("{}\n{}", a.article.title, a.article.text);
        let kept = (d.include.is_empty() || d.include.iter().any(|r| r.is_match(&hay)))
            && !d.exclude.iter().any(|r| r.is_match(&hay));
        if !kept {
            return false;
        }
        if let Some(max) = d.max_per_feed {
            // candidates come newest first, so the newest `max` of each feed stay
            let n = per_feed.entry(a.article.feed.clone()).or_default();
            *n += 1;
            if *n > max {
                return false;
            }
        }
        // candidates beyond `max_items` (the oldest) are counted, not kept
        kept_items += 1;
        if kept_items > d.max_items {
            return false;
        }
        compact(&mut a.article);
        true
    };
    let span = (last.map(|l| l.1), upto, sub(now, d.window));
    let cands = ctx.with_store(|s| s.candidates_where(&d.name, &d.feeds, span, &mut admit))?;
    let omitted_reports = kept_items.saturating_sub(d.max_items);
    Ok(Selection {
        cands,
        window_start,
        upto,
        omitted_reports,
    })
}

/// Drops from a candidate what no later step reads: its guid, and its text beyond the lead
/// (what grouping reads, [`stories::lead`]) and the excerpt (what the digest shows, [`excerpt`]).
/// Both are checked to come out of the shortened text exactly as out of the whole one; if
/// either would not, the text is kept whole. (Grouping's canonical order compares texts only
/// to break a tie between reports with the same time, title, outlet and URL.)
fn compact(a: &mut crate::model::Article) {
    a.guid = None;
    let text = a.text.as_str();
    let lead = stories::lead(text);
    let lead_end = lead.as_ptr() as usize - text.as_ptr() as usize + lead.len();
    let mut end = lead_end.max(EXCERPT_BYTES + 1).min(text.len());
    while !text.is_char_boundary(end) {
        end += 1;
    }
    if end == text.len() {
        return;
    }
    let short = &text[..end];
    if stories::lead(short) == lead && excerpt(short, EXCERPT_BYTES) == excerpt(text, EXCERPT_BYTES)
    {
        a.text.truncate(end);
        a.text.shrink_to_fit();
    }
}

// ----------------------------------------------------------------------------------- 2. group

/// The background week: entities and terms of the stored articles published or first seen in
/// the week before the window, other than the window's own — what grouping judges rarity
/// against, what developing links weigh their evidence by and what trending entities rise
/// against. By first-seen time too, so that a state fed snapshots or an archive (published long
/// before the build clock) has the previous build's articles as its background.
fn background(ctx: &Context, sel: &Selection) -> Result<Week> {
    let from = sub(
        sel.window_start,
        Duration::from_secs(BACKGROUND_DAYS * 86_400),
    );
    let mut articles =
        ctx.with_store(|s| s.articles_between(from, sel.window_start, BACKGROUND_LIMIT))?;
    let window: HashSet<&str> = sel.cands.iter().map(|a| a.article.key.as_str()).collect();
    articles.retain(|a| !window.contains(a.key.as_str()));
    let view: Vec<StoryArticle> = articles.iter().map(|a| StoryArticle::of(0, a)).collect();
    let mut counts = Background::new();
    counts.add_articles(&view);
    Ok(Week { counts, articles })
}

/// The background week of a build.
struct Week {
    /// Its document frequencies.
    counts: Background,
    /// Its articles (their places tell developing links what is a place).
    articles: Vec<crate::model::Article>,
}

// -------------------------------------------------------------------------------- 3. assemble

/// Stories of this digest's earlier builds that a new story may continue.
struct Continuity {
    rows: Vec<StoredStory>,
    previous: Vec<PreviousStory>,
    used: HashSet<i64>,
    tz: jiff::tz::TimeZone,
    now: Timestamp,
    /// Places, rarity and story counts of the keys: a continuation needs the same event.
    context: stories::EventContext,
}

impl Continuity {
    fn load(
        ctx: &Context,
        d: &DigestSettings,
        inputs: &[StoryArticle<'_>],
        groups: &[Story],
        week: &Week,
        now: Timestamp,
    ) -> Result<Continuity> {
        let since = sub(now, Duration::from_secs(CONTINUITY_DAYS * 86_400));
        let rows = ctx.with_store(|s| s.recent_stories(&d.name, since))?;
        let previous = rows
            .iter()
            .map(|p| PreviousStory {
                id: p.id,
                headline: p.headline.clone(),
                signature: p.signature.clone(),
                first_seen: p.first_seen.as_second(),
                days: p.days,
            })
            .collect();
        let tz = ctx.settings.timezone.clone();
        let week_view: Vec<StoryArticle> = week
            .articles
            .iter()
            .map(|a| StoryArticle::of(0, a))
            .collect();
        let context = stories::EventContext::new(inputs, &week.counts, &week_view).with_stories(
            groups
                .iter()
                .map(|g| g.signature.as_slice())
                .chain(rows.iter().map(|r| r.signature.as_slice())),
        );
        Ok(Continuity {
            rows,
            previous,
            used: HashSet::new(),
            tz,
            now,
            context,
        })
    }

    /// The stored row for story `g` (new, or continuing an earlier one not yet continued in this
    /// build) and, when it continues one, how it is shown.
    fn follow_up(
        &mut self,
        g: &Story,
        cands: &[StoredArticle],
        headline: &str,
    ) -> (StoryUpsert, Option<Developing>) {
        let when = story_time(g, cands, self.now);
        let mut upsert = StoryUpsert {
            id: None,
            headline: headline.to_string(),
            first_headline: headline.to_string(),
            signature: g.signature.clone(),
            first_seen: when,
            days: 1,
        };
        let story = stories::NewStory {
            headline,
            signature: &g.signature,
        };
        let Some((prev, evidence)) =
            stories::continuation_of_event(&story, &self.previous, &self.context, &self.used)
                .and_then(|(pi, evidence)| Some((self.rows.get(pi)?, evidence)))
        else {
            return (upsert, None);
        };
        self.used.insert(prev.id);
        tracing::debug!(now = headline, then = %prev.first_headline, ?evidence, "developing");
        let date = |t: Timestamp| t.to_zoned(self.tz.clone()).date();
        let builds_apart = date(prev.last_seen)
            .until((jiff::Unit::Day, date(self.now)))
            .map_or(0, |span| i64::from(span.get_days()));
        let days =
            stories::day_of_story(date(prev.first_seen), date(when), prev.days, builds_apart);
        upsert.id = Some(prev.id);
        upsert.first_headline = prev.first_headline.clone();
        upsert.first_seen = prev.first_seen;
        upsert.days = days;
        let developing = Developing {
            day: days,
            first_headline: prev.first_headline.clone(),
            since: prev.first_seen,
        };
        (upsert, Some(developing))
    }
}

/// When story `g` happened: the median time of its reports, each dated by its publication but
/// never later than when it was first seen (a feed's future dates do not move a story on). By the
/// reports, not the build clock, so that "Day N" counts the days of the news: two builds on
/// one day over reports of two days show day 2, and a second build on the same day over
/// reports of the same day stays on day 1.
fn story_time(g: &Story, cands: &[StoredArticle], now: Timestamp) -> Timestamp {
    let mut times: Vec<Timestamp> = g
        .members
        .iter()
        .filter_map(|&m| cands.get(m))
        .map(|a| a.article.published.min(a.first_seen))
        .collect();
    times.sort_unstable();
    times.get(times.len() / 2).copied().unwrap_or(now)
}

/// Step 3: the stories as the reader sees them — followed ones first, then the ranked order — and
/// the story rows to store for continuity (every story: any may be continued by a later build).
fn assemble(
    ctx: &Context,
    d: &DigestSettings,
    sel: &Selection,
    inputs: &[StoryArticle<'_>],
    groups: &[Story],
    week: &Week,
    now: Timestamp,
) -> Result<(Vec<StoryOut>, Vec<StoryUpsert>)> {
    let cands = &sel.cands;
    let mut continuity = Continuity::load(ctx, d, inputs, groups, week, now)?;
    let mut upserts = Vec::new();
    let mut story_outs = Vec::with_capacity(groups.len());
    for (si, g) in groups.iter().enumerate() {
        let headline = cands
            .get(g.headline)
            .map(|a| a.article.title.clone())
            .unwrap_or_default();
        let (upsert, developing) = continuity.follow_up(g, cands, &headline);
        // every story, not only the top ones: one outlet's report today may be tomorrow's
        // front-page story, and continuing it shows where it began
        upserts.push(upsert);
        let mut out = story_out(d, g, cands, headline, now, si);
        out.developing = developing;
        story_outs.push((si, out));
    }
    // Following first, then the ranked order from grouping.
    story_outs.sort_by_key(|(si, s)| (s.section != OutSection::Following, *si));
    Ok((story_outs.into_iter().map(|(_, s)| s).collect(), upserts))
}

/// The first `max` stories (they come followed first, then by rank), and what the caps left out:
/// the stories past `max` with their reports, and the `omitted_reports` past `max_items`.
fn cap_stories(
    mut stories: Vec<StoryOut>,
    max: usize,
    omitted_reports: usize,
) -> (Vec<StoryOut>, Omitted) {
    let cut = stories.split_off(max.min(stories.len()));
    let omitted = Omitted {
        reports: omitted_reports,
        stories: cut.len(),
        story_reports: cut.iter().map(|s| s.articles.len()).sum(),
    };
    (stories, omitted)
}

/// One story of the digest (without its continuity, which [`Continuity`] supplies).
fn story_out(
    d: &DigestSettings,
    g: &Story,
    cands: &[StoredArticle],
    title: String,
    now: Timestamp,
    si: usize,
) -> StoryOut {
    let article_entities: Vec<&[crate::model::Entity]> = g
        .members
        .iter()
        .filter_map(|&m| cands.get(m))
        .map(|a| a.article.entities.as_slice())
        .collect();
    let following = stories::follows(&g.shared_entities, &article_entities, &d.follow);
    let section = if !following.is_empty() {
        OutSection::Following
    } else if g.section == Section::Top {
        OutSection::Top
    } else {
        OutSection::Other
    };
    let mut out = StoryOut {
        id: format!("{}-{}", now.as_second(), si + 1),
        title,
        summary: g.summary.clone(),
        entities: g
            .shared_entities
            .iter()
            .map(|(name, kind)| EntityRef {
                name: name.clone(),
                kind: *kind,
            })
            .collect(),
        articles: g
            .members
            .iter()
            .filter_map(|&m| cands.get(m))
            .map(article_out)
            .collect(),
        outlets: g.outlets.clone(),
        section,
        developing: None,
        following,
        lines: story_lines(g, cands),
        more_from: Vec::new(),
    };
    out.fold_outlets();
    out
}

/// The lines of coverage of story `g`: each line's first report, the outlets that carried it, and
/// the positions of its reports among the story's articles.
fn story_lines(g: &Story, cands: &[StoredArticle]) -> Vec<LineOut> {
    let member_pos: HashMap<usize, usize> =
        g.members.iter().enumerate().map(|(p, &m)| (m, p)).collect();
    g.lines
        .iter()
        .filter_map(|line| {
            let first = cands.get(*line.first()?)?;
            let mut outlets = Vec::new();
            for a in line.iter().filter_map(|&m| cands.get(m)) {
                for f in &a.feeds {
                    if !outlets.contains(f) {
                        outlets.push(f.clone());
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
        .collect()
}

fn article_out(a: &StoredArticle) -> ArticleOut {
    ArticleOut {
        title: a.article.title.clone(),
        url: a.article.url.clone(),
        feed: a.article.feed.clone(),
        published: a.article.published,
        author: a.article.author.clone(),
        excerpt: excerpt(&a.article.text, EXCERPT_BYTES),
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

// --------------------------------------------------------------------------------- 4. compose

/// Step 4: the digest around the stories: trending entities, feed health, the subject line and
/// the title.
fn compose(
    ctx: &Context,
    d: &DigestSettings,
    sel: &Selection,
    inputs: &[StoryArticle<'_>],
    bg: &Background,
    stories: Vec<StoryOut>,
    now: Timestamp,
) -> Result<Digest> {
    let mut digest = Digest {
        digest: d.name.clone(),
        generated_at: now,
        window_start: sel.window_start,
        window_end: now,
        subject: String::new(),
        title: String::new(),
        stories,
        feed_health: feed_health(ctx, d)?,
        trending: trending(inputs, bg),
        trending_history: Some(bg.docs()),
        omitted: Omitted::default(),
    };
    digest.subject = ctx.renderer.subject(&digest, d.subject.as_deref())?;
    digest.title = ctx.renderer.title(&digest, d.title.as_deref())?;
    Ok(digest)
}

/// The entities rising in this window: their share of its reports against the background week
/// ([`stories::rising`]).
fn trending(inputs: &[StoryArticle<'_>], bg: &Background) -> Vec<TrendOut> {
    stories::rising(inputs, bg, TREND_TOP)
        .into_iter()
        .map(|t| TrendOut {
            name: t.name,
            kind: t.kind,
            count: t.count,
            expected: t.expected,
        })
        .collect()
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

// --------------------------------------------------------------------------------- 5. persist

/// Step 5: unless `dry_run` (or the digest is empty and not sent empty), stores the digest in the
/// outbox with one delivery per output, its articles marked used and its story rows, atomically.
/// The candidates are released before the digest is serialised (compact JSON: it is only read
/// back by delivery).
fn persist(
    ctx: &Context,
    d: &DigestSettings,
    sel: Selection,
    digest: Digest,
    upserts: &[StoryUpsert],
    now: Timestamp,
    dry_run: bool,
) -> Result<BuildOutcome> {
    let article_count = sel.cands.len();
    let ids: Vec<i64> = sel.cands.iter().map(|a| a.id).collect();
    drop(sel.cands);
    let mut outcome = BuildOutcome {
        name: d.name.clone(),
        digest_id: None,
        digest,
        article_count,
    };
    if dry_run || (article_count == 0 && !d.send_empty) {
        return Ok(outcome);
    }
    let json = serde_json::to_string(&outcome.digest)
        .map_err(|source| PipelineError::DigestJson { id: 0, source })?;
    let targets: Vec<String> = d
        .outputs
        .iter()
        .map(Target::from)
        .filter_map(|t| serde_json::to_string(&t).ok())
        .collect();
    let story_count = outcome.digest.stories.len();
    let id = ctx.with_store(|s| {
        s.store_digest(&NewDigest {
            name: &d.name,
            built_at: now,
            window_start: sel.window_start,
            window_end: now,
            cursor: sel.upto,
            story_count: story_count as u32,
            article_ids: &ids,
            json: &json,
            targets: &targets,
            stories: upserts,
        })
    })?;
    tracing::info!(digest = %d.name, id, stories = story_count, articles = article_count, "digest built");
    outcome.digest_id = Some(id);
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn article(text: &str) -> crate::model::Article {
        crate::model::Article {
            key: "k".into(),
            feed: "f".into(),
            url: None,
            guid: Some("g".into()),
            title: "T".into(),
            text: text.into(),
            html: String::new(),
            author: None,
            published: Timestamp::UNIX_EPOCH,
            language: None,
            entities: Vec::new(),
        }
    }

    /// A compacted candidate gives grouping the same lead and the digest the same excerpt as the
    /// whole text, and is shorter when the text goes on beyond both.
    #[test]
    fn compact_keeps_what_grouping_and_the_excerpt_read() {
        let long_para = "Wörd ".repeat(200);
        let texts = [
            String::new(),
            "Short text.".to_string(),
            format!("First paragraph, short.\n\n{long_para}"),
            format!("  {long_para}\n\nSecond."),
            format!("{}\n\n{}", "ß".repeat(400), long_para),
            format!("Line one\nline two\n\n{}", "é ".repeat(300)),
            "x".repeat(EXCERPT_BYTES + 1),
        ];
        for text in texts {
            let mut a = article(&text);
            compact(&mut a);
            assert_eq!(stories::lead(&a.text), stories::lead(&text), "{text:?}");
            assert_eq!(
                excerpt(&a.text, EXCERPT_BYTES),
                excerpt(&text, EXCERPT_BYTES)
            );
            assert!(text.starts_with(&a.text));
            assert_eq!(a.guid, None);
        }
        let mut a = article(&format!("Lead.\n\n{long_para}"));
        compact(&mut a);
        assert!(a.text.len() < 400, "{}", a.text.len());
    }

    #[test]
    fn excerpt_cuts_at_word_boundary_on_char_boundary() {
        let e = excerpt("héllo wörld and more words", 10);
        assert!(e.ends_with('…'));
        assert!(e.starts_with("héllo"));
    }
}
