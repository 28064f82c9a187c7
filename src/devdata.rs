//! Labelled development data for evaluating and training the story grouping on real feeds: reads
//! a folder of feed snapshots (`<root>/<snapshot>/*.xml` with `manifest.tsv` naming each file's
//! publisher) and its gold stories (`gold-stories-dev.json`), turns each file's entries into
//! tagged articles the way ingest does (parse, normalise, tag), and labels each article with its
//! gold story. Sits above `feed`, `normalize`, `ner` and `stories`; nothing in the daemon uses it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::model::Article;
use crate::stories::eval::SnapshotLabel;

/// Errors reading development data.
#[derive(Debug, thiserror::Error)]
pub enum DevDataError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: bad JSON: {source}")]
    Json {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("{path}: no gold labels for snapshot {snapshot}")]
    NoGold { path: PathBuf, snapshot: String },
}

/// One snapshot: its articles (in file order, then entry order) with their gold labels.
pub struct Snapshot {
    pub name: String,
    pub articles: Vec<Article>,
    pub labels: Vec<SnapshotLabel>,
    /// One outlet's several items on one event (`single_publisher_duplicates`, not scored): the
    /// group of each article, if any.
    pub duplicates: Vec<Option<u32>>,
    /// Gold members whose file position holds an article of another title (counted, still used).
    pub title_mismatches: usize,
    /// Gold members with no article at their file position.
    pub missing: usize,
}

#[derive(Deserialize)]
struct GoldMember {
    file: String,
    index: usize,
    #[serde(default)]
    title: String,
}

#[derive(Deserialize)]
struct GoldStory {
    members: Vec<GoldMember>,
}

#[derive(Deserialize)]
struct GoldSnapshot {
    stories: Vec<GoldStory>,
    #[serde(default)]
    ambiguous: Vec<GoldStory>,
    #[serde(default)]
    single_publisher_duplicates: Vec<GoldStory>,
}

