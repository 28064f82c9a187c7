//! Validation of the raw schema into [`Settings`], one validator per TOML table (in the manner of
//! ripgrep's `HiArgs::from_low_args`: each typed part is built from its raw part by its own
//! function, and [`validate`] only puts them together in the order the file is checked).

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::Duration;

use super::cx::{
    Bounds, Cx, duration, feed_url, filename_safe, regexes, secret, suggest, valid_log_level,
    valid_mailbox,
};
use super::raw::{
    OneOrMany, RawConfig, RawDigest, RawEmailOutput, RawFeed, RawFetch, RawFileOutput, RawOutput,
    RawSendmail, RawSmtp, SizeValue,
};
use super::{
    ConfigError, DEFAULT_DIGEST_MAX_ITEMS, DEFAULT_FORMATS, DEFAULT_MAX_STORIES, DEFAULT_RETENTION,
    DigestSettings, FORMATS, FeedSettings, FetchSettings, OutputSettings, SendmailConfig, Settings,
    SmtpConfig, SmtpSecurity,
};
use crate::digest::{DEFAULT_EMAIL_BUDGET, MIN_EMAIL_BUDGET};
use crate::feed::{DEFAULT_MAX_ITEMS, thousands};
use crate::schedule::{self, Schedule};

const DEFAULT_STATE_DIR: &str = "/var/lib/digestif";

/// Validates every table, in file order: top level, `[fetch]`, `[[feed]]`, `[smtp]`, `[sendmail]`,
/// `[[digest]]` (digests refer to feeds and need a mail transport for email outputs).
///
/// Each check records its error in `cx` and validation goes on with a stand-in value, so one pass
/// finds every error of the file; the caller turns them into one [`ConfigError`]. The settings
/// returned are only meaningful when no error was recorded.
pub(super) fn validate(cx: &mut Cx, raw: RawConfig) -> Settings {
    let top = TopLevel::from_raw(cx, &raw);
    let fetch = match &raw.fetch {
        Some(f) => fetch_from_raw(cx, f),
        None => FetchSettings::default(),
    };
    let feeds = feeds_from_raw(cx, raw.feed);
    let has_transport = raw.smtp.is_some() || raw.sendmail.is_some();
    let has_smtp = raw.smtp.is_some();
    let smtp = raw.smtp.and_then(|s| smtp_from_raw(cx, s));
    let sendmail = raw
        .sendmail
        .and_then(|s| sendmail_from_raw(cx, s, has_smtp));
    let email_from = smtp
        .as_ref()
        .map(|s| s.from.clone())
        .or_else(|| sendmail.as_ref().map(|s| s.from.clone()));
    let digests = digests_from_raw(cx, raw.digest, &feeds, has_transport);
    if cx.complete {
        completeness(cx, &feeds, &digests);
    }
    Settings {
        path: cx.path.clone(),
        state_dir: top.state_dir,
        timezone: top.timezone,
        timezone_name: top.timezone_name,
        template_dir: top.template_dir,
        fetch,
        feeds,
        digests,
        smtp,
        sendmail,
        email_from,
        log_level: top.log_level,
        retention: top.retention,
        metrics_file: top.metrics_file,
    }
}

/// What `check-config` also requires: a feed and a digest (a config without either does
/// nothing), and local feed files that exist.
fn completeness(cx: &mut Cx, feeds: &[FeedSettings], digests: &[DigestSettings]) {
    if feeds.is_empty() && cx.loose_names.is_empty() {
        let e = cx.err(
            "",
            "no [[feed]]: add one with name = \"...\" and url = \"https://...\"",
        );
        cx.push(e);
    }
    if digests.is_empty() && !cx.idx.has("digest") {
        let e = cx.err(
            "",
            "no [[digest]]: add one with name, at = \"07:00\" and a [[digest.output]]",
        );
        cx.push(e);
    }
    for (i, f) in feeds.iter().enumerate() {
        let Some(path) = f.file_path() else { continue };
        let problem = match std::fs::metadata(&path) {
            Ok(m) if m.is_file() => continue,
            Ok(_) => "is not a file".to_string(),
            Err(e) => e.to_string(),
        };
        let e = cx.err_value(
            &format!("feed[{i}].url"),
            &format!("local feed file {}: {problem}", path.display()),
        );
        cx.push(e);
    }
}

