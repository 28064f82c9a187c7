//! Parsing feed bodies (RSS 0.9x/1.0/2.0, Atom, JSON Feed) into raw entries.
//!
//! This module owns the step from bytes to [`ParsedFeed`]: it sniffs out HTML pages served as feeds,
//! runs `feed-rs` (guarded by `catch_unwind`, so odd input never takes the daemon down), keeps only ids
//! that are really present in the source (feed-rs would invent one), and maps entries to [`RawEntry`]
//! with HTML-ish title/summary/content, timestamps and author. Cleaning and sanitising is done later by
//! [`crate::normalize`].
//!
//! Hostile input is bounded here: a cheap pre-pass ([`prescan`]) drops items with no text and keeps
//! only the [`ParseLimits::max_items`] newest before the full parser allocates anything per item;
//! invalid UTF-8 in a UTF-8 body is replaced (U+FFFD) so the valid items survive; a panic inside
//! the parser is caught and logged at debug level, never printed.

mod prescan;

use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// One entry as found in the feed, before normalisation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RawEntry {
    /// The id/guid present in the source (never an invented one).
    pub guid: Option<String>,
    /// The entry's link (alternate link for Atom), resolved against the feed URL when relative.
    pub link: Option<String>,
    /// Title as HTML-ish text (entities and tags possible).
    pub title: Option<String>,
    /// Summary/description as HTML.
    pub summary_html: Option<String>,
    /// Full content (`content:encoded`, Atom content, JSON `content_html`) as HTML.
    pub content_html: Option<String>,
    pub published: Option<jiff::Timestamp>,
    pub updated: Option<jiff::Timestamp>,
    /// First author's name (or e-mail when no name is given).
    pub author: Option<String>,
    /// Language declared for the entry or the feed (`xml:lang`, `<language>`), if any.
    pub language: Option<String>,
}

/// A parsed feed: its title, home link and entries in source order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ParsedFeed {
    pub title: Option<String>,
    pub link: Option<String>,
    pub entries: Vec<RawEntry>,
    /// Items in the source, before empty ones were dropped and the limit applied.
    pub items_total: usize,
    /// Items with no text at all (no title, description, summary or content), dropped unread.
    pub items_empty: usize,
    /// Usable items beyond [`ParseLimits::max_items`] (the oldest), dropped unread.
    pub items_over_limit: usize,
}

/// Default of [`ParseLimits::max_items`] (the `max_items` feed key).
pub const DEFAULT_MAX_ITEMS: usize = 1_000;

/// Bounds applied while parsing one feed body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseLimits {
    /// At most this many items are read, the newest first (default [`DEFAULT_MAX_ITEMS`]).
    pub max_items: usize,
}

impl Default for ParseLimits {
    fn default() -> Self {
        ParseLimits {
            max_items: DEFAULT_MAX_ITEMS,
        }
    }
}

/// `1000000` → `1,000,000`.
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Why a body is not a usable feed.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    /// The body is not a feed at all (an HTML page, an empty body, unknown XML root, plain text).
    #[error("not a feed: {reason}")]
    NotAFeed { reason: String },
    /// A valid feed with no entries.
    #[error("the feed has no entries")]
    Empty,
    /// A feed that could not be parsed.
    #[error("cannot parse the feed: {0}")]
    Parse(String),
    /// A feed whose items all have no text (no title, description, summary or content).
    #[error("{} items, none usable (no title or text)", thousands(*total))]
    NoUsableItems { total: usize },
}

/// A [`FeedError`] with the feed's name and URL, for logs and reports.
#[derive(Debug, thiserror::Error)]
#[error("feed {feed:?} ({url}): {kind}")]
pub struct NamedFeedError {
    pub feed: String,
    pub url: String,
    #[source]
    pub kind: FeedError,
}

/// [`parse`] with errors naming the feed and its URL (`url` is also the base for relative links).
pub fn parse_named(body: &[u8], feed: &str, url: &str) -> Result<ParsedFeed, NamedFeedError> {
    parse(body, url).map_err(|kind| NamedFeedError {
        feed: feed.to_string(),
        url: url.to_string(),
        kind,
    })
}

/// Parses a feed body with the default [`ParseLimits`]. `base_url` (the feed's URL) resolves
/// relative links; pass "" when unknown.
pub fn parse(body: &[u8], base_url: &str) -> Result<ParsedFeed, FeedError> {
    parse_with(body, base_url, &ParseLimits::default())
}

