//! The jobs that tie the stages together, one file each: [`ingest`] (fetch → parse → normalise →
//! tag → store, with [`prepare`] on the CPU pool [`cpu`] and the round's [`writer`]), [`build`]
//! (select → group → assemble → persist in the outbox) and [`deliver`] (outbox → files, SMTP,
//! sendmail), with [`metrics`] for the operator's textfile. This module holds what they share: the [`Context`] and the
//! error type.
//!
//! Both the daemon and the one-shot CLI verbs call these; they own no timers, no signals and no
//! terminal output.

mod build;
mod cpu;
mod deliver;
mod ingest;
mod metrics;
mod prepare;
mod retain;
mod status;
mod writer;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::Timestamp;

use crate::config::{DigestSettings, Settings};
use crate::digest::Renderer;
use crate::fetch::{self, Fetcher};
use crate::store::{self, Store};

pub use build::{BuildOutcome, Target, build_digest};
pub use deliver::{DeliveryReport, deliver_pending, delivery_backoff, resend};
pub use ingest::{
    FeedReport, FeedStatus, FetchProgress, feed_backoff, feed_due_at, fetch_all,
    fetch_all_with_progress, ingest_feed,
};
pub use metrics::{render_metrics, update_metrics, write_metrics};
pub use retain::apply_retention;
pub use status::{
    DeliveryStatus, DigestStatus, FeedHealth, OutboxDigest, STATUS_DIGESTS, StatusReport, status,
};

/// Errors of the jobs (a failing feed is not one: it is recorded and reported per feed).
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error(transparent)]
    Fetch(#[from] fetch::FetchError),
    #[error(transparent)]
    Render(#[from] crate::digest::RenderError),
    #[error("stored digest {id} is unreadable: {source}")]
    DigestJson { id: i64, source: serde_json::Error },
    #[error("digest #{0} is not in the outbox or has no outputs to deliver to")]
    NothingToResend(i64),
    #[error("no digest named `{0}` in the configuration")]
    UnknownDigest(String),
    #[error("a background task failed: {0}")]
    Join(String),
    #[error("metrics_file: {0}")]
    Metrics(crate::deliver::DeliverError),
    #[error("secret for {what}: {message}")]
    Secret { what: String, message: String },
}

type Result<T> = std::result::Result<T, PipelineError>;

/// Everything a job needs.
#[derive(Clone)]
pub struct Context {
    pub settings: Arc<Settings>,
    pub store: Arc<Mutex<Store>>,
    pub fetcher: Fetcher,
    pub renderer: Arc<Renderer>,
}

impl Context {
    /// Opens the store, registers the configured feeds and builds the fetcher and renderer.
    pub fn new(settings: Settings) -> Result<Context> {
        let mut store = Store::open_in(&settings.state_dir)?;
        store.sync_feeds(
            settings
                .feeds
                .iter()
                .map(|f| (f.name.as_str(), f.url.as_str())),
        )?;
        let fetcher = Fetcher::new(fetch_options(&settings))?;
        let renderer = Renderer::new(settings.template_dir.as_deref())?
            .with_time_zone(settings.timezone.clone());
        Ok(Context {
            settings: Arc::new(settings),
            store: Arc::new(Mutex::new(store)),
            fetcher,
            renderer: Arc::new(renderer),
        })
    }

    /// Runs `f` with the store locked. The lock is never held across an await.
    pub fn with_store<T>(&self, f: impl FnOnce(&mut Store) -> T) -> T {
        let mut guard = match self.store.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        f(&mut guard)
    }
}

fn fetch_options(s: &Settings) -> fetch::FetchOptions {
    fetch::FetchOptions {
        connect_timeout: s.fetch.connect_timeout,
        timeout: s.fetch.timeout,
        max_body_bytes: s.fetch.max_body,
        max_redirects: 5,
        concurrency: s.fetch.concurrency,
        per_host: s.fetch.per_host,
        user_agent: s.fetch.user_agent.clone(),
        allow_private_redirects: s.fetch.allow_private_redirects,
        ..Default::default()
    }
}

/// The configured digest called `name`.
pub fn digest_by_name<'a>(settings: &'a Settings, name: &str) -> Result<&'a DigestSettings> {
    settings
        .digest(name)
        .ok_or_else(|| PipelineError::UnknownDigest(name.to_string()))
}

/// `t + d`, saturating at the end of time. (A `Span` of seconds panics past about 20,000 years,
/// and `interval = "1100000w"` once reached it: a `SignedDuration` and checked addition cannot.)
fn add(t: Timestamp, d: Duration) -> Timestamp {
    let d = jiff::SignedDuration::try_from(d).unwrap_or(jiff::SignedDuration::MAX);
    t.checked_add(d).unwrap_or(Timestamp::MAX)
}

/// `t - d`, saturating at the start of time.
fn sub(t: Timestamp, d: Duration) -> Timestamp {
    let d = jiff::SignedDuration::try_from(d).unwrap_or(jiff::SignedDuration::MAX);
    t.checked_sub(d).unwrap_or(Timestamp::MIN)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: `interval = "1100000w"` passed `check-config`, then panicked here: a `Span` of
    /// that many seconds is out of jiff's range. Now any duration saturates.
    #[test]
    fn regression_time_arithmetic_panicked_on_a_huge_duration() {
        let now = Timestamp::now();
        for d in [
            Duration::from_secs(1_100_000 * 7 * 86_400),
            Duration::from_secs(u64::MAX),
            Duration::MAX,
        ] {
            assert_eq!(add(now, d), Timestamp::MAX);
            assert_eq!(sub(now, d), Timestamp::MIN);
        }
        assert_eq!(
            add(Timestamp::UNIX_EPOCH, Duration::from_secs(90)).as_second(),
            90
        );
        assert_eq!(sub(Timestamp::MAX, Duration::ZERO), Timestamp::MAX);
    }
}
