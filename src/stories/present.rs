//! Turns clusters into presentable [`Story`] values: centrality order and headline, outlets,
//! shared entities, near-duplicate lines, an extractive summary, and the ranking.

use super::cluster::{Found, Prepared, dense_dot, dot, norm};
use super::features::{FastMap, for_each_word};
use super::{GroupOptions, Section, Story, StoryArticle};
use crate::model::EntityKind;

pub(crate) fn build(
    articles: &[StoryArticle],
    p: &Prepared<'_>,
    found: Vec<Found>,
    opts: &GroupOptions,
) -> Vec<Story> {
    use rayon::prelude::*;
    let newest = articles.iter().map(|a| a.published).max().unwrap_or(0);
    let not_explaining = outlet_boilerplate(articles, p);
    let mut outlets: Vec<&str> = articles.iter().map(|a| a.outlet).collect();
    outlets.sort_unstable();
    outlets.dedup();
    let mut outlet_names: Vec<String> = outlets.into_iter().map(crate::model::fold_key).collect();
    outlet_names.sort_unstable();
    outlet_names.dedup();
    let window = Window {
        articles,
        p,
        not_explaining: (&not_explaining, &outlet_names),
        newest,
        opts,
    };
    // each story on its own (in parallel, in order), with zeroed scratch space indexed by
    // feature id per thread
    let mut out: Vec<Ranked> = found
        .into_par_iter()
        .map_init(
            || vec![0f32; p.names.len()],
            |dense, f| window.story(f, dense),
        )
        .collect();
    out.sort_by(|x, y| {
        x.story
            .section
            .cmp(&y.story.section)
            .then_with(|| match x.story.section {
                Section::Top => y
                    .story
                    .score
                    .total_cmp(&x.story.score)
                    .then(x.central.cmp(&y.central)),
                Section::Other => x
                    .first_outlet
                    .cmp(&y.first_outlet)
                    .then(y.latest.cmp(&x.latest))
                    .then(y.story.score.total_cmp(&x.story.score))
                    .then(x.central.cmp(&y.central)),
            })
    });
    out.into_iter().map(|x| x.story).collect()
}

/// What every story of a window is presented against.
struct Window<'w, 'a> {
    articles: &'w [StoryArticle<'a>],
    p: &'w Prepared<'a>,
    /// The boilerplate flags and the folded outlet names ([`shared_entities`]).
    not_explaining: (&'w [bool], &'w [String]),
    /// The newest publication time of the window.
    newest: i64,
    opts: &'w GroupOptions,
}

/// A story with its sort keys: its most central member (canonical position), its first
/// outlet (folded) and its latest publication time.
struct Ranked {
    story: Story,
    central: usize,
    first_outlet: String,
    latest: i64,
}

impl Window<'_, '_> {
    /// The story of cluster `f`; `dense` is zeroed scratch space indexed by feature id.
    fn story(&self, f: Found, dense: &mut [f32]) -> Ranked {
        let (articles, p, opts) = (self.articles, self.p, self.opts);
        let mut central = centrality(p, &f, dense);
        central.sort_by(|x, y| y.0.total_cmp(&x.0).then(x.1.cmp(&y.1)));
        let art = |m: u32| &articles[p.order[m as usize]];
        let members: Vec<usize> = central.iter().map(|&(_, m)| art(m).id).collect();
        let headline = members[0];

        let mut by_time: Vec<u32> = f.members.clone();
        by_time.sort_by_key(|&m| (art(m).published, m));
        let mut outlets: Vec<String> = Vec::new();
        for &m in &by_time {
            let o = art(m).outlet;
            if !outlets.iter().any(|x| x == o) {
                outlets.push(o.to_string());
            }
        }
        let latest = by_time
            .last()
            .map(|&m| art(m).published)
            .unwrap_or(self.newest);

        let shared_entities = shared_entities(articles, p, &f, self.not_explaining, opts);
        let ordered: Vec<u32> = central.iter().map(|&(_, m)| m).collect();
        let lines_pos = duplicate_lines(articles, p, &ordered, opts);
        let summary = summarise(p, &lines_pos, opts);
        let lines: Vec<Vec<usize>> = lines_pos
            .iter()
            .map(|l| l.iter().map(|&m| art(m).id).collect())
            .collect();

        let section = if outlets.len() >= 2 {
            Section::Top
        } else {
            Section::Other
        };
        let age_days = (self.newest - latest).max(0) as f64 / 86_400.0;
        let recency = 0.49 * (-age_days).exp();
        let nl = lines.len() as f64;
        let salience = 0.49 * nl / (nl + 3.0);
        let score = outlets.len() as f64 + recency + salience;
        let first_outlet =
            crate::model::fold_key(outlets.first().map(|s| s.as_str()).unwrap_or(""));
        Ranked {
            story: Story {
                members,
                headline,
                summary,
                outlets,
                shared_entities,
                lines,
                section,
                score,
                signature: signature_of(p, &f.sum),
            },
            central: central[0].1 as usize,
            first_outlet,
            latest,
        }
    }
}

