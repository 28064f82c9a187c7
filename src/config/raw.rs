//! The raw TOML schema (serde structs, as written by the user) and the check for unknown keys.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::de::{DeTable, DeValue};

use super::ConfigError;
use super::cx::{Cx, suggest};
use super::spans::join;

#[derive(Debug, Deserialize)]
pub(super) struct RawConfig {
    pub(super) state_dir: Option<String>,
    pub(super) timezone: Option<String>,
    pub(super) template_dir: Option<String>,
    pub(super) log_level: Option<String>,
    pub(super) fetch: Option<RawFetch>,
    #[serde(default)]
    pub(super) feed: Vec<RawFeed>,
    #[serde(default)]
    pub(super) digest: Vec<RawDigest>,
    pub(super) smtp: Option<RawSmtp>,
    pub(super) sendmail: Option<RawSendmail>,
}

#[derive(Debug, Deserialize)]
pub(super) struct RawFetch {
    pub(super) timeout: Option<String>,
    pub(super) connect_timeout: Option<String>,
    pub(super) max_body: Option<SizeValue>,
    pub(super) concurrency: Option<u32>,
    pub(super) per_host: Option<u32>,
    pub(super) user_agent: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum SizeValue {
    Bytes(u64),
    Text(String),
}

#[derive(Debug, Deserialize)]
pub(super) struct RawFeed {
    pub(super) name: String,
    pub(super) url: String,
    pub(super) interval: Option<String>,
    #[serde(default)]
    pub(super) tags: Vec<String>,
    #[serde(default)]
    pub(super) headers: BTreeMap<String, String>,
    pub(super) username: Option<String>,
    pub(super) password: Option<String>,
    pub(super) password_file: Option<String>,
    pub(super) password_env: Option<String>,
    pub(super) enabled: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Deserialize)]
pub(super) struct RawDigest {
    pub(super) name: String,
    pub(super) at: Option<OneOrMany>,
    pub(super) cron: Option<String>,
    pub(super) window: Option<String>,
    pub(super) grace: Option<String>,
    pub(super) feeds: Option<Vec<String>>,
    #[serde(default)]
    pub(super) include: Vec<String>,
    #[serde(default)]
    pub(super) exclude: Vec<String>,
    pub(super) max_per_feed: Option<u32>,
    pub(super) subject: Option<String>,
    pub(super) send_empty: Option<bool>,
    #[serde(default)]
    pub(super) follow: Vec<String>,
    #[serde(default)]
    pub(super) output: Vec<RawOutput>,
}

#[derive(Debug, Deserialize)]
pub(super) struct RawOutput {
    pub(super) kind: String,
    pub(super) dir: Option<String>,
    pub(super) formats: Option<Vec<String>>,
    pub(super) to: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
pub(super) struct RawSmtp {
    pub(super) host: String,
    pub(super) port: Option<u16>,
    pub(super) security: Option<String>,
    pub(super) username: Option<String>,
    pub(super) password: Option<String>,
    pub(super) password_file: Option<String>,
    pub(super) password_env: Option<String>,
    pub(super) from: String,
    pub(super) timeout: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(super) struct RawSendmail {
    pub(super) command: Option<String>,
    pub(super) from: String,
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

pub(super) fn check_keys(cx: &Cx, root: &DeTable<'_>) -> Result<(), ConfigError> {
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
