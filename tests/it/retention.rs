//! Retention through the `retention` key: the step the daemon and `once` run after building
//! digests removes old articles from a real SQLite file and keeps them removed.

use std::path::Path;

use digestif::model::Article;
use digestif::pipeline::{Context, apply_retention};
use digestif::store::{FetchSuccess, Store};
use jiff::Timestamp;

fn article(key: &str, published: Timestamp) -> Article {
    Article {
        key: key.into(),
        feed: "A".into(),
        url: Some(key.into()),
        guid: None,
        title: format!("Report {key}"),
        text: format!("Text of report {key}"),
        html: String::new(),
        author: None,
        published,
        language: Some("en".into()),
        entities: Vec::new(),
    }
}

fn settings(dir: &Path, retention: &str) -> digestif::config::Settings {
    let text = format!(
        r#"state_dir = "{dir}/state"
retention = "{retention}"

[[feed]]
name = "A"
url = "https://a.example/rss"

[[digest]]
name = "daily"
at = "07:00"

[[digest.output]]
kind = "file"
dir = "{dir}/out"
"#,
        dir = dir.display()
    );
    digestif::config::parse_str(&text, &dir.join("config.toml"))
        .expect("valid config")
        .0
}

#[test]
fn retention_key_removes_old_articles_and_they_stay_removed() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = settings(dir.path(), "30d");
    assert_eq!(s.retention, std::time::Duration::from_secs(30 * 86_400));
    let now = Timestamp::now();
    let old = now - jiff::SignedDuration::from_hours(40 * 24);
    {
        let mut store = Store::open_in(&s.state_dir).expect("store");
        store.sync_feeds([("A", "https://a.example/rss")]).unwrap();
        let ok = FetchSuccess::default();
        store
            .ingest("A", &[article("https://a.example/old", old)], &ok, old)
            .unwrap();
        store
            .ingest("A", &[article("https://a.example/new", now)], &ok, now)
            .unwrap();
        assert_eq!(store.article_count().unwrap(), 2);
    }
    let ctx = Context::new(s).expect("context");
    let removed = apply_retention(&ctx, now).expect("retention");
    assert_eq!(removed.articles, 1, "{removed:?}");
    ctx.with_store(|st| {
        assert_eq!(st.article_count().unwrap(), 1);
        // The feed still carries the removed article: it does not come back as new.
        let again = st
            .ingest(
                "A",
                &[article("https://a.example/old", old)],
                &FetchSuccess::default(),
                now,
            )
            .unwrap();
        assert_eq!(again, 0);
        assert_eq!(st.article_count().unwrap(), 1);
    });
    assert!(
        apply_retention(&ctx, now).expect("again").is_empty(),
        "nothing left to remove"
    );
}

#[test]
fn retention_zero_keeps_everything() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = settings(dir.path(), "0");
    assert!(s.retention.is_zero());
    let old = Timestamp::now() - jiff::SignedDuration::from_hours(4000 * 24);
    {
        let mut store = Store::open_in(&s.state_dir).expect("store");
        store.sync_feeds([("A", "https://a.example/rss")]).unwrap();
        store
            .ingest(
                "A",
                &[article("https://a.example/ancient", old)],
                &FetchSuccess::default(),
                old,
            )
            .unwrap();
    }
    let ctx = Context::new(s).expect("context");
    let removed = apply_retention(&ctx, Timestamp::now()).expect("retention");
    assert_eq!(removed.articles, 0);
    assert_eq!(ctx.with_store(|st| st.article_count()).unwrap(), 1);
}