/// Parses a feed body, reading at most `limits.max_items` items (the newest) and dropping items
/// with no text before they are built.
pub fn parse_with(
    body: &[u8],
    base_url: &str,
    limits: &ParseLimits,
) -> Result<ParsedFeed, FeedError> {
    // UTF-16/32 bodies are transcoded first: the XML reader underneath only copes with
    // ASCII-compatible encodings.
    let transcoded = transcode_wide(body);
    let body: &[u8] = transcoded.as_deref().unwrap_or(body);
    let repaired = repair_utf8(body);
    let body: &[u8] = repaired.as_deref().unwrap_or(body);
    let start = skip_bom_ws(body);
    if start >= body.len() {
        return Err(FeedError::NotAFeed {
            reason: "empty body".into(),
        });
    }
    if let Some(reason) = sniff_not_feed(&body[start..]) {
        return Err(FeedError::NotAFeed { reason });
    }
    let max_items = limits.max_items.max(1);
    let pre = if body[start] == b'{' {
        std::str::from_utf8(&body[start..])
            .map(|text| prescan::json(text, max_items))
            .unwrap_or_default()
    } else {
        prescan::xml(body, max_items)
    };
    if pre.total > 0 && pre.empty == pre.total {
        return Err(FeedError::NoUsableItems { total: pre.total });
    }
    let body: &[u8] = pre.body.as_deref().unwrap_or(body);
    let mut parsed = parse_full(body, base_url)?;
    parsed.items_total = pre.total.max(parsed.entries.len());
    parsed.items_empty = pre.empty;
    parsed.items_over_limit = pre.over_limit;
    Ok(parsed)
}

/// feed-rs on a (pre-scanned) body, with the fixes for RSS without a version and RSS 0.90.
fn parse_full(body: &[u8], base_url: &str) -> Result<ParsedFeed, FeedError> {
    let feed = match run_feed_rs(body, base_url) {
        Ok(f) => f,
        Err(RunError::NoRoot) => {
            // `<rss>` without a version (or 0.93/0.94): read it as RSS 2.0.
            match patch_rss_version(body) {
                Some(patched) => match run_feed_rs(&patched, base_url) {
                    Ok(f) => f,
                    Err(e) => return Err(e.into_feed_error()),
                },
                None => return Err(RunError::NoRoot.into_feed_error()),
            }
        }
        Err(e) => return Err(e.into_feed_error()),
    };
    let mut parsed = convert(feed, base_url);
    if parsed.entries.is_empty() && find_subslice(body, RSS090_NS).is_some() {
        // RSS 0.90 uses its own namespace for channel/item; read it as RSS 1.0.
        let patched = replace_all(body, RSS090_NS, b"http://purl.org/rss/1.0/");
        if let Ok(f) = run_feed_rs(&patched, base_url) {
            parsed = convert(f, base_url);
        }
    }
    if parsed.entries.is_empty() {
        return Err(FeedError::Empty);
    }
    Ok(parsed)
}

/// A body that claims (or defaults to) UTF-8 but holds invalid bytes gets them replaced by
/// U+FFFD, so one bad byte does not make every item unreadable. Bodies in another declared
/// encoding (ISO-8859-1, windows-1252, …) are left to the parser's decoder.
fn repair_utf8(body: &[u8]) -> Option<Vec<u8>> {
    if std::str::from_utf8(body).is_ok() {
        return None;
    }
    let declared = declared_encoding(body);
    let utf8 = declared
        .as_deref()
        .is_none_or(|e| e.eq_ignore_ascii_case("utf-8") || e.eq_ignore_ascii_case("utf8"));
    utf8.then(|| String::from_utf8_lossy(body).into_owned().into_bytes())
}

/// The `encoding` of an XML declaration at the start of the body, if any.
fn declared_encoding(body: &[u8]) -> Option<String> {
    let start = skip_bom_ws(body);
    let head = &body[start..body.len().min(start + 256)];
    if !head.starts_with(b"<?xml") {
        return None;
    }
    let end = find_subslice(head, b"?>")?;
    let decl = String::from_utf8_lossy(&head[..end]);
    let i = decl.find("encoding")?;
    let rest = decl[i + "encoding".len()..]
        .trim_start()
        .strip_prefix('=')?
        .trim_start();
    let q = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let val = &rest[1..];
    Some(val[..val.find(q)?].trim().to_string())
}

const RSS090_NS: &[u8] = b"http://my.netscape.com/rdf/simple/0.9/";

fn replace_all(hay: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(hay.len() + 16);
    let mut i = 0;
    while let Some(p) = find_subslice(&hay[i..], from) {
        out.extend_from_slice(&hay[i..i + p]);
        out.extend_from_slice(to);
        i += p + from.len();
    }
    out.extend_from_slice(&hay[i..]);
    out
}

