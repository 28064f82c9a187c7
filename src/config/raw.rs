//! The raw TOML schema: serde structs as the user writes them. Every table denies unknown keys, so
//! the structs are the one list of known keys; [`unknown_name`] reads serde's report of one for the
//! "did you mean" message.

use std::collections::BTreeMap;

use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    pub(super) state_dir: Option<String>,
    pub(super) timezone: Option<String>,
    pub(super) template_dir: Option<String>,
    pub(super) log_level: Option<String>,
    pub(super) retention: Option<String>,
    pub(super) metrics_file: Option<String>,
    pub(super) fetch: Option<RawFetch>,
    #[serde(default)]
    pub(super) feed: Vec<RawFeed>,
    #[serde(default)]
    pub(super) digest: Vec<RawDigest>,
    pub(super) smtp: Option<RawSmtp>,
    pub(super) sendmail: Option<RawSendmail>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFetch {
    pub(super) timeout: Option<String>,
    pub(super) connect_timeout: Option<String>,
    pub(super) max_body: Option<SizeValue>,
    pub(super) concurrency: Option<u32>,
    pub(super) per_host: Option<u32>,
    pub(super) user_agent: Option<String>,
    pub(super) allow_private_redirects: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum SizeValue {
    Bytes(u64),
    Text(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
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
    pub(super) max_items: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
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
    pub(super) max_items: Option<u32>,
    pub(super) max_stories: Option<u32>,
    pub(super) subject: Option<String>,
    pub(super) title: Option<String>,
    pub(super) link: Option<String>,
    pub(super) email_budget: Option<SizeValue>,
    pub(super) unsubscribe: Option<String>,
    pub(super) send_empty: Option<bool>,
    #[serde(default)]
    pub(super) follow: Vec<String>,
    #[serde(default)]
    pub(super) output: Vec<RawOutput>,
}

/// `[[digest.output]]`, by its `kind`; each kind has its own keys.
#[derive(Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub(super) enum RawOutput {
    File(RawFileOutput),
    Email(RawEmailOutput),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFileOutput {
    pub(super) dir: Option<String>,
    pub(super) formats: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawEmailOutput {
    pub(super) to: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
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
#[serde(deny_unknown_fields)]
pub(super) struct RawSendmail {
    pub(super) command: Option<String>,
    pub(super) from: String,
}

/// What serde reports as unknown: a key of a table, or a value of an enum (`kind = "fiel"`).
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Unknown {
    Key { name: String, known: Vec<String> },
    Value { name: String, known: Vec<String> },
}

/// Reads serde's "unknown field `x`, expected one of `a`, `b`" (or "unknown variant …") message.
pub(super) fn unknown_name(message: &str) -> Option<Unknown> {
    let (is_key, rest) = match message.strip_prefix("unknown field `") {
        Some(rest) => (true, rest),
        None => (false, message.strip_prefix("unknown variant `")?),
    };
    let (name, expected) = rest.split_once('`')?;
    // ", expected one of `a`, `b`" / ", expected `a` or `b`" / ", there are no fields"
    let known = expected
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect();
    let name = name.to_string();
    Some(if is_key {
        Unknown::Key { name, known }
    } else {
        Unknown::Value { name, known }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_serde_unknown_field_and_variant_messages() {
        assert_eq!(
            unknown_name("unknown field `inteval`, expected one of `name`, `url`, `interval`"),
            Some(Unknown::Key {
                name: "inteval".into(),
                known: vec!["name".into(), "url".into(), "interval".into()],
            })
        );
        assert_eq!(
            unknown_name("unknown variant `fiel`, expected `file` or `email`"),
            Some(Unknown::Value {
                name: "fiel".into(),
                known: vec!["file".into(), "email".into()],
            })
        );
        assert_eq!(
            unknown_name("unknown field `x`, there are no fields"),
            Some(Unknown::Key {
                name: "x".into(),
                known: vec![],
            })
        );
        assert_eq!(unknown_name("invalid type: string, expected u16"), None);
    }
}
