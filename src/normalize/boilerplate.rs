//! Boilerplate of one feed: the lines and sentences a feed repeats across many of its items
//! (channel descriptions, "Subscribe to our channel", "Follow us on Twitter", newsletter blurbs,
//! "The post … appeared first on …"), found in one fetch of the feed and stripped from the text
//! that tagging, grouping and summaries read. Pure: texts in, texts out.
//!
//! Two kinds of evidence, neither tuned to one outlet:
//! - **recurrence**: a segment (a sentence, or a line without sentence punctuation) whose folded
//!   form (lower case, URLs and punctuation dropped) occurs in at least
//!   [`MIN_ITEMS`] items of the fetch and in at least a [`MIN_SHARE`] of its items with text;
//! - **calls to action**: a segment that starts like one ("subscribe to", "follow us on",
//!   "read more at", "sign up for" …), says "appeared first on", is a bare byline ("By Jane Doe")
//!   or is nothing but links — stripped even when the fetch has one item;
//! - **related-headline lists**: the lines that end a text, each a bullet ("• …") followed by a
//!   headline rather than a sentence (no closing `.` or `!`; a headline may ask a question), are
//!   the outlet's links to its other stories (CNN: "• Why France is angry about …"), not this
//!   item's news — stripped even when the fetch has one item.
//!
//! The text keeps its line and paragraph breaks; a line left empty is dropped.

use std::collections::{HashMap, HashSet};

/// A segment is boilerplate by recurrence only when at least this many items of the fetch hold it.
pub const MIN_ITEMS: usize = 3;
/// … and at least this share of the fetch's items with text hold it.
pub const MIN_SHARE: f64 = 0.2;
/// Folded segments shorter than this (in chars) are never counted ("Video", "1/2").
const MIN_KEY_CHARS: usize = 4;

/// How calls to action start (folded, see [`fold`]).
const CTA_STARTS: &[&str] = &[
    "subscribe to ",
    "subscribe now",
    "subscribe for ",
    "subscribe here",
    "follow us ",
    "follow us",
    "find us on ",
    "like us on ",
    "join us on ",
    "check our website",
    "check out our website",
    "visit our website",
    "visit our channel",
    "read more at ",
    "read more on ",
    "read more here",
    "read the full story",
    "read the full article",
    "continue reading",
    "click here ",
    "sign up for ",
    "sign up to ",
    "sign up here",
    "get our newsletter",
    "get the latest news",
    "download our app",
    "download the app",
    "watch more ",
    "watch the latest ",
    "to watch more ",
    "to read more ",
    "to see more ",
    "for more videos",
    "for more stories",
];

/// Phrases that make a segment a call to action wherever they stand in it (folded).
const CTA_PHRASES: &[&str] = &[
    "click the link below",
    "click on the link below",
    "link in bio",
];

/// What a feed repeats: the folded segments stripped by recurrence.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Boilerplate {
    keys: HashSet<String>,
    /// One original form of each recurring segment, with the number of items holding it.
    found: Vec<(String, usize)>,
}

impl Boilerplate {
    /// The recurring segments of one fetch of one feed (`texts`: one per item).
    pub fn find<S: AsRef<str>>(texts: &[S]) -> Boilerplate {
        let with_text = texts
            .iter()
            .filter(|t| !t.as_ref().trim().is_empty())
            .count();
        let floor = MIN_ITEMS.max((MIN_SHARE * with_text as f64).ceil() as usize);
        let mut counts: HashMap<String, (usize, String)> = HashMap::new();
        for t in texts {
            let mut seen = HashSet::new();
            for seg in segments(t.as_ref()) {
                let key = fold(seg);
                if key.chars().count() < MIN_KEY_CHARS || !seen.insert(key.clone()) {
                    continue;
                }
                counts.entry(key).or_insert_with(|| (0, seg.to_string())).0 += 1;
            }
        }
        let mut found: Vec<(String, usize)> = Vec::new();
        let mut keys = HashSet::new();
        for (key, (n, original)) in counts {
            if n >= floor {
                keys.insert(key);
                found.push((original, n));
            }
        }
        found.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        Boilerplate { keys, found }
    }

