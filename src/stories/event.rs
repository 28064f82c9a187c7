//! Whether two stories of different digests tell the same event — the evidence behind a
//! "developing" link. Pure: the caller supplies the stories' signatures and headlines, the window
//! and its stored background.
//!
//! Signatures ([`super::Story::signature`]) hold a story's heaviest entity keys (`e:…`) and terms
//! (`t:…`). Two stories whose signatures agree (cosine, [`super::CONTINUATION_THRESHOLD`]) are
//! the same event only when what they share is specific to an event:
//! - **not context**: a place (an entity tagged as a location, a word of one, or a word derived
//!   from one: "Californians", "Lebanese"), or a key in much of the window and its background
//!   week ([`BROAD_SHARE`]: "Covid-19", "Christmas" in December) proves nothing;
//! - **counted once**: a term that is a word or the initials of a shared entity ("un" of "United
//!   Nations", "boris" of "Boris Johnson") adds nothing to the entity;
//! - **enough of it**: [`MIN_EVENT_EVIDENCE`] pieces, one of them a name (an entity, or a word of
//!   one) that few stories carry ([`ANCHOR_MAX_SHARE`]), or [`MIN_TERM_EVIDENCE`] pieces — a
//!   shared generic event word ("quake", "final", "guilty"), a well-known name or an outlet's
//!   programme alone does not make one event;
//! - **no conflicting actors**: when each story's heaviest names include one that the other lacks
//!   and that no other story carries ("Leipzig" against "Bayern", "Fremont" against
//!   "Ridgecrest"), they are two events of one kind, however much else they share;
//! - **not an edition**: a headline dated with a year or a weekday ("Best of cartoons, August 19,
//!   2020", "SRO | Teleradyo (15 December 2020)") is one edition of a series, not an event.

use std::collections::{HashMap, HashSet};

use super::{Background, PreviousStory, StoryArticle};
use crate::model::EntityKind;

/// A continuation needs at least this many shared pieces of event evidence, one of them a name.
pub const MIN_EVENT_EVIDENCE: usize = 2;
/// … or this many pieces when none is a name.
pub const MIN_TERM_EVIDENCE: usize = 3;
/// A key in at least this share of the reports of the window and its background is broad
/// context, not event evidence …
pub const BROAD_SHARE: f64 = 0.03;
/// … provided it is in at least this many of them.
pub const BROAD_MIN_REPORTS: u64 = 5;
/// How many of a story's heaviest names are checked for a conflicting actor.
const CONFLICT_NAMES: usize = 2;
/// A name carried by more than this share of the stories counted ([`EventContext::with_stories`])
/// — a regular of the news ("Donald Trump"), an outlet's programme ("TV Patrol") — counts as
/// evidence but cannot be the name a link rests on …
pub const ANCHOR_MAX_SHARE: f64 = 0.006;
/// … nor can one carried by more than this many, however many stories there are.
pub const ANCHOR_MIN_STORIES: u32 = 6;

/// A story of this build, as the continuity check sees it.
#[derive(Debug, Clone, Copy)]
pub struct NewStory<'a> {
    pub headline: &'a str,
    pub signature: &'a [(String, f32)],
}

/// Why two stories are, or are not, one event (for logs and tests).
#[derive(Debug, Clone, PartialEq)]
pub enum Evidence {
    /// The same event: the shared pieces of evidence.
    Same(Vec<String>),
    /// A headline is a dated edition of a series.
    Edition,
    /// Each has a central name the other lacks (theirs, then the earlier story's).
    Conflict(String, String),
    /// Too little shared evidence (what there was).
    Weak(Vec<String>),
}

impl Evidence {
    pub fn is_same(&self) -> bool {
        matches!(self, Evidence::Same(_))
    }
}

/// What the keys of signatures mean around one build: places, rarity against the window and its
/// stored background week, and how many stories carry each key.
#[derive(Debug, Default)]
pub struct EventContext {
    rarity: Background,
    places: HashSet<String>,
    /// In how many of the stories (this build's and the earlier ones) each key is.
    spread: HashMap<String, u32>,
    /// How many stories were counted.
    stories: u32,
}

