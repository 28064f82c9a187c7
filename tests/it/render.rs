//! Rendering a realistic digest in all four formats: the JSON contract, completeness (every
//! article title shows up), HTML email hygiene, escaping of hostile feed text, the subject
//! line, and template overrides from a folder.

use digestif::digest::{
    ArticleOut, Developing, Digest, EntityRef, FeedHealthOut, FeedStatus, Format, LineOut,
    Renderer, Section, StoryOut, TrendOut,
};
use digestif::model::EntityKind;
use jiff::Timestamp;

fn ts(s: &str) -> Timestamp {
    s.parse().expect("test timestamp")
}

fn ent(name: &str, kind: EntityKind) -> EntityRef {
    EntityRef {
        name: name.to_string(),
        kind,
    }
}

fn art(title: &str, feed: &str, slug: &str, at: &str, ents: &[EntityRef]) -> ArticleOut {
    ArticleOut {
        title: title.to_string(),
        url: Some(format!(
            "https://{}.example/news/{slug}?utm=x&id=1",
            feed.to_lowercase().replace(' ', "")
        )),
        feed: feed.to_string(),
        published: ts(at),
        author: Some("Staff".to_string()),
        excerpt: format!("Excerpt of {title}"),
        entities: ents.to_vec(),
    }
}