/// How central each member is to its story, as (score, member). A member's score is its mean
/// cosine to its most similar fellow reports (`CORE_NEIGHBOURS`, or a third of the story if
/// more), plus its cosine to the centroid as a small tie-breaker: the report that the other
/// reports most closely resemble is the story's best headline. The centroid alone favours a
/// report that matches the story's common names loosely over the event that several outlets
/// actually reported (a piece on "life under the Taliban" over the reports of girls barred from
/// school). Stories of one outlet, and stories too large to compare pairwise, use the centroid
/// cosine alone.
fn centrality(p: &Prepared<'_>, f: &Found, dense: &mut [f32]) -> Vec<(f32, u32)> {
    const CORE_NEIGHBOURS: usize = 3;
    let n = norm(&f.sum).max(f32::MIN_POSITIVE);
    let to_centroid: Vec<f32> = f
        .members
        .iter()
        .map(|&m| dot(&p.vecs[m as usize], &f.sum) / n)
        .collect();
    let k = f.members.len();
    let outlets = |m: u32| p.outlets[m as usize];
    let multi = f
        .members
        .iter()
        .any(|&m| outlets(m) != outlets(f.members[0]));
    if !(3..=256).contains(&k) || !multi {
        return to_centroid
            .into_iter()
            .zip(f.members.iter().copied())
            .collect();
    }
    let mut sims: Vec<Vec<f32>> = vec![Vec::new(); k];
    for i in 0..k {
        let vi = &p.vecs[f.members[i] as usize];
        for &(x, w) in vi {
            dense[x as usize] = w;
        }
        for j in i + 1..k {
            let s = dense_dot(dense, &p.vecs[f.members[j] as usize]);
            sims[i].push(s);
            sims[j].push(s);
        }
        for &(x, _) in vi {
            dense[x as usize] = 0.0;
        }
    }
    sims.iter_mut()
        .zip(&to_centroid)
        .zip(&f.members)
        .map(|((v, &c), &m)| {
            v.sort_by(|a, b| b.total_cmp(a));
            let top = &v[..v.len().min(CORE_NEIGHBOURS.max(k / 3))];
            let support = if top.is_empty() {
                0.0
            } else {
                top.iter().sum::<f32>() / top.len() as f32
            };
            (support + 0.01 * c, m)
        })
        .collect()
}

/// The heaviest centroid features, L2-normalised, as namespaced keys.
fn signature_of(p: &Prepared<'_>, sum: &[(u32, f32)]) -> Vec<(String, f32)> {
    let mut v: Vec<(u32, f32)> = sum.to_vec();
    let by_weight = |a: &(u32, f32), b: &(u32, f32)| {
        b.1.total_cmp(&a.1)
            .then_with(|| p.names[a.0 as usize].cmp(&p.names[b.0 as usize]))
    };
    if v.len() > 24 {
        v.select_nth_unstable_by(23, by_weight);
        v.truncate(24);
    }
    v.sort_by(by_weight);
    let n = v
        .iter()
        .map(|x| x.1 * x.1)
        .sum::<f32>()
        .sqrt()
        .max(f32::MIN_POSITIVE);
    v.into_iter()
        .map(|(f, w)| (p.names[f as usize].clone(), w / n))
        .collect()
}

