//! The email edition: the front page in full, the rest one line each, under the HTML size
//! budget, with a footer that says what was left out and where the full digest is; dark styles
//! that apply; the preheader; times, plurals and counts that say what they count.

use digestif::digest::{
    ArticleOut, Digest, EmailOptions, FeedHealthOut, FeedStatus, Format, Renderer, Section,
    StoryOut,
};

use crate::render::sample_digest;

fn renderer() -> Renderer {
    Renderer::new(None).expect("embedded templates compile")
}

fn article(title: String, feed: String, url: String, at: &str) -> ArticleOut {
    ArticleOut {
        title,
        url: Some(url),
        feed,
        published: at.parse().expect("timestamp"),
        author: None,
        excerpt: String::new(),
        entities: vec![],
    }
}

/// A heavy day shaped like the real 2021-09-18 snapshot: 60 multi-outlet stories of 4 reports
/// with a summary, and 280 other headlines from 14 outlets.
fn heavy_day() -> Digest {
    let mut d = sample_digest();
    d.stories.clear();
    for i in 0..60 {
        let articles: Vec<ArticleOut> = (0..4)
            .map(|j| {
                article(
                    format!("Report {j} on story {i}: a realistic headline of some length here"),
                    format!("Outlet {j}"),
                    format!(
                        "https://www.outlet{j}.example/news/2026/11/28/story-{i}-report-{j}-a-slug"
                    ),
                    "2026-11-28T05:00:00Z",
                )
            })
            .collect();
        d.stories.push(StoryOut {
            id: format!("t{i}"),
            title: format!("Top story {i}: what happened, told by four outlets"),
            summary: "A summary of three sentences of about the length a real story has. \
                      It names people and places. It is taken from the leads of the reports, \
                      which makes it about four hundred characters long in a real digest."
                .into(),
            entities: vec![],
            outlets: (0..4).map(|j| format!("Outlet {j}")).collect(),
            section: if i < 2 {
                Section::Following
            } else {
                Section::Top
            },
            developing: None,
            following: if i < 2 {
                vec!["Someone".into()]
            } else {
                vec![]
            },
            articles,
            lines: vec![],
            more_from: vec![],
        });
    }
    for i in 0..280 {
        let feed = format!("Feed {}", i % 14);
        d.stories.push(StoryOut {
            id: format!("o{i}"),
            title: format!("Other headline {i} that only one outlet had"),
            summary: String::new(),
            entities: vec![],
            outlets: vec![feed.clone()],
            section: Section::Other,
            developing: None,
            following: vec![],
            articles: vec![article(
                format!("Other headline {i} that only one outlet had"),
                feed,
                format!(
                    "https://feed{}.example/news/{i}/a-slug-of-usual-length",
                    i % 14
                ),
                "2026-11-28T04:00:00Z",
            )],
            lines: vec![],
            more_from: vec![],
        });
    }
    d
}

#[test]
fn email_edition_of_a_heavy_day_fits_the_budget_and_says_what_it_left_out() {
    let d = heavy_day();
    let r = renderer();
    let full = r.render(&d, Format::Html).expect("full html");
    assert!(
        full.len() > 120_000,
        "the heavy day must not fit: {}",
        full.len()
    );
    let opts = EmailOptions {
        budget: 90_000,
        full_digest: Some("https://news.example.org/daily/2026-11-28.html".into()),
    };
    let e = r.render_email(&d, &opts).expect("email edition");
    println!(
        "heavy day: full {} bytes, email {} bytes ({} in full, {} one line, {} left out)",
        full.len(),
        e.html.len(),
        e.full,
        e.brief,
        e.left_out
    );
    assert!(
        e.html.len() <= 90_000,
        "HTML part is {} bytes",
        e.html.len()
    );
    assert_eq!(e.full + e.brief + e.left_out, d.stories.len());
    assert!(e.left_out > 0);
    // Every front-page story is at least named; the first ones are in full with a summary.
    for s in d.stories.iter().filter(|s| s.section != Section::Other) {
        assert!(
            e.html.contains(&s.title),
            "front-page story {:?} missing",
            s.title
        );
    }
    assert!(e.full >= 20, "only {} stories in full", e.full);
    assert!(e.html.contains("Following"));
    // The footer counts what it left out and links the full digest.
    let footer = &e.html[e.html.find("Not shown here:").expect("left-out footer")..];
    assert!(
        footer.contains(&format!("{} other headlines", e.left_out)) || footer.contains("top stor"),
        "{footer}"
    );
    assert!(footer.contains("href=\"https://news.example.org/daily/2026-11-28.html\""));
    // Other headlines that fit are spread over the outlets, not the first ones alphabetically.
    let shown_feeds = (0..14)
        .filter(|i| e.html.contains(&format!(">Feed {i}</h3>")))
        .count();
    let other_lines = e.html.matches("Other headline ").count();
    assert!(
        other_lines == 0 || shown_feeds == other_lines.min(14),
        "{other_lines} other lines over {shown_feeds} feeds"
    );
    // The text part is complete.
    let text: String = e.text.split_whitespace().collect::<Vec<_>>().join(" ");
    for s in &d.stories {
        assert!(text.contains(&s.title), "text part lacks {:?}", s.title);
    }
}