/// A digest shaped like a real morning: a followed story, a developing multi-outlet story with
/// a collapsed near-duplicate, another top story, other headlines from several feeds, a
/// trending list and a failing feed.
pub fn sample_digest() -> Digest {
    let biden = ent("Joe Biden", EntityKind::Person);
    let dnc = ent("Democratic National Convention", EntityKind::Organization);
    let who = ent("World Health Organization", EntityKind::Organization);
    let geneva = ent("Geneva", EntityKind::Location);
    let ecb = ent("European Central Bank", EntityKind::Organization);
    let lagarde = ent("Christine Lagarde", EntityKind::Person);

    let convention = StoryOut {
        id: "s-dnc".into(),
        title: "Biden accepts nomination on final night of the convention".into(),
        summary: "Joe Biden formally accepted the Democratic nomination, promising to end a \
                  \"season of darkness\" in a speech closing the four-day virtual convention."
            .into(),
        entities: vec![biden.clone(), dnc.clone()],
        outlets: vec!["BBC".into(), "CNN".into(), "NYT".into()],
        section: Section::Top,
        developing: Some(Developing {
            day: 3,
            first_headline: "Democrats open an unconventional convention".into(),
            since: ts("2026-11-26T01:00:00Z"),
        }),
        following: vec![],
        articles: vec![
            art(
                "Biden accepts Democratic nomination",
                "BBC",
                "biden-accepts",
                "2026-11-28T03:10:00Z",
                &[biden.clone(), dnc.clone()],
            ),
            art(
                "Biden accepts Democratic nomination",
                "CNN",
                "biden-accepts-nomination",
                "2026-11-28T03:25:00Z",
                std::slice::from_ref(&biden),
            ),
            art(
                "Joe Biden Accepts the Democratic Nomination, Vowing to End a 'Season of Darkness'",
                "NYT",
                "biden-speech",
                "2026-11-28T03:40:00Z",
                &[biden.clone(), dnc.clone()],
            ),
            art(
                "Fact-checking the final night of the convention",
                "CNN",
                "fact-check",
                "2026-11-27T22:00:00Z",
                std::slice::from_ref(&dnc),
            ),
        ],
        lines: vec![
            LineOut {
                title: "Biden accepts Democratic nomination".into(),
                url: Some("https://bbc.example/news/biden-accepts".into()),
                outlets: vec!["BBC".into(), "CNN".into(), "NYT".into()],
                articles: vec![0, 1, 2],
            },
            LineOut {
                title: "Fact-checking the final night of the convention".into(),
                url: Some("https://cnn.example/news/fact-check".into()),
                outlets: vec!["CNN".into()],
                articles: vec![3],
            },
        ],
        more_from: vec![],
    };
    let who_story = StoryOut {
        id: "s-who".into(),
        title: "WHO warns of second wave as cases rise in Europe".into(),
        summary: "The World Health Organization said cases rose for a third week.".into(),
        entities: vec![who.clone(), geneva.clone()],
        outlets: vec!["Reuters".into(), "Guardian".into()],
        section: Section::Following,
        developing: None,
        following: vec!["World Health Organization".into()],
        articles: vec![
            art(
                "WHO warns of second wave in Europe",
                "Reuters",
                "who-wave",
                "2026-11-28T06:00:00Z",
                &[who.clone(), geneva.clone()],
            ),
            art(
                "Cases rise for third week, WHO says",
                "Guardian",
                "who-cases",
                "2026-11-28T05:30:00Z",
                std::slice::from_ref(&who),
            ),
        ],
        lines: vec![], // renderers fall back to one line per article
        more_from: vec![],
    };
    let ecb_story = StoryOut {
        id: "s-ecb".into(),
        title: "ECB holds rates, signals December move".into(),
        summary: String::new(),
        entities: vec![ecb.clone(), lagarde.clone()],
        outlets: vec!["FT".into(), "Reuters".into()],
        section: Section::Top,
        developing: None,
        following: vec![],
        articles: vec![
            art(
                "ECB holds rates steady as Lagarde signals December move",
                "FT",
                "ecb-holds",
                "2026-11-27T13:45:00Z",
                &[ecb.clone(), lagarde.clone()],
            ),
            art(
                "Euro zone central bank keeps rates unchanged",
                "Reuters",
                "ecb-rates",
                "2026-11-27T13:50:00Z",
                std::slice::from_ref(&ecb),
            ),
        ],
        lines: vec![],
        more_from: vec![],
    };
    let other = |title: &str, feed: &str, slug: &str| StoryOut {
        id: format!("s-{slug}"),
        title: title.to_string(),
        summary: String::new(),
        entities: vec![],
        outlets: vec![feed.to_string()],
        section: Section::Other,
        developing: None,
        following: vec![],
        articles: vec![art(title, feed, slug, "2026-11-28T04:00:00Z", &[])],
        lines: vec![],
        more_from: vec![],
    };
    Digest {
        digest: "daily".into(),
        subject: "daily — 28 Nov 2026 — 7 stories".into(),
        title: String::new(),
        generated_at: ts("2026-11-28T07:00:00Z"),
        window_start: ts("2026-11-27T07:00:00Z"),
        window_end: ts("2026-11-28T07:00:00Z"),
        stories: vec![
            convention,
            who_story,
            ecb_story,
            other(
                "Storm Bella brings gales to the south coast",
                "BBC",
                "storm",
            ),
            other(
                "New exoplanet found in habitable zone",
                "Guardian",
                "exoplanet",
            ),
            other("Tech shares slip ahead of earnings", "Reuters", "tech"),
            other("Museum returns looted bronzes", "BBC", "bronzes"),
        ],
        trending: vec![
            TrendOut {
                name: "Joe Biden".into(),
                kind: EntityKind::Person,
                count: 12,
                expected: 3.5,
            },
            TrendOut {
                name: "Storm Bella".into(),
                kind: EntityKind::Misc,
                count: 5,
                expected: 0.2,
            },
        ],
        trending_history: Some(5000),
        feed_health: vec![
            FeedHealthOut {
                feed: "BBC".into(),
                status: FeedStatus::Ok,
                error: None,
            },
            FeedHealthOut {
                feed: "Le Monde".into(),
                status: FeedStatus::Error,
                error: Some("HTTP 503 from https://lemonde.example/rss.xml".into()),
            },
        ],
        omitted: Default::default(),
    }
}

fn renderer() -> Renderer {
    Renderer::new(None).expect("embedded templates compile")
}

fn all_titles(d: &Digest) -> Vec<String> {
    d.stories
        .iter()
        .flat_map(|s| s.articles.iter().map(|a| a.title.clone()))
        .collect()
}

#[test]
fn sample_digest_satisfies_its_own_invariants() {
    let d = sample_digest();
    assert_eq!(d.check(), vec![]);
    assert_eq!(d.article_count(), 12);
}

