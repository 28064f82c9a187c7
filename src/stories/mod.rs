//! Story grouping: turns a window of tagged articles into ranked stories (headline, short
//! extractive summary, reports with outlets, the entities that explain the grouping, near-duplicate
//! copies collapsed), and the pure helpers around it: continuity across days
//! ([`continuation_of_event`], [`day_of_story`]), followed entities ([`follows`]) and trending
//! entities ([`rising`]).
//!
//! This module is pure: data in, data out. Files are read only by [`eval`].
//!
//! How grouping works: each article becomes a sparse vector of canonical entity keys and stemmed
//! title/lead terms, weighted by rarity (IDF over a [`Background`] of recent articles plus the
//! window, with general English word frequencies as a prior so that everyday words are not
//! mistaken for rare ones on a cold start) and by place (title above body); features whose
//! articles have nothing else in common (topics such as "Covid", everyday words) are damped by
//! their coherence. An inverted index with capped postings yields each article's candidate
//! pairs. A learned pair scorer (`pairs`, weights in `models/stories.json`) gives each pair the
//! probability of being one story from evidence specific to an event (names, places below
//! country level, rare and coherent words, numbers, time) rather than broad context (countries,
//! places much of the window mentions, topic words, an outlet's own series); groups then merge
//! best first while a learned merge scorer over the whole of both groups (`link`) says they are
//! one story, so one bridge report cannot chain two stories and a topic does not snowball.
//! `train` fits both scorers and the threshold on labelled windows.

mod cluster;
mod continuity;
pub mod eval;
mod event;
mod features;
pub mod learn;
mod link;
pub mod model;
mod pairs;
pub mod paraphrase;
mod places;
mod present;
mod rising;
pub mod train;

pub use continuity::{
    CONTINUATION_THRESHOLD, PreviousStory, continuation, continuation_of_event, continuation_with,
    day_of_story, follows, signature,
};
pub use event::{
    ANCHOR_MAX_SHARE, ANCHOR_MIN_STORIES, BROAD_MIN_REPORTS, BROAD_SHARE, EventContext, Evidence,
    MIN_EVENT_EVIDENCE, MIN_TERM_EVIDENCE, NewStory, is_edition,
};
pub use features::{Background, article_terms, lead, terms, terms_in};
pub use rising::{
    RISING_MIN_BACKGROUND, RISING_MIN_LIFT, TREND_MIN_COUNT, TREND_MIN_OUTLETS, TREND_MIN_SCORE,
    Trend, enough_history, rising, trend_key,
};

use crate::model::{Entity, EntityKind};

/// One article as seen by the grouping: borrowed from the caller.
#[derive(Debug, Clone, Copy)]
pub struct StoryArticle<'a> {
    /// The caller's index; stories refer to articles by this id.
    pub id: usize,
    pub title: &'a str,
    /// Plain text (lead/summary or full body).
    pub text: &'a str,
    /// Feed or publisher name.
    pub outlet: &'a str,
    pub url: Option<&'a str>,
    /// Unix seconds, UTC.
    pub published: i64,
    pub entities: &'a [Entity],
    /// ISO 639-1 language of the article when known (detected at ingest): its stop words are
    /// dropped from the terms as well as the English ones.
    pub language: Option<&'a str>,
}

