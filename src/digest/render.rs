//! Rendering a [`Digest`] to HTML, plain text, Markdown, JSON, and its email subject line.
//!
//! Templates are minijinja templates embedded in the binary (`templates/` next to this file)
//! and overridable: a file with the same name (`digest.html`, `digest.txt`, `digest.md`,
//! `subject.txt`) in the configured template folder wins. Templates receive a prepared view of
//! the digest (see [`Renderer::render`] and the README's "Templates" section for the variables), with
//! times already formatted in the renderer's time zone and unsafe link schemes removed.
//! HTML is auto-escaped (minijinja's default for `.html`); the plain-text output is wrapped
//! to 78 columns afterwards, leaving URLs whole on their own lines.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use minijinja::Environment;
use serde::Serialize;

use super::{
    ArticleOut, Digest, EntityRef, FeedHealthOut, FeedStatus, Section, StoryOut, TrendOut,
};

/// The embedded default templates, by name.
const EMBEDDED: &[(&str, &str)] = &[
    ("digest.html", include_str!("templates/digest.html")),
    ("digest.txt", include_str!("templates/digest.txt")),
    ("digest.md", include_str!("templates/digest.md")),
    ("subject.txt", include_str!("templates/subject.txt")),
];

/// Names of the templates a folder may override.
pub const TEMPLATE_NAMES: [&str; 4] = ["digest.html", "digest.txt", "digest.md", "subject.txt"];

/// Width the plain-text rendering is wrapped to.
pub const TEXT_WIDTH: usize = 78;

/// How many of a story's entities are listed after its outlets.
const STORY_ENTITIES_SHOWN: usize = 4;

/// An output format of the digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    Json,
    Html,
    Md,
    Txt,
}

impl Format {
    /// All formats, in the order files are usually written.
    pub const ALL: [Format; 4] = [Format::Html, Format::Txt, Format::Md, Format::Json];

    /// The file extension (without dot), also the config name.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Html => "html",
            Format::Md => "md",
            Format::Txt => "txt",
        }
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.extension())
    }
}

impl FromStr for Format {
    type Err = RenderError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "json" => Ok(Format::Json),
            "html" | "htm" => Ok(Format::Html),
            "md" | "markdown" => Ok(Format::Md),
            "txt" | "text" => Ok(Format::Txt),
            _ => Err(RenderError::UnknownFormat(s.to_string())),
        }
    }
}

/// Errors while loading templates or rendering.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("unknown output format {0:?} (expected json, html, md or txt)")]
    UnknownFormat(String),
    #[error("template folder {path}: {source}")]
    TemplateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A template failed to parse or render; the message names the template and line.
    #[error("template {name}{}: {message}", line.map(|l| format!(" line {l}")).unwrap_or_default())]
    Template {
        name: String,
        line: Option<usize>,
        message: String,
    },
    #[error("unknown time zone {name:?}: {message}")]
    TimeZone { name: String, message: String },
    #[error("serialising the digest to JSON: {0}")]
    Json(#[from] serde_json::Error),
}

impl RenderError {
    fn template(name: &str, e: &minijinja::Error) -> Self {
        // The detail chain (e.g. "undefined value") is in the source chain; fold it in.
        let mut message = e.to_string();
        let mut src = std::error::Error::source(e);
        while let Some(s) = src {
            message.push_str(": ");
            message.push_str(&s.to_string());
            src = s.source();
        }
        RenderError::Template {
            name: e.name().unwrap_or(name).to_string(),
            line: e.line(),
            message,
        }
    }
}

/// Renders digests with embedded or overridden templates.
pub struct Renderer {
    env: Environment<'static>,
    tz: TimeZone,
    tz_name: String,
}

impl std::fmt::Debug for Renderer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Renderer")
            .field("tz", &self.tz_name)
            .finish_non_exhaustive()
    }
}

