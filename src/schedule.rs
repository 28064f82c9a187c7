//! When digests fire: fixed local times (`at = "07:00"`) or cron patterns, evaluated in the
//! configured IANA time zone, DST-correct; the catch-up decision after downtime; and the small
//! value parsers the config shares (durations like `"1h30m"`, sizes like `"10MiB"`) plus the
//! deterministic per-feed fetch jitter.
//!
//! Everything here is pure: time comes in as arguments, nothing reads the clock.
//!
//! DST rules for `at` schedules (cron patterns follow croner, which applies the same rules to
//! fixed-time patterns):
//! - a local time skipped by a spring-forward (Europe/Berlin 2026-03-29 02:30) fires at the first
//!   instant after the gap (03:00 CEST);
//! - a local time repeated by a fall-back (Europe/Berlin 2026-10-25 02:30) fires once, at its
//!   first occurrence.

use std::str::FromStr;
use std::time::Duration;

use jiff::civil::{Date, Time};
use jiff::tz::{AmbiguousOffset, TimeZone};
use jiff::{SignedDuration, Timestamp, ToSpan};

/// When a digest is built.
#[derive(Debug, Clone)]
pub enum Schedule {
    /// Fixed local wall-clock times, sorted and deduplicated ("07:00" or ["07:00", "19:00"]).
    At(Vec<Time>),
    /// A cron pattern (the source text and the parsed pattern); 5 fields, optional seconds
    /// as a sixth leading field, aliases such as `@daily`.
    Cron(String, Box<croner::Cron>),
}

impl Schedule {
    /// Parses one `at` value: `"HH:MM"` or `"HH:MM:SS"`; several times may be separated by
    /// commas (`"07:00, 19:00"`).
    pub fn parse_at(s: &str) -> Result<Schedule, String> {
        let mut times = Vec::new();
        for part in s.split(',') {
            times.push(parse_clock_time(part.trim())?);
        }
        Ok(Schedule::from_times(times))
    }

    /// Builds an `At` schedule from several times (sorted, deduplicated).
    pub fn from_times(mut times: Vec<Time>) -> Schedule {
        times.sort();
        times.dedup();
        Schedule::At(times)
    }

    /// Parses a cron pattern (`"0 7 * * 1-5"`, `"@daily"`, or 6 fields with leading seconds).
    pub fn parse_cron(s: &str) -> Result<Schedule, String> {
        let text = s.trim();
        if text.is_empty() {
            return Err("empty cron pattern".to_string());
        }
        let cron = croner::parser::CronParser::builder()
            .seconds(croner::parser::Seconds::Optional)
            .build()
            .parse(text)
            .map_err(|e| format!("invalid cron pattern {text:?}: {e}"))?;
        Ok(Schedule::Cron(text.to_string(), Box::new(cron)))
    }

    /// Human-readable form for logs and `digestif check`.
    pub fn describe(&self) -> String {
        match self {
            Schedule::At(times) => {
                let list: Vec<String> = times
                    .iter()
                    .map(|t| t.strftime("%H:%M").to_string())
                    .collect();
                format!("daily at {}", list.join(", "))
            }
            Schedule::Cron(text, _) => format!("cron \"{text}\""),
        }
    }

    /// Next fire time strictly after `after`, in zone `tz`, DST-correct (see module docs).
    pub fn next_after(&self, after: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
        match self {
            Schedule::At(times) => {
                let today = after.to_zoned(tz.clone()).date();
                let mut best: Option<Timestamp> = None;
                // A window of days around `after` covers every offset a zone can have.
                for delta in -1i64..=2 {
                    let day = today.checked_add(delta.days()).ok()?;
                    for t in times {
                        if let Some(ts) = resolve_local(day, *t, tz)
                            && ts > after
                            && best.is_none_or(|b| ts < b)
                        {
                            best = Some(ts);
                        }
                    }
                }
                best
            }
            Schedule::Cron(_, cron) => {
                let z = after.to_zoned(tz.clone());
                cron.find_next_occurrence(&z, false)
                    .ok()
                    .map(|z| z.timestamp())
            }
        }
    }

