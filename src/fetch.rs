//! Fetching feed bodies over HTTP(S) and from local files.
//!
//! This module owns the network side of ingest: one shared `reqwest` client (rustls, gzip/brotli/deflate,
//! connect and total timeouts, at most N redirects, a User-Agent naming digestif), a global and a per-host
//! concurrency limit, conditional GET (ETag / Last-Modified in, new validators out, `304` as
//! [`FetchOutcome::NotModified`]), a body cap counted *after* decompression while streaming (so a
//! compression bomb is cut off early), typed handling of `429`/`503` with `Retry-After`, and the pure
//! per-feed back-off schedule [`backoff_delay`]. `file://` URLs and plain paths are read from disk under
//! the same body cap. Every error names the feed and its URL.
//!
//! Redirects are followed here, not by the client, so that each hop can be checked: a redirect
//! from a public address to a loopback, link-local or private one is refused unless
//! [`FetchOptions::allow_private_redirects`] (a feed configured with a private URL is fetched as
//! usual). Credentials and cookies are not carried to another origin. The total timeout covers
//! every hop and the body.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::sync::Semaphore;

/// Default cap on a (decompressed) feed body: 10 MiB.
pub const DEFAULT_MAX_BODY_BYTES: u64 = 10 * 1024 * 1024;

/// Options of the [`Fetcher`]. `Default` gives the documented defaults.
#[derive(Debug, Clone)]
pub struct FetchOptions {
    /// Time allowed to establish the TCP/TLS connection (default 10 s).
    pub connect_timeout: Duration,
    /// Total time allowed for one fetch, body included (default 30 s).
    pub timeout: Duration,
    /// Largest body accepted, counted after decompression (default 10 MiB).
    pub max_body_bytes: u64,
    /// Redirects followed before giving up (default 5).
    pub max_redirects: usize,
    /// Fetches in flight at once over all hosts (default 8).
    pub concurrency: usize,
    /// Fetches in flight at once per host (default 2).
    pub per_host: usize,
    /// The User-Agent header (default [`default_user_agent`]).
    pub user_agent: String,
    /// Follow a redirect from a public address to a loopback, link-local or private one
    /// (default false: such a redirect is refused, as it lets a feed reach the local network).
    pub allow_private_redirects: bool,
    /// Addresses to treat as public although they are not (tests on loopback only).
    #[doc(hidden)]
    pub public_for_tests: Vec<SocketAddr>,
}

impl Default for FetchOptions {
    fn default() -> Self {
        FetchOptions {
            connect_timeout: Duration::from_secs(10),
            timeout: Duration::from_secs(30),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_redirects: 5,
            concurrency: 8,
            per_host: 2,
            user_agent: default_user_agent(),
            allow_private_redirects: false,
            public_for_tests: Vec::new(),
        }
    }
}

/// `digestif/<crate version> (feed reader; +https://github.com/digestif/digestif)`.
pub fn default_user_agent() -> String {
    format!(
        "digestif/{} (feed reader; +https://github.com/digestif/digestif)",
        env!("CARGO_PKG_VERSION")
    )
}

/// One fetch: which feed, where, extra headers, credentials and the validators stored from last time.
#[derive(Debug, Clone, Default)]
pub struct FetchRequest {
    /// The feed's name (used in errors and logs only).
    pub feed: String,
    /// `http(s)://…`, `file://…` or a plain filesystem path.
    pub url: String,
    /// Extra request headers (name, value).
    pub headers: Vec<(String, String)>,
    /// HTTP basic auth: user and optional password.
    pub basic_auth: Option<(String, Option<String>)>,
    /// `ETag` stored from the last successful fetch; sent as `If-None-Match`.
    pub etag: Option<String>,
    /// `Last-Modified` stored from the last successful fetch; sent as `If-Modified-Since`.
    pub last_modified: Option<String>,
}

/// What a successful fetch gives back.
#[derive(Debug, Clone, PartialEq)]
pub enum FetchOutcome {
    /// A new body, with the validators to store for the next conditional GET.
    Fetched {
        body: Vec<u8>,
        etag: Option<String>,
        last_modified: Option<String>,
        /// The URL after redirects.
        final_url: String,
        content_type: Option<String>,
    },
    /// `304 Not Modified`: nothing changed since the validators were stored.
    NotModified,
}

