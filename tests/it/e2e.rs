//! End to end: the real binary, a real HTTP server and a real SMTP server on loopback, a real
//! SQLite file. Pins "nothing lost, nothing sent twice".

use std::time::Duration;

use crate::support::app::{App, rss};
use crate::support::http::{Route, TestServer};
use crate::support::smtp::SmtpServer;

pub(crate) fn config(http: &TestServer, smtp_port: u16, extra_feed: &str) -> String {
    format!(
        r#"state_dir = "{{dir}}/state"
timezone = "UTC"

[[feed]]
name = "Alpha News"
url = "{alpha}"

[[feed]]
name = "Beta Post"
url = "{beta}"
{extra_feed}
[[digest]]
name = "daily"
at = "07:00"
window = "48h"

[[digest.output]]
kind = "file"
dir = "{{dir}}/digests"
formats = ["json", "html", "md", "txt"]

[[digest.output]]
kind = "email"
to = ["reader@example.org"]

[smtp]
host = "127.0.0.1"
port = {smtp_port}
security = "none"
from = "digestif <digest@example.org>"
timeout = "5s"
"#,
        alpha = http.url("/alpha.xml"),
        beta = http.url("/beta.xml"),
    )
}

pub(crate) fn serve_initial(http: &TestServer) {
    http.route(
        "/alpha.xml",
        Route::feed(rss(
            "Alpha",
            &[
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
            ],
        ))
        .etag("\"alpha-v1\""),
    );
    http.route(
        "/beta.xml",
        Route::feed(rss(
            "Beta",
            &[(
                "b1",
                "Merz and Macron sign energy pact",
                "<p>Germany and France signed an energy agreement in Berlin on Friday.</p>",
            )],
        )),
    );
}

/// A running HTTP server with the initial feeds, a running SMTP server and an installation using both.
fn installation() -> (TestServer, SmtpServer, App) {
    let http = TestServer::start();
    serve_initial(&http);
    let smtp = SmtpServer::start().expect("smtp");
    let app = App::new(&config(&http, smtp.port(), ""));
    (http, smtp, app)
}

fn titles(digest: &serde_json::Value) -> Vec<String> {
    let mut v: Vec<String> = digest["stories"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|s| s["articles"].as_array().into_iter().flatten())
        .filter_map(|a| a["title"].as_str().map(str::to_string))
        .collect();
    v.sort();
    v
}

#[test]
fn two_runs_in_a_row_send_one_digest() {
    let (http, smtp, app) = installation();
    let r = app.run(&["once"]);
    assert_eq!(r.code, 0, "first run failed: {}\n{}", r.stdout, r.stderr);
    let r = app.run(&["once"]);
    assert_eq!(r.code, 0, "second run failed: {}\n{}", r.stdout, r.stderr);
    assert_eq!(smtp.messages().len(), 1, "exactly one email for two runs");
    let json = app.json_digests();
    assert_eq!(json.len(), 1, "one digest file set: {:?}", app.outputs());
    // The second fetch was conditional and answered 304 for the feed with an ETag.
    let req = http.last_request("/alpha.xml").expect("alpha fetched");
    assert_eq!(req.header("if-none-match"), Some("\"alpha-v1\""));
    // Every article in exactly one story; titles present in HTML and text renderings.
    let t = titles(&json[0]);
    assert_eq!(t.len(), 3, "{t:?}");
    for ext in ["html", "txt"] {
        let f = app
            .outputs()
            .into_iter()
            .find(|p| p.extension().is_some_and(|e| e == ext))
            .expect("rendering");
        let body = std::fs::read_to_string(f).expect("read");
        for title in &t {
            assert!(
                body.contains(title.as_str()) || body.contains(&title.replace('&', "&amp;")),
                "{ext} lacks {title}"
            );
        }
    }
}

