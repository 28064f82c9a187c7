//! Tests for `digestif::config`: the minimal config, every error class with its exact line,
//! column and key path, suggestions, path resolution, warnings, the example config.

use std::path::{Path, PathBuf};
use std::time::Duration;

use digestif::config::{
    self, ConfigError, OutputSettings, Secret, SecretError, SmtpSecurity, default_config_path,
    parse_str,
};
use digestif::schedule::Schedule;

const MINIMAL: &str = r#"state_dir = "/var/lib/digestif"        # SQLite database lives here
timezone = "UTC"                       # IANA name; schedules are in this zone

[[feed]]
name = "The Moscow Times"
url = "https://www.themoscowtimes.com/rss/news"

[[digest]]
name = "daily"
at = "07:00"                           # or: cron = "0 7 * * 1-5"
window = "48h"                         # first digest: items published within this window

[[digest.output]]
kind = "file"
dir = "/var/lib/digestif/digests"
formats = ["json", "html", "md", "txt"]

[[digest.output]]
kind = "email"
to = ["reader@example.org"]

[smtp]
host = "127.0.0.1"
port = 2525
security = "none"                      # "tls" | "starttls" | "none"
from = "digestif <digest@example.org>"
"#;

const ETC: &str = "/etc/digestif/config.toml";

/// Parses `text` as /etc/digestif/config.toml and returns the error's (line, column, key, message).
fn invalid(text: &str) -> (usize, usize, String, String) {
    match parse_str(text, Path::new(ETC)) {
        Ok(_) => panic!("config should have been rejected:\n{text}"),
        Err(ConfigError::Invalid {
            path,
            line,
            column,
            key,
            message,
        }) => {
            assert_eq!(path, PathBuf::from(ETC));
            (line, column, key, message)
        }
        Err(e) => panic!("unexpected error {e}"),
    }
}

/// MINIMAL with `from` replaced by `to` (exactly once).
fn minimal_with(from: &str, to: &str) -> String {
    assert_eq!(MINIMAL.matches(from).count(), 1, "{from:?} must occur once");
    MINIMAL.replace(from, to)
}

#[test]
fn minimal_config_is_accepted_exactly_as_written() {
    let (s, warnings) = parse_str(MINIMAL, Path::new(ETC)).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(s.path, PathBuf::from(ETC));
    assert_eq!(s.state_dir, PathBuf::from("/var/lib/digestif"));
    assert_eq!(s.timezone_name, "UTC");
    assert_eq!(s.feeds.len(), 1);
    let f = &s.feeds[0];
    assert_eq!(f.name, "The Moscow Times");
    assert_eq!(f.url, "https://www.themoscowtimes.com/rss/news");
    assert_eq!(f.interval, Duration::from_secs(3600));
    assert!(f.enabled);
    let d = &s.digests[0];
    assert_eq!(d.name, "daily");
    assert!(
        matches!(&d.schedule, Schedule::At(t) if t.len() == 1 && t[0] == jiff::civil::time(7, 0, 0, 0))
    );
    assert_eq!(d.window, Duration::from_secs(48 * 3600));
    assert_eq!(d.grace, Duration::from_secs(6 * 3600));
    assert_eq!(d.feeds, vec!["The Moscow Times".to_string()]);
    assert!(!d.send_empty);
    assert_eq!(
        d.outputs,
        vec![
            OutputSettings::File {
                dir: PathBuf::from("/var/lib/digestif/digests"),
                formats: vec!["json".into(), "html".into(), "md".into(), "txt".into()]
            },
            OutputSettings::Email {
                to: vec!["reader@example.org".into()]
            },
        ]
    );
    let smtp = s.smtp.as_ref().unwrap();
    assert_eq!(
        (smtp.host.as_str(), smtp.port, smtp.security),
        ("127.0.0.1", 2525, SmtpSecurity::None)
    );
    assert_eq!(smtp.from, "digestif <digest@example.org>");
    assert_eq!(smtp.timeout, Duration::from_secs(30));
    assert_eq!(
        s.email_from.as_deref(),
        Some("digestif <digest@example.org>")
    );
    assert_eq!(s.fetch, config::FetchSettings::default());
    assert_eq!(s.fetch.max_body, 10 * 1024 * 1024);
    assert_eq!(s.log_level, "info");
}

#[test]
fn syntax_error_names_line_and_column() {
    let text = minimal_with("port = 2525", "port = 2525 2526");
    let (line, col, _key, msg) = invalid(&text);
    assert_eq!(line, 24, "{msg}");
    assert!(col > 1, "{col}");
    assert!(msg.contains("syntax"), "{msg}");
    // An unterminated string on line 6.
    let text = minimal_with(
        r#"url = "https://www.themoscowtimes.com/rss/news""#,
        r#"url = "https://www.themoscowtimes.com/rss/news"#,
    );
    let (line, _, key, _) = invalid(&text);
    assert_eq!(line, 6);
    assert!(!key.is_empty());
}