/// Why a fetch failed. Every variant names the feed and its URL in its message.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("feed {feed:?} ({url}): invalid URL: {reason}")]
    InvalidUrl {
        feed: String,
        url: String,
        reason: String,
    },
    /// The request or its body took too long; `cause` says which phase and the limit.
    #[error("feed {feed:?} ({url}): {cause}")]
    Timeout {
        feed: String,
        url: String,
        cause: String,
    },
    #[error("feed {feed:?} ({url}): body larger than the limit of {limit} bytes")]
    TooLarge {
        feed: String,
        url: String,
        limit: u64,
    },
    #[error("feed {feed:?} ({url}): more than {limit} redirects")]
    TooManyRedirects {
        feed: String,
        url: String,
        limit: usize,
    },
    #[error(
        "feed {feed:?} ({url}): refused a redirect from a public address to the private address {target} \
         (set allow_private_redirects = true in [fetch] to follow it)"
    )]
    PrivateRedirect {
        feed: String,
        url: String,
        target: String,
    },
    #[error("feed {feed:?} ({url}): HTTP status {code}")]
    Status {
        feed: String,
        url: String,
        code: u16,
    },
    #[error("feed {feed:?} ({url}): rate limited (HTTP {code}){}", fmt_retry(.retry_after))]
    RateLimited {
        feed: String,
        url: String,
        code: u16,
        retry_after: Option<Duration>,
    },
    #[error("feed {feed:?} ({url}): {source}")]
    Io {
        feed: String,
        url: String,
        #[source]
        source: std::io::Error,
    },
    /// A network failure: `cause` names what happened and the host (see [`crate::netcause`]).
    #[error("feed {feed:?} ({url}): {cause}")]
    Http {
        feed: String,
        url: String,
        kind: crate::netcause::NetKind,
        cause: String,
    },
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}

fn fmt_retry(d: &Option<Duration>) -> String {
    match d {
        Some(d) => format!(", retry after {} s", d.as_secs()),
        None => String::new(),
    }
}

impl FetchError {
    /// The delay the server asked for (`Retry-After` on 429/503), if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            FetchError::RateLimited { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The feed name this error is about (empty for [`FetchError::Client`]).
    pub fn feed(&self) -> &str {
        match self {
            FetchError::InvalidUrl { feed, .. }
            | FetchError::Timeout { feed, .. }
            | FetchError::TooLarge { feed, .. }
            | FetchError::TooManyRedirects { feed, .. }
            | FetchError::PrivateRedirect { feed, .. }
            | FetchError::Status { feed, .. }
            | FetchError::RateLimited { feed, .. }
            | FetchError::Io { feed, .. }
            | FetchError::Http { feed, .. } => feed,
            FetchError::Client(_) => "",
        }
    }

    /// True for failures worth retrying soon (timeouts, 5xx, rate limits, network errors).
    pub fn is_transient(&self) -> bool {
        match self {
            FetchError::Timeout { .. }
            | FetchError::RateLimited { .. }
            | FetchError::Io { .. }
            | FetchError::Http { .. } => true,
            FetchError::Status { code, .. } => *code >= 500 || *code == 408,
            _ => false,
        }
    }
}

/// Base of the back-off schedule: the delay after the first failure.
pub const BACKOFF_BASE: Duration = Duration::from_secs(10 * 60);
/// Longest delay the back-off schedule (and an honoured `Retry-After`) ever gives.
pub const BACKOFF_CAP: Duration = Duration::from_secs(24 * 60 * 60);
/// Relative jitter around the nominal back-off delay (±20 %).
pub const BACKOFF_JITTER: f64 = 0.2;

/// Nominal delay before the next attempt of a feed after `consecutive_failures` failures in a row.
///
/// Pure and deterministic: `0` failures → no delay (unless the server sent `Retry-After`);
/// otherwise `BACKOFF_BASE * 2^(n-1)` (10 min, 20 min, 40 min, …), never less than `retry_after`,
/// never more than [`BACKOFF_CAP`] (24 h). Use [`backoff_bounds`] / [`backoff_jittered`] to spread
/// retries of many feeds.
pub fn backoff_delay(consecutive_failures: u32, retry_after: Option<Duration>) -> Duration {
    let exp = if consecutive_failures == 0 {
        Duration::ZERO
    } else {
        let shift = (consecutive_failures - 1).min(20);
        BACKOFF_BASE
            .checked_mul(1u32 << shift)
            .unwrap_or(BACKOFF_CAP)
            .min(BACKOFF_CAP)
    };
    exp.max(retry_after.unwrap_or(Duration::ZERO))
        .min(BACKOFF_CAP)
}