/// Decodes UTF-32/UTF-16 bodies (by BOM, or by the zero-byte pattern of a leading `<`) to UTF-8
/// and rewrites the XML declaration's encoding to match. `None` for everything else.
fn transcode_wide(body: &[u8]) -> Option<Vec<u8>> {
    #[derive(Clone, Copy)]
    enum Wide {
        U16Le,
        U16Be,
        U32Le,
        U32Be,
    }
    let (kind, skip) = match body {
        [0x00, 0x00, 0xFE, 0xFF, ..] => (Wide::U32Be, 4),
        [0xFF, 0xFE, 0x00, 0x00, ..] => (Wide::U32Le, 4),
        [0xFE, 0xFF, ..] => (Wide::U16Be, 2),
        [0xFF, 0xFE, ..] => (Wide::U16Le, 2),
        [0x00, 0x00, 0x00, b'<', ..] => (Wide::U32Be, 0),
        [b'<', 0x00, 0x00, 0x00, ..] => (Wide::U32Le, 0),
        [0x00, b'<', ..] => (Wide::U16Be, 0),
        [b'<', 0x00, ..] => (Wide::U16Le, 0),
        _ => return None,
    };
    let data = &body[skip..];
    let text: String = match kind {
        Wide::U16Le | Wide::U16Be => {
            let units = data.chunks_exact(2).map(|c| match kind {
                Wide::U16Le => u16::from_le_bytes([c[0], c[1]]),
                _ => u16::from_be_bytes([c[0], c[1]]),
            });
            char::decode_utf16(units)
                .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
                .collect()
        }
        Wide::U32Le | Wide::U32Be => data
            .chunks_exact(4)
            .map(|c| {
                let v = match kind {
                    Wide::U32Le => u32::from_le_bytes([c[0], c[1], c[2], c[3]]),
                    _ => u32::from_be_bytes([c[0], c[1], c[2], c[3]]),
                };
                char::from_u32(v).unwrap_or(char::REPLACEMENT_CHARACTER)
            })
            .collect(),
    };
    // Rewrite `encoding="utf-16"` (or any) in the declaration to utf-8.
    let fixed = match (text.trim_start().starts_with("<?xml"), text.find("?>")) {
        (true, Some(end)) => {
            let decl = &text[..end];
            let decl = match decl.find("encoding") {
                Some(i) => {
                    let rest = &decl[i..];
                    let q1 = rest.find(['"', '\'']);
                    let q2 = q1.and_then(|a| rest[a + 1..].find(['"', '\'']).map(|b| a + 1 + b));
                    match (q1, q2) {
                        (Some(_), Some(b)) => {
                            format!("{}encoding=\"utf-8\"{}", &decl[..i], &rest[b + 1..])
                        }
                        _ => decl.to_string(),
                    }
                }
                None => decl.to_string(),
            };
            format!("{decl}{}", &text[end..])
        }
        _ => text,
    };
    Some(fixed.into_bytes())
}

enum RunError {
    NoRoot,
    Other(String),
    Panic,
}

impl RunError {
    fn into_feed_error(self) -> FeedError {
        match self {
            RunError::NoRoot => FeedError::NotAFeed {
                reason: "no RSS, Atom or JSON Feed root element".into(),
            },
            RunError::Other(m) => FeedError::Parse(m),
            RunError::Panic => FeedError::Parse("the feed parser panicked on this input".into()),
        }
    }
}

thread_local! {
    /// True while feed-rs runs on this thread: a panic then is caught and logged, not printed.
    static IN_PARSER: Cell<bool> = const { Cell::new(false) };
}

/// Installs (once) a panic hook that logs panics inside the feed parser at debug level and leaves
/// every other panic to the previous hook.
fn quiet_parser_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if IN_PARSER.with(Cell::get) {
                tracing::debug!(
                    "feed parser panicked (caught, the feed is reported unreadable): {info}"
                );
            } else {
                previous(info);
            }
        }));
    });
}

fn run_feed_rs(body: &[u8], base_url: &str) -> Result<feed_rs::model::Feed, RunError> {
    let base = (!base_url.is_empty()).then_some(base_url);
    quiet_parser_panics();
    IN_PARSER.with(|f| f.set(true));
    let result = catch_unwind(AssertUnwindSafe(|| {
        feed_rs::parser::Builder::new()
            .base_uri(base)
            // Entries without an id get an empty one: our guid is only what the source says.
            .id_generator(|_, _, _| String::new())
            .build()
            .parse(body)
    }));
    IN_PARSER.with(|f| f.set(false));
    match result {
        Ok(Ok(feed)) => Ok(feed),
        Ok(Err(feed_rs::parser::ParseFeedError::ParseError(
            feed_rs::parser::ParseErrorKind::NoFeedRoot,
        ))) => Err(RunError::NoRoot),
        Ok(Err(e)) => Err(RunError::Other(e.to_string())),
        Err(_) => Err(RunError::Panic),
    }
}

