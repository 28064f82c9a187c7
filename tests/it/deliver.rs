//! Delivery against real parts: SMTP to the loopback test server in `support/smtp.rs`,
//! sendmail through a real (fake) sendmail shell script, files in a temporary folder.

use std::path::Path;
use std::time::Duration;

use digestif::deliver::{
    DeliverError, EmailContent, ListHeaders, Security, SmtpSettings, build_message, encode_subject,
    send_sendmail, send_smtp, send_smtp_observed, write_files,
};
use digestif::digest::Format;
use mail_parser::{MessageParser, MimeHeaders};

use crate::support::smtp::{Reject, SmtpServer, Stage, TlsMode};

const SUBJECT: &str = "daily — 28 Nov 2026 — 14 stories";

fn content() -> EmailContent {
    EmailContent {
        subject: SUBJECT.to_string(),
        text: "daily — Saturday 28 November 2026\n\n1. Zürich café opens\n   https://example.com/a\n\n.leading dot line\n"
            .to_string(),
        html: "<!DOCTYPE html><html><body><p>Zürich café opens — <a href=\"https://example.com/a\">read</a></p></body></html>"
            .to_string(),
        message_id: "outbox-42.3f9a@digestif.local".to_string(),
        date: "2026-11-28T07:00:00Z".parse().expect("timestamp"),
        list: None,
    }
}

fn settings(port: u16) -> SmtpSettings {
    SmtpSettings {
        host: "127.0.0.1".to_string(),
        port,
        security: Security::None,
        username: None,
        password: None,
        from: "digestif <digest@example.org>".to_string(),
        timeout: Duration::from_secs(5),
        accept_invalid_certs: false,
    }
}

