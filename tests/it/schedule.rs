//! Tests for `digestif::schedule`: fire times across DST changes, cron weekdays, catch-up,
//! duration/size parsing and jitter.

use std::time::Duration;

use digestif::schedule::{Schedule, jitter, missed_run, parse_duration, parse_size, seed_for};
use jiff::Timestamp;
use jiff::tz::TimeZone;

fn tz(name: &str) -> TimeZone {
    TimeZone::get(name).unwrap()
}

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

/// Every fire time in `(from, until]`.
fn fires(s: &Schedule, tz: &TimeZone, from: &str, until: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut t = ts(from);
    let end = ts(until);
    while let Some(n) = s.next_after(t, tz) {
        if n > end {
            break;
        }
        assert!(n > t, "next_after must move strictly forward");
        out.push(n.to_string());
        t = n;
    }
    out
}

#[test]
fn at_daily_in_utc() {
    let s = Schedule::parse_at("07:00").unwrap();
    let utc = TimeZone::UTC;
    assert_eq!(
        s.next_after(ts("2026-11-28T06:59:59Z"), &utc),
        Some(ts("2026-11-28T07:00:00Z"))
    );
    // strictly after
    assert_eq!(
        s.next_after(ts("2026-11-28T07:00:00Z"), &utc),
        Some(ts("2026-11-29T07:00:00Z"))
    );
    assert_eq!(
        s.last_at_or_before(ts("2026-11-28T07:00:00Z"), &utc),
        Some(ts("2026-11-28T07:00:00Z"))
    );
    assert_eq!(
        s.last_at_or_before(ts("2026-11-28T06:59:59Z"), &utc),
        Some(ts("2026-11-27T07:00:00Z"))
    );
}

#[test]
fn at_several_times_sorted() {
    let s = Schedule::parse_at("19:00, 07:00").unwrap();
    let berlin = tz("Europe/Berlin");
    assert_eq!(
        fires(&s, &berlin, "2026-11-28T00:00:00Z", "2026-11-29T23:59:59Z"),
        vec![
            "2026-11-28T06:00:00Z",
            "2026-11-28T18:00:00Z",
            "2026-11-29T06:00:00Z",
            "2026-11-29T18:00:00Z"
        ]
    );
}

#[test]
fn at_rejects_bad_times() {
    for bad in ["25:00", "7", "07:60", "7am", "", "07:00:00:00", "-1:00"] {
        assert!(
            Schedule::parse_at(bad).is_err(),
            "{bad:?} should be rejected"
        );
    }
    assert!(Schedule::parse_at("7:05").is_ok());
    assert!(Schedule::parse_at("23:59:59").is_ok());
}

#[test]
fn at_spring_forward_gap_fires_at_end_of_gap_berlin() {
    // 2026-03-29: Europe/Berlin jumps from 02:00 CET to 03:00 CEST; 02:30 does not exist.
    let s = Schedule::parse_at("02:30").unwrap();
    let berlin = tz("Europe/Berlin");
    assert_eq!(
        fires(&s, &berlin, "2026-03-27T12:00:00Z", "2026-03-30T12:00:00Z"),
        vec![
            "2026-03-28T01:30:00Z", // 02:30 CET
            "2026-03-29T01:00:00Z", // gap: first instant after it, 03:00 CEST
            "2026-03-30T00:30:00Z", // 02:30 CEST
        ]
    );
}

#[test]
fn at_fall_back_repeated_time_fires_once_berlin() {
    // 2026-10-25: Europe/Berlin goes back from 03:00 CEST to 02:00 CET; 02:30 occurs twice.
    let s = Schedule::parse_at("02:30").unwrap();
    let berlin = tz("Europe/Berlin");
    assert_eq!(
        fires(&s, &berlin, "2026-10-23T12:00:00Z", "2026-10-26T12:00:00Z"),
        vec![
            "2026-10-24T00:30:00Z", // CEST
            "2026-10-25T00:30:00Z", // first 02:30 (CEST) only
            "2026-10-26T01:30:00Z", // CET
        ]
    );
    // Sitting between the two 02:30s, the repeated one is not a new fire time.
    assert_eq!(
        s.next_after(ts("2026-10-25T01:00:00Z"), &berlin),
        Some(ts("2026-10-26T01:30:00Z"))
    );
    assert_eq!(
        s.last_at_or_before(ts("2026-10-25T01:45:00Z"), &berlin),
        Some(ts("2026-10-25T00:30:00Z"))
    );
}