#[test]
fn json_round_trips_and_keeps_contract_keys() {
    let d = sample_digest();
    let json = renderer().render(&d, Format::Json).expect("json");
    let back: Digest = serde_json::from_str(&json).expect("parse back");
    assert_eq!(back, d);

    let v: serde_json::Value = serde_json::from_str(&json).expect("value");
    for k in [
        "digest",
        "subject",
        "generated_at",
        "window_start",
        "window_end",
        "stories",
        "trending",
        "feed_health",
    ] {
        assert!(v.get(k).is_some(), "top-level key {k} missing");
    }
    assert_eq!(v["generated_at"], "2026-11-28T07:00:00Z");
    let story = &v["stories"][0];
    for k in [
        "id",
        "title",
        "summary",
        "entities",
        "outlets",
        "section",
        "developing",
        "following",
        "articles",
        "lines",
    ] {
        assert!(story.get(k).is_some(), "story key {k} missing");
    }
    assert_eq!(story["section"], "top");
    assert_eq!(story["developing"]["day"], 3);
    assert_eq!(story["entities"][0]["kind"], "person");
    assert_eq!(story["lines"][0]["articles"], serde_json::json!([0, 1, 2]));
    let article = &story["articles"][0];
    for k in [
        "title",
        "url",
        "feed",
        "published",
        "author",
        "excerpt",
        "entities",
    ] {
        assert!(article.get(k).is_some(), "article key {k} missing");
    }
    assert_eq!(v["stories"][1]["developing"], serde_json::Value::Null);
    assert_eq!(v["feed_health"][1]["status"], "error");
    assert_eq!(v["feed_health"][0]["error"], serde_json::Value::Null);
    assert_eq!(v["trending"][0]["count"], 12);
}

#[test]
fn json_from_the_original_contract_without_new_fields_still_loads() {
    let old = r#"{"digest":"daily","generated_at":"2026-11-28T07:00:00Z",
      "window_start":"2026-11-27T07:00:00Z","window_end":"2026-11-28T07:00:00Z",
      "stories":[{"title":"T","summary":"S","entities":[{"name":"Paris","kind":"location"}],
        "articles":[{"title":"A","url":"https://x.example/a","feed":"F",
          "published":"2026-11-28T06:00:00Z","entities":[]}]}],
      "feed_health":[{"feed":"F","status":"ok","error":""}]}"#;
    let d: Digest = serde_json::from_str(old).expect("old contract parses");
    assert_eq!(d.stories[0].section, Section::Top);
    let html = renderer().render(&d, Format::Html).expect("html");
    assert!(html.contains(">A</a>"));
}

#[test]
fn every_article_title_appears_in_html_text_and_markdown() {
    let d = sample_digest();
    let r = renderer();
    let html = r.render(&d, Format::Html).expect("html");
    let txt = r.render(&d, Format::Txt).expect("txt");
    let md = r.render(&d, Format::Md).expect("md");
    // The text is wrapped: compare with whitespace folded.
    let fold = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    let txt_f = fold(&txt);
    for t in all_titles(&d) {
        let escaped = t.replace('&', "&amp;").replace('\'', "&#39;");
        assert!(html.contains(&escaped), "HTML lacks {t:?}");
        assert!(txt_f.contains(&t), "text lacks {t:?}");
        assert!(fold(&md).contains(&t), "markdown lacks {t:?}");
    }
    // The collapsed duplicate headline is shown once with all its outlets.
    assert_eq!(
        html.matches(">Biden accepts Democratic nomination</a>")
            .count(),
        1
    );
    assert!(html.contains("BBC, CNN, NYT"));
    // Story header: outlets — entities; developing badge; sections; failing feed.
    assert!(html.contains("BBC, CNN, NYT — Joe Biden, Democratic National Convention"));
    assert!(html.contains("Day 3</span> · first: Democrats open an unconventional convention"));
    assert!(txt.contains("[Day 3 · first: Democrats open an unconventional convention]"));
    for needle in [
        "Trending",
        "Following",
        "Top stories",
        "Other headlines",
        "Le Monde",
    ] {
        assert!(html.contains(needle), "HTML lacks {needle}");
    }
    assert!(html.contains("HTTP 503 from https://lemonde.example/rss.xml"));
    assert!(txt.contains("Le Monde: HTTP 503"));
    // Following comes before top stories, which come before other headlines.
    let pos = |s: &str| html.find(s).unwrap_or(usize::MAX);
    assert!(pos("WHO warns of second wave in Europe") < pos("Biden accepts Democratic"));
    assert!(pos("Biden accepts Democratic") < pos("Storm Bella brings"));
    // Other headlines are grouped by feed: both BBC items under one BBC heading.
    let bbc_head = html.find(">BBC</h3>").expect("BBC group heading");
    let guardian_head = html.find(">Guardian</h3>").expect("Guardian group heading");
    assert!(bbc_head < guardian_head);
    let bronzes = pos("Museum returns looted bronzes");
    let storm = pos("Storm Bella brings");
    assert!(bbc_head < bronzes && bronzes < guardian_head);
    assert!(bbc_head < storm && storm < guardian_head);
}