impl Renderer {
    /// Builds a renderer. With `template_dir`, a template file of the same name in that folder
    /// replaces the embedded one. All four templates are compiled here, so a broken override
    /// fails at start-up with its name and line. Times render in UTC until
    /// [`Renderer::with_timezone`] is called.
    pub fn new(template_dir: Option<&Path>) -> Result<Self, RenderError> {
        let dir = match template_dir {
            Some(d) => {
                let meta = std::fs::metadata(d).map_err(|source| RenderError::TemplateDir {
                    path: d.to_path_buf(),
                    source,
                })?;
                if !meta.is_dir() {
                    return Err(RenderError::TemplateDir {
                        path: d.to_path_buf(),
                        source: std::io::Error::new(
                            std::io::ErrorKind::NotADirectory,
                            "not a directory",
                        ),
                    });
                }
                Some(d.to_path_buf())
            }
            None => None,
        };
        let mut env = Environment::new();
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.set_keep_trailing_newline(true);
        env.set_loader(move |name| load_template(dir.as_deref(), name));
        env.set_formatter(html_formatter);
        env.add_filter("md", md_escape);
        env.add_filter("mdurl", md_url);
        for name in TEMPLATE_NAMES {
            env.get_template(name)
                .map_err(|e| RenderError::template(name, &e))?;
        }
        Ok(Renderer {
            env,
            tz: TimeZone::UTC,
            tz_name: "UTC".to_string(),
        })
    }

    /// Sets the time zone used for dates and times in rendered digests and subjects, by name
    /// (as the config's `timezone`: "UTC", "local" or an IANA name).
    pub fn with_timezone(self, tz: &str) -> Result<Self, RenderError> {
        let zone =
            crate::schedule::parse_time_zone(tz).map_err(|message| RenderError::TimeZone {
                name: tz.to_string(),
                message,
            })?;
        let mut r = self.with_time_zone(zone);
        r.tz_name = tz.to_string();
        Ok(r)
    }

    /// Same as [`Renderer::with_timezone`] for an already resolved zone (e.g. the config's).
    pub fn with_time_zone(mut self, tz: TimeZone) -> Self {
        self.tz_name = tz.iana_name().unwrap_or("local").to_string();
        self.tz = tz;
        self
    }

    /// Renders the digest in one format. JSON is `serde_json` pretty output (the contract);
    /// the others go through their template, and text is wrapped to [`TEXT_WIDTH`].
    pub fn render(&self, digest: &Digest, format: Format) -> Result<String, RenderError> {
        let name = match format {
            Format::Json => {
                let mut s = serde_json::to_string_pretty(digest)?;
                s.push('\n');
                return Ok(s);
            }
            Format::Html => "digest.html",
            Format::Md => "digest.md",
            Format::Txt => "digest.txt",
        };
        let view = View::build(digest, &self.tz, &self.tz_name);
        let tmpl = self
            .env
            .get_template(name)
            .map_err(|e| RenderError::template(name, &e))?;
        let out = tmpl
            .render(&view)
            .map_err(|e| RenderError::template(name, &e))?;
        Ok(match format {
            Format::Txt => squeeze_blank_lines(&wrap_text(&out, TEXT_WIDTH), 2),
            _ => out,
        })
    }

    /// Renders the subject line: `template` if given, else `subject.txt` (default
    /// `{{ digest }} — {{ date }} — {{ n }} stories`, e.g. "daily — 28 Nov 2026 — 14 stories").
    /// `date` is the digest's `generated_at` in the renderer's time zone. Variables: `digest`, `date`,
    /// `date_long`, `n` (stories), `n_articles`, `n_outlets`, `top` (first top headline).
    /// Whitespace (including newlines) collapses to single spaces.
    pub fn subject(&self, digest: &Digest, template: Option<&str>) -> Result<String, RenderError> {
        let local = digest.generated_at.to_zoned(self.tz.clone());
        let ctx = SubjectView {
            digest: &digest.digest,
            date: local.strftime("%-d %b %Y").to_string(),
            date_long: local.strftime("%A %-d %B %Y").to_string(),
            n: digest.stories.len(),
            n_articles: digest.article_count(),
            n_outlets: digest.outlet_count(),
            top: digest
                .stories
                .iter()
                .find(|s| s.section != Section::Other)
                .or(digest.stories.first())
                .map(|s| s.title.as_str())
                .unwrap_or(""),
        };
        let raw = match template {
            Some(src) => self
                .env
                .render_str(src, &ctx)
                .map_err(|e| RenderError::template("subject (configured)", &e))?,
            None => self
                .env
                .get_template("subject.txt")
                .and_then(|t| t.render(&ctx))
                .map_err(|e| RenderError::template("subject.txt", &e))?,
        };
        let s = raw.split_whitespace().collect::<Vec<_>>().join(" ");
        Ok(if s.is_empty() {
            digest.digest.clone()
        } else {
            s
        })
    }
}

