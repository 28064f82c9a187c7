//! Ingest through the library with a real loopback HTTP server and a real SQLite file: known
//! entries skip normalising and tagging (counted in the fetch report), changed ones are tagged
//! again and updated in place, entries another feed brought are linked, not tagged.

use digestif::pipeline::{self, Context, FeedStatus};

use crate::support::app::rss;
use crate::support::http::{Route, TestServer};

fn context(dir: &std::path::Path, feeds: &[(&str, String)]) -> Context {
    let mut text = format!(
        "state_dir = \"{}\"\ntimezone = \"UTC\"\n",
        dir.join("state").display()
    );
    for (name, url) in feeds {
        text.push_str(&format!("\n[[feed]]\nname = \"{name}\"\nurl = \"{url}\"\n"));
    }
    let (settings, _) =
        digestif::config::parse_str(&text, &dir.join("config.toml")).expect("config");
    Context::new(settings).expect("context")
}

/// (entries, new, tagged) of each feed, by feed name.
async fn round(ctx: &Context) -> Vec<(String, usize, usize, usize)> {
    let reports = pipeline::fetch_all(ctx, true).await.expect("fetch round");
    reports
        .into_iter()
        .map(|r| match r.status {
            FeedStatus::Fetched {
                entries,
                new,
                tagged,
            } => (r.feed, entries, new, tagged),
            other => panic!("{}: {other:?}", r.feed),
        })
        .collect()
}

const ITEMS: &[(&str, &str, &str)] = &[
    (
        "a1",
        "Germany and France agree on new energy pact in Berlin",
        "<p>Chancellor Friedrich Merz and President Emmanuel Macron met in Berlin.</p>",
    ),
    (
        "a2",
        "Floods hit northern Italy",
        "<p>Heavy rain flooded towns near Milan.</p>",
    ),
    (
        "a3",
        "Japan launches a lunar probe",
        "<p>The probe left Tanegashima on Friday.</p>",
    ),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unchanged_feed_without_validators_is_not_tagged_again() {
    let http = TestServer::start();
    // No ETag, no Last-Modified: every fetch gets the whole body again.
    http.route("/a.xml", Route::feed(rss("Alpha", ITEMS)));
    let dir = tempfile::tempdir().expect("dir");
    let ctx = context(dir.path(), &[("Alpha", http.url("/a.xml"))]);
    assert_eq!(round(&ctx).await, vec![("Alpha".to_string(), 3, 3, 3)]);
    assert_eq!(round(&ctx).await, vec![("Alpha".to_string(), 3, 0, 0)]);
    assert_eq!(http.hits("/a.xml"), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changed_entry_is_tagged_again_and_updated_in_place() {
    let http = TestServer::start();
    let first = rss("Alpha", ITEMS);
    http.route("/a.xml", Route::feed(first.clone()));
    let dir = tempfile::tempdir().expect("dir");
    let ctx = context(dir.path(), &[("Alpha", http.url("/a.xml"))]);
    assert_eq!(round(&ctx).await, vec![("Alpha".to_string(), 3, 3, 3)]);
    let corrected = first.replace(
        "Heavy rain flooded towns near Milan.",
        "Heavy rain flooded towns near Milan and Turin.",
    );
    http.route("/a.xml", Route::feed(corrected));
    assert_eq!(round(&ctx).await, vec![("Alpha".to_string(), 3, 0, 1)]);
    let stored = ctx
        .with_store(|s| s.articles_between(jiff::Timestamp::UNIX_EPOCH, jiff::Timestamp::MAX, 10))
        .expect("articles");
    assert_eq!(stored.len(), 3, "updated in place, not stored twice");
    let floods = stored
        .iter()
        .find(|a| a.title == "Floods hit northern Italy")
        .expect("floods");
    assert!(floods.text.contains("Turin"), "{}", floods.text);
    assert!(
        floods.entities.iter().any(|e| e.name == "Turin"),
        "tagged again: {:?}",
        floods.entities
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entry_another_feed_brought_is_linked_not_tagged() {
    let http = TestServer::start();
    let body = rss("Alpha", ITEMS);
    http.route("/a.xml", Route::feed(body.clone()));
    http.route("/b.xml", Route::feed(body));
    let dir = tempfile::tempdir().expect("dir");
    let ctx = context(
        dir.path(),
        &[("Alpha", http.url("/a.xml")), ("Beta", http.url("/b.xml"))],
    );
    let feeds = ctx.settings.feeds.clone();
    let a = pipeline::ingest_feed(&ctx, &feeds[0], true)
        .await
        .expect("a");
    let b = pipeline::ingest_feed(&ctx, &feeds[1], true)
        .await
        .expect("b");
    assert_eq!(
        a.status,
        FeedStatus::Fetched {
            entries: 3,
            new: 3,
            tagged: 3
        }
    );
    assert_eq!(
        b.status,
        FeedStatus::Fetched {
            entries: 3,
            new: 0,
            tagged: 0
        }
    );
    let upto = ctx.with_store(|s| s.max_cursor()).expect("cursor");
    let names = vec!["Alpha".to_string(), "Beta".to_string()];
    let cands = ctx
        .with_store(|s| s.candidates("d", &names, None, upto, jiff::Timestamp::UNIX_EPOCH))
        .expect("candidates");
    assert_eq!(cands.len(), 3);
    for c in &cands {
        assert_eq!(c.feeds, names, "{}", c.article.title);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_without_link_or_guid_are_known_by_their_fingerprint() {
    let http = TestServer::start();
    let body = "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Bare</title>\
        <item><title>No link here</title><description>Only a title and a text.</description></item>\
        <item><title>Nor here</title><description>Another text without an id.</description></item>\
        </channel></rss>";
    http.route("/bare.xml", Route::feed(body));
    let dir = tempfile::tempdir().expect("dir");
    let ctx = context(dir.path(), &[("Bare", http.url("/bare.xml"))]);
    assert_eq!(round(&ctx).await, vec![("Bare".to_string(), 2, 2, 2)]);
    assert_eq!(round(&ctx).await, vec![("Bare".to_string(), 2, 0, 0)]);
}