fn read(path: &Path) -> Result<String, DevDataError> {
    std::fs::read_to_string(path).map_err(|source| DevDataError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// The labelled snapshots of `gold` (default `<root>/gold-stories-dev.json`), in name order;
/// `only` restricts them to the named ones.
pub fn load_snapshots(
    root: &Path,
    gold: Option<&Path>,
    only: &[String],
) -> Result<Vec<Snapshot>, DevDataError> {
    let gold_path = gold
        .map(Path::to_path_buf)
        .unwrap_or_else(|| root.join("gold-stories-dev.json"));
    let gold: HashMap<String, GoldSnapshot> =
        serde_json::from_str(&read(&gold_path)?).map_err(|source| DevDataError::Json {
            path: gold_path.clone(),
            source,
        })?;
    let publishers = manifest(root)?;
    let mut names: Vec<&String> = gold.keys().collect();
    names.sort();
    let mut out = Vec::new();
    for name in names {
        if !only.is_empty() && !only.contains(name) {
            continue;
        }
        out.push(load_one(root, name, &gold[name], &publishers)?);
    }
    for want in only {
        if !gold.contains_key(want) {
            return Err(DevDataError::NoGold {
                path: gold_path,
                snapshot: want.clone(),
            });
        }
    }
    Ok(out)
}

/// (snapshot, file stem) -> publisher, from `manifest.tsv`.
fn manifest(root: &Path) -> Result<HashMap<(String, String), String>, DevDataError> {
    let path = root.join("manifest.tsv");
    let text = read(&path)?;
    let mut lines = text.lines();
    let head: Vec<&str> = lines.next().unwrap_or_default().split('\t').collect();
    let col = |n: &str| head.iter().position(|h| *h == n);
    let (Some(cs), Some(cf), Some(cp)) = (col("snapshot_utc"), col("file_stem"), col("publisher"))
    else {
        return Ok(HashMap::new());
    };
    let mut out = HashMap::new();
    for line in lines {
        let cols: Vec<&str> = line.split('\t').collect();
        if let (Some(s), Some(f), Some(p)) = (cols.get(cs), cols.get(cf), cols.get(cp))
            && !p.trim().is_empty()
        {
            out.insert((s.to_string(), f.to_string()), p.trim().to_string());
        }
    }
    Ok(out)
}

/// The snapshot time from its folder name (`2021-09-18T1913Z`).
fn snapshot_time(name: &str) -> jiff::Timestamp {
    let iso = if name.len() == 16 {
        format!("{}:{}:00Z", &name[..13], &name[13..15])
    } else {
        name.to_string()
    };
    iso.parse().unwrap_or(jiff::Timestamp::UNIX_EPOCH)
}

fn load_one(
    root: &Path,
    name: &str,
    gold: &GoldSnapshot,
    publishers: &HashMap<(String, String), String>,
) -> Result<Snapshot, DevDataError> {
    let dir = root.join(name);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(|source| DevDataError::Io {
            path: dir.clone(),
            source,
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "xml"))
        .collect();
    files.sort();
    let now = snapshot_time(name);
    let mut articles = Vec::new();
    let mut at: HashMap<(String, usize), usize> = HashMap::new();
    for path in &files {
        let file = path
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        let stem = file.trim_end_matches(".xml").to_string();
        let publisher = publishers
            .get(&(name.to_string(), stem.clone()))
            .cloned()
            .unwrap_or(stem);
        let body = std::fs::read(path).map_err(|source| DevDataError::Io {
            path: path.clone(),
            source,
        })?;
        let url = format!("http://127.0.0.1/{file}");
        let Ok(parsed) = crate::feed::parse(&body, &url) else {
            continue;
        };
        let mut seen = std::collections::HashSet::new();
        let mut file_articles = Vec::new();
        for (index, entry) in parsed.entries.iter().enumerate() {
            let Some(a) = crate::normalize::normalize(entry, &publisher, &url, now) else {
                continue;
            };
            if seen.insert(a.key.clone()) {
                file_articles.push((index, a));
            }
        }
        // As ingest does: the file is one fetch of the feed, whose boilerplate goes before tagging.
        let texts: Vec<String> = parsed
            .entries
            .iter()
            .map(crate::normalize::entry_text)
            .collect();
        let bp = crate::normalize::Boilerplate::find(&texts);
        for (index, mut a) in file_articles {
            a.text = bp.strip(&a.text);
            a.entities = crate::ner::tag_article(&a.title, &a.text);
            at.insert((file.clone(), index), articles.len());
            articles.push(a);
        }
    }
    let mut labels = vec![SnapshotLabel::Unlabelled; articles.len()];
    let mut story = 0u32;
    let (mut title_mismatches, mut missing) = (0, 0);
    for (list, ambiguous) in [(&gold.stories, false), (&gold.ambiguous, true)] {
        for s in list {
            for m in &s.members {
                let Some(&i) = at.get(&(m.file.clone(), m.index)) else {
                    missing += 1;
                    continue;
                };
                let fold = |t: &str| t.split_whitespace().collect::<Vec<_>>().join(" ");
                if fold(&articles[i].title) != fold(&crate::normalize::clean_title(&m.title)) {
                    title_mismatches += 1;
                }
                labels[i] = if ambiguous {
                    match labels[i] {
                        SnapshotLabel::Story(_) => labels[i],
                        _ => SnapshotLabel::Ambiguous,
                    }
                } else {
                    SnapshotLabel::Story(story)
                };
            }
            if !ambiguous {
                story += 1;
            }
        }
    }
    let mut duplicates = vec![None; articles.len()];
    for (g, s) in gold.single_publisher_duplicates.iter().enumerate() {
        for m in &s.members {
            if let Some(&i) = at.get(&(m.file.clone(), m.index)) {
                duplicates[i] = Some(g as u32);
            }
        }
    }
    Ok(Snapshot {
        name: name.to_string(),
        articles,
        labels,
        duplicates,
        title_mismatches,
        missing,
    })
}

/// Groups one snapshot's articles with the production path ([`crate::stories::partition`], empty
/// background) and returns the predicted story of each article.
pub fn predict(snapshot: &Snapshot, opts: &crate::stories::GroupOptions) -> Vec<usize> {
    let inputs: Vec<crate::stories::StoryArticle<'_>> = snapshot
        .articles
        .iter()
        .enumerate()
        .map(|(i, a)| crate::stories::StoryArticle::of(i, a))
        .collect();
    let bg = crate::stories::Background::new();
    let mut predicted: Vec<usize> = (0..inputs.len()).collect();
    for (s, members) in crate::stories::partition(&inputs, &bg, opts)
        .iter()
        .enumerate()
    {
        for &m in members {
            predicted[m] = inputs.len() + s;
        }
    }
    predicted
}

/// Per-snapshot scores and their sum; `Display` ends with the line
/// `snapshot stories: pairwise P <p> R <r> F1 <f1>, BCubed P <p> R <r> F1 <f1>, merged <n>`.
pub struct SnapshotReport {
    /// Name, score, and (gold members missing, gold members whose title differs).
    pub per_snapshot: Vec<(String, crate::stories::eval::SnapshotScore, (usize, usize))>,
    pub total: crate::stories::eval::SnapshotScore,
}

impl std::fmt::Display for SnapshotReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (name, s, (missing, mismatched)) in &self.per_snapshot {
            writeln!(
                f,
                "{name}: {s} (gold members missing {missing}, title mismatches {mismatched})"
            )?;
        }
        write!(f, "snapshot stories: {}", self.total)
    }
}