fn skip_bom_ws(body: &[u8]) -> usize {
    let mut i = 0;
    if body.starts_with(&[0xEF, 0xBB, 0xBF]) {
        i = 3;
    }
    while i < body.len() && body[i].is_ascii_whitespace() {
        i += 1;
    }
    i
}

/// Recognises HTML pages and other obvious non-feeds from the first element.
fn sniff_not_feed(body: &[u8]) -> Option<String> {
    // UTF-16/32 bodies: leave them to the parser.
    if body.len() >= 2 && (body[0] == 0 || body[1] == 0 || body[0] >= 0xFE) {
        return None;
    }
    let head = &body[..body.len().min(64 * 1024)];
    let text = String::from_utf8_lossy(head);
    let mut rest: &str = &text;
    if rest.starts_with('{') || rest.starts_with('[') {
        return None;
    }
    loop {
        rest = rest.trim_start();
        if !rest.starts_with('<') {
            return Some("the body is neither XML nor JSON".into());
        }
        if let Some(r) = rest.strip_prefix("<?") {
            rest = r.split_once("?>").map(|(_, r)| r).unwrap_or("");
        } else if let Some(r) = rest.strip_prefix("<!--") {
            rest = r.split_once("-->").map(|(_, r)| r).unwrap_or("");
        } else if let Some(r) = rest.strip_prefix("<!") {
            // A DOCTYPE decides nothing (feeds sometimes carry an XHTML one); skip it, including
            // an internal subset `[ ... ]`, and look at the root element.
            let bracket = r.find('[');
            let gt = r.find('>');
            rest = match (bracket, gt) {
                (Some(b), Some(g)) if b < g => r[b..]
                    .find("]>")
                    .map(|e| &r[b + e + 2..])
                    .or_else(|| r.get(g + 1..))
                    .unwrap_or(""),
                (_, Some(g)) => &r[g + 1..],
                _ => "",
            };
        } else {
            let name: String = rest[1..]
                .chars()
                .take_while(|c| !c.is_whitespace() && *c != '>' && *c != '/')
                .collect();
            let local = name.rsplit(':').next().unwrap_or(&name);
            if local.eq_ignore_ascii_case("html")
                || local.eq_ignore_ascii_case("head")
                || local.eq_ignore_ascii_case("body")
            {
                return Some("an HTML page".into());
            }
            return None;
        }
        if rest.is_empty() {
            return Some("no root element".into());
        }
    }
}

/// Rewrites the `<rss ...>` start tag to say `version="2.0"`, when there is one.
fn patch_rss_version(body: &[u8]) -> Option<Vec<u8>> {
    let pos = find_subslice(body, b"<rss")?;
    let after = body.get(pos + 4)?;
    if !(after.is_ascii_whitespace() || *after == b'>') {
        return None;
    }
    let end = pos + body[pos..].iter().position(|&b| b == b'>')?;
    let tag = String::from_utf8_lossy(&body[pos + 4..end]).into_owned();
    let mut attrs = String::new();
    // Drop any existing version attribute.
    let mut rest = tag.as_str();
    while let Some(i) = rest.find("version") {
        let before = &rest[..i];
        let after_kw = &rest[i + 7..];
        let trimmed = after_kw.trim_start();
        if let Some(val) = trimmed.strip_prefix('=') {
            let val = val.trim_start();
            let q = val.chars().next()?;
            if q == '"' || q == '\'' {
                let close = val[1..].find(q)?;
                attrs.push_str(before);
                rest = &val[close + 2..];
                continue;
            }
        }
        attrs.push_str(&rest[..i + 7]);
        rest = after_kw;
    }
    attrs.push_str(rest);
    let mut out = Vec::with_capacity(body.len() + 16);
    out.extend_from_slice(&body[..pos]);
    out.extend_from_slice(b"<rss version=\"2.0\"");
    out.extend_from_slice(attrs.trim_end_matches('/').as_bytes());
    out.extend_from_slice(&body[end..]);
    Some(out)
}

fn find_subslice(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn to_ts(secs_nanos: Option<(i64, u32)>) -> Option<jiff::Timestamp> {
    let (secs, nanos) = secs_nanos?;
    jiff::Timestamp::new(secs, nanos as i32).ok()
}

/// Escapes plain text so it can travel as HTML.
pub(crate) fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            _ => out.push(c),
        }
    }
    out
}