/// The interval `[low, high]` a jittered retry delay is drawn from: ±[`BACKOFF_JITTER`] around
/// [`backoff_delay`], but never below the server's `Retry-After` and never above [`BACKOFF_CAP`].
pub fn backoff_bounds(
    consecutive_failures: u32,
    retry_after: Option<Duration>,
) -> (Duration, Duration) {
    let nominal = backoff_delay(consecutive_failures, retry_after);
    let floor = retry_after.unwrap_or(Duration::ZERO).min(BACKOFF_CAP);
    let low = nominal.mul_f64(1.0 - BACKOFF_JITTER).max(floor);
    let high = nominal
        .mul_f64(1.0 + BACKOFF_JITTER)
        .min(BACKOFF_CAP)
        .max(low);
    (low, high)
}

/// A delay within [`backoff_bounds`], chosen by `unit` in `[0, 1]` (pass a random number; pure).
pub fn backoff_jittered(
    consecutive_failures: u32,
    retry_after: Option<Duration>,
    unit: f64,
) -> Duration {
    let (low, high) = backoff_bounds(consecutive_failures, retry_after);
    let u = if unit.is_finite() {
        unit.clamp(0.0, 1.0)
    } else {
        0.5
    };
    low + (high - low).mul_f64(u)
}

/// Parses a `Retry-After` value: delta-seconds or an HTTP date (relative to `now`).
/// A date in the past gives zero. Returns `None` for values that are neither.
pub fn parse_retry_after(value: &str, now: jiff::Timestamp) -> Option<Duration> {
    let v = value.trim();
    if v.is_empty() {
        return None;
    }
    if v.bytes().all(|b| b.is_ascii_digit()) {
        return Some(Duration::from_secs(
            v.parse::<u64>().unwrap_or(u64::MAX / 4),
        ));
    }
    let when = parse_http_date(v)?;
    let secs = when.as_second() - now.as_second();
    Some(Duration::from_secs(secs.max(0) as u64))
}

/// Parses an HTTP date (IMF-fixdate / RFC 2822, also RFC 850 and asctime forms).
pub fn parse_http_date(v: &str) -> Option<jiff::Timestamp> {
    if let Ok(z) = jiff::fmt::rfc2822::parse(v) {
        return Some(z.timestamp());
    }
    // RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT"; asctime: "Sun Nov  6 08:49:37 1994".
    let fmts = ["%A, %d-%b-%y %H:%M:%S GMT", "%a %b %e %H:%M:%S %Y"];
    for f in fmts {
        if let Ok(dt) = jiff::civil::DateTime::strptime(f, v)
            && let Ok(z) = dt.to_zoned(jiff::tz::TimeZone::UTC)
        {
            return Some(z.timestamp());
        }
    }
    None
}

/// Shared fetch machinery: cheap to clone; clones share the client and the concurrency limits.
#[derive(Clone)]
pub struct Fetcher {
    inner: Arc<Inner>,
}

struct Inner {
    client: reqwest::Client,
    opts: FetchOptions,
    global: Arc<Semaphore>,
    hosts: Mutex<HashMap<String, Arc<Semaphore>>>,
}

enum Target {
    Http(url::Url),
    File(PathBuf),
}

impl Fetcher {
    /// Builds the client. Fails only if the TLS backend cannot be initialised.
    pub fn new(opts: FetchOptions) -> Result<Self, FetchError> {
        let client = reqwest::Client::builder()
            .user_agent(opts.user_agent.clone())
            .connect_timeout(opts.connect_timeout)
            .timeout(opts.timeout)
            // Redirects are followed by `fetch_http`, which checks every hop.
            .redirect(reqwest::redirect::Policy::none())
            .gzip(true)
            .brotli(true)
            .deflate(true)
            .build()
            .map_err(|e| FetchError::Client(e.to_string()))?;
        Ok(Fetcher {
            inner: Arc::new(Inner {
                client,
                global: Arc::new(Semaphore::new(opts.concurrency.max(1))),
                hosts: Mutex::new(HashMap::new()),
                opts,
            }),
        })
    }

