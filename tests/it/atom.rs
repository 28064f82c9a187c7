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
