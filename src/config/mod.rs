//! The configuration file: the raw TOML schema (serde structs), the check for unknown keys (with
//! "did you mean" suggestions), and validation into typed [`Settings`] (durations, time zone,
//! schedules, regexes, absolute paths, normalised feed URLs). Every error names the file, line,
//! column and key path: `/etc/digestif/config.toml:12:1: feed[1].interval: invalid duration …`.
//!
//! Key paths use 0-based indexes for arrays of tables (`feed[0]` is the first `[[feed]]`).
//! Relative paths (`state_dir`, `template_dir`, output `dir`, `password_file`, feed file paths,
//! the sendmail command if it contains a `/`) resolve against the config file's folder.

mod cx;
mod raw;
mod spans;
mod validate;

use std::path::{Path, PathBuf};
use std::time::Duration;

use regex::Regex;
use toml::de::DeTable;

use crate::schedule::Schedule;
use cx::{Cx, key_from_text};
use raw::{RawConfig, RawDigest, RawFeed, Unknown, unknown_name};
use spans::{SpanIndex, join};

pub use cx::valid_mailbox;

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
    /// Every error of a file, in file order (each an [`ConfigError::Invalid`]).
    #[error("{} errors:\n{}", errors.len(), errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Several { errors: Vec<ConfigError> },
}

impl ConfigError {
    /// The single errors: itself, or each of [`ConfigError::Several`].
    pub fn each(&self) -> Vec<&ConfigError> {
        match self {
            ConfigError::Several { errors } => errors.iter().collect(),
            e => vec![e],
        }
    }
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
    /// Articles first seen, digests built and stories last seen longer ago than this are
    /// removed (zero: keep everything).
    pub retention: Duration,
    /// `metrics_file`: where the Prometheus textfile is rewritten after each round (absolute).
    pub metrics_file: Option<PathBuf>,
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
    /// Follow redirects from a public address to a loopback, link-local or private one.
    pub allow_private_redirects: bool,
}

impl Default for FetchSettings {
    /// The fetcher's own defaults ([`crate::fetch::FetchOptions`]), so each is defined once.
    fn default() -> Self {
        let o = crate::fetch::FetchOptions::default();
        FetchSettings {
            timeout: o.timeout,
            connect_timeout: o.connect_timeout,
            max_body: o.max_body_bytes,
            concurrency: o.concurrency,
            per_host: o.per_host,
            user_agent: o.user_agent,
            allow_private_redirects: o.allow_private_redirects,
        }
    }
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
    /// Items read from one fetch, the newest first (default [`crate::feed::DEFAULT_MAX_ITEMS`]).
    pub max_items: usize,
}

impl FeedSettings {
    /// True when the feed is a local file (`file://`).
    pub fn is_file(&self) -> bool {
        self.url.starts_with("file:")
    }

    /// The local path of a `file://` feed.
    pub fn file_path(&self) -> Option<PathBuf> {
        if !self.is_file() {
            return None;
        }
        url::Url::parse(&self.url).ok()?.to_file_path().ok()
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
    /// Reports one build reads, the newest first ([`DEFAULT_DIGEST_MAX_ITEMS`]); the rest are
    /// counted in the digest, not rendered.
    pub max_items: usize,
    /// Stories one build shows, the highest ranked ([`DEFAULT_MAX_STORIES`]); the rest are
    /// counted in the digest, not rendered.
    pub max_stories: usize,
    /// minijinja template for the email subject (validated by the renderer).
    pub subject: Option<String>,
    /// minijinja template for the heading of every edition (default "<name> — <date>").
    pub title: Option<String>,
    /// minijinja template of an http(s) URL where the full digest is (footer, List-Archive,
    /// Atom link).
    pub link: Option<String>,
    /// Largest HTML part of the email edition, in bytes.
    pub email_budget: u64,
    /// `mailto:` URI for the `List-Unsubscribe` header.
    pub unsubscribe: Option<String>,
    pub send_empty: bool,
    /// Entity names whose stories are always shown first.
    pub follow: Vec<String>,
    pub outputs: Vec<OutputSettings>,
}

/// Output formats a file output can write: one file per digest each (`json` … `txt`), and
/// `atom`, one feed of the digest's last builds.
pub const FORMATS: &[&str] = &["json", "html", "md", "txt", "atom"];

/// The formats of a file output that sets no `formats`: one file of each kind per digest.
pub const DEFAULT_FORMATS: &[&str] = &["json", "html", "md", "txt"];

/// Where a digest goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutputSettings {
    /// Files `<dir>/<digest>-<date>.<fmt>` (and `<dir>/<digest>.atom`); formats from [`FORMATS`].
    File { dir: PathBuf, formats: Vec<String> },
    /// One email to these addresses (validated `addr@domain` or `Name <addr@domain>`).
    Email { to: Vec<String> },
}

