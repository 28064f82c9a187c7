//! The configuration file: the raw TOML schema (serde structs), the check for unknown keys (with
//! "did you mean" suggestions), and validation into typed [`Settings`] (durations, time zone,
//! schedules, regexes, absolute paths, normalised feed URLs). Every error names the file, line,
//! column and key path: `/etc/digestif/config.toml:12:1: feed[1].interval: invalid duration …`.
//!
//! Key paths use 0-based indexes for arrays of tables (`feed[0]` is the first `[[feed]]`).
//! Relative paths (`state_dir`, `template_dir`, output `dir`, `password_file`, feed file paths,
//! the sendmail command if it contains a `/`) resolve against the config file's folder.

mod spans;

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use regex::{Regex, RegexBuilder};
use serde::Deserialize;
use toml::de::{DeTable, DeValue};

use crate::schedule::{self, Schedule};
use spans::{SpanIndex, join};

/// Where the config is read from when `--config` is not given: `$DIGESTIF_CONFIG` if set and
/// non-empty, else `/etc/digestif/config.toml`.
pub fn default_config_path() -> PathBuf {
    config_path_from(std::env::var_os("DIGESTIF_CONFIG"))
}

/// [`default_config_path`] given the value of `DIGESTIF_CONFIG`.
pub fn config_path_from(env: Option<std::ffi::OsString>) -> PathBuf {
    match env {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from("/etc/digestif/config.toml"),
    }
}

/// A config that could not be read or is not valid.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{}: cannot read config file: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}:{line}:{column}: {key}: {message}", path.display())]
    Invalid {
        path: PathBuf,
        line: usize,
        column: usize,
        key: String,
        message: String,
    },
}

/// A secret that could not be read at use time.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("cannot read secret file {}: {source}", path.display())]
    File {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("environment variable {name} (named by password_env) is not set or not UTF-8")]
    Env { name: String },
    #[error("secret file {} refers to $CREDENTIALS_DIRECTORY, which is not set (not running under systemd LoadCredential=?)", path.display())]
    NoCredentialsDir { path: PathBuf },
}

/// Prefix of a `password_file` that lives in systemd's credentials folder; expanded at use time.
pub const CREDENTIALS_PREFIX: &str = "$CREDENTIALS_DIRECTORY/";

/// A password as configured; read when used (so rotated files and credentials are picked up).
#[derive(Clone, PartialEq, Eq)]
pub enum Secret {
    /// Written in the config file (accepted with a warning).
    Plain(String),
    /// Read from a file (trailing newline removed). A path starting with
    /// `$CREDENTIALS_DIRECTORY/` is resolved in systemd's credentials folder.
    File(PathBuf),
    /// Read from an environment variable.
    Env(String),
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Secret::Plain(_) => f.write_str("Plain(<redacted>)"),
            Secret::File(p) => f.debug_tuple("File").field(p).finish(),
            Secret::Env(n) => f.debug_tuple("Env").field(n).finish(),
        }
    }
}

impl Secret {
    /// Reads the secret now.
    pub fn resolve(&self) -> Result<String, SecretError> {
        match self {
            Secret::Plain(s) => Ok(s.clone()),
            Secret::Env(name) => {
                std::env::var(name).map_err(|_| SecretError::Env { name: name.clone() })
            }
            Secret::File(path) => {
                let real = match path
                    .to_str()
                    .and_then(|s| s.strip_prefix(CREDENTIALS_PREFIX))
                {
                    Some(rest) => match std::env::var_os("CREDENTIALS_DIRECTORY") {
                        Some(dir) if !dir.is_empty() => PathBuf::from(dir).join(rest),
                        _ => return Err(SecretError::NoCredentialsDir { path: path.clone() }),
                    },
                    None => path.clone(),
                };
                let mut s = std::fs::read_to_string(&real).map_err(|source| SecretError::File {
                    path: real.clone(),
                    source,
                })?;
                while s.ends_with('\n') || s.ends_with('\r') {
                    s.pop();
                }
                Ok(s)
            }
        }
    }
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The config file it was read from (absolute).
    pub path: PathBuf,
    /// Folder for the SQLite database (absolute).
    pub state_dir: PathBuf,
    pub timezone: jiff::tz::TimeZone,
    /// The zone as written ("UTC", "Europe/Berlin", "local").
    pub timezone_name: String,
    /// Folder with template overrides (absolute), if any.
    pub template_dir: Option<PathBuf>,
    pub fetch: FetchSettings,
    pub feeds: Vec<FeedSettings>,
    pub digests: Vec<DigestSettings>,
    pub smtp: Option<SmtpConfig>,
    /// `[sendmail]`: hand mail to a local sendmail-compatible command instead of SMTP.
    pub sendmail: Option<SendmailConfig>,
    /// The From address of email digests (`smtp.from` or `sendmail.from`), when either is set.
    pub email_from: Option<String>,
    /// A `tracing` filter ("info", "digestif=debug,warn").
    pub log_level: String,
}

impl Settings {
    /// The feed called `name`.
    pub fn feed(&self, name: &str) -> Option<&FeedSettings> {
        self.feeds.iter().find(|f| f.name == name)
    }