#[test]
fn unknown_key_with_suggestion() {
    let text = format!(
        "{MINIMAL}\n[[feed]]\nname = \"B\"\nurl = \"https://b.example/rss\"\ninteval = \"5m\"\n"
    );
    let (line, col, key, msg) = invalid(&text);
    assert_eq!((line, col), (31, 1));
    assert_eq!(key, "feed[1].inteval");
    assert_eq!(
        msg,
        "unknown key `inteval` in feed[1], did you mean `interval`?"
    );
    // top level, no close candidate: lists known keys
    let (line, col, key, msg) = invalid(&format!("zzz = 1\n{MINIMAL}"));
    assert_eq!((line, col, key.as_str()), (1, 1, "zzz"));
    assert!(msg.contains("known keys"), "{msg}");
    // kind-specific output keys: `to` on a file output
    let text = minimal_with(
        "formats = [\"json\", \"html\", \"md\", \"txt\"]",
        "formats = [\"json\"]\nto = [\"x@y.org\"]",
    );
    let (line, _, key, _) = invalid(&text);
    assert_eq!((line, key.as_str()), (17, "digest[0].output[0].to"));
    // typo in a section name
    let (line, _, key, msg) = invalid(&minimal_with("[smtp]", "[smpt]"));
    assert_eq!((line, key.as_str()), (22, "smpt"));
    assert!(msg.contains("did you mean `smtp`"), "{msg}");
}

