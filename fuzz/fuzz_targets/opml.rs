//! OPML import of arbitrary bytes: feeds or an error, never a panic; what is imported exports and
//! imports again to the same URLs.
#![no_main]

use libfuzzer_sys::fuzz_target;

use digestif::opml;

fuzz_target!(|data: &[u8]| {
    let Ok(feeds) = opml::import(data) else {
        return;
    };
    let (web, _warnings) = opml::web_feeds_only(feeds);
    let again = opml::import(opml::export(&web).as_bytes()).expect("exported OPML imports");
    let urls = |f: &[opml::OpmlFeed]| f.iter().map(|f| f.url.clone()).collect::<Vec<_>>();
    let mut a = urls(&web);
    let mut b = urls(&again);
    a.sort();
    b.sort();
    assert_eq!(a, b);
    let _ = opml::to_toml(&web);
});