    /// The digest called `name`.
    pub fn digest(&self, name: &str) -> Option<&DigestSettings> {
        self.digests.iter().find(|d| d.name == name)
    }

    /// Path of the SQLite database inside `state_dir`.
    pub fn database_path(&self) -> PathBuf {
        self.state_dir.join("digestif.sqlite3")
    }
}

/// `[fetch]`: HTTP client limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchSettings {
    pub timeout: Duration,
    pub connect_timeout: Duration,
    /// Largest response body accepted, in bytes.
    pub max_body: u64,
    /// Feeds fetched at the same time.
    pub concurrency: usize,
    /// Requests in flight to one host.
    pub per_host: usize,
    pub user_agent: String,
}

impl Default for FetchSettings {
    fn default() -> Self {
        FetchSettings {
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            max_body: 10 * 1024 * 1024,
            concurrency: 8,
            per_host: 2,
            user_agent: default_user_agent(),
        }
    }
}

/// The default User-Agent: `digestif/<version>`.
pub fn default_user_agent() -> String {
    concat!(
        "digestif/",
        env!("CARGO_PKG_VERSION"),
        " (feed reader; +https://example.org/digestif)"
    )
    .to_string()
}

/// One `[[feed]]`.
#[derive(Debug, Clone)]
pub struct FeedSettings {
    pub name: String,
    /// Normalised: an http(s) URL or a `file://` URL (plain paths are converted).
    pub url: String,
    pub interval: Duration,
    pub tags: Vec<String>,
    /// Extra request headers, sorted by name.
    pub headers: Vec<(String, String)>,
    pub username: Option<String>,
    pub password: Option<Secret>,
    pub enabled: bool,
}

impl FeedSettings {
    /// True when the feed is a local file (`file://`).
    pub fn is_file(&self) -> bool {
        self.url.starts_with("file:")
    }
}

/// One `[[digest]]`.
#[derive(Debug, Clone)]
pub struct DigestSettings {
    /// Unique, filename-safe (`[A-Za-z0-9][A-Za-z0-9._-]*`).
    pub name: String,
    pub schedule: Schedule,
    /// The first digest takes items published within this window before it.
    pub window: Duration,
    /// A run missed by at most this much (downtime) is caught up at start.
    pub grace: Duration,
    /// Feed names (resolved from names and tags; config order), all feeds by default.
    pub feeds: Vec<String>,
    /// Case-insensitive, matched against title + text: keep items matching any (if non-empty).
    pub include: Vec<Regex>,
    /// Case-insensitive: drop items matching any.
    pub exclude: Vec<Regex>,
    pub max_per_feed: Option<usize>,
    /// minijinja template for the email subject (validated by the renderer).
    pub subject: Option<String>,
    pub send_empty: bool,
    /// Entity names whose stories are always shown first.
    pub follow: Vec<String>,
    pub outputs: Vec<OutputSettings>,
}

/// Output formats a file output can write.
pub const FORMATS: &[&str] = &["json", "html", "md", "txt"];

/// Where a digest goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutputSettings {
    /// Files `<dir>/<digest>-<date>.<fmt>`; formats from [`FORMATS`].
    File { dir: PathBuf, formats: Vec<String> },
    /// One email to these addresses (validated `addr@domain` or `Name <addr@domain>`).
    Email { to: Vec<String> },
}

/// Transport security for SMTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// Implicit TLS (usually port 465).
    Tls,
    /// STARTTLS upgrade, required (usually port 587).
    StartTls,
    /// Plain text (local relays only).
    None,
}

impl SmtpSecurity {
    pub fn as_str(self) -> &'static str {
        match self {
            SmtpSecurity::Tls => "tls",
            SmtpSecurity::StartTls => "starttls",
            SmtpSecurity::None => "none",
        }
    }
    fn default_port(self) -> u16 {
        match self {
            SmtpSecurity::Tls => 465,
            SmtpSecurity::StartTls => 587,
            SmtpSecurity::None => 25,
        }
    }
}

/// `[sendmail]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendmailConfig {
    /// The command (absolute, or a bare name looked up in `PATH`); default `/usr/sbin/sendmail`.
    pub command: PathBuf,
    /// The From address.
    pub from: String,
}

/// `[smtp]`.
#[derive(Debug, Clone)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    pub username: Option<String>,
    pub password: Option<Secret>,
    pub from: String,
    pub timeout: Duration,
}

// ---------------------------------------------------------------------------------------------
// Raw schema

#[derive(Debug, Deserialize)]
struct RawConfig {
    state_dir: Option<String>,
    timezone: Option<String>,
    template_dir: Option<String>,
    log_level: Option<String>,
    fetch: Option<RawFetch>,
    #[serde(default)]
    feed: Vec<RawFeed>,
    #[serde(default)]
    digest: Vec<RawDigest>,
    smtp: Option<RawSmtp>,
    sendmail: Option<RawSendmail>,
}

