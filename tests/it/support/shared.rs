//! The development data in `../shared`, and the one rule for a test that needs it: on a plain clone
//! (no `../shared`) the test prints why it skips and passes, but with `DIGESTIF_REQUIRE_SHARED=1`
//! (set by `.ci/run`, where the data is always present) a missing file or folder fails the test, so
//! CI cannot go green without running it.

use std::path::PathBuf;

/// The variable that turns missing data into a failure.
pub const REQUIRE_VAR: &str = "DIGESTIF_REQUIRE_SHARED";

/// `$DIGESTIF_SHARED` when set, else `<crate>/../shared`.
pub fn shared_dir() -> PathBuf {
    match std::env::var_os("DIGESTIF_SHARED") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared")),
    }
}

/// True when `DIGESTIF_REQUIRE_SHARED` is set to anything but empty or `0`.
pub fn required() -> bool {
    std::env::var(REQUIRE_VAR).is_ok_and(|v| !v.is_empty() && v != "0")
}

/// `<shared>/<rel>` when it exists. When it does not: with `DIGESTIF_REQUIRE_SHARED` set, the
/// calling test fails; otherwise it prints a skip message and gets `None` (and should return).
#[track_caller]
pub fn require(rel: &str) -> Option<PathBuf> {
    let p = shared_dir().join(rel);
    if p.exists() {
        return Some(p);
    }
    assert!(
        !required(),
        "{} is missing, and {REQUIRE_VAR} says the development data must be there",
        p.display()
    );
    eprintln!(
        "skipping: {} is absent (tests that need ../shared pass without it)",
        p.display()
    );
    None
}
