//! The view handed to templates: a [`Digest`] prepared for reading, with times formatted in the
//! renderer's zone, counts phrased with the right plural, unsafe links removed, and — for the
//! email edition — the stories chosen for the size budget.
//!
//! Time rules: a report from the digest's own (local) day shows its time ("14:05"); an older
//! one shows its date too ("17 Sep 14:05", with the year when it differs), joined by
//! non-breaking spaces so a line never breaks inside a time.

use std::collections::HashSet;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::Serialize;

use super::{
    ArticleOut, Digest, EntityRef, FeedHealthOut, FeedStatus, Section, StoryOut, TrendOut,
};

/// How many of a story's entities are listed after its outlets.
const STORY_ENTITIES_SHOWN: usize = 4;

/// Lead headlines in the hidden preheader (the inbox preview line).
const PREHEADER_HEADLINES: usize = 3;

/// "1 story", "2 stories": the count with the right form of the noun.
pub fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Which edition a view is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Edition<'p> {
    /// Everything in full (files, `--stdout`).
    Full,
    /// The email edition under a size budget.
    Email(&'p EmailPlan),
}

/// What the email edition shows: the first `full` front-page stories in full, then the first
/// `brief` stories of [`EmailPlan::brief_order`] as one line each; the rest is left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EmailPlan {
    /// Indexes of the front-page stories (following, then top), in digest order.
    pub front: Vec<usize>,
    /// Indexes of the other stories, interleaved across outlets (each outlet's first story,
    /// then each outlet's second, ...), so a cut at any point is fair to every outlet.
    pub others: Vec<usize>,
    pub full: usize,
    pub brief: usize,
    /// At most this many report lines per story shown in full (the rest are counted).
    pub max_lines: Option<usize>,
    /// Where the full digest is (a URL or a file path), for the footer.
    pub full_digest: Option<String>,
    /// The budget, in bytes, for the footer's explanation.
    pub budget: usize,
    /// Whether the hidden inbox preheader is included (not in the Atom feed).
    pub preheader: bool,
}

impl EmailPlan {
    /// Story indexes shown as one line, in order of priority, for the current `full`.
    pub fn brief_order(&self) -> impl Iterator<Item = usize> + '_ {
        self.front
            .iter()
            .skip(self.full)
            .chain(self.others.iter())
            .copied()
    }

    /// How many stories could be shown as one line at most.
    pub fn brief_candidates(&self) -> usize {
        self.front.len().saturating_sub(self.full) + self.others.len()
    }
}

#[derive(Serialize)]
pub(crate) struct SubjectView<'a> {
    pub digest: &'a str,
    pub date: String,
    pub date_long: String,
    /// "2026-11-28", as in output file names.
    pub date_iso: String,
    /// All stories.
    pub n: usize,
    /// Front-page stories (followed and top).
    pub n_top: usize,
    /// Other headlines (single-outlet stories).
    pub n_other: usize,
    pub n_articles: usize,
    pub n_outlets: usize,
    /// "3 top stories, 8 other headlines" (zero parts left out; "nothing new" when empty).
    pub counts: String,
    /// The lead headline.
    pub top: &'a str,
}

impl<'a> SubjectView<'a> {
    pub fn build(d: &'a Digest, tz: &TimeZone) -> SubjectView<'a> {
        let local = d.generated_at.to_zoned(tz.clone());
        let c = Counts::of(d);
        SubjectView {
            digest: &d.digest,
            date: local.strftime("%-d %b %Y").to_string(),
            date_long: local.strftime("%A %-d %B %Y").to_string(),
            date_iso: local.strftime("%Y-%m-%d").to_string(),
            n: d.stories.len(),
            n_top: c.following + c.top,
            n_other: c.other,
            n_articles: c.reports,
            n_outlets: c.outlets,
            counts: c.short(),
            top: d
                .stories
                .iter()
                .find(|s| s.section != Section::Other)
                .or(d.stories.first())
                .map(|s| s.title.as_str())
                .unwrap_or(""),
        }
    }
}

/// The counts of a digest, each saying what it counts.
struct Counts {
    following: usize,
    top: usize,
    other: usize,
    reports: usize,
    outlets: usize,
    /// What the digest's caps left out, said after the counts.
    omitted: Option<String>,
}

impl Counts {
    fn of(d: &Digest) -> Counts {
        let n = |sec: Section| d.stories.iter().filter(|s| s.section == sec).count();
        Counts {
            following: n(Section::Following),
            top: n(Section::Top),
            other: n(Section::Other),
            reports: d.article_count(),
            outlets: d.outlet_count(),
            omitted: d.omitted.note(),
        }
    }