impl EventContext {
    /// The context of the window `window`, with `background` (the stored week before it, whose
    /// articles are `background_articles`: their places count too).
    pub fn new(
        window: &[StoryArticle<'_>],
        background: &Background,
        background_articles: &[StoryArticle<'_>],
    ) -> EventContext {
        let mut rarity = background.clone();
        rarity.add_articles(window);
        let mut places = HashSet::new();
        for a in window.iter().chain(background_articles) {
            for e in a.entities.iter().filter(|e| e.kind == EntityKind::Location) {
                let k = e.key();
                places.extend(k.split(' ').map(str::to_string));
                places.insert(k);
            }
        }
        EventContext {
            rarity,
            places,
            spread: HashMap::new(),
            stories: 0,
        }
    }

    /// Counts the stories whose signatures are given (every story of this build and the earlier
    /// ones that may be continued): a name only one story carries is that story's own.
    pub fn with_stories<'s>(
        mut self,
        signatures: impl IntoIterator<Item = &'s [(String, f32)]>,
    ) -> Self {
        for sig in signatures {
            self.stories += 1;
            for (k, _) in sig {
                *self.spread.entry(k.clone()).or_insert(0) += 1;
            }
        }
        self
    }

    /// True when `key` (`e:…` or `t:…`) is a place: a location, a word of one, or a word that
    /// begins like one ("californian", "lebanese").
    fn is_place(&self, key: &str) -> bool {
        let bare = bare(key);
        if self.places.contains(bare) {
            return true;
        }
        key.starts_with("t:") && self.places.iter().any(|p| derived_from(bare, p))
    }

    /// True when `key` is in much of the window and its background ([`BROAD_SHARE`]).
    fn is_broad(&self, key: &str) -> bool {
        let df = self.rarity.df(key);
        df >= BROAD_MIN_REPORTS && df as f64 >= BROAD_SHARE * self.rarity.docs() as f64
    }

    /// Whether the new story `new` and the earlier one with `old` signature and headline tell
    /// the same event, and why.
    pub fn judge(&self, new: &NewStory<'_>, old: &PreviousStory) -> Evidence {
        if is_edition(new.headline) || is_edition(&old.headline) {
            return Evidence::Edition;
        }
        let (a, b) = (new.signature, old.signature.as_slice());
        if let (Some(x), Some(y)) = (self.own_name(a, b), self.own_name(b, a)) {
            return Evidence::Conflict(x, y);
        }
        let pieces = self.shared_pieces(a, b);
        let names_a = names(a);
        let names_b = names(b);
        let named = pieces
            .iter()
            .any(|k| (is_name(k, &names_a) || is_name(k, &names_b)) && self.is_anchor(k));
        let enough =
            (named && pieces.len() >= MIN_EVENT_EVIDENCE) || pieces.len() >= MIN_TERM_EVIDENCE;
        if enough {
            Evidence::Same(pieces)
        } else {
            Evidence::Weak(pieces)
        }
    }

    /// True when a name can carry a link: few of the counted stories carry it
    /// ([`ANCHOR_MAX_SHARE`], [`ANCHOR_MIN_STORIES`]).
    fn is_anchor(&self, key: &str) -> bool {
        let most = (ANCHOR_MAX_SHARE * f64::from(self.stories)) as u32;
        self.spread.get(key).copied().unwrap_or(0) <= most.max(ANCHOR_MIN_STORIES)
    }

    /// One of the [`CONFLICT_NAMES`] heaviest names of `sig` (not broad) that `other` lacks and no
    /// other story carries.
    fn own_name(&self, sig: &[(String, f32)], other: &[(String, f32)]) -> Option<String> {
        let ns = names(sig);
        let mut seen: HashSet<String> = HashSet::new();
        sig.iter()
            .map(|(k, _)| k.as_str())
            .filter(|k| !self.is_broad(k) && is_name(k, &ns))
            .filter(|k| seen.insert(stem(bare(k))))
            .take(CONFLICT_NAMES)
            .find(|k| {
                !other.iter().any(|(o, _)| o.as_str() == *k)
                    && self.spread.get(*k).copied().unwrap_or(0) <= 1
            })
            .map(str::to_string)
    }

    /// The distinct pieces of event evidence two signatures share: shared keys that are neither
    /// places nor broad, a term that is a word or the initials of a shared entity counted with it.
    fn shared_pieces(&self, a: &[(String, f32)], b: &[(String, f32)]) -> Vec<String> {
        let shared: Vec<&str> = a
            .iter()
            .map(|(k, _)| k.as_str())
            .filter(|k| b.iter().any(|(o, _)| o.as_str() == *k))
            .collect();
        let mut of_entities: HashSet<String> = HashSet::new();
        for e in shared.iter().filter_map(|k| k.strip_prefix("e:")) {
            of_entities.extend(e.split(' ').map(stem));
            of_entities.insert(e.split(' ').filter_map(|w| w.chars().next()).collect());
        }
        shared
            .into_iter()
            .filter(|k| !self.is_place(k) && !self.is_broad(k))
            .filter(|k| match k.strip_prefix("t:") {
                Some(t) => !of_entities.contains(&stem(t)),
                None => true,
            })
            .map(str::to_string)
            .collect()
    }
}

/// A key without its namespace.
fn bare(key: &str) -> &str {
    key.split_once(':').map_or(key, |(_, k)| k)
}

/// A word folded for comparison with the grouping's stemmed terms (a plural "s" dropped).
fn stem(w: &str) -> String {
    let mut w = w.to_string();
    super::features::stem_in_place(&mut w);
    w
}

/// The words of the entities of a signature, stemmed like its terms: a term among them is a name.
fn names(sig: &[(String, f32)]) -> HashSet<String> {
    sig.iter()
        .filter_map(|(k, _)| k.strip_prefix("e:"))
        .flat_map(|e| e.split(' '))
        .map(stem)
        .collect()
}

/// True when `key` is an entity or a word of one of `names`.
fn is_name(key: &str, names: &HashSet<String>) -> bool {
    key.starts_with("e:")
        || key
            .strip_prefix("t:")
            .is_some_and(|t| names.contains(&stem(t)))
}

/// True when `word` is derived from the place word `place`: they begin alike over at least four
/// letters and 70% of the shorter ("californian" from "california", "lebanese" from "lebanon",
/// "chinese" from "china"; not "austin" from "australia").
fn derived_from(word: &str, place: &str) -> bool {
    if word == place {
        return true;
    }
    let common = word
        .chars()
        .zip(place.chars())
        .take_while(|(x, y)| x == y)
        .count();
    let shorter = word.chars().count().min(place.chars().count());
    common >= 4 && common * 10 >= shorter * 7
}

const MONTHS: &[&str] = &[
    "jan",
    "january",
    "feb",
    "february",
    "mar",
    "march",
    "apr",
    "april",
    "may",
    "jun",
    "june",
    "jul",
    "july",
    "aug",
    "august",
    "sep",
    "sept",
    "september",
    "oct",
    "october",
    "nov",
    "november",
    "dec",
    "december",
];
const WEEKDAYS: &[&str] = &[
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// True when a headline is dated like an edition of a series: a day of a month with its year
/// ("August 19, 2020", "15 December 2020"), a weekday with a day of a month ("Wednesday,
/// December 16"), or an ISO date. A news headline names a day ("set on Jan. 11") but rarely
/// its year or weekday.
pub fn is_edition(headline: &str) -> bool {
    let words: Vec<String> = headline
        .split(|c: char| !c.is_alphanumeric() && c != '-')
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    let day = |w: &str| {
        let w = w.trim_end_matches(|c: char| c.is_ascii_alphabetic());
        !w.is_empty() && w.len() <= 2 && w.parse::<u8>().is_ok_and(|d| (1..=31).contains(&d))
    };
    let year = |w: &str| w.len() == 4 && w.parse::<u16>().is_ok_and(|y| (1900..=2100).contains(&y));
    let month = |w: &str| MONTHS.contains(&w);
    let iso = |w: &str| {
        let p: Vec<&str> = w.split('-').collect();
        p.len() == 3 && year(p[0]) && p[1].len() == 2 && p[2].len() == 2
    };
    let at = |i: usize| words.get(i).map(String::as_str).unwrap_or("");
    (0..words.len()).any(|i| {
        let w = at(i);
        if iso(w) {
            return true;
        }
        if !month(w) {
            return false;
        }
        // "December 16, 2020" / "16 December 2020"
        let dated =
            (day(at(i + 1)) && year(at(i + 2))) || (i >= 1 && day(at(i - 1)) && year(at(i + 1)));
        // "Wednesday, December 16" / "Wednesday 16 December"
        let weekday = |j: Option<usize>| j.is_some_and(|j| WEEKDAYS.contains(&at(j)));
        let named_day = (day(at(i + 1)) && weekday(i.checked_sub(1)))
            || (i >= 1 && day(at(i - 1)) && weekday(i.checked_sub(2)));
        dated || named_day
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dated_series_headlines_are_editions_and_news_dates_are_not() {
        for h in [
            "Best of cartoons, August 19, 2020",
            "SRO | Teleradyo (15 December 2020)",
            "Kabayan | Teleradyo (20 August 2020)",
            "Your Daily Horoscope for Wednesday, December 16",
            "Target Time and superquiz, Thursday, December 17",
            "LIVE: TV Patrol livestream | December 15, 2020 Full Episode",
            "Briefing 2020-12-16",
        ] {
            assert!(is_edition(h), "{h}");
        }
        for h in [
            "Pilot run for in-person learning set on Jan. 11",
            "Mali president, prime minister arrested in apparent coup",
            "May says no to a second vote",
            "Victoria records 216 new cases of coronavirus overnight",
        ] {
            assert!(!is_edition(h), "{h}");
        }
    }

    #[test]
    fn place_words_are_recognised_by_their_stem() {
        assert!(derived_from("californian", "california"));
        assert!(derived_from("lebanese", "lebanon"));
        assert!(derived_from("chinese", "china"));
        assert!(!derived_from("interactive", "international"));
        assert!(!derived_from("austin", "australia"));
    }
}
