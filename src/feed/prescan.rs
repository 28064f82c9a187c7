//! A cheap pass over a feed body before the full parser sees it, so that memory follows what is
//! kept, not what was sent: it counts the items, drops those with no text at all (no title,
//! description, summary or content) without building them, and keeps only the `max_items`
//! newest. The full parser then reads a body with at most `max_items` items.
//!
//! XML (RSS 0.9x/1.0/2.0, Atom) is scanned with quick-xml without building a tree: per item only
//! its byte span and date are kept. JSON Feed items are read as raw slices of the body.

use std::borrow::Cow;

use quick_xml::events::Event;
use serde::Deserialize;
use serde_json::value::RawValue;

/// What the pre-pass found and the body the full parser should read.
#[derive(Debug, Default)]
pub(crate) struct Prescan {
    /// A body with only the kept items; None when every item is kept (read the original).
    pub body: Option<Vec<u8>>,
    /// Items in the source.
    pub total: usize,
    /// Items with no text at all, dropped.
    pub empty: usize,
    /// Usable items beyond the limit (the oldest), dropped.
    pub over_limit: usize,
}

/// One usable item: where it is (byte span for XML, index for JSON) and its date, if readable.
#[derive(Debug, Clone, Copy)]
struct Item {
    start: usize,
    end: usize,
    date: Option<i64>,
}

/// Indexes (into `items`, source order) of the items to keep: all when there are at most `max`;
/// otherwise the `max` newest, undated items counting as newest (feeds list new items first and
/// an undated item is dated when first seen).
fn select(items: &[Item], max: usize) -> Vec<usize> {
    if items.len() <= max {
        return (0..items.len()).collect();
    }
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by_key(|&i| (items[i].date.map_or(i64::MIN, |d| -d), i));
    order.truncate(max);
    order.sort_unstable();
    order
}

fn parse_date(raw: &str) -> Option<i64> {
    let s = raw.trim();
    if let Ok(t) = s.parse::<jiff::Timestamp>() {
        return Some(t.as_second());
    }
    if let Ok(z) = jiff::fmt::rfc2822::parse(s) {
        return Some(z.timestamp().as_second());
    }
    // A date without a zone ("2024-05-01T10:00:00") is read as UTC.
    s.parse::<jiff::civil::DateTime>()
        .ok()
        .and_then(|dt| dt.to_zoned(jiff::tz::TimeZone::UTC).ok())
        .map(|z| z.timestamp().as_second())
}

fn is_blank(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_whitespace())
}

// ------------------------------------------------------------------------------------------- XML

fn is_item(local: &str) -> bool {
    local == "item" || local == "entry"
}

/// Elements whose text makes an item usable (title or text, as normalisation needs).
fn is_text_element(local: &str) -> bool {
    matches!(
        local,
        "title" | "description" | "summary" | "content" | "encoded" | "subtitle"
    )
}

fn is_date_element(local: &str) -> bool {
    matches!(
        local,
        "pubDate" | "date" | "published" | "updated" | "issued" | "modified" | "created"
    )
}

/// The item being scanned.
struct Open {
    start: usize,
    depth: usize,
    /// Depth of an open text-bearing element (title, description, …), if inside one.
    text_depth: Option<usize>,
    /// Depth of an open date element, if inside one.
    date_depth: Option<usize>,
    usable: bool,
    date: Option<i64>,
}

