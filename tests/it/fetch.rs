//! Fetch tests against the real loopback server in `support::http`.

use std::time::{Duration, Instant};

use digestif::fetch::{
    BACKOFF_CAP, FetchError, FetchOptions, FetchOutcome, FetchRequest, Fetcher, backoff_bounds,
    backoff_delay, backoff_jittered, parse_retry_after,
};

use crate::support::http::{Route, TestServer};

const RSS: &str = r#"<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>
<item><title>One</title><link>http://example.com/1</link></item></channel></rss>"#;

fn fetcher(opts: FetchOptions) -> Fetcher {
    Fetcher::new(opts).expect("client builds")
}

fn req(feed: &str, url: &str) -> FetchRequest {
    FetchRequest {
        feed: feed.to_string(),
        url: url.to_string(),
        ..Default::default()
    }
}

fn body_of(out: FetchOutcome) -> Vec<u8> {
    match out {
        FetchOutcome::Fetched { body, .. } => body,
        FetchOutcome::NotModified => panic!("expected a body, got NotModified"),
    }
}

#[tokio::test]
async fn conditional_get_sends_validators_and_gets_not_modified() {
    let srv = TestServer::start();
    let lm = "Wed, 21 Oct 2015 07:28:00 GMT";
    srv.route(
        "/feed.xml",
        Route::feed(RSS).etag("\"v1\"").last_modified(lm),
    );
    let f = fetcher(FetchOptions::default());
    let mut r = req("cond", &srv.url("/feed.xml"));
    let (etag, last_modified) = match f.fetch(&r).await.expect("first fetch") {
        FetchOutcome::Fetched {
            body,
            etag,
            last_modified,
            final_url,
            content_type,
        } => {
            assert_eq!(body, RSS.as_bytes());
            assert_eq!(final_url, srv.url("/feed.xml"));
            assert_eq!(
                content_type.as_deref(),
                Some("application/xml; charset=utf-8")
            );
            (etag, last_modified)
        }
        FetchOutcome::NotModified => panic!("first fetch cannot be NotModified"),
    };
    assert_eq!(etag.as_deref(), Some("\"v1\""));
    assert_eq!(last_modified.as_deref(), Some(lm));
    let first = srv.last_request("/feed.xml").expect("recorded");
    assert!(first.header("if-none-match").is_none());

    r.etag = etag;
    r.last_modified = last_modified;
    let out = f.fetch(&r).await.expect("second fetch");
    assert_eq!(out, FetchOutcome::NotModified);
    let second = srv.last_request("/feed.xml").expect("recorded");
    assert_eq!(second.header("if-none-match"), Some("\"v1\""));
    assert_eq!(second.header("if-modified-since"), Some(lm));
    assert_eq!(srv.hits("/feed.xml"), 2);

    // A changed ETag on the server gives the body again.
    srv.route("/feed.xml", Route::feed(RSS).etag("\"v2\""));
    match f.fetch(&r).await.expect("third fetch") {
        FetchOutcome::Fetched { etag, .. } => assert_eq!(etag.as_deref(), Some("\"v2\"")),
        FetchOutcome::NotModified => panic!("etag changed, body expected"),
    }
}

#[tokio::test]
async fn conditional_get_with_last_modified_only() {
    let srv = TestServer::start();
    let lm = "Sat, 01 Jan 2022 00:00:00 GMT";
    srv.route("/lm.xml", Route::feed(RSS).last_modified(lm));
    let f = fetcher(FetchOptions::default());
    let mut r = req("lm", &srv.url("/lm.xml"));
    let out = f.fetch(&r).await.expect("fetch");
    let FetchOutcome::Fetched {
        etag,
        last_modified,
        ..
    } = out
    else {
        panic!("expected body")
    };
    assert_eq!(etag, None);
    r.last_modified = last_modified;
    assert_eq!(
        f.fetch(&r).await.expect("refetch"),
        FetchOutcome::NotModified
    );
    assert_eq!(
        srv.last_request("/lm.xml")
            .and_then(|q| q.header("if-modified-since").map(str::to_string))
            .as_deref(),
        Some(lm)
    );
}

