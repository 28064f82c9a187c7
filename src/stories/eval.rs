//! Offline evaluation of the grouping against gold story labels: reads the UCI News Aggregator
//! CSV or BASIL JSONL, tags the articles with [`crate::ner::tag_article`], groups them with the
//! production path ([`super::group`] with default options and an empty background) and scores
//! the result with BCubed precision/recall/F1.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::time::Instant;

use serde::Deserialize;

use super::{Background, GroupOptions, StoriesError, StoryArticle, group};
use crate::model::Entity;

/// Scores of one evaluation run. `Display` ends with the line
/// `BCubed P <p> R <r> F1 <f1> articles/s <n>`.
#[derive(Debug, Clone, PartialEq)]
pub struct BcubedReport {
    pub dataset: String,
    pub articles: usize,
    pub gold_stories: usize,
    pub predicted_stories: usize,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// Seconds spent tagging entities.
    pub tag_seconds: f64,
    /// Seconds spent grouping.
    pub group_seconds: f64,
    /// Articles per second, tagging plus grouping.
    pub articles_per_sec: u64,
}

impl fmt::Display for BcubedReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "dataset {}", self.dataset)?;
        writeln!(
            f,
            "articles {}  gold stories {}  predicted stories {}",
            self.articles, self.gold_stories, self.predicted_stories
        )?;
        let per = |s: f64| {
            if s > 0.0 {
                (self.articles as f64 / s) as u64
            } else {
                0
            }
        };
        writeln!(
            f,
            "tagging {:.3} s ({} articles/s)  grouping {:.3} s ({} articles/s)",
            self.tag_seconds,
            per(self.tag_seconds),
            self.group_seconds,
            per(self.group_seconds)
        )?;
        write!(
            f,
            "BCubed P {:.4} R {:.4} F1 {:.4} articles/s {}",
            self.precision, self.recall, self.f1, self.articles_per_sec
        )
    }
}

/// BCubed precision, recall and F1 of `predicted` (cluster id per item) against `gold`.
pub fn bcubed<P: Eq + std::hash::Hash, G: Eq + std::hash::Hash>(
    predicted: &[P],
    gold: &[G],
) -> (f64, f64, f64) {
    let n = predicted.len().min(gold.len());
    if n == 0 {
        return (0.0, 0.0, 0.0);
    }
    let mut pc: HashMap<&P, usize> = HashMap::new();
    let mut gc: HashMap<&G, usize> = HashMap::new();
    let mut both: HashMap<(&P, &G), usize> = HashMap::new();
    for i in 0..n {
        *pc.entry(&predicted[i]).or_insert(0) += 1;
        *gc.entry(&gold[i]).or_insert(0) += 1;
        *both.entry((&predicted[i], &gold[i])).or_insert(0) += 1;
    }
    let (mut p, mut r) = (0.0, 0.0);
    for i in 0..n {
        let c = both[&(&predicted[i], &gold[i])] as f64;
        p += c / pc[&predicted[i]] as f64;
        r += c / gc[&gold[i]] as f64;
    }
    p /= n as f64;
    r /= n as f64;
    let f1 = if p + r > 0.0 {
        2.0 * p * r / (p + r)
    } else {
        0.0
    };
    (p, r, f1)
}

/// One article of an evaluation set.
pub(crate) struct Item {
    pub title: String,
    pub text: String,
    pub outlet: String,
    pub url: Option<String>,
    pub published: i64,
    pub gold: String,
}

impl Item {
    /// The grouping's view of this item as article `id`, with its tagged entities.
    pub(crate) fn view<'a>(&'a self, id: usize, entities: &'a [Entity]) -> StoryArticle<'a> {
        StoryArticle {
            id,
            title: &self.title,
            text: &self.text,
            outlet: &self.outlet,
            url: self.url.as_deref(),
            published: self.published,
            entities,
            language: None,
        }
    }
}

fn run(dataset: &str, items: Vec<Item>, opts: &GroupOptions) -> BcubedReport {
    let t0 = Instant::now();
    let entities: Vec<Vec<Entity>> = items
        .iter()
        .map(|it| crate::ner::tag_article(&it.title, &it.text))
        .collect();
    let tag_seconds = t0.elapsed().as_secs_f64();
    let articles: Vec<StoryArticle> = items
        .iter()
        .zip(&entities)
        .enumerate()
        .map(|(id, (it, es))| it.view(id, es))
        .collect();
    let t1 = Instant::now();
    let stories = group(&articles, &Background::new(), opts);
    let group_seconds = t1.elapsed().as_secs_f64();
    let mut predicted = vec![usize::MAX; items.len()];
    for (s, story) in stories.iter().enumerate() {
        for &m in &story.members {
            predicted[m] = s;
        }
    }
    let gold: Vec<&str> = items.iter().map(|i| i.gold.as_str()).collect();
    let (precision, recall, f1) = bcubed(&predicted, &gold);
    let mut g = gold.clone();
    g.sort_unstable();
    g.dedup();
    let total = tag_seconds + group_seconds;
    BcubedReport {
        dataset: dataset.to_string(),
        articles: items.len(),
        gold_stories: g.len(),
        predicted_stories: stories.len(),
        precision,
        recall,
        f1,
        tag_seconds,
        group_seconds,
        articles_per_sec: if total > 0.0 {
            (items.len() as f64 / total) as u64
        } else {
            0
        },
    }
}