/// Scores the grouping on every labelled snapshot under `root` (or the `only` ones).
pub fn eval_snapshots(
    root: &Path,
    only: &[String],
    opts: &crate::stories::GroupOptions,
) -> Result<SnapshotReport, DevDataError> {
    let snaps = load_snapshots(root, None, only)?;
    let mut report = SnapshotReport {
        per_snapshot: Vec::new(),
        total: Default::default(),
    };
    for s in &snaps {
        let score = crate::stories::eval::score_snapshot(&s.labels, &predict(s, opts));
        report.total.add(&score);
        report
            .per_snapshot
            .push((s.name.clone(), score, (s.missing, s.title_mismatches)));
    }
    Ok(report)
}

/// The grouping's view of a snapshot's articles (ids are positions).
fn story_inputs(articles: &[Article]) -> Vec<crate::stories::StoryArticle<'_>> {
    articles
        .iter()
        .enumerate()
        .map(|(i, a)| crate::stories::StoryArticle::of(i, a))
        .collect()
}

/// Everything the story model trains on, loaded and tagged: the labelled snapshots and the UCI
/// and BASIL development sets.
pub struct TrainingData {
    pub snapshots: Vec<Snapshot>,
    benchmarks: Vec<(
        String,
        Vec<crate::stories::eval::Item>,
        Vec<Vec<crate::model::Entity>>,
    )>,
}

impl TrainingData {
    /// Loads the snapshots under `snapshots` and the two benchmark files (tagging everything).
    pub fn load(snapshots: &Path, uci: &Path, basil: &Path) -> anyhow::Result<TrainingData> {
        let snaps = load_snapshots(snapshots, None, &[])?;
        let mut benchmarks = Vec::new();
        for (name, items) in [
            ("uci", crate::stories::eval::load_uci(uci)?),
            ("basil", crate::stories::eval::load_basil(basil)?),
        ] {
            let entities = items
                .iter()
                .map(|it| crate::ner::tag_article(&it.title, &it.text))
                .collect();
            benchmarks.push((name.to_string(), items, entities));
        }
        Ok(TrainingData {
            snapshots: snaps,
            benchmarks,
        })
    }

    /// The training windows: each snapshot, then UCI and BASIL.
    pub fn windows(&self) -> Vec<crate::stories::train::TrainWindow<'_>> {
        let mut out = Vec::new();
        for s in &self.snapshots {
            out.push(crate::stories::train::TrainWindow {
                name: s.name.clone(),
                articles: story_inputs(&s.articles),
                labels: s.labels.clone(),
                duplicates: s.duplicates.clone(),
                benchmark: false,
            });
        }
        for (name, items, entities) in &self.benchmarks {
            let mut stories: HashMap<&str, u32> = HashMap::new();
            let labels = items
                .iter()
                .map(|it| {
                    let n = stories.len() as u32;
                    SnapshotLabel::Story(*stories.entry(it.gold.as_str()).or_insert(n))
                })
                .collect();
            out.push(crate::stories::train::TrainWindow {
                name: name.clone(),
                articles: items
                    .iter()
                    .zip(entities)
                    .enumerate()
                    .map(|(id, (it, es))| it.view(id, es))
                    .collect(),
                labels,
                duplicates: Vec::new(),
                benchmark: true,
            });
        }
        out
    }
}