#[tokio::test]
async fn rate_limited_429_surfaces_retry_after_seconds() {
    let srv = TestServer::start();
    srv.route("/busy", Route::retry_after(429, "120"));
    let f = fetcher(FetchOptions::default());
    let err = f
        .fetch(&req("busy-feed", &srv.url("/busy")))
        .await
        .expect_err("429 is an error");
    assert!(
        matches!(err, FetchError::RateLimited { code: 429, .. }),
        "{err:?}"
    );
    assert_eq!(err.retry_after(), Some(Duration::from_secs(120)));
    assert!(err.is_transient());
    // The next attempt waits at least what the server asked for.
    assert!(backoff_delay(1, err.retry_after()) >= Duration::from_secs(120));
    let msg = err.to_string();
    assert!(
        msg.contains("busy-feed") && msg.contains(&srv.url("/busy")),
        "{msg}"
    );
}

#[tokio::test]
async fn rate_limited_503_with_http_date_retry_after() {
    let srv = TestServer::start();
    let when = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(300);
    let date = jiff::fmt::rfc2822::to_string(&when.to_zoned(jiff::tz::TimeZone::UTC))
        .expect("format date")
        .replace("+0000", "GMT");
    srv.route("/down", Route::retry_after(503, &date));
    let f = fetcher(FetchOptions::default());
    let err = f
        .fetch(&req("down", &srv.url("/down")))
        .await
        .expect_err("503 is an error");
    assert!(
        matches!(err, FetchError::RateLimited { code: 503, .. }),
        "{err:?}"
    );
    let d = err.retry_after().expect("date parsed");
    assert!(
        d >= Duration::from_secs(290) && d <= Duration::from_secs(301),
        "{d:?} from {date}"
    );

    // Without Retry-After: still typed, no delay.
    srv.route("/down2", Route::status(503));
    let err = f
        .fetch(&req("down2", &srv.url("/down2")))
        .await
        .expect_err("503");
    assert!(matches!(
        err,
        FetchError::RateLimited {
            retry_after: None,
            ..
        }
    ));
}

#[tokio::test]
async fn slow_server_hits_the_total_timeout() {
    let srv = TestServer::start();
    srv.route("/slow-head", Route::feed(RSS).delay(Duration::from_secs(5)));
    // Headers arrive at once, the body trickles for ~10 s.
    srv.route(
        "/slow-body",
        Route::feed(vec![b'x'; 100]).trickle(10, Duration::from_secs(1)),
    );
    let f = fetcher(FetchOptions {
        timeout: Duration::from_millis(1200),
        ..Default::default()
    });
    for path in ["/slow-head", "/slow-body"] {
        let t = Instant::now();
        let err = f
            .fetch(&req("slow", &srv.url(path)))
            .await
            .expect_err("timeout");
        assert!(matches!(err, FetchError::Timeout { .. }), "{path}: {err:?}");
        assert!(
            t.elapsed() < Duration::from_secs(4),
            "{path} took {:?}",
            t.elapsed()
        );
        assert!(err.to_string().contains("timed out"));
    }
}

#[tokio::test]
async fn oversize_body_is_cut_off_with_too_large() {
    let srv = TestServer::start();
    // Chunked, no Content-Length: the cap must apply while streaming.
    srv.route("/big", Route::big(8 * 1024 * 1024));
    // Known Content-Length over the cap: refused before reading.
    srv.route("/big-cl", Route::feed(vec![b'y'; 300 * 1024]));
    srv.route("/fits", Route::feed(vec![b'z'; 200 * 1024]));
    let f = fetcher(FetchOptions {
        max_body_bytes: 256 * 1024,
        ..Default::default()
    });
    for path in ["/big", "/big-cl"] {
        let err = f
            .fetch(&req("huge", &srv.url(path)))
            .await
            .expect_err("too large");
        assert!(
            matches!(err, FetchError::TooLarge { limit: 262_144, .. }),
            "{path}: {err:?}"
        );
    }
    let body = body_of(
        f.fetch(&req("fits", &srv.url("/fits")))
            .await
            .expect("fits"),
    );
    assert_eq!(body.len(), 200 * 1024);
}

