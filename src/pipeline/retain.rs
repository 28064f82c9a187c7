//! Retention: applying the configured `retention` to the store in small batches after a digest
//! build (each batch its own short transaction, so a fetch waiting for the store never waits
//! long), then giving the freed pages back to the file system.

use jiff::Timestamp;

use super::{Context, Result};
use crate::store::{RetentionReport, retention_horizon};

/// Rows removed per transaction.
const BATCH: usize = 500;
/// Free pages given back per incremental-vacuum step.
const VACUUM_PAGES: u32 = 2048;

/// Removes what is older than `retention` at `now` (nothing of articles, digests and stories
/// when it is zero; old background counts always), batch by batch until nothing is left, and
/// returns what was removed.
pub fn apply_retention(ctx: &Context, now: Timestamp) -> Result<RetentionReport> {
    let horizon = retention_horizon(now, ctx.settings.retention);
    let mut total = RetentionReport::default();
    loop {
        let step = ctx.with_store(|s| s.retention_step(horizon, now, BATCH))?;
        if step.is_empty() {
            break;
        }
        total.add(&step);
    }
    if total.is_empty() {
        return Ok(total);
    }
    // A database made before incremental vacuum keeps its free pages for reuse: stop when a step
    // gives nothing back.
    let mut left = u64::MAX;
    loop {
        let now_left = ctx.with_store(|s| s.incremental_vacuum(VACUUM_PAGES))?;
        if now_left == 0 || now_left >= left {
            break;
        }
        left = now_left;
    }
    tracing::info!(
        articles = total.articles,
        digests = total.digests,
        stories = total.stories,
        "retention removed old rows"
    );
    Ok(total)
}
