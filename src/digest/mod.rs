//! The digest model: the data a rendered digest is made of, and its JSON contract.
//!
//! The pipeline builds a [`Digest`] (stories grouped from articles, trending entities, feed health),
//! stores its JSON in the outbox, and the [`render`] module turns it into HTML, plain text,
//! Markdown or JSON. This module owns the shape of that JSON; field names are a stable contract.
//!
//! Serialisation policy: every field is always present in the JSON (empty arrays stay `[]`,
//! absent optional values are `null`), so consumers never have to test for missing keys.
//! Deserialisation is lenient the other way round: fields added after the original contract
//! (`id`, `outlets`, `section`, `developing`, `following`, `lines`, `author`, `excerpt`,
//! `trending`, `subject`, `title`, `omitted`) default when missing, so older outbox rows still load.

pub mod atom;
pub mod email;
pub mod render;
mod view;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::model::EntityKind;

pub use atom::{AtomItem, DEFAULT_ATOM_ENTRIES};
pub use email::{DEFAULT_EMAIL_BUDGET, EmailEdition, EmailOptions, MIN_EMAIL_BUDGET};
pub use render::{DEFAULT_TITLE, Format, RenderError, Renderer};
pub use view::plural;

/// One digest, ready to render. Built by the pipeline, rendered by [`Renderer`].
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Digest {
    /// Name of the digest as configured ("daily").
    pub digest: String,
    /// The email subject line (rendered by [`Renderer::subject`]); may be empty before that.
    #[serde(default)]
    pub subject: String,
    /// The heading of every edition (rendered by [`Renderer::title`] from the digest's `title`
    /// key); when empty, renderers use "<digest> — <date>".
    #[serde(default)]
    pub title: String,
    pub generated_at: Timestamp,
    /// Articles published in `[window_start, window_end)` are considered.
    pub window_start: Timestamp,
    pub window_end: Timestamp,
    /// Stories in display order; sections are interleaved as the builder likes, renderers
    /// group by [`StoryOut::section`] keeping this order within a section.
    pub stories: Vec<StoryOut>,
    /// Entities mentioned far more than usual in this window, most surprising first.
    #[serde(default)]
    pub trending: Vec<TrendOut>,
    /// Reports of the background week `trending` was measured against. Below
    /// [`crate::stories::RISING_MIN_BACKGROUND`] there is not enough history for anything to rise
    /// against: `trending` is empty and the editions say so. `None` in digests stored before
    /// this field existed.
    #[serde(default)]
    pub trending_history: Option<u64>,
    /// One entry per configured feed (or at least one per failing feed).
    pub feed_health: Vec<FeedHealthOut>,
    /// What the digest's caps (`max_items`, `max_stories`) left out: counted, not rendered.
    #[serde(default)]
    pub omitted: Omitted,
}

/// What a digest's caps left out of it: counted and said in every edition, not rendered.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Omitted {
    /// Reports beyond the digest's `max_items` (the oldest), not read.
    pub reports: usize,
    /// Stories beyond its `max_stories` (the lowest ranked), not shown…
    pub stories: usize,
    /// … and the reports of those stories.
    pub story_reports: usize,
}

impl Omitted {
    /// Nothing was left out.
    pub fn is_empty(&self) -> bool {
        self.reports == 0 && self.stories == 0
    }

    /// "12 more stories (30 reports) past max_stories and 1200 older reports past max_items
    /// not shown"; `None` when nothing was left out.
    pub fn note(&self) -> Option<String> {
        let mut parts = Vec::new();
        if self.stories > 0 {
            parts.push(format!(
                "{} ({}) past max_stories",
                plural(self.stories, "more story", "more stories"),
                plural(self.story_reports, "report", "reports")
            ));
        }
        if self.reports > 0 {
            parts.push(format!(
                "{} past max_items",
                plural(self.reports, "older report", "older reports")
            ));
        }
        (!parts.is_empty()).then(|| format!("{} not shown", parts.join(" and ")))
    }
}

/// Where a story is shown.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Section {
    /// Matches something the reader follows; shown first.
    Following,
    /// A top story (usually several outlets).
    #[default]
    Top,
    /// Everything else: shown as "Other headlines" grouped by feed.
    Other,
}

impl Section {
    /// The lower-case name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Section::Following => "following",
            Section::Top => "top",
            Section::Other => "other",
        }
    }
}