#[test]
fn wrong_type_names_key_line_and_column() {
    let (line, col, key, msg) = invalid(&minimal_with("port = 2525", "port = \"2525\""));
    assert_eq!((line, col, key.as_str()), (24, 1, "smtp.port"));
    assert!(msg.contains("invalid type"), "{msg}");
    let (line, _, key, _) = invalid(&minimal_with("port = 2525", "port = 70000"));
    assert_eq!((line, key.as_str()), (24, "smtp.port"));
    let (line, _, key, msg) = invalid(&minimal_with(r#"at = "07:00""#, "at = 7"));
    assert_eq!((line, key.as_str()), (10, "digest[0].at"));
    assert!(msg.contains("string or a list"), "{msg}");
    // missing required key points at the table header
    let (line, _, key, msg) = invalid(&minimal_with("name = \"The Moscow Times\"\n", ""));
    assert_eq!((line, key.as_str()), (4, "feed[0]"));
    assert!(msg.contains("missing field `name`"), "{msg}");
}

#[test]
fn bad_values_name_key_and_line() {
    let cases: &[(&str, &str, usize, &str, &str)] = &[
        (
            r#"timezone = "UTC""#,
            r#"timezone = "Mars/Olympus""#,
            2,
            "timezone",
            "unknown time zone",
        ),
        (
            r#"at = "07:00""#,
            r#"cron = "0 7 * * 8""#,
            10,
            "digest[0].cron",
            "invalid cron",
        ),
        (
            r#"at = "07:00""#,
            r#"at = "25:00""#,
            10,
            "digest[0].at",
            "invalid time",
        ),
        (
            r#"window = "48h""#,
            r#"window = "5 minutes""#,
            11,
            "digest[0].window",
            "invalid duration \"5 minutes\"",
        ),
        (
            r#"url = "https://www.themoscowtimes.com/rss/news""#,
            r#"url = "gopher://example.org/feed""#,
            6,
            "feed[0].url",
            "unsupported URL scheme",
        ),
        (
            r#"url = "https://www.themoscowtimes.com/rss/news""#,
            r#"url = "https://""#,
            6,
            "feed[0].url",
            "invalid URL",
        ),
        (
            r#"security = "none" "#,
            r#"security = "ssl" "#,
            25,
            "smtp.security",
            "invalid value",
        ),
        (
            r#"to = ["reader@example.org"]"#,
            r#"to = ["reader"]"#,
            20,
            "digest[0].output[1].to[0]",
            "invalid address",
        ),
        (
            r#"formats = ["json", "html", "md", "txt"]"#,
            r#"formats = ["json", "htm"]"#,
            16,
            "digest[0].output[0].formats[1]",
            "did you mean \"html\"",
        ),
        (
            r#"name = "daily""#,
            r#"name = "daily/../x""#,
            9,
            "digest[0].name",
            "invalid digest name",
        ),
    ];
    for (from, to, line, key, needle) in cases {
        let (l, _c, k, m) = invalid(&minimal_with(from, to));
        assert_eq!((l, k.as_str()), (*line, *key), "{to}: {m}");
        assert!(m.contains(needle), "{to}: {m}");
    }
}

#[test]
fn feed_interval_error_matches_documented_format() {
    let text = format!(
        "{MINIMAL}\n[[feed]]\nname = \"B\"\nurl = \"https://b.example/rss\"\ninterval = \"5 minutes\"\n"
    );
    let e = parse_str(&text, Path::new(ETC)).unwrap_err();
    assert!(
        e.to_string().starts_with(
            "/etc/digestif/config.toml:31:1: feed[1].interval: invalid duration \"5 minutes\""
        ),
        "{e}"
    );
}

#[test]
fn bad_regex_names_key_line_and_column() {
    let text = minimal_with(
        r#"window = "48h""#,
        "window = \"48h\"\ninclude = [\"ok\",\n  \"(unclosed\"]",
    );
    let (line, col, key, msg) = invalid(&text);
    assert_eq!((line, col, key.as_str()), (13, 3, "digest[0].include[1]"));
    assert!(msg.contains("invalid regex \"(unclosed\""), "{msg}");
}

#[test]
fn duplicate_feed_name_is_an_error() {
    let text = format!(
        "{MINIMAL}\n[[feed]]\nname = \"The Moscow Times\"\nurl = \"https://b.example/rss\"\n"
    );
    let (line, col, key, msg) = invalid(&text);
    assert_eq!((line, col, key.as_str()), (29, 1, "feed[1].name"));
    assert!(msg.contains("duplicate feed name"), "{msg}");
}

#[test]
fn unknown_feed_in_digest_names_it_and_suggests() {
    let text = minimal_with(
        r#"window = "48h""#,
        "window = \"48h\"\nfeeds = [\"The Moscow Times\", \"Moscow Tims\"]",
    );
    let (line, col, key, msg) = invalid(&text);
    assert_eq!((line, col, key.as_str()), (12, 30, "digest[0].feeds[1]"));
    assert!(msg.contains("\"Moscow Tims\""), "{msg}");
    assert!(msg.contains("did you mean \"The Moscow Times\""), "{msg}");
}

#[test]
fn email_output_without_transport_is_an_error() {
    let cut = MINIMAL.find("[smtp]").unwrap();
    let (line, col, key, msg) = invalid(&MINIMAL[..cut]);
    assert_eq!(
        (line, col, key.as_str()),
        (19, 1, "digest[0].output[1].kind")
    );
    assert!(
        msg.contains("[smtp]") && msg.contains("[sendmail]"),
        "{msg}"
    );
    // sendmail instead of smtp is fine
    let text = format!(
        "{}[sendmail]\ncommand = \"/usr/sbin/sendmail\"\nfrom = \"digest@example.org\"\n",
        &MINIMAL[..cut]
    );
    let (s, _) = parse_str(&text, Path::new(ETC)).unwrap();
    assert_eq!(
        s.sendmail,
        Some(config::SendmailConfig {
            command: PathBuf::from("/usr/sbin/sendmail"),
            from: "digest@example.org".into()
        })
    );
    assert!(s.smtp.is_none());
    assert_eq!(s.email_from.as_deref(), Some("digest@example.org"));
    // both is ambiguous
    let text = format!("{MINIMAL}[sendmail]\nfrom = \"digest@example.org\"\n");
    let (line, _, key, _) = invalid(&text);
    assert_eq!((line, key.as_str()), (27, "sendmail"));
}

#[test]
fn relative_paths_resolve_against_the_config_folder() {
    let text = r#"
state_dir = "../var/state"
template_dir = "templates"
[[feed]]
name = "Local"
url = "samples/a.rss"
[[feed]]
name = "Abs"
url = "/srv/feeds/b.xml"
password_file = "secret.txt"
username = "u"
[[feed]]
name = "Url"
url = "file:///srv/feeds/c.json"
tags = ["world"]
[[digest]]
name = "d"
at = ["19:00", "07:00"]
feeds = ["Local", "world"]
[[digest.output]]
kind = "file"
dir = "./out"
"#;
    let (s, warnings) = parse_str(text, Path::new("/opt/digestif/config/config.toml")).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(s.state_dir, PathBuf::from("/opt/digestif/var/state"));
    assert_eq!(
        s.template_dir,
        Some(PathBuf::from("/opt/digestif/config/templates"))
    );
    assert_eq!(s.feeds[0].url, "file:///opt/digestif/config/samples/a.rss");
    assert!(s.feeds[0].is_file());
    assert_eq!(s.feeds[1].url, "file:///srv/feeds/b.xml");
    assert_eq!(
        s.feeds[1].password,
        Some(Secret::File(PathBuf::from(
            "/opt/digestif/config/secret.txt"
        )))
    );
    assert_eq!(s.feeds[2].url, "file:///srv/feeds/c.json");
    let d = &s.digests[0];
    assert_eq!(d.feeds, vec!["Local".to_string(), "Url".to_string()]);
    assert!(matches!(&d.schedule, Schedule::At(t) if t.len() == 2 && t[0] < t[1]));
    assert_eq!(
        d.outputs,
        vec![OutputSettings::File {
            dir: PathBuf::from("/opt/digestif/config/out"),
            formats: vec!["json".into(), "html".into(), "md".into(), "txt".into()]
        }]
    );
    // A relative config path is made absolute from the current directory.
    let (s, _) = parse_str(text, Path::new("conf/config.toml")).unwrap();
    let cwd = std::env::current_dir().unwrap();
    assert_eq!(s.path, cwd.join("conf/config.toml"));
    assert_eq!(s.template_dir, Some(cwd.join("conf/templates")));
}

#[test]
fn plain_passwords_are_accepted_with_a_warning() {
    let text = minimal_with(
        "from = ",
        "username = \"mailer\"\npassword = \"hunter2\"\nfrom = ",
    );
    let (s, warnings) = parse_str(&text, Path::new(ETC)).unwrap();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].starts_with("/etc/digestif/config.toml:27:1: smtp.password: plain password"),
        "{warnings:?}"
    );
    let smtp = s.smtp.unwrap();
    assert_eq!(
        smtp.password.as_ref().unwrap().resolve().unwrap(),
        "hunter2"
    );
    // the Debug form does not leak it
    assert!(!format!("{:?}", smtp.password).contains("hunter2"));
    // two sources at once are an error
    let text = minimal_with(
        "from = ",
        "username = \"m\"\npassword = \"x\"\npassword_env = \"SMTP_PW\"\nfrom = ",
    );
    let (line, _, key, _) = invalid(&text);
    assert_eq!((line, key.as_str()), (28, "smtp.password_env"));
}

