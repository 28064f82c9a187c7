//! End-to-end helpers: a temporary installation (config file, state, output folder) and a way to run
//! the real `digestif` binary against it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A temporary installation of digestif.
pub struct App {
    pub dir: tempfile::TempDir,
}

/// The result of one run of the binary.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from(o: Output) -> Run {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl App {
    /// A new installation whose config is `config` (TOML text; `{dir}` is replaced by the folder).
    pub fn new(config: &str) -> App {
        let dir = tempfile::tempdir().expect("temp dir");
        let app = App { dir };
        app.write_config(config);
        app
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn config_path(&self) -> PathBuf {
        self.path().join("config.toml")
    }

    pub fn write_config(&self, config: &str) {
        let text = config.replace("{dir}", &self.path().display().to_string());
        std::fs::write(self.config_path(), text).expect("write config");
    }

    /// Runs `digestif --config <config> <args...>`.
    pub fn run(&self, args: &[&str]) -> Run {
        self.run_with_env(args, &[])
    }

    /// [`App::run`] with extra environment variables.
    pub fn run_with_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let o = self
            .command(args)
            .envs(env.iter().copied())
            .output()
            .expect("run digestif");
        Run::from(o)
    }

    /// `digestif --config <config> <args...>` as a command not yet run, in an environment free of
    /// the caller's systemd and digestif variables (no colour, no test hooks).
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_digestif"));
        cmd.arg("--config")
            .arg(self.config_path())
            .args(args)
            .env_remove("DIGESTIF_CONFIG")
            .env_remove("NOTIFY_SOCKET")
            .env_remove("JOURNAL_STREAM")
            .env_remove("INVOCATION_ID")
            .env_remove(digestif::testhook::ENV)
            .env_remove(digestif::testhook::PANIC_ENV)
            .env("NO_COLOR", "1");
        cmd
    }

    /// Files in the output folder `digests/`, sorted.
    pub fn outputs(&self) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = match std::fs::read_dir(self.path().join("digests")) {
            Ok(rd) => rd.filter_map(|e| e.ok()).map(|e| e.path()).collect(),
            Err(_) => Vec::new(),
        };
        v.sort();
        v
    }

    /// The JSON digests written to `digests/`, oldest first by name.
    pub fn json_digests(&self) -> Vec<serde_json::Value> {
        self.outputs()
            .iter()
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .map(|p| {
                let text = std::fs::read_to_string(p).expect("read digest json");
                serde_json::from_str(&text).expect("digest json parses")
            })
            .collect()
    }
}

/// An RSS 2.0 feed with the given items `(guid, title, description html)`, published "now-ish"
/// (dates are relative to the current time so the first-digest window always holds them).
pub fn rss(title: &str, items: &[(&str, &str, &str)]) -> String {
    let now = jiff::Timestamp::now();
    let mut s = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\"><channel><title>{title}</title>\
         <link>http://example.org/</link><description>test</description>\n"
    );
    for (i, (guid, t, d)) in items.iter().enumerate() {
        let published = now - jiff::SignedDuration::from_mins(10 * (i as i64 + 1));
        let date = jiff::fmt::rfc2822::to_string(&published.to_zoned(jiff::tz::TimeZone::UTC))
            .unwrap_or_default();
        s.push_str(&format!(
            "<item><guid isPermaLink=\"false\">{guid}</guid><title>{t}</title>\
             <link>http://example.org/{guid}</link><pubDate>{date}</pubDate>\
             <description><![CDATA[{d}]]></description></item>\n"
        ));
    }
    s.push_str("</channel></rss>\n");
    s
}

/// Decodes the quoted-printable and base64 bodies of a raw MIME message (enough for assertions).
pub fn decode_mail_bodies(raw: &str) -> String {
    let mut out = String::new();
    let mut encoding = String::new();
    let mut in_body = false;
    let mut part = String::new();
    let flush = |enc: &str, part: &str, out: &mut String| {
        match enc {
            "base64" => {
                let joined: String = part.split_whitespace().collect();
                if let Some(bytes) = crate::support::smtp::b64decode(&joined) {
                    out.push_str(&String::from_utf8_lossy(&bytes));
                }
            }
            "quoted-printable" => out.push_str(&decode_qp(part)),
            _ => out.push_str(part),
        }
        out.push('\n');
    };
    for line in raw.split("\r\n") {
        let l = line.to_ascii_lowercase();
        if line.starts_with("--") {
            if in_body {
                flush(&encoding, &part, &mut out);
            }
            part.clear();
            in_body = false;
            encoding.clear();
            continue;
        }
        if !in_body {
            if let Some(v) = l.strip_prefix("content-transfer-encoding:") {
                encoding = v.trim().to_string();
            }
            if line.is_empty() {
                in_body = true;
            }
            continue;
        }
        part.push_str(line);
        part.push_str("\r\n");
    }
    if in_body {
        flush(&encoding, &part, &mut out);
    }
    out
}

fn decode_qp(s: &str) -> String {
    let mut bytes = Vec::with_capacity(s.len());
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'=' {
            // soft line break
            if b.get(i + 1) == Some(&b'\r') && b.get(i + 2) == Some(&b'\n') {
                i += 3;
                continue;
            }
            let hex = b
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok());
            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                bytes.push(v);
                i += 3;
                continue;
            }
        }
        bytes.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&bytes).into_owned()
}