#[test]
fn email_edition_without_a_link_names_the_file_and_without_overflow_is_complete() {
    let r = renderer();
    let d = heavy_day();
    let e = r
        .render_email(
            &d,
            &EmailOptions {
                budget: 60_000,
                full_digest: Some("/var/lib/digestif/digests/daily-2026-11-28.html".into()),
            },
        )
        .expect("email");
    assert!(e.html.len() <= 60_000);
    assert!(
        e.html
            .contains("The full digest is in /var/lib/digestif/digests/daily-2026-11-28.html.")
    );

    // A small digest fits whole: nothing left out, no footer note, every report line present.
    let d = sample_digest();
    let e = r.render_email(&d, &EmailOptions::default()).expect("email");
    assert_eq!((e.full, e.brief, e.left_out), (3, 4, 0));
    assert!(!e.html.contains("Not shown here"));
    for s in &d.stories {
        for a in &s.articles {
            let t = a.title.replace('\'', "&#39;");
            assert!(e.html.contains(&t), "{t}");
        }
    }
}

#[test]
fn dark_styles_really_apply_and_the_preheader_is_only_the_lead_headlines() {
    let html = renderer()
        .render_email(&sample_digest(), &EmailOptions::default())
        .expect("email")
        .html;
    let style = &html[html.find("<style>").expect("style")..html.find("</style>").expect("end")];
    assert!(style.contains("@media (prefers-color-scheme:dark)"));
    // The classes the dark rules name are on the elements that carry the light colours.
    for class in ["pg", "cd", "b", "m", "ft"] {
        assert!(
            style.contains(&format!(".{class}")),
            "no dark rule for .{class}"
        );
        assert!(
            html.contains(&format!("class=\"{class}\"")),
            "no element of class {class}"
        );
    }
    assert!(style.contains("background-color:#1a1d23!important"));
    // The hidden preheader: lead headlines (followed, then top), then padding so the preview
    // does not run on into the body.
    let pre_start = html.find("<div style=\"display:none").expect("preheader");
    let pre = &html[pre_start..pre_start + html[pre_start..].find("</div>").expect("end")];
    assert!(pre.contains(
        "WHO warns of second wave as cases rise in Europe · Biden accepts nomination on final night of the convention · ECB holds rates"
    ), "{pre}");
    assert!(!pre.contains("Storm Bella"));
    assert!(pre.matches("&zwnj;&nbsp;").count() >= 80);
    // The heading is the title, not just the digest's name.
    assert!(html.contains(">daily — Saturday 28 November 2026</h1>"));
}

#[test]
fn times_from_another_day_show_the_date_and_never_break() {
    let r = renderer();
    let d = sample_digest();
    let html = r.render(&d, Format::Html).expect("html");
    let txt = r.render(&d, Format::Txt).expect("txt");
    // The ECB reports are from 27 Nov, the digest from 28 Nov; the convention's from the 28th.
    assert!(html.contains("FT · 27\u{a0}Nov\u{a0}13:45"), "{html}");
    // Folded at ASCII whitespace only: the non-breaking spaces stay.
    let folded = txt
        .split(|c: char| c.is_ascii_whitespace())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    assert!(folded.contains("(FT, 27\u{a0}Nov\u{a0}13:45)"), "{txt}");
    assert!(html.contains("BBC, CNN, NYT · 03:10"));
    // An old report shows its year.
    let mut old = d.clone();
    old.stories[2].articles[0].published = "2025-06-01T10:00:00Z".parse().expect("ts");
    let html = r.render(&old, Format::Html).expect("html");
    assert!(html.contains("1\u{a0}Jun\u{a0}2025\u{a0}10:00"));
    // Wrapping never breaks inside a time.
    for line in txt.lines() {
        assert!(
            !line.ends_with("27") && !line.trim_start().starts_with("Nov"),
            "{line:?}"
        );
    }
}