fn to() -> Vec<String> {
    vec![
        "reader@example.net".to_string(),
        "Second Reader <second@example.net>".to_string(),
    ]
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Parses a raw message and checks the whole shape of a digest email.
fn assert_digest_email(raw: &[u8]) {
    let msg = MessageParser::default()
        .parse(raw)
        .expect("received mail parses");
    assert_eq!(msg.subject(), Some(SUBJECT), "subject decodes back");
    assert_eq!(
        msg.message_id(),
        Some("outbox-42.3f9a@digestif.local"),
        "stable Message-ID"
    );
    assert!(msg.date().is_some(), "Date header");
    let from = msg.from().and_then(|a| a.first()).expect("From");
    assert_eq!(from.address(), Some("digest@example.org"));
    let tos: Vec<_> = msg
        .to()
        .map(|a| a.iter().filter_map(|x| x.address()).collect())
        .unwrap_or_default();
    assert_eq!(tos, vec!["reader@example.net", "second@example.net"]);
    let ct = msg.content_type().expect("Content-Type");
    assert_eq!(ct.ctype(), "multipart");
    assert_eq!(ct.subtype(), Some("alternative"));
    // Exactly two leaf parts besides the root: text/plain then text/html.
    assert_eq!(msg.parts.len(), 3, "root + 2 parts");
    assert_eq!(msg.text_body_count(), 1);
    assert_eq!(msg.html_body_count(), 1);
    assert_eq!(msg.attachment_count(), 0);
    let kinds: Vec<String> = msg.parts[1..]
        .iter()
        .map(|p| {
            let ct = p.content_type().expect("part type");
            format!("{}/{}", ct.ctype(), ct.subtype().unwrap_or(""))
        })
        .collect();
    assert_eq!(kinds, vec!["text/plain", "text/html"]);
    for p in &msg.parts[1..] {
        let ct = p.content_type().expect("part type");
        assert_eq!(
            ct.attribute("charset")
                .map(str::to_ascii_lowercase)
                .as_deref(),
            Some("utf-8")
        );
    }
    let text = msg.body_text(0).expect("text body");
    assert!(text.contains("Zürich café opens"));
    assert!(text.contains("\n.leading dot line"), "dot-unstuffed back");
    let html = msg.body_html(0).expect("html body");
    assert!(html.contains("Zürich café opens — <a href=\"https://example.com/a\">"));
    // The raw message is 7-bit clean (encoded subject and bodies).
    assert!(raw.is_ascii(), "message is not 7-bit clean");
}

#[test]
fn message_is_multipart_alternative_with_two_parts() {
    let m = build_message("digest@example.org", &to(), &content()).expect("build");
    assert_digest_email(&m.formatted());
}

/// The value of the one header `name` in a raw message (unfolded), asserting it occurs once.
fn header(raw: &str, name: &str) -> Option<String> {
    let head = raw.split("\r\n\r\n").next().unwrap_or_default();
    let unfolded = head.replace("\r\n ", " ").replace("\r\n\t", " ");
    let prefix = format!("{}:", name.to_ascii_lowercase());
    let found: Vec<String> = unfolded
        .split("\r\n")
        .filter(|l| l.to_ascii_lowercase().starts_with(&prefix))
        .map(|l| l[prefix.len()..].trim().to_string())
        .collect();
    assert!(found.len() <= 1, "{name} given {} times", found.len());
    found.into_iter().next()
}

#[test]
fn digest_mail_carries_list_and_auto_reply_headers_on_the_from_domain() {
    let mut c = content();
    c.message_id = "digestif.daily.42.3f9a".into();
    c.list = Some(ListHeaders {
        name: "daily".into(),
        description: Some("Daily news".into()),
        unsubscribe: Some("me@example.org".into()),
        archive: Some("https://news.example.org/daily.html".into()),
    });
    let m = build_message("digestif <digest@news.example.org>", &to(), &c).expect("build");
    let raw = String::from_utf8(m.formatted()).expect("ascii");
    assert_eq!(
        header(&raw, "Message-ID").as_deref(),
        Some("<digestif.daily.42.3f9a@news.example.org>")
    );
    assert_eq!(
        header(&raw, "List-Id").as_deref(),
        Some("\"Daily news\" <daily.news.example.org>")
    );
    assert_eq!(
        header(&raw, "Auto-Submitted").as_deref(),
        Some("auto-generated")
    );
    assert_eq!(
        header(&raw, "X-Auto-Response-Suppress").as_deref(),
        Some("All")
    );
    assert_eq!(header(&raw, "Precedence").as_deref(), Some("list"));
    assert_eq!(
        header(&raw, "List-Unsubscribe").as_deref(),
        Some("<mailto:me@example.org>")
    );
    assert_eq!(
        header(&raw, "List-Archive").as_deref(),
        Some("<https://news.example.org/daily.html>")
    );
    // A real MIME parser reads them back.
    let msg = MessageParser::default()
        .parse(raw.as_bytes())
        .expect("parses");
    assert_eq!(
        msg.message_id(),
        Some("digestif.daily.42.3f9a@news.example.org")
    );
    assert!(
        !matches!(msg.list_id(), mail_parser::HeaderValue::Empty),
        "List-Id parsed"
    );

    // Without list settings: no List-* headers, the auto-reply ones stay.
    c.list = None;
    let m = build_message("digest@example.org", &to(), &c).expect("build");
    let raw = String::from_utf8(m.formatted()).expect("ascii");
    assert_eq!(header(&raw, "List-Id"), None);
    assert_eq!(header(&raw, "List-Unsubscribe"), None);
    assert_eq!(
        header(&raw, "Auto-Submitted").as_deref(),
        Some("auto-generated")
    );

    // An unsubscribe target that is not an address is refused, permanently.
    c.list = Some(ListHeaders {
        name: "daily".into(),
        unsubscribe: Some("https://example.org/unsubscribe".into()),
        ..Default::default()
    });
    let e = build_message("digest@example.org", &to(), &c).expect_err("https unsubscribe");
    assert!(
        matches!(e, DeliverError::Header(_)) && !e.is_transient(),
        "{e}"
    );
}

#[test]
fn bad_addresses_and_message_ids_are_permanent_errors() {
    let e = build_message("not an address", &to(), &content()).expect_err("bad from");
    assert!(
        matches!(e, DeliverError::Address { role: "From", .. }),
        "{e}"
    );
    assert!(!e.is_transient());
    let e = build_message("a@b.example", &[], &content()).expect_err("no recipients");
    assert!(matches!(e, DeliverError::NoRecipients));
    let mut c = content();
    c.message_id = "x@y\r\nBcc: victim@example.com".into();
    let e = build_message("a@b.example", &to(), &c).expect_err("header injection");
    assert!(matches!(e, DeliverError::MessageId(_)));
}

#[test]
fn smtp_delivers_to_loopback_server() {
    let server = SmtpServer::start().expect("server");
    rt().block_on(send_smtp(&settings(server.port()), &to(), &content()))
        .expect("delivered");
    let msgs = server.wait_for_messages(1, Duration::from_secs(5));
    assert_eq!(msgs.len(), 1);
    let m = &msgs[0];
    assert_eq!(m.mail_from, "digest@example.org");
    assert_eq!(m.rcpt_to, vec!["reader@example.net", "second@example.net"]);
    assert!(m.auth_user.is_none());
    assert_digest_email(&m.data);
    assert!(
        server.commands().iter().any(|c| c == "QUIT"),
        "session closed with QUIT"
    );
}

#[test]
fn smtp_auth_plain_when_configured() {
    let server = SmtpServer::start()
        .expect("server")
        .with_auth("digest-user", "s3cret pass");
    let mut s = settings(server.port());
    s.username = Some("digest-user".into());
    s.password = Some("s3cret pass".into());
    rt().block_on(send_smtp(&s, &to(), &content()))
        .expect("delivered with auth");
    let msgs = server.wait_for_messages(1, Duration::from_secs(5));
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0].auth_user.as_deref(), Some("digest-user"));
    assert!(
        server
            .commands()
            .iter()
            .any(|c| c.starts_with("AUTH PLAIN"))
    );
}