#[tokio::test]
async fn gzip_bomb_is_cut_off_after_decompression() {
    let srv = TestServer::start();
    // 50 MiB of zeros, ~50 KiB on the wire.
    let bomb = Route::gzip_bomb(50 * 1024 * 1024);
    let Route {
        body: crate::support::http::Body::Bytes(ref wire),
        ..
    } = bomb
    else {
        panic!("bomb is fixed bytes")
    };
    assert!(
        wire.len() < 512 * 1024,
        "bomb is small on the wire: {}",
        wire.len()
    );
    srv.route("/bomb", bomb.clone());
    srv.route("/gz", Route::gzip(RSS.as_bytes()));
    let f = fetcher(FetchOptions {
        max_body_bytes: 1024 * 1024,
        ..Default::default()
    });
    let err = f
        .fetch(&req("bomb", &srv.url("/bomb")))
        .await
        .expect_err("bomb refused");
    assert!(matches!(err, FetchError::TooLarge { .. }), "{err:?}");
    // gzip is negotiated and decoded.
    let body = body_of(
        f.fetch(&req("gz", &srv.url("/gz")))
            .await
            .expect("gzip body"),
    );
    assert_eq!(body, RSS.as_bytes());
    let ae = srv
        .last_request("/gz")
        .and_then(|r| r.header("accept-encoding").map(str::to_string))
        .unwrap_or_default();
    assert!(ae.contains("gzip") && ae.contains("br"), "{ae}");
}

