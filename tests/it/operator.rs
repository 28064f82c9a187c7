//! The operator's commands, run as the real binary against loopback servers and a real SQLite
//! file: `status` (and `status --json`) shows a failed delivery with its error and next retry,
//! `resend` delivers a stored digest exactly once, `fetch`/`once` exit with the documented code
//! when every feed failed, a digest without outputs is a config error, and fatal errors are
//! said once, and the `metrics_file` parses as Prometheus text with the figures of `status`.

use std::time::Duration;

use crate::e2e::{config, serve_initial};
use crate::support::app::App;
use crate::support::http::{Route, TestServer};
use crate::support::smtp::SmtpServer;

#[test]
fn status_shows_a_failed_delivery_and_resend_delivers_it_exactly_once() {
    let http = TestServer::start();
    serve_initial(&http);
    let smtp = SmtpServer::down().expect("port");
    let app = App::new(&config(&http, smtp.port(), ""));
    let r = app.run(&["once"]);
    assert_eq!(r.code, 1, "a failed delivery: {}\n{}", r.stdout, r.stderr);

    let r = app.run(&["status"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("outbox: 1 waiting (1 failed)"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("failed email to"), "{}", r.stdout);
    assert!(
        r.stdout.contains("127.0.0.1"),
        "the error names the server: {}",
        r.stdout
    );
    let r = app.run(&["status", "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let j: serde_json::Value = serde_json::from_str(&r.stdout).expect("status --json parses");
    assert_eq!(j["failed"], 1);
    let email = j["outbox"][0]["deliveries"]
        .as_array()
        .expect("deliveries")
        .iter()
        .find(|d| d["target"].as_str().is_some_and(|t| t.starts_with("email")))
        .cloned()
        .expect("the email delivery");
    assert_eq!(email["status"], "failed");
    assert!(email["last_error"].as_str().is_some_and(|e| !e.is_empty()));
    assert!(email["next_attempt"].is_string(), "{email}");
    assert_eq!(j["feeds"].as_array().map(Vec::len), Some(2));
    assert!(j["digests"][0]["next_at"].is_string());
    let id = j["outbox"][0]["id"].as_i64().expect("id");

    smtp.up().expect("smtp up");
    let r = app.run(&["resend", "daily", "--id", &id.to_string()]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let msgs = smtp.wait_for_messages(1, Duration::from_secs(5));
    assert_eq!(msgs.len(), 1);
    // Resending never rebuilds: still one digest in the outbox.
    let r = app.run(&["status", "--json"]);
    let j: serde_json::Value = serde_json::from_str(&r.stdout).expect("json");
    assert_eq!(j["outbox"].as_array().map(Vec::len), Some(1));
    assert_eq!(j["pending"], 0);
    assert_eq!(j["digests"][0]["last_sent_id"], id);
    // The pending delivery is not sent a second time by the next round.
    let r = app.run(&["once"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(smtp.messages().len(), 1, "delivered exactly once");

    let r = app.run(&["resend", "nosuch"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("nosuch"), "{}", r.stderr);
}

#[test]
fn every_feed_failing_gives_the_documented_exit_code() {
    let http = TestServer::start();
    http.route("/alpha.xml", Route::status(500));
    http.route("/beta.xml", Route::status(404));
    let smtp = SmtpServer::start().expect("smtp");
    let app = App::new(&config(&http, smtp.port(), ""));
    let r = app.run(&["fetch"]);
    assert_eq!(r.code, 69, "{}\n{}", r.stdout, r.stderr);
    let r = app.run(&["once"]);
    assert_eq!(r.code, 69, "{}\n{}", r.stdout, r.stderr);
    // One feed back: not all failed, exit 0.
    serve_initial(&http);
    http.route("/beta.xml", Route::status(500));
    let r = app.run(&["fetch"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
}

#[test]
fn a_digest_without_outputs_is_a_config_error() {
    let app = App::new(
        r#"state_dir = "{dir}/state"
[[feed]]
name = "A"
url = "http://127.0.0.1:9/a.xml"

[[digest]]
name = "daily"
at = "07:00"
"#,
    );
    let r = app.run(&["check-config"]);
    assert_eq!(r.code, 78, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("digest[0]"), "{}", r.stderr);
    assert!(r.stderr.contains("[[digest.output]]"), "{}", r.stderr);
}

#[test]
fn a_fatal_error_is_said_once_with_its_os_error_once() {
    let app = App::new("");
    std::fs::remove_file(app.config_path()).expect("rm config");
    let r = app.run(&["check-config"]);
    assert_eq!(r.code, 78, "{}", r.stderr);
    assert_eq!(
        r.stderr.matches("digestif: error").count(),
        1,
        "{}",
        r.stderr
    );
    assert_eq!(r.stderr.matches("os error 2").count(), 1, "{}", r.stderr);
}

#[test]
fn check_config_compiles_subject_title_and_link_templates() {
    let base = r#"state_dir = "{dir}/state"
[[feed]]
name = "A"
url = "http://127.0.0.1:9/a.xml"

[[digest]]
name = "daily"
at = "07:00"
TEMPLATE

[[digest.output]]
kind = "file"
dir = "{dir}/digests"
"#;
    let app = App::new(&base.replace("TEMPLATE", "title = \"{{ digest }} — {{ date_long }}\""));
    let r = app.run(&["check-config"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    for bad in [
        "subject = \"{{ n | nosuchfilter }}\"",
        "title = \"{% if %}\"",
        "link = \"https://x.example/{{ date_iso \"",
    ] {
        app.write_config(&base.replace("TEMPLATE", bad));
        let r = app.run(&["check-config"]);
        assert_eq!(r.code, 78, "{bad}: {}\n{}", r.stdout, r.stderr);
        assert!(r.stderr.contains("digest daily"), "{bad}: {}", r.stderr);
    }
    app.write_config(&base.replace("TEMPLATE", "link = \"ftp://x.example/\""));
    let r = app.run(&["check-config"]);
    assert_eq!(r.code, 78, "{}", r.stderr);
    assert!(r.stderr.contains("digest[0].link"), "{}", r.stderr);
}

/// Regression: `tag | head` and `import-opml | head` panicked with exit 101 when the pipe closed.
#[test]
fn a_closed_output_pipe_ends_quietly_without_a_panic() {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().expect("tmp");
    let mut opml = String::from("<opml version=\"2.0\"><body>");
    for i in 0..3000 {
        opml.push_str(&format!(
            "<outline type=\"rss\" text=\"Feed {i}\" xmlUrl=\"https://f{i}.example/rss\"/>"
        ));
    }
    opml.push_str("</body></opml>");
    let file = dir.path().join("big.opml");
    std::fs::write(&file, opml).expect("write opml");
    let text = "Joe Biden met Angela Merkel in Berlin. ".repeat(4000);
    for (args, input) in [
        (vec!["tag".to_string()], text.clone()),
        (vec!["tag".to_string(), "--json".to_string()], text),
        (
            vec!["import-opml".to_string(), file.display().to_string()],
            String::new(),
        ),
    ] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_digestif"))
            .args(["--config", "/nonexistent/config.toml"])
            .args(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        // Close our end of its stdout at once, as `| head -0` would (before feeding it: `tag`
        // writes while it reads, and a full pipe nobody reads would block both sides).
        drop(child.stdout.take());
        if let Some(mut stdin) = child.stdin.take() {
            let _ = stdin.write_all(input.as_bytes());
        }
        let out = child.wait_with_output().expect("wait");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert_ne!(out.status.code(), Some(101), "{args:?}: {stderr}");
        assert!(
            matches!(out.status.code(), Some(0) | None),
            "{args:?}: {:?} {stderr}",
            out.status
        );
    }
}

/// At the default level a fetch round says one info line (feeds, new, not modified, failed,
/// seconds) and one warn line per failing feed with its name, URL and cause; nothing per item.
#[test]
fn a_fetch_round_logs_one_info_line_and_one_warn_line_per_failing_feed() {
    let http = TestServer::start();
    serve_initial(&http);
    let smtp = SmtpServer::start().expect("smtp");
    let gone = "[[feed]]\nname = \"Gamma Gone\"\nurl = \"http://127.0.0.1:9/gamma.xml\"\n";
    let app = App::new(&config(&http, smtp.port(), gone));
    let lines = |stderr: &str, level: &str| -> Vec<String> {
        stderr
            .lines()
            .filter(|l| l.contains(level))
            .map(str::to_string)
            .collect()
    };
    let r = app.run(&["once"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let info = lines(&r.stderr, "INFO");
    let rounds: Vec<&String> = info.iter().filter(|l| l.contains("fetch round")).collect();
    assert_eq!(rounds.len(), 1, "{}", r.stderr);
    let round = rounds[0];
    for field in ["feeds=3", "new=3", "not_modified=0", "failed=1", "seconds="] {
        assert!(round.contains(field), "{field} missing: {round}");
    }
    // The rest of `once` at info: the new database's migration, the digest built and its two
    // deliveries; no item lines.
    assert!(info.len() <= 5, "{}", r.stderr);
    assert!(
        !r.stderr.contains("energy pact"),
        "an item at info: {}",
        r.stderr
    );
    let warn = lines(&r.stderr, "WARN");
    assert_eq!(warn.len(), 1, "{}", r.stderr);
    for part in ["Gamma Gone", "http://127.0.0.1:9/gamma.xml", "refused"] {
        assert!(warn[0].contains(part), "{part} missing: {}", warn[0]);
    }

    // Again: Alpha answers 304 to its ETag, Beta has nothing new, Gamma still fails.
    let r = app.run(&["fetch"]);
    let info = lines(&r.stderr, "INFO");
    assert_eq!(info.len(), 1, "{}", r.stderr);
    for field in ["feeds=3", "new=0", "not_modified=1", "failed=1"] {
        assert!(info[0].contains(field), "{field} missing: {}", info[0]);
    }
    assert_eq!(lines(&r.stderr, "WARN").len(), 1, "{}", r.stderr);
}

/// The sample of `name` whose labels include `labels`, as a number.
fn metric(scrape: &prometheus_parse::Scrape, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    scrape
        .samples
        .iter()
        .find(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .and_then(|s| match s.value {
            prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Untyped(v) => Some(v),
            _ => None,
        })
}

fn scrape(path: &std::path::Path) -> prometheus_parse::Scrape {
    let text = std::fs::read_to_string(path).expect("metrics_file written");
    let lines = text.lines().map(|l| Ok(l.to_string()));
    prometheus_parse::Scrape::parse(lines).expect("metrics_file is Prometheus text")
}

#[test]
fn metrics_file_parses_as_prometheus_text_with_the_status_figures() {
    let http = TestServer::start();
    serve_initial(&http);
    http.route("/beta.xml", Route::status(500));
    let smtp = SmtpServer::down().expect("port");
    let metrics = "metrics_file = \"{dir}/textfile/digestif.prom\"\n";
    let app = App::new(&format!("{metrics}{}", config(&http, smtp.port(), "")));
    let path = app.path().join("textfile/digestif.prom");
    let r = app.run(&["check-config"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = app.run(&["once"]);
    assert_eq!(r.code, 1, "a failed delivery: {}\n{}", r.stdout, r.stderr);

    let m = scrape(&path);
    let alpha = [("feed", "Alpha News")];
    let beta = [("feed", "Beta Post")];
    let daily = [("digest", "daily")];
    assert_eq!(metric(&m, "digestif_feed_up", &alpha), Some(1.0));
    assert_eq!(metric(&m, "digestif_feed_up", &beta), Some(0.0));
    assert_eq!(
        metric(&m, "digestif_feeds", &[("status", "failing")]),
        Some(1.0)
    );
    assert_eq!(
        metric(&m, "digestif_feed_consecutive_failures", &beta),
        Some(1.0)
    );
    assert_eq!(
        metric(&m, "digestif_feed_items_seen_total", &alpha),
        Some(2.0)
    );
    assert!(metric(&m, "digestif_feed_last_success_timestamp_seconds", &alpha).is_some());
    assert_eq!(
        metric(&m, "digestif_feed_last_success_timestamp_seconds", &beta),
        None,
        "a feed never fetched has no success time"
    );
    assert_eq!(metric(&m, "digestif_digests_built", &daily), Some(1.0));
    assert!(metric(&m, "digestif_digest_next_timestamp_seconds", &daily).is_some());
    assert_eq!(metric(&m, "digestif_deliveries_pending", &[]), Some(1.0));
    assert_eq!(metric(&m, "digestif_deliveries_failed", &[]), Some(1.0));
    // Families are typed for the collector.
    let types = &m.docs;
    assert!(types.contains_key("digestif_feed_up"), "{types:?}");
    // Written atomically: nothing but the file itself in its folder.
    let names: Vec<_> = std::fs::read_dir(app.path().join("textfile"))
        .expect("folder")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("digestif.prom")]);

    // The next round delivers: the file follows.
    smtp.up().expect("smtp up");
    serve_initial(&http);
    let r = app.run(&["once"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let m = scrape(&path);
    assert_eq!(metric(&m, "digestif_deliveries_pending", &[]), Some(0.0));
    assert_eq!(metric(&m, "digestif_feed_up", &beta), Some(1.0));
    assert!(metric(&m, "digestif_digest_last_sent_timestamp_seconds", &daily).is_some());
}

#[test]
fn metrics_file_naming_a_folder_is_a_config_error() {
    let app = App::new("metrics_file = \"{dir}\"\n");
    let r = app.run(&["check-config"]);
    assert_eq!(r.code, 78, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("config.toml:1"), "{}", r.stderr);
    assert!(r.stderr.contains("metrics_file"), "{}", r.stderr);
    assert!(r.stderr.contains("is a folder"), "{}", r.stderr);
}

/// `tag` reads its input piece by piece (memory flat in the input's length, see
/// scripts/memory-figures.sh): the JSON still parses, every mention's offsets index the whole
/// input, and the entity counts add up over the pieces.
#[test]
fn tag_reads_a_long_input_in_pieces_with_offsets_into_the_whole() {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let text = "Joe Biden met Angela Merkel in Berlin. ".repeat(6000);
    let mut child = Command::new(env!("CARGO_BIN_EXE_digestif"))
        .args(["--config", "/nonexistent/config.toml", "tag", "--json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut stdin = child.stdin.take().expect("stdin");
    let input = text.clone();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().expect("wait");
    writer.join().expect("writer").expect("write stdin");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).expect("tag --json parses");
    let mentions = j["mentions"].as_array().expect("mentions");
    assert!(mentions.len() > 6000, "{}", mentions.len());
    let mut biden = 0;
    for m in mentions {
        let (s, e) = (
            m["start"].as_u64().unwrap_or(0),
            m["end"].as_u64().unwrap_or(0),
        );
        assert_eq!(
            Some(&text[s as usize..e as usize]),
            m["text"].as_str(),
            "{m}"
        );
        biden += usize::from(m["name"] == "Joe Biden");
    }
    let entity = |name: &str| {
        j["entities"]
            .as_array()
            .and_then(|a| a.iter().find(|e| e["name"] == name))
            .cloned()
            .unwrap_or_default()
    };
    assert!(biden > 1000, "{biden}");
    assert_eq!(entity("Joe Biden")["mentions"], biden);
    assert_eq!(entity("Joe Biden")["first_offset"], 0);
}
