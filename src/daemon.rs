//! The long-running service (`digestif run`): per-feed fetch timers, digest timers in the configured
//! time zone with catch-up after downtime, delivery retries, SIGHUP reload, clean shutdown on
//! SIGTERM/SIGINT, and the systemd notify protocol (READY, RELOADING, STOPPING, watchdog).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use jiff::Timestamp;
use tokio::signal::unix::{SignalKind, signal};

use crate::config::{self, Settings};
use crate::pipeline::{self, Context};

/// Errors that end the daemon.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error(transparent)]
    Pipeline(#[from] pipeline::PipelineError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("cannot install signal handler: {0}")]
    Signal(std::io::Error),
}

/// How long work in progress may go on after SIGTERM/SIGINT (the stop must take under 10 s).
const SHUTDOWN_GRACE: Duration = Duration::from_secs(7);

/// Longest sleep between wake-ups; bounds the damage of a clock jump.
const MAX_SLEEP: Duration = Duration::from_secs(300);

fn notify(state: &[sd_notify::NotifyState<'_>]) {
    // Outside systemd NOTIFY_SOCKET is unset and this is a no-op.
    let _ = sd_notify::notify(state);
}

/// When each digest fires next, computed from its schedule.
fn next_digest_times(settings: &Settings, after: Timestamp) -> HashMap<String, Timestamp> {
    settings
        .digests
        .iter()
        .filter_map(|d| {
            Some((
                d.name.clone(),
                d.schedule.next_after(after, &settings.timezone)?,
            ))
        })
        .collect()
}

/// Builds and delivers the digests whose scheduled time passed while the daemon was down, within
/// their grace period.
async fn catch_up(ctx: &Context, now: Timestamp) -> Result<(), DaemonError> {
    let settings = ctx.settings.clone();
    for d in &settings.digests {
        let last = ctx.with_store(|s| s.last_build(&d.name))?.map(|(t, _)| t);
        let since_start = last.or_else(|| {
            ctx.with_store(|s| s.feed_states())
                .ok()
                .and_then(|f| f.iter().filter_map(|s| s.last_fetch).min())
        });
        // A fresh install (no build, nothing ever fetched) missed nothing: a run scheduled
        // before the state existed is not caught up; the first digest comes at the next
        // scheduled time (or at once with `digestif once`).
        let Some(since_start) = since_start else {
            tracing::info!(digest = %d.name, "first start: the first digest comes at its next scheduled time");
            continue;
        };
        if let Some(missed) = crate::schedule::missed_run(
            &d.schedule,
            &settings.timezone,
            Some(since_start),
            now,
            d.grace,
        ) {
            tracing::info!(digest = %d.name, scheduled = %missed, "catching up a digest missed while down");
            pipeline::fetch_all(ctx, false).await?;
            pipeline::build_digest(ctx, d, Timestamp::now(), false)?;
        }
    }
    Ok(())
}

/// Runs the daemon until SIGTERM/SIGINT. `config_path` is re-read on SIGHUP.
pub async fn run(config_path: PathBuf, settings: Settings) -> Result<(), DaemonError> {
    let mut sighup = signal(SignalKind::hangup()).map_err(DaemonError::Signal)?;
    let mut sigterm = signal(SignalKind::terminate()).map_err(DaemonError::Signal)?;
    let mut sigint = signal(SignalKind::interrupt()).map_err(DaemonError::Signal)?;

    // READY only once the database is open and checked (Context::new): the daemon can serve.
    let mut ctx = Context::new(settings)?;
    let _watchdog = Watchdog::start();
    notify(&[
        sd_notify::NotifyState::Ready,
        sd_notify::NotifyState::Status("started"),
    ]);
    tracing::info!(config = %config_path.display(), feeds = ctx.settings.feeds.len(), digests = ctx.settings.digests.len(), "digestif running");

    let mut next_digest = next_digest_times(&ctx.settings, Timestamp::now());
    let mut first = true;
    loop {
        // What is due now, and when the next thing is due.
        let wake = {
            let work = async {
                if first {
                    catch_up(&ctx, Timestamp::now()).await?;
                }
                let wake = tick(&ctx, &mut next_digest).await?;
                Ok::<_, DaemonError>(wake)
            };
            tokio::pin!(work);
            // SIGHUP during work waits (the signal stays queued) and is handled once the work is done.
            let finished = tokio::select! {
                r = &mut work => Some(r),
                _ = sigterm.recv() => None,
                _ = sigint.recv() => None,
            };
            match finished {
                Some(Ok(w)) => w,
                Some(Err(e)) => {
                    tracing::error!("{e}");
                    Timestamp::now()
                        .checked_add(jiff::SignedDuration::from_secs(60))
                        .unwrap_or(Timestamp::MAX)
                }
                None => {
                    // Stop requested mid-work: let it finish for a few seconds, so that a delivery
                    // already accepted by the mail server is recorded as sent and not repeated after
                    // the restart; then stop regardless (systemd allows 30 s).
                    if tokio::time::timeout(SHUTDOWN_GRACE, &mut work)
                        .await
                        .is_err()
                    {
                        tracing::warn!("work still running at shutdown was abandoned");
                    }
                    break;
                }
            }
        };
        first = false;
        let now = Timestamp::now();
        let sleep = if wake > now {
            Duration::try_from(wake.duration_since(now))
                .unwrap_or(MAX_SLEEP)
                .min(MAX_SLEEP)
        } else {
            Duration::from_millis(10)
        };
        notify(&[sd_notify::NotifyState::Status(&format!(
            "next wake-up at {wake}"
        ))]);
        tokio::select! {
            _ = tokio::time::sleep(sleep) => {}
            _ = sigterm.recv() => { return shutdown(); }
            _ = sigint.recv() => { return shutdown(); }
            _ = sighup.recv() => { reload(&config_path, &mut ctx, &mut next_digest); }
        }
    }
    shutdown()
}

fn shutdown() -> Result<(), DaemonError> {
    notify(&[sd_notify::NotifyState::Stopping]);
    tracing::info!("shutting down");
    Ok(())
}

/// Pings the systemd watchdog from its own task, every half `WatchdogSec`, for as long as the
/// daemon runs: while it sleeps and while it works, so a first fetch round of many slow feeds or
/// a long digest build is not taken for a hang. (Blocking work runs on the CPU pool, the writer
/// thread or one reactor thread at a time, so the task keeps its turn; a runtime that stops
/// scheduling tasks altogether stops the pings and systemd restarts the service.) Stops on drop.
struct Watchdog(tokio::task::JoinHandle<()>);

impl Watchdog {
    fn start() -> Option<Watchdog> {
        let every = watchdog_interval()?;
        Some(Watchdog(tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                notify(&[sd_notify::NotifyState::Watchdog]);
            }
        })))
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn watchdog_interval() -> Option<Duration> {
    sd_notify::watchdog_enabled()
        .filter(|d| !d.is_zero())
        .map(|d| d / 2)
}

