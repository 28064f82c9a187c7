//! Bounds on what input can grow, through the real binary against a loopback feed server and a
//! real SQLite file: a feed's `max_items` (the newest items of a fetch are read, the rest never
//! stored), a digest's `max_items` and `max_stories` (the rest counted and said in every edition,
//! not rendered), and the bounds of those keys in `check-config`.

use crate::support::app::{App, rss};
use crate::support::http::{Route, TestServer};

/// Distinct headlines that share no names, so each report is its own story.
const TITLES: [&str; 12] = [
    "Dam bursts in mountain valley",
    "Central bank holds interest rates",
    "Harvest festival opens downtown",
    "Chess prodigy wins junior title",
    "Ferry service resumes after storm",
    "Museum returns ancient pottery",
    "Rail strike enters second week",
    "Bakery wins national bread award",
    "Library extends opening hours",
    "Volcano shows signs of unrest",
    "Cyclists ride across the desert",
    "Orchestra announces winter season",
];

fn serve(http: &TestServer, n: usize) {
    let items: Vec<(String, String)> = (0..n)
        .map(|i| (format!("item{i}"), TITLES[i % TITLES.len()].to_string()))
        .collect();
    let refs: Vec<(&str, &str, &str)> = items
        .iter()
        .map(|(g, t)| (g.as_str(), t.as_str(), "<p>Details follow.</p>"))
        .collect();
    http.route("/feed.xml", Route::feed(rss("Feed", &refs)));
}

fn config(http: &TestServer, feed_extra: &str, digest_extra: &str) -> String {
    format!(
        r#"state_dir = "{{dir}}/state"
timezone = "UTC"

[[feed]]
name = "Only Feed"
url = "{url}"
{feed_extra}

[[digest]]
name = "daily"
at = "07:00"
window = "48h"
{digest_extra}

[[digest.output]]
kind = "file"
dir = "{{dir}}/digests"
formats = ["json", "txt", "html", "md"]
"#,
        url = http.url("/feed.xml"),
    )
}

fn digest_guids(d: &serde_json::Value) -> Vec<String> {
    let mut guids: Vec<String> = d["stories"]
        .as_array()
        .expect("stories")
        .iter()
        .flat_map(|s| s["articles"].as_array().expect("articles").clone())
        .map(|a| {
            let url = a["url"].as_str().unwrap_or_default();
            url.rsplit('/').next().unwrap_or_default().to_string()
        })
        .collect();
    guids.sort();
    guids
}

fn read_output(app: &App, ext: &str) -> String {
    let path = app
        .outputs()
        .into_iter()
        .find(|p| p.extension().is_some_and(|e| e == ext))
        .unwrap_or_else(|| panic!("a .{ext} output"));
    std::fs::read_to_string(path).expect("read output")
}

#[test]
fn feed_max_items_reads_only_the_newest_items_of_a_fetch() {
    let http = TestServer::start();
    serve(&http, 12);
    let app = App::new(&config(&http, "max_items = 5", ""));
    let r = app.run(&["once"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let digests = app.json_digests();
    assert_eq!(digests.len(), 1);
    // `rss` dates item i ten minutes before item i-1: items 0..5 are the newest.
    let want: Vec<String> = (0..5).map(|i| format!("item{i}")).collect();
    assert_eq!(digest_guids(&digests[0]), want);
    assert_eq!(digests[0]["omitted"]["reports"], 0);
    assert!(
        r.stderr
            .contains("12 usable items, the oldest 7 beyond max_items = 5 not read"),
        "the log says what was dropped: {}",
        r.stderr
    );
}

#[test]
fn digest_caps_count_the_rest_and_say_it_in_every_edition() {
    let http = TestServer::start();
    serve(&http, 12);
    let app = App::new(&config(&http, "", "max_items = 8\nmax_stories = 3"));
    let r = app.run(&["once"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let d = &app.json_digests()[0];
    let stories = d["stories"].as_array().expect("stories");
    assert_eq!(stories.len(), 3, "max_stories: {d}");
    let shown = digest_guids(d).len();
    let omitted = &d["omitted"];
    assert_eq!(
        omitted["reports"], 4,
        "12 reports, the newest 8 read: {omitted}"
    );
    let hidden = omitted["story_reports"].as_u64().expect("story_reports") as usize;
    assert_eq!(
        shown + hidden,
        8,
        "every report read is shown or counted: {omitted}"
    );
    let more = omitted["stories"].as_u64().expect("stories") as usize;
    assert!(more >= 1 && hidden >= more, "{omitted}");
    // The oldest reports are the ones left unread.
    assert!(
        digest_guids(d)
            .iter()
            .all(|g| g.trim_start_matches("item").parse::<usize>().unwrap() < 8),
        "{:?}",
        digest_guids(d)
    );
    let note = format!(
        "{more} more stories ({hidden} reports) past max_stories and 4 older reports past max_items not shown"
    );
    for ext in ["txt", "html", "md"] {
        // The text edition wraps lines: compare with whitespace folded.
        let text = read_output(&app, ext);
        let folded = text.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(
            folded.contains(&note),
            "{ext} edition says what was left out:\n{text}"
        );
    }
}

#[test]
fn count_keys_out_of_bounds_are_config_errors_naming_the_bounds() {
    let http = TestServer::start();
    for (feed_extra, digest_extra, key, bound) in [
        (
            "max_items = 0",
            "",
            "feed[0].max_items",
            "between 1 and 10,000",
        ),
        (
            "max_items = 20000",
            "",
            "feed[0].max_items",
            "between 1 and 10,000",
        ),
        (
            "",
            "max_items = 0",
            "digest[0].max_items",
            "between 1 and 100,000",
        ),
        (
            "",
            "max_stories = 10001",
            "digest[0].max_stories",
            "between 1 and 10,000",
        ),
    ] {
        let app = App::new(&config(&http, feed_extra, digest_extra));
        let r = app.run(&["check-config"]);
        assert_eq!(r.code, 78, "{feed_extra}{digest_extra}: {}", r.stderr);
        assert!(
            r.stderr.contains(key) && r.stderr.contains(bound) && r.stderr.contains("config.toml:"),
            "{feed_extra}{digest_extra}: {}",
            r.stderr
        );
    }
    let app = App::new(&config(
        &http,
        "max_items = 10000",
        "max_items = 1\nmax_stories = 1",
    ));
    let r = app.run(&["check-config"]);
    assert_eq!(r.code, 0, "the bounds themselves are allowed: {}", r.stderr);
}