#[test]
fn secrets_resolve_from_file_env_and_credentials_dir() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pw"), "s3cret\n").unwrap();
    let cfg = dir.path().join("config.toml");
    let text = minimal_with(
        "from = ",
        "username = \"m\"\npassword_file = \"pw\"\nfrom = ",
    );
    std::fs::write(&cfg, &text).unwrap();
    let (s, warnings) = config::load(&cfg).unwrap();
    assert!(warnings.is_empty());
    let pw = s.smtp.unwrap().password.unwrap();
    assert_eq!(pw, Secret::File(dir.path().join("pw")));
    assert_eq!(pw.resolve().unwrap(), "s3cret");
    let missing = Secret::File(dir.path().join("nope"));
    assert!(matches!(missing.resolve(), Err(SecretError::File { .. })));
    assert!(matches!(
        Secret::Env("DIGESTIF_TEST_SURELY_UNSET_VAR".into()).resolve(),
        Err(SecretError::Env { .. })
    ));
    // $CREDENTIALS_DIRECTORY paths are kept verbatim and expanded at use time.
    let text = minimal_with(
        "from = ",
        "username = \"m\"\npassword_file = \"$CREDENTIALS_DIRECTORY/smtp-password\"\nfrom = ",
    );
    let (s, _) = parse_str(&text, Path::new(ETC)).unwrap();
    assert_eq!(
        s.smtp.unwrap().password,
        Some(Secret::File(PathBuf::from(
            "$CREDENTIALS_DIRECTORY/smtp-password"
        )))
    );
}

#[test]
fn io_error_names_the_file() {
    let e = config::load(Path::new("/nonexistent/digestif/config.toml")).unwrap_err();
    assert!(matches!(e, ConfigError::Io { .. }));
    assert!(
        e.to_string()
            .starts_with("/nonexistent/digestif/config.toml: cannot read"),
        "{e}"
    );
}

#[test]
fn default_config_path_reads_env() {
    assert_eq!(
        config::config_path_from(Some("/tmp/custom/digestif.toml".into())),
        PathBuf::from("/tmp/custom/digestif.toml")
    );
    assert_eq!(
        config::config_path_from(Some("".into())),
        PathBuf::from("/etc/digestif/config.toml")
    );
    assert_eq!(
        config::config_path_from(None),
        PathBuf::from("/etc/digestif/config.toml")
    );
    // The real variable, in a child process so that no concurrently running test sees it.
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "config::default_config_path_env_child",
            "--test-threads=1",
        ])
        .env("DIGESTIF_CONFIG", "/tmp/custom/digestif.toml")
        .env("DIGESTIF_TEST_CHILD", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "{stdout}"
    );
}

/// Runs only as the child of `default_config_path_reads_env`.
#[test]
fn default_config_path_env_child() {
    if std::env::var_os("DIGESTIF_TEST_CHILD").is_none() {
        return;
    }
    assert_eq!(
        default_config_path(),
        PathBuf::from("/tmp/custom/digestif.toml")
    );
}