fn load_template(dir: Option<&Path>, name: &str) -> Result<Option<String>, minijinja::Error> {
    if let Some(dir) = dir {
        // Only plain relative names inside the folder.
        let safe = !name.is_empty()
            && Path::new(name)
                .components()
                .all(|c| matches!(c, std::path::Component::Normal(_)));
        if safe {
            let path = dir.join(name);
            match std::fs::read_to_string(&path) {
                Ok(s) => return Ok(Some(s)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(minijinja::Error::new(
                        minijinja::ErrorKind::InvalidOperation,
                        format!("reading template {}: {e}", path.display()),
                    ));
                }
            }
        }
    }
    Ok(EMBEDDED
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, s)| (*s).to_string()))
}

/// minijinja's formatter, except that HTML escaping leaves `/` alone (minijinja writes
/// `&#x2f;`, which is valid but makes every URL in the mail source unreadable).
fn html_formatter(
    out: &mut minijinja::Output,
    state: &minijinja::State,
    value: &minijinja::Value,
) -> Result<(), minijinja::Error> {
    if state.auto_escape() == minijinja::AutoEscape::Html
        && !value.is_safe()
        && let Some(s) = value.as_str()
    {
        let mut esc = String::with_capacity(s.len() + 16);
        for c in s.chars() {
            match c {
                '&' => esc.push_str("&amp;"),
                '<' => esc.push_str("&lt;"),
                '>' => esc.push_str("&gt;"),
                '"' => esc.push_str("&quot;"),
                '\'' => esc.push_str("&#39;"),
                c => esc.push(c),
            }
        }
        return out.write_str(&esc).map_err(|_| {
            minijinja::Error::new(minijinja::ErrorKind::WriteFailure, "write failed")
        });
    }
    minijinja::escape_formatter(out, state, value)
}

/// Escapes Markdown punctuation so feed text cannot inject links, emphasis or HTML.
fn md_escape(s: String) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '#' | '|' | '~' | '!' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Makes a URL safe inside a Markdown `[text](<url>)` destination.
fn md_url(s: String) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("%3C"),
            '>' => out.push_str("%3E"),
            ' ' => out.push_str("%20"),
            '\n' | '\r' => {}
            c => out.push(c),
        }
    }
    out
}

/// Keeps only http(s) links (case-insensitive scheme); anything else (javascript:, data:) is
/// dropped so templates never emit it.
fn safe_url(url: Option<&str>) -> Option<String> {
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

/// Wraps every line longer than `width` at spaces. Continuation lines keep the line's
/// indentation plus the width of a list marker ("- ", "* ", "12. "). Words longer than the
/// width (URLs) are never split.
pub fn wrap_text(s: &str, width: usize) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 16);
    let mut first = true;
    for line in s.split('\n') {
        if !first {
            out.push('\n');
        }
        first = false;
        let line = line.trim_end_matches('\r');
        if line.chars().count() <= width {
            out.push_str(line.trim_end());
            continue;
        }
        let indent = line.len() - line.trim_start_matches(' ').len();
        let rest = &line[indent..];
        let hang = indent + marker_width(rest);
        let mut cur_w = indent;
        out.push_str(&line[..indent]);
        let mut at_start = true;
        for w in rest.split_whitespace() {
            let ww = w.chars().count();
            if !at_start && cur_w + 1 + ww > width {
                out.push('\n');
                out.extend(std::iter::repeat_n(' ', hang));
                cur_w = hang;
                at_start = true;
            }
            if !at_start {
                out.push(' ');
                cur_w += 1;
            }
            out.push_str(w);
            cur_w += ww;
            at_start = false;
        }
    }
    out
}

/// Collapses runs of more than `max` blank lines (templates with conditional blocks leave
/// some) and ends the text with exactly one newline.
pub fn squeeze_blank_lines(s: &str, max: usize) -> String {
    let mut out = String::with_capacity(s.len());
    let mut blanks = 0;
    for line in s.trim_start_matches('\n').lines() {
        if line.trim().is_empty() {
            blanks += 1;
            if blanks > max {
                continue;
            }
            out.push('\n');
        } else {
            blanks = 0;
            out.push_str(line);
            out.push('\n');
        }
    }
    let trimmed = out.trim_end_matches('\n').len();
    out.truncate(trimmed);
    out.push('\n');
    out
}

