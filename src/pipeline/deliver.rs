//! Delivery: what waits in the outbox goes out (files, SMTP, sendmail), rendered from the stored
//! JSON; each failure is classified (transient or permanent) and its retry scheduled.

use std::collections::HashMap;
use std::time::Duration;

use jiff::Timestamp;

use super::status::describe_target;
use super::{Context, PipelineError, Result, Target, add};
use crate::config::OutputSettings;
use crate::deliver::{self, DeliverError, EmailContent, ListHeaders};
use crate::digest::{AtomItem, DEFAULT_ATOM_ENTRIES, Digest, EmailOptions, Format};
use crate::store::{self, Delivery, StoredDigest};

/// The result of a delivery round.
#[derive(Debug, Clone, Default)]
pub struct DeliveryReport {
    pub sent: Vec<String>,
    pub failed: Vec<String>,
}

/// Delay before retry `attempt` (1-based) of a failed delivery: 1 min doubling, at most 6 h.
pub fn delivery_backoff(attempt: u32) -> Duration {
    let secs = 60u64.saturating_mul(1u64 << attempt.saturating_sub(1).min(12));
    Duration::from_secs(secs.min(6 * 3600))
}

/// Delivers what waits in the outbox: everything (`all`) or what is due at `now`. A stored digest is
/// rendered from its stored JSON, never rebuilt. Each delivery is marked `sending` before it starts
/// and `sent` after; a failure is recorded with the next attempt time.
pub async fn deliver_pending(ctx: &Context, now: Timestamp, all: bool) -> Result<DeliveryReport> {
    // A crash after a body went out leaves its delivery `sending`: it becomes `uncertain` and
    // waits, rather than being sent again at once.
    for d in ctx.with_store(|s| s.recover_interrupted_deliveries(now))? {
        tracing::warn!(
            "delivery {} of digest #{} was interrupted after the message went to the server; \
             it may have arrived, next attempt at {}",
            d.id,
            d.digest_id,
            d.next_attempt
        );
    }
    let pending = ctx.with_store(|s| s.pending_deliveries(if all { None } else { Some(now) }))?;
    deliver_these(ctx, pending).await
}

/// Re-delivers digest `digest_id` from the outbox to every one of its targets (`resend`): its
/// deliveries are queued again and sent now, rendered from the stored JSON — never rebuilt.
pub async fn resend(ctx: &Context, digest_id: i64) -> Result<DeliveryReport> {
    let now = Timestamp::now();
    let queued = ctx.with_store(|s| s.requeue_deliveries(digest_id, now))?;
    if queued == 0 {
        return Err(PipelineError::NothingToResend(digest_id));
    }
    let pending: Vec<Delivery> = ctx
        .with_store(|s| s.pending_deliveries(None))?
        .into_iter()
        .filter(|d| d.digest_id == digest_id)
        .collect();
    deliver_these(ctx, pending).await
}

/// Delivers `pending` (outbox rows), recording each outcome.
async fn deliver_these(ctx: &Context, pending: Vec<Delivery>) -> Result<DeliveryReport> {
    let mut report = DeliveryReport::default();
    let mut cache: HashMap<i64, (StoredDigest, Digest)> = HashMap::new();
    for p in pending {
        if let std::collections::hash_map::Entry::Vacant(slot) = cache.entry(p.digest_id) {
            let Some(mut stored) = ctx.with_store(|s| s.digest(p.digest_id))? else {
                continue;
            };
            let digest: Digest =
                serde_json::from_str(&stored.json).map_err(|source| PipelineError::DigestJson {
                    id: stored.id,
                    source,
                })?;
            // parsed once; the text is not needed again (it is as big as the digest)
            stored.json = String::new();
            slot.insert((stored, digest));
        }
        let Some((stored, digest)) = cache.get(&p.digest_id) else {
            continue;
        };
        deliver_recorded(ctx, &p, stored, digest, &mut report).await?;
    }
    Ok(report)
}

/// Delivers `p` and records the outcome: `sending` before, then `sent`, or the failure with its
/// next attempt.
async fn deliver_recorded(
    ctx: &Context,
    p: &Delivery,
    stored: &StoredDigest,
    digest: &Digest,
    report: &mut DeliveryReport,
) -> Result<()> {
    let label = format!(
        "digest {} #{} → {}",
        stored.name,
        stored.id,
        describe_target(&p.target)
    );
    ctx.with_store(|s| s.mark_sending(p.id))?;
    let result = deliver_one(ctx, p.id, stored, digest, &p.target).await;
    let now = Timestamp::now();
    match result {
        Ok(detail) => {
            ctx.with_store(|s| s.mark_sent(p.id, now, &detail))?;
            tracing::info!("delivered {label}: {detail}");
            report.sent.push(label);
        }
        Err(DeliveryFailure {
            message: e,
            uncertain: true,
            ..
        }) => {
            // The server has the message but never confirmed it: a quick retry would likely
            // send a second copy, so wait for hours.
            let next = add(now, store::UNCERTAIN_RETRY);
            ctx.with_store(|s| s.mark_uncertain(p.id, &e, next))?;
            tracing::warn!(
                "delivery of {label} is uncertain (it may have arrived; not retried before {next}): {e}"
            );
            report.failed.push(format!("{label}: {e}"));
        }
        Err(DeliveryFailure {
            message: e,
            transient,
            ..
        }) => {
            // A permanent failure (bad address, 5xx) needs a fix by the user: retry only rarely.
            let delay = if transient {
                delivery_backoff(p.attempts + 1)
            } else {
                delivery_backoff(u32::MAX)
            };
            let next = add(now, delay);
            ctx.with_store(|s| s.mark_failed(p.id, &e, next))?;
            tracing::warn!("delivery of {label} failed (retry at {next}): {e}");
            report.failed.push(format!("{label}: {e}"));
        }
    }
    Ok(())
}

