//! Faults that really happen: the real binary killed with SIGKILL inside the ingest transaction,
//! inside the digest transaction and during delivery; a mail server that takes the message and
//! never confirms it; a second instance; database files that are empty, foreign or damaged. Each
//! test restarts the binary against the same SQLite file and checks what the SMTP sink received.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use digestif::store::Store;

use crate::support::app::{App, rss};
use crate::support::http::{Route, TestServer};
use crate::support::smtp::SmtpServer;

fn config(http: &TestServer, smtp_port: u16, smtp_timeout: &str) -> String {
    format!(
        r#"state_dir = "{{dir}}/state"
timezone = "UTC"

[[feed]]
name = "Alpha News"
url = "{alpha}"

[[feed]]
name = "Beta Post"
url = "{beta}"

[[digest]]
name = "daily"
at = "07:00"
window = "48h"

[[digest.output]]
kind = "email"
to = ["reader@example.org"]

[smtp]
host = "127.0.0.1"
port = {smtp_port}
security = "none"
from = "digestif <digest@example.org>"
timeout = "{smtp_timeout}"
"#,
        alpha = http.url("/alpha.xml"),
        beta = http.url("/beta.xml"),
    )
}

fn serve(http: &TestServer) {
    http.route(
        "/alpha.xml",
        Route::feed(rss(
            "Alpha",
            &[
                (
                    "a1",
                    "Dam bursts in Zaporizhzhia region",
                    "<p>Water rose.</p>",
                ),
                ("a2", "Central bank holds rates", "<p>No change.</p>"),
            ],
        )),
    );
    http.route(
        "/beta.xml",
        Route::feed(rss(
            "Beta",
            &[("b1", "Harvest festival opens in Lyon", "<p>Crowds.</p>")],
        )),
    );
}

fn setup(smtp_timeout: &str) -> (TestServer, SmtpServer, App) {
    let http = TestServer::start();
    serve(&http);
    let smtp = SmtpServer::start().expect("smtp");
    let app = App::new(&config(&http, smtp.port(), smtp_timeout));
    (http, smtp, app)
}

fn db_path(app: &App) -> PathBuf {
    app.path()
        .join("state")
        .join(digestif::store::DATABASE_FILE)
}

/// Starts `digestif once` with `DIGESTIF_TEST_PAUSE=pause` (if any); returns the child and a
/// channel receiving its stderr lines.
fn spawn_once(app: &App, pause: Option<&str>) -> (Child, mpsc::Receiver<String>) {
    let mut cmd = app.command(&["once"]);
    cmd.stdout(Stdio::null()).stderr(Stdio::piped());
    if let Some(p) = pause {
        cmd.env(digestif::testhook::ENV, p);
    }
    let mut child = cmd.spawn().expect("spawn digestif");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (child, rx)
}

/// Waits for a stderr line containing `needle`; panics with what was seen after `timeout`.
fn wait_line(rx: &mpsc::Receiver<String>, needle: &str, timeout: Duration) {
    let until = std::time::Instant::now() + timeout;
    let mut seen = Vec::new();
    while let Some(left) = until.checked_duration_since(std::time::Instant::now()) {
        match rx.recv_timeout(left) {
            Ok(line) if line.contains(needle) => return,
            Ok(line) => seen.push(line),
            Err(_) => break,
        }
    }
    panic!(
        "no stderr line with {needle:?} within {timeout:?}; saw:\n{}",
        seen.join("\n")
    );
}

/// SIGKILL, then reap.
fn kill9(mut child: Child) {
    child.kill().expect("SIGKILL");
    let status = child.wait().expect("wait");
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9),
        "killed by SIGKILL"
    );
}

fn open_store(app: &App) -> Store {
    Store::open(&db_path(app)).expect("the database survives the crash and passes quick_check")
}