fn marker_width(s: &str) -> usize {
    if s.starts_with("- ") || s.starts_with("* ") || s.starts_with("• ") {
        return 2;
    }
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    if digits > 0 && digits < 4 && s[digits..].starts_with(". ") {
        return digits + 2;
    }
    0
}

// ---------------------------------------------------------------------------------------------
// The view handed to templates.

#[derive(Serialize)]
struct SubjectView<'a> {
    digest: &'a str,
    date: String,
    date_long: String,
    n: usize,
    n_articles: usize,
    n_outlets: usize,
    top: &'a str,
}

#[derive(Serialize)]
struct View<'a> {
    digest: &'a str,
    subject: &'a str,
    generated_at: String,
    window_start: String,
    window_end: String,
    /// "Saturday 28 November 2026"
    date_long: String,
    /// "28 Nov 2026"
    date: String,
    /// "07:00"
    time: String,
    tz: &'a str,
    n_stories: usize,
    n_articles: usize,
    n_outlets: usize,
    trending: &'a [TrendOut],
    /// All stories in digest order (each with `section`).
    stories: Vec<StoryView<'a>>,
    following: Vec<StoryView<'a>>,
    top: Vec<StoryView<'a>>,
    /// "Other" stories' lines grouped by feed, feeds sorted by name.
    other: Vec<FeedGroup<'a>>,
    n_other: usize,
    feed_health: &'a [FeedHealthOut],
    failing: Vec<&'a FeedHealthOut>,
    /// A one-line preview for mail clients.
    preheader: String,
}

#[derive(Serialize, Clone)]
struct StoryView<'a> {
    id: &'a str,
    title: &'a str,
    url: Option<String>,
    summary: &'a str,
    section: &'static str,
    developing: Option<DevelopingView<'a>>,
    following: &'a [String],
    outlets: Vec<&'a str>,
    outlets_text: String,
    entities: &'a [EntityRef],
    entities_text: String,
    articles: Vec<ArticleView<'a>>,
    lines: Vec<LineView<'a>>,
}

#[derive(Serialize, Clone)]
struct DevelopingView<'a> {
    day: u32,
    first_headline: &'a str,
    since: String,
    since_date: String,
}

#[derive(Serialize, Clone)]
struct ArticleView<'a> {
    title: &'a str,
    url: Option<String>,
    feed: &'a str,
    published: String,
    time: String,
    author: Option<&'a str>,
    excerpt: &'a str,
}

#[derive(Serialize, Clone)]
struct LineView<'a> {
    title: String,
    url: Option<String>,
    outlets: Vec<String>,
    outlets_text: String,
    /// Earliest publication among the line's articles, local "14:05" (or "Fri 14:05").
    time: String,
    published: String,
    feed: &'a str,
    author: Option<&'a str>,
    /// Articles of this line whose headline differs from the line's.
    also: Vec<AlsoView<'a>>,
}

#[derive(Serialize, Clone)]
struct AlsoView<'a> {
    title: &'a str,
    outlet: &'a str,
    url: Option<String>,
}

#[derive(Serialize)]
struct FeedGroup<'a> {
    feed: String,
    lines: Vec<LineView<'a>>,
}

struct Clock<'a> {
    tz: &'a TimeZone,
    today: jiff::civil::Date,
}

impl Clock<'_> {
    fn time(&self, ts: Timestamp) -> String {
        let z = ts.to_zoned(self.tz.clone());
        if z.date() == self.today {
            z.strftime("%H:%M").to_string()
        } else {
            z.strftime("%a %H:%M").to_string()
        }
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

fn line_views<'a>(story: &'a StoryOut, clock: &Clock<'_>) -> Vec<LineView<'a>> {
    story
        .effective_lines()
        .into_iter()
        .filter_map(|line| {
            let arts: Vec<&'a ArticleOut> = line
                .articles
                .iter()
                .filter_map(|&i| story.articles.get(i))
                .collect();
            let first = *arts.iter().min_by_key(|a| a.published)?;
            let title = if line.title.trim().is_empty() {
                first.title.clone()
            } else {
                line.title.clone()
            };
            let mut outlets = line.outlets.clone();
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
            })
        })
        .collect()
}