/// Checks that every opened element is closed in order (void elements excepted).
fn assert_tags_balanced(html: &str) {
    const VOID: [&str; 4] = ["meta", "br", "hr", "img"];
    let mut stack: Vec<String> = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find('<') {
        rest = &rest[i + 1..];
        if rest.starts_with('!') {
            let end = rest.find('>').expect("unterminated <!...>");
            rest = &rest[end..];
            continue;
        }
        let closing = rest.starts_with('/');
        let name: String = rest
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        if closing {
            let open = stack.pop();
            assert_eq!(open.as_deref(), Some(name.as_str()), "mismatched </{name}>");
        } else if !VOID.contains(&name.as_str()) {
            stack.push(name);
        }
    }
    assert!(stack.is_empty(), "unclosed elements: {stack:?}");
}

#[test]
fn html_is_self_contained_email_markup() {
    let html = renderer()
        .render(&sample_digest(), Format::Html)
        .expect("html");
    assert_tags_balanced(&html);
    let lower = html.to_lowercase();
    assert!(lower.starts_with("<!doctype html>"));
    for bad in ["<script", "src=", "<link", "<img", "url(", "@import"] {
        assert!(!lower.contains(bad), "HTML contains {bad}");
    }
    // One <style> block, in the head: classes and the dark colours.
    assert_eq!(lower.matches("<style").count(), 1);
    assert!(lower.find("<style") < lower.find("</head>"));
    assert!(lower.contains(r#"<meta name="color-scheme" content="light dark">"#));
    assert!(lower.contains("max-width:600px"));
    assert!(lower.contains("<table role=\"presentation\""));
    // Every link is an article link over http(s), with & escaped in the attribute.
    for part in html.split("href=\"").skip(1) {
        let url = part.split('"').next().unwrap_or_default();
        assert!(url.starts_with("https://"), "unexpected link {url}");
        assert!(!url.contains("&id"), "unescaped & in {url}");
    }
    assert_eq!(
        html.matches("href=\"").count(),
        14,
        "one link per line/also item"
    );
    // White text is never used (it vanishes when a client drops the background).
    let compact = lower.replace(' ', "");
    for (i, _) in compact.match_indices("color:#fff") {
        let is_background = compact[..i].ends_with("background-");
        let next = compact[i + 10..].chars().next().unwrap_or(';');
        assert!(
            is_background || (next != ';' && next != 'f' && next != '"'),
            "white text colour at {i}"
        );
    }
}

#[test]
fn hostile_strings_are_escaped_everywhere() {
    let mut d = sample_digest();
    d.stories[0].title = "<script>alert(1)</script> Breaking".into();
    d.stories[0].summary = "<img src=x onerror=alert(1)> summary".into();
    d.stories[0].lines[0].title = "\"><svg onload=alert(1)>".into();
    d.stories[1].articles[0].url = Some("javascript:alert(1)".into());
    d.feed_health[1].error = Some("<b>bold</b> & broken".into());
    d.stories[3].articles[0].title = "[click](https://evil.example) **now**".into();
    let r = renderer();
    let html = r.render(&d, Format::Html).expect("html");
    assert_tags_balanced(&html);
    let lower = html.to_lowercase();
    assert!(!lower.contains("<script"));
    assert!(!lower.contains("<img"));
    assert!(!lower.contains("<svg"));
    assert!(!lower.contains("javascript:"));
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt; Breaking"));
    assert!(html.contains("onerror=alert(1)"), "kept as inert text");
    assert!(html.contains("&lt;b&gt;bold&lt;/b&gt; &amp; broken"));
    // The article with the javascript: URL is still listed, just not linked.
    assert!(html.contains("WHO warns of second wave in Europe"));

    let md = r.render(&d, Format::Md).expect("md");
    assert!(md.contains("\\[click\\](https://evil.example) \\*\\*now\\*\\*"));
    assert!(!md.contains("javascript:"));
    assert!(md.contains("\\<script\\>"));
}

#[test]
fn text_is_wrapped_with_urls_on_their_own_lines() {
    let mut d = sample_digest();
    d.stories[0].summary = "word ".repeat(60);
    let txt = renderer().render(&d, Format::Txt).expect("txt");
    for line in txt.lines() {
        let n = line.chars().count();
        assert!(
            n <= 78 || line.trim_start().starts_with("https://"),
            "line of {n} chars: {line:?}"
        );
    }
    // Each line's URL (the given line's own URL, else its article's) on its own line.
    let mut urls: Vec<&str> = Vec::new();
    for s in &d.stories {
        if s.lines.is_empty() {
            urls.extend(s.articles.iter().filter_map(|a| a.url.as_deref()));
        } else {
            urls.extend(s.lines.iter().filter_map(|l| l.url.as_deref()));
        }
    }
    assert_eq!(urls.len(), 10);
    for url in urls {
        assert!(
            txt.lines().any(|l| l.trim() == url),
            "{url} not on its own line"
        );
    }
    assert!(txt.starts_with("daily — Saturday 28 November 2026\n"));
    let folded = txt.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(folded.contains(
        "1 followed story · 2 top stories · 4 other headlines · 12 reports from 6 outlets Trending"
    ));
}

#[test]
fn markdown_has_headings_and_lists() {
    let md = renderer().render(&sample_digest(), Format::Md).expect("md");
    assert!(md.starts_with("# daily — Saturday 28 November 2026\n"));
    assert!(md.contains("\n## Following\n"));
    assert!(md.contains("\n## Top stories\n"));
    assert!(md.contains("\n## Other headlines\n"));
    assert!(md.contains(
        "\n- [Biden accepts Democratic nomination](<https://bbc.example/news/biden-accepts>) — BBC, CNN, NYT · 03:10\n"
    ));
    assert!(md.contains("- **Le Monde**: HTTP 503"));
}

#[test]
fn subject_uses_the_digest_time_zone() {
    let r = renderer();
    let mut d = sample_digest();
    d.stories.truncate(3);
    assert_eq!(
        r.subject(&d, None).expect("subject"),
        "daily — 28 Nov 2026 — 1 followed story, 2 top stories"
    );
    // 07:00 UTC is still the 27th in Los Angeles.
    let la = renderer()
        .with_timezone("America/Los_Angeles")
        .expect("zone");
    assert_eq!(
        la.subject(&d, None).expect("subject"),
        "daily — 27 Nov 2026 — 1 followed story, 2 top stories"
    );
    d.stories.truncate(1);
    assert_eq!(
        r.subject(
            &d,
            Some("[{{ digest|upper }}] {{ top }}\n({{ n_articles }})"),
        )
        .expect("custom subject"),
        "[DAILY] Biden accepts nomination on final night of the convention (4)"
    );
    assert!(renderer().with_timezone("Mars/Olympus").is_err());
}

#[test]
fn template_override_from_folder_wins() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("digest.txt"),
        "CUSTOM {{ digest }} {{ n_stories }}\n{% for s in top %}* {{ s.title }}\n{% endfor %}",
    )
    .expect("write template");
    std::fs::write(dir.path().join("subject.txt"), "Your {{ digest }} news").expect("write");
    let r = Renderer::new(Some(dir.path())).expect("renderer with overrides");
    let d = sample_digest();
    let txt = r.render(&d, Format::Txt).expect("txt");
    assert!(txt.starts_with("CUSTOM daily 7\n* Biden accepts nomination"));
    assert_eq!(r.subject(&d, None).expect("subject"), "Your daily news");
    // Formats without an override keep the embedded template.
    let html = r.render(&d, Format::Html).expect("html");
    assert!(html.contains("Other headlines"));
}