/// A failed delivery: its message, and whether retrying soon can help (else retry only rarely).
/// `uncertain`: the message may have arrived (sent, never confirmed): retry only after hours.
struct DeliveryFailure {
    message: String,
    transient: bool,
    uncertain: bool,
}

impl From<String> for DeliveryFailure {
    fn from(message: String) -> Self {
        DeliveryFailure {
            message,
            transient: true,
            uncertain: false,
        }
    }
}

impl From<DeliverError> for DeliveryFailure {
    fn from(e: DeliverError) -> Self {
        DeliveryFailure {
            transient: e.is_transient(),
            uncertain: e.is_uncertain(),
            message: e.to_string(),
        }
    }
}

type Delivered = std::result::Result<String, DeliveryFailure>;

async fn deliver_one(
    ctx: &Context,
    delivery_id: i64,
    stored: &StoredDigest,
    digest: &Digest,
    target: &str,
) -> Delivered {
    let target: Target =
        serde_json::from_str(target).map_err(|e| format!("unreadable target {target}: {e}"))?;
    match target {
        Target::File { dir, formats } => write_files(ctx, stored, digest, dir, &formats).await,
        Target::Email { to } => send_email(ctx, delivery_id, stored, digest, &to).await,
    }
}

/// Renders `digest` in each of `formats` and writes the files into `dir`; the format `atom`
/// rewrites the digest's feed instead ([`write_atom`]).
async fn write_files(
    ctx: &Context,
    stored: &StoredDigest,
    digest: &Digest,
    dir: std::path::PathBuf,
    formats: &[String],
) -> Delivered {
    let mut outputs = Vec::new();
    for f in formats.iter().filter(|f| *f != "atom") {
        let format: Format = f.parse().map_err(|e| format!("{e}"))?;
        let body = ctx
            .renderer
            .render(digest, format)
            .map_err(|e| e.to_string())?;
        outputs.push((format, body));
    }
    let local = stored
        .built_at
        .to_zoned(ctx.settings.timezone.clone())
        .datetime();
    let name = stored.name.clone();
    let files_dir = dir.clone();
    let mut paths = tokio::task::spawn_blocking(move || {
        deliver::write_files(&files_dir, &name, local, &outputs)
    })
    .await
    .map_err(|e| e.to_string())??;
    if formats.iter().any(|f| f == "atom") {
        paths.push(write_atom(ctx, stored, digest, &dir).await?);
    }
    Ok(paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", "))
}

/// Rewrites `<dir>/<digest>.atom`, the Atom feed of the last [`DEFAULT_ATOM_ENTRIES`] stored
/// digests of this name (newest first, each entry the email edition's HTML under the digest's
/// `email_budget`), atomically. Ids come from the outbox, so they stay the same across rewrites.
async fn write_atom(
    ctx: &Context,
    stored: &StoredDigest,
    digest: &Digest,
    dir: &std::path::Path,
) -> std::result::Result<std::path::PathBuf, DeliveryFailure> {
    let ids = ctx
        .with_store(|s| s.digest_ids_named(&stored.name, DEFAULT_ATOM_ENTRIES))
        .map_err(|e| e.to_string())?;
    let mut digests: Vec<(i64, Digest)> = Vec::with_capacity(ids.len());
    for id in ids {
        if id == stored.id {
            digests.push((id, digest.clone()));
            continue;
        }
        let Some(older) = ctx
            .with_store(|s| s.digest(id))
            .map_err(|e| e.to_string())?
        else {
            continue;
        };
        match serde_json::from_str::<Digest>(&older.json) {
            Ok(d) => digests.push((id, d)),
            Err(e) => tracing::warn!("digest {} #{id} left out of its Atom feed: {e}", older.name),
        }
    }
    let items: Vec<AtomItem<'_>> = digests
        .iter()
        .map(|(id, digest)| AtomItem { id: *id, digest })
        .collect();
    let (opts, list) = email_options(ctx, stored, digest).map_err(|e| e.to_string())?;
    let path = deliver::feed_path(dir, &stored.name);
    let atom = ctx
        .renderer
        .render_atom(
            &stored.name,
            &path.display().to_string(),
            list.archive.as_deref(),
            &items,
            opts.budget,
        )
        .map_err(|e| e.to_string())?;
    let target = path.clone();
    tokio::task::spawn_blocking(move || deliver::replace_file(&target, atom.as_bytes()))
        .await
        .map_err(|e| e.to_string())??;
    Ok(path)
}

