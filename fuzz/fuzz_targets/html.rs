//! HTML to text and HTML sanitising of arbitrary text: never a panic, no script survives the
//! sanitiser, and sanitised HTML reads back as text.
#![no_main]

use libfuzzer_sys::fuzz_target;

use digestif::normalize::{html_to_text, sanitize_html};

fuzz_target!(|data: &[u8]| {
    let Ok(html) = std::str::from_utf8(data) else {
        return;
    };
    let text = html_to_text(html);
    assert!(!text.contains("\n\n\n"));
    let safe = sanitize_html(html, Some("https://feed.example/"));
    assert!(!safe.to_ascii_lowercase().contains("<script"));
    let _ = html_to_text(&safe);
});