    /// The recurring segments found (one original form each) with how many items hold them, most
    /// frequent first.
    pub fn found(&self) -> &[(String, usize)] {
        &self.found
    }

    /// `text` without the recurring segments, the calls to action and a closing list of related
    /// headlines; line breaks kept.
    pub fn strip(&self, text: &str) -> String {
        let text = without_related_headlines(text);
        let mut out = String::with_capacity(text.len());
        let mut blank = false;
        for line in text.split('\n') {
            let kept: Vec<&str> = segments(line)
                .filter(|s| {
                    let key = fold(s);
                    !self.keys.contains(&key) && !is_call_to_action(s, &key)
                })
                .collect();
            if line.trim().is_empty() {
                blank = !out.is_empty();
                continue;
            }
            if kept.is_empty() {
                continue;
            }
            if !out.is_empty() {
                out.push_str(if blank { "\n\n" } else { "\n" });
            }
            blank = false;
            out.push_str(&kept.join(" "));
        }
        out
    }
}

/// Finds the boilerplate of one fetch (`texts`, one per item) and strips it from each text.
pub fn strip_feed(texts: &mut [String]) -> Boilerplate {
    let bp = Boilerplate::find(texts);
    for t in texts.iter_mut() {
        let stripped = bp.strip(t);
        if stripped != *t {
            *t = stripped;
        }
    }
    bp
}

/// Bullet marks that open an item of a list of links.
const BULLETS: &[char] = &['•', '·', '▪', '‣', '►', '▸', '▶', '◦'];

/// `text` without the list of related headlines that ends it: the run of last non-empty lines
/// that are each a bullet followed by a headline ([`is_related_headline`]). A bulleted list that
/// is followed by more text is part of the news and kept.
pub fn without_related_headlines(text: &str) -> &str {
    let mut end = text.len();
    loop {
        let body = text[..end].trim_end();
        let start = body.rfind('\n').map_or(0, |i| i + 1);
        let last = &body[start..];
        if body.is_empty() || !is_related_headline(last) {
            return &text[..end];
        }
        end = start;
    }
}

/// A line that is a bullet followed by a headline: text after the bullet, not ending like a
/// sentence (a closing `.`, `!` or `…`, before any closing quote or bracket; a question mark
/// ends many headlines: "• Could rich nations save the world with 1% of their GDP?").
fn is_related_headline(line: &str) -> bool {
    let Some(rest) = line.trim().strip_prefix(BULLETS) else {
        return false;
    };
    if !rest.starts_with(char::is_whitespace) {
        return false;
    }
    let rest = rest
        .trim()
        .trim_end_matches(['"', '\'', '”', '’', ')', ']']);
    !rest.is_empty() && !rest.ends_with(['.', '!', '…'])
}

/// The segments of a text: its lines, each cut into sentences (after `.`, `!`, `?` or `…` and a
/// space, before a capital, digit, quote or `#`). Segments are trimmed slices of `text`.
pub fn segments(text: &str) -> impl Iterator<Item = &str> {
    text.split('\n')
        .flat_map(sentences)
        .filter(|s| !s.is_empty())
}

fn sentences(line: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut prev: Option<char> = None;
    let mut iter = line.char_indices().peekable();
    while let Some((i, c)) = iter.next() {
        if c.is_whitespace()
            && matches!(prev, Some('.' | '!' | '?' | '…'))
            && iter.peek().is_some_and(|&(_, n)| {
                n.is_uppercase() || n.is_ascii_digit() || matches!(n, '"' | '“' | '\'' | '#')
            })
            && !ends_with_abbreviation(&line[start..i])
        {
            out.push(line[start..i].trim());
            start = i;
        }
        prev = Some(c);
    }
    out.push(line[start..].trim());
    out
}

/// "Mr.", "U.S.", "St." and single initials do not end a sentence.
fn ends_with_abbreviation(s: &str) -> bool {
    let last = s.rsplit(char::is_whitespace).next().unwrap_or("");
    let word = last.trim_end_matches('.');
    let letters = word.chars().filter(|c| c.is_alphabetic()).count();
    letters <= 1
        || word.contains('.')
        || matches!(
            word,
            "Mr" | "Mrs" | "Ms" | "Dr" | "St" | "Jr" | "Sr" | "Gov" | "Sen" | "Rep" | "Gen" | "No"
        )
}