/// Sends `digest` as one email to `to` through the configured transport: the email edition
/// (HTML under the digest's `email_budget`, complete text part) with the list headers. Over SMTP
/// the moment the body has gone out (just before the final ".") is recorded, so that a crash from
/// then on leaves the delivery uncertain instead of due for an immediate resend.
async fn send_email(
    ctx: &Context,
    delivery_id: i64,
    stored: &StoredDigest,
    digest: &Digest,
    to: &[String],
) -> Delivered {
    let (opts, list) = email_options(ctx, stored, digest).map_err(|e| e.to_string())?;
    let edition = ctx
        .renderer
        .render_email(digest, &opts)
        .map_err(|e| e.to_string())?;
    let content = EmailContent {
        subject: digest.subject.clone(),
        text: edition.text,
        html: edition.html,
        message_id: message_id(stored, to),
        date: stored.built_at,
        list: Some(list),
    };
    let settings = &ctx.settings;
    if let Some(smtp) = &settings.smtp {
        let password = match &smtp.password {
            Some(s) => Some(s.resolve().map_err(|e| format!("smtp password: {e}"))?),
            None => None,
        };
        let s = deliver::SmtpSettings {
            host: smtp.host.clone(),
            port: smtp.port,
            security: smtp.security,
            accept_invalid_certs: false,
            username: smtp.username.clone(),
            password,
            from: smtp.from.clone(),
            timeout: smtp.timeout,
        };
        let on_body = || {
            let marked = ctx.with_store(|st| st.mark_body_sent(delivery_id, Timestamp::now()));
            if let Err(e) = marked {
                tracing::warn!("{e}");
            }
        };
        deliver::send_smtp_observed(&s, to, &content, on_body).await?;
        Ok(format!("sent by SMTP via {}:{}", smtp.host, smtp.port))
    } else if let Some(sm) = &settings.sendmail {
        deliver::send_sendmail(&sm.command, &sm.from, to, &content).await?;
        Ok(format!("sent by {}", sm.command.display()))
    } else {
        Err("no [smtp] or [sendmail] transport configured"
            .to_string()
            .into())
    }
}

/// How the email edition of a stored digest is made, and its list identity, from the digest's
/// current settings (defaults when the digest is no longer configured): the budget, where the
/// full digest is (`link`, else the HTML file a file output writes), `List-Id` and
/// `List-Unsubscribe`.
fn email_options(
    ctx: &Context,
    stored: &StoredDigest,
    digest: &Digest,
) -> std::result::Result<(EmailOptions, ListHeaders), crate::digest::RenderError> {
    let Some(d) = ctx.settings.digest(&stored.name) else {
        let list = ListHeaders {
            name: stored.name.clone(),
            ..Default::default()
        };
        return Ok((EmailOptions::default(), list));
    };
    let link = match &d.link {
        Some(t) => Some(ctx.renderer.one_line_template(digest, "link", t)?),
        None => None,
    };
    let file = d.outputs.iter().find_map(|o| match o {
        OutputSettings::File { dir, formats } if formats.iter().any(|f| f == "html") => {
            let local = stored
                .built_at
                .to_zoned(ctx.settings.timezone.clone())
                .datetime();
            Some(
                deliver::file_path(dir, &stored.name, local, Format::Html)
                    .display()
                    .to_string(),
            )
        }
        _ => None,
    });
    let opts = EmailOptions {
        budget: d.email_budget,
        full_digest: link.clone().or(file),
    };
    let list = ListHeaders {
        name: stored.name.clone(),
        description: Some(digest.title.clone()).filter(|t| !t.is_empty()),
        unsubscribe: d.unsubscribe.clone(),
        archive: link,
    };
    Ok((opts, list))
}

/// A Message-ID stable for one digest and recipient list, so a retry is recognisable as the same mail.
fn message_id(stored: &store::StoredDigest, to: &[String]) -> String {
    use sha2::{Digest as _, Sha256};
    let mut h = Sha256::new();
    h.update(stored.name.as_bytes());
    h.update(stored.id.to_le_bytes());
    h.update(stored.built_at.as_second().to_le_bytes());
    for t in to {
        h.update(t.as_bytes());
        h.update([0]);
    }
    let hash = hex::encode(&h.finalize()[..12]);
    // No domain: the From address's domain is used (see `deliver::build_message`).
    format!(
        "digestif.{}.{}.{hash}",
        stored
            .name
            .replace(|c: char| !c.is_ascii_alphanumeric(), "-"),
        stored.id
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivery_backoff_grows_and_is_capped() {
        assert_eq!(delivery_backoff(1), Duration::from_secs(60));
        assert_eq!(delivery_backoff(2), Duration::from_secs(120));
        assert_eq!(delivery_backoff(40), Duration::from_secs(6 * 3600));
    }
}