    fn story_parts(&self) -> Vec<String> {
        let mut parts = Vec::new();
        if self.following > 0 {
            parts.push(plural(self.following, "followed story", "followed stories"));
        }
        if self.top > 0 {
            parts.push(plural(self.top, "top story", "top stories"));
        }
        if self.other > 0 {
            parts.push(plural(self.other, "other headline", "other headlines"));
        }
        parts
    }

    /// "3 top stories, 8 other headlines".
    fn short(&self) -> String {
        let parts = self.story_parts();
        if parts.is_empty() {
            "nothing new".to_string()
        } else {
            parts.join(", ")
        }
    }

    /// "3 top stories · 8 other headlines · 25 reports from 6 outlets", then what the digest's
    /// caps left out ("· 12 more stories (30 reports) past max_stories not shown").
    fn long(&self) -> String {
        let mut parts = self.story_parts();
        if self.reports == 0 {
            return "nothing new".to_string();
        }
        parts.push(format!(
            "{} from {}",
            plural(self.reports, "report", "reports"),
            plural(self.outlets, "outlet", "outlets")
        ));
        parts.extend(self.omitted.clone());
        parts.join(" · ")
    }
}

#[derive(Serialize)]
pub(crate) struct View<'a> {
    pub digest: &'a str,
    pub subject: &'a str,
    /// The heading: the digest's `title`, else "<digest> — <date_long>".
    pub title: String,
    /// "full" or "email".
    pub edition: &'static str,
    pub generated_at: String,
    pub window_start: String,
    pub window_end: String,
    /// "Saturday 28 November 2026"
    pub date_long: String,
    /// "28 Nov 2026"
    pub date: String,
    /// "07:00"
    pub time: String,
    pub tz: &'a str,
    pub n_stories: usize,
    pub n_following: usize,
    /// Front-page stories: followed and top.
    pub n_top: usize,
    /// Other headlines: stories of one outlet.
    pub n_other: usize,
    pub n_articles: usize,
    pub n_outlets: usize,
    /// "3 top stories · 8 other headlines · 25 reports from 6 outlets".
    pub counts: String,
    /// "3 top stories, 8 other headlines".
    pub counts_short: String,
    pub trending: &'a [TrendOut],
    /// Said instead of trending names while the stored history is too short for anything to
    /// rise against: "Trending starts once a week of reports is stored (0 so far, 50 needed)."
    pub trending_note: Option<String>,
    /// All stories in digest order (each with `section`).
    pub stories: Vec<StoryView<'a>>,
    /// Followed stories shown in full.
    pub following: Vec<StoryView<'a>>,
    /// Top stories shown in full.
    pub top: Vec<StoryView<'a>>,
    /// Email edition: front-page stories that did not fit in full, one line each.
    pub more_top: Vec<LineView<'a>>,
    /// "Other" stories' lines grouped by feed, feeds sorted by name (the email edition: one
    /// line per story, only those that fit).
    pub other: Vec<FeedGroup<'a>>,
    /// Lines under "Other headlines" in this edition.
    pub n_other_lines: usize,
    /// Email edition: stories not shown at all.
    pub left_out: usize,
    /// "120 other headlines" / "1 story" — what `left_out` counts.
    pub left_out_text: String,
    /// Where the full digest is: a URL (`full_digest_url`) or a path on the server.
    pub full_digest_url: Option<String>,
    pub full_digest_path: Option<String>,
    /// The email budget in KB (email edition), for the footer.
    pub budget_kb: usize,
    pub feed_health: &'a [FeedHealthOut],
    pub failing: Vec<&'a FeedHealthOut>,
    /// "All 18 feeds fetched fine." / "2 of 18 feeds failing".
    pub feeds_text: String,
    /// The inbox preview: the lead headlines.
    pub preheader: String,
}