/// Re-reads the configuration; an invalid one keeps the old settings and logs why.
fn reload(path: &Path, ctx: &mut Context, next_digest: &mut HashMap<String, Timestamp>) {
    notify(&[sd_notify::NotifyState::Reloading, monotonic()]);
    match config::load(path) {
        Ok((settings, warnings)) => {
            for w in warnings {
                tracing::warn!("{w}");
            }
            match Context::new(settings) {
                Ok(new_ctx) => {
                    *ctx = new_ctx;
                    *next_digest = next_digest_times(&ctx.settings, Timestamp::now());
                    tracing::info!("configuration reloaded");
                }
                Err(e) => tracing::error!("reload failed, keeping the old configuration: {e}"),
            }
        }
        Err(e) => tracing::error!("invalid configuration, keeping the old one: {e}"),
    }
    notify(&[sd_notify::NotifyState::Ready]);
}

fn monotonic() -> sd_notify::NotifyState<'static> {
    sd_notify::NotifyState::monotonic_usec_now()
        .unwrap_or(sd_notify::NotifyState::Status("reloading"))
}

/// Does whatever is due now: fetches due feeds, builds due digests, delivers due deliveries.
/// Returns when the next thing is due.
async fn tick(
    ctx: &Context,
    next_digest: &mut HashMap<String, Timestamp>,
) -> Result<Timestamp, DaemonError> {
    let now = Timestamp::now();
    // Feeds: fetch_all(force = false) fetches exactly those that are due.
    let reports = pipeline::fetch_all(ctx, false).await?;
    for r in &reports {
        if let pipeline::FeedStatus::Fetched { new, .. } = r.status {
            tracing::debug!(feed = %r.feed, new, "fetched");
        }
    }
    let settings = ctx.settings.clone();
    let mut built = false;
    for d in &settings.digests {
        let Some(&at) = next_digest.get(&d.name) else {
            continue;
        };
        if at <= now {
            pipeline::build_digest(ctx, d, Timestamp::now(), false)?;
            built = true;
            if let Some(n) = d.schedule.next_after(now, &settings.timezone) {
                next_digest.insert(d.name.clone(), n);
            } else {
                next_digest.remove(&d.name);
            }
        }
    }
    let delivered = pipeline::deliver_pending(ctx, Timestamp::now(), false).await?;
    for f in &delivered.failed {
        tracing::warn!("{f}");
    }
    if built {
        pipeline::apply_retention(ctx, Timestamp::now())?;
    }
    pipeline::update_metrics(ctx);
    // Next wake-up: earliest of the feeds' due times, the digests' times and the outbox.
    let mut wake = Timestamp::MAX;
    for f in settings.feeds.iter().filter(|f| f.enabled) {
        wake = wake.min(pipeline::feed_due_at(ctx, f)?);
    }
    for t in next_digest.values() {
        wake = wake.min(*t);
    }
    if let Some(t) = ctx.with_store(|s| s.next_delivery_due())? {
        wake = wake.min(t);
    }
    Ok(wake.max(Timestamp::now()))
}