#[derive(Debug, Deserialize)]
struct RawFetch {
    timeout: Option<String>,
    connect_timeout: Option<String>,
    max_body: Option<SizeValue>,
    concurrency: Option<u32>,
    per_host: Option<u32>,
    user_agent: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum SizeValue {
    Bytes(u64),
    Text(String),
}

#[derive(Debug, Deserialize)]
struct RawFeed {
    name: String,
    url: String,
    interval: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    username: Option<String>,
    password: Option<String>,
    password_file: Option<String>,
    password_env: Option<String>,
    enabled: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Deserialize)]
struct RawDigest {
    name: String,
    at: Option<OneOrMany>,
    cron: Option<String>,
    window: Option<String>,
    grace: Option<String>,
    feeds: Option<Vec<String>>,
    #[serde(default)]
    include: Vec<String>,
    #[serde(default)]
    exclude: Vec<String>,
    max_per_feed: Option<u32>,
    subject: Option<String>,
    send_empty: Option<bool>,
    #[serde(default)]
    follow: Vec<String>,
    #[serde(default)]
    output: Vec<RawOutput>,
}

#[derive(Debug, Deserialize)]
struct RawOutput {
    kind: String,
    dir: Option<String>,
    formats: Option<Vec<String>>,
    to: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
struct RawSmtp {
    host: String,
    port: Option<u16>,
    security: Option<String>,
    username: Option<String>,
    password: Option<String>,
    password_file: Option<String>,
    password_env: Option<String>,
    from: String,
    timeout: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RawSendmail {
    command: Option<String>,
    from: String,
}

// Known keys per table, for the unknown-key check.
const ROOT_KEYS: &[&str] = &[
    "state_dir",
    "timezone",
    "template_dir",
    "log_level",
    "fetch",
    "feed",
    "digest",
    "smtp",
    "sendmail",
];
const FETCH_KEYS: &[&str] = &[
    "timeout",
    "connect_timeout",
    "max_body",
    "concurrency",
    "per_host",
    "user_agent",
];
const FEED_KEYS: &[&str] = &[
    "name",
    "url",
    "interval",
    "tags",
    "headers",
    "username",
    "password",
    "password_file",
    "password_env",
    "enabled",
];
const DIGEST_KEYS: &[&str] = &[
    "name",
    "at",
    "cron",
    "window",
    "grace",
    "feeds",
    "include",
    "exclude",
    "max_per_feed",
    "subject",
    "send_empty",
    "follow",
    "output",
];
const OUTPUT_FILE_KEYS: &[&str] = &["kind", "dir", "formats"];
const OUTPUT_EMAIL_KEYS: &[&str] = &["kind", "to"];
const OUTPUT_ANY_KEYS: &[&str] = &["kind", "dir", "formats", "to"];
const SMTP_KEYS: &[&str] = &[
    "host",
    "port",
    "security",
    "username",
    "password",
    "password_file",
    "password_env",
    "from",
    "timeout",
];
const SENDMAIL_KEYS: &[&str] = &["command", "from"];

const DEFAULT_STATE_DIR: &str = "/var/lib/digestif";

// ---------------------------------------------------------------------------------------------
// Entry points

/// Reads and validates the config file at `path`. Returns the settings and warnings (e.g. a
/// plain password in the file) that the caller should log.
pub fn load(path: &Path) -> Result<(Settings, Vec<String>), ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_str(&text, path)
}

/// Validates config `text` as if read from `path` (relative paths resolve against its folder).
pub fn parse_str(text: &str, path: &Path) -> Result<(Settings, Vec<String>), ConfigError> {
    let abs_path = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let base = abs_path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("/"));
    let mut cx = Cx {
        path: abs_path.clone(),
        shown: path.to_path_buf(),
        base,
        idx: SpanIndex::lines_only(text),
        warnings: Vec::new(),
    };

    // 1. syntax
    let doc = match DeTable::parse(text) {
        Ok(doc) => doc,
        Err(e) => {
            let (partial, _) = DeTable::parse_recoverable(text);
            let idx = SpanIndex::build(text, &partial);
            let (line, column) = e.span().map(|s| idx.line_col(s.start)).unwrap_or((1, 1));
            let key = idx
                .path_on_line(line)
                .or_else(|| key_from_text(text, line))
                .unwrap_or_else(|| "(syntax)".to_string());
            return Err(ConfigError::Invalid {
                path: cx.shown,
                line,
                column,
                key,
                message: format!("TOML syntax error: {}", e.message().trim()),
            });
        }
    };
    cx.idx = SpanIndex::build(text, &doc);

    // 2. unknown keys
    check_keys(&cx, doc.get_ref())?;

    // 3. types
    let de =
        toml::de::Deserializer::parse(text).map_err(|e| cx.err("(syntax)", e.message().trim()))?;
    let raw: RawConfig = serde_path_to_error::deserialize(de).map_err(|e| {
        let key = e.path().to_string();
        let key = if key == "." { String::new() } else { key };
        let mut message = e.inner().message().trim().to_string();
        if message.contains("did not match any variant") {
            message = match key.rsplit('.').next().unwrap_or("") {
                "max_body" => "expected an integer number of bytes or a size string like \"10MiB\""
                    .to_string(),
                _ => "expected a string or a list of strings".to_string(),
            };
        }
        cx.err(&key, &message)
    })?;

