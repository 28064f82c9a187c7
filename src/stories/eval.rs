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
struct Item {
    title: String,
    text: String,
    outlet: String,
    url: Option<String>,
    published: i64,
    gold: String,
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
        .map(|(id, (it, es))| StoryArticle {
            id,
            title: &it.title,
            text: &it.text,
            outlet: &it.outlet,
            url: it.url.as_deref(),
            published: it.published,
            entities: es,
            language: None,
        })
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
    Ok(run("uci", items, opts))
}

/// Evaluates on BASIL JSONL (`story_id, publisher, date, title, lead, text`), with dates as
/// publication days.
pub fn eval_basil(path: &Path) -> Result<BcubedReport, StoriesError> {
    eval_basil_with(path, &GroupOptions::default())
}

/// [`eval_basil`] with explicit options.
pub fn eval_basil_with(path: &Path, opts: &GroupOptions) -> Result<BcubedReport, StoriesError> {
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
    Ok(run("basil", items, opts))
}
