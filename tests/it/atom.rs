//! The digest as a feed: the Atom document validates as Atom 1.0 when parsed back by feed-rs,
//! holds each digest's HTML, and keeps its ids stable when it is rewritten after a new build.

use digestif::digest::{AtomItem, Renderer};

use crate::render::sample_digest;

fn parse(xml: &str) -> feed_rs::model::Feed {
    feed_rs::parser::parse(xml.as_bytes()).expect("feed-rs parses the Atom feed")
}

#[test]
fn atom_feed_parses_back_and_keeps_ids_stable_across_builds() {
    let r = Renderer::new(None).expect("renderer");
    let d1 = sample_digest();
    let mut d2 = sample_digest();
    d2.generated_at = "2026-11-29T07:00:00Z".parse().expect("ts");
    d2.stories[0].title = "Second day: the convention's aftermath".into();
    let loc = "/srv/digests/daily.atom";
    let link = Some("https://news.example.org/daily/");
    let first = r
        .render_atom(
            "daily",
            loc,
            link,
            &[AtomItem { id: 1, digest: &d1 }],
            90_000,
        )
        .expect("atom");
    let second = r
        .render_atom(
            "daily",
            loc,
            link,
            &[
                AtomItem { id: 2, digest: &d2 },
                AtomItem { id: 1, digest: &d1 },
            ],
            90_000,
        )
        .expect("atom");
    let f1 = parse(&first);
    let f2 = parse(&second);
    assert_eq!(f2.feed_type, feed_rs::model::FeedType::Atom);
    assert_eq!(f1.id, f2.id, "the feed id does not change between builds");
    assert!(f2.id.starts_with("urn:uuid:"));
    assert_eq!(f2.entries.len(), 2);
    assert_eq!(
        f1.entries[0].id, f2.entries[1].id,
        "digest #1 keeps its entry id"
    );
    assert_ne!(f2.entries[0].id, f2.entries[1].id);
    assert_eq!(
        f2.updated.map(|t| t.to_rfc3339()),
        Some("2026-11-29T07:00:00+00:00".to_string())
    );
    let e = &f2.entries[0];
    assert_eq!(
        e.title.as_ref().map(|t| t.content.as_str()),
        Some("daily — 28 Nov 2026 — 7 stories"),
        "the digest's subject titles its entry when it has no title"
    );
    assert_eq!(e.links.first().map(|l| l.href.as_str()), link);
    let html = e
        .content
        .as_ref()
        .and_then(|c| c.body.as_deref())
        .expect("entry content");
    assert!(
        html.contains("Second day: the convention&#39;s aftermath"),
        "{html}"
    );
    assert!(html.contains("<table role=\"presentation\""));
    assert!(
        !html.contains("<head>") && !html.contains("display:none"),
        "no head, no preheader"
    );
    assert_eq!(
        f2.authors.first().and_then(|a| a.name.as_deref()),
        Some("digestif")
    );
    // A feed with no digests yet is still a valid feed.
    let empty = r
        .render_atom("daily", loc, None, &[], 90_000)
        .expect("atom");
    assert!(parse(&empty).entries.is_empty());
}

/// `formats = ["atom"]` in a file output: each build rewrites `<dir>/<digest>.atom` with the last
/// digests, newest first; feed-rs reads it as Atom, and an entry keeps its id when the feed is
/// rewritten after the next build.
#[test]
fn atom_file_output_is_rewritten_after_each_build_with_stable_ids() {
    use crate::e2e::serve_initial;
    use crate::support::app::App;
    use crate::support::http::TestServer;

    let http = TestServer::start();
    serve_initial(&http);
    let config = format!(
        r#"state_dir = "{{dir}}/state"
[[feed]]
name = "Alpha News"
url = "{}"

[[digest]]
name = "daily"
at = "07:00"
window = "48h"
send_empty = true
link = "https://news.example.org/daily/"

[[digest.output]]
kind = "file"
dir = "{{dir}}/digests"
formats = ["html", "atom"]
"#,
        http.url("/alpha.xml")
    );
    let app = App::new(&config);
    let r = app.run(&["check-config"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let atom_path = app.path().join("digests/daily.atom");

    let r = app.run(&["once"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let first = parse(&std::fs::read_to_string(&atom_path).expect("daily.atom written"));
    assert_eq!(first.feed_type, feed_rs::model::FeedType::Atom);
    assert_eq!(first.entries.len(), 1);
    let content = first.entries[0]
        .content
        .as_ref()
        .and_then(|c| c.body.clone());
    assert!(
        content.is_some_and(|b| b.contains("Floods hit northern Italy")),
        "the entry holds the digest's HTML"
    );

    let r = app.run(&["digest", "daily"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let second = parse(&std::fs::read_to_string(&atom_path).expect("daily.atom"));
    assert_eq!(second.id, first.id, "the feed keeps its id");
    assert_eq!(second.entries.len(), 2, "the last digests, newest first");
    assert_eq!(
        second.entries[1].id, first.entries[0].id,
        "an entry keeps its id"
    );
    assert_ne!(second.entries[0].id, second.entries[1].id);
    assert!(
        second.entries[0]
            .links
            .iter()
            .any(|l| l.href == "https://news.example.org/daily/"),
        "{:?}",
        second.entries[0].links
    );
    // No temporary left beside it; the dated HTML files are still written.
    let names: Vec<String> = std::fs::read_dir(app.path().join("digests"))
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!names.iter().any(|n| n.ends_with(".tmp")), "{names:?}");
    assert_eq!(
        names.iter().filter(|n| n.ends_with(".html")).count(),
        2,
        "{names:?}"
    );
}