/// The folded form of a segment: lower case, words of letters and digits, URLs, punctuation and
/// list markers dropped; what recurrence counts. Numbers are kept: a daily "1,234 new cases" is
/// news, not boilerplate.
pub fn fold(seg: &str) -> String {
    let mut out = String::with_capacity(seg.len());
    for word in seg.split_whitespace() {
        if is_link(word) {
            continue;
        }
        let w: String = word
            .chars()
            .filter(|c| c.is_alphanumeric())
            .flat_map(char::to_lowercase)
            .collect();
        if !w.is_empty() {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(&w);
        }
    }
    out
}

/// A URL, a bare domain path (`aje.io/AJSubscribe`) or an e-mail address.
fn is_link(word: &str) -> bool {
    let w = word.trim_matches(|c: char| !c.is_alphanumeric());
    w.contains("://")
        || w.starts_with("www.")
        || (w.contains('@') && w.contains('.'))
        || w.split_once('/')
            .is_some_and(|(host, _)| host.contains('.') && !host.contains(' '))
}

/// A call to action, a bare byline, or a segment of nothing but links.
fn is_call_to_action(seg: &str, key: &str) -> bool {
    if key.is_empty() {
        // Nothing but links (or punctuation): a link list, never news text.
        return seg.split_whitespace().any(is_link);
    }
    CTA_STARTS
        .iter()
        .any(|p| key.starts_with(p) || key == p.trim_end())
        || CTA_PHRASES.iter().any(|p| key.contains(p))
        || key.contains(" appeared first on ")
        || key.starts_with("this article originally appeared")
        || is_byline(seg)
}