#[test]
fn counts_say_what_they_count_with_plurals_right_for_one() {
    let r = renderer();
    let mut d = sample_digest();
    d.stories.truncate(1);
    d.stories[0].articles.truncate(1);
    d.stories[0].lines.clear();
    d.stories[0].outlets.truncate(1);
    d.feed_health = vec![FeedHealthOut {
        feed: "BBC".into(),
        status: FeedStatus::Ok,
        error: None,
    }];
    d.trending.truncate(1);
    d.trending[0].count = 1;
    for f in [Format::Html, Format::Txt, Format::Md] {
        let out = r.render(&d, f).expect("render");
        assert!(
            out.contains("1 top story · 1 report from 1 outlet"),
            "{f}: {out}"
        );
        assert!(out.contains("The feed was fetched fine."), "{f}");
        assert!(out.contains("Joe Biden") && out.contains("1 report)") || f == Format::Html);
        for wrong in ["1 stories", "1 feeds", "1 reports", "1 outlets", "All 1 "] {
            assert!(!out.contains(wrong), "{f} says {wrong:?}");
        }
    }
    assert_eq!(
        r.subject(&d, None).expect("subject"),
        "daily — 28 Nov 2026 — 1 top story"
    );
    // Other headlines are not counted as stories of the front page.
    let d = sample_digest();
    let html = r.render(&d, Format::Html).expect("html");
    assert!(html.contains(
        "1 followed story · 2 top stories · 4 other headlines · 12 reports from 6 outlets"
    ));
    assert!(html.contains("Other headlines (4)"));
    // Failing feeds: "1 of 2 feeds failing".
    assert!(html.contains("1 of 2 feeds failing"));
}

#[test]
fn text_part_signature_separator_keeps_its_space_and_reports_have_a_stated_order() {
    let r = renderer();
    let d = sample_digest();
    let txt = r.render(&d, Format::Txt).expect("txt");
    assert!(txt.contains("\n-- \n"), "signature separator: {txt}");
    assert!(txt.contains("4 reports, most representative first:"));
    let html = r.render(&d, Format::Html).expect("html");
    assert!(html.contains("4 reports, most representative first:"));
}

#[test]
fn title_and_subject_templates_are_checked_and_rendered() {
    let r = renderer();
    let d = sample_digest();
    assert_eq!(
        r.title(&d, None).expect("title"),
        "daily — Saturday 28 November 2026"
    );
    assert_eq!(
        r.title(&d, Some("Morning news, {{ date }}"))
            .expect("title"),
        "Morning news, 28 Nov 2026"
    );
    assert_eq!(
        r.subject(
            &d,
            Some("{{ n_top|plural(\"story\", \"stories\") }} for you"),
        )
        .expect("subject"),
        "3 stories for you"
    );
    let e = r
        .check_line_template("title", "{{ date | nosuchfilter }}")
        .expect_err("unknown filter");
    assert!(e.to_string().contains("title"), "{e}");
    assert!(r.check_line_template("subject", "{% if %}").is_err());
    assert!(
        r.check_line_template("subject", "{{ digest }}: {{ counts }}")
            .is_ok()
    );
    let mut titled = d.clone();
    titled.title = "Morning news".into();
    let html = r.render(&titled, Format::Html).expect("html");
    assert!(html.contains("<title>Morning news</title>"));
    assert!(html.contains(">Morning news</h1>"));
}

/// The body of the one part of `msg` whose content type is `text/<sub>`.
fn mime_part(msg: &mail_parser::Message<'_>, sub: &str) -> String {
    use mail_parser::MimeHeaders;
    let parts: Vec<String> = msg
        .parts
        .iter()
        .filter(|p| {
            p.content_type()
                .is_some_and(|ct| ct.ctype() == "text" && ct.subtype() == Some(sub))
        })
        .filter_map(|p| p.text_contents().map(str::to_string))
        .collect();
    assert_eq!(parts.len(), 1, "exactly one text/{sub} part");
    parts.into_iter().next().unwrap_or_default()
}