/// Evaluates on a UCI News Aggregator CSV (`ID,TITLE,URL,PUBLISHER,CATEGORY,STORY,HOSTNAME,
/// TIMESTAMP`). IDs and timestamps are not trusted: all rows count as published in one window.
pub fn eval_uci(path: &Path) -> Result<BcubedReport, StoriesError> {
    eval_uci_with(path, &GroupOptions::default())
}

/// [`eval_uci`] with explicit options.
pub fn eval_uci_with(path: &Path, opts: &GroupOptions) -> Result<BcubedReport, StoriesError> {
    Ok(run("uci", load_uci(path)?, opts))
}

/// The rows of a UCI News Aggregator CSV as evaluation items.
pub(crate) fn load_uci(path: &Path) -> Result<Vec<Item>, StoriesError> {
    #[derive(Deserialize)]
    struct Row {
        #[serde(rename = "TITLE")]
        title: String,
        #[serde(rename = "URL")]
        url: Option<String>,
        #[serde(rename = "PUBLISHER")]
        publisher: Option<String>,
        #[serde(rename = "STORY")]
        story: String,
        #[serde(rename = "HOSTNAME")]
        hostname: Option<String>,
    }
    let mut rd = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_path(path)
        .map_err(|e| StoriesError::Io {
            path: path.to_path_buf(),
            source: std::io::Error::other(e),
        })?;
    let mut items = Vec::new();
    for rec in rd.deserialize::<Row>() {
        let row = rec.map_err(|e| StoriesError::Csv {
            path: path.to_path_buf(),
            line: e.position().map(|p| p.line()).unwrap_or(0),
            message: e.to_string(),
        })?;
        let outlet = row
            .publisher
            .filter(|p| !p.trim().is_empty())
            .or(row.hostname)
            .unwrap_or_default();
        items.push(Item {
            title: row.title,
            text: String::new(),
            outlet,
            url: row.url.filter(|u| !u.is_empty()),
            published: 1_394_496_000, // 2014-03-11, one window
            gold: row.story,
        });
    }
    if items.is_empty() {
        return Err(StoriesError::Empty {
            path: path.to_path_buf(),
        });
    }
    Ok(items)
}

/// Evaluates on BASIL JSONL (`story_id, publisher, date, title, lead, text`), with dates as
/// publication days.
pub fn eval_basil(path: &Path) -> Result<BcubedReport, StoriesError> {
    eval_basil_with(path, &GroupOptions::default())
}

/// [`eval_basil`] with explicit options.
pub fn eval_basil_with(path: &Path, opts: &GroupOptions) -> Result<BcubedReport, StoriesError> {
    Ok(run("basil", load_basil(path)?, opts))
}

/// The lines of a BASIL JSONL file as evaluation items.
pub(crate) fn load_basil(path: &Path) -> Result<Vec<Item>, StoriesError> {
    #[derive(Deserialize)]
    struct Row {
        story_id: String,
        publisher: String,
        date: String,
        title: String,
        #[serde(default)]
        lead: String,
        #[serde(default)]
        text: String,
        #[serde(default)]
        url: Option<String>,
    }
    let raw = std::fs::read_to_string(path).map_err(|source| StoriesError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut items = Vec::new();
    for (i, line) in raw.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let row: Row = serde_json::from_str(line).map_err(|source| StoriesError::Json {
            path: path.to_path_buf(),
            line: i + 1,
            source,
        })?;
        let published = row
            .date
            .parse::<jiff::civil::Date>()
            .ok()
            .and_then(|d| d.to_zoned(jiff::tz::TimeZone::UTC).ok())
            .map(|z| z.timestamp().as_second())
            .ok_or_else(|| StoriesError::Date {
                path: path.to_path_buf(),
                line: i + 1,
                value: row.date.clone(),
            })?;
        let text = if row.text.trim().is_empty() {
            row.lead
        } else {
            row.text
        };
        items.push(Item {
            title: row.title,
            text,
            outlet: row.publisher,
            url: row.url,
            published,
            gold: row.story_id,
        });
    }
    if items.is_empty() {
        return Err(StoriesError::Empty {
            path: path.to_path_buf(),
        });
    }
    Ok(items)
}

/// Gold label of one article of a labelled feed snapshot (see `gold-stories-dev.md` in the
/// development data): a member of a gold story (told by 2+ outlets), an item a careful editor
/// could group either way (ignored in pairs with gold members), or neither.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SnapshotLabel {
    Story(u32),
    Ambiguous,
    Unlabelled,
}