#[test]
fn smtp_wrong_password_is_permanent() {
    let server = SmtpServer::start().expect("server").with_auth("u", "right");
    let mut s = settings(server.port());
    s.username = Some("u".into());
    s.password = Some("wrong".into());
    let e = rt()
        .block_on(send_smtp(&s, &to(), &content()))
        .expect_err("auth must fail");
    assert!(matches!(e, DeliverError::Smtp { stage: "AUTH", .. }), "{e}");
    assert!(!e.is_transient(), "535 is permanent: {e}");
    assert!(server.messages().is_empty());
}

#[test]
fn smtp_credentials_never_sent_without_tls_unless_security_none() {
    // The server offers AUTH but no STARTTLS; with security = starttls we must stop before
    // any credentials are sent.
    let server = SmtpServer::start().expect("server").with_auth("u", "p");
    let mut s = settings(server.port());
    s.security = Security::StartTls;
    s.username = Some("u".into());
    s.password = Some("p".into());
    let e = rt()
        .block_on(send_smtp(&s, &to(), &content()))
        .expect_err("no STARTTLS offered");
    assert!(matches!(e, DeliverError::StartTlsUnavailable { .. }), "{e}");
    assert!(!e.is_transient());
    assert_eq!(server.auth_attempts(), 0, "credentials were sent in clear");
    assert!(server.messages().is_empty());
}

#[test]
fn smtp_server_down_is_transient() {
    let server = SmtpServer::down().expect("port");
    let e = rt()
        .block_on(send_smtp(&settings(server.port()), &to(), &content()))
        .expect_err("nothing listening");
    assert!(
        e.is_transient(),
        "connection refused must be transient: {e}"
    );
    assert!(
        e.to_string()
            .contains(&format!("127.0.0.1:{}", server.port())),
        "{e}"
    );
}

#[test]
fn smtp_451_at_data_is_transient_then_retry_delivers_once() {
    let server = SmtpServer::start().expect("server");
    server.reject_data(451, "4.3.0 try again later");
    let e = rt()
        .block_on(send_smtp(&settings(server.port()), &to(), &content()))
        .expect_err("451");
    assert!(e.is_transient(), "451 must be transient: {e}");
    assert!(server.messages().is_empty());

    server.set_reject(None);
    rt().block_on(send_smtp(&settings(server.port()), &to(), &content()))
        .expect("retry delivers");
    let msgs = server.wait_for_messages(1, Duration::from_secs(5));
    assert_eq!(msgs.len(), 1);
}