    // 4. values
    let settings = validate(&mut cx, raw)?;
    Ok((settings, cx.warnings))
}

// ---------------------------------------------------------------------------------------------
// Internals

struct Cx {
    /// Absolute config path (stored in Settings).
    path: PathBuf,
    /// The path as given (used in messages).
    shown: PathBuf,
    base: PathBuf,
    idx: SpanIndex,
    warnings: Vec<String>,
}

impl Cx {
    fn err(&self, key: &str, message: &str) -> ConfigError {
        let (line, column) = self.idx.position(key);
        self.err_at(key, line, column, message)
    }

    fn err_value(&self, key: &str, message: &str) -> ConfigError {
        let (line, column) = self.idx.value_position(key);
        self.err_at(key, line, column, message)
    }

    fn err_at(&self, key: &str, line: usize, column: usize, message: &str) -> ConfigError {
        let key = if key.is_empty() {
            "(root)".to_string()
        } else {
            key.to_string()
        };
        ConfigError::Invalid {
            path: self.shown.clone(),
            line,
            column,
            key,
            message: message.to_string(),
        }
    }

    fn warn(&mut self, key: &str, message: &str) {
        let (line, column) = self.idx.position(key);
        self.warnings.push(format!(
            "{}:{line}:{column}: {key}: {message}",
            self.shown.display()
        ));
    }

    fn resolve_path(&self, p: &str) -> PathBuf {
        let p = Path::new(p);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            normalize(&self.base.join(p))
        }
    }
}

/// Best-effort key path for a syntax error on `line` (1-based), read from the raw text: the
/// nearest `[table]` / `[[array]]` header above plus the `key =` on the line itself.
fn key_from_text(text: &str, line: usize) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    let this = lines.get(line.checked_sub(1)?)?.trim();
    let header_name = |l: &str| -> Option<String> {
        let l = l.trim();
        if !l.starts_with('[') {
            return None;
        }
        let inner = l.trim_start_matches('[');
        let end = inner.find(']').unwrap_or(inner.len());
        let name = inner[..end].trim();
        (!name.is_empty()).then(|| name.to_string())
    };
    if let Some(h) = header_name(this) {
        return Some(h);
    }
    let key = this.split('=').next()?.trim().trim_matches('"');
    if key.is_empty() || !this.contains('=') || key.contains(char::is_whitespace) {
        return None;
    }
    let table = lines[..line - 1].iter().rev().find_map(|l| header_name(l));
    Some(match table {
        Some(t) => format!("{t}.{key}"),
        None => key.to_string(),
    })
}