    /// Most recent fire time at or before `now` (for catch-up).
    pub fn last_at_or_before(&self, now: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
        match self {
            Schedule::At(times) => {
                let today = now.to_zoned(tz.clone()).date();
                let mut best: Option<Timestamp> = None;
                for delta in -2i64..=1 {
                    let day = today.checked_add(delta.days()).ok()?;
                    for t in times {
                        if let Some(ts) = resolve_local(day, *t, tz)
                            && ts <= now
                            && best.is_none_or(|b| ts > b)
                        {
                            best = Some(ts);
                        }
                    }
                }
                best
            }
            Schedule::Cron(_, cron) => {
                let z = now.to_zoned(tz.clone());
                cron.find_previous_occurrence(&z, true)
                    .ok()
                    .map(|z| z.timestamp())
            }
        }
    }
}

/// The instant a local wall-clock time on `day` denotes in `tz`: the first occurrence when the
/// clock is repeated, the first instant after the gap when the clock skips it.
fn resolve_local(day: Date, t: Time, tz: &TimeZone) -> Option<Timestamp> {
    let dt = day.to_datetime(t);
    let amb = tz.to_ambiguous_timestamp(dt);
    match amb.offset() {
        AmbiguousOffset::Unambiguous { offset } => offset.to_timestamp(dt).ok(),
        AmbiguousOffset::Fold { before, .. } => before.to_timestamp(dt).ok(),
        AmbiguousOffset::Gap { after, .. } => {
            // Interpreted with the post-transition offset the instant lies before the
            // transition; the next transition is the end of the gap.
            let early = after.to_timestamp(dt).ok()?;
            tz.following(early).next().map(|tr| tr.timestamp())
        }
    }
}

fn parse_clock_time(s: &str) -> Result<Time, String> {
    let bad = || format!("invalid time {s:?} (expected \"HH:MM\" or \"HH:MM:SS\", 24-hour clock)");
    let parts: Vec<&str> = s.split(':').collect();
    if !(2..=3).contains(&parts.len()) {
        return Err(bad());
    }
    let mut nums = [0i8; 3];
    for (i, p) in parts.iter().enumerate() {
        if p.is_empty() || p.len() > 2 || !p.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        nums[i] = p.parse().map_err(|_| bad())?;
    }
    Time::new(nums[0], nums[1], nums[2], 0).map_err(|_| bad())
}

/// Catch-up decision: given the last time the digest was built (`None` = never), now, and the
/// grace period, returns the missed scheduled time that should be run now, if any: the most
/// recent fire time at or before `now`, provided it is later than `last_built` and no older
/// than `grace`.
pub fn missed_run(
    s: &Schedule,
    tz: &TimeZone,
    last_built: Option<Timestamp>,
    now: Timestamp,
    grace: Duration,
) -> Option<Timestamp> {
    let due = s.last_at_or_before(now, tz)?;
    if let Some(built) = last_built
        && built >= due
    {
        return None;
    }
    let late = now.duration_since(due);
    let grace = SignedDuration::try_from(grace).unwrap_or(SignedDuration::MAX);
    (late <= grace).then_some(due)
}

/// Formats a duration the way [`parse_duration`] reads it, in the largest units that say it
/// exactly ("30d", "1h30m", "1m30s", "250ms"; "0" for zero).
pub fn format_duration(d: Duration) -> String {
    const UNITS: [(&str, u128); 5] = [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
        ("ms", 1),
    ];
    let mut ms = d.as_millis();
    if ms == 0 {
        return "0".into();
    }
    let mut out = String::new();
    for (unit, size) in UNITS {
        let n = ms / size;
        if n > 0 {
            out.push_str(&n.to_string());
            out.push_str(unit);
            ms -= n * size;
        }
    }
    out
}