// ------------------------------------------------------------------------------------ top level

/// The top-level keys.
struct TopLevel {
    state_dir: PathBuf,
    timezone: jiff::tz::TimeZone,
    timezone_name: String,
    template_dir: Option<PathBuf>,
    log_level: String,
    retention: Duration,
    metrics_file: Option<PathBuf>,
}

impl TopLevel {
    fn from_raw(cx: &mut Cx, raw: &RawConfig) -> TopLevel {
        let state_dir = match &raw.state_dir {
            Some(s) if s.trim().is_empty() => {
                let e = cx.err("state_dir", "empty path");
                cx.push(e);
                PathBuf::from(DEFAULT_STATE_DIR)
            }
            Some(s) => cx.resolve_path(s),
            None => match std::env::var("STATE_DIRECTORY") {
                // systemd StateDirectory= (may list several, colon-separated)
                Ok(d) if !d.is_empty() => {
                    PathBuf::from(d.split(':').next().unwrap_or(DEFAULT_STATE_DIR))
                }
                _ => PathBuf::from(DEFAULT_STATE_DIR),
            },
        };
        let timezone_name = raw.timezone.clone().unwrap_or_else(|| "UTC".to_string());
        let timezone =
            schedule::parse_time_zone(&timezone_name).map_err(|m| cx.err("timezone", &m));
        let timezone = cx.check(timezone).unwrap_or(jiff::tz::TimeZone::UTC);
        let template_dir = match &raw.template_dir {
            Some(s) if s.trim().is_empty() => {
                let e = cx.err("template_dir", "empty path");
                cx.push(e);
                None
            }
            Some(s) => Some(cx.resolve_path(s)),
            None => None,
        };
        let log_level = raw.log_level.clone().unwrap_or_else(|| "info".to_string());
        if !valid_log_level(&log_level) {
            let e = cx.err(
                "log_level",
                &format!(
                    "invalid log level {log_level:?} (trace, debug, info, warn, error, off, or a filter like \"digestif=debug,warn\")"
                ),
            );
            cx.push(e);
        }
        // "0" keeps everything forever; any other value is bounded.
        let retention = match raw.retention.as_deref().map(str::trim) {
            Some("0") => Duration::ZERO,
            v => {
                let r = duration(cx, "retention", v, DEFAULT_RETENTION, RETENTION);
                cx.check(r).unwrap_or(DEFAULT_RETENTION)
            }
        };
        let metrics_file = raw
            .metrics_file
            .as_deref()
            .and_then(|s| metrics_file(cx, s));
        TopLevel {
            state_dir,
            timezone,
            timezone_name,
            template_dir,
            log_level,
            retention,
            metrics_file,
        }
    }
}

/// `metrics_file`: a file path (not a folder) whose file name node_exporter's textfile collector
/// reads (it only reads `*.prom`).
fn metrics_file(cx: &mut Cx, s: &str) -> Option<PathBuf> {
    let problem = if s.trim().is_empty() {
        Some("empty path".to_string())
    } else if s.ends_with('/') {
        Some(format!(
            "{s:?} names a folder; give a file such as \"{s}digestif.prom\""
        ))
    } else {
        None
    };
    let path = cx.resolve_path(s);
    let problem = problem.or_else(|| {
        std::fs::metadata(&path).is_ok_and(|m| m.is_dir()).then(|| {
            format!(
                "{} is a folder; give a file such as {}/digestif.prom",
                path.display(),
                path.display()
            )
        })
    });
    match problem {
        Some(p) => {
            let e = cx.err("metrics_file", &p);
            cx.push(e);
            None
        }
        None => Some(path),
    }
}

// ---------------------------------------------------------------------------- duration bounds

const HOUR: Duration = Duration::from_secs(3600);

