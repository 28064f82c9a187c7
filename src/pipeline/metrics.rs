//! The `metrics_file`: the operator's status (feeds, digests, outbox) in the Prometheus text
//! exposition format, rewritten atomically after each round for node_exporter's textfile
//! collector. The numbers are those of `status --json`, so the two never disagree.

use std::fmt::Write as _;
use std::path::Path;

use jiff::Timestamp;

use super::status::{StatusReport, status};
use super::{Context, PipelineError, Result};

/// One metric family: its name, type and help line, then its samples.
struct Family<'a> {
    out: &'a mut String,
}

impl Family<'_> {
    fn start<'a>(out: &'a mut String, name: &str, kind: &str, help: &str) -> Family<'a> {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        Family { out }
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) -> &mut Self {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                let _ = write!(self.out, "{k}=\"{}\"", escape_label(v));
            }
            self.out.push('}');
        }
        let _ = writeln!(self.out, " {value}");
        self
    }
}

/// A label value as the exposition format wants it: `\`, `"` and newlines escaped.
fn escape_label(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s
}

fn seconds(t: Timestamp) -> f64 {
    t.as_millisecond() as f64 / 1000.0
}

/// The status report in the Prometheus text format.
pub fn render_metrics(r: &StatusReport) -> String {
    let mut out = String::new();
    feed_metrics(&mut out, r);
    digest_metrics(&mut out, r);
    outbox_metrics(&mut out, r);
    let name = "digestif_metrics_generated_timestamp_seconds";
    Family::start(&mut out, name, "gauge", "When this file was written.").sample(
        name,
        &[],
        seconds(r.generated_at),
    );
    out
}

/// One family with a sample per item (a feed, a digest) labelled `label` = the item's name; an
/// item whose value is `None` (a time that has not happened) has no sample.
struct PerItem<'a, T> {
    name: &'a str,
    kind: &'a str,
    help: &'a str,
    value: fn(&T) -> Option<f64>,
}

fn per_item<T>(out: &mut String, label: &str, items: &[(&str, &T)], families: &[PerItem<'_, T>]) {
    for fam in families {
        let mut f = Family::start(out, fam.name, fam.kind, fam.help);
        for (item, x) in items {
            if let Some(v) = (fam.value)(x) {
                f.sample(fam.name, &[(label, item)], v);
            }
        }
    }
}

fn feed_metrics(out: &mut String, r: &StatusReport) {
    let name = "digestif_feeds";
    let mut f = Family::start(out, name, "gauge", "Configured feeds by health.");
    for status in ["ok", "failing", "new", "disabled"] {
        let n = r.feeds.iter().filter(|x| x.status == status).count();
        f.sample(name, &[("status", status)], n as f64);
    }
    let feeds: Vec<(&str, &super::FeedHealth)> =
        r.feeds.iter().map(|x| (x.name.as_str(), x)).collect();
    per_item(
        out,
        "feed",
        &feeds,
        &[
            PerItem {
                name: "digestif_feed_up",
                kind: "gauge",
                help: "1 when the feed's last fetch succeeded, 0 when it is failing (new and disabled feeds are left out).",
                value: |x| {
                    matches!(x.status, "ok" | "failing")
                        .then(|| f64::from(u8::from(x.status == "ok")))
                },
            },
            PerItem {
                name: "digestif_feed_consecutive_failures",
                kind: "gauge",
                help: "Failed fetches of the feed in a row.",
                value: |x| Some(f64::from(x.consecutive_failures)),
            },
            PerItem {
                name: "digestif_feed_items_seen_total",
                kind: "counter",
                help: "Items fetched from the feed, ever.",
                value: |x| Some(x.items_seen as f64),
            },
            PerItem {
                name: "digestif_feed_last_success_timestamp_seconds",
                kind: "gauge",
                help: "When the feed was last fetched without error.",
                value: |x| x.last_success.map(seconds),
            },
        ],
    );
}

fn digest_metrics(out: &mut String, r: &StatusReport) {
    let digests: Vec<(&str, &super::DigestStatus)> =
        r.digests.iter().map(|d| (d.name.as_str(), d)).collect();
    per_item(
        out,
        "digest",
        &digests,
        &[
            PerItem {
                name: "digestif_digests_built",
                kind: "gauge",
                help: "Digests of this name in the outbox (built, not yet removed by retention).",
                value: |d| Some(d.builds as f64),
            },
            PerItem {
                name: "digestif_digest_last_built_timestamp_seconds",
                kind: "gauge",
                help: "When the digest was last built.",
                value: |d| d.last_built.map(seconds),
            },
            PerItem {
                name: "digestif_digest_last_sent_timestamp_seconds",
                kind: "gauge",
                help: "When a build of the digest was last delivered.",
                value: |d| d.last_sent_at.map(seconds),
            },
            PerItem {
                name: "digestif_digest_next_timestamp_seconds",
                kind: "gauge",
                help: "When the digest is scheduled next.",
                value: |d| d.next_at.map(seconds),
            },
        ],
    );
}

fn outbox_metrics(out: &mut String, r: &StatusReport) {
    let name = "digestif_deliveries_pending";
    Family::start(
        out,
        name,
        "gauge",
        "Deliveries waiting to go out (pending, failed or uncertain).",
    )
    .sample(name, &[], r.pending as f64);
    let name = "digestif_deliveries_failed";
    Family::start(
        out,
        name,
        "gauge",
        "Deliveries waiting to go out that failed at least once.",
    )
    .sample(name, &[], r.failed as f64);
    let name = "digestif_deliveries_uncertain";
    Family::start(
        out,
        name,
        "gauge",
        "Deliveries waiting to go out that the server may have received without confirming.",
    )
    .sample(name, &[], r.uncertain as f64);
}

/// Rewrites the `metrics_file` (when configured) with the status at `now`. Returns the path
/// written.
pub fn write_metrics(ctx: &Context, now: Timestamp) -> Result<Option<&Path>> {
    let Some(path) = ctx.settings.metrics_file.as_deref() else {
        return Ok(None);
    };
    let text = render_metrics(&status(ctx, now)?);
    crate::deliver::replace_file(path, text.as_bytes()).map_err(PipelineError::Metrics)?;
    Ok(Some(path))
}

/// [`write_metrics`] at the end of a round: a file that cannot be written is logged, never a
/// reason to fail the round (the digest matters more than its monitoring).
pub fn update_metrics(ctx: &Context) {
    if let Err(e) = write_metrics(ctx, Timestamp::now()) {
        tracing::warn!("metrics_file not updated: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape_label(r#"a "b" \c"#), r#"a \"b\" \\c"#);
        assert_eq!(escape_label("two\nlines"), "two\\nlines");
    }
}
