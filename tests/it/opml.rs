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

/// Regression: `import-opml` passed `javascript:` and `file:///etc/passwd` URLs through without a
/// word; now they are skipped with a warning naming each, and the http(s) feeds are kept.
#[test]
fn regression_import_opml_passed_javascript_and_file_urls_through() {
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("list.opml");
    std::fs::write(
        &file,
        r#"<opml version="2.0"><body>
<outline text="Good" xmlUrl="https://good.example/rss"/>
<outline text="Script" xmlUrl="javascript:alert(1)"/>
<outline text="Secrets" xmlUrl="file:///etc/passwd"/>
<outline text="Gopher" xmlUrl="gopher://old.example/1"/>
</body></opml>"#,
    )
    .expect("write");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_digestif"))
        .args(["--config", "/nonexistent/config.toml", "import-opml"])
        .arg(&file)
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("https://good.example/rss"), "{stdout}");
    for bad in [
        "javascript:alert(1)",
        "file:///etc/passwd",
        "gopher://old.example/1",
    ] {
        assert!(!stdout.contains(bad), "{bad} imported:\n{stdout}");
        assert!(
            stderr.contains("warning:") && stderr.contains(bad),
            "no warning for {bad}:\n{stderr}"
        );
    }
    assert!(stderr.contains("imported 1 feeds"), "{stderr}");
}

/// Regression: `-c /dev/zero` grew without limit, and so did `import-opml /dev/zero`; both now
/// stop at the size cap with an error naming it (the config one with exit 78).
#[test]
fn regression_endless_config_or_opml_file_filled_memory() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_digestif"))
        .args(["--config", "/dev/zero", "check-config"])
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(78), "{stderr}");
    assert!(
        stderr.contains("/dev/zero") && stderr.contains("larger than 4096 KiB"),
        "{stderr}"
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_digestif"))
        .args([
            "--config",
            "/nonexistent/config.toml",
            "import-opml",
            "/dev/zero",
        ])
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("larger than 16384 KiB"), "{stderr}");
}