/// `fetch.timeout`, `fetch.connect_timeout`, `smtp.timeout`: more than 0, at most an hour.
const TIMEOUT: Bounds = Bounds::new(Duration::from_millis(1), HOUR);
/// `feed.interval`: from a minute (politeness) to 30 days.
const INTERVAL: Bounds = Bounds::new(Duration::from_secs(60), Duration::from_secs(30 * 86_400));
/// `digest.window`: more than 0, at most 36,500 days (a first digest of a whole archive).
const WINDOW: Bounds = Bounds::new(
    Duration::from_millis(1),
    Duration::from_secs(36_500 * 86_400),
);
/// `retention` (besides "0", keep forever): from a week to 36,500 days.
const RETENTION: Bounds = Bounds::new(
    Duration::from_secs(7 * 86_400),
    Duration::from_secs(36_500 * 86_400),
);
/// `digest.grace`: 0 (never catch up) to 31 days.
const GRACE: Bounds = Bounds::new(Duration::ZERO, Duration::from_secs(31 * 86_400));
/// The smallest `fetch.max_body`.
const MIN_MAX_BODY: u64 = 1024;

// ------------------------------------------------------------------------------- count bounds

/// `feed.max_items`: items read from one fetch, 1 to 10,000.
const FEED_ITEMS: (usize, usize) = (1, 10_000);
/// `digest.max_items`: reports one build reads, 1 to 100,000.
const DIGEST_ITEMS: (usize, usize) = (1, 100_000);
/// `digest.max_stories`: stories one build shows, 1 to 10,000.
const DIGEST_STORIES: (usize, usize) = (1, 10_000);

/// A count key: `default` when absent; outside `lo..=hi` an error naming the bounds.
fn count(
    cx: &mut Cx,
    key: &str,
    v: Option<u32>,
    default: usize,
    (lo, hi): (usize, usize),
) -> usize {
    let Some(n) = v else {
        return default;
    };
    let n = n as usize;
    if (lo..=hi).contains(&n) {
        return n;
    }
    let e = cx.err(
        key,
        &format!(
            "{} is out of bounds: between {} and {}",
            thousands(n),
            thousands(lo),
            thousands(hi)
        ),
    );
    cx.push(e);
    default
}

// -------------------------------------------------------------------------------------- [fetch]

fn fetch_from_raw(cx: &mut Cx, f: &RawFetch) -> FetchSettings {
    let mut fetch = FetchSettings::default();
    let r = duration(
        cx,
        "fetch.timeout",
        f.timeout.as_deref(),
        fetch.timeout,
        TIMEOUT,
    );
    fetch.timeout = cx.check(r).unwrap_or(fetch.timeout);
    let r = duration(
        cx,
        "fetch.connect_timeout",
        f.connect_timeout.as_deref(),
        fetch.connect_timeout,
        TIMEOUT,
    );
    fetch.connect_timeout = cx.check(r).unwrap_or(fetch.connect_timeout);
    let mut bad = Vec::new();
    match &f.max_body {
        None => {}
        Some(SizeValue::Bytes(n)) => fetch.max_body = *n,
        Some(SizeValue::Text(s)) => {
            let r = schedule::parse_size(s).map_err(|m| cx.err("fetch.max_body", &m));
            fetch.max_body = cx.check(r).unwrap_or(fetch.max_body);
        }
    }
    if fetch.max_body < MIN_MAX_BODY {
        let e = format!("must be at least {}", schedule::format_size(MIN_MAX_BODY));
        let e = cx.err("fetch.max_body", &e);
        cx.push(e);
    }
    match f.concurrency {
        Some(0) => bad.push(("fetch.concurrency", "must be at least 1")),
        Some(n) => fetch.concurrency = n as usize,
        None => {}
    }
    match f.per_host {
        Some(0) => bad.push(("fetch.per_host", "must be at least 1")),
        Some(n) => fetch.per_host = n as usize,
        None => {}
    }
    if let Some(ua) = &f.user_agent {
        if ua.trim().is_empty() || ua.chars().any(|c| c.is_control()) {
            bad.push(("fetch.user_agent", "must be non-empty printable text"));
        }
        fetch.user_agent = ua.clone();
    }
    if let Some(allow) = f.allow_private_redirects {
        fetch.allow_private_redirects = allow;
    }
    for (key, message) in bad {
        let e = cx.err(key, message);
        cx.push(e);
    }
    fetch
}

// ------------------------------------------------------------------------------------- [[feed]]

