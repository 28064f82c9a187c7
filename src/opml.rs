//! OPML import and export of feed subscriptions.
//!
//! This module owns reading OPML subscription lists as found in the wild (bare `&` in attributes,
//! HTML entities, nested folder outlines, `category` attributes) into [`OpmlFeed`]s whose tags are the
//! enclosing folder names, writing them back as valid OPML 2.0 (tags as flat categories, so they
//! round-trip), making imported names unique ([`dedupe`]), and printing them as `[[feed]]` blocks
//! for the TOML config.

use quick_xml::events::{BytesStart, Event};

/// One feed subscription from (or for) an OPML file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpmlFeed {
    /// Display name (`title`, else `text`, else the URL).
    pub name: String,
    /// The feed URL (`xmlUrl`).
    pub url: String,
    /// Enclosing folder names, outermost first, plus any `category` values; no duplicates.
    pub tags: Vec<String>,
}

/// The largest OPML file `import-opml` reads (10,000 subscriptions take about 2 MiB).
pub const MAX_OPML_BYTES: u64 = 16 << 20;

/// Whether `url` is an absolute http(s) URL with a host: the only kind an imported subscription
/// list may bring in (a list from elsewhere must not make the daemon read `file:///etc/passwd`).
pub fn is_web_url(url: &str) -> bool {
    url::Url::parse(url.trim()).is_ok_and(|u| {
        matches!(u.scheme(), "http" | "https") && u.host_str().is_some_and(|h| !h.is_empty())
    })
}

/// Keeps the feeds whose URL is http(s) ([`is_web_url`]); for each other one, a warning saying
/// which and why it was skipped.
pub fn web_feeds_only(feeds: Vec<OpmlFeed>) -> (Vec<OpmlFeed>, Vec<String>) {
    let mut warnings = Vec::new();
    let kept = feeds
        .into_iter()
        .filter(|f| {
            let ok = is_web_url(&f.url);
            if !ok {
                warnings.push(format!(
                    "skipped {:?} ({:?}): not an http(s) URL; only http and https feeds are imported",
                    f.name, f.url
                ));
            }
            ok
        })
        .collect();
    (kept, warnings)
}

/// Why an OPML document could not be read.
#[derive(Debug, thiserror::Error)]
pub enum OpmlError {
    #[error("OPML is not valid XML at line {line}: {message}")]
    Xml { line: usize, message: String },
    #[error("not an OPML document (root element is {root:?})")]
    NotOpml { root: String },
    #[error("OPML document has no root element")]
    NoRoot,
}

