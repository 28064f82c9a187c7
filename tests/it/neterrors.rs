//! Network failures say what happened, with the host: a name that does not resolve, a refused
//! connection, a failed TLS handshake and a timeout each read differently (and never as the
//! generic "error sending request for url (…)" with the URL twice).

use std::time::Duration;

use digestif::fetch::{FetchError, FetchOptions, FetchRequest, Fetcher};
use digestif::netcause::NetKind;

use crate::support::http::{Route, TestServer};
use crate::support::smtp::{SmtpServer, TlsMode};

fn fetch_err(url: &str, opts: FetchOptions) -> FetchError {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let f = Fetcher::new(opts).expect("client");
    let req = FetchRequest {
        feed: "News".into(),
        url: url.into(),
        ..Default::default()
    };
    rt.block_on(f.fetch(&req)).expect_err("the fetch must fail")
}

/// The message names the feed and its URL once, then the cause.
fn assert_said_once(msg: &str, url: &str) {
    assert_eq!(msg.matches(url).count(), 1, "URL not exactly once: {msg}");
    assert!(
        !msg.contains("error sending request"),
        "generic message: {msg}"
    );
    assert!(
        msg.starts_with(&format!("feed \"News\" ({url}): ")),
        "{msg}"
    );
}

/// Fetches `url`, which must fail as an HTTP-level failure of `kind` whose message names the feed
/// and URL once; returns the error and its message for the test's own checks.
fn http_failure(url: &str, kind: NetKind) -> (FetchError, String) {
    let e = fetch_err(url, FetchOptions::default());
    let msg = e.to_string();
    assert_said_once(&msg, url);
    assert!(
        matches!(&e, FetchError::Http { kind: k, .. } if *k == kind),
        "{e:?}"
    );
    (e, msg)
}

#[test]
fn dns_failure_names_the_host_it_could_not_resolve() {
    let url = "http://feeds.nonexistent.invalid/rss.xml";
    let (_, msg) = http_failure(url, NetKind::Dns);
    assert!(
        msg.contains("cannot resolve host feeds.nonexistent.invalid (DNS: "),
        "{msg}"
    );
}

#[test]
fn refused_connection_names_host_and_port() {
    // A port nothing listens on: bind, note it, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port");
    let url = format!("http://127.0.0.1:{port}/feed.xml");
    let (e, msg) = http_failure(&url, NetKind::Refused);
    assert!(
        msg.ends_with(&format!(
            "connection refused by 127.0.0.1:{port} (nothing listens there?)"
        )),
        "{msg}"
    );
    assert!(e.is_transient());
}

#[test]
fn tls_failure_names_the_host_and_the_certificate_problem() {
    // A real TLS server whose certificate no public root vouches for.
    let tls = SmtpServer::start()
        .expect("tls server")
        .with_tls(TlsMode::Implicit);
    let url = format!("https://localhost:{}/feed.xml", tls.port());
    let (_, msg) = http_failure(&url, NetKind::Tls);
    assert!(
        msg.contains("TLS handshake with localhost failed: "),
        "{msg}"
    );
    assert!(msg.to_lowercase().contains("certificate"), "{msg}");
}

#[test]
fn timeout_names_the_host_and_the_limit() {
    let srv = TestServer::start();
    srv.route(
        "/slow.xml",
        Route::feed("<rss/>").delay(Duration::from_secs(5)),
    );
    let url = srv.url("/slow.xml");
    let e = fetch_err(
        &url,
        FetchOptions {
            timeout: Duration::from_secs(1),
            ..Default::default()
        },
    );
    let msg = e.to_string();
    assert_said_once(&msg, &url);
    assert!(matches!(e, FetchError::Timeout { .. }), "{e:?}");
    assert!(
        msg.ends_with("timed out waiting for 127.0.0.1 after 1 s"),
        "{msg}"
    );
}