fn feeds_from_raw(cx: &mut Cx, raw: Vec<RawFeed>) -> Vec<FeedSettings> {
    let mut feeds = Vec::new();
    let mut seen_names: HashSet<String> = HashSet::new();
    for (i, f) in raw.into_iter().enumerate() {
        let p = format!("feed[{i}]");
        let name = f.name.trim().to_string();
        if name.is_empty() {
            let e = cx.err(&format!("{p}.name"), "empty feed name");
            cx.push(e);
        } else if !seen_names.insert(name.to_lowercase()) {
            let e = cx.err(
                &format!("{p}.name"),
                &format!("duplicate feed name {name:?} (feed names must be unique)"),
            );
            cx.push(e);
        }
        feeds.push(feed_from_raw(cx, &p, name, f));
    }
    feeds
}

/// One `[[feed]]` (its `name` already checked), whose key path is `p` (`feed[3]`). Errors are
/// recorded in `cx`; the feed is returned anyway so digests can still select it by name.
fn feed_from_raw(cx: &mut Cx, p: &str, name: String, f: RawFeed) -> FeedSettings {
    let r = feed_url(cx, &format!("{p}.url"), &f.url);
    let url = cx.check(r).unwrap_or_default();
    let r = duration(
        cx,
        &format!("{p}.interval"),
        f.interval.as_deref(),
        Duration::from_secs(3600),
        INTERVAL,
    );
    let interval = cx.check(r).unwrap_or(Duration::from_secs(3600));
    for (j, t) in f.tags.iter().enumerate() {
        if t.trim().is_empty() {
            let e = cx.err_value(&format!("{p}.tags[{j}]"), "empty tag");
            cx.push(e);
        }
    }
    let headers = feed_headers(cx, p, &f);
    let max_items = count(
        cx,
        &format!("{p}.max_items"),
        f.max_items,
        DEFAULT_MAX_ITEMS,
        FEED_ITEMS,
    );
    let r = secret(cx, p, f.password, f.password_file, f.password_env);
    let password = cx.check(r).flatten();
    if password.is_some() && f.username.is_none() {
        let e = cx.err(
            &format!("{p}.username"),
            "a password is set but `username` is missing",
        );
        cx.push(e);
    }
    FeedSettings {
        name,
        url,
        interval,
        tags: f.tags.iter().map(|t| t.trim().to_string()).collect(),
        headers,
        username: f.username,
        password,
        enabled: f.enabled.unwrap_or(true),
        max_items,
    }
}

/// A feed's `headers`: names that HTTP allows, values without line breaks.
fn feed_headers(cx: &mut Cx, p: &str, f: &RawFeed) -> Vec<(String, String)> {
    let mut headers = Vec::new();
    for (k, v) in &f.headers {
        let hk = format!("{p}.headers.{k}");
        if k.is_empty()
            || !k
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
        {
            let e = cx.err(&hk, &format!("invalid header name {k:?}"));
            cx.push(e);
        } else if v.chars().any(|c| c == '\r' || c == '\n' || c == '\0') {
            let e = cx.err(&hk, "header value must not contain line breaks");
            cx.push(e);
        } else {
            headers.push((k.clone(), v.clone()));
        }
    }
    headers
}

// --------------------------------------------------------------------------- [smtp], [sendmail]

/// `[smtp]`: every problem of the table is reported (not only the first); `None` if any.
fn smtp_from_raw(cx: &mut Cx, s: RawSmtp) -> Option<SmtpConfig> {
    let errors = cx.error_count();
    if s.host.trim().is_empty() {
        let e = cx.err("smtp.host", "empty host");
        cx.push(e);
    }
    let security = match s.security.as_deref() {
        None => Some(SmtpSecurity::default()),
        Some(v) => {
            let r = v.parse().map_err(|m: String| cx.err("smtp.security", &m));
            cx.check(r)
        }
    };
    let port = s
        .port
        .unwrap_or(security.unwrap_or_default().default_port());
    if port == 0 {
        let e = cx.err("smtp.port", "port must be 1-65535");
        cx.push(e);
    }
    if !valid_mailbox(&s.from) {
        let e = cx.err("smtp.from", &format!("invalid address {:?}", s.from));
        cx.push(e);
    }
    let r = secret(cx, "smtp", s.password, s.password_file, s.password_env);
    let password = cx.check(r).flatten();
    if password.is_some() && s.username.is_none() {
        let e = cx.err(
            "smtp.username",
            "a password is set but `username` is missing",
        );
        cx.push(e);
    }
    let r = duration(
        cx,
        "smtp.timeout",
        s.timeout.as_deref(),
        Duration::from_secs(30),
        TIMEOUT,
    );
    let timeout = cx.check(r);
    if cx.error_count() > errors {
        return None;
    }
    Some(SmtpConfig {
        host: s.host.trim().to_string(),
        port,
        security: security?,
        username: s.username,
        password,
        from: s.from,
        timeout: timeout?,
    })
}