/// Plain text as an HTML paragraph (line breaks kept). The wrapping `<p>` also marks the body as
/// real HTML, so literal `&lt;` text is never mistaken for double-escaped markup later.
fn plain_to_html(s: &str) -> String {
    let mut out = String::from("<p>");
    for (i, para) in s.split("\n\n").enumerate() {
        if i > 0 {
            out.push_str("</p><p>");
        }
        out.push_str(&escape_html(para.trim()).replace('\n', "<br>"));
    }
    out.push_str("</p>");
    out
}

fn non_empty(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_string())
}

fn convert(feed: feed_rs::model::Feed, base_url: &str) -> ParsedFeed {
    use feed_rs::model::FeedType;
    // RSS puts HTML (or entity-laden text) everywhere; Atom and JSON Feed say when text is plain.
    let typed = matches!(feed.feed_type, FeedType::Atom | FeedType::JSON);
    let is_plain = |ct: &str| ct.starts_with("text/plain");
    let text_html = |t: &feed_rs::model::Text| -> Option<String> {
        let s = non_empty(&t.content)?;
        if typed && is_plain(t.content_type.to_string().as_str()) {
            Some(plain_to_html(&s))
        } else {
            Some(s)
        }
    };
    let title_html = |t: &feed_rs::model::Text| -> Option<String> {
        let s = non_empty(&t.content)?;
        if typed && is_plain(t.content_type.to_string().as_str()) {
            Some(escape_html(&s))
        } else {
            Some(s)
        }
    };
    let feed_link = pick_link(&feed.links);
    let feed_lang = feed.language.clone().and_then(|l| non_empty(&l));
    let entries = feed
        .entries
        .into_iter()
        .map(|e| {
            let content_html = e.content.as_ref().and_then(|c| {
                let body = non_empty(c.body.as_deref()?)?;
                if typed && is_plain(c.content_type.to_string().as_str()) {
                    Some(plain_to_html(&body))
                } else {
                    Some(body)
                }
            });
            let mut summary_html = e.summary.as_ref().and_then(text_html);
            if summary_html.is_none() && content_html.is_none() {
                // YouTube and other MediaRSS feeds keep the text in media:description.
                summary_html = e.media.iter().find_map(|m| {
                    let d = m.description.as_ref()?;
                    let s = non_empty(&d.content)?;
                    if is_plain(d.content_type.to_string().as_str()) {
                        Some(plain_to_html(&s))
                    } else {
                        Some(s)
                    }
                });
            }
            let mut title = e.title.as_ref().and_then(title_html);
            if title.is_none() {
                title = e
                    .media
                    .iter()
                    .find_map(|m| m.title.as_ref().and_then(title_html));
            }
            let author = e.authors.iter().find_map(|p| {
                p.name
                    .as_deref()
                    .and_then(non_empty)
                    .filter(|n| n != "Unknown")
                    .or_else(|| p.email.as_deref().and_then(non_empty))
            });
            RawEntry {
                guid: non_empty(&e.id),
                link: pick_link(&e.links).map(|l| resolve(&l, base_url)),
                title,
                summary_html,
                content_html,
                published: to_ts(
                    e.published
                        .map(|d| (d.timestamp(), d.timestamp_subsec_nanos())),
                ),
                updated: to_ts(
                    e.updated
                        .map(|d| (d.timestamp(), d.timestamp_subsec_nanos())),
                ),
                author,
                language: e
                    .language
                    .as_deref()
                    .and_then(non_empty)
                    .or_else(|| feed_lang.clone()),
            }
        })
        .collect();
    ParsedFeed {
        title: feed.title.as_ref().and_then(|t| non_empty(&t.content)),
        link: feed_link.map(|l| resolve(&l, base_url)),
        entries,
        ..ParsedFeed::default()
    }
}

fn pick_link(links: &[feed_rs::model::Link]) -> Option<String> {
    let ok = |l: &&feed_rs::model::Link| !l.href.trim().is_empty();
    links
        .iter()
        .filter(ok)
        .find(|l| matches!(l.rel.as_deref(), None | Some("alternate")))
        .or_else(|| {
            links
                .iter()
                .filter(ok)
                .find(|l| !matches!(l.rel.as_deref(), Some("self" | "enclosure" | "hub")))
        })
        .map(|l| l.href.trim().to_string())
}

fn resolve(link: &str, base_url: &str) -> String {
    if url::Url::parse(link).is_ok() {
        return link.to_string();
    }
    url::Url::parse(base_url)
        .and_then(|b| b.join(link))
        .map(|u| u.to_string())
        .unwrap_or_else(|_| link.to_string())
}