/// A story: reports of the same event from one or more outlets.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StoryOut {
    /// Stable identifier of the story (e.g. from the story tracker); may be empty.
    #[serde(default)]
    pub id: String,
    pub title: String,
    /// Plain-text summary (may be empty).
    pub summary: String,
    /// The story's defining entities, most central first.
    pub entities: Vec<EntityRef>,
    /// Distinct outlet (feed) names, in order of first report.
    #[serde(default)]
    pub outlets: Vec<String>,
    #[serde(default)]
    pub section: Section,
    /// Set when the story has been running for more than one digest.
    #[serde(default)]
    pub developing: Option<Developing>,
    /// Followed names (entities or keywords) this story matched.
    #[serde(default)]
    pub following: Vec<String>,
    /// Every article of the story; each digest article appears in exactly one story.
    pub articles: Vec<ArticleOut>,
    /// Near-duplicate articles collapsed into one line each. Each article index of
    /// `articles` should appear in exactly one line; when `lines` is empty, renderers show
    /// one line per article.
    #[serde(default)]
    pub lines: Vec<LineOut>,
    /// One outlet's reports beyond its best [`LINES_PER_OUTLET`], folded into "and 18 more from
    /// Los Angeles Times" (see [`StoryOut::fold_outlets`]).
    #[serde(default)]
    pub more_from: Vec<MoreFrom>,
}

/// Report lines of one outlet that a story shows folded, as "and `count` more from `outlet`".
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MoreFrom {
    pub outlet: String,
    /// How many report lines are folded.
    pub count: usize,
    /// Which: indexes into the story's lines as shown ([`StoryOut::effective_lines`]).
    pub lines: Vec<usize>,
}

/// A story shows at most this many report lines carried by one outlet alone; the rest are folded
/// ([`MoreFrom`]) when that hides at least [`MIN_FOLDED`] of them.
pub const LINES_PER_OUTLET: usize = 2;
/// Fewer hidden lines than this are shown instead ("and 1 more" says less than the line itself).
pub const MIN_FOLDED: usize = 2;

/// An entity named in a story or article.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EntityRef {
    pub name: String,
    pub kind: EntityKind,
}

/// One article as shown in the digest.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ArticleOut {
    pub title: String,
    /// Link to the article; `null` when the entry had none.
    pub url: Option<String>,
    /// Feed (outlet) name from the config.
    pub feed: String,
    pub published: Timestamp,
    #[serde(default)]
    pub author: Option<String>,
    /// Short plain-text excerpt (may be empty).
    #[serde(default)]
    pub excerpt: String,
    pub entities: Vec<EntityRef>,
}

/// Health of one feed during the digest window.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FeedHealthOut {
    pub feed: String,
    pub status: FeedStatus,
    /// Last error (for `status = error`), else `null`.
    #[serde(default)]
    pub error: Option<String>,
}

/// Whether a feed is fetching fine.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum FeedStatus {
    Ok,
    Error,
}

/// A story that has been running for several days.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Developing {
    /// 2 on the second day the story appears, and so on.
    pub day: u32,
    /// The headline under which the story first appeared.
    pub first_headline: String,
    /// When the story was first seen.
    pub since: Timestamp,
}

/// Near-duplicate reports (same headline, several outlets) shown as one line.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LineOut {
    pub title: String,
    pub url: Option<String>,
    /// Distinct outlets carrying this report.
    pub outlets: Vec<String>,
    /// Indexes into the story's `articles`.
    pub articles: Vec<usize>,
}

/// An entity trending in this window.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TrendOut {
    pub name: String,
    pub kind: EntityKind,
    /// Articles mentioning it in this window.
    pub count: u32,
    /// Articles expected from its history.
    pub expected: f64,
}

/// A problem found by [`Digest::check`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DigestProblem {
    #[error("story {story} ({title:?}): line {line} points at article {index}, but it has {len}")]
    LineIndexOutOfRange {
        story: usize,
        title: String,
        line: usize,
        index: usize,
        len: usize,
    },
    #[error("story {story} ({title:?}): article {index} is in {count} lines (expected exactly 1)")]
    ArticleLineCount {
        story: usize,
        title: String,
        index: usize,
        count: usize,
    },
    #[error("article {url:?} ({title:?}) appears in more than one story")]
    ArticleInSeveralStories { title: String, url: String },
}