#[test]
fn broken_override_fails_at_start_naming_the_template() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("digest.html"), "<p>\n{% for x in %}</p>").expect("write");
    let err = Renderer::new(Some(dir.path())).expect_err("broken template must fail");
    let msg = err.to_string();
    assert!(msg.contains("digest.html"), "{msg}");
    assert!(msg.contains("line 2"), "{msg}");
}

#[test]
fn empty_digest_renders_in_all_formats() {
    let mut d = sample_digest();
    d.stories.clear();
    d.trending.clear();
    let r = renderer();
    for f in [Format::Html, Format::Txt, Format::Md, Format::Json] {
        let out = r.render(&d, f).expect("render");
        assert!(!out.is_empty());
    }
    assert!(
        r.render(&d, Format::Txt)
            .expect("txt")
            .contains("No new articles")
    );
}

#[test]
fn renderer_time_zone_applies_to_times_and_dates() {
    let r = renderer().with_timezone("Europe/Paris").expect("tz");
    let md = r.render(&sample_digest(), Format::Md).expect("md");
    // 03:10 UTC is 04:10 in Paris in November.
    assert!(md.contains("BBC, CNN, NYT · 04:10"), "{md}");
    assert!(
        Renderer::new(None)
            .expect("r")
            .with_timezone("Nowhere/City")
            .is_err()
    );
    let tz = jiff::tz::TimeZone::get("Asia/Tokyo").expect("tz");
    let txt = renderer()
        .with_time_zone(tz)
        .render(&sample_digest(), Format::Txt)
        .expect("txt");
    // 07:00 UTC is 16:00 in Tokyo; 03:10 UTC is 12:10 the same day.
    assert!(txt.contains("(BBC, CNN, NYT, 12:10)"), "{txt}");
    assert!(txt.contains("at 16:00 (Asia/Tokyo)"), "{txt}");
}