#[test]
fn defaults_and_extra_keys() {
    let text = r#"
timezone = "Europe/Berlin"
log_level = "digestif=debug,warn"
[fetch]
timeout = "45s"
max_body = "512KiB"
concurrency = 4
user_agent = "test-agent/1"
allow_private_redirects = true
[[feed]]
name = "A"
url = "https://a.example/feed"
interval = "1h30m"
tags = ["world", "europe"]
headers = { "X-Api-Key" = "k", Accept = "application/rss+xml" }
enabled = false
[[digest]]
name = "weekday.morning"
cron = "0 7 * * 1-5"
grace = "2h"
include = ["summit|merger"]
exclude = ["(?i)sponsored"]
max_per_feed = 5
subject = "{{ date }} digest"
send_empty = true
follow = ["Friedrich Merz", " "]
[[digest.output]]
kind = "file"
dir = "/tmp/d"
formats = ["md"]
"#;
    let (s, _) = parse_str(text, Path::new(ETC)).unwrap();
    assert_eq!(s.timezone_name, "Europe/Berlin");
    assert_eq!(s.log_level, "digestif=debug,warn");
    assert_eq!(s.fetch.timeout, Duration::from_secs(45));
    assert_eq!(s.fetch.connect_timeout, Duration::from_secs(10));
    assert_eq!(s.fetch.max_body, 512 * 1024);
    assert_eq!((s.fetch.concurrency, s.fetch.per_host), (4, 2));
    assert_eq!(s.fetch.user_agent, "test-agent/1");
    assert!(s.fetch.allow_private_redirects);
    assert!(!config::FetchSettings::default().allow_private_redirects);
    let f = &s.feeds[0];
    assert_eq!(f.interval, Duration::from_secs(5400));
    assert!(!f.enabled);
    assert_eq!(
        f.headers,
        vec![
            ("Accept".into(), "application/rss+xml".into()),
            ("X-Api-Key".into(), "k".into())
        ]
    );
    let d = &s.digests[0];
    assert!(matches!(&d.schedule, Schedule::Cron(src, _) if src == "0 7 * * 1-5"));
    assert_eq!(d.grace, Duration::from_secs(7200));
    assert_eq!(d.window, Duration::from_secs(86_400));
    assert!(d.include[0].is_match("Leaders meet at SUMMIT"));
    assert!(d.exclude[0].is_match("Sponsored content"));
    assert_eq!(d.max_per_feed, Some(5));
    assert_eq!(d.subject.as_deref(), Some("{{ date }} digest"));
    assert!(d.send_empty);
    assert_eq!(d.follow, vec!["Friedrich Merz".to_string()]);
    // timezone default is UTC, state_dir default is absolute
    let (s, _) = parse_str("", Path::new(ETC)).unwrap();
    assert_eq!(s.timezone_name, "UTC");
    assert!(s.state_dir.is_absolute());
    assert!(s.feeds.is_empty() && s.digests.is_empty());
}