fn story_view<'a>(story: &'a StoryOut, clock: &Clock<'_>) -> StoryView<'a> {
    let lines = line_views(story, clock);
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
                .strftime("%-d %b")
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
        lines,
    }
}

impl<'a> View<'a> {
    fn build(d: &'a Digest, tz: &TimeZone, tz_name: &'a str) -> View<'a> {
        let local = d.generated_at.to_zoned(tz.clone());
        let clock = Clock {
            tz,
            today: local.date(),
        };
        let stories: Vec<StoryView<'a>> = d.stories.iter().map(|s| story_view(s, &clock)).collect();
        let following: Vec<StoryView<'a>> = stories
            .iter()
            .filter(|s| s.section == Section::Following.as_str())
            .cloned()
            .collect();
        let top: Vec<StoryView<'a>> = stories
            .iter()
            .filter(|s| s.section == Section::Top.as_str())
            .cloned()
            .collect();
        let mut other: Vec<FeedGroup<'a>> = Vec::new();
        let mut n_other = 0;
        for s in stories
            .iter()
            .filter(|s| s.section == Section::Other.as_str())
        {
            for line in &s.lines {
                n_other += 1;
                match other.iter_mut().find(|g| g.feed == line.feed) {
                    Some(g) => g.lines.push(line.clone()),
                    None => other.push(FeedGroup {
                        feed: line.feed.to_string(),
                        lines: vec![line.clone()],
                    }),
                }
            }
        }
        other.sort_by_key(|g| g.feed.to_lowercase());
        let failing: Vec<&FeedHealthOut> = d
            .feed_health
            .iter()
            .filter(|f| f.status == FeedStatus::Error)
            .collect();
        let preheader = following
            .iter()
            .chain(top.iter())
            .take(3)
            .map(|s| s.title)
            .collect::<Vec<_>>()
            .join(" · ");
        View {
            digest: &d.digest,
            subject: &d.subject,
            generated_at: d.generated_at.to_string(),
            window_start: d.window_start.to_string(),
            window_end: d.window_end.to_string(),
            date_long: local.strftime("%A %-d %B %Y").to_string(),
            date: local.strftime("%-d %b %Y").to_string(),
            time: local.strftime("%H:%M").to_string(),
            tz: tz_name,
            n_stories: d.stories.len(),
            n_articles: d.article_count(),
            n_outlets: d.outlet_count(),
            trending: &d.trending,
            stories,
            following,
            top,
            other,
            n_other,
            feed_health: &d.feed_health,
            failing,
            preheader,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_keeps_urls_whole_and_hangs_list_items() {
        let url = format!("https://example.com/{}", "a".repeat(90));
        let text = format!("   - {} (BBC)\n     {url}\n", "word ".repeat(30).trim_end());
        let out = wrap_text(&text, 78);
        for l in out.lines() {
            assert!(
                l.chars().count() <= 78 || l.trim() == url,
                "too long: {l:?}"
            );
        }
        assert!(out.lines().any(|l| l.trim() == url));
        let second = out.lines().nth(1).unwrap_or_default();
        assert!(
            second.starts_with("     word"),
            "hanging indent: {second:?}"
        );
        assert!(out.ends_with('\n'));
    }

    #[test]
    fn renderer_can_be_shared_between_tasks() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Renderer>();
    }

    #[test]
    fn blank_line_runs_are_squeezed() {
        assert_eq!(squeeze_blank_lines("\na\n\n\n\n\nb\n\n", 2), "a\n\n\nb\n");
    }

    #[test]
    fn format_parses_and_names_extension() {
        for f in Format::ALL {
            assert_eq!(f.extension().parse::<Format>().ok(), Some(f));
        }
        assert!("pdf".parse::<Format>().is_err());
    }

    #[test]
    fn unsafe_link_schemes_are_dropped() {
        assert_eq!(safe_url(Some("javascript:alert(1)")), None);
        assert_eq!(safe_url(Some("data:text/html,x")), None);
        assert_eq!(
            safe_url(Some("HTTPS://example.com/a")).as_deref(),
            Some("HTTPS://example.com/a")
        );
    }

    #[test]
    fn markdown_escape_neutralises_links() {
        assert_eq!(md_escape("[x](y) *b*".into()), "\\[x\\](y) \\*b\\*");
    }
}