#[test]
fn at_new_york_dst_both_ways() {
    let ny = tz("America/New_York");
    let s = Schedule::parse_at("07:00").unwrap();
    // 2026-03-08 spring forward: 07:00 EST (12:00Z) then 07:00 EDT (11:00Z)
    assert_eq!(
        fires(&s, &ny, "2026-03-07T00:00:00Z", "2026-03-09T00:00:00Z"),
        vec!["2026-03-07T12:00:00Z", "2026-03-08T11:00:00Z"]
    );
    // 2026-11-01 fall back, 01:30 happens twice: fires once at the first (EDT).
    let s = Schedule::parse_at("01:30").unwrap();
    assert_eq!(
        fires(&s, &ny, "2026-10-31T12:00:00Z", "2026-11-02T12:00:00Z"),
        vec!["2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"]
    );
    // spring forward gap 02:00-03:00: 02:15 fires at 03:00 EDT.
    let s = Schedule::parse_at("02:15").unwrap();
    assert_eq!(
        s.next_after(ts("2026-03-08T05:00:00Z"), &ny),
        Some(ts("2026-03-08T07:00:00Z"))
    );
}

#[test]
fn cron_weekdays_only() {
    let s = Schedule::parse_cron("0 7 * * 1-5").unwrap();
    let berlin = tz("Europe/Berlin");
    // 2026-11-27 is a Friday; next fire after Friday 07:00 is Monday 2026-11-30 07:00 CET.
    assert_eq!(
        fires(&s, &berlin, "2026-11-27T05:00:00Z", "2026-12-01T12:00:00Z"),
        vec![
            "2026-11-27T06:00:00Z",
            "2026-11-30T06:00:00Z",
            "2026-12-01T06:00:00Z"
        ]
    );
    // Sunday noon: the last fire was Friday.
    assert_eq!(
        s.last_at_or_before(ts("2026-11-29T12:00:00Z"), &berlin),
        Some(ts("2026-11-27T06:00:00Z"))
    );
}

#[test]
fn cron_dst_berlin_gap_and_fold() {
    let berlin = tz("Europe/Berlin");
    let s = Schedule::parse_cron("30 2 * * *").unwrap();
    assert_eq!(
        fires(&s, &berlin, "2026-03-28T12:00:00Z", "2026-03-30T12:00:00Z"),
        vec!["2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"]
    );
    assert_eq!(
        fires(&s, &berlin, "2026-10-24T12:00:00Z", "2026-10-26T12:00:00Z"),
        vec!["2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"]
    );
    // Between the two 02:30s the second one is not a new fire time.
    assert_eq!(
        s.next_after(ts("2026-10-25T01:00:00Z"), &berlin),
        Some(ts("2026-10-26T01:30:00Z"))
    );
    // An hourly pattern does fire in both halves of the repeated hour (it is not fixed-time).
    let h = Schedule::parse_cron("30 * * * *").unwrap();
    assert_eq!(
        fires(&h, &berlin, "2026-10-25T00:00:00Z", "2026-10-25T02:00:00Z"),
        vec!["2026-10-25T00:30:00Z", "2026-10-25T01:30:00Z"]
    );
}

#[test]
fn cron_aliases_and_errors() {
    assert!(Schedule::parse_cron("@daily").is_ok());
    assert!(Schedule::parse_cron("0 0 7 * * MON-FRI").is_ok());
    for bad in ["", "61 * * * *", "* * *", "every day"] {
        assert!(
            Schedule::parse_cron(bad).is_err(),
            "{bad:?} should be rejected"
        );
    }
}