#[test]
fn kill_9_inside_the_ingest_transaction_loses_nothing_committed() {
    let (_http, smtp, app) = setup("5s");
    let (child, rx) = spawn_once(&app, Some("ingest-commit"));
    wait_line(&rx, "test pause at ingest-commit", Duration::from_secs(20));
    kill9(child);
    assert!(
        smtp.messages().is_empty(),
        "nothing delivered before the crash"
    );
    // The interrupted transaction left no articles behind, and the database opens cleanly.
    assert_eq!(open_store(&app).article_count().unwrap(), 0);
    let r = app.run(&["once"]);
    assert_eq!(
        r.code, 0,
        "restart after the crash: {}\n{}",
        r.stdout, r.stderr
    );
    let msgs = smtp.messages();
    assert_eq!(msgs.len(), 1, "one digest after the restart");
    assert_eq!(
        open_store(&app).article_count().unwrap(),
        3,
        "every article stored once"
    );
    let r = app.run(&["once"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(smtp.messages().len(), 1, "never a second copy");
}

#[test]
fn kill_9_inside_the_digest_transaction_builds_and_sends_it_once() {
    let (_http, smtp, app) = setup("5s");
    let (child, rx) = spawn_once(&app, Some("digest-commit"));
    wait_line(&rx, "test pause at digest-commit", Duration::from_secs(20));
    kill9(child);
    {
        let s = open_store(&app);
        assert_eq!(
            s.article_count().unwrap(),
            3,
            "the ingest before it was committed"
        );
        assert_eq!(s.digest_count(None).unwrap(), 0, "the digest was not");
    }
    let r = app.run(&["once"]);
    assert_eq!(
        r.code, 0,
        "restart after the crash: {}\n{}",
        r.stdout, r.stderr
    );
    let r = app.run(&["once"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let msgs = smtp.messages();
    assert_eq!(msgs.len(), 1, "the digest is built and sent exactly once");
    assert_eq!(open_store(&app).digest_count(None).unwrap(), 1);
    for t in ["Dam bursts", "Central bank", "Harvest festival"] {
        let body = crate::support::app::decode_mail_bodies(&msgs[0].data_str());
        assert!(body.contains(t), "the one digest holds {t:?}");
    }
}

#[test]
fn kill_9_after_the_server_took_the_message_never_sends_a_second_copy() {
    let (_http, smtp, app) = setup("30s");
    // The server receives the whole message, then holds its reply: the process dies waiting.
    smtp.stall_final_reply(Some(Duration::from_secs(60)));
    let (child, _rx) = spawn_once(&app, None);
    let got = smtp.wait_for_messages(1, Duration::from_secs(20));
    assert_eq!(got.len(), 1, "the message reached the server");
    kill9(child);
    smtp.stall_final_reply(None);
    for run in 0..2 {
        let r = app.run(&["once"]);
        assert_eq!(
            r.code, 0,
            "run {run} after the crash: {}\n{}",
            r.stdout, r.stderr
        );
        if run == 0 {
            assert!(r.stderr.contains("may have arrived"), "{}", r.stderr);
        }
    }
    assert_eq!(
        smtp.messages().len(),
        1,
        "the uncertain delivery is not repeated at once"
    );
    let s = open_store(&app);
    let d = s.deliveries_of(1).unwrap();
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].status, "uncertain", "{d:?}");
    assert!(
        d[0].next_attempt > jiff::Timestamp::now() + jiff::SignedDuration::from_hours(1),
        "backs off for hours: {d:?}"
    );
}

#[test]
fn regression_final_reply_stalled_past_the_timeout_sent_a_copy_per_run() {
    let (_http, smtp, app) = setup("1s");
    smtp.stall_final_reply(Some(Duration::from_secs(3)));
    let r = app.run(&["once"]);
    assert_ne!(
        r.code, 0,
        "an unconfirmed delivery is reported: {}\n{}",
        r.stdout, r.stderr
    );
    assert!(
        r.stdout.contains("did not confirm"),
        "{}\n{}",
        r.stdout,
        r.stderr
    );
    assert!(r.stderr.contains("uncertain"), "{}", r.stderr);
    for _ in 0..2 {
        let r = app.run(&["once"]);
        assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    }
    assert_eq!(smtp.messages().len(), 1, "three runs, one copy");
    let d = open_store(&app).deliveries_of(1).unwrap();
    assert_eq!(d[0].status, "uncertain");
}

#[test]
fn regression_status_left_out_an_uncertain_delivery_not_yet_due() {
    let (_http, smtp, app) = setup("1s");
    smtp.stall_final_reply(Some(Duration::from_secs(3)));
    let r = app.run(&["once"]);
    assert_ne!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let d = open_store(&app).deliveries_of(1).unwrap();
    assert_eq!(d[0].status, "uncertain");
    assert!(
        d[0].next_attempt > jiff::Timestamp::now(),
        "not yet due: {d:?}"
    );

    let r = app.run(&["status", "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let j: serde_json::Value = serde_json::from_str(&r.stdout).expect("status --json parses");
    assert_eq!(j["pending"], 1, "the uncertain delivery still waits: {j}");
    assert_eq!(j["uncertain"], 1, "{j}");
    assert_eq!(j["failed"], 0, "{j}");
    let r = app.run(&["status"]);
    assert!(
        r.stdout
            .contains("outbox: 1 waiting (0 failed, 1 uncertain"),
        "{}",
        r.stdout
    );
}

#[test]
fn a_second_instance_is_told_who_runs() {
    let (_http, _smtp, app) = setup("5s");
    let (child, rx) = spawn_once(&app, Some("ingest-commit"));
    wait_line(&rx, "test pause at ingest-commit", Duration::from_secs(20));
    let pid = child.id();
    for args in [&["once"][..], &["fetch"], &["digest"]] {
        let r = app.run(args);
        assert_eq!(r.code, 1, "{args:?}: {}", r.stderr);
        assert!(
            r.stderr
                .contains(&format!("another digestif is running (pid {pid})")),
            "{args:?}: {}",
            r.stderr
        );
    }
    // Readers still work beside the running instance.
    let r = app.run(&["feeds"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    kill9(child);
    let r = app.run(&["once"]);
    assert_eq!(r.code, 0, "the lock dies with its process: {}", r.stderr);
}

/// Every command that opens the database refuses `db` with exit 1 and names it, leaving the
/// file as it was.
fn assert_refused_everywhere(app: &App, what: &str) {
    let db = db_path(app);
    let before = std::fs::read(&db).unwrap();
    for args in [
        &["once"][..],
        &["fetch"],
        &["feeds"],
        &["digest", "--dry-run"],
    ] {
        let r = app.run(args);
        assert_eq!(r.code, 1, "{what}, {args:?}: {}\n{}", r.stdout, r.stderr);
        assert!(
            r.stderr.contains(&db.display().to_string()),
            "{what}, {args:?} names the file: {}",
            r.stderr
        );
    }
    assert_eq!(
        std::fs::read(&db).unwrap(),
        before,
        "{what}: file untouched"
    );
}

#[test]
fn zero_byte_foreign_and_damaged_databases_are_refused_by_every_command() {
    let (_http, _smtp, app) = setup("5s");
    let db = db_path(&app);
    std::fs::create_dir_all(db.parent().unwrap()).unwrap();
    std::fs::write(&db, b"").unwrap();
    assert_refused_everywhere(&app, "zero-byte");
    std::fs::write(&db, "id,title\n1,x\n".repeat(400)).unwrap();
    assert_refused_everywhere(&app, "foreign");
    // A real database with garbage written over its middle.
    std::fs::remove_file(&db).unwrap();
    {
        let mut s = Store::open(&db).unwrap();
        let feeds: Vec<(String, String)> = (0..400)
            .map(|i| (format!("feed {i}"), format!("http://f/{i}")))
            .collect();
        s.sync_feeds(feeds.iter().map(|(a, b)| (a.as_str(), b.as_str())))
            .unwrap();
    }
    let mut bytes = std::fs::read(&db).unwrap();
    assert!(bytes.len() > 16_384, "{}", bytes.len());
    let mid = bytes.len() / 2;
    bytes[mid..mid + 4096].fill(0xA5);
    std::fs::write(&db, &bytes).unwrap();
    assert_refused_everywhere(&app, "damaged");
}

#[test]
fn check_config_refuses_a_state_dir_that_is_a_file() {
    let (_http, _smtp, app) = setup("5s");
    std::fs::write(app.path().join("state"), "not a directory").unwrap();
    let r = app.run(&["check-config"]);
    assert_eq!(r.code, 78, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("not a directory"), "{}", r.stderr);
}

/// Regression: `fetch_all` ended the whole round on one feed's unexpected error (here a panic
/// while preparing it), against its own doc comment. Now that feed is failed in its health with
/// the cause, and the other feed is stored.
#[test]
fn regression_one_feeds_unexpected_error_ended_the_fetch_round() {
    let (_http, _smtp, app) = setup("5s");
    let out = app
        .command(&["fetch"])
        .env(digestif::testhook::PANIC_ENV, "prepare:Beta Post")
        .output()
        .expect("run digestif");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(0),
        "one feed of two failed: {stderr}"
    );
    let s = open_store(&app);
    let beta = s.feed_state("Beta Post").unwrap().expect("beta state");
    let alpha = s.feed_state("Alpha News").unwrap().expect("alpha state");
    let why = beta.last_error.unwrap_or_default();
    assert!(
        why.contains("unexpected error") && why.contains("test panic at prepare"),
        "{why}"
    );
    assert_eq!(beta.consecutive_failures, 1);
    assert!(beta.next_attempt.is_some(), "backs off like any failure");
    assert!(alpha.last_success.is_some() && alpha.items_seen > 0);
    assert!(s.article_count().unwrap() > 0);
}

/// Regression: the watchdog was pinged only while the daemon slept, so a fetch round or digest
/// build longer than `WatchdogSec` got the service killed. The daemon now pings from its own task:
/// here a real `NOTIFY_SOCKET` listener with `WATCHDOG_USEC` = 400 ms sees READY once, then pings
/// all through a fetch round held 3 s inside the ingest transactions.
#[test]
fn watchdog_pings_continue_during_a_long_fetch_round() {
    use std::os::unix::net::UnixDatagram;
    use std::time::Instant;
    let (_http, _smtp, app) = setup("5s");
    let sock_path = app.path().join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).expect("bind notify socket");
    sock.set_read_timeout(Some(Duration::from_millis(100)))
        .expect("timeout");
    let (msg_tx, msg_rx) = mpsc::channel::<(Instant, String)>();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop_reader = stop.clone();
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while !stop_reader.load(std::sync::atomic::Ordering::SeqCst) {
            if let Ok(n) = sock.recv(&mut buf) {
                let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                let _ = msg_tx.send((Instant::now(), text));
            }
        }
    });
    let mut child = app
        .command(&["run"])
        .env("NOTIFY_SOCKET", &sock_path)
        .env("WATCHDOG_USEC", "400000")
        .env_remove("WATCHDOG_PID")
        .env(digestif::testhook::ENV, "ingest-commit:1500")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn digestif run");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    wait_line(&rx, "test pause at ingest-commit", Duration::from_secs(20));
    let paused_at = Instant::now();
    std::thread::sleep(Duration::from_millis(1200));
    let held_until = Instant::now();
    // Stop the daemon (SIGTERM: a clean stop) and reap it before judging.
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.try_wait().expect("try_wait").is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    if child.try_wait().expect("try_wait").is_none() {
        let _ = child.kill();
    }
    let _ = child.wait();
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    reader.join().expect("reader");
    let msgs: Vec<(Instant, String)> = msg_rx.try_iter().collect();
    let ready: Vec<&Instant> = msgs
        .iter()
        .filter(|(_, m)| m.lines().any(|l| l == "READY=1"))
        .map(|(t, _)| t)
        .collect();
    assert_eq!(ready.len(), 1, "READY once: {msgs:?}");
    assert!(*ready[0] <= paused_at, "READY before the work");
    let pings_in_work = msgs
        .iter()
        .filter(|(t, m)| *t >= paused_at && *t <= held_until && m.contains("WATCHDOG=1"))
        .count();
    // One ping every 200 ms: about 6 in the 1.2 s the round was held.
    assert!(
        pings_in_work >= 3,
        "{pings_in_work} watchdog pings while the fetch round was held: {msgs:?}"
    );
}