#[derive(Serialize, Clone)]
pub(crate) struct StoryView<'a> {
    pub id: &'a str,
    pub title: &'a str,
    pub url: Option<String>,
    pub summary: &'a str,
    pub section: &'static str,
    pub developing: Option<DevelopingView<'a>>,
    pub following: &'a [String],
    pub outlets: Vec<&'a str>,
    pub outlets_text: String,
    pub entities: &'a [EntityRef],
    pub entities_text: String,
    pub articles: Vec<ArticleView<'a>>,
    pub lines: Vec<LineView<'a>>,
    /// One outlet's further reports, folded: "and 18 more from Los Angeles Times".
    pub more_from: Vec<MoreFromView<'a>>,
    /// "4 reports" — what `lines` hold, for the caption that states their order.
    pub reports_text: String,
    /// Email edition: report lines not shown (the story's further reports), and their outlets.
    pub hidden_lines: usize,
    pub hidden_outlets_text: String,
}

#[derive(Serialize, Clone)]
pub(crate) struct MoreFromView<'a> {
    pub outlet: &'a str,
    pub count: usize,
    /// "and 18 more from Los Angeles Times"
    pub text: String,
}

#[derive(Serialize, Clone)]
pub(crate) struct DevelopingView<'a> {
    pub day: u32,
    pub first_headline: &'a str,
    pub since: String,
    pub since_date: String,
}

#[derive(Serialize, Clone)]
pub(crate) struct ArticleView<'a> {
    pub title: &'a str,
    pub url: Option<String>,
    pub feed: &'a str,
    pub published: String,
    pub time: String,
    pub author: Option<&'a str>,
    pub excerpt: &'a str,
}

#[derive(Serialize, Clone)]
pub(crate) struct LineView<'a> {
    pub title: String,
    pub url: Option<String>,
    pub outlets: Vec<String>,
    pub outlets_text: String,
    /// Earliest publication among the line's articles: "14:05" on the digest's day, else
    /// "17 Sep 14:05" (non-breaking spaces).
    pub time: String,
    pub published: String,
    pub feed: &'a str,
    pub author: Option<&'a str>,
    /// Articles of this line whose headline differs from the line's.
    pub also: Vec<AlsoView<'a>>,
    /// One-line form of a whole story (email edition): its further reports.
    pub more: usize,
}

#[derive(Serialize, Clone)]
pub(crate) struct AlsoView<'a> {
    pub title: &'a str,
    pub outlet: &'a str,
    pub url: Option<String>,
}

#[derive(Serialize)]
pub(crate) struct FeedGroup<'a> {
    pub feed: String,
    pub lines: Vec<LineView<'a>>,
}

/// Formats report times relative to the digest's local day.
struct Clock<'a> {
    tz: &'a TimeZone,
    today: jiff::civil::Date,
}

impl Clock<'_> {
    fn time(&self, ts: Timestamp) -> String {
        let z = ts.to_zoned(self.tz.clone());
        let fmt = if z.date() == self.today {
            "%H:%M"
        } else if z.year() == self.today.year() {
            "%-d\u{a0}%b\u{a0}%H:%M"
        } else {
            "%-d\u{a0}%b\u{a0}%Y\u{a0}%H:%M"
        };
        z.strftime(fmt).to_string()
    }
}

/// Keeps only http(s) links (case-insensitive scheme); anything else (javascript:, data:) is
/// dropped so templates never emit it.
pub(crate) fn safe_url(url: Option<&str>) -> Option<String> {
    let u = url?.trim();
    let lower = u.get(..8).unwrap_or(u).to_ascii_lowercase();
    if (lower.starts_with("https://") || lower.starts_with("http://"))
        && !u.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        Some(u.to_string())
    } else {
        None
    }
}