/// The value of header `name` in the raw message head (unfolded).
fn raw_header(raw: &str, name: &str) -> Option<String> {
    let head = raw.split("\r\n\r\n").next().unwrap_or_default();
    let unfolded = head.replace("\r\n ", " ").replace("\r\n\t", " ");
    let prefix = format!("{}:", name.to_ascii_lowercase());
    unfolded
        .split("\r\n")
        .find(|l| l.to_ascii_lowercase().starts_with(&prefix))
        .map(|l| l[prefix.len()..].trim().to_string())
}

/// Done-when of the email edition: the real 2021-09-18 snapshot (18 outlets, 544 reports) served
/// from loopback, built by `once` and sent to a loopback SMTP server: the HTML part is at most
/// 100 KB (default budget 90 KB), the text part holds every story, and the digest-mailer
/// headers are there.
#[test]
fn real_snapshot_day_as_email_fits_the_budget_with_a_complete_text_part() {
    use crate::support::http::{Route, TestServer};
    use crate::support::smtp::SmtpServer;
    let Some(dir) = crate::support::shared::require("data/feeds/news-snapshots/2021-09-18T1913Z")
    else {
        return;
    };
    let http = TestServer::start();
    let smtp = SmtpServer::start().expect("smtp");
    let mut feeds = String::new();
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("snapshot dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "xml"))
        .collect();
    files.sort();
    for f in &files {
        let stem = f.file_stem().and_then(|s| s.to_str()).unwrap_or("feed");
        let path = format!("/{stem}.xml");
        http.route(&path, Route::feed(std::fs::read(f).expect("read snapshot")));
        feeds.push_str(&format!(
            "[[feed]]\nname = \"{stem}\"\nurl = \"{}\"\n\n",
            http.url(&path)
        ));
    }
    let app = crate::support::app::App::new(&format!(
        r#"state_dir = "{{dir}}/state"
timezone = "UTC"

{feeds}
[smtp]
host = "127.0.0.1"
port = {port}
security = "none"
from = "digestif <digest@news.example.org>"
timeout = "5s"

[[digest]]
name = "daily"
at = "07:00"
window = "36500d"
link = "https://news.example.org/daily/{{{{ date_iso }}}}.html"
unsubscribe = "me@example.org"

[[digest.output]]
kind = "email"
to = ["reader@example.org"]

[[digest.output]]
kind = "file"
dir = "{{dir}}/digests"
formats = ["json"]
"#,
        port = smtp.port()
    ));
    let r = app.run(&["once"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let msgs = smtp.wait_for_messages(1, std::time::Duration::from_secs(10));
    assert_eq!(msgs.len(), 1, "one digest mail");
    let raw = msgs[0].data_str();
    let digest = &app.json_digests()[0];
    let stories = digest["stories"].as_array().expect("stories");
    let reports: usize = stories
        .iter()
        .map(|s| s["articles"].as_array().map_or(0, Vec::len))
        .sum();
    assert!(
        reports >= 500,
        "the snapshot has 544 reports, got {reports}"
    );

    let msg = mail_parser::MessageParser::default()
        .parse(raw.as_bytes())
        .expect("mail parses");
    let html = mime_part(&msg, "html");
    let text = mime_part(&msg, "plain");
    eprintln!(
        "real snapshot email: {} stories, {reports} reports, HTML {} bytes, text {} bytes, message {} bytes",
        stories.len(),
        html.len(),
        text.len(),
        raw.len()
    );
    assert!(html.len() <= 100_000, "HTML part is {} bytes", html.len());
    assert!(
        html.contains("https://news.example.org/daily/"),
        "the footer links the full digest"
    );
    for s in stories {
        let title = s["title"].as_str().unwrap_or_default();
        let words: Vec<&str> = title.split_whitespace().collect();
        // The text part wraps lines: compare the words of each title, ignoring line breaks.
        let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(
            flat.contains(&words.join(" ")),
            "text part lacks story {title:?}"
        );
    }
    let list_id = raw_header(&raw, "List-Id").expect("List-Id");
    assert!(list_id.ends_with("<daily.news.example.org>"), "{list_id}");
    assert_eq!(
        raw_header(&raw, "Auto-Submitted").as_deref(),
        Some("auto-generated")
    );
    assert_eq!(
        raw_header(&raw, "List-Unsubscribe").as_deref(),
        Some("<mailto:me@example.org>")
    );
    let mid = msg.message_id().unwrap_or_default();
    assert!(mid.ends_with("@news.example.org"), "{mid}");
}