impl<'a> StoryArticle<'a> {
    /// The grouping view of a stored or parsed article, as the caller's article `id`.
    pub fn of(id: usize, a: &'a crate::model::Article) -> StoryArticle<'a> {
        StoryArticle {
            id,
            title: &a.title,
            text: &a.text,
            outlet: &a.feed,
            url: a.url.as_deref(),
            published: a.published.as_second(),
            entities: &a.entities,
            language: a.language.as_deref(),
        }
    }
}

/// Tuning of [`group`]. `Default` holds the tuned values.
#[derive(Debug, Clone)]
pub struct GroupOptions {
    /// Time gap (seconds) between two clusters' spans that costs nothing.
    pub time_grace_secs: i64,
    /// Beyond the grace period similarity decays as `exp(-excess / time_scale_secs)`.
    pub time_scale_secs: f64,
    /// Weight of the similarity between two reports of the same outlet. An outlet's recurring
    /// series ("Covid-19 update", "Best of cartoons, September 19") and its own follow-ups share
    /// boilerplate words with each other far more than reports of one event by different
    /// outlets do; 1 treats them like any other pair.
    pub same_outlet_weight: f32,
    /// Rarity prior: general English word frequencies (`data/wordfreq/en.tsv`) count as this
    /// many further background articles, so that on a cold start (no stored background) everyday
    /// words ("available", "ban", "tests") are not as rare as names. 0 disables.
    pub prior_docs: f32,
    /// Topic damping: a feature in three or more articles whose articles have a mean cosine
    /// without it (its coherence) below `topic_coherence` is weighted by
    /// `(coherence / topic_coherence)^topic_damping`. A topic ("Covid") or an everyday word links
    /// articles that have nothing else in common; an event's words do not. 0 disables.
    pub topic_damping: f32,
    /// Coherence at and above which a feature is not damped (see `topic_damping`).
    pub topic_coherence: f32,
    /// Candidate neighbours kept per article.
    pub neighbours: usize,
    /// Minimum pair similarity to be a candidate at all.
    pub min_edge: f32,
    /// Least number of an article's heaviest features (entities, terms) another article must share
    /// to become its neighbour: a single shared word is not a story.
    pub min_shared_features: usize,
    /// Features with more postings than this are skipped in candidate generation (they carry
    /// little weight anyway); they still count in the similarities.
    pub max_postings: usize,
    /// Candidate generation probes the index with each article's heaviest features only.
    pub probe_features: usize,
    /// Weight factor of features found in only one article of the window. They cannot match
    /// anything and only lengthen the vector, so long texts (many such features) would otherwise
    /// get much lower cosines than headlines; 0 drops them, 1 keeps the plain cosine.
    pub unshared_weight: f32,
    /// Cluster centroids keep at most this many (heaviest) features.
    pub max_centroid_features: usize,
    /// Weight of a term in the title (before IDF).
    pub title_term_weight: f32,
    /// Weight of a term in the lead (added to the title weight when in both).
    pub lead_term_weight: f32,
    /// Weight of an entity mentioned in the title.
    pub title_entity_weight: f32,
    /// Weight of an entity mentioned only in the body (scaled by its salience, 0.5..1).
    pub body_entity_weight: f32,
    /// Word-set Jaccard similarity (title + lead) at which two reports are copies of one another.
    pub duplicate_jaccard: f32,
    /// Maximum sentences in a summary.
    pub summary_sentences: usize,
    /// Maximum entities listed in `Story::shared_entities`.
    pub max_shared_entities: usize,
}

impl Default for GroupOptions {
    fn default() -> Self {
        GroupOptions {
            time_grace_secs: 86_400,
            time_scale_secs: 2.0 * 86_400.0,
            same_outlet_weight: 0.5,
            prior_docs: 3000.0,
            topic_damping: 1.0,
            topic_coherence: 0.07,
            neighbours: 8,
            min_edge: 0.05,
            min_shared_features: 2,
            max_postings: 500,
            probe_features: 8,
            unshared_weight: 0.5,
            max_centroid_features: 256,
            title_term_weight: 1.0,
            lead_term_weight: 0.5,
            title_entity_weight: 1.0,
            body_entity_weight: 0.5,
            duplicate_jaccard: 0.75,
            summary_sentences: 3,
            max_shared_entities: 6,
        }
    }
}

/// Where a story goes in the digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Section {
    /// Covered by two or more distinct outlets.
    Top,
    /// A single outlet's item ("Other headlines", grouped by feed).
    Other,
}