/// Writes the sample digest in every format as the file output would name them, into
/// `$DIGESTIF_RENDER_SAMPLES` when set (to look at by eye or in a mail client), else a temporary
/// folder, and checks what was written: every file non-empty and carrying the lead story, the JSON
/// one reading back as the same digest.
#[test]
fn every_format_writes_a_sample_that_reads_back() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = std::env::var_os("DIGESTIF_RENDER_SAMPLES")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| tmp.path().to_path_buf());
    let r = renderer();
    let d = sample_digest();
    let lead = &d.stories[0].title;
    for f in [Format::Html, Format::Txt, Format::Md, Format::Json] {
        let out = r.render(&d, f).expect("render");
        let path = dir.join(format!("sample.{}", f.extension()));
        std::fs::write(&path, &out).expect("write sample");
        let back = std::fs::read_to_string(&path).expect("read sample");
        assert_eq!(back, out, "{}", path.display());
        // Text is wrapped and HTML escaped, so look for the headline's first words.
        let words: String = lead
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ");
        assert!(
            back.contains(&words),
            "{}: lead story missing",
            path.display()
        );
    }
    let json = std::fs::read_to_string(dir.join("sample.json")).expect("json sample");
    let parsed: Digest = serde_json::from_str(&json).expect("JSON sample is a digest");
    assert_eq!(parsed, d);
}