#[test]
fn smtp_550_at_rcpt_is_permanent() {
    let server = SmtpServer::start().expect("server");
    server.set_reject(Some(Reject {
        stage: Stage::Rcpt,
        code: 550,
        text: "5.1.1 no such user".into(),
    }));
    let e = rt()
        .block_on(send_smtp(&settings(server.port()), &to(), &content()))
        .expect_err("550");
    assert!(!e.is_transient(), "550 must be permanent: {e}");
}

#[test]
fn smtp_server_down_then_up_on_same_port() {
    let server = SmtpServer::down().expect("port");
    let s = settings(server.port());
    let runtime = rt();
    assert!(
        runtime
            .block_on(send_smtp(&s, &to(), &content()))
            .expect_err("down")
            .is_transient()
    );
    server.up().expect("up");
    runtime
        .block_on(send_smtp(&s, &to(), &content()))
        .expect("delivered once up");
    assert_eq!(server.wait_for_messages(1, Duration::from_secs(5)).len(), 1);
    server.stop();
    assert!(
        runtime
            .block_on(send_smtp(&s, &to(), &content()))
            .expect_err("down again")
            .is_transient()
    );
    assert_eq!(server.messages().len(), 1);
}

fn tls_server(mode: TlsMode) -> SmtpServer {
    let server = SmtpServer::down()
        .expect("port")
        .with_tls(mode)
        .with_auth("tls-user", "tls-pass");
    server.up().expect("up");
    server
}

fn tls_settings(port: u16, security: Security) -> SmtpSettings {
    SmtpSettings {
        security,
        username: Some("tls-user".into()),
        password: Some("tls-pass".into()),
        // The test server's certificate is self-signed.
        accept_invalid_certs: true,
        ..settings(port)
    }
}

#[test]
fn smtp_starttls_then_auth_delivers_over_tls() {
    let server = tls_server(TlsMode::StartTls);
    rt().block_on(send_smtp(
        &tls_settings(server.port(), Security::StartTls),
        &to(),
        &content(),
    ))
    .expect("delivered over STARTTLS");
    let msgs = server.wait_for_messages(1, Duration::from_secs(5));
    assert_eq!(msgs.len(), 1);
    assert!(msgs[0].tls, "message came in clear");
    assert_eq!(msgs[0].auth_user.as_deref(), Some("tls-user"));
    assert_digest_email(&msgs[0].data);
    let cmds = server.commands();
    let pos = |p: &str| cmds.iter().position(|c| c.starts_with(p));
    assert!(
        pos("STARTTLS") < pos("AUTH"),
        "AUTH before STARTTLS: {cmds:?}"
    );
}

#[test]
fn smtp_implicit_tls_delivers() {
    let server = tls_server(TlsMode::Implicit);
    rt().block_on(send_smtp(
        &tls_settings(server.port(), Security::Tls),
        &to(),
        &content(),
    ))
    .expect("delivered over implicit TLS");
    let msgs = server.wait_for_messages(1, Duration::from_secs(5));
    assert_eq!(msgs.len(), 1);
    assert!(msgs[0].tls);
    assert_eq!(msgs[0].auth_user.as_deref(), Some("tls-user"));
}