    /// The options this fetcher was built with.
    pub fn options(&self) -> &FetchOptions {
        &self.inner.opts
    }

    /// Fetches one feed, waiting for a per-host slot and then a global one (so feeds queued
    /// behind one busy host hold no global slot).
    pub async fn fetch(&self, req: &FetchRequest) -> Result<FetchOutcome, FetchError> {
        match classify(&req.url).map_err(|reason| FetchError::InvalidUrl {
            feed: req.feed.clone(),
            url: req.url.clone(),
            reason,
        })? {
            Target::File(path) => {
                let _g = self.inner.global.acquire().await;
                let fut = self.read_file(req, path);
                match tokio::time::timeout(self.inner.opts.timeout, fut).await {
                    Ok(r) => r,
                    Err(_) => Err(timeout(req, self.inner.opts.timeout.as_secs())),
                }
            }
            Target::Http(url) => {
                let host = format!(
                    "{}:{}",
                    url.host_str().unwrap_or_default(),
                    url.port_or_known_default().unwrap_or(0)
                );
                let host_sem = self.host_semaphore(&host);
                let _h = host_sem.acquire().await;
                let _g = self.inner.global.acquire().await;
                match tokio::time::timeout(self.inner.opts.timeout, self.fetch_http(req, url)).await
                {
                    Ok(r) => r,
                    Err(_) => Err(timeout(req, self.inner.opts.timeout.as_secs())),
                }
            }
        }
    }

    fn host_semaphore(&self, host: &str) -> Arc<Semaphore> {
        let mut map = match self.inner.hosts.lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        map.entry(host.to_string())
            .or_insert_with(|| Arc::new(Semaphore::new(self.inner.opts.per_host.max(1))))
            .clone()
    }

    async fn read_file(
        &self,
        req: &FetchRequest,
        path: PathBuf,
    ) -> Result<FetchOutcome, FetchError> {
        let io = |source| FetchError::Io {
            feed: req.feed.clone(),
            url: req.url.clone(),
            source,
        };
        let file = tokio::fs::File::open(&path).await.map_err(io)?;
        let limit = self.inner.opts.max_body_bytes;
        let mut body = Vec::new();
        file.take(limit.saturating_add(1))
            .read_to_end(&mut body)
            .await
            .map_err(io)?;
        if body.len() as u64 > limit {
            return Err(too_large(req, limit));
        }
        let final_url = url::Url::from_file_path(&path)
            .map(|u| u.to_string())
            .unwrap_or_else(|_| req.url.clone());
        Ok(FetchOutcome::Fetched {
            body,
            etag: None,
            last_modified: None,
            final_url,
            content_type: None,
        })
    }

    /// One request (no redirect following): the feed's headers, credentials and validators.
    async fn send_once(
        &self,
        req: &FetchRequest,
        url: &url::Url,
        same_origin: bool,
    ) -> Result<reqwest::Response, FetchError> {
        let mut rb = self.inner.client.get(url.clone());
        for (k, v) in &req.headers {
            // Credentials and cookies never travel to another origin.
            if !same_origin
                && ["authorization", "cookie", "proxy-authorization"]
                    .iter()
                    .any(|h| k.eq_ignore_ascii_case(h))
            {
                continue;
            }
            rb = rb.header(k.as_str(), v.as_str());
        }
        if same_origin && let Some((user, pass)) = &req.basic_auth {
            rb = rb.basic_auth(user, pass.as_ref());
        }
        if let Some(etag) = req.etag.as_deref().filter(|s| !s.is_empty()) {
            rb = rb.header(reqwest::header::IF_NONE_MATCH, etag);
        }
        if let Some(lm) = req.last_modified.as_deref().filter(|s| !s.is_empty()) {
            rb = rb.header(reqwest::header::IF_MODIFIED_SINCE, lm);
        }
        rb.send().await.map_err(|e| http_err(req, e, self))
    }

