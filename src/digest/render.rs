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

use jiff::tz::TimeZone;
use minijinja::Environment;

use super::Digest;
use super::view::{Edition, SubjectView, View};

/// The embedded default templates, by name.
const EMBEDDED: &[(&str, &str)] = &[
    ("digest.html", include_str!("templates/digest.html")),
    ("digest.txt", include_str!("templates/digest.txt")),
    ("digest.md", include_str!("templates/digest.md")),
    ("subject.txt", include_str!("templates/subject.txt")),
];

/// Names of the templates a folder may override.
pub const TEMPLATE_NAMES: [&str; 4] = ["digest.html", "digest.txt", "digest.md", "subject.txt"];

/// The default title template: "daily — Saturday 28 November 2026".
pub const DEFAULT_TITLE: &str = "{{ digest }} — {{ date_long }}";

/// Width the plain-text rendering is wrapped to.
pub const TEXT_WIDTH: usize = 78;

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
        env.add_filter("plural", plural_filter);
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

    /// The name of the time zone times are rendered in.
    pub fn tz_name(&self) -> &str {
        &self.tz_name
    }

    /// Same as [`Renderer::with_timezone`] for an already resolved zone (e.g. the config's).
    pub fn with_time_zone(mut self, tz: TimeZone) -> Self {
        self.tz_name = tz.iana_name().unwrap_or("local").to_string();
        self.tz = tz;
        self
    }

    /// Renders the digest in one format, in full. JSON is `serde_json` pretty output (the
    /// contract); the others go through their template, and text is wrapped to [`TEXT_WIDTH`].
    /// The size-budgeted email edition is [`Renderer::render_email`].
    pub fn render(&self, digest: &Digest, format: Format) -> Result<String, RenderError> {
        self.render_view(digest, format, Edition::Full)
    }

    pub(crate) fn render_view(
        &self,
        digest: &Digest,
        format: Format,
        edition: Edition<'_>,
    ) -> Result<String, RenderError> {
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
        let view = View::build(digest, &self.tz, &self.tz_name, edition);
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
    /// `{{ digest }} — {{ date }} — {{ counts }}`, e.g. "daily — 28 Nov 2026 — 3 top stories,
    /// 8 other headlines"). `date` is the digest's `generated_at` in the renderer's time zone.
    /// Variables: `digest`, `date`, `date_long`, `date_iso`, `n` (all stories), `n_top` (followed
    /// and top stories), `n_other` (other headlines), `n_articles` (reports), `n_outlets`,
    /// `counts`, `top` (the lead headline); filter `plural` (`{{ n|plural("story", "stories") }}`).
    /// Whitespace (including newlines) collapses to single spaces.
    pub fn subject(&self, digest: &Digest, template: Option<&str>) -> Result<String, RenderError> {
        self.one_line(digest, template, "subject", "subject.txt")
    }

    /// Renders the digest's title (the heading of every edition): `template` if given, else
    /// [`DEFAULT_TITLE`] ("daily — Saturday 28 November 2026"). Same variables as
    /// [`Renderer::subject`].
    pub fn title(&self, digest: &Digest, template: Option<&str>) -> Result<String, RenderError> {
        self.one_line(digest, Some(template.unwrap_or(DEFAULT_TITLE)), "title", "")
    }

    /// Renders a configured one-line template (`link`), same variables as
    /// [`Renderer::subject`]; `what` names it in errors.
    pub fn one_line_template(
        &self,
        digest: &Digest,
        what: &str,
        template: &str,
    ) -> Result<String, RenderError> {
        self.one_line(digest, Some(template), what, "")
    }

    /// Compiles a one-line template (a configured `subject`, `title` or `link`) and renders it
    /// once against an empty digest, so a syntax error or an unknown filter is found before use.
    pub fn check_line_template(&self, what: &str, src: &str) -> Result<(), RenderError> {
        let empty = Digest {
            digest: "digest".into(),
            subject: String::new(),
            title: String::new(),
            generated_at: jiff::Timestamp::UNIX_EPOCH,
            window_start: jiff::Timestamp::UNIX_EPOCH,
            window_end: jiff::Timestamp::UNIX_EPOCH,
            stories: Vec::new(),
            trending: Vec::new(),
            trending_history: None,
            feed_health: Vec::new(),
            omitted: Default::default(),
        };
        self.one_line(&empty, Some(src), what, "").map(|_| ())
    }

    fn one_line(
        &self,
        digest: &Digest,
        template: Option<&str>,
        what: &str,
        file: &str,
    ) -> Result<String, RenderError> {
        let ctx = SubjectView::build(digest, &self.tz);
        let raw = match template {
            Some(src) => self.env.render_str(src, &ctx).map_err(|e| {
                let mut err = RenderError::template(what, &e);
                if let RenderError::Template { name, .. } = &mut err {
                    *name = format!("{what} (configured)");
                }
                err
            })?,
            None => self
                .env
                .get_template(file)
                .and_then(|t| t.render(&ctx))
                .map_err(|e| RenderError::template(file, &e))?,
        };
        let s = raw.split_whitespace().collect::<Vec<_>>().join(" ");
        Ok(if s.is_empty() {
            digest.digest.clone()
        } else {
            s
        })
    }
}

/// "1 story" / "2 stories" in templates: `{{ n|plural("story", "stories") }}`; without the
/// second word an "s" is added.
fn plural_filter(n: i64, one: String, many: Option<String>) -> String {
    let many = many.unwrap_or_else(|| format!("{one}s"));
    format!("{n} {}", if n == 1 { one } else { many })
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

/// The plain-text signature separator (RFC 3676 §4.3): dash, dash, space.
const SIGNATURE_SEPARATOR: &str = "-- ";

/// Whitespace a line may break at: everything but the non-breaking spaces.
fn is_breaking_space(c: char) -> bool {
    c.is_whitespace() && !matches!(c, '\u{a0}' | '\u{202f}' | '\u{2007}')
}

/// Wraps every line longer than `width` at (breaking) spaces. Continuation lines keep the line's
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
        if line == SIGNATURE_SEPARATOR {
            // "-- " with its space: mail clients recognise the signature by it.
            out.push_str(line);
            continue;
        }
        if line.chars().count() <= width {
            out.push_str(line.trim_end_matches(is_breaking_space));
            continue;
        }
        let indent = line.len() - line.trim_start_matches(' ').len();
        let rest = &line[indent..];
        let hang = indent + marker_width(rest);
        let mut cur_w = indent;
        out.push_str(&line[..indent]);
        let mut at_start = true;
        // Words are split at breaking spaces only: "17\u{a0}Sep\u{a0}14:05" stays whole.
        for w in rest.split(is_breaking_space).filter(|w| !w.is_empty()) {
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
    fn plural_filter_counts_right() {
        assert_eq!(
            plural_filter(1, "story".into(), Some("stories".into())),
            "1 story"
        );
        assert_eq!(
            plural_filter(0, "story".into(), Some("stories".into())),
            "0 stories"
        );
        assert_eq!(plural_filter(2, "feed".into(), None), "2 feeds");
    }

    #[test]
    fn unsafe_link_schemes_are_dropped() {
        use super::super::view::safe_url;
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