/// Entity feature ids that never explain a story because they are an outlet's boilerplate:
/// - an entity in at least 60% of one outlet's reports of the window (at least five; a
///   newsletter's sign-off), where one event an outlet follows closely rarely passes 40%;
/// - an entity that only one outlet mentions, in the body of three or more of its reports and
///   in none of their titles: the channel links and calls to action under every video of a
///   channel ("Subscribe to our channel: …/AJSubscribe", "Follow us on Twitter: @AJEnglish"),
///   which no other outlet repeats and no headline names.
///
/// An outlet's own name is checked only for the entities that would explain a story
/// ([`outlet_named`]).
fn outlet_boilerplate(articles: &[StoryArticle], p: &Prepared<'_>) -> Vec<bool> {
    /// Per entity: the outlet first seen with it, whether others mention it too, how many
    /// reports mention it, and whether a title does.
    #[derive(Clone, Copy)]
    struct Seen {
        outlet: u32,
        others: bool,
        reports: u32,
        in_title: bool,
    }
    let mut out = vec![false; p.names.len()];
    let mut seen: Vec<Option<Seen>> = vec![None; p.names.len()];
    let mut per_outlet: FastMap<u32, (u32, FastMap<u32, u32>)> = FastMap::default();
    let mut ids: Vec<u32> = Vec::new();
    for (m, ents) in p.ents.iter().enumerate() {
        let a = &articles[p.order[m]];
        let outlet = p.outlets[m];
        let o = per_outlet.entry(outlet).or_default();
        o.0 += 1;
        ids.clear();
        ids.extend_from_slice(ents);
        ids.sort_unstable();
        ids.dedup();
        for &id in &ids {
            *o.1.entry(id).or_default() += 1;
            let in_title = a
                .entities
                .iter()
                .zip(ents)
                .any(|(e, &x)| x == id && e.in_title);
            let s = seen[id as usize].get_or_insert(Seen {
                outlet,
                others: false,
                reports: 0,
                in_title: false,
            });
            s.others |= s.outlet != outlet;
            s.reports += 1;
            s.in_title |= in_title;
        }
    }
    for (reports, counts) in per_outlet.values() {
        for (&id, &c) in counts {
            if *reports >= 5 && 5 * c >= 3 * *reports {
                out[id as usize] = true;
            }
        }
    }
    for (flag, s) in out.iter_mut().zip(&seen) {
        if let Some(s) = s {
            *flag |= !s.others && !s.in_title && s.reports >= 3;
        }
    }
    out
}

/// Whether an entity is one of the window's outlets by name ("BBC" for BBC News, "Al Jazeera"
/// for Al Jazeera English). `outlets` are the folded outlet names.
fn outlet_named(name: &str, outlets: &[String]) -> bool {
    let key = crate::model::fold_key(name);
    key.len() >= 3
        && outlets
            .iter()
            .any(|o| o.len() >= 3 && (o.contains(&key) || key.contains(o.as_str())))
}

/// The entities that explain a story: in two or more of its reports (from two or more outlets
/// when it has several), not an outlet's name or boilerplate (`not_explaining`: the
/// boilerplate flags and the folded outlet names), heaviest in the story first.
fn shared_entities(
    articles: &[StoryArticle],
    p: &Prepared<'_>,
    f: &Found,
    not_explaining: (&[bool], &[String]),
    opts: &GroupOptions,
) -> Vec<(String, EntityKind)> {
    let (boilerplate, outlet_names) = not_explaining;
    struct Acc<'a> {
        docs: usize,
        outlets: Vec<u32>,
        last_doc: u32,
        names: Vec<(&'a str, usize)>,
        kinds: [usize; 4],
    }
    let mut acc: FastMap<u32, Acc> = FastMap::default();
    for &m in &f.members {
        let a = &articles[p.order[m as usize]];
        for (e, &id) in a.entities.iter().zip(&p.ents[m as usize]) {
            if boilerplate[id as usize] {
                continue;
            }
            let x = acc.entry(id).or_insert_with(|| Acc {
                docs: 0,
                outlets: Vec::new(),
                last_doc: u32::MAX,
                names: Vec::new(),
                kinds: [0; 4],
            });
            if x.last_doc != m {
                x.docs += 1;
                x.last_doc = m;
                if !x.outlets.contains(&p.outlets[m as usize]) {
                    x.outlets.push(p.outlets[m as usize]);
                }
            }
            match x.names.iter_mut().find(|n| n.0 == e.name) {
                Some(n) => n.1 += 1,
                None => x.names.push((e.name.as_str(), 1)),
            }
            x.kinds[kind_index(e.kind)] += 1;
        }
    }
    let min_docs = if f.members.len() >= 2 { 2 } else { 1 };
    let mut story_outlets: Vec<u32> = f.members.iter().map(|&m| p.outlets[m as usize]).collect();
    story_outlets.sort_unstable();
    story_outlets.dedup();
    let min_outlets = story_outlets.len().min(2);
    let mut ranked: Vec<(f32, u32, &Acc)> = acc
        .iter()
        .filter(|(_, x)| x.docs >= min_docs && x.outlets.len() >= min_outlets)
        .map(|(&id, x)| {
            let w = f
                .sum
                .binary_search_by_key(&id, |x| x.0)
                .map(|i| f.sum[i].1)
                .unwrap_or(0.0);
            (w, id, x)
        })
        .collect();
    ranked.sort_by(|a, b| {
        b.0.total_cmp(&a.0)
            .then_with(|| p.names[a.1 as usize].cmp(&p.names[b.1 as usize]))
    });
    ranked
        .into_iter()
        .filter(|(_, _, x)| !x.names.iter().any(|n| outlet_named(n.0, outlet_names)))
        .take(opts.max_shared_entities)
        .map(|(_, _, x)| {
            let name = x
                .names
                .iter()
                .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(a.0)))
                .map(|(n, _)| n.to_string())
                .unwrap_or_default();
            let kinds = [
                EntityKind::Person,
                EntityKind::Organization,
                EntityKind::Location,
                EntityKind::Misc,
            ];
            let kind = kinds
                .iter()
                .copied()
                .max_by(|a, b| {
                    x.kinds[kind_index(*a)]
                        .cmp(&x.kinds[kind_index(*b)])
                        .then(b.cmp(a))
                })
                .unwrap_or(EntityKind::Misc);
            (name, kind)
        })
        .collect()
}