/// Removes `.` and `..` components lexically (no symlink resolution; the file may not exist).
fn normalize(p: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// The closest candidate to `word`, if it is close enough to be a likely typo.
pub(crate) fn suggest<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let w = word.to_lowercase();
    candidates
        .into_iter()
        .map(|c| {
            let c_low = c.to_lowercase();
            let jw = strsim::jaro_winkler(&w, &c_low);
            let dl = strsim::normalized_damerau_levenshtein(&w, &c_low);
            // close in either measure: typos (edit distance) or shared prefixes (Jaro-Winkler)
            let score = if jw >= 0.8 || dl >= 0.6 {
                jw.max(dl)
            } else {
                0.0
            };
            (score, c)
        })
        .filter(|(score, _)| *score > 0.0)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

fn unknown_key(cx: &Cx, table_path: &str, key: &str, allowed: &[&str]) -> ConfigError {
    let place = if table_path.is_empty() {
        "the top level".to_string()
    } else {
        table_path.to_string()
    };
    let mut msg = format!("unknown key `{key}` in {place}");
    match suggest(key, allowed.iter().copied()) {
        Some(s) => msg.push_str(&format!(", did you mean `{s}`?")),
        None => msg.push_str(&format!(" (known keys: {})", allowed.join(", "))),
    }
    cx.err(&join(table_path, key), &msg)
}

fn check_table(cx: &Cx, path: &str, t: &DeTable<'_>, allowed: &[&str]) -> Result<(), ConfigError> {
    for (k, _) in t.iter() {
        if !allowed.contains(&k.get_ref().as_ref()) {
            return Err(unknown_key(cx, path, k.get_ref(), allowed));
        }
    }
    Ok(())
}

fn tables<'a, 'i>(v: &'a DeValue<'i>) -> Vec<&'a DeTable<'i>> {
    match v {
        DeValue::Array(items) => items
            .iter()
            .filter_map(|i| i.get_ref().as_table())
            .collect(),
        _ => Vec::new(),
    }
}

fn check_keys(cx: &Cx, root: &DeTable<'_>) -> Result<(), ConfigError> {
    check_table(cx, "", root, ROOT_KEYS)?;
    for (k, v) in root.iter() {
        let key: &str = k.get_ref();
        match (key, v.get_ref()) {
            ("fetch", DeValue::Table(t)) => check_table(cx, "fetch", t, FETCH_KEYS)?,
            ("smtp", DeValue::Table(t)) => check_table(cx, "smtp", t, SMTP_KEYS)?,
            ("sendmail", DeValue::Table(t)) => check_table(cx, "sendmail", t, SENDMAIL_KEYS)?,
            ("feed", v) => {
                for (i, t) in tables(v).into_iter().enumerate() {
                    check_table(cx, &format!("feed[{i}]"), t, FEED_KEYS)?;
                }
            }
            ("digest", v) => {
                for (i, t) in tables(v).into_iter().enumerate() {
                    let dpath = format!("digest[{i}]");
                    check_table(cx, &dpath, t, DIGEST_KEYS)?;
                    if let Some(outs) = t.get("output") {
                        for (j, o) in tables(outs.get_ref()).into_iter().enumerate() {
                            let allowed = match o.get("kind").and_then(|k| k.get_ref().as_str()) {
                                Some("file") => OUTPUT_FILE_KEYS,
                                Some("email") => OUTPUT_EMAIL_KEYS,
                                _ => OUTPUT_ANY_KEYS,
                            };
                            check_table(cx, &format!("{dpath}.output[{j}]"), o, allowed)?;
                        }
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}

fn duration(
    cx: &Cx,
    key: &str,
    v: Option<&str>,
    default: Duration,
) -> Result<Duration, ConfigError> {
    match v {
        None => Ok(default),
        Some(s) => schedule::parse_duration(s).map_err(|m| cx.err(key, &m)),
    }
}

fn secret(
    cx: &mut Cx,
    table: &str,
    plain: Option<String>,
    file: Option<String>,
    env: Option<String>,
) -> Result<Option<Secret>, ConfigError> {
    let given = [plain.is_some(), file.is_some(), env.is_some()]
        .iter()
        .filter(|b| **b)
        .count();
    if given > 1 {
        let key = if file.is_some() {
            "password_file"
        } else {
            "password_env"
        };
        return Err(cx.err(
            &join(table, key),
            "set only one of `password`, `password_file` and `password_env`",
        ));
    }
    if let Some(p) = plain {
        cx.warn(
            &join(table, "password"),
            "plain password in the config file; prefer `password_file` (e.g. a systemd credential) or `password_env`",
        );
        return Ok(Some(Secret::Plain(p)));
    }
    if let Some(f) = file {
        if f.trim().is_empty() {
            return Err(cx.err(&join(table, "password_file"), "empty path"));
        }
        if f.starts_with(CREDENTIALS_PREFIX) {
            return Ok(Some(Secret::File(PathBuf::from(f))));
        }
        return Ok(Some(Secret::File(cx.resolve_path(&f))));
    }
    if let Some(e) = env {
        if e.is_empty() || e.contains('=') || e.contains('\0') {
            return Err(cx.err(
                &join(table, "password_env"),
                &format!("invalid environment variable name {e:?}"),
            ));
        }
        return Ok(Some(Secret::Env(e)));
    }
    Ok(None)
}

/// Checks `addr@domain` or `Display Name <addr@domain>`.
pub fn valid_mailbox(s: &str) -> bool {
    let s = s.trim();
    let addr = match (s.find('<'), s.ends_with('>')) {
        (Some(i), true) => &s[i + 1..s.len() - 1],
        (None, false) => s,
        _ => return false,
    };
    let Some(at) = addr.rfind('@') else {
        return false;
    };
    let (local, domain) = (&addr[..at], &addr[at + 1..]);
    !local.is_empty()
        && !domain.is_empty()
        && !local
            .chars()
            .any(|c| c.is_whitespace() || "<>,;\"".contains(c))
        && domain
            .chars()
            .all(|c| c.is_alphanumeric() || "-.[]:".contains(c))
        && !domain.starts_with('.')
        && !domain.ends_with('.')
}

fn feed_url(cx: &Cx, key: &str, raw: &str) -> Result<String, ConfigError> {
    let s = raw.trim();
    if s.is_empty() {
        return Err(cx.err(key, "empty URL"));
    }
    let lower = s.to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        let u = url::Url::parse(s).map_err(|e| cx.err(key, &format!("invalid URL {s:?}: {e}")))?;
        if u.host_str().is_none_or(str::is_empty) {
            return Err(cx.err(key, &format!("invalid URL {s:?}: no host")));
        }
        return Ok(u.to_string());
    }
    if lower.starts_with("file:") {
        let u = url::Url::parse(s).map_err(|e| cx.err(key, &format!("invalid URL {s:?}: {e}")))?;
        if u.to_file_path().is_err() {
            return Err(cx.err(key, &format!("invalid file URL {s:?}")));
        }
        return Ok(u.to_string());
    }
    if let Some(i) = s.find("://") {
        return Err(cx.err(
            key,
            &format!("unsupported URL scheme `{}` in {s:?} (use http://, https://, file:// or a file path)", &s[..i]),
        ));
    }
    let path = cx.resolve_path(s);
    url::Url::from_file_path(&path)
        .map(|u| u.to_string())
        .map_err(|_| {
            cx.err(
                key,
                &format!("cannot turn path {} into a file URL", path.display()),
            )
        })
}

fn valid_log_level(s: &str) -> bool {
    const LEVELS: &[&str] = &["trace", "debug", "info", "warn", "error", "off"];
    let is_level = |l: &str| LEVELS.contains(&l.trim().to_ascii_lowercase().as_str());
    let is_target = |t: &str| {
        !t.is_empty()
            && t.chars()
                .all(|c| c.is_ascii_alphanumeric() || "_:-".contains(c))
    };
    let s = s.trim();
    if !s.contains('=') && !s.contains(',') {
        return is_level(s);
    }
    s.split(',').all(|d| match d.trim().rsplit_once('=') {
        Some((t, l)) => is_target(t.trim()) && is_level(l),
        None => is_level(d) || is_target(d.trim()),
    })
}

fn filename_safe(s: &str) -> bool {
    let mut chars = s.chars();
    s.len() <= 64
        && chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
}

fn regexes(cx: &Cx, key: &str, pats: &[String]) -> Result<Vec<Regex>, ConfigError> {
    let mut out = Vec::new();
    for (i, p) in pats.iter().enumerate() {
        let k = format!("{key}[{i}]");
        let re = RegexBuilder::new(p)
            .case_insensitive(true)
            .size_limit(1 << 22)
            .build()
            .map_err(|e| {
                let first = e
                    .to_string()
                    .lines()
                    .last()
                    .unwrap_or("")
                    .trim()
                    .to_string();
                cx.err_value(&k, &format!("invalid regex {p:?}: {first}"))
            })?;
        out.push(re);
    }
    Ok(out)
}

fn validate(cx: &mut Cx, raw: RawConfig) -> Result<Settings, ConfigError> {
    // top level
    let state_dir = match &raw.state_dir {
        Some(s) if s.trim().is_empty() => return Err(cx.err("state_dir", "empty path")),
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
    let timezone = if timezone_name.eq_ignore_ascii_case("utc") {
        jiff::tz::TimeZone::UTC
    } else if timezone_name == "local" {
        jiff::tz::TimeZone::try_system().map_err(|e| {
            cx.err(
                "timezone",
                &format!("cannot determine the system time zone: {e}"),
            )
        })?
    } else {
        jiff::tz::TimeZone::get(&timezone_name).map_err(|_| {
            cx.err(
                "timezone",
                &format!("unknown time zone {timezone_name:?} (use an IANA name such as \"Europe/Berlin\", \"UTC\" or \"local\")"),
            )
        })?
    };
    let template_dir = match &raw.template_dir {
        Some(s) if s.trim().is_empty() => return Err(cx.err("template_dir", "empty path")),
        Some(s) => Some(cx.resolve_path(s)),
        None => None,
    };
    let log_level = raw.log_level.clone().unwrap_or_else(|| "info".to_string());
    if !valid_log_level(&log_level) {
        return Err(cx.err(
            "log_level",
            &format!(
                "invalid log level {log_level:?} (trace, debug, info, warn, error, off, or a filter like \"digestif=debug,warn\")"
            ),
        ));
    }

    // [fetch]
    let mut fetch = FetchSettings::default();
    if let Some(f) = &raw.fetch {
        fetch.timeout = duration(cx, "fetch.timeout", f.timeout.as_deref(), fetch.timeout)?;
        fetch.connect_timeout = duration(
            cx,
            "fetch.connect_timeout",
            f.connect_timeout.as_deref(),
            fetch.connect_timeout,
        )?;
        if fetch.timeout.is_zero() {
            return Err(cx.err("fetch.timeout", "must be more than 0"));
        }
        if fetch.connect_timeout.is_zero() {
            return Err(cx.err("fetch.connect_timeout", "must be more than 0"));
        }
        match &f.max_body {
            None => {}
            Some(SizeValue::Bytes(n)) => fetch.max_body = *n,
            Some(SizeValue::Text(s)) => {
                fetch.max_body =
                    schedule::parse_size(s).map_err(|m| cx.err("fetch.max_body", &m))?
            }
        }
        if fetch.max_body < 1024 {
            return Err(cx.err("fetch.max_body", "must be at least 1KiB"));
        }
        if let Some(n) = f.concurrency {
            if n == 0 {
                return Err(cx.err("fetch.concurrency", "must be at least 1"));
            }
            fetch.concurrency = n as usize;
        }
        if let Some(n) = f.per_host {
            if n == 0 {
                return Err(cx.err("fetch.per_host", "must be at least 1"));
            }
            fetch.per_host = n as usize;
        }
        if let Some(ua) = &f.user_agent {
            if ua.trim().is_empty() || ua.chars().any(|c| c.is_control()) {
                return Err(cx.err("fetch.user_agent", "must be non-empty printable text"));
            }
            fetch.user_agent = ua.clone();
        }
    }

    // [[feed]]
    let mut feeds = Vec::new();
    let mut seen_names: HashSet<String> = HashSet::new();
    for (i, f) in raw.feed.into_iter().enumerate() {
        let p = format!("feed[{i}]");
        let name = f.name.trim().to_string();
        if name.is_empty() {
            return Err(cx.err(&format!("{p}.name"), "empty feed name"));
        }
        if !seen_names.insert(name.to_lowercase()) {
            return Err(cx.err(
                &format!("{p}.name"),
                &format!("duplicate feed name {name:?} (feed names must be unique)"),
            ));
        }
        let url = feed_url(cx, &format!("{p}.url"), &f.url)?;
        let interval = duration(
            cx,
            &format!("{p}.interval"),
            f.interval.as_deref(),
            Duration::from_secs(3600),
        )?;
        if interval < Duration::from_secs(60) {
            return Err(cx.err(&format!("{p}.interval"), "must be at least 1m"));
        }
        for (j, t) in f.tags.iter().enumerate() {
            if t.trim().is_empty() {
                return Err(cx.err_value(&format!("{p}.tags[{j}]"), "empty tag"));
            }
        }
        let mut headers = Vec::new();
        for (k, v) in &f.headers {
            let hk = format!("{p}.headers.{k}");
            if k.is_empty()
                || !k
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
            {
                return Err(cx.err(&hk, &format!("invalid header name {k:?}")));
            }
            if v.chars().any(|c| c == '\r' || c == '\n' || c == '\0') {
                return Err(cx.err(&hk, "header value must not contain line breaks"));
            }
            headers.push((k.clone(), v.clone()));
        }
        let password = secret(cx, &p, f.password, f.password_file, f.password_env)?;
        if password.is_some() && f.username.is_none() {
            return Err(cx.err(
                &format!("{p}.username"),
                "a password is set but `username` is missing",
            ));
        }
        feeds.push(FeedSettings {
            name,
            url,
            interval,
            tags: f.tags.iter().map(|t| t.trim().to_string()).collect(),
            headers,
            username: f.username,
            password,
            enabled: f.enabled.unwrap_or(true),
        });
    }

    // [smtp] / [sendmail]
    let smtp = match raw.smtp {
        None => None,
        Some(s) => {
            if s.host.trim().is_empty() {
                return Err(cx.err("smtp.host", "empty host"));
            }
            let security = match s.security.as_deref().unwrap_or("starttls") {
                "tls" => SmtpSecurity::Tls,
                "starttls" => SmtpSecurity::StartTls,
                "none" => SmtpSecurity::None,
                other => {
                    return Err(cx.err(
                        "smtp.security",
                        &format!(
                            "invalid value {other:?} (expected \"tls\", \"starttls\" or \"none\")"
                        ),
                    ));
                }
            };
            let port = s.port.unwrap_or(security.default_port());
            if port == 0 {
                return Err(cx.err("smtp.port", "port must be 1-65535"));
            }
            if !valid_mailbox(&s.from) {
                return Err(cx.err("smtp.from", &format!("invalid address {:?}", s.from)));
            }
            let password = secret(cx, "smtp", s.password, s.password_file, s.password_env)?;
            if password.is_some() && s.username.is_none() {
                return Err(cx.err(
                    "smtp.username",
                    "a password is set but `username` is missing",
                ));
            }
            let timeout = duration(
                cx,
                "smtp.timeout",
                s.timeout.as_deref(),
                Duration::from_secs(30),
            )?;
            Some(SmtpConfig {
                host: s.host.trim().to_string(),
                port,
                security,
                username: s.username,
                password,
                from: s.from,
                timeout,
            })
        }
    };
    let mut email_from = smtp.as_ref().map(|s| s.from.clone());
    let sendmail = match raw.sendmail {
        None => None,
        Some(sm) => {
            if smtp.is_some() {
                return Err(cx.err(
                    "sendmail",
                    "configure either [smtp] or [sendmail], not both",
                ));
            }
            if !valid_mailbox(&sm.from) {
                return Err(cx.err("sendmail.from", &format!("invalid address {:?}", sm.from)));
            }
            email_from = Some(sm.from.clone());
            let cmd = sm
                .command
                .unwrap_or_else(|| "/usr/sbin/sendmail".to_string());
            if cmd.trim().is_empty() {
                return Err(cx.err("sendmail.command", "empty command"));
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
    };

    // [[digest]]
    let mut digests = Vec::new();
    let mut digest_names = HashSet::new();
    for (i, d) in raw.digest.into_iter().enumerate() {
        let p = format!("digest[{i}]");
        let k = |s: &str| format!("{p}.{s}");
        if !filename_safe(&d.name) {
            return Err(cx.err(
                &k("name"),
                &format!("invalid digest name {:?} (letters, digits, '.', '_', '-'; starting with a letter or digit; at most 64)", d.name),
            ));
        }
        if !digest_names.insert(d.name.to_lowercase()) {
            return Err(cx.err(&k("name"), &format!("duplicate digest name {:?}", d.name)));
        }
        let schedule = match (&d.at, &d.cron) {
            (Some(_), Some(_)) => {
                return Err(cx.err(&k("cron"), "set either `at` or `cron`, not both"));
            }
            (None, None) => {
                return Err(cx.err(
                    &p,
                    "missing schedule: set `at = \"07:00\"` or `cron = \"0 7 * * 1-5\"`",
                ));
            }
            (None, Some(c)) => Schedule::parse_cron(c).map_err(|m| cx.err(&k("cron"), &m))?,
            (Some(OneOrMany::One(s)), None) => {
                Schedule::parse_at(s).map_err(|m| cx.err(&k("at"), &m))?
            }
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
                Schedule::from_times(times)
            }
        };
        let window = duration(
            cx,
            &k("window"),
            d.window.as_deref(),
            Duration::from_secs(24 * 3600),
        )?;
        if window.is_zero() {
            return Err(cx.err(&k("window"), "must be more than 0"));
        }
        let grace = duration(
            cx,
            &k("grace"),
            d.grace.as_deref(),
            Duration::from_secs(6 * 3600),
        )?;
        let feed_names: Vec<String> = match &d.feeds {
            None => feeds.iter().map(|f| f.name.clone()).collect(),
            Some(sel) => {
                let mut wanted = HashSet::new();
                for (j, s) in sel.iter().enumerate() {
                    let matched: Vec<&FeedSettings> = feeds
                        .iter()
                        .filter(|f| f.name == *s || f.tags.iter().any(|t| t == s))
                        .collect();
                    if matched.is_empty() {
                        let mut msg = format!("no feed or tag named {s:?}");
                        let cands = feeds
                            .iter()
                            .map(|f| f.name.as_str())
                            .chain(feeds.iter().flat_map(|f| f.tags.iter().map(String::as_str)));
                        if let Some(best) = suggest(s, cands) {
                            msg.push_str(&format!(", did you mean {best:?}?"));
                        }
                        return Err(cx.err_value(&format!("{p}.feeds[{j}]"), &msg));
                    }
                    wanted.extend(matched.into_iter().map(|f| f.name.clone()));
                }
                feeds
                    .iter()
                    .filter(|f| wanted.contains(&f.name))
                    .map(|f| f.name.clone())
                    .collect()
            }
        };
        let include = regexes(cx, &k("include"), &d.include)?;
        let exclude = regexes(cx, &k("exclude"), &d.exclude)?;
        let max_per_feed = match d.max_per_feed {
            Some(0) => return Err(cx.err(&k("max_per_feed"), "must be at least 1")),
            n => n.map(|n| n as usize),
        };
        let mut outputs = Vec::new();
        for (j, o) in d.output.into_iter().enumerate() {
            let op = format!("{p}.output[{j}]");
            match o.kind.as_str() {
                "file" => {
                    let Some(dir) = o.dir.filter(|d| !d.trim().is_empty()) else {
                        return Err(cx.err(&op, "file output needs `dir`"));
                    };
                    let formats = o
                        .formats
                        .unwrap_or_else(|| FORMATS.iter().map(|s| s.to_string()).collect());
                    if formats.is_empty() {
                        return Err(cx.err(&format!("{op}.formats"), "empty list of formats"));
                    }
                    let mut fs: Vec<String> = Vec::new();
                    for (n, f) in formats.iter().enumerate() {
                        let f = f.to_ascii_lowercase();
                        if !FORMATS.contains(&f.as_str()) {
                            let mut msg = format!(
                                "unknown format {f:?} (expected one of json, html, md, txt)"
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
                    outputs.push(OutputSettings::File {
                        dir: cx.resolve_path(&dir),
                        formats: fs,
                    });
                }
                "email" => {
                    let to = o.to.unwrap_or_default();
                    if to.is_empty() {
                        return Err(cx.err(&op, "email output needs `to` (a list of addresses)"));
                    }
                    for (n, a) in to.iter().enumerate() {
                        if !valid_mailbox(a) {
                            return Err(cx.err_value(
                                &format!("{op}.to[{n}]"),
                                &format!("invalid address {a:?}"),
                            ));
                        }
                    }
                    if smtp.is_none() && sendmail.is_none() {
                        return Err(cx.err(
                            &format!("{op}.kind"),
                            "email output needs a mail transport: add an [smtp] or a [sendmail] section",
                        ));
                    }
                    outputs.push(OutputSettings::Email {
                        to: to.iter().map(|a| a.trim().to_string()).collect(),
                    });
                }
                other => {
                    let mut msg =
                        format!("unknown output kind {other:?} (expected \"file\" or \"email\")");
                    if let Some(s) = suggest(other, ["file", "email"]) {
                        msg = format!("unknown output kind {other:?}, did you mean {s:?}?");
                    }
                    return Err(cx.err(&format!("{op}.kind"), &msg));
                }
            }
        }
        if outputs.is_empty() {
            cx.warn(
                &p,
                "digest has no [[digest.output]]; it can only be built on demand",
            );
        }
        digests.push(DigestSettings {
            name: d.name,
            schedule,
            window,
            grace,
            feeds: feed_names,
            include,
            exclude,
            max_per_feed,
            subject: d.subject,
            send_empty: d.send_empty.unwrap_or(false),
            follow: d
                .follow
                .into_iter()
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect(),
            outputs,
        });
    }

    Ok(Settings {
        path: cx.path.clone(),
        state_dir,
        timezone,
        timezone_name,
        template_dir,
        fetch,
        feeds,
        digests,
        smtp,
        sendmail,
        email_from,
        log_level,
    })
}