/// "By Jane Doe", "By Jane Doe and John Roe" — a line that is only a byline.
fn is_byline(seg: &str) -> bool {
    let Some(rest) = seg.strip_prefix("By ").or_else(|| seg.strip_prefix("BY ")) else {
        return false;
    };
    let words: Vec<&str> = rest.split_whitespace().collect();
    (1..=6).contains(&words.len())
        && words.iter().all(|w| {
            matches!(*w, "and" | "&" | "|" | "-" | "–")
                || w.chars().next().is_some_and(char::is_uppercase)
        })
        && !rest.contains(['.', '!', '?'])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn channel(body: &str) -> String {
        format!(
            "{body}\n\nSubscribe to our channel: http://aje.io/AJSubscribe\n- Follow us on Twitter: https://twitter.com/AJEnglish\n- Find us on Facebook: https://www.facebook.com/aljazeera\n- Check our website: https://www.aljazeera.com/\n\n#AljazeeraEnglish"
        )
    }

    #[test]
    fn recurring_channel_lines_are_stripped_and_the_news_kept() {
        let mut texts: Vec<String> = [
            "A drone strike in Kabul killed 10 civilians.",
            "Lebanon's hospitals run out of fuel. Doctors warn of deaths.",
            "Electric cars are growing in popularity.",
            "Floods hit the south of the country.",
        ]
        .iter()
        .map(|b| channel(b))
        .collect();
        let bp = strip_feed(&mut texts);
        assert_eq!(texts[0], "A drone strike in Kabul killed 10 civilians.");
        assert_eq!(
            texts[1],
            "Lebanon's hospitals run out of fuel. Doctors warn of deaths."
        );
        assert!(texts.iter().all(|t| !t.contains("AJ")), "{texts:?}");
        assert!(
            bp.found()
                .iter()
                .any(|(s, n)| s == "#AljazeeraEnglish" && *n == 4),
            "{:?}",
            bp.found()
        );
    }

    #[test]
    fn one_item_loses_its_calls_to_action_but_not_its_news() {
        let bp = Boilerplate::default();
        let text = "The mayor resigned on Monday.\nBy Jane Doe\nThe post Mayor resigns appeared first on Daily Times.\nRead more at https://example.com/x\nSign up for our morning newsletter.\nhttps://example.com/a https://example.com/b";
        assert_eq!(bp.strip(text), "The mayor resigned on Monday.");
        // News that merely mentions following or subscribing is kept.
        let news = "Fans who follow the team were angry. Subscribers to the service rose 10%.";
        assert_eq!(bp.strip(news), news);
        assert_eq!(
            bp.strip("By the river, a fire broke out."),
            "By the river, a fire broke out."
        );
    }

    #[test]
    fn a_sentence_shared_by_two_items_of_twenty_is_news_not_boilerplate() {
        let mut texts: Vec<String> = (0..20)
            .map(|i| format!("Story number {i} happened in town {}.", i * 7))
            .collect();
        texts[3].push_str(" The recall election is on Sept. 14.");
        texts[9].push_str(" The recall election is on Sept. 14.");
        let before = texts.clone();
        let bp = strip_feed(&mut texts);
        assert_eq!(texts, before, "{:?}", bp.found());
        assert!(bp.found().is_empty());
    }

    #[test]
    fn recurrence_needs_a_share_of_the_fetch_and_a_floor_of_items() {
        let blurb = "Get the Morning Briefing delivered to your inbox.";
        let mut texts: Vec<String> = (0..30).map(|i| format!("Event {i} took place.")).collect();
        for t in texts.iter_mut().take(5) {
            t.push('\n');
            t.push_str(blurb);
        }
        // 5 of 30 is under the 20% share: kept.
        let bp = Boilerplate::find(&texts);
        assert!(!bp.found().iter().any(|(s, _)| s == blurb));
        for t in texts.iter_mut().skip(5).take(2) {
            t.push('\n');
            t.push_str(blurb);
        }
        let bp = Boilerplate::find(&texts);
        assert!(bp.found().iter().any(|(s, n)| s == blurb && *n == 7));
        // Two items are never enough, whatever the share.
        let two = vec![format!("A.\n{blurb}"), format!("B.\n{blurb}")];
        assert!(Boilerplate::find(&two).found().is_empty());
    }

    #[test]
    fn regression_youtube_call_to_action_in_eclipse_summary() {
        // before: the 2020-12-15 eclipse story's summary ended with an ABS-CBN video's "To watch
        // more Kaunting Kaalaman videos, click the link below:"
        let news = "Thousands watched the total solar eclipse over Chile and Argentina.";
        let item = format!("{news} To watch more Kaunting Kaalaman videos, click the link below:");
        assert_eq!(Boilerplate::default().strip(&item), news);
        let kept = "Officials said residents should click the link to the map before leaving.";
        assert_eq!(Boilerplate::default().strip(kept), kept);
    }

    #[test]
    fn regression_cnn_related_headlines_list_in_aukus_summary() {
        // before: CNN's item on the AUKUS pact had as its whole description two bullets linking
        // to other CNN stories, which became the story summary ("• France recall of … • Why …")
        let bp = Boilerplate::default();
        let links = "• Envoys recalled in a first for modern times, official says\n• Why Paris is angry about the submarine deal \n• Could the pact change the region?";
        assert_eq!(bp.strip(links), "");
        let after_news = format!("Paris recalled its ambassadors on Friday.\n\n{links}\n");
        assert_eq!(
            bp.strip(&after_news),
            "Paris recalled its ambassadors on Friday."
        );
        // bullets that are sentences, or followed by more text, are the item's own news
        let points = "Key points:\n• The pact covers submarines.\n• France was not told.";
        assert_eq!(bp.strip(points), points);
        let inside = "Key points:\n• Submarines\n• Missiles\nThe deal was signed on Thursday.";
        assert_eq!(bp.strip(inside), inside);
        assert_eq!(bp.strip("•Not a list item"), "•Not a list item");
    }

    #[test]
    fn sentences_do_not_end_at_abbreviations() {
        let s: Vec<&str> =
            segments("Mr. Biden met U.S. officials in St. Louis. Then he left.\nNext line")
                .collect();
        assert_eq!(
            s,
            vec![
                "Mr. Biden met U.S. officials in St. Louis.",
                "Then he left.",
                "Next line"
            ]
        );
    }

    #[test]
    fn fold_drops_links_and_keeps_numbers() {
        assert_eq!(
            fold("- Follow us on Twitter: https://twitter.com/AJEnglish/"),
            "follow us on twitter"
        );
        assert_eq!(fold("Subscribe: aje.io/AJSubscribe"), "subscribe");
        assert_eq!(fold("Covid: 1,234 new cases"), "covid 1234 new cases");
    }
}