/// Counts behind the snapshot scores, the same as `tools/snapshot-stories` computes; add them up
/// over snapshots with [`SnapshotScore::add`].
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SnapshotScore {
    /// Gold member pairs in one predicted story / all gold member pairs.
    pub recall_hits: u64,
    pub recall_pairs: u64,
    /// Predicted-story pairs that are gold pairs / predicted-story pairs touching a gold member
    /// (pairs of a gold member with an ambiguous item left out).
    pub precision_hits: u64,
    pub precision_pairs: u64,
    /// Predicted stories holding members of two or more gold stories.
    pub merged: u64,
    /// BCubed sums over gold members and their number.
    pub bcubed_p: f64,
    pub bcubed_r: f64,
    pub members: u64,
}

impl SnapshotScore {
    pub fn add(&mut self, o: &SnapshotScore) {
        self.recall_hits += o.recall_hits;
        self.recall_pairs += o.recall_pairs;
        self.precision_hits += o.precision_hits;
        self.precision_pairs += o.precision_pairs;
        self.merged += o.merged;
        self.bcubed_p += o.bcubed_p;
        self.bcubed_r += o.bcubed_r;
        self.members += o.members;
    }

    /// Pairwise (precision, recall, F1).
    pub fn pairwise(&self) -> (f64, f64, f64) {
        let p = ratio(self.precision_hits, self.precision_pairs, 1.0);
        let r = ratio(self.recall_hits, self.recall_pairs, 0.0);
        (p, r, f1(p, r))
    }

    /// BCubed (precision, recall, F1) over gold members.
    pub fn bcubed(&self) -> (f64, f64, f64) {
        let n = self.members as f64;
        let (p, r) = if n > 0.0 {
            (self.bcubed_p / n, self.bcubed_r / n)
        } else {
            (1.0, 0.0)
        };
        (p, r, f1(p, r))
    }
}

impl fmt::Display for SnapshotScore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (p, r, pf) = self.pairwise();
        let (bp, br, bf) = self.bcubed();
        write!(
            f,
            "pairwise P {p:.3} R {r:.3} F1 {pf:.3}, BCubed P {bp:.3} R {br:.3} F1 {bf:.3}, merged {}",
            self.merged
        )
    }
}

fn ratio(a: u64, b: u64, empty: f64) -> f64 {
    if b == 0 { empty } else { a as f64 / b as f64 }
}

fn f1(p: f64, r: f64) -> f64 {
    if p + r > 0.0 {
        2.0 * p * r / (p + r)
    } else {
        0.0
    }
}

/// Scores a partition (predicted story id per article) against snapshot labels, with the rules
/// of `tools/snapshot-stories`.
pub fn score_snapshot(labels: &[SnapshotLabel], predicted: &[usize]) -> SnapshotScore {
    use SnapshotLabel::{Ambiguous, Story};
    let mut s = SnapshotScore::default();
    let n = labels.len().min(predicted.len());
    let mut by_pred: HashMap<usize, Vec<usize>> = HashMap::new();
    let mut by_gold: HashMap<u32, Vec<usize>> = HashMap::new();
    for i in 0..n {
        by_pred.entry(predicted[i]).or_default().push(i);
        if let Story(g) = labels[i] {
            by_gold.entry(g).or_default().push(i);
        }
    }
    for members in by_gold.values() {
        for (x, &a) in members.iter().enumerate() {
            for &b in &members[x + 1..] {
                s.recall_pairs += 1;
                s.recall_hits += (predicted[a] == predicted[b]) as u64;
            }
        }
    }
    for members in by_pred.values() {
        let mut golds: Vec<u32> = members
            .iter()
            .filter_map(|&i| match labels[i] {
                Story(g) => Some(g),
                _ => None,
            })
            .collect();
        golds.sort_unstable();
        golds.dedup();
        s.merged += (golds.len() >= 2) as u64;
        for (x, &a) in members.iter().enumerate() {
            for &b in &members[x + 1..] {
                let (la, lb) = (labels[a], labels[b]);
                let (ga, gb) = (matches!(la, Story(_)), matches!(lb, Story(_)));
                if !(ga || gb) || (ga && lb == Ambiguous) || (gb && la == Ambiguous) {
                    continue;
                }
                s.precision_pairs += 1;
                s.precision_hits += (ga && gb && la == lb) as u64;
            }
        }
    }
    for members in by_gold.values() {
        for &j in members {
            let mates: Vec<usize> = by_pred[&predicted[j]]
                .iter()
                .copied()
                .filter(|&k| labels[k] != Ambiguous)
                .collect();
            let same = mates.iter().filter(|&&k| labels[k] == labels[j]).count();
            s.bcubed_p += same as f64 / mates.len().max(1) as f64;
            let together = members
                .iter()
                .filter(|&&k| predicted[k] == predicted[j])
                .count();
            s.bcubed_r += together as f64 / members.len() as f64;
            s.members += 1;
        }
    }
    s
}