/// `[sendmail]`: every problem of the table is reported; `None` if any.
fn sendmail_from_raw(cx: &mut Cx, sm: RawSendmail, has_smtp: bool) -> Option<SendmailConfig> {
    let errors = cx.error_count();
    if has_smtp {
        let e = cx.err(
            "sendmail",
            "configure either [smtp] or [sendmail], not both",
        );
        cx.push(e);
    }
    if !valid_mailbox(&sm.from) {
        let e = cx.err("sendmail.from", &format!("invalid address {:?}", sm.from));
        cx.push(e);
    }
    let cmd = sm
        .command
        .unwrap_or_else(|| "/usr/sbin/sendmail".to_string());
    if cmd.trim().is_empty() {
        let e = cx.err("sendmail.command", "empty command");
        cx.push(e);
    }
    if cx.error_count() > errors {
        return None;
    }
    let command = if cmd.contains('/') {
        cx.resolve_path(&cmd)
    } else {
        PathBuf::from(cmd)
    };
    Some(SendmailConfig {
        command,
        from: sm.from,
    })
}

// ----------------------------------------------------------------------------------- [[digest]]

fn digests_from_raw(
    cx: &mut Cx,
    raw: Vec<RawDigest>,
    feeds: &[FeedSettings],
    has_transport: bool,
) -> Vec<DigestSettings> {
    let mut digests = Vec::new();
    let mut digest_names = HashSet::new();
    for (i, d) in raw.into_iter().enumerate() {
        let p = format!("digest[{i}]");
        if !filename_safe(&d.name) {
            let e = cx.err(
                &format!("{p}.name"),
                &format!("invalid digest name {:?} (letters, digits, '.', '_', '-'; starting with a letter or digit; at most 64)", d.name),
            );
            cx.push(e);
        } else if !digest_names.insert(d.name.to_lowercase()) {
            let e = cx.err(
                &format!("{p}.name"),
                &format!("duplicate digest name {:?}", d.name),
            );
            cx.push(e);
        }
        digests.push(digest_from_raw(cx, &p, d, feeds, has_transport));
    }
    digests
}

/// One `[[digest]]` (its name already checked), whose key path is `p` (`digest[0]`). Errors are
/// recorded in `cx`.
fn digest_from_raw(
    cx: &mut Cx,
    p: &str,
    d: RawDigest,
    feeds: &[FeedSettings],
    has_transport: bool,
) -> DigestSettings {
    let k = |s: &str| format!("{p}.{s}");
    let r = digest_schedule(cx, p, &d);
    let schedule = cx
        .check(r)
        .unwrap_or_else(|| Schedule::from_times(Vec::new()));
    let day = Duration::from_secs(24 * 3600);
    let r = duration(cx, &k("window"), d.window.as_deref(), day, WINDOW);
    let window = cx.check(r).unwrap_or(day);
    let six_hours = Duration::from_secs(6 * 3600);
    let r = duration(cx, &k("grace"), d.grace.as_deref(), six_hours, GRACE);
    let grace = cx.check(r).unwrap_or(six_hours);
    let feed_names = match &d.feeds {
        None => feeds.iter().map(|f| f.name.clone()).collect(),
        Some(sel) => feed_selection(cx, p, sel, feeds),
    };
    let r = regexes(cx, &k("include"), &d.include);
    let include = cx.check(r).unwrap_or_default();
    let r = regexes(cx, &k("exclude"), &d.exclude);
    let exclude = cx.check(r).unwrap_or_default();
    if d.max_per_feed == Some(0) {
        let e = cx.err(&k("max_per_feed"), "must be at least 1");
        cx.push(e);
    }
    let max_items = count(
        cx,
        &k("max_items"),
        d.max_items,
        DEFAULT_DIGEST_MAX_ITEMS,
        DIGEST_ITEMS,
    );
    let max_stories = count(
        cx,
        &k("max_stories"),
        d.max_stories,
        DEFAULT_MAX_STORIES,
        DIGEST_STORIES,
    );
    let r = email_keys(cx, p, &d);
    let email = cx.check(r).unwrap_or(EmailKeys {
        link: None,
        budget: DEFAULT_EMAIL_BUDGET,
        unsubscribe: None,
    });
    let mut outputs = Vec::new();
    for (j, o) in d.output.into_iter().enumerate() {
        let r = output_from_raw(cx, &format!("{p}.output[{j}]"), o, has_transport);
        outputs.extend(cx.check(r));
    }
    if outputs.is_empty() && !cx.idx.has(&k("output")) {
        let e = cx.err(
            p,
            "digest has no [[digest.output]]: its articles would be marked used and reach no \
             one; add one with kind = \"file\" (dir = ...) or kind = \"email\" (to = [...])",
        );
        cx.push(e);
    }
    DigestSettings {
        name: d.name,
        schedule,
        window,
        grace,
        feeds: feed_names,
        include,
        exclude,
        max_per_feed: d.max_per_feed.map(|n| n as usize),
        max_items,
        max_stories,
        subject: d.subject,
        title: d.title,
        link: email.link,
        email_budget: email.budget,
        unsubscribe: email.unsubscribe,
        send_empty: d.send_empty.unwrap_or(false),
        follow: d
            .follow
            .into_iter()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
        outputs,
    }
}