#[test]
fn catch_up_within_grace_runs_missed_time() {
    let s = Schedule::parse_at("07:00").unwrap();
    let utc = TimeZone::UTC;
    let grace = Duration::from_secs(6 * 3600);
    // Down from 06:00 to 09:00: the 07:00 run was missed and is 2h old.
    let got = missed_run(
        &s,
        &utc,
        Some(ts("2026-11-27T07:00:05Z")),
        ts("2026-11-28T09:00:00Z"),
        grace,
    );
    assert_eq!(got, Some(ts("2026-11-28T07:00:00Z")));
    // Never built, still within grace: run it.
    assert_eq!(
        missed_run(&s, &utc, None, ts("2026-11-28T09:00:00Z"), grace),
        Some(ts("2026-11-28T07:00:00Z"))
    );
    // Exactly at the edge of grace still counts.
    assert_eq!(
        missed_run(&s, &utc, None, ts("2026-11-28T13:00:00Z"), grace),
        Some(ts("2026-11-28T07:00:00Z"))
    );
}

#[test]
fn catch_up_outside_grace_or_already_built_skips() {
    let s = Schedule::parse_at("07:00").unwrap();
    let utc = TimeZone::UTC;
    let grace = Duration::from_secs(6 * 3600);
    assert_eq!(
        missed_run(
            &s,
            &utc,
            Some(ts("2026-11-27T07:00:00Z")),
            ts("2026-11-28T13:00:01Z"),
            grace
        ),
        None
    );
    // Already built for today's slot.
    assert_eq!(
        missed_run(
            &s,
            &utc,
            Some(ts("2026-11-28T07:00:02Z")),
            ts("2026-11-28T09:00:00Z"),
            grace
        ),
        None
    );
    // Cron on weekends: Sunday 09:00 is far past Friday's run.
    let c = Schedule::parse_cron("0 7 * * 1-5").unwrap();
    assert_eq!(
        missed_run(&c, &utc, None, ts("2026-11-29T09:00:00Z"), grace),
        None
    );
}

#[test]
fn durations() {
    assert_eq!(
        parse_duration("48h").unwrap(),
        Duration::from_secs(48 * 3600)
    );
    assert_eq!(parse_duration("30m").unwrap(), Duration::from_secs(1800));
    assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
    assert_eq!(parse_duration("2d").unwrap(), Duration::from_secs(172_800));
    assert_eq!(parse_duration("90s").unwrap(), Duration::from_secs(90));
    assert_eq!(parse_duration("1w").unwrap(), Duration::from_secs(604_800));
    assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
    assert_eq!(parse_duration("0").unwrap(), Duration::ZERO);
    for bad in [
        "5 minutes",
        "",
        "h",
        "10",
        "3y",
        "1.5h",
        "-1h",
        "99999999999999999999d",
    ] {
        assert!(parse_duration(bad).is_err(), "{bad:?} should be rejected");
    }
}

#[test]
fn sizes() {
    assert_eq!(parse_size("10MiB").unwrap(), 10 * 1024 * 1024);
    assert_eq!(parse_size("512KiB").unwrap(), 512 * 1024);
    assert_eq!(parse_size("1000000").unwrap(), 1_000_000);
    assert_eq!(parse_size("2MB").unwrap(), 2_000_000);
    assert_eq!(parse_size("1gib").unwrap(), 1 << 30);
    for bad in ["", "MiB", "10 parsecs", "-1", "99999999999GiB"] {
        assert!(parse_size(bad).is_err(), "{bad:?} should be rejected");
    }
}

#[test]
fn jitter_is_deterministic_and_bounded() {
    let hour = Duration::from_secs(3600);
    let a = jitter(hour, seed_for("Northwind News"));
    assert_eq!(a, jitter(hour, seed_for("Northwind News")));
    let mut distinct = std::collections::HashSet::new();
    for i in 0..200u64 {
        let j = jitter(hour, i);
        assert!(j <= hour / 10, "{j:?} exceeds 10% of the interval");
        distinct.insert(j);
    }
    assert!(distinct.len() > 150, "jitter should spread feeds out");
    assert_eq!(jitter(Duration::ZERO, 7), Duration::ZERO);
}