#[tokio::test]
async fn redirects_are_followed_up_to_the_limit() {
    let srv = TestServer::start();
    srv.route("/final.xml", Route::feed(RSS));
    // /hop1 -> /hop2 -> ... -> /hop6 -> /final.xml : 6 redirects from /hop1, 5 from /hop2.
    for i in 1..=6 {
        let next = if i == 6 {
            "/final.xml".to_string()
        } else {
            format!("/hop{}", i + 1)
        };
        srv.route(&format!("/hop{i}"), Route::redirect(&next));
    }
    let f = fetcher(FetchOptions::default());
    match f
        .fetch(&req("hops", &srv.url("/hop2")))
        .await
        .expect("5 redirects ok")
    {
        FetchOutcome::Fetched {
            final_url, body, ..
        } => {
            assert_eq!(final_url, srv.url("/final.xml"));
            assert_eq!(body, RSS.as_bytes());
        }
        FetchOutcome::NotModified => panic!("body expected"),
    }
    let err = f
        .fetch(&req("hops", &srv.url("/hop1")))
        .await
        .expect_err("6 redirects is too many");
    assert!(
        matches!(err, FetchError::TooManyRedirects { limit: 5, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn http_error_status_is_typed_and_names_feed_and_url() {
    let srv = TestServer::start();
    let f = fetcher(FetchOptions::default());
    let url = srv.url("/missing.xml");
    let err = f.fetch(&req("Gone Feed", &url)).await.expect_err("404");
    assert!(
        matches!(err, FetchError::Status { code: 404, .. }),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains("Gone Feed") && msg.contains(&url) && msg.contains("404"),
        "{msg}"
    );
    assert!(!err.is_transient());
}

#[tokio::test]
async fn user_agent_headers_and_basic_auth_are_sent() {
    let srv = TestServer::start();
    srv.route("/ua", Route::feed(RSS));
    let f = fetcher(FetchOptions::default());
    let mut r = req("ua", &srv.url("/ua"));
    r.headers = vec![("X-Api-Key".into(), "k123".into())];
    r.basic_auth = Some(("alice".into(), Some("s3cret".into())));
    f.fetch(&r).await.expect("fetch");
    let q = srv.last_request("/ua").expect("recorded");
    let ua = q.header("user-agent").unwrap_or_default();
    assert!(
        ua.starts_with(&format!("digestif/{}", env!("CARGO_PKG_VERSION"))),
        "{ua}"
    );
    assert_eq!(q.header("x-api-key"), Some("k123"));
    // base64("alice:s3cret")
    assert_eq!(q.header("authorization"), Some("Basic YWxpY2U6czNjcmV0"));
}

#[tokio::test]
async fn per_host_limit_caps_parallel_requests() {
    let srv = TestServer::start();
    srv.route("/p.xml", Route::feed(RSS).delay(Duration::from_millis(300)));
    let f = fetcher(FetchOptions {
        per_host: 1,
        concurrency: 8,
        ..Default::default()
    });
    let url = srv.url("/p.xml");
    let mut tasks = Vec::new();
    for i in 0..4 {
        let f = f.clone();
        let r = req(&format!("p{i}"), &url);
        tasks.push(tokio::spawn(async move { f.fetch(&r).await }));
    }
    for t in tasks {
        t.await.expect("join").expect("fetch ok");
    }
    assert_eq!(srv.hits("/p.xml"), 4);
    assert_eq!(srv.max_in_flight(), 1, "per-host limit of 1 respected");

    let srv2 = TestServer::start();
    srv2.route("/p.xml", Route::feed(RSS).delay(Duration::from_millis(300)));
    let f2 = fetcher(FetchOptions {
        per_host: 3,
        concurrency: 2,
        ..Default::default()
    });
    let url = srv2.url("/p.xml");
    let mut tasks = Vec::new();
    for i in 0..6 {
        let f = f2.clone();
        let r = req(&format!("q{i}"), &url);
        tasks.push(tokio::spawn(async move { f.fetch(&r).await }));
    }
    for t in tasks {
        t.await.expect("join").expect("fetch ok");
    }
    assert!(
        srv2.max_in_flight() <= 2,
        "global limit of 2: {}",
        srv2.max_in_flight()
    );
}

#[tokio::test]
async fn file_urls_and_plain_paths_are_read_with_the_body_cap() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("feed.xml");
    std::fs::write(&p, RSS).expect("write");
    let big = dir.path().join("big.xml");
    std::fs::write(&big, vec![b'a'; 4096]).expect("write");
    let f = fetcher(FetchOptions {
        max_body_bytes: 1024,
        ..Default::default()
    });
    let plain = p.to_string_lossy().to_string();
    let file_url = url::Url::from_file_path(&p).expect("file url").to_string();
    for u in [&plain, &file_url] {
        let body = body_of(f.fetch(&req("local", u)).await.expect("read file"));
        assert_eq!(body, RSS.as_bytes());
    }
    let err = f
        .fetch(&req("local-big", &big.to_string_lossy()))
        .await
        .expect_err("too large");
    assert!(matches!(err, FetchError::TooLarge { .. }), "{err:?}");
    let missing = dir.path().join("nope.xml");
    let err = f
        .fetch(&req("local-missing", &missing.to_string_lossy()))
        .await
        .expect_err("missing");
    assert!(matches!(err, FetchError::Io { .. }), "{err:?}");
    assert!(err.to_string().contains("local-missing"));
}

#[tokio::test]
async fn invalid_and_unsupported_urls_are_typed_errors() {
    let f = fetcher(FetchOptions::default());
    for u in ["ftp://example.com/feed", "", "http://"] {
        let err = f.fetch(&req("bad", u)).await.expect_err("invalid");
        assert!(
            matches!(err, FetchError::InvalidUrl { .. }),
            "{u:?}: {err:?}"
        );
    }
}

#[test]
fn backoff_grows_exponentially_and_is_capped() {
    assert_eq!(backoff_delay(0, None), Duration::ZERO);
    let d1 = backoff_delay(1, None);
    let d2 = backoff_delay(2, None);
    let d3 = backoff_delay(3, None);
    assert!(d1 > Duration::ZERO);
    assert_eq!(d2, d1 * 2);
    assert_eq!(d3, d1 * 4);
    assert_eq!(backoff_delay(40, None), BACKOFF_CAP);
    assert_eq!(backoff_delay(u32::MAX, None), BACKOFF_CAP);
    assert!(BACKOFF_CAP <= Duration::from_secs(24 * 3600));
    // Retry-After is a floor, but still capped.
    assert_eq!(
        backoff_delay(1, Some(Duration::from_secs(7200))),
        Duration::from_secs(7200)
    );
    assert_eq!(
        backoff_delay(0, Some(Duration::from_secs(30))),
        Duration::from_secs(30)
    );
    assert_eq!(
        backoff_delay(1, Some(Duration::from_secs(10 * 86400))),
        BACKOFF_CAP
    );
    // Monotone in the number of failures.
    let mut last = Duration::ZERO;
    for n in 0..30 {
        let d = backoff_delay(n, None);
        assert!(d >= last);
        last = d;
    }
}

#[test]
fn backoff_jitter_stays_within_bounds() {
    for n in 1..25 {
        for ra in [None, Some(Duration::from_secs(3600))] {
            let (lo, hi) = backoff_bounds(n, ra);
            assert!(lo <= hi);
            assert!(hi <= BACKOFF_CAP);
            if let Some(r) = ra {
                assert!(lo >= r.min(BACKOFF_CAP));
            }
            for u in [0.0, 0.25, 0.5, 1.0, -3.0, 7.0, f64::NAN] {
                let d = backoff_jittered(n, ra, u);
                assert!(
                    d >= lo && d <= hi,
                    "{n} {ra:?} {u}: {d:?} not in {lo:?}..{hi:?}"
                );
            }
        }
    }
}

#[test]
fn retry_after_parses_seconds_and_http_dates() {
    let now: jiff::Timestamp = "2015-10-21T07:20:00Z".parse().expect("ts");
    assert_eq!(parse_retry_after("90", now), Some(Duration::from_secs(90)));
    assert_eq!(
        parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now),
        Some(Duration::from_secs(480))
    );
    // RFC 850 and asctime forms.
    assert_eq!(
        parse_retry_after("Wednesday, 21-Oct-15 07:21:00 GMT", now),
        Some(Duration::from_secs(60))
    );
    assert_eq!(
        parse_retry_after("Wed Oct 21 07:22:00 2015", now),
        Some(Duration::from_secs(120))
    );
    // Past dates mean "now".
    assert_eq!(
        parse_retry_after("Tue, 20 Oct 2015 07:28:00 GMT", now),
        Some(Duration::ZERO)
    );
    assert_eq!(parse_retry_after("soon", now), None);
    assert_eq!(parse_retry_after("", now), None);
}

#[tokio::test]
async fn html_403_page_served_with_200_fetches_but_is_not_a_feed() {
    let srv = TestServer::start();
    let synthetic =
        b"<!DOCTYPE html><html><head><title>403</title></head><body>Request blocked.</body></html>"
            .to_vec();
    let mut pages = vec![("/synthetic", synthetic)];
    if let Some(dir) = crate::support::fetch_data::feeds_dir("news-snapshots/edge-cases") {
        for p in crate::support::fetch_data::files_under(&dir) {
            if p.to_string_lossy().contains("403") {
                pages.push(("/latimes", std::fs::read(&p).expect("read edge case")));
            }
        }
    }
    let f = fetcher(FetchOptions::default());
    for (path, body) in pages {
        // Served as a feed would be: status 200, XML content type.
        srv.route(path, Route::feed(body.clone()));
        let url = srv.url(path);
        let got = body_of(f.fetch(&req("la", &url)).await.expect("status 200 fetches"));
        assert_eq!(got, body);
        let err = digestif::feed::parse_named(&got, "la", &url).expect_err("not a feed");
        assert!(
            matches!(err.kind, digestif::feed::FeedError::NotAFeed { .. }),
            "{path}: {err}"
        );
    }
}

/// A redirect from a public address to a private one lets a feed reach into the local network
/// (a metadata service, a router's admin page): refused unless allowed. The first hop here is
/// declared public through `public_for_tests` (everything in a test is on loopback).
#[tokio::test]
async fn redirect_from_public_to_private_address_is_refused_by_default() {
    let public = TestServer::start();
    let private = TestServer::start();
    private.route("/admin.xml", Route::feed(RSS));
    public.route("/feed.xml", Route::redirect(&private.url("/admin.xml")));
    let opts = FetchOptions {
        public_for_tests: vec![public.addr()],
        ..Default::default()
    };
    let err = fetcher(opts.clone())
        .fetch(&req("hop", &public.url("/feed.xml")))
        .await
        .expect_err("refused");
    assert!(matches!(err, FetchError::PrivateRedirect { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("allow_private_redirects") && msg.contains("127.0.0.1"),
        "{msg}"
    );
    assert!(!err.is_transient());
    assert_eq!(
        private.hits("/admin.xml"),
        0,
        "the private address was never asked"
    );
    // Allowed on request.
    let ok = fetcher(FetchOptions {
        allow_private_redirects: true,
        ..opts
    })
    .fetch(&req("hop", &public.url("/feed.xml")))
    .await
    .expect("followed when allowed");
    assert_eq!(body_of(ok), RSS.as_bytes());
    // A private feed URL (the first hop) redirecting within the private network is fine.
    private.route("/old.xml", Route::redirect("/admin.xml"));
    let ok = fetcher(FetchOptions::default())
        .fetch(&req("local", &private.url("/old.xml")))
        .await
        .expect("private to private is followed");
    assert_eq!(body_of(ok), RSS.as_bytes());
}

/// Basic auth and cookies set for the feed's origin are not sent to another origin.
#[tokio::test]
async fn credentials_do_not_follow_a_redirect_to_another_origin() {
    let a = TestServer::start();
    let b = TestServer::start();
    b.route("/f.xml", Route::feed(RSS));
    a.route("/f.xml", Route::redirect(&b.url("/f.xml")));
    let mut r = req("auth", &a.url("/f.xml"));
    r.basic_auth = Some(("user".into(), Some("secret".into())));
    r.headers = vec![
        ("Cookie".into(), "s=1".into()),
        ("X-Feed".into(), "yes".into()),
    ];
    fetcher(FetchOptions::default())
        .fetch(&r)
        .await
        .expect("fetched");
    assert!(
        a.last_request("/f.xml")
            .unwrap()
            .header("authorization")
            .is_some()
    );
    let seen = b.last_request("/f.xml").unwrap();
    assert!(seen.header("authorization").is_none());
    assert!(seen.header("cookie").is_none());
    assert_eq!(seen.header("x-feed"), Some("yes"));
}

/// Feeds queued behind one slow host must not hold global slots: a feed of another host gets
/// through while the slow host's second request waits for its per-host slot.
#[tokio::test]
async fn regression_feeds_waiting_for_a_host_held_global_slots() {
    let slow = TestServer::start();
    slow.route(
        "/s.xml",
        Route::feed(RSS).delay(Duration::from_millis(1500)),
    );
    let fast = TestServer::start();
    fast.route("/f.xml", Route::feed(RSS));
    let f = fetcher(FetchOptions {
        per_host: 1,
        concurrency: 2,
        ..Default::default()
    });
    let mut slow_tasks = Vec::new();
    for i in 0..3 {
        let f = f.clone();
        let r = req(&format!("slow{i}"), &slow.url("/s.xml"));
        slow_tasks.push(tokio::spawn(async move { f.fetch(&r).await }));
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    let t = Instant::now();
    f.fetch(&req("fast", &fast.url("/f.xml")))
        .await
        .expect("fast feed");
    assert!(
        t.elapsed() < Duration::from_millis(1200),
        "the fast host waited {:?} behind the slow one",
        t.elapsed()
    );
    for t in slow_tasks {
        t.await.expect("join").expect("slow fetch");
    }
}