/// Parses a duration: one or more `<integer><unit>` groups with no spaces, units `ms`, `s`,
/// `m`, `h`, `d`, `w` (`"48h"`, `"30m"`, `"1h30m"`, `"2d"`, `"90s"`); a bare `"0"` is zero.
///
/// ```
/// use std::time::Duration;
/// assert_eq!(digestif::schedule::parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
/// assert!(digestif::schedule::parse_duration("5 minutes").is_err());
/// ```
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = |why: &str| {
        format!("invalid duration {s:?}: {why} (examples: \"90s\", \"30m\", \"1h30m\", \"2d\")")
    };
    let text = s.trim();
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    if text.is_empty() {
        return Err(bad("empty"));
    }
    let bytes = text.as_bytes();
    let mut i = 0;
    let mut total: u128 = 0;
    while i < bytes.len() {
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        if start == i {
            return Err(bad("expected a number"));
        }
        let n: u128 = text[start..i]
            .parse()
            .map_err(|_| bad("number too large"))?;
        let ustart = i;
        while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
            i += 1;
        }
        let unit_ms: u128 = match &text[ustart..i] {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 604_800_000,
            "" => return Err(bad("missing unit")),
            _ => return Err(bad("unknown unit")),
        };
        total = n
            .checked_mul(unit_ms)
            .and_then(|v| total.checked_add(v))
            .filter(|v| *v <= u64::MAX as u128)
            .ok_or_else(|| bad("too large"))?;
    }
    Ok(Duration::from_millis(total as u64))
}

/// Parses a byte size: an integer with an optional unit `B`, `KB`/`MB`/`GB` (powers of 1000) or
/// `KiB`/`MiB`/`GiB` (powers of 1024), case-insensitive (`"10MiB"`, `"512KiB"`, `"1000000"`).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let text = s.trim();
    let bad = |why: &str| {
        format!("invalid size {s:?}: {why} (examples: \"10MiB\", \"512KiB\", \"1000000\")")
    };
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    if split == 0 {
        return Err(bad("expected a number"));
    }
    let n: u64 = text[..split].parse().map_err(|_| bad("number too large"))?;
    let mult: u64 = match text[split..].trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1_000,
        "m" | "mb" => 1_000_000,
        "g" | "gb" => 1_000_000_000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        _ => return Err(bad("unknown unit")),
    };
    n.checked_mul(mult).ok_or_else(|| bad("too large"))
}

/// Formats a byte size the way [`parse_size`] reads it: in the largest binary unit that says it
/// exactly (`"10MiB"`, `"1536KiB"`), else in bytes (`"1000"`).
pub fn format_size(n: u64) -> String {
    const UNITS: [(&str, u32); 3] = [("GiB", 30), ("MiB", 20), ("KiB", 10)];
    for (unit, shift) in UNITS {
        if n != 0 && n.trailing_zeros() >= shift {
            return format!("{}{unit}", n >> shift);
        }
    }
    n.to_string()
}

/// Resolves a configured time zone: `"UTC"` (any case), `"local"` (the system's zone) or an IANA
/// name (`"Europe/Berlin"`). The one parser of zone names: the config validates `timezone` with
/// it, and the renderer's [`crate::digest::Renderer::with_timezone`] uses it too.
pub fn parse_time_zone(name: &str) -> Result<TimeZone, String> {
    if name.eq_ignore_ascii_case("utc") {
        Ok(TimeZone::UTC)
    } else if name == "local" {
        TimeZone::try_system().map_err(|e| format!("cannot determine the system time zone: {e}"))
    } else {
        TimeZone::get(name).map_err(|_| {
            format!("unknown time zone {name:?} (use an IANA name such as \"Europe/Berlin\", \"UTC\" or \"local\")")
        })
    }
}

/// Deterministic jitter for a feed's fetch interval: a value in `[0, interval / 10]` derived
/// from `seed` (use [`seed_for`] on the feed name), so feeds spread out but every restart
/// schedules a feed the same way.
pub fn jitter(interval: Duration, seed: u64) -> Duration {
    let max = interval.as_nanos() / 10;
    if max == 0 {
        return Duration::ZERO;
    }
    let r = crate::hash::splitmix64(seed) as u128;
    let nanos = r % (max + 1);
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

/// A stable seed for [`jitter`] from a feed name (FNV-1a 64).
pub fn seed_for(name: &str) -> u64 {
    crate::hash::fnv1a(name.as_bytes())
}

impl FromStr for Schedule {
    type Err = String;
    /// `"07:00"`-style strings become `At`, anything else is tried as a cron pattern.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.trim().bytes().next().is_some_and(|b| b.is_ascii_digit()) && s.contains(':') {
            Schedule::parse_at(s)
        } else {
            Schedule::parse_cron(s)
        }
    }
}