/// Transport security for SMTP: the delivery module's own type, so the modes, their names and
/// default ports are defined once.
pub use crate::deliver::Security as SmtpSecurity;

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
// Entry points

/// Validated settings and the warnings to log.
pub type Loaded = (Settings, Vec<String>);

/// `retention` when the config does not say: a year of articles, digests and stories.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(365 * 86_400);

/// A digest's `max_items` when the config does not say: reports one build reads.
pub const DEFAULT_DIGEST_MAX_ITEMS: usize = 10_000;

/// A digest's `max_stories` when the config does not say: stories one build shows.
pub const DEFAULT_MAX_STORIES: usize = 1_000;

/// The largest config file read: a real one is a few KiB (2,000 feeds take about 300 KiB).
pub const MAX_CONFIG_BYTES: u64 = 4 << 20;

/// Reads at most `max` bytes of the file at `path`. A longer file, or an endless one such as
/// `/dev/zero`, is an error naming the limit as soon as `max + 1` bytes were read, never a process
/// that fills its memory.
pub fn read_capped(path: &Path, max: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(max.saturating_add(1))
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(std::io::Error::new(
            std::io::ErrorKind::FileTooLarge,
            format!(
                "larger than {} KiB, the most digestif reads from such a file",
                max / 1024
            ),
        ));
    }
    Ok(bytes)
}

/// Reads and validates the config file at `path`. Returns the settings and warnings (e.g. a
/// plain password in the file) that the caller should log.
pub fn load(path: &Path) -> Result<(Settings, Vec<String>), ConfigError> {
    let text = read(path)?;
    parse_str(&text, path)
}

/// What `check-config` checks: [`load`], and also that the config has a feed and a digest and
/// that every local feed file exists. Every error of the file is reported, not only the first.
pub fn check(path: &Path) -> Result<(Settings, Vec<String>), ConfigError> {
    let text = read(path)?;
    parse(&text, path, true)
}

/// The config text, at most [`MAX_CONFIG_BYTES`].
fn read(path: &Path) -> Result<String, ConfigError> {
    let io = |source| ConfigError::Io {
        path: path.to_path_buf(),
        source,
    };
    let bytes = read_capped(path, MAX_CONFIG_BYTES).map_err(io)?;
    String::from_utf8(bytes).map_err(|e| {
        io(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("not UTF-8 text ({e})"),
        ))
    })
}

/// Validates config `text` as if read from `path` (relative paths resolve against its folder), in
/// three steps: syntax, keys and types (the serde schema), values.
pub fn parse_str(text: &str, path: &Path) -> Result<(Settings, Vec<String>), ConfigError> {
    parse(text, path, false)
}

/// [`check`] on config `text` as if read from `path`.
pub fn check_str(text: &str, path: &Path) -> Result<(Settings, Vec<String>), ConfigError> {
    parse(text, path, true)
}

fn parse(text: &str, path: &Path, complete: bool) -> Result<(Settings, Vec<String>), ConfigError> {
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
        errors: Vec::new(),
        complete,
        loose_names: Vec::new(),
    };
    // 1. syntax
    let doc = DeTable::parse(text).map_err(|e| syntax_error(text, &cx, &e))?;
    cx.idx = SpanIndex::build(text, &doc);
    // 2. keys and types
    let raw = deserialize(&mut cx, text);
    // 3. values (of what the schema let through, so all errors are found in one pass)
    let settings = raw.map(|raw| validate::validate(&mut cx, raw));
    cx.finish()?;
    match settings {
        Some(s) => Ok((s, cx.warnings)),
        None => Err(cx.err("", "invalid config")),
    }
}

/// A TOML syntax error, placed at the key path of its line when one can be told.
fn syntax_error(text: &str, cx: &Cx, e: &toml::de::Error) -> ConfigError {
    let (partial, _) = DeTable::parse_recoverable(text);
    let idx = SpanIndex::build(text, &partial);
    let (line, column) = e.span().map(|s| idx.line_col(s.start)).unwrap_or((1, 1));
    let key = idx
        .path_on_line(line)
        .or_else(|| key_from_text(text, line))
        .unwrap_or_else(|| "(syntax)".to_string());
    ConfigError::Invalid {
        path: cx.shown.clone(),
        line,
        column,
        key,
        message: format!("TOML syntax error: {}", e.message().trim()),
    }
}

