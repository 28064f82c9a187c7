//! OPML round trips: flat tags come back as the same flat tags (not nested folders), and
//! importing several real files gives unique feed names, with a note for each rename.

use digestif::opml::{OpmlFeed, dedupe, export, import};

use crate::support::fetch_data::{feeds_dir, files_under};

fn feed(name: &str, url: &str, tags: &[&str]) -> OpmlFeed {
    OpmlFeed {
        name: name.into(),
        url: url.into(),
        tags: tags.iter().map(|t| t.to_string()).collect(),
    }
}

#[test]
fn flat_tags_round_trip_as_categories_not_nested_folders() {
    let feeds = vec![
        feed("BBC", "https://bbc.example/rss", &["world", "business"]),
        feed("FT", "https://ft.example/rss", &["business"]),
        feed("Blog", "https://blog.example/atom", &[]),
        feed("Odd", "https://odd.example/rss", &["a/b", "c,d"]),
    ];
    let xml = export(&feeds);
    // "business" is not a folder inside "world": one level of folders, tags as categories.
    assert!(
        xml.contains(r#"xmlUrl="https://bbc.example/rss" category="world,business"/>"#),
        "{xml}"
    );
    let depth = xml
        .lines()
        .map(|l| l.len() - l.trim_start().len())
        .max()
        .unwrap_or(0);
    assert!(depth <= 6, "nested deeper than one folder:\n{xml}");
    let back = import(xml.as_bytes()).expect("re-import");
    assert_eq!(back[..3], feeds[..3]);
    assert_eq!(back[3].tags, vec!["a/b".to_string(), "c d".to_string()]);
}

#[test]
fn importing_several_real_files_gives_unique_names_with_notes() {
    let Some(dir) = feeds_dir("opml") else {
        return;
    };
    let mut all = Vec::new();
    for p in files_under(&dir) {
        if p.extension().and_then(|e| e.to_str()) == Some("opml") {
            all.extend(import(&std::fs::read(&p).expect("read")).expect("import"));
        }
    }
    let configured = vec!["BBC News".to_string()];
    let (feeds, notes) = dedupe(all.clone(), &configured, &[]);
    let mut names: Vec<String> = feeds.iter().map(|f| f.name.to_lowercase()).collect();
    names.push("bbc news".into());
    let n = names.len();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), n, "names are unique, configured ones included");
    let renamed = notes.iter().filter(|n| n.starts_with("renamed")).count();
    let skipped = notes.iter().filter(|n| n.starts_with("skipped")).count();
    assert_eq!(feeds.len() + skipped, all.len());
    assert!(renamed > 0, "the real files share names: {notes:?}");
    println!(
        "{} feeds from the real OPML files, {renamed} renamed, {skipped} skipped",
        all.len()
    );
}

#[test]
fn dedupe_suffixes_names_and_skips_known_urls() {
    let feeds = vec![
        feed("News", "https://a.example/rss", &[]),
        feed("news", "https://b.example/rss", &[]),
        feed("News (2)", "https://c.example/rss", &[]),
        feed("Other", "https://known.example/rss", &[]),
        feed("Again", "https://a.example/rss", &[]),
    ];
    let (out, notes) = dedupe(feeds, &[], &["https://known.example/rss".to_string()]);
    let names: Vec<&str> = out.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, vec!["News", "news (2)", "News (2) (2)"]);
    assert_eq!(notes.len(), 4, "{notes:?}");
    assert!(notes[0].contains("renamed \"news\" (https://b.example/rss) to \"news (2)\""));
}