fn kind_index(k: EntityKind) -> usize {
    match k {
        EntityKind::Person => 0,
        EntityKind::Organization => 1,
        EntityKind::Location => 2,
        EntityKind::Misc => 3,
    }
}

/// The set of distinct words of `s`, as sorted 64-bit hashes (FNV-1a).
fn word_set(s: &str) -> Vec<u64> {
    let mut v: Vec<u64> = Vec::new();
    let mut buf = String::new();
    word_hashes(s, &mut buf, &mut v);
    v.sort_unstable();
    v.dedup();
    v
}

/// Appends the FNV-1a hash of each lower-cased word of `s` to `out` (unsorted, with repeats).
fn word_hashes(s: &str, buf: &mut String, out: &mut Vec<u64>) {
    for_each_word(s, buf, |w| {
        out.push(crate::hash::fnv1a(w.as_bytes()));
    });
}

fn jaccard(a: &[u64], b: &[u64]) -> f32 {
    if a.is_empty() && b.is_empty() {
        return 1.0;
    }
    let (mut i, mut j, mut inter) = (0, 0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                inter += 1;
                i += 1;
                j += 1;
            }
        }
    }
    inter as f32 / (a.len() + b.len() - inter) as f32
}

/// Whether `jaccard(a, b) >= t` for sorted sets, with the prefix filter of similarity joins
/// first: if the Jaccard similarity reaches `t`, the sets share an element among the first
/// `|a| - ceil(t |a|) + 1` of `a` and the first `|b| - ceil(t |b|) + 1` of `b` (in sorted
/// order), and their sizes are within a factor `t`. Most pairs of reports of one story fail this
/// cheaply.
fn jaccard_at_least(a: &[u64], b: &[u64], t: f32) -> bool {
    if a.is_empty() || b.is_empty() || t <= 0.0 {
        return jaccard(a, b) >= t;
    }
    let (small, large) = (a.len().min(b.len()) as f32, a.len().max(b.len()) as f32);
    if small < t * large {
        return false;
    }
    // (the epsilon keeps float error in t * n from shortening a prefix)
    let prefix = |n: usize| {
        (n + 1)
            .saturating_sub((t * n as f32 - 1e-4).ceil() as usize)
            .clamp(1, n)
    };
    let (pa, pb) = (&a[..prefix(a.len())], &b[..prefix(b.len())]);
    let (mut i, mut j) = (0, 0);
    let mut common = false;
    while i < pa.len() && j < pb.len() {
        match pa[i].cmp(&pb[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                common = true;
                break;
            }
        }
    }
    common && jaccard(a, b) >= t
}