/// Reads an OPML document. Tolerates bare `&` (fixed before parsing), HTML named entities in
/// attributes and any nesting depth; outlines with an `xmlUrl` become feeds, other outlines are
/// folders whose names become tags of the feeds inside them.
pub fn import(bytes: &[u8]) -> Result<Vec<OpmlFeed>, OpmlError> {
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim_start_matches('\u{feff}');
    let fixed = fix_bare_ampersands(text);
    let mut reader = quick_xml::Reader::from_str(&fixed);
    reader.config_mut().check_end_names = false;
    reader.config_mut().trim_text(true);

    let mut feeds: Vec<OpmlFeed> = Vec::new();
    // One slot per open <outline>: Some(folder name) for folders, None for feeds/unnamed.
    let mut stack: Vec<Option<String>> = Vec::new();
    let mut root: Option<String> = None;
    let mut seen = std::collections::HashSet::new();
    loop {
        let pos = reader.buffer_position() as usize;
        let ev = reader.read_event().map_err(|e| OpmlError::Xml {
            line: line_of(&fixed, pos),
            message: e.to_string(),
        })?;
        match ev {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let is_empty = matches!(ev, Event::Empty(_));
                let name = e.local_name().as_ref().to_ascii_lowercase();
                if root.is_none() {
                    if name != "opml" {
                        return Err(OpmlError::NotOpml { root: name });
                    }
                    root = Some(name.clone());
                }
                if name != "outline" {
                    continue;
                }
                let attrs = read_attrs(e);
                let get = |k: &str| {
                    attrs
                        .iter()
                        .find(|(n, _)| n.eq_ignore_ascii_case(k))
                        .map(|(_, v)| v.trim().to_string())
                        .filter(|v| !v.is_empty())
                };
                let label = get("title").or_else(|| get("text"));
                if let Some(url) = get("xmlUrl").or_else(|| get("url")) {
                    let mut tags: Vec<String> = stack.iter().flatten().cloned().collect();
                    if let Some(cat) = get("category") {
                        for c in cat.split([',', '/']) {
                            let c = c.trim();
                            if !c.is_empty() {
                                tags.push(c.to_string());
                            }
                        }
                    }
                    let mut uniq = Vec::with_capacity(tags.len());
                    for t in tags {
                        if !uniq.contains(&t) {
                            uniq.push(t);
                        }
                    }
                    if seen.insert(url.clone()) {
                        feeds.push(OpmlFeed {
                            name: label.unwrap_or_else(|| url.clone()),
                            url,
                            tags: uniq,
                        });
                    }
                    if !is_empty {
                        stack.push(None);
                    }
                } else if !is_empty {
                    stack.push(label);
                }
            }
            Event::End(ref e) if e.local_name().as_ref().eq_ignore_ascii_case("outline") => {
                stack.pop();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if root.is_none() {
        return Err(OpmlError::NoRoot);
    }
    Ok(feeds)
}

fn line_of(text: &str, byte: usize) -> usize {
    let end = byte.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

fn read_attrs(e: &BytesStart<'_>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for a in e.html_attributes().with_checks(false).flatten() {
        let key = a.key.local_name().as_ref().to_string();
        let raw = &a.value;
        // Names are plain text: a no-break space is a space.
        let value = crate::normalize::decode_entities(raw).replace('\u{a0}', " ");
        out.push((key, value));
    }
    out
}

/// Replaces every `&` that does not start an entity (`&name;`, `&#123;`, `&#x1F;`) with `&amp;`.
pub fn fix_bare_ampersands(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 16);
    let b = s.as_bytes();
    let mut last = 0;
    for (i, _) in s.match_indices('&') {
        let rest = &b[i + 1..];
        let is_entity = {
            let (digits, start): (fn(&u8) -> bool, usize) = match rest {
                [b'#', b'x' | b'X', ..] => (u8::is_ascii_hexdigit, 2),
                [b'#', ..] => (u8::is_ascii_digit, 1),
                _ => (u8::is_ascii_alphanumeric, 0),
            };
            let n = rest[start..]
                .iter()
                .take(33)
                .take_while(|c| digits(c))
                .count();
            n > 0
                && rest.get(start + n) == Some(&b';')
                && (start > 0 || rest[0].is_ascii_alphabetic())
        };
        if !is_entity {
            out.push_str(&s[last..i]);
            out.push_str("&amp;");
            last = i + 1;
        }
    }
    out.push_str(&s[last..]);
    out
}

/// Escapes text for an XML attribute value: markup characters by quick-xml, line breaks and tabs
/// as character references (so they survive attribute-value normalisation), other control
/// characters (not allowed in XML 1.0) dropped.
fn xml_attr(s: &str) -> String {
    let kept: String = s
        .chars()
        .filter(|&c| (c as u32) >= 0x20 || matches!(c, '\n' | '\r' | '\t'))
        .collect();
    quick_xml::escape::escape(kept.as_str())
        .replace('\n', "&#10;")
        .replace('\r', "&#13;")
        .replace('\t', "&#9;")
}

/// Writes the feeds as an OPML 2.0 document. Tags are flat labels, so they are written as the
/// outline's `category` attribute (comma-separated, as OPML 2.0 defines tags); for readers that
/// only know folders, each tagged feed also sits in one folder named by its first tag. [`import`]
/// reads both back to the same tags, in the same order.
pub fn export(feeds: &[OpmlFeed]) -> String {
    let now = jiff::Timestamp::now();
    let date =
        jiff::fmt::rfc2822::to_string(&now.to_zoned(jiff::tz::TimeZone::UTC)).unwrap_or_default();
    let mut out = String::new();
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<opml version=\"2.0\">\n  <head>\n");
    out.push_str("    <title>digestif subscriptions</title>\n");
    if !date.is_empty() {
        out.push_str(&format!("    <dateCreated>{date}</dateCreated>\n"));
    }
    out.push_str("  </head>\n  <body>\n");
    // Group by first tag, keeping the first-seen order of folders and feeds.
    let mut groups: Vec<(Option<&str>, Vec<&OpmlFeed>)> = Vec::new();
    for f in feeds {
        let folder = f.tags.first().map(String::as_str);
        match groups.iter_mut().find(|(t, _)| *t == folder) {
            Some((_, v)) => v.push(f),
            None => groups.push((folder, vec![f])),
        }
    }
    for (folder, members) in groups {
        let indent = if folder.is_some() { "      " } else { "    " };
        if let Some(t) = folder {
            out.push_str(&format!(
                "    <outline text=\"{0}\" title=\"{0}\">\n",
                xml_attr(t)
            ));
        }
        for f in members {
            let category = if f.tags.is_empty() {
                String::new()
            } else {
                // A comma or slash inside a tag would split it on import: those become spaces.
                // The folder carries the first tag whole; a comma or slash would split a tag
                // in `category`, so such a tag is left to the folder or written with spaces.
                let tags: Vec<String> = f
                    .tags
                    .iter()
                    .enumerate()
                    .filter(|(i, t)| *i > 0 || !t.contains([',', '/']))
                    .map(|(_, t)| t.replace([',', '/'], " "))
                    .collect();
                format!(" category=\"{}\"", xml_attr(&tags.join(",")))
            };
            out.push_str(&format!(
                "{indent}<outline type=\"rss\" text=\"{0}\" title=\"{0}\" xmlUrl=\"{1}\"{category}/>\n",
                xml_attr(&f.name),
                xml_attr(&f.url)
            ));
        }
        if folder.is_some() {
            out.push_str("    </outline>\n");
        }
    }
    out.push_str("  </body>\n</opml>\n");
    out
}