fn fold_title(s: &str) -> String {
    s.split_whitespace()
        .map(|w| {
            w.trim_matches(|c: char| !c.is_alphanumeric())
                .to_lowercase()
        })
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn line_view<'a>(
    story: &'a StoryOut,
    line: super::LineOut,
    clock: &Clock<'_>,
) -> Option<LineView<'a>> {
    let arts: Vec<&'a ArticleOut> = line
        .articles
        .iter()
        .filter_map(|&i| story.articles.get(i))
        .collect();
    let first = *arts.iter().min_by_key(|a| a.published)?;
    let title = if line.title.trim().is_empty() {
        first.title.clone()
    } else {
        line.title
    };
    let mut outlets = line.outlets;
    for a in &arts {
        if !outlets.iter().any(|o| o == &a.feed) {
            outlets.push(a.feed.clone());
        }
    }
    let key = fold_title(&title);
    let mut also: Vec<AlsoView<'a>> = Vec::new();
    for a in &arts {
        if fold_title(&a.title) != key && !also.iter().any(|x| x.title == a.title) {
            also.push(AlsoView {
                title: &a.title,
                outlet: &a.feed,
                url: safe_url(a.url.as_deref()),
            });
        }
    }
    let url = safe_url(line.url.as_deref())
        .or_else(|| arts.iter().find_map(|a| safe_url(a.url.as_deref())));
    Some(LineView {
        outlets_text: outlets.join(", "),
        title,
        url,
        outlets,
        time: clock.time(first.published),
        published: first.published.to_string(),
        feed: &first.feed,
        author: first.author.as_deref(),
        also,
        more: 0,
    })
}

fn story_view<'a>(story: &'a StoryOut, clock: &Clock<'_>) -> StoryView<'a> {
    let folded: HashSet<usize> = story
        .more_from
        .iter()
        .flat_map(|m| m.lines.iter().copied())
        .collect();
    let lines: Vec<LineView<'a>> = story
        .effective_lines()
        .into_iter()
        .enumerate()
        .filter(|(i, _)| !folded.contains(i))
        .filter_map(|(_, l)| line_view(story, l, clock))
        .collect();
    let more_from = story
        .more_from
        .iter()
        .map(|m| MoreFromView {
            outlet: &m.outlet,
            count: m.count,
            text: format!("and {} more from {}", m.count, m.outlet),
        })
        .collect();
    let mut outlets: Vec<&'a str> = story.outlets.iter().map(String::as_str).collect();
    for a in &story.articles {
        if !outlets.contains(&a.feed.as_str()) {
            outlets.push(&a.feed);
        }
    }
    let entities_text = story
        .entities
        .iter()
        .take(STORY_ENTITIES_SHOWN)
        .map(|e| e.name.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    StoryView {
        id: &story.id,
        title: &story.title,
        url: lines.first().and_then(|l| l.url.clone()),
        summary: &story.summary,
        section: story.section.as_str(),
        developing: story.developing.as_ref().map(|d| DevelopingView {
            day: d.day,
            first_headline: &d.first_headline,
            since: d.since.to_string(),
            since_date: d
                .since
                .to_zoned(clock.tz.clone())
                .strftime("%-d\u{a0}%b")
                .to_string(),
        }),
        following: &story.following,
        outlets_text: outlets.join(", "),
        outlets,
        entities: &story.entities,
        entities_text,
        articles: story
            .articles
            .iter()
            .map(|a| ArticleView {
                title: &a.title,
                url: safe_url(a.url.as_deref()),
                feed: &a.feed,
                published: a.published.to_string(),
                time: clock.time(a.published),
                author: a.author.as_deref(),
                excerpt: &a.excerpt,
            })
            .collect(),
        reports_text: plural(story.articles.len(), "report", "reports"),
        lines,
        more_from,
        hidden_lines: 0,
        hidden_outlets_text: String::new(),
    }
}

/// A whole story as one line: its first line, with the story's headline and all its outlets.
fn brief_line<'a>(s: &StoryView<'a>) -> Option<LineView<'a>> {
    let first = s.lines.first()?;
    Some(LineView {
        title: s.title.to_string(),
        url: s.url.clone().or_else(|| first.url.clone()),
        outlets: s.outlets.iter().map(|o| o.to_string()).collect(),
        outlets_text: s.outlets_text.clone(),
        time: first.time.clone(),
        published: first.published.clone(),
        feed: first.feed,
        author: first.author,
        also: Vec::new(),
        more: s.articles.len().saturating_sub(1),
    })
}