    /// Follows redirects (at most `max_redirects`), checking each hop, and returns the final
    /// response (not a redirect).
    async fn follow(
        &self,
        req: &FetchRequest,
        first: url::Url,
    ) -> Result<reqwest::Response, FetchError> {
        let mut url = first.clone();
        let mut hops = 0usize;
        loop {
            let same_origin = url.origin() == first.origin();
            let resp = self.send_once(req, &url, same_origin).await?;
            let status = resp.status().as_u16();
            let location = resp
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let (true, Some(location)) = (matches!(status, 301 | 302 | 303 | 307 | 308), location)
            else {
                return Ok(resp);
            };
            hops += 1;
            if hops > self.inner.opts.max_redirects {
                return Err(FetchError::TooManyRedirects {
                    feed: req.feed.clone(),
                    url: req.url.clone(),
                    limit: self.inner.opts.max_redirects,
                });
            }
            let next = url
                .join(location.trim())
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
                .ok_or_else(|| FetchError::InvalidUrl {
                    feed: req.feed.clone(),
                    url: req.url.clone(),
                    reason: format!("redirect to an unusable location {location:?}"),
                })?;
            if !self.inner.opts.allow_private_redirects {
                self.check_redirect(req, &url, resp.remote_addr(), &next)
                    .await?;
            }
            url = next;
        }
    }

    /// Refuses a hop from a public address to a private one.
    async fn check_redirect(
        &self,
        req: &FetchRequest,
        from: &url::Url,
        from_addr: Option<SocketAddr>,
        to: &url::Url,
    ) -> Result<(), FetchError> {
        let tests = &self.inner.opts.public_for_tests;
        let public = |a: &SocketAddr| tests.contains(a) || is_public(a.ip());
        let from_public = match from_addr {
            Some(a) => public(&a),
            None => resolve(from).await.iter().all(public),
        };
        if !from_public {
            return Ok(());
        }
        match resolve(to).await.into_iter().find(|a| !public(a)) {
            Some(private) => Err(FetchError::PrivateRedirect {
                feed: req.feed.clone(),
                url: req.url.clone(),
                target: format!("{to} ({})", private.ip()),
            }),
            None => Ok(()),
        }
    }

    async fn fetch_http(
        &self,
        req: &FetchRequest,
        url: url::Url,
    ) -> Result<FetchOutcome, FetchError> {
        let limit = self.inner.opts.max_body_bytes;
        let mut resp = self.follow(req, url).await?;
        let status = resp.status();
        let headers = resp.headers().clone();
        let header = |name: reqwest::header::HeaderName| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
        };
        if status == reqwest::StatusCode::NOT_MODIFIED {
            return Ok(FetchOutcome::NotModified);
        }
        if status == reqwest::StatusCode::TOO_MANY_REQUESTS
            || status == reqwest::StatusCode::SERVICE_UNAVAILABLE
        {
            let retry_after = header(reqwest::header::RETRY_AFTER)
                .and_then(|v| parse_retry_after(&v, jiff::Timestamp::now()));
            return Err(FetchError::RateLimited {
                feed: req.feed.clone(),
                url: req.url.clone(),
                code: status.as_u16(),
                retry_after,
            });
        }
        if !status.is_success() {
            return Err(FetchError::Status {
                feed: req.feed.clone(),
                url: req.url.clone(),
                code: status.as_u16(),
            });
        }
        // An honest Content-Length of an unencoded body lets us refuse before reading.
        if header(reqwest::header::CONTENT_ENCODING).is_none()
            && let Some(len) =
                header(reqwest::header::CONTENT_LENGTH).and_then(|v| v.parse::<u64>().ok())
            && len > limit
        {
            return Err(too_large(req, limit));
        }
        let final_url = resp.url().to_string();
        let mut body: Vec<u8> = Vec::new();
        // Chunks arrive decompressed: the cap applies to what we would keep.
        while let Some(chunk) = resp.chunk().await.map_err(|e| http_err(req, e, self))? {
            if body.len() as u64 + chunk.len() as u64 > limit {
                return Err(too_large(req, limit));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(FetchOutcome::Fetched {
            body,
            etag: header(reqwest::header::ETAG),
            last_modified: header(reqwest::header::LAST_MODIFIED),
            final_url,
            content_type: header(reqwest::header::CONTENT_TYPE),
        })
    }
}

/// The addresses a URL's host stands for (an IP literal, else a DNS lookup; empty on failure).
async fn resolve(u: &url::Url) -> Vec<SocketAddr> {
    let port = u.port_or_known_default().unwrap_or(80);
    match u.host() {
        Some(url::Host::Ipv4(ip)) => vec![SocketAddr::new(IpAddr::V4(ip), port)],
        Some(url::Host::Ipv6(ip)) => vec![SocketAddr::new(IpAddr::V6(ip), port)],
        Some(url::Host::Domain(d)) => tokio::net::lookup_host((d, port))
            .await
            .map(|it| it.collect())
            .unwrap_or_default(),
        None => Vec::new(),
    }
}

/// True for an address on the public internet: not loopback, private (RFC 1918, unique local
/// fc00::/7), link-local, shared (100.64/10, CGNAT), unspecified, broadcast or documentation.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_documentation()
                || o[0] == 0
                || (o[0] == 100 && (o[1] & 0xC0) == 64))
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let seg = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || (seg[0] & 0xfe00) == 0xfc00
                || (seg[0] & 0xffc0) == 0xfe80)
        }
    }
}