/// Collapses exact and near-duplicate reports (syndicated copies) into lines, keeping the order of
/// `ordered` (most central first). Stories larger than 400 reports only collapse identical titles.
fn duplicate_lines(
    articles: &[StoryArticle],
    p: &Prepared<'_>,
    ordered: &[u32],
    opts: &GroupOptions,
) -> Vec<Vec<u32>> {
    let art = |m: u32| &articles[p.order[m as usize]];
    if ordered.len() == 1 {
        return vec![ordered.to_vec()];
    }
    let mut buf = String::new();
    let sets: Vec<Vec<u64>> = ordered
        .iter()
        .map(|&m| {
            let a = art(m);
            let mut s = Vec::new();
            word_hashes(a.title, &mut buf, &mut s);
            word_hashes(p.leads[m as usize], &mut buf, &mut s);
            s.sort_unstable();
            s.dedup();
            s
        })
        .collect();
    let mut lines: Vec<Vec<u32>> = Vec::new();
    let mut reps: Vec<usize> = Vec::new(); // index into `ordered` of each line's first report
    for (i, &m) in ordered.iter().enumerate() {
        let hit = reps.iter().position(|&r| {
            if ordered.len() > 400 {
                crate::model::fold_key(art(ordered[r]).title)
                    == crate::model::fold_key(art(m).title)
            } else {
                !sets[i].is_empty() && jaccard_at_least(&sets[r], &sets[i], opts.duplicate_jaccard)
            }
        });
        match hit {
            Some(l) => lines[l].push(m),
            None => {
                reps.push(i);
                lines.push(vec![m]);
            }
        }
    }
    lines
}

/// Splits text into sentences with the tagger's splitter ([`crate::ner::tokenize::split_sentences`]),
/// so the crate has one sentence splitter and one abbreviation list.
pub(crate) fn sentences(text: &str) -> Vec<&str> {
    let tokens = crate::ner::tokenize::tokenize(text);
    crate::ner::tokenize::split_sentences(text, &tokens)
        .into_iter()
        .filter(|r| !r.is_empty())
        .map(|r| &text[tokens[r.start].start..tokens[r.end - 1].end])
        .collect()
}

/// 1–3 lead sentences: first sentences of the lines' shown reports (most central first), then
/// second sentences, skipping any that repeat one already taken — word for word or in other
/// words ([`super::paraphrase::restates`]).
fn summarise(p: &Prepared<'_>, lines: &[Vec<u32>], opts: &GroupOptions) -> String {
    let lead_of = |l: &Vec<u32>| p.leads[l[0] as usize];
    if lines.len() == 1 {
        // a single report: its own first sentences, no repeats possible
        let mut out: Vec<&str> = Vec::new();
        let mut total = 0;
        for s in sentences(lead_of(&lines[0])) {
            if out.len() >= opts.summary_sentences.min(2) || total > 300 {
                break;
            }
            if out.iter().any(|c| super::paraphrase::restates(c, s)) {
                continue;
            }
            total += s.len();
            out.push(s);
        }
        return out.join(" ");
    }
    // split leads into sentences only as far as the summary reads them
    let mut leads: Vec<Option<Vec<&str>>> = vec![None; lines.len()];
    let mut chosen: Vec<&str> = Vec::new();
    let mut chosen_sets: Vec<Vec<u64>> = Vec::new();
    let mut total = 0;
    'outer: for round in 0..2 {
        for (line, sents) in lines.iter().zip(leads.iter_mut()) {
            if chosen.len() >= opts.summary_sentences || total > 450 {
                break 'outer;
            }
            let sents = sents.get_or_insert_with(|| sentences(lead_of(line)));
            let Some(&s) = sents.get(round) else { continue };
            if s.chars().count() < 30 {
                continue;
            }
            let set = word_set(s);
            if chosen_sets.iter().any(|c| jaccard(c, &set) >= 0.5)
                || chosen.iter().any(|c| super::paraphrase::restates(c, s))
            {
                continue;
            }
            total += s.len();
            chosen.push(s);
            chosen_sets.push(set);
        }
    }
    chosen.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_respect_abbreviations_and_initials() {
        let s = sentences(
            "Mr. Smith went to the U.S. Senate on Monday. He left! \"Why?\" Then 3 more.",
        );
        assert_eq!(
            s,
            vec![
                "Mr. Smith went to the U.S. Senate on Monday.",
                "He left!",
                "\"Why?\"",
                "Then 3 more."
            ]
        );
    }

    #[test]
    fn prefix_filtered_jaccard_agrees_with_plain_jaccard() {
        // every pair of subsets of a 10-element universe drawn from a fixed sequence, at
        // thresholds on and between the attainable ratios
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut sets: Vec<Vec<u64>> = Vec::new();
        for _ in 0..120 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let mut s: Vec<u64> = (0..10u64).filter(|b| x >> b & 1 == 1).collect();
            s.sort_unstable();
            sets.push(s);
        }
        for t in [0.3f32, 0.5, 0.6, 0.7, 0.75, 0.8, 0.9, 1.0] {
            for a in &sets {
                for b in &sets {
                    assert_eq!(
                        jaccard_at_least(a, b, t),
                        jaccard(a, b) >= t,
                        "{a:?} {b:?} at {t}"
                    );
                }
            }
        }
    }
}