/// A story with at most `max` report lines; the lines dropped are counted with their outlets.
fn capped(mut s: StoryView<'_>, max: Option<usize>) -> StoryView<'_> {
    let Some(max) = max else { return s };
    if s.lines.len() <= max {
        return s;
    }
    let hidden = s.lines.split_off(max);
    let mut outlets: Vec<&str> = Vec::new();
    for o in hidden.iter().flat_map(|l| l.outlets.iter()) {
        if !outlets.contains(&o.as_str()) {
            outlets.push(o);
        }
    }
    s.hidden_outlets_text = outlets.join(", ");
    s.hidden_lines = hidden.len();
    s
}

/// Groups lines by their feed, feeds sorted by (case-folded) name, lines in the order given.
fn group_by_feed<'a>(lines: impl Iterator<Item = LineView<'a>>) -> Vec<FeedGroup<'a>> {
    let mut groups: Vec<FeedGroup<'a>> = Vec::new();
    for line in lines {
        match groups.iter_mut().find(|g| g.feed == line.feed) {
            Some(g) => g.lines.push(line),
            None => groups.push(FeedGroup {
                feed: line.feed.to_string(),
                lines: vec![line],
            }),
        }
    }
    groups.sort_by_key(|g| g.feed.to_lowercase());
    groups
}

/// The sections of a view: stories in full, one-line stories, other headlines, left out.
struct Sections<'a> {
    following: Vec<StoryView<'a>>,
    top: Vec<StoryView<'a>>,
    more_top: Vec<LineView<'a>>,
    other: Vec<FeedGroup<'a>>,
    left_out: usize,
    left_out_text: String,
}