#[test]
fn a_new_item_yields_a_digest_holding_only_it() {
    let (http, smtp, app) = installation();
    assert_eq!(app.run(&["once"]).code, 0);
    http.route(
        "/beta.xml",
        Route::feed(rss(
            "Beta",
            &[
                (
                    "b2",
                    "Volcano erupts in Iceland",
                    "<p>An eruption near Grindavik forced evacuations.</p>",
                ),
                (
                    "b1",
                    "Merz and Macron sign energy pact",
                    "<p>Germany and France signed an energy agreement in Berlin on Friday.</p>",
                ),
            ],
        )),
    );
    let r = app.run(&["once"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let msgs = smtp.wait_for_messages(2, Duration::from_secs(5));
    assert_eq!(msgs.len(), 2);
    let json = app.json_digests();
    assert_eq!(json.len(), 2, "{:?}", app.outputs());
    let second = json
        .iter()
        .find(|d| titles(d).iter().any(|t| t.contains("Volcano")))
        .expect("a digest with the new item");
    assert_eq!(
        titles(second),
        vec!["Volcano erupts in Iceland".to_string()]
    );
}

#[test]
fn smtp_down_then_up_delivers_the_pending_digest_exactly_once() {
    let http = TestServer::start();
    serve_initial(&http);
    let smtp = SmtpServer::down().expect("port");
    let app = App::new(&config(&http, smtp.port(), ""));
    let r = app.run(&["once"]);
    assert_ne!(r.code, 0, "a failed delivery makes `once` fail");
    assert!(r.stdout.contains("FAILED delivery"), "{}", r.stdout);
    assert_eq!(
        app.json_digests().len(),
        1,
        "the file output still went out"
    );
    smtp.up().expect("smtp up");
    let r = app.run(&["once"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let r = app.run(&["once"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let msgs = smtp.messages();
    assert_eq!(msgs.len(), 1, "the pending digest is delivered once");
    // It is the stored digest, not a rebuilt one: it holds the original three articles.
    let body = msgs[0].data_str();
    assert!(
        body.contains("Floods hit northern Italy") || body.contains("Floods=20hit"),
        "{body}"
    );
    assert_eq!(app.json_digests().len(), 1, "no second digest was built");
}

#[test]
fn hostile_feed_markup_never_reaches_the_email() {
    let http = TestServer::start();
    http.route(
        "/alpha.xml",
        Route::feed(rss(
            "Alpha",
            &[(
                "x1",
                "Storm warning for Lisbon",
                "<p onclick=\"steal()\">Storm <b>warning</b> for Lisbon.<script>alert('pwned')</script>\
                 <img src=\"https://tracker.example.com/pixel.gif\" width=\"1\" height=\"1\" onerror=\"alert(1)\">\
                 <a href=\"javascript:alert(2)\">click</a><iframe src=\"https://evil.example.com/\"></iframe>\
                 <style>.evil-marker{color:red}</style></p>",
            )],
        )),
    );
    http.route("/beta.xml", Route::feed(rss("Beta", &[])));
    let smtp = SmtpServer::start().expect("smtp");
    let app = App::new(&config(&http, smtp.port(), ""));
    let r = app.run(&["once"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let msgs = smtp.wait_for_messages(1, Duration::from_secs(5));
    assert_eq!(msgs.len(), 1);
    let raw = msgs[0].data_str();
    let decoded = crate::support::app::decode_mail_bodies(&raw);
    assert!(decoded.contains("Storm warning for Lisbon"), "{decoded}");
    for bad in [
        "<script",
        "alert(",
        "onerror",
        "onclick",
        "pixel.gif",
        "tracker.example.com",
        "javascript:",
        "<iframe",
        "evil.example.com",
        "evil-marker",
    ] {
        assert!(
            !decoded.to_lowercase().contains(bad),
            "email contains {bad}:\n{decoded}"
        );
    }
}

#[test]
fn one_failing_feed_never_stops_the_others() {
    let http = TestServer::start();
    serve_initial(&http);
    http.route(
        "/broken.xml",
        Route::html("<html><body><h1>403 Forbidden</h1></body></html>"),
    );
    let smtp = SmtpServer::start().expect("smtp");
    let extra = format!(
        "\n[[feed]]\nname = \"Broken Wire\"\nurl = \"{}\"\n",
        http.url("/broken.xml")
    );
    let app = App::new(&config(&http, smtp.port(), &extra));
    let r = app.run(&["once"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("Broken Wire"), "{}", r.stdout);
    let json = app.json_digests();
    assert_eq!(titles(&json[0]).len(), 3);
    let health = json[0]["feed_health"].as_array().expect("feed_health");
    let broken = health
        .iter()
        .find(|h| h["feed"] == "Broken Wire")
        .expect("broken feed in health");
    assert_eq!(broken["status"], "error");
    assert!(
        broken["error"]
            .as_str()
            .is_some_and(|e| e.contains("Broken Wire") || e.contains("broken.xml")),
        "{broken}"
    );
    let feeds = app.run(&["feeds"]);
    assert!(
        feeds
            .stdout
            .lines()
            .any(|l| l.starts_with("Broken Wire") && l.contains("error")),
        "{}",
        feeds.stdout
    );
}

#[test]
fn broken_config_names_its_line_and_exits_with_the_config_code() {
    let app = App::new(
        "state_dir = \"{dir}/state\"\ntimezone = \"UTC\"\n\n[[feed]]\nname = \"A\"\nurl = \"http://127.0.0.1:9/a\"\ninteval = \"1h\"\n",
    );
    let r = app.run(&["check-config"]);
    assert_eq!(r.code, 78, "{}", r.stderr);
    assert!(r.stderr.contains("config.toml:7:"), "{}", r.stderr);
    assert!(
        r.stderr.contains("interval"),
        "suggestion missing: {}",
        r.stderr
    );
}

/// Regression: config warnings were emitted before logging was set up, so a plain SMTP password
/// in the config was accepted without the warning ever reaching the terminal or the journal.
#[test]
fn config_warnings_were_logged_before_logging_existed() {
    let app = App::new(
        "state_dir = \"{dir}/state\"\ntimezone = \"UTC\"\n\n[[feed]]\nname = \"A\"\nurl = \"http://127.0.0.1:9/a\"\n\n[smtp]\nhost = \"127.0.0.1\"\nport = 2525\nsecurity = \"none\"\nusername = \"mailer\"\npassword = \"hunter2\"\nfrom = \"digestif <digest@example.org>\"\n\n[[digest]]\nname = \"daily\"\nat = \"07:00\"\n[[digest.output]]\nkind = \"email\"\nto = [\"reader@example.org\"]\n",
    );
    let r = app.run(&["check-config"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("smtp.password: plain password"),
        "warning missing from stderr: {}",
        r.stderr
    );
    assert!(!r.stderr.contains("hunter2"), "{}", r.stderr);
}

#[test]
fn email_is_multipart_alternative_with_exactly_text_and_html() {
    let (_http, smtp, app) = installation();
    assert_eq!(app.run(&["once"]).code, 0);
    let msgs = smtp.wait_for_messages(1, Duration::from_secs(5));
    let raw = msgs[0].data_str();
    let lower = raw.to_ascii_lowercase();
    for h in [
        "\r\ndate: ",
        "\r\nmessage-id: ",
        "\r\nfrom: ",
        "\r\nto: ",
        "\r\nsubject: ",
    ] {
        assert!(
            lower.contains(h) || lower.starts_with(&h[2..]),
            "missing header {h}"
        );
    }
    assert!(
        lower.contains("content-type: multipart/alternative"),
        "{raw}"
    );
    assert_eq!(lower.matches("content-type: text/plain").count(), 1);
    assert_eq!(lower.matches("content-type: text/html").count(), 1);
    assert!(!lower.contains("content-disposition: attachment"));
    assert_eq!(msgs[0].rcpt_to, vec!["reader@example.org".to_string()]);
}

fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let start = std::time::Instant::now();
    while start.elapsed() < timeout {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    f()
}

fn signal(pid: u32, sig: &str) {
    let status = std::process::Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{sig} {pid}");
}

#[test]
fn daemon_keeps_old_config_on_bad_reload_and_stops_cleanly_on_sigterm() {
    let (http, _smtp, app) = installation();
    let stderr_path = app.path().join("daemon.log");
    let stderr = std::fs::File::create(&stderr_path).expect("log file");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_digestif"))
        .arg("--config")
        .arg(app.config_path())
        .arg("--log-level")
        .arg("info")
        .arg("run")
        .env_remove("NOTIFY_SOCKET")
        .env_remove("JOURNAL_STREAM")
        .env_remove("INVOCATION_ID")
        .stderr(stderr)
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("start daemon");
    // On start it fetches every feed that is due (all of them: never fetched).
    assert!(
        wait_until(Duration::from_secs(20), || http.hits("/alpha.xml") >= 1
            && http.hits("/beta.xml") >= 1),
        "daemon did not fetch"
    );
    // A broken config on SIGHUP is logged and the old one kept.
    app.write_config("this is = = not toml");
    signal(child.id(), "HUP");
    let log = || std::fs::read_to_string(&stderr_path).unwrap_or_default();
    assert!(
        wait_until(Duration::from_secs(10), || log()
            .contains("keeping the old one")),
        "no reload message: {}",
        log()
    );
    assert!(
        child.try_wait().expect("try_wait").is_none(),
        "daemon died on a bad reload"
    );
    // SIGTERM: clean exit well within 10 s.
    let start = std::time::Instant::now();
    signal(child.id(), "TERM");
    let status = loop {
        if let Some(s) = child.try_wait().expect("try_wait") {
            break s;
        }
        if start.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            panic!("daemon did not stop within 10 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "exit status {status:?}: {}", log());
    assert!(log().contains("shutting down"), "{}", log());
}

#[test]
fn a_story_continuing_from_an_earlier_digest_is_marked_developing() {
    let (http, _smtp, app) = installation();
    assert_eq!(app.run(&["once"]).code, 0);
    // Later: two more reports of the Merz–Macron energy pact.
    http.route(
        "/alpha.xml",
        Route::feed(rss(
            "Alpha",
            &[(
                "a3",
                "Merz and Macron energy pact faces scrutiny in Berlin",
                "<p>Critics in Berlin questioned the energy pact Friedrich Merz and Emmanuel Macron signed for Germany and France.</p>",
            )],
        )),
    );
    http.route(
        "/beta.xml",
        Route::feed(rss(
            "Beta",
            &[(
                "b3",
                "Germany and France energy pact: what Merz and Macron agreed",
                "<p>The energy agreement between Germany and France, signed by Friedrich Merz and Emmanuel Macron in Berlin, explained.</p>",
            )],
        )),
    );
    let r = app.run(&["once"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let json = app.json_digests();
    assert_eq!(json.len(), 2);
    let second = json
        .iter()
        .find(|d| titles(d).iter().any(|t| t.contains("scrutiny")))
        .expect("second digest");
    let story = second["stories"]
        .as_array()
        .expect("stories")
        .iter()
        .find(|s| s["articles"].as_array().is_some_and(|a| a.len() == 2))
        .expect("the two new reports form one story");
    let developing = &story["developing"];
    assert!(developing.is_object(), "not marked developing: {story}");
    assert!(
        developing["first_headline"]
            .as_str()
            .is_some_and(|h| h.contains("energy pact")),
        "{developing}"
    );
}

fn start_daemon(app: &App, log: &std::path::Path) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_digestif"))
        .arg("--config")
        .arg(app.config_path())
        .arg("--log-level")
        .arg("info")
        .arg("run")
        .env_remove("NOTIFY_SOCKET")
        .env_remove("JOURNAL_STREAM")
        .env_remove("INVOCATION_ID")
        .stderr(std::fs::File::create(log).expect("log file"))
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("start daemon")
}

fn stop(mut child: std::process::Child) {
    signal(child.id(), "TERM");
    let ok = wait_until(Duration::from_secs(10), || {
        matches!(child.try_wait(), Ok(Some(_)))
    });
    if !ok {
        let _ = child.kill();
    }
    assert!(ok, "daemon did not stop within 10 s");
}

/// The installation's config with its digest scheduled two minutes ago (UTC) and the given grace.
fn config_due_two_minutes_ago(http: &TestServer, smtp: &SmtpServer, grace: &str) -> String {
    let due = jiff::Timestamp::now() - jiff::SignedDuration::from_mins(2);
    let hhmm = due
        .to_zoned(jiff::tz::TimeZone::UTC)
        .strftime("%H:%M")
        .to_string();
    config(http, smtp.port(), "").replace(
        "at = \"07:00\"",
        &format!("at = \"{hhmm}\"\ngrace = \"{grace}\""),
    )
}

/// Also a regression test: SIGTERM arriving while a delivery was in flight abandoned it after the
/// mail server had accepted the message, and the restart sent the digest a second time.
#[test]
fn daemon_catches_up_a_digest_missed_while_down_exactly_once() {
    let (http, smtp, app) = installation();
    // The digest was due two minutes ago (UTC), within its grace period.
    app.write_config(&config_due_two_minutes_ago(&http, &smtp, "1h"));
    // The installation existed before the missed time: it fetched ten minutes ago.
    let r = app.run(&["fetch"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let db = rusqlite::Connection::open(app.path().join("state/digestif.sqlite3")).expect("db");
    db.execute("UPDATE feeds SET last_fetch = last_fetch - 600", [])
        .expect("backdate the fetch");
    drop(db);
    let log = app.path().join("daemon.log");
    let child = start_daemon(&app, &log);
    let caught_up = wait_until(Duration::from_secs(20), || smtp.messages().len() == 1);
    stop(child);
    assert!(
        caught_up,
        "no catch-up digest: {}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    assert_eq!(app.json_digests().len(), 1);
    // A restart does not build the same scheduled digest again.
    let child = start_daemon(&app, &log);
    assert!(wait_until(Duration::from_secs(10), || http
        .hits("/alpha.xml")
        >= 2
        || std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("digestif running")));
    std::thread::sleep(Duration::from_secs(1));
    stop(child);
    assert_eq!(
        smtp.messages().len(),
        1,
        "the caught-up digest was sent again"
    );
    assert_eq!(app.json_digests().len(), 1);
}

/// A fresh install does not "catch up" a run it never missed: installed two minutes after the
/// scheduled time (within the grace period), it sends nothing until the next scheduled time.
#[test]
fn fresh_install_sends_nothing_until_the_next_scheduled_time() {
    let (http, smtp, app) = installation();
    app.write_config(&config_due_two_minutes_ago(&http, &smtp, "6h"));
    let log = app.path().join("daemon.log");
    let child = start_daemon(&app, &log);
    let started = wait_until(Duration::from_secs(10), || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("first start")
    });
    // Give a wrongly scheduled catch-up the time to show.
    std::thread::sleep(Duration::from_secs(2));
    stop(child);
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(started, "no first-start note: {text}");
    assert!(smtp.messages().is_empty(), "a fresh install sent a digest");
    assert!(
        app.json_digests().is_empty(),
        "a fresh install built a digest"
    );
}