/// An untrusted certificate stops delivery before any credentials are sent. Regression: a
/// failed STARTTLS upgrade followed by `abort()` panicked inside lettre
/// ("InnerAsyncNetworkStream::None must never be built").
#[test]
fn regression_untrusted_starttls_certificate_panicked_on_abort() {
    let server = tls_server(TlsMode::StartTls);
    let mut s = tls_settings(server.port(), Security::StartTls);
    s.accept_invalid_certs = false;
    let e = rt()
        .block_on(send_smtp(&s, &to(), &content()))
        .expect_err("self-signed certificate must not verify");
    assert!(
        matches!(
            e,
            DeliverError::Smtp {
                stage: "STARTTLS",
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(
        server.auth_attempts(),
        0,
        "credentials sent despite failed TLS"
    );
    assert!(server.messages().is_empty());
}

fn fake_sendmail(dir: &Path, exit_code: i32) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let script = dir.join("sendmail");
    let body = format!(
        "#!/bin/sh\nprintf '%s\\n' \"$@\" > \"{dir}/args\"\ncat > \"{dir}/stdin\"\n\
         [ {exit_code} -ne 0 ] && echo 'queue unavailable' >&2\nexit {exit_code}\n",
        dir = dir.display()
    );
    std::fs::write(&script, body).expect("write script");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    script
}

#[test]
fn sendmail_receives_message_on_stdin() {
    let dir = tempfile::tempdir().expect("tempdir");
    let script = fake_sendmail(dir.path(), 0);
    rt().block_on(send_sendmail(
        &script,
        "digest@example.org",
        &to(),
        &content(),
    ))
    .expect("sendmail ok");
    let args = std::fs::read_to_string(dir.path().join("args")).expect("args");
    let args: Vec<&str> = args.lines().collect();
    assert_eq!(
        args,
        vec![
            "-i",
            "-f",
            "digest@example.org",
            "--",
            "reader@example.net",
            "second@example.net"
        ]
    );
    let raw = std::fs::read(dir.path().join("stdin")).expect("stdin");
    let msg = MessageParser::default().parse(&raw).expect("parse");
    assert_eq!(msg.subject(), Some(SUBJECT));
    assert_eq!(msg.parts.len(), 3);
}

#[test]
fn sendmail_tempfail_is_transient_and_other_failures_permanent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let script = fake_sendmail(dir.path(), 75);
    let e = rt()
        .block_on(send_sendmail(
            &script,
            "digest@example.org",
            &to(),
            &content(),
        ))
        .expect_err("exit 75");
    assert!(e.is_transient(), "{e}");
    assert!(e.to_string().contains("queue unavailable"), "{e}");

    let script = fake_sendmail(dir.path(), 67);
    let e = rt()
        .block_on(send_sendmail(
            &script,
            "digest@example.org",
            &to(),
            &content(),
        ))
        .expect_err("exit 67");
    assert!(!e.is_transient(), "{e}");

    let e = rt()
        .block_on(send_sendmail(
            &dir.path().join("missing-sendmail"),
            "digest@example.org",
            &to(),
            &content(),
        ))
        .expect_err("missing program");
    assert!(matches!(e, DeliverError::SendmailSpawn { .. }));
    assert!(!e.is_transient());
}

fn outputs() -> Vec<(Format, String)> {
    vec![
        (Format::Html, "<html>one</html>".to_string()),
        (Format::Txt, "one".to_string()),
        (Format::Json, "{}".to_string()),
    ]
}

fn names(paths: &[std::path::PathBuf]) -> Vec<String> {
    paths
        .iter()
        .map(|p| {
            p.file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned()
        })
        .collect()
}

#[test]
fn files_are_named_by_digest_and_date_and_never_overwritten() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("out/nested");
    let when = jiff::civil::date(2026, 11, 28).at(7, 5, 9, 0);
    let first = write_files(&dir, "daily", when, &outputs()).expect("first write");
    assert_eq!(
        names(&first),
        vec![
            "daily-2026-11-28.html",
            "daily-2026-11-28.txt",
            "daily-2026-11-28.json"
        ]
    );
    assert_eq!(std::fs::read_to_string(&first[1]).expect("read"), "one");

    let mut second_out = outputs();
    second_out[1].1 = "two".into();
    let second = write_files(&dir, "daily", when, &second_out).expect("second write");
    assert_eq!(
        names(&second),
        vec![
            "daily-2026-11-28-070509.html",
            "daily-2026-11-28-070509.txt",
            "daily-2026-11-28-070509.json"
        ]
    );
    let third = write_files(&dir, "daily", when, &outputs()).expect("third write");
    assert_eq!(names(&third)[0], "daily-2026-11-28-070509-2.html");
    // Earlier files untouched.
    assert_eq!(std::fs::read_to_string(&first[1]).expect("read"), "one");
    assert_eq!(std::fs::read_to_string(&second[1]).expect("read"), "two");
    // No temporary files left behind.
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .expect("list")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty());
    assert_eq!(std::fs::read_dir(&dir).expect("list").count(), 9);
}

