//! What an operator needs to see at a glance (`digestif status`, `status --json`): each feed
//! with its health, each digest with its next scheduled time and last delivery, and the outbox —
//! pending deliveries, failed ones with their last error and next retry, and the last sent.
//!
//! This is data only (serialisable as the `status --json` contract); the CLI prints it.

use jiff::Timestamp;
use serde::Serialize;

use super::{Context, Result, Target};

/// How many recent digests the outbox part lists.
pub const STATUS_DIGESTS: usize = 10;

/// The whole status report. Field names are the `status --json` contract.
#[derive(Debug, Clone, Serialize)]
pub struct StatusReport {
    pub generated_at: Timestamp,
    pub feeds: Vec<FeedHealth>,
    pub digests: Vec<DigestStatus>,
    /// The newest digests of the outbox (at most [`STATUS_DIGESTS`]), newest first.
    pub outbox: Vec<OutboxDigest>,
    /// Deliveries waiting to go out (pending, failed or uncertain, due or not), over the whole
    /// outbox.
    pub pending: usize,
    /// Of those, how many have failed at least once.
    pub failed: usize,
    /// Of those, how many are `uncertain`: the server may have received the message but did not
    /// confirm it; each is tried again only after its long wait.
    pub uncertain: usize,
}

/// One configured feed.
#[derive(Debug, Clone, Serialize)]
pub struct FeedHealth {
    pub name: String,
    pub url: String,
    /// `ok`, `failing`, `new` (never fetched) or `disabled`.
    pub status: &'static str,
    pub consecutive_failures: u32,
    pub last_success: Option<Timestamp>,
    pub last_error: Option<String>,
    pub next_attempt: Option<Timestamp>,
    pub items_seen: u64,
}

/// One configured digest.
#[derive(Debug, Clone, Serialize)]
pub struct DigestStatus {
    pub name: String,
    pub schedule: String,
    pub next_at: Option<Timestamp>,
    pub last_built: Option<Timestamp>,
    /// Digests of this name in the outbox (built and not yet removed by `retention`).
    pub builds: u64,
    /// Outbox id of the newest digest that was delivered somewhere, and when.
    pub last_sent_id: Option<i64>,
    pub last_sent_at: Option<Timestamp>,
}

/// One digest of the outbox with its deliveries.
#[derive(Debug, Clone, Serialize)]
pub struct OutboxDigest {
    pub id: i64,
    pub name: String,
    pub built_at: Timestamp,
    pub stories: u32,
    pub articles: u32,
    pub deliveries: Vec<DeliveryStatus>,
}

/// One delivery of an outbox digest.
#[derive(Debug, Clone, Serialize)]
pub struct DeliveryStatus {
    /// "email to a@example.org" / "files in /srv/digests".
    pub target: String,
    /// `pending`, `sending`, `sent` or `failed`.
    pub status: String,
    pub attempts: u32,
    pub last_error: Option<String>,
    /// When a pending or failed delivery is tried next.
    pub next_attempt: Option<Timestamp>,
}

/// Reads the status from the store and the configuration at `now`.
pub fn status(ctx: &Context, now: Timestamp) -> Result<StatusReport> {
    let states = ctx.with_store(|s| s.feed_states())?;
    let feeds = ctx
        .settings
        .feeds
        .iter()
        .map(|f| {
            let st = states.iter().find(|s| s.name == f.name);
            let status = match st {
                _ if !f.enabled => "disabled",
                Some(s) if s.consecutive_failures > 0 => "failing",
                Some(s) if s.last_success.is_some() => "ok",
                _ => "new",
            };
            FeedHealth {
                name: f.name.clone(),
                url: f.url.clone(),
                status,
                consecutive_failures: st.map_or(0, |s| s.consecutive_failures),
                last_success: st.and_then(|s| s.last_success),
                last_error: st.and_then(|s| s.last_error.clone()),
                next_attempt: st.and_then(|s| s.next_attempt),
                items_seen: st.map_or(0, |s| s.items_seen),
            }
        })
        .collect();
    let sent = ctx.with_store(|s| s.last_sent())?;
    let mut digests = Vec::new();
    for d in &ctx.settings.digests {
        let last = sent.iter().find(|(n, _, _)| *n == d.name);
        digests.push(DigestStatus {
            name: d.name.clone(),
            schedule: d.schedule.describe(),
            next_at: d.schedule.next_after(now, &ctx.settings.timezone),
            last_built: ctx.with_store(|s| s.last_build(&d.name))?.map(|(t, _)| t),
            builds: ctx.with_store(|s| s.digest_count(Some(&d.name)))?,
            last_sent_id: last.map(|l| l.1),
            last_sent_at: last.map(|l| l.2),
        });
    }
    let waiting = ctx.with_store(|s| s.waiting_delivery_counts())?;
    let of = |status: &str| waiting.iter().find(|w| w.0 == status).map_or(0, |w| w.1);
    let mut outbox = Vec::new();
    for d in ctx.with_store(|s| s.recent_digests(STATUS_DIGESTS))? {
        let deliveries = ctx
            .with_store(|s| s.deliveries_of(d.id))?
            .into_iter()
            .map(|x| DeliveryStatus {
                target: describe_target(&x.target),
                next_attempt: (x.status != "sent").then_some(x.next_attempt),
                status: x.status,
                attempts: x.attempts,
                last_error: x.last_error,
            })
            .collect();
        outbox.push(OutboxDigest {
            id: d.id,
            name: d.name,
            built_at: d.built_at,
            stories: d.story_count,
            articles: d.article_count,
            deliveries,
        });
    }
    Ok(StatusReport {
        generated_at: now,
        feeds,
        digests,
        outbox,
        pending: waiting.iter().map(|w| w.1).sum(),
        failed: of("failed"),
        uncertain: of("uncertain"),
    })
}

/// A delivery target as a reader says it: "email to a@b", "files in /dir".
pub fn describe_target(t: &str) -> String {
    match serde_json::from_str::<Target>(t) {
        Ok(Target::File { dir, .. }) => format!("files in {}", dir.display()),
        Ok(Target::Email { to }) => format!("email to {}", to.join(", ")),
        Err(_) => t.to_string(),
    }
}