/// A copy of `body` with every byte that breaks UTF-8 replaced by `?` (offsets unchanged), for
/// scanning bodies in a legacy encoding (ISO-8859-1, windows-1252): the markup is ASCII.
fn scannable(body: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    if std::str::from_utf8(body).is_ok() {
        return std::borrow::Cow::Borrowed(body);
    }
    let mut out = body.to_vec();
    let mut at = 0;
    while at < out.len() {
        match std::str::from_utf8(&out[at..]) {
            Ok(_) => break,
            Err(e) => {
                let bad = at + e.valid_up_to();
                let len = e.error_len().unwrap_or(out.len() - bad);
                for b in &mut out[bad..bad + len] {
                    *b = b'?';
                }
                at = bad + len;
            }
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Scans RSS/Atom. Never fails: on malformed XML it keeps what it found so far and leaves the
/// error to the full parser.
pub(crate) fn xml(body: &[u8], max_items: usize) -> Prescan {
    let scan = scannable(body);
    let mut r = quick_xml::Reader::from_reader(&scan[..]);
    r.config_mut().check_end_names = false;
    r.config_mut().trim_text(false);
    let mut items: Vec<Item> = Vec::new();
    let mut total = 0usize;
    let mut cur: Option<Open> = None;
    let mut depth = 0usize;
    loop {
        let before = r.buffer_position() as usize;
        let ev = match r.read_event() {
            Ok(ev) => ev,
            Err(_) => break,
        };
        match ev {
            Event::Start(e) => {
                depth += 1;
                let name = e.local_name();
                let local: &str = name.as_ref();
                match cur.as_mut() {
                    None if is_item(local) => {
                        cur = Some(Open {
                            start: before,
                            depth,
                            text_depth: None,
                            date_depth: None,
                            usable: false,
                            date: None,
                        });
                    }
                    Some(c) => {
                        if c.text_depth.is_none() && is_text_element(local) {
                            c.text_depth = Some(depth);
                        }
                        if c.date.is_none() && c.date_depth.is_none() && is_date_element(local) {
                            c.date_depth = Some(depth);
                        }
                    }
                    None => {}
                }
            }
            Event::Empty(e) if cur.is_none() && is_item(e.local_name().as_ref()) => {
                total += 1;
            }
            Event::End(_) => {
                if let Some(c) = cur.as_mut() {
                    if c.depth == depth {
                        total += 1;
                        if c.usable {
                            items.push(Item {
                                start: c.start,
                                end: r.buffer_position() as usize,
                                date: c.date,
                            });
                        }
                        cur = None;
                    } else {
                        if c.text_depth == Some(depth) {
                            c.text_depth = None;
                        }
                        if c.date_depth == Some(depth) {
                            c.date_depth = None;
                        }
                    }
                }
                depth = depth.saturating_sub(1);
            }
            Event::Text(t) => note_text(cur.as_mut(), &t),
            Event::CData(t) => note_text(cur.as_mut(), &t),
            Event::GeneralRef(_) => {
                if let Some(c) = cur.as_mut()
                    && c.text_depth.is_some()
                {
                    c.usable = true;
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    finish_xml(body, items, total, max_items)
}

fn note_text(cur: Option<&mut Open>, text: &str) {
    let Some(c) = cur else { return };
    if is_blank(text) {
        return;
    }
    if c.text_depth.is_some() {
        c.usable = true;
    }
    if c.date_depth.is_some() && c.date.is_none() {
        c.date = parse_date(text);
    }
}

fn finish_xml(body: &[u8], items: Vec<Item>, total: usize, max_items: usize) -> Prescan {
    let empty = total - items.len();
    let keep = select(&items, max_items);
    let over_limit = items.len() - keep.len();
    let body = if (empty == 0 && over_limit == 0) || items.is_empty() {
        None
    } else {
        // Everything before the first usable item, the kept items, everything after the last.
        let first = items[0].start;
        let last = items[items.len() - 1].end;
        let mut out = Vec::with_capacity(first + (body.len() - last) + keep.len() * 256);
        out.extend_from_slice(&body[..first]);
        for &i in &keep {
            out.extend_from_slice(&body[items[i].start..items[i].end]);
            out.push(b'\n');
        }
        out.extend_from_slice(&body[last..]);
        Some(out)
    };
    Prescan {
        body,
        total,
        empty,
        over_limit,
    }
}

// ------------------------------------------------------------------------------------------ JSON

/// The fields of a JSON Feed item that decide whether it is usable, and its date.
#[derive(Deserialize, Default)]
#[serde(default)]
struct Probe<'a> {
    #[serde(borrow)]
    title: Option<Cow<'a, str>>,
    #[serde(borrow)]
    content_html: Option<Cow<'a, str>>,
    #[serde(borrow)]
    content_text: Option<Cow<'a, str>>,
    #[serde(borrow)]
    summary: Option<Cow<'a, str>>,
    #[serde(borrow)]
    date_published: Option<Cow<'a, str>>,
    #[serde(borrow)]
    date_modified: Option<Cow<'a, str>>,
}

impl Probe<'_> {
    fn usable(&self) -> bool {
        [
            &self.title,
            &self.content_html,
            &self.content_text,
            &self.summary,
        ]
        .iter()
        .any(|f| f.as_deref().is_some_and(|s| !s.trim().is_empty()))
    }

    fn date(&self) -> Option<i64> {
        self.date_published
            .as_deref()
            .or(self.date_modified.as_deref())
            .and_then(parse_date)
    }
}

/// Scans a JSON Feed. A body that is not a JSON object with an `items` array is left to the
/// full parser unchanged.
pub(crate) fn json(body: &str, max_items: usize) -> Prescan {
    let Ok(top) = serde_json::from_str::<std::collections::BTreeMap<String, &RawValue>>(body)
    else {
        return Prescan::default();
    };
    let Some(raw_items) = top.get("items") else {
        return Prescan::default();
    };
    let Ok(raw) = serde_json::from_str::<Vec<&RawValue>>(raw_items.get()) else {
        return Prescan::default();
    };
    let total = raw.len();
    let mut items: Vec<Item> = Vec::new();
    for (i, r) in raw.iter().enumerate() {
        // An item whose fields have unexpected types is left for the full parser to judge.
        let (usable, date) = match serde_json::from_str::<Probe<'_>>(r.get()) {
            Ok(p) => (p.usable(), p.date()),
            Err(_) => (true, None),
        };
        if usable {
            items.push(Item {
                start: i,
                end: i,
                date,
            });
        }
    }
    let empty = total - items.len();
    let keep = select(&items, max_items);
    let over_limit = items.len() - keep.len();
    let body = if empty == 0 && over_limit == 0 {
        None
    } else {
        let kept: Vec<&RawValue> = keep.iter().map(|&k| raw[items[k].start]).collect();
        let rebuilt = serde_json::value::to_raw_value(&kept).ok();
        rebuilt.and_then(|list| {
            let mut out: std::collections::BTreeMap<&str, &RawValue> =
                top.iter().map(|(k, v)| (k.as_str(), *v)).collect();
            out.insert("items", &list);
            serde_json::to_vec(&out).ok()
        })
    };
    Prescan {
        body,
        total,
        empty,
        over_limit,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rss(items: &[&str]) -> String {
        format!(
            "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>T</title>{}</channel></rss>",
            items.concat()
        )
    }

    #[test]
    fn xml_keeps_everything_when_under_the_limit() {
        let body = rss(&[
            "<item><title>A</title></item>",
            "<item><title>B</title></item>",
        ]);
        let p = xml(body.as_bytes(), 10);
        assert_eq!((p.total, p.empty, p.over_limit), (2, 0, 0));
        assert!(p.body.is_none());
    }

    #[test]
    fn xml_drops_empty_items_and_keeps_the_newest() {
        let body = rss(&[
            "<item/>",
            "<item><link>http://x/1</link></item>",
            "<item><title>Old</title><pubDate>Mon, 01 Jan 2024 10:00:00 GMT</pubDate></item>",
            "<item><title>New</title><pubDate>Wed, 01 May 2024 10:00:00 GMT</pubDate></item>",
            "<item><title>Mid</title><pubDate>Fri, 01 Mar 2024 10:00:00 GMT</pubDate></item>",
        ]);
        let p = xml(body.as_bytes(), 2);
        assert_eq!((p.total, p.empty, p.over_limit), (5, 2, 1));
        let kept = String::from_utf8(p.body.unwrap()).unwrap();
        assert!(kept.contains("New") && kept.contains("Mid") && !kept.contains("Old"));
        assert!(kept.ends_with("</channel></rss>"));
        assert!(
            kept.starts_with(
                "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>T</title>"
            )
        );
    }

    #[test]
    fn xml_scans_a_legacy_encoded_body_past_its_first_non_ascii_byte() {
        // windows-1252: 0xE9 is "é" and breaks UTF-8. Every item after it must still be seen.
        let mut body = b"<?xml version=\"1.0\" encoding=\"windows-1252\"?><rss version=\"2.0\"><channel><title>T</title>".to_vec();
        body.extend_from_slice(b"<item><title>Caf\xe9 old</title><pubDate>Mon, 01 Jan 2024 10:00:00 GMT</pubDate></item>");
        body.extend_from_slice(b"<item></item>");
        body.extend_from_slice(b"<item><title>New \xe9t\xe9</title><pubDate>Wed, 01 May 2024 10:00:00 GMT</pubDate></item>");
        body.extend_from_slice(b"</channel></rss>");
        let p = xml(&body, 1);
        assert_eq!((p.total, p.empty, p.over_limit), (3, 1, 1));
        let kept = p.body.unwrap();
        // The kept body is cut from the original bytes, not from the scanning copy.
        let has = |needle: &[u8]| kept.windows(needle.len()).any(|w| w == needle);
        assert!(has(b"New \xe9t\xe9"));
        assert!(!has(b"old"));
    }

    #[test]
    fn json_drops_empty_items() {
        let body = r#"{"version":"https://jsonfeed.org/version/1.1","title":"J","items":[{},{},{"id":"1","title":"Real"},{"id":"2","content_text":"  "}]}"#;
        let p = json(body, 10);
        assert_eq!((p.total, p.empty, p.over_limit), (4, 3, 0));
        let v: serde_json::Value = serde_json::from_slice(&p.body.unwrap()).unwrap();
        assert_eq!(v["items"].as_array().unwrap().len(), 1);
        assert_eq!(v["title"], "J");
    }

    #[test]
    fn undated_items_count_as_newest() {
        let items = vec![
            Item {
                start: 0,
                end: 0,
                date: Some(5),
            },
            Item {
                start: 1,
                end: 1,
                date: None,
            },
            Item {
                start: 2,
                end: 2,
                date: Some(9),
            },
        ];
        assert_eq!(select(&items, 2), vec![1, 2]);
    }
}