/// Makes imported feeds fit a config: a name already taken (case-insensitively, as the config
/// requires; by `taken_names` or an earlier feed) gets a suffix " (2)", " (3)", ...; a feed whose
/// URL is already configured (`taken_urls`) or was imported before is dropped. Returns the
/// feeds and one note per change, for the user to read.
pub fn dedupe(
    feeds: Vec<OpmlFeed>,
    taken_names: &[String],
    taken_urls: &[String],
) -> (Vec<OpmlFeed>, Vec<String>) {
    let mut names: std::collections::HashSet<String> =
        taken_names.iter().map(|n| n.to_lowercase()).collect();
    let mut urls: std::collections::HashSet<String> = taken_urls.iter().cloned().collect();
    let mut out = Vec::with_capacity(feeds.len());
    let mut notes = Vec::new();
    for mut f in feeds {
        if !urls.insert(f.url.clone()) {
            notes.push(format!(
                "skipped {:?} ({}): that URL is already a feed",
                f.name, f.url
            ));
            continue;
        }
        if names.contains(&f.name.to_lowercase()) {
            let base = f.name.clone();
            let mut n = 2;
            while names.contains(&format!("{base} ({n})").to_lowercase()) {
                n += 1;
            }
            f.name = format!("{base} ({n})");
            notes.push(format!(
                "renamed {base:?} ({}) to {:?}: the name is already taken",
                f.url, f.name
            ));
        }
        names.insert(f.name.to_lowercase());
        out.push(f);
    }
    (out, notes)
}

/// Prints the feeds as `[[feed]]` blocks (`name`, `url`, `tags`) for the TOML config, written by
/// the `toml` crate so every string is quoted and escaped as TOML requires.
pub fn to_toml(feeds: &[OpmlFeed]) -> String {
    #[derive(serde::Serialize)]
    struct Feed<'a> {
        name: &'a str,
        url: &'a str,
        tags: &'a [String],
    }
    #[derive(serde::Serialize)]
    struct Config<'a> {
        feed: Vec<Feed<'a>>,
    }
    if feeds.is_empty() {
        return String::new();
    }
    let config = Config {
        feed: feeds
            .iter()
            .map(|f| Feed {
                name: &f.name,
                url: &f.url,
                tags: &f.tags,
            })
            .collect(),
    };
    // Serialising plain strings into a table cannot fail.
    toml::to_string(&config).unwrap_or_default()
}