impl Digest {
    /// Number of articles over all stories.
    pub fn article_count(&self) -> usize {
        self.stories.iter().map(|s| s.articles.len()).sum()
    }

    /// Number of distinct outlets (feed names) over all articles.
    pub fn outlet_count(&self) -> usize {
        let mut feeds: Vec<&str> = self
            .stories
            .iter()
            .flat_map(|s| s.articles.iter().map(|a| a.feed.as_str()))
            .collect();
        feeds.sort_unstable();
        feeds.dedup();
        feeds.len()
    }

    /// Checks the structural promises of the contract: line indexes in range, every article in
    /// exactly one line (when lines are given), no article (by URL) in two stories.
    pub fn check(&self) -> Vec<DigestProblem> {
        let mut problems = Vec::new();
        let mut seen_urls = std::collections::HashSet::new();
        for (si, story) in self.stories.iter().enumerate() {
            for a in &story.articles {
                if let Some(url) = &a.url
                    && !seen_urls.insert(url.as_str())
                {
                    problems.push(DigestProblem::ArticleInSeveralStories {
                        title: a.title.clone(),
                        url: url.clone(),
                    });
                }
            }
            if story.lines.is_empty() {
                continue;
            }
            let mut counts = vec![0usize; story.articles.len()];
            for (li, line) in story.lines.iter().enumerate() {
                for &i in &line.articles {
                    match counts.get_mut(i) {
                        Some(c) => *c += 1,
                        None => problems.push(DigestProblem::LineIndexOutOfRange {
                            story: si,
                            title: story.title.clone(),
                            line: li,
                            index: i,
                            len: story.articles.len(),
                        }),
                    }
                }
            }
            for (i, &c) in counts.iter().enumerate() {
                if c != 1 {
                    problems.push(DigestProblem::ArticleLineCount {
                        story: si,
                        title: story.title.clone(),
                        index: i,
                        count: c,
                    });
                }
            }
        }
        problems
    }
}

impl StoryOut {
    /// Folds each outlet's report lines beyond its best [`LINES_PER_OUTLET`] (lines carried by
    /// that outlet alone, in the shown order: most representative first) into `more_from`, so
    /// one outlet's twenty reports on one event read as its best two and "and 18 more from …".
    pub fn fold_outlets(&mut self) {
        let lines = self.effective_lines();
        let mut by_outlet: Vec<(String, Vec<usize>)> = Vec::new();
        for (i, l) in lines.iter().enumerate() {
            let [outlet] = l.outlets.as_slice() else {
                continue;
            };
            match by_outlet.iter_mut().find(|(o, _)| o == outlet) {
                Some((_, v)) => v.push(i),
                None => by_outlet.push((outlet.clone(), vec![i])),
            }
        }
        self.more_from = by_outlet
            .into_iter()
            .filter(|(_, v)| v.len() >= LINES_PER_OUTLET + MIN_FOLDED)
            .map(|(outlet, v)| {
                let folded = v[LINES_PER_OUTLET..].to_vec();
                MoreFrom {
                    outlet,
                    count: folded.len(),
                    lines: folded,
                }
            })
            .collect();
    }

    /// The lines to show: `lines` when given (with out-of-range indexes dropped, and any article
    /// not covered by a line added as its own line), else one line per article.
    pub fn effective_lines(&self) -> Vec<LineOut> {
        let n = self.articles.len();
        let mut covered = vec![false; n];
        let mut out = Vec::with_capacity(self.lines.len().max(n));
        for line in &self.lines {
            let articles: Vec<usize> = line
                .articles
                .iter()
                .copied()
                .filter(|&i| i < n && !covered[i])
                .collect();
            if articles.is_empty() {
                continue;
            }
            for &i in &articles {
                covered[i] = true;
            }
            out.push(LineOut {
                title: line.title.clone(),
                url: line.url.clone(),
                outlets: line.outlets.clone(),
                articles,
            });
        }
        for (i, a) in self.articles.iter().enumerate() {
            if !covered[i] {
                out.push(LineOut {
                    title: a.title.clone(),
                    url: a.url.clone(),
                    outlets: vec![a.feed.clone()],
                    articles: vec![i],
                });
            }
        }
        out
    }
}