#[test]
fn files_share_one_stem_when_only_one_format_name_is_taken() {
    let tmp = tempfile::tempdir().expect("tempdir");
    // Someone else's Markdown file of the same name already exists.
    std::fs::write(tmp.path().join("daily-2026-11-28.md"), "theirs").expect("write");
    let when = jiff::civil::date(2026, 11, 28).at(18, 0, 0, 0);
    let out = write_files(
        tmp.path(),
        "daily",
        when,
        &[(Format::Html, "h".into()), (Format::Md, "m".into())],
    )
    .expect("write");
    assert_eq!(
        names(&out),
        vec!["daily-2026-11-28-180000.html", "daily-2026-11-28-180000.md"]
    );
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("daily-2026-11-28.md")).expect("read"),
        "theirs"
    );
}

#[test]
fn files_unwritable_dir_names_the_path() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let file = tmp.path().join("not-a-dir");
    std::fs::write(&file, "x").expect("write");
    let e = write_files(
        &file.join("sub"),
        "daily",
        jiff::civil::date(2026, 11, 28).at(0, 0, 0, 0),
        &outputs(),
    )
    .expect_err("parent is a file");
    assert!(e.to_string().contains("not-a-dir"), "{e}");
}

/// A feed title shaped like an RFC 2047 encoded-word, copied into the subject by `{{ top }}`,
/// decoded by mail clients into a CR LF and a fake header: the subject is always encoded whole
/// when it contains "=?", so readers see the literal text.
#[test]
fn regression_encoded_word_in_subject_injected_a_header() {
    let hostile = "daily — =?utf-8?q?=0D=0ABcc:_victim@example.com?= — 3 stories";
    let mut c = content();
    c.subject = hostile.to_string();
    let raw = build_message("digest@example.org", &to(), &c)
        .expect("build")
        .formatted();
    let head = String::from_utf8_lossy(&raw);
    let head = head.split("\r\n\r\n").next().unwrap_or_default();
    assert!(
        !head.contains("=?utf-8?q?"),
        "the feed's encoded-word is not on the wire: {head}"
    );
    assert!(!head.to_ascii_lowercase().contains("\nbcc:"), "{head}");
    let msg = MessageParser::default().parse(&raw).expect("parses");
    assert_eq!(msg.subject(), Some(hostile), "decodes to the literal title");
    assert!(msg.header("Bcc").is_none());
    // ASCII text containing "=?" alone is encoded too; plain ASCII stays readable.
    assert!(encode_subject("a =? b").starts_with("=?utf-8?b?"));
    assert_eq!(encode_subject("daily - 3 stories"), "daily - 3 stories");
    // A long non-ASCII subject is folded into words of at most 75 characters.
    let long = "Zürich ".repeat(40);
    let enc = encode_subject(&long);
    assert!(
        enc.split("\r\n ")
            .all(|w| w.len() <= 75 && w.starts_with("=?utf-8?b?"))
    );
}

/// The server takes the whole message and never answers the final ".": the attempt is
/// Unconfirmed (the message may have arrived), not a plain failure to retry in a minute.
#[test]
fn reply_to_final_dot_stalled_past_the_timeout_is_unconfirmed() {
    let server = SmtpServer::start().expect("smtp server");
    server.stall_final_reply(Some(Duration::from_secs(4)));
    let mut s = settings(server.port());
    s.timeout = Duration::from_millis(700);
    let body_seen = std::sync::atomic::AtomicBool::new(false);
    let e = rt()
        .block_on(send_smtp_observed(&s, &to(), &content(), || {
            body_seen.store(true, std::sync::atomic::Ordering::SeqCst)
        }))
        .expect_err("no confirmation");
    assert!(e.is_uncertain(), "{e}");
    assert!(e.to_string().contains("may have arrived"), "{e}");
    assert!(body_seen.load(std::sync::atomic::Ordering::SeqCst));
    assert_eq!(server.messages().len(), 1, "the server has the message");
    // A refusal of the message itself is a plain failure, never uncertain.
    let refusing = SmtpServer::start().expect("smtp server");
    refusing.reject_data(451, "4.3.0 try later");
    let e = rt()
        .block_on(send_smtp(&settings(refusing.port()), &to(), &content()))
        .expect_err("refused");
    assert!(!e.is_uncertain() && e.is_transient(), "{e}");
}
