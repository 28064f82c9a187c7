//! Rendering speed: a heavy synthetic digest (40 stories of 4 reports, 60 other headlines,
//! 220 articles) in each format, and building the email message from it.

use digestif::deliver::{EmailContent, build_message};
use digestif::digest::{
    ArticleOut, Digest, EntityRef, FeedHealthOut, FeedStatus, Format, Renderer, Section, StoryOut,
    TrendOut,
};
use digestif::model::EntityKind;
use divan::counter::ItemsCount;

fn main() {
    divan::main();
}

fn ts(s: &str) -> jiff::Timestamp {
    s.parse().expect("timestamp")
}

fn heavy_digest() -> Digest {
    let ent = |n: &str, k| EntityRef {
        name: n.to_string(),
        kind: k,
    };
    let article = |i: usize, j: usize, feed: String| ArticleOut {
        title: format!("Report {j} on story {i}: a realistic headline of some length"),
        url: Some(format!(
            "https://outlet{j}.example/2026/11/28/story-{i}-report-{j}"
        )),
        feed,
        published: ts("2026-11-28T05:00:00Z"),
        author: Some("Staff".into()),
        excerpt: "An excerpt of a couple of sentences as found in feeds.".into(),
        entities: vec![ent("European Central Bank", EntityKind::Organization)],
    };
    let mut stories = Vec::new();
    for i in 0..40 {
        stories.push(StoryOut {
            id: format!("s{i}"),
            title: format!("Story number {i} about the European Central Bank and rates"),
            summary: "A two-sentence summary of what happened. It names the main people.".into(),
            entities: vec![
                ent("European Central Bank", EntityKind::Organization),
                ent("Christine Lagarde", EntityKind::Person),
            ],
            outlets: (0..4).map(|j| format!("Outlet {j}")).collect(),
            section: if i < 5 {
                Section::Following
            } else {
                Section::Top
            },
            developing: None,
            following: vec![],
            articles: (0..4)
                .map(|j| article(i, j, format!("Outlet {j}")))
                .collect(),
            lines: vec![],
            more_from: vec![],
        });
    }
    for i in 0..60 {
        stories.push(StoryOut {
            id: format!("o{i}"),
            title: format!("Other headline {i}"),
            summary: String::new(),
            entities: vec![],
            outlets: vec![format!("Feed {}", i % 7)],
            section: Section::Other,
            developing: None,
            following: vec![],
            articles: vec![article(100 + i, 0, format!("Feed {}", i % 7))],
            lines: vec![],
            more_from: vec![],
        });
    }
    Digest {
        digest: "daily".into(),
        subject: "daily — 28 Nov 2026 — 100 stories".into(),
        title: String::new(),
        generated_at: ts("2026-11-28T07:00:00Z"),
        window_start: ts("2026-11-27T07:00:00Z"),
        window_end: ts("2026-11-28T07:00:00Z"),
        stories,
        trending: vec![TrendOut {
            name: "Christine Lagarde".into(),
            kind: EntityKind::Person,
            count: 40,
            expected: 2.0,
        }],
        trending_history: Some(5000),
        feed_health: vec![FeedHealthOut {
            feed: "Feed 9".into(),
            status: FeedStatus::Error,
            error: Some("HTTP 503".into()),
        }],
        omitted: Default::default(),
    }
}

#[divan::bench(args = ["html", "txt", "md", "json"])]
fn render_heavy_digest(bencher: divan::Bencher, format: &str) {
    let r = Renderer::new(None).expect("renderer");
    let d = heavy_digest();
    let f: Format = format.parse().expect("format");
    bencher
        .counter(ItemsCount::new(d.article_count()))
        .bench(|| r.render(divan::black_box(&d), f).expect("render").len());
}

/// The email edition: the HTML part fitted to the default budget (several renders).
#[divan::bench]
fn render_email_edition(bencher: divan::Bencher) {
    let r = Renderer::new(None).expect("renderer");
    let d = heavy_digest();
    let opts = digestif::digest::EmailOptions::default();
    bencher
        .counter(ItemsCount::new(d.article_count()))
        .bench(|| {
            r.render_email(divan::black_box(&d), &opts)
                .expect("email")
                .html
                .len()
        });
}

#[divan::bench]
fn build_email_message(bencher: divan::Bencher) {
    let r = Renderer::new(None).expect("renderer");
    let d = heavy_digest();
    let c = EmailContent {
        subject: d.subject.clone(),
        text: r.render(&d, Format::Txt).expect("txt"),
        html: r.render(&d, Format::Html).expect("html"),
        message_id: "outbox-1.abc@digestif.local".into(),
        date: d.generated_at,
        list: None,
    };
    let to = vec!["reader@example.net".to_string()];
    bencher.bench(|| {
        build_message("digest@example.org", &to, divan::black_box(&c))
            .expect("message")
            .formatted()
            .len()
    });
}
