//! Config parsing of arbitrary text: a config is valid settings or an error naming where, never a
//! panic (durations, sizes, schedules, regexes, templates and URLs are all checked here).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = std::path::Path::new("/nonexistent/fuzz/config.toml");
    if let Err(e) = digestif::config::parse_str(text, path) {
        assert!(!e.to_string().is_empty());
    }
});
