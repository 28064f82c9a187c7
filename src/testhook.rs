//! Named pause points for the crash and watchdog tests, which spawn the real binary and must hit
//! a precise moment (inside the ingest transaction, inside the digest transaction, during a long
//! digest build) deterministically.
//!
//! Inactive unless the environment variable `DIGESTIF_TEST_PAUSE` names a point:
//! `DIGESTIF_TEST_PAUSE=ingest-commit` pauses there until the process is killed;
//! `DIGESTIF_TEST_PAUSE=digest-build:3000` pauses 3000 ms and goes on. On reaching the point the
//! process writes `digestif: test pause at <point>` to stderr, which the test waits for.
//! Points: `ingest-commit` (articles written, transaction not yet committed), `digest-commit`
//! (digest, deliveries and used articles written, not yet committed), `digest-build` (before
//! grouping starts). `DIGESTIF_TEST_PANIC=prepare:<feed>` panics instead ([`panic_at`]).

use std::io::Write;
use std::sync::OnceLock;
use std::time::Duration;

/// The environment variable naming the pause point.
pub const ENV: &str = "DIGESTIF_TEST_PAUSE";

fn spec() -> Option<&'static (String, Option<u64>)> {
    static SPEC: OnceLock<Option<(String, Option<u64>)>> = OnceLock::new();
    SPEC.get_or_init(|| {
        let v = std::env::var(ENV).ok()?;
        let v = v.trim();
        if v.is_empty() {
            return None;
        }
        Some(match v.split_once(':') {
            Some((name, ms)) => (name.to_string(), ms.trim().parse().ok()),
            None => (v.to_string(), None),
        })
    })
    .as_ref()
}

/// The environment variable naming a panic point and its subject: `prepare:<feed name>` panics
/// while that feed is prepared (parsed, normalised, tagged), as a bug in that code would.
pub const PANIC_ENV: &str = "DIGESTIF_TEST_PANIC";

/// Panics at `point` for `subject` when the tests asked for it (see [`PANIC_ENV`]).
pub fn panic_at(point: &str, subject: &str) {
    if let Ok(v) = std::env::var(PANIC_ENV)
        && v.split_once(':') == Some((point, subject))
    {
        panic!("test panic at {point} for {subject}");
    }
}

/// Pauses at `point` when the tests asked for it (see the module docs); otherwise returns at once.
pub fn pause(point: &str) {
    let Some((name, ms)) = spec() else {
        return;
    };
    if name != point {
        return;
    }
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "digestif: test pause at {point}");
    let _ = err.flush();
    drop(err);
    match ms {
        Some(ms) => std::thread::sleep(Duration::from_millis(*ms)),
        None => loop {
            std::thread::sleep(Duration::from_secs(3600));
        },
    }
}