#[test]
fn at_and_cron_together_or_neither_are_errors() {
    let (line, _, key, _) = invalid(&minimal_with(
        r#"at = "07:00""#,
        "at = \"07:00\"\ncron = \"0 7 * * *\"",
    ));
    assert_eq!((line, key.as_str()), (11, "digest[0].cron"));
    let (line, _, key, msg) = invalid(&minimal_with("at = \"07:00\"", ""));
    assert_eq!((line, key.as_str()), (8, "digest[0]"));
    assert!(msg.contains("missing schedule"), "{msg}");
    let (line, col, key, _) = invalid(&minimal_with(r#"at = "07:00""#, r#"at = ["07:00", "7pm"]"#));
    assert_eq!((line, col, key.as_str()), (10, 16, "digest[0].at[1]"));
}

#[test]
fn example_config_is_valid() {
    let path = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/config/example.toml"));
    let (s, warnings) = config::load(&path).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert!(s.feeds.len() >= 3);
    for f in &s.feeds {
        let url = url::Url::parse(&f.url).unwrap();
        let p = url.to_file_path().unwrap();
        assert!(p.exists(), "sample feed {} missing", p.display());
    }
    let root = path.parent().unwrap().parent().unwrap();
    assert!(s.state_dir.starts_with(root), "{}", s.state_dir.display());
    assert!(s.digests[0].window >= Duration::from_secs(3650 * 86_400));
}

#[test]
fn time_zones_resolve_without_a_system_tzdb() {
    // jiff reads /usr/share/zoneinfo when present and falls back to its bundled copy (feature
    // `tzdb-bundle-always`) when it is not: the bundle must know the zones we document.
    let bundled = jiff::tz::TimeZoneDatabase::bundled();
    for name in ["UTC", "Europe/Berlin", "America/New_York"] {
        assert!(
            bundled.get(name).is_ok(),
            "{name} missing from the bundled tzdb"
        );
    }
    let berlin = bundled.get("Europe/Berlin").unwrap();
    let summer: jiff::Timestamp = "2026-07-01T12:00:00Z".parse().unwrap();
    assert_eq!(berlin.to_offset(summer), jiff::tz::offset(2));
    for name in ["UTC", "Europe/Berlin", "America/New_York"] {
        let text = minimal_with(r#"timezone = "UTC""#, &format!("timezone = {name:?}"));
        let (s, _) = parse_str(&text, Path::new(ETC)).unwrap();
        assert_eq!(s.timezone_name, name);
    }
}

#[test]
fn sample_feeds_parse_and_share_events() {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/config/samples"));
    let mut texts = Vec::new();
    for (file, kind) in [
        ("northwind-news.rss", feed_rs::model::FeedType::RSS2),
        ("harbor-times.atom", feed_rs::model::FeedType::Atom),
        ("civic-wire.json", feed_rs::model::FeedType::JSON),
    ] {
        let bytes = std::fs::read(dir.join(file)).unwrap();
        let feed = feed_rs::parser::parse(&bytes[..]).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(feed.feed_type, kind, "{file}");
        assert!(
            (6..=10).contains(&feed.entries.len()),
            "{file}: {} entries",
            feed.entries.len()
        );
        let mut all = String::new();
        for e in &feed.entries {
            let date = e
                .published
                .or(e.updated)
                .unwrap_or_else(|| panic!("{file}: entry without a date"));
            assert_eq!(date.format("%Y-%m").to_string(), "2026-11", "{file}");
            assert!(e.title.is_some(), "{file}: entry without a title");
            all.push_str(&e.title.as_ref().unwrap().content);
            all.push(' ');
            if let Some(s) = &e.summary {
                all.push_str(&s.content);
            }
            if let Some(c) = e.content.as_ref().and_then(|c| c.body.as_ref()) {
                all.push_str(c);
            }
        }
        texts.push(all);
    }
    // The shared events: every outlet names the same people, places and organisations.
    for needle in [
        "Friedrich Merz",
        "Emmanuel Macron",
        "Paris",
        "NATO",
        "Storm Ilse",
        "Galicia",
        "Helvion Rail",
        "Transalpine Cargo",
        "Zurich",
    ] {
        for (i, t) in texts.iter().enumerate() {
            assert!(
                t.contains(needle),
                "sample feed {i} does not mention {needle}"
            );
        }
    }
}

#[test]
fn credentials_directory_secret_resolves_at_use_time() {
    let unset = Secret::File(PathBuf::from("$CREDENTIALS_DIRECTORY/smtp-password"));
    if std::env::var_os("CREDENTIALS_DIRECTORY").is_none() {
        assert!(matches!(
            unset.resolve(),
            Err(SecretError::NoCredentialsDir { .. })
        ));
    }
    // With systemd's variable set (in a child process, so no other test sees it).
    let creds = tempfile::tempdir().unwrap();
    std::fs::write(creds.path().join("smtp-password"), "from-systemd\n").unwrap();
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "config::credentials_directory_child",
            "--test-threads=1",
        ])
        .env("CREDENTIALS_DIRECTORY", creds.path())
        .env("DIGESTIF_TEST_CHILD", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "{stdout}"
    );
}

/// Runs only as the child of `credentials_directory_secret_resolves_at_use_time`.
#[test]
fn credentials_directory_child() {
    if std::env::var_os("DIGESTIF_TEST_CHILD").is_none() {
        return;
    }
    let s = Secret::File(PathBuf::from("$CREDENTIALS_DIRECTORY/smtp-password"));
    assert_eq!(s.resolve().unwrap(), "from-systemd");
}

/// Regression: the config's default User-Agent ("+https://example.org/digestif") was not the one the
/// README documents; the default now comes from the fetcher, and the README shows that one.
#[test]
fn regression_sent_user_agent_differed_from_the_readme() {
    let (s, _) = parse_str(MINIMAL, Path::new(ETC)).unwrap();
    assert_eq!(s.fetch.user_agent, digestif::fetch::default_user_agent());
    let documented = "digestif/<version> (feed reader; +https://github.com/digestif/digestif)";
    assert_eq!(
        s.fetch.user_agent,
        documented.replace("<version>", env!("CARGO_PKG_VERSION"))
    );
    let readme = include_str!("../../README.md");
    assert!(readme.contains(documented), "README shows {documented}");
}

#[test]
fn log_filters_and_addresses_are_checked_by_the_crates_that_use_them() {
    for ok in [
        "info",
        "WARN",
        "off",
        "digestif=debug,warn",
        "digestif::fetch=trace",
    ] {
        let text = format!("log_level = {ok:?}\n{MINIMAL}");
        assert!(parse_str(&text, Path::new(ETC)).is_ok(), "{ok}");
    }
    for bad in ["inof", "digestif", "digestif=loud"] {
        let (line, _, key, msg) = invalid(&format!("log_level = {bad:?}\n{MINIMAL}"));
        assert_eq!((line, key.as_str()), (1, "log_level"), "{bad}: {msg}");
    }
    for ok in [
        "Jane Doe <jane@example.org>",
        "\"Doe, Jane\" <jane@example.org>",
        "j@example.org",
    ] {
        let text = minimal_with(r#"to = ["reader@example.org"]"#, &format!("to = [{ok:?}]"));
        assert!(parse_str(&text, Path::new(ETC)).is_ok(), "{ok}");
    }
    for bad in [
        "reader",
        "jane@",
        "a b@example.org",
        "Jane <jane@example.org",
    ] {
        let text = minimal_with(r#"to = ["reader@example.org"]"#, &format!("to = [{bad:?}]"));
        let (_, _, key, msg) = invalid(&text);
        assert_eq!(key, "digest[0].output[1].to[0]", "{bad}: {msg}");
        assert!(msg.contains("invalid address"), "{bad}: {msg}");
    }
}

#[test]
fn unknown_output_kind_and_keys_come_from_the_schema() {
    let (line, _, key, msg) = invalid(&minimal_with(r#"kind = "file""#, r#"kind = "fiel""#));
    assert_eq!(
        (line, key.as_str()),
        (14, "digest[0].output[0].kind"),
        "{msg}"
    );
    assert!(msg.contains("did you mean \"file\""), "{msg}");
    // `dir` belongs to file outputs only.
    let (line, _, key, msg) = invalid(&minimal_with(
        r#"to = ["reader@example.org"]"#,
        "to = [\"reader@example.org\"]\ndir = \"/tmp\"",
    ));
    assert_eq!(
        (line, key.as_str()),
        (21, "digest[0].output[1].dir"),
        "{msg}"
    );
    assert!(msg.contains("unknown key `dir`"), "{msg}");
}

/// Every error of a file is reported at once, in file order, each with its own line and key: a
/// schema error in one feed hides neither the value errors of another nor those of a digest.
#[test]
fn every_error_of_a_file_is_reported_at_once() {
    let text = r#"log_level = "inof"

[[feed]]
name = "A"
url = "ftp://a.example/rss"
interval = "5 minutes"

[[feed]]
name = "B"
url = "https://b.example/rss"
intervl = "1h"

[[digest]]
name = "daily"
at = "25:00"
feeds = ["A", "B", "C"]

[[digest.output]]
kind = "file"
dir = "/tmp"
formats = ["htm"]
"#;
    let e = parse_str(text, Path::new(ETC)).unwrap_err();
    let got: Vec<(usize, String)> = e
        .each()
        .into_iter()
        .map(|e| match e {
            ConfigError::Invalid { line, key, .. } => (*line, key.clone()),
            other => panic!("not a located error: {other}"),
        })
        .collect();
    let want = [
        (1, "log_level"),
        (5, "feed[0].url"),
        (6, "feed[0].interval"),
        (11, "feed[1].intervl"),
        (15, "digest[0].at"),
        (16, "digest[0].feeds[2]"),
        (21, "digest[0].output[0].formats[0]"),
    ];
    let want: Vec<(usize, String)> = want.iter().map(|(l, k)| (*l, k.to_string())).collect();
    assert_eq!(got, want, "{e}");
    // B failed the schema, yet selecting it is not reported again; C is unknown.
    let text_all = e.to_string();
    assert!(
        text_all.starts_with("7 errors:\n/etc/digestif/config.toml:1:"),
        "{text_all}"
    );
    assert!(text_all.contains("did you mean `interval`"), "{text_all}");
    assert!(
        text_all.contains("no feed or tag named \"C\""),
        "{text_all}"
    );
    assert!(!text_all.contains("named \"B\""), "{text_all}");
}

/// `check-config` (not plain loading) also wants a feed and a digest, and local feed files that
/// exist.
#[test]
fn check_requires_a_feed_a_digest_and_existing_local_files() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config.toml");
    // An empty file: loading accepts it (import-opml builds from nothing); check does not.
    assert!(parse_str("", &cfg).is_ok());
    let e = config::check_str("", &cfg).unwrap_err();
    let all = e.to_string();
    assert!(all.contains("no [[feed]]"), "{all}");
    assert!(all.contains("no [[digest]]"), "{all}");

    std::fs::write(dir.path().join("here.xml"), "<rss/>").unwrap();
    let text = "[[feed]]\nname = \"here\"\nurl = \"here.xml\"\n\n[[feed]]\nname = \"gone\"\nurl = \"gone.xml\"\n\n[[feed]]\nname = \"dir\"\nurl = \"file:///\"\n";
    assert!(parse_str(text, &cfg).is_ok());
    let e = config::check_str(text, &cfg).unwrap_err();
    let each: Vec<String> = e.each().iter().map(|e| e.to_string()).collect();
    assert_eq!(each.len(), 3, "{e}");
    assert!(
        each[0].contains(":7:7: feed[1].url: local feed file"),
        "{}",
        each[0]
    );
    assert!(each[0].contains("gone.xml"), "{}", each[0]);
    assert!(each[0].contains("No such file"), "{}", each[0]);
    assert!(
        each[1].contains("feed[2].url") && each[1].contains("is not a file"),
        "{}",
        each[1]
    );
    assert!(each[2].contains("no [[digest]]"), "{}", each[2]);
}

/// A config with one feed whose `interval` and one digest whose `window` are given.
fn bounded(interval: &str, window: &str) -> String {
    format!(
        r#"state_dir = "{{dir}}/state"

[[feed]]
name = "A"
url = "https://a.example/rss"
interval = "{interval}"

[[digest]]
name = "daily"
at = "07:00"
window = "{window}"

[[digest.output]]
kind = "file"
dir = "{{dir}}/digests"
"#
    )
}

#[test]
fn regression_interval_1100000w_passed_check_config_then_panicked() {
    for (interval, window, key, line, bound) in [
        ("1100000w", "48h", "feed[0].interval", 6, "at most 30d"),
        ("1h", "1100000w", "digest[0].window", 11, "at most 36500d"),
    ] {
        let app = crate::support::app::App::new(&bounded(interval, window));
        let r = app.run(&["check-config"]);
        assert_eq!(r.code, 78, "{key}: {}\n{}", r.stdout, r.stderr);
        let at = format!("config.toml:{line}:1: {key}: \"1100000w\" is too long: {bound}");
        assert!(
            r.stderr.contains(&at),
            "{key}: wanted {at:?} in\n{}",
            r.stderr
        );
    }
    // At the bound itself the config is valid.
    let app = crate::support::app::App::new(&bounded("30d", "36500d"));
    let r = app.run(&["check-config"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
}

#[test]
fn every_duration_key_names_its_bound() {
    let cases = [
        (
            "[fetch]\ntimeout = \"2h\"\n",
            "fetch.timeout",
            "\"2h\" is too long: at most 1h",
        ),
        (
            "[fetch]\nconnect_timeout = \"0\"\n",
            "fetch.connect_timeout",
            "must be more than 0",
        ),
        (
            "[[feed]]\nname = \"B\"\nurl = \"https://b.example/rss\"\ninterval = \"30s\"\n",
            "feed[1].interval",
            "must be at least 1m",
        ),
        (
            "[[digest]]\nname = \"w\"\nat = \"07:00\"\ngrace = \"32d\"\n[[digest.output]]\nkind = \"file\"\ndir = \"/tmp/x\"\n",
            "digest[1].grace",
            "\"32d\" is too long: at most 31d",
        ),
        (
            "[[digest]]\nname = \"w\"\nat = \"07:00\"\nwindow = \"0\"\n[[digest.output]]\nkind = \"file\"\ndir = \"/tmp/x\"\n",
            "digest[1].window",
            "must be more than 0",
        ),
    ];
    for (extra, key, needle) in cases {
        let text = format!("{MINIMAL}\n{extra}");
        let e = parse_str(&text, Path::new(ETC)).unwrap_err().to_string();
        assert!(e.contains(&format!("{key}: {needle}")), "{key}: {e}");
    }
    let smtp = MINIMAL.replace(
        "security = \"none\"",
        "security = \"none\"\ntimeout = \"90m\"",
    );
    let e = parse_str(&smtp, Path::new(ETC)).unwrap_err().to_string();
    assert!(
        e.contains("smtp.timeout: \"90m\" is too long: at most 1h"),
        "{e}"
    );
}

/// The ```toml blocks of the README, in order.
fn readme_toml_blocks() -> Vec<String> {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md");
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in readme.lines() {
        match (&mut current, line.trim_end()) {
            (None, "```toml") => current = Some(String::new()),
            (Some(b), "```") => {
                blocks.push(std::mem::take(b));
                current = None;
            }
            (Some(b), l) => {
                b.push_str(l);
                b.push('\n');
            }
            (None, _) => {}
        }
    }
    assert!(current.is_none(), "README has an unclosed ```toml block");
    blocks
}

/// The README's examples are what a new user copies: each must pass `check-config` as written
/// (only the system state folder is moved into a temporary one, and the password variable the
/// sendmail example names is set).
#[test]
fn every_example_config_in_the_readme_passes_check_config() {
    let blocks = readme_toml_blocks();
    assert!(blocks.len() >= 3, "README examples: {}", blocks.len());
    for (i, block) in blocks.iter().enumerate() {
        let app = crate::support::app::App::new(&block.replace("/var/lib/digestif", "{dir}/state"));
        let r = app.run_with_env(&["check-config"], &[("NOTES_PASSWORD", "secret")]);
        assert_eq!(
            r.code,
            0,
            "README example {} fails check-config:\n{block}\n{}{}",
            i + 1,
            r.stdout,
            r.stderr
        );
    }
}

/// Regression: `[smtp]` and `[sendmail]` stopped at their first error, so a user fixed one key,
/// re-ran `check-config` and met the next. Now each table reports all of its errors at once.
#[test]
fn regression_smtp_and_sendmail_reported_only_their_first_error() {
    let keys = |text: &str| -> Vec<String> {
        let e = parse_str(text, Path::new(ETC)).unwrap_err();
        e.each()
            .into_iter()
            .map(|e| match e {
                ConfigError::Invalid { key, .. } => key.clone(),
                other => panic!("not a located error: {other}"),
            })
            .collect()
    };
    let smtp = r#"[smtp]
host = " "
port = 0
from = "not an address"
password = "p"
timeout = "2h"
"#;
    assert_eq!(
        keys(smtp),
        // File order; the missing `username` is placed at its table's header.
        [
            "smtp.username",
            "smtp.host",
            "smtp.port",
            "smtp.from",
            "smtp.timeout"
        ]
    );
    let sendmail = "[sendmail]\ncommand = \" \"\nfrom = \"nobody\"\n";
    assert_eq!(keys(sendmail), ["sendmail.command", "sendmail.from"]);
}