/// The raw schema, with unknown keys (and a "did you mean") and type errors placed at their key
/// path. Each `[[feed]]` and `[[digest]]` is read on its own, so an error in one does not hide
/// those of the others; the names and tags of feeds that did not pass are kept in
/// `cx.loose_names` so digests that select them are not reported too.
fn deserialize(cx: &mut Cx, text: &str) -> Option<RawConfig> {
    let mut table: toml::Table = match toml::from_str(text) {
        Ok(t) => t,
        Err(e) => {
            let e = cx.err("(syntax)", e.message().trim());
            cx.push(e);
            return None;
        }
    };
    let feeds = table.remove("feed");
    let digests = table.remove("digest");
    let feed = elements::<RawFeed>(cx, "feed", feeds, true);
    let digest = elements::<RawDigest>(cx, "digest", digests, false);
    let mut raw: RawConfig = schema(cx, "", toml::Value::Table(table))?;
    raw.feed = feed;
    raw.digest = digest;
    Some(raw)
}

/// The elements of the array of tables `name` that pass the schema.
fn elements<T: serde::de::DeserializeOwned>(
    cx: &mut Cx,
    name: &str,
    value: Option<toml::Value>,
    keep_names: bool,
) -> Vec<T> {
    let items = match value {
        None => return Vec::new(),
        Some(toml::Value::Array(items)) => items,
        Some(other) => return schema::<Vec<T>>(cx, name, other).unwrap_or_default(),
    };
    let mut out = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        let loose = if keep_names {
            names_and_tags(&item)
        } else {
            Vec::new()
        };
        match schema::<T>(cx, &format!("{name}[{i}]"), item) {
            Some(t) => out.push(t),
            None => cx.loose_names.extend(loose),
        }
    }
    out
}

/// The `name` and `tags` strings of a table, whatever else is wrong with it.
fn names_and_tags(item: &toml::Value) -> Vec<String> {
    let name = item.get("name").and_then(toml::Value::as_str);
    let tags = item.get("tags").and_then(toml::Value::as_array);
    let tags = tags.into_iter().flatten().filter_map(toml::Value::as_str);
    name.into_iter().chain(tags).map(str::to_string).collect()
}

/// `value` read as a `T`, the table at key path `prefix`; `None` with the error recorded.
fn schema<T: serde::de::DeserializeOwned>(
    cx: &mut Cx,
    prefix: &str,
    value: toml::Value,
) -> Option<T> {
    let r = serde_path_to_error::deserialize(value).map_err(|e| {
        let rel = e.path().to_string();
        let key = match rel.as_str() {
            "." => prefix.to_string(),
            r if r.starts_with('[') || prefix.is_empty() => format!("{prefix}{r}"),
            r => join(prefix, r),
        };
        schema_error(cx, &key, e.inner().message().trim())
    });
    cx.check(r)
}

/// A serde error at `key`: unknown key or value with a suggestion, or a clearer type message.
fn schema_error(cx: &Cx, key: &str, message: &str) -> ConfigError {
    match unknown_name(message) {
        Some(Unknown::Key { name, known }) => return unknown_key(cx, key, &name, &known),
        Some(Unknown::Value { name, known }) => return unknown_value(cx, key, &name, &known),
        None => {}
    }
    let mut message = message.to_string();
    if message.contains("did not match any variant") {
        message = match key.rsplit('.').next().unwrap_or("") {
            "max_body" | "email_budget" => {
                "expected an integer number of bytes or a size string like \"10MiB\"".to_string()
            }
            _ => "expected a string or a list of strings".to_string(),
        };
    }
    cx.err(key, &message)
}

/// An unknown key `key` in the table at `table_path`, with the closest known key if one is close.
fn unknown_key(cx: &Cx, table_path: &str, key: &str, known: &[String]) -> ConfigError {
    // serde reports the path of the table; should it already end at the key, step back.
    let table_path = if cx.idx.has(&join(table_path, key)) {
        table_path
    } else {
        table_path
            .strip_suffix(key)
            .map(|p| p.strip_suffix('.').unwrap_or(p))
            .unwrap_or(table_path)
    };
    let place = if table_path.is_empty() {
        "the top level".to_string()
    } else {
        table_path.to_string()
    };
    let mut msg = format!("unknown key `{key}` in {place}");
    match cx::suggest(key, known.iter().map(String::as_str)) {
        Some(s) => msg.push_str(&format!(", did you mean `{s}`?")),
        None => msg.push_str(&format!(" (known keys: {})", known.join(", "))),
    }
    cx.err(&join(table_path, key), &msg)
}

/// An unknown value `value` of the enum at `key` (`kind = "fiel"`), with the closest known one.
fn unknown_value(cx: &Cx, key: &str, value: &str, known: &[String]) -> ConfigError {
    let what = key.rsplit('.').next().unwrap_or(key);
    let quoted: Vec<String> = known.iter().map(|k| format!("{k:?}")).collect();
    let msg = match cx::suggest(value, known.iter().map(String::as_str)) {
        Some(s) => format!("unknown {what} {value:?}, did you mean {s:?}?"),
        None => format!(
            "unknown {what} {value:?} (expected {})",
            quoted.join(" or ")
        ),
    };
    cx.err(key, &msg)
}
