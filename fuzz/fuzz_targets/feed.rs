//! Feed parsing and normalising of arbitrary bytes: the parser must return a feed or an error,
//! never panic or run away, and every entry it returns must normalise without panicking into an
//! article whose offsets and text are consistent.
#![no_main]

use libfuzzer_sys::fuzz_target;

use digestif::feed::{ParseLimits, parse_with};
use digestif::normalize;

fuzz_target!(|data: &[u8]| {
    let limits = ParseLimits { max_items: 50 };
    let Ok(feed) = parse_with(data, "https://feed.example/rss", &limits) else {
        return;
    };
    assert!(feed.entries.len() <= limits.max_items);
    let now = jiff::Timestamp::UNIX_EPOCH;
    for entry in &feed.entries {
        let _ = normalize::raw_key(entry, "https://feed.example/rss");
        let _ = normalize::fingerprint(entry);
        if let Some(a) = normalize::normalize_text(entry, "Fuzz", "https://feed.example/rss", now) {
            assert!(!a.title.is_empty() || !a.text.is_empty());
        }
    }
});
