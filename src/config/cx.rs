//! The validation context ([`Cx`]: error positions, warnings, relative paths) and the value checks
//! the per-table validators share: durations, secrets, addresses, feed URLs, log filters, names,
//! regexes and "did you mean" suggestions.

use std::path::{Path, PathBuf};
use std::time::Duration;

use regex::{Regex, RegexBuilder};

use super::spans::{SpanIndex, join};
use super::{CREDENTIALS_PREFIX, ConfigError, Secret};
use crate::schedule;

/// The validation context: where the config came from (for messages and relative paths), the
/// key → position index, and the warnings gathered so far.
pub(super) struct Cx {
    /// Absolute config path (stored in Settings).
    pub(super) path: PathBuf,
    /// The path as given (used in messages).
    pub(super) shown: PathBuf,
    pub(super) base: PathBuf,
    pub(super) idx: SpanIndex,
    pub(super) warnings: Vec<String>,
    /// The errors found so far: validation goes on after one, so a file's errors are all
    /// reported at once.
    pub(super) errors: Vec<ConfigError>,
    /// `check-config`: also require a feed and a digest, and that local feed files exist.
    pub(super) complete: bool,
    /// Names and tags of the feeds that did not pass the schema (a digest may select them).
    pub(super) loose_names: Vec<String>,
}

impl Cx {
    /// Records `e` and goes on.
    pub(super) fn push(&mut self, e: ConfigError) {
        self.errors.push(e);
    }

    /// How many errors are recorded so far (to tell whether a table added any).
    pub(super) fn error_count(&self) -> usize {
        self.errors.len()
    }

    /// The value of `r`, or `None` with its error recorded.
    pub(super) fn check<T>(&mut self, r: Result<T, ConfigError>) -> Option<T> {
        r.map_err(|e| self.push(e)).ok()
    }

    /// Ok when no error was recorded; else the one error, or all of them in file order.
    pub(super) fn finish(&mut self) -> Result<(), ConfigError> {
        let mut errors = std::mem::take(&mut self.errors);
        // File order; what concerns the whole file ("no [[feed]]") last.
        errors.sort_by_key(|e| match e {
            ConfigError::Invalid {
                line, column, key, ..
            } => (key == "(root)", *line, *column),
            _ => (false, 0, 0),
        });
        errors.dedup_by(|a, b| a.to_string() == b.to_string());
        match errors.len() {
            0 => Ok(()),
            1 => Err(errors.remove(0)),
            _ => Err(ConfigError::Several { errors }),
        }
    }

    pub(super) fn err(&self, key: &str, message: &str) -> ConfigError {
        let (line, column) = self.idx.position(key);
        self.err_at(key, line, column, message)
    }

    pub(super) fn err_value(&self, key: &str, message: &str) -> ConfigError {
        let (line, column) = self.idx.value_position(key);
        self.err_at(key, line, column, message)
    }

    pub(super) fn err_at(
        &self,
        key: &str,
        line: usize,
        column: usize,
        message: &str,
    ) -> ConfigError {
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

    pub(super) fn warn(&mut self, key: &str, message: &str) {
        let (line, column) = self.idx.position(key);
        self.warnings.push(format!(
            "{}:{line}:{column}: {key}: {message}",
            self.shown.display()
        ));
    }

    pub(super) fn resolve_path(&self, p: &str) -> PathBuf {
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
pub(super) fn key_from_text(text: &str, line: usize) -> Option<String> {
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

/// The range a duration key accepts (both ends included). Every duration key has one, so no
/// configured value can overflow the time arithmetic of the daemon (`interval = "1100000w"`).
#[derive(Debug, Clone, Copy)]
pub(super) struct Bounds {
    pub(super) min: Duration,
    pub(super) max: Duration,
}

impl Bounds {
    pub(super) const fn new(min: Duration, max: Duration) -> Bounds {
        Bounds { min, max }
    }
}

/// A duration key: its default when absent, else its value, which must lie within `bounds`
/// (the error names the bound).
pub(super) fn duration(
    cx: &Cx,
    key: &str,
    v: Option<&str>,
    default: Duration,
    bounds: Bounds,
) -> Result<Duration, ConfigError> {
    let Some(s) = v else {
        return Ok(default);
    };
    let d = schedule::parse_duration(s).map_err(|m| cx.err(key, &m))?;
    if d < bounds.min {
        let message = if bounds.min <= Duration::from_millis(1) {
            "must be more than 0".to_string()
        } else {
            format!("must be at least {}", schedule::format_duration(bounds.min))
        };
        return Err(cx.err(key, &message));
    }
    if d > bounds.max {
        return Err(cx.err(
            key,
            &format!(
                "{:?} is too long: at most {}",
                s.trim(),
                schedule::format_duration(bounds.max)
            ),
        ));
    }
    Ok(d)
}

pub(super) fn secret(
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

/// Checks `addr@domain` or `Display Name <addr@domain>` with lettre's mailbox parser, the one that
/// reads the addresses again when the message is built.
pub fn valid_mailbox(s: &str) -> bool {
    s.trim().parse::<lettre::message::Mailbox>().is_ok()
}

pub(super) fn feed_url(cx: &Cx, key: &str, raw: &str) -> Result<String, ConfigError> {
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

/// Checks a `log_level`: a level (`info`), or a filter of directives (`digestif=debug,warn`) as
/// tracing-subscriber's `EnvFilter` reads it at start-up. A lone word must be a level, so a typo
/// such as `inof` is not taken for a target name.
pub(super) fn valid_log_level(s: &str) -> bool {
    let s = s.trim();
    let directives = s.contains('=') || s.contains(',');
    tracing_subscriber::EnvFilter::try_new(s).is_ok()
        && (directives || s.parse::<tracing_subscriber::filter::LevelFilter>().is_ok())
}

pub(super) fn filename_safe(s: &str) -> bool {
    let mut chars = s.chars();
    s.len() <= 64
        && chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
}

pub(super) fn regexes(cx: &Cx, key: &str, pats: &[String]) -> Result<Vec<Regex>, ConfigError> {
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