/// A heavy day: 40 multi-outlet stories of 4 reports each plus 60 other headlines (220
/// articles). Gmail clips HTML bodies over 102 KB, so the markup must stay lean.
#[test]
fn heavy_digest_html_stays_under_gmail_clipping_size() {
    let base = sample_digest();
    let mut d = base.clone();
    d.stories.clear();
    for i in 0..40 {
        let mut s = base.stories[2].clone();
        s.id = format!("s{i}");
        s.title = format!("Story number {i} about the European Central Bank and rates");
        s.summary = "A two-sentence summary of what happened. It names the main people.".into();
        s.articles = (0..4)
            .map(|j| {
                let mut a = base.stories[2].articles[j % 2].clone();
                a.title = format!("Report {j} on story {i}: a realistic headline of some length");
                a.url = Some(format!(
                    "https://outlet{j}.example/2026/11/28/story-{i}-report-{j}"
                ));
                a.feed = format!("Outlet {j}");
                a
            })
            .collect();
        s.lines.clear();
        d.stories.push(s);
    }
    for i in 0..60 {
        let mut s = base.stories[3].clone();
        s.articles[0].title = format!("Other headline {i} that nobody else covered today");
        s.articles[0].url = Some(format!("https://feed{}.example/news/{i}", i % 7));
        s.articles[0].feed = format!("Feed {}", i % 7);
        d.stories.push(s);
    }
    assert_eq!(d.article_count(), 220);
    let html = renderer().render(&d, Format::Html).expect("html");
    println!(
        "heavy digest: {} articles -> {} bytes of HTML",
        d.article_count(),
        html.len()
    );
    assert!(html.len() < 102 * 1024, "HTML is {} bytes", html.len());
}

/// One outlet's twenty reports on one event (the LA Times on the recall) stay one story shown
/// compactly: its best two reports, then "and 18 more from Los Angeles Times" in every format,
/// and a structured `more_from` in JSON. Reports carried by several outlets are never folded.
#[test]
fn one_outlets_many_reports_fold_into_and_n_more_in_every_format() {
    let recall = ent("Gavin Newsom", EntityKind::Person);
    let mut articles: Vec<ArticleOut> = (0..20)
        .map(|i| {
            art(
                &format!("Recall report number {i}"),
                "Los Angeles Times",
                &format!("recall-{i}"),
                "2026-11-27T20:00:00Z",
                std::slice::from_ref(&recall),
            )
        })
        .collect();
    articles.push(art(
        "Newsom survives recall",
        "BBC",
        "newsom",
        "2026-11-27T21:00:00Z",
        std::slice::from_ref(&recall),
    ));
    let mut story = StoryOut {
        id: "s1".into(),
        title: "Newsom survives recall".into(),
        summary: String::new(),
        entities: vec![recall.clone()],
        outlets: vec!["BBC".into(), "Los Angeles Times".into()],
        section: Section::Top,
        developing: None,
        following: vec![],
        articles,
        lines: vec![],
        more_from: vec![],
    };
    story.fold_outlets();
    assert_eq!(story.more_from.len(), 1, "{:?}", story.more_from);
    assert_eq!(story.more_from[0].outlet, "Los Angeles Times");
    assert_eq!(story.more_from[0].count, 18);
    let mut d = sample_digest();
    d.stories = vec![story];
    let r = renderer();
    let fold = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    for f in [Format::Html, Format::Txt, Format::Md] {
        let out = fold(&r.render(&d, f).expect("render"));
        assert!(
            out.contains("and 18 more from Los Angeles Times"),
            "{f:?}: {out}"
        );
        assert!(out.contains("Recall report number 0"), "{f:?}");
        assert!(out.contains("Recall report number 1"), "{f:?}");
        assert!(
            !out.contains("Recall report number 2"),
            "{f:?} shows a folded report"
        );
        assert!(out.contains("Newsom survives recall"), "{f:?}");
    }
    let json = r.render(&d, Format::Json).expect("json");
    let v: serde_json::Value = serde_json::from_str(&json).expect("value");
    let m = &v["stories"][0]["more_from"][0];
    assert_eq!(m["outlet"], "Los Angeles Times");
    assert_eq!(m["count"], 18);
    assert_eq!(m["lines"].as_array().map(Vec::len), Some(18));
    // All twenty reports stay in the story's articles: nothing is lost, only shown compactly.
    assert_eq!(
        v["stories"][0]["articles"].as_array().map(Vec::len),
        Some(21)
    );
}