/// The email edition's keys of a `[[digest]]`, checked.
struct EmailKeys {
    link: Option<String>,
    budget: u64,
    unsubscribe: Option<String>,
}

/// `link` (an http(s) URL, possibly a template), `email_budget` (a size, at least
/// [`MIN_EMAIL_BUDGET`]) and `unsubscribe` (an address or a `mailto:` URI).
fn email_keys(cx: &Cx, p: &str, d: &RawDigest) -> Result<EmailKeys, ConfigError> {
    let k = |s: &str| format!("{p}.{s}");
    let link = match d.link.as_deref().map(str::trim) {
        None => None,
        Some(l) if l.starts_with("https://") || l.starts_with("http://") => Some(l.to_string()),
        Some(l) => {
            return Err(cx.err_value(
                &k("link"),
                &format!("link {l:?} must be an http:// or https:// URL"),
            ));
        }
    };
    let budget = match &d.email_budget {
        None => DEFAULT_EMAIL_BUDGET,
        Some(SizeValue::Bytes(n)) => *n,
        Some(SizeValue::Text(s)) => {
            schedule::parse_size(s).map_err(|m| cx.err_value(&k("email_budget"), &m))?
        }
    };
    if budget < MIN_EMAIL_BUDGET {
        return Err(cx.err_value(
            &k("email_budget"),
            &format!("must be at least {MIN_EMAIL_BUDGET} bytes (the header and footer must fit)"),
        ));
    }
    let unsubscribe = d
        .unsubscribe
        .as_deref()
        .map(|u| {
            crate::deliver::unsubscribe_uri(u).map_err(|m| cx.err_value(&k("unsubscribe"), &m))
        })
        .transpose()?;
    Ok(EmailKeys {
        link,
        budget,
        unsubscribe,
    })
}

/// `at` (one time or a list) or `cron`: exactly one of them.
fn digest_schedule(cx: &Cx, p: &str, d: &RawDigest) -> Result<Schedule, ConfigError> {
    let k = |s: &str| format!("{p}.{s}");
    match (&d.at, &d.cron) {
        (Some(_), Some(_)) => Err(cx.err(&k("cron"), "set either `at` or `cron`, not both")),
        (None, None) => Err(cx.err(
            p,
            "missing schedule: set `at = \"07:00\"` or `cron = \"0 7 * * 1-5\"`",
        )),
        (None, Some(c)) => Schedule::parse_cron(c).map_err(|m| cx.err(&k("cron"), &m)),
        (Some(OneOrMany::One(s)), None) => Schedule::parse_at(s).map_err(|m| cx.err(&k("at"), &m)),
        (Some(OneOrMany::Many(list)), None) => {
            if list.is_empty() {
                return Err(cx.err(&k("at"), "empty list of times"));
            }
            let mut times = Vec::new();
            for (j, s) in list.iter().enumerate() {
                match Schedule::parse_at(s)
                    .map_err(|m| cx.err_value(&format!("{p}.at[{j}]"), &m))?
                {
                    Schedule::At(t) => times.extend(t),
                    Schedule::Cron(..) => {}
                }
            }
            Ok(Schedule::from_times(times))
        }
    }
}