impl<'a> Sections<'a> {
    fn full(stories: &[StoryView<'a>]) -> Sections<'a> {
        let pick = |sec: Section| -> Vec<StoryView<'a>> {
            stories
                .iter()
                .filter(|s| s.section == sec.as_str())
                .cloned()
                .collect()
        };
        let other = group_by_feed(
            stories
                .iter()
                .filter(|s| s.section == Section::Other.as_str())
                .flat_map(|s| s.lines.iter().cloned()),
        );
        Sections {
            following: pick(Section::Following),
            top: pick(Section::Top),
            more_top: Vec::new(),
            other,
            left_out: 0,
            left_out_text: String::new(),
        }
    }

    fn email(stories: &[StoryView<'a>], plan: &EmailPlan) -> Sections<'a> {
        let mut following = Vec::new();
        let mut top = Vec::new();
        for s in plan
            .front
            .iter()
            .take(plan.full)
            .filter_map(|&i| stories.get(i))
        {
            let s = capped(s.clone(), plan.max_lines);
            if s.section == Section::Following.as_str() {
                following.push(s);
            } else {
                top.push(s);
            }
        }
        let mut more_top = Vec::new();
        let mut other_lines = Vec::new();
        for s in plan
            .brief_order()
            .take(plan.brief)
            .filter_map(|i| stories.get(i))
        {
            let Some(line) = brief_line(s) else { continue };
            if s.section == Section::Other.as_str() {
                other_lines.push(line);
            } else {
                more_top.push(line);
            }
        }
        let shown = plan.full.min(plan.front.len()) + plan.brief.min(plan.brief_candidates());
        let left_out = stories.len().saturating_sub(shown);
        let left_front = plan.brief_order().skip(plan.brief).filter(|&i| {
            stories
                .get(i)
                .is_some_and(|s| s.section != Section::Other.as_str())
        });
        let left_top = left_front.count();
        let left_out_text = match (left_top, left_out - left_top.min(left_out)) {
            (0, o) => plural(o, "other headline", "other headlines"),
            (t, 0) => plural(t, "top story", "top stories"),
            (t, o) => format!(
                "{} and {}",
                plural(t, "top story", "top stories"),
                plural(o, "other headline", "other headlines")
            ),
        };
        Sections {
            following,
            top,
            more_top,
            other: group_by_feed(other_lines.into_iter()),
            left_out,
            left_out_text,
        }
    }
}

fn feeds_text(health: &[FeedHealthOut], failing: usize) -> String {
    match (health.len(), failing) {
        (0, _) => String::new(),
        (1, 0) => "The feed was fetched fine.".to_string(),
        (n, 0) => format!("All {n} feeds fetched fine."),
        (n, k) => format!("{k} of {} failing", plural(n, "feed", "feeds")),
    }
}

impl<'a> View<'a> {
    pub fn build(d: &'a Digest, tz: &TimeZone, tz_name: &'a str, edition: Edition<'_>) -> View<'a> {
        let local = d.generated_at.to_zoned(tz.clone());
        let clock = Clock {
            tz,
            today: local.date(),
        };
        let stories: Vec<StoryView<'a>> = d.stories.iter().map(|s| story_view(s, &clock)).collect();
        let sections = match edition {
            Edition::Full => Sections::full(&stories),
            Edition::Email(plan) => Sections::email(&stories, plan),
        };
        let failing: Vec<&FeedHealthOut> = d
            .feed_health
            .iter()
            .filter(|f| f.status == FeedStatus::Error)
            .collect();
        let in_section = |sec: Section| stories.iter().filter(move |s| s.section == sec.as_str());
        let preheader = in_section(Section::Following)
            .chain(in_section(Section::Top))
            .chain(in_section(Section::Other))
            .take(PREHEADER_HEADLINES)
            .map(|s| s.title)
            .collect::<Vec<_>>()
            .join(" · ");
        let preheader = match edition {
            Edition::Email(p) if !p.preheader => String::new(),
            _ => preheader,
        };
        let counts = Counts::of(d);
        let date_long = local.strftime("%A %-d %B %Y").to_string();
        let (full_digest, budget) = match edition {
            Edition::Email(p) => (p.full_digest.as_deref(), p.budget),
            Edition::Full => (None, 0),
        };
        let full_digest_url = safe_url(full_digest);
        View {
            digest: &d.digest,
            subject: &d.subject,
            title: if d.title.trim().is_empty() {
                format!("{} — {date_long}", d.digest)
            } else {
                d.title.clone()
            },
            edition: match edition {
                Edition::Full => "full",
                Edition::Email(_) => "email",
            },
            generated_at: d.generated_at.to_string(),
            window_start: d.window_start.to_string(),
            window_end: d.window_end.to_string(),
            date_long,
            date: local.strftime("%-d %b %Y").to_string(),
            time: local.strftime("%H:%M").to_string(),
            tz: tz_name,
            n_stories: d.stories.len(),
            n_following: counts.following,
            n_top: counts.following + counts.top,
            n_other: counts.other,
            n_articles: counts.reports,
            n_outlets: counts.outlets,
            counts: counts.long(),
            counts_short: counts.short(),
            trending: &d.trending,
            trending_note: trending_note(d),
            n_other_lines: sections.other.iter().map(|g| g.lines.len()).sum(),
            following: sections.following,
            top: sections.top,
            more_top: sections.more_top,
            other: sections.other,
            left_out: sections.left_out,
            left_out_text: sections.left_out_text,
            full_digest_path: full_digest
                .filter(|_| full_digest_url.is_none())
                .map(str::to_string),
            full_digest_url,
            budget_kb: budget / 1000,
            stories,
            feeds_text: feeds_text(&d.feed_health, failing.len()),
            feed_health: &d.feed_health,
            failing,
            preheader,
        }
    }
}

/// The note shown instead of trending names when the digest was measured against too short a
/// history ([`Digest::trending_history`]; nothing for digests stored before it was recorded).
fn trending_note(d: &Digest) -> Option<String> {
    let have = d.trending_history?;
    let need = crate::stories::RISING_MIN_BACKGROUND;
    (d.trending.is_empty() && have < need).then(|| {
        format!("Trending starts once a week of reports is stored ({have} so far, {need} needed).")
    })
}