fn timeout(req: &FetchRequest, secs: u64) -> FetchError {
    FetchError::Timeout {
        feed: req.feed.clone(),
        url: req.url.clone(),
        cause: format!("timed out after {secs} s"),
    }
}

fn too_large(req: &FetchRequest, limit: u64) -> FetchError {
    FetchError::TooLarge {
        feed: req.feed.clone(),
        url: req.url.clone(),
        limit,
    }
}

fn http_err(req: &FetchRequest, e: reqwest::Error, f: &Fetcher) -> FetchError {
    if e.is_redirect() {
        return FetchError::TooManyRedirects {
            feed: req.feed.clone(),
            url: req.url.clone(),
            limit: f.inner.opts.max_redirects,
        };
    }
    let url = e.url().cloned().or_else(|| url::Url::parse(&req.url).ok());
    let host = url
        .as_ref()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_else(|| req.url.clone());
    let port = url.as_ref().and_then(|u| u.port_or_known_default());
    let opts = &f.inner.opts;
    let limit = if e.is_connect() {
        opts.connect_timeout
    } else {
        opts.timeout
    };
    let cause = crate::netcause::explain(
        &e,
        &host,
        port,
        e.is_timeout(),
        e.is_connect(),
        Some(limit.as_secs()),
    );
    tracing::debug!(feed = %req.feed, kind = cause.kind.as_str(), "fetch failed: {:?}", e);
    match cause.kind {
        crate::netcause::NetKind::Timeout | crate::netcause::NetKind::ConnectTimeout => {
            FetchError::Timeout {
                feed: req.feed.clone(),
                url: req.url.clone(),
                cause: cause.message,
            }
        }
        kind => FetchError::Http {
            feed: req.feed.clone(),
            url: req.url.clone(),
            kind,
            cause: cause.message,
        },
    }
}

/// Decides whether a feed URL is fetched over HTTP(S) or read from disk.
fn classify(raw: &str) -> Result<Target, String> {
    let s = raw.trim();
    if s.is_empty() {
        return Err("empty URL".into());
    }
    match url::Url::parse(s) {
        Ok(u) => match u.scheme() {
            "http" | "https" => {
                if u.host_str().is_none_or(|h| h.is_empty()) {
                    Err("no host".into())
                } else {
                    Ok(Target::Http(u))
                }
            }
            "file" => u
                .to_file_path()
                .map(Target::File)
                .map_err(|_| "file URL is not a local path".into()),
            // "C:\feeds\x.xml" parses with scheme "c".
            other if other.len() == 1 => Ok(Target::File(PathBuf::from(s))),
            other => Err(format!("unsupported scheme {other:?}")),
        },
        Err(url::ParseError::RelativeUrlWithoutBase) => Ok(Target::File(PathBuf::from(s))),
        Err(e) => Err(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_and_private_addresses() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:192.168.1.1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in ["93.184.216.34", "1.1.1.1", "2606:4700::1111", "100.128.0.1"] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }
}