/// A group of reports about the same story.
#[derive(Debug, Clone, PartialEq)]
pub struct Story {
    /// Article ids, most central first.
    pub members: Vec<usize>,
    /// Id of the headline article (the most central report).
    pub headline: usize,
    /// 1–3 lead sentences, none repeated across sources (empty when no article has text).
    pub summary: String,
    /// Distinct outlets in order of first publication.
    pub outlets: Vec<String>,
    /// Entities shared by the reports, best explanation first (display name, kind).
    pub shared_entities: Vec<(String, EntityKind)>,
    /// Near-duplicate collapse: each line holds the ids of copies of one report, shown one first.
    pub lines: Vec<Vec<usize>>,
    pub section: Section,
    /// Ranking score: number of outlets plus recency and salience (each below 0.5).
    pub score: f64,
    /// Entity/term weights for continuity across days (see [`signature`]).
    pub signature: Vec<(String, f32)>,
}

/// Groups a window of articles into stories, ranked: `Top` stories by number of outlets, then
/// recency and salience; then `Other` stories grouped by outlet, newest first.
///
/// `bg` holds document frequencies of articles from before the window (may be empty); the
/// window's own articles are counted here. The result does not depend on the order of `articles`.
pub fn group(articles: &[StoryArticle], bg: &Background, opts: &GroupOptions) -> Vec<Story> {
    group_with(articles, bg, opts, model::StoryModel::embedded())
}

/// [`group`] with an explicit story model (the embedded one is trained by
/// `digestif train stories`).
pub fn group_with(
    articles: &[StoryArticle],
    bg: &Background,
    opts: &GroupOptions,
    model: &model::StoryModel,
) -> Vec<Story> {
    if articles.is_empty() {
        return Vec::new();
    }
    let prepared = cluster::prepare(articles, bg, opts);
    let found = find_stories(&prepared, opts, model);
    present::build(articles, &prepared, found, opts)
}

/// Scores the candidate pairs and agglomerates them with the model.
fn find_stories(
    prepared: &cluster::Prepared<'_>,
    opts: &GroupOptions,
    model: &model::StoryModel,
) -> Vec<cluster::Found> {
    let ctx = pairs::PairContext::new(prepared);
    let graph = link::pair_graph(prepared, &ctx, &model.pair, opts);
    link::agglomerate(
        prepared,
        &ctx,
        &graph,
        &|f| model.merge.probability(f) as f64,
        model.threshold,
        None,
        opts,
    )
}

/// Groups and returns only the partition (member ids per story, unranked but deterministic).
/// Cheaper than [`group`] when only the clustering matters (evaluation, benchmarks).
pub fn partition(
    articles: &[StoryArticle],
    bg: &Background,
    opts: &GroupOptions,
) -> Vec<Vec<usize>> {
    partition_with(articles, bg, opts, model::StoryModel::embedded())
}

/// [`partition`] with an explicit story model.
pub fn partition_with(
    articles: &[StoryArticle],
    bg: &Background,
    opts: &GroupOptions,
    model: &model::StoryModel,
) -> Vec<Vec<usize>> {
    if articles.is_empty() {
        return Vec::new();
    }
    let prepared = cluster::prepare(articles, bg, opts);
    find_stories(&prepared, opts, model)
        .into_iter()
        .map(|f| {
            f.members
                .iter()
                .map(|&m| articles[prepared.order[m as usize]].id)
                .collect()
        })
        .collect()
}

/// Errors of the stories module (only the evaluation reads files).
#[derive(Debug, thiserror::Error)]
pub enum StoriesError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("{path}, line {line}: bad CSV record: {message}")]
    Csv {
        path: std::path::PathBuf,
        line: u64,
        message: String,
    },
    #[error("{path}, line {line}: bad JSON record: {source}")]
    Json {
        path: std::path::PathBuf,
        line: usize,
        source: serde_json::Error,
    },
    #[error("{path}, line {line}: bad date {value:?} (want YYYY-MM-DD)")]
    Date {
        path: std::path::PathBuf,
        line: usize,
        value: String,
    },
    #[error("{path}: no articles")]
    Empty { path: std::path::PathBuf },
}