/// `feeds = [...]`: feed names and tags, resolved to feed names in config order. A name no feed
/// has is an error, unless a feed that did not pass the schema has it (already reported).
fn feed_selection(cx: &mut Cx, p: &str, sel: &[String], feeds: &[FeedSettings]) -> Vec<String> {
    let mut wanted = HashSet::new();
    for (j, s) in sel.iter().enumerate() {
        let matched: Vec<&FeedSettings> = feeds
            .iter()
            .filter(|f| f.name == *s || f.tags.iter().any(|t| t == s))
            .collect();
        if matched.is_empty() && !cx.loose_names.contains(s) {
            let mut msg = format!("no feed or tag named {s:?}");
            let cands = feeds
                .iter()
                .map(|f| f.name.as_str())
                .chain(feeds.iter().flat_map(|f| f.tags.iter().map(String::as_str)));
            if let Some(best) = suggest(s, cands) {
                msg.push_str(&format!(", did you mean {best:?}?"));
            }
            let e = cx.err_value(&format!("{p}.feeds[{j}]"), &msg);
            cx.push(e);
        }
        wanted.extend(matched.into_iter().map(|f| f.name.clone()));
    }
    feeds
        .iter()
        .filter(|f| wanted.contains(&f.name))
        .map(|f| f.name.clone())
        .collect()
}

// ---------------------------------------------------------------------------- [[digest.output]]

/// One `[[digest.output]]`, whose key path is `op` (`digest[0].output[1]`).
fn output_from_raw(
    cx: &Cx,
    op: &str,
    o: RawOutput,
    has_transport: bool,
) -> Result<OutputSettings, ConfigError> {
    match o {
        RawOutput::File(f) => file_output(cx, op, f),
        RawOutput::Email(e) => email_output(cx, op, e, has_transport),
    }
}

fn file_output(cx: &Cx, op: &str, o: RawFileOutput) -> Result<OutputSettings, ConfigError> {
    let Some(dir) = o.dir.filter(|d| !d.trim().is_empty()) else {
        return Err(cx.err(op, "file output needs `dir`"));
    };
    let formats = o
        .formats
        .unwrap_or_else(|| DEFAULT_FORMATS.iter().map(|s| s.to_string()).collect());
    if formats.is_empty() {
        return Err(cx.err(&format!("{op}.formats"), "empty list of formats"));
    }
    let mut fs: Vec<String> = Vec::new();
    for (n, f) in formats.iter().enumerate() {
        let f = f.to_ascii_lowercase();
        if !FORMATS.contains(&f.as_str()) {
            let mut msg = format!(
                "unknown format {f:?} (expected one of {})",
                FORMATS.join(", ")
            );
            if let Some(s) = suggest(&f, FORMATS.iter().copied()) {
                msg = format!("unknown format {f:?}, did you mean {s:?}?");
            }
            return Err(cx.err_value(&format!("{op}.formats[{n}]"), &msg));
        }
        if !fs.contains(&f) {
            fs.push(f);
        }
    }
    Ok(OutputSettings::File {
        dir: cx.resolve_path(&dir),
        formats: fs,
    })
}

fn email_output(
    cx: &Cx,
    op: &str,
    o: RawEmailOutput,
    has_transport: bool,
) -> Result<OutputSettings, ConfigError> {
    let to = o.to.unwrap_or_default();
    if to.is_empty() {
        return Err(cx.err(op, "email output needs `to` (a list of addresses)"));
    }
    for (n, a) in to.iter().enumerate() {
        if !valid_mailbox(a) {
            return Err(cx.err_value(&format!("{op}.to[{n}]"), &format!("invalid address {a:?}")));
        }
    }
    if !has_transport {
        return Err(cx.err(
            &format!("{op}.kind"),
            "email output needs a mail transport: add an [smtp] or a [sendmail] section",
        ));
    }
    Ok(OutputSettings::Email {
        to: to.iter().map(|a| a.trim().to_string()).collect(),
    })
}
