//! The email edition of a digest: the front page (followed and top stories) in full, then the
//! rest as one headline line each, under a size budget for the HTML part.
//!
//! Gmail clips a message whose HTML is larger than about 102 KB ("View entire message"), and
//! other clients get slow long before that, so the email holds what fits in the budget (default
//! [`DEFAULT_EMAIL_BUDGET`]) and its footer says how many stories were left out and where the
//! full digest is. What gives way first: when the front page with every report line does not
//! fit, each story keeps its first [`EMAIL_LINES_PER_STORY`] report lines (the others are
//! counted, with their outlets); other headlines give way (fairly across outlets: each outlet's
//! newest first, round robin); then the lowest-ranked front-page stories turn into one-line
//! entries, then those too are left out. The sizes are measured on the rendered HTML, so a
//! template override is budgeted the same way. The text part is always complete.

use super::view::{Edition, EmailPlan};
use super::{Digest, Format, RenderError, Renderer, Section};

/// Default budget of the email's HTML part in bytes (90 KB, under Gmail's ~102 KB clipping).
pub const DEFAULT_EMAIL_BUDGET: u64 = 90_000;

/// Report lines per story when the whole front page with all its report lines does not fit.
pub const EMAIL_LINES_PER_STORY: usize = 3;

/// Smallest budget accepted: the header, footer and a few lines must fit.
pub const MIN_EMAIL_BUDGET: u64 = 16_000;

/// How the email edition is made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailOptions {
    /// Largest HTML part in bytes.
    pub budget: u64,
    /// Where the full digest is, named in the footer when stories are left out: an http(s) URL
    /// (linked) or a file path (shown as text).
    pub full_digest: Option<String>,
}

impl Default for EmailOptions {
    fn default() -> Self {
        EmailOptions {
            budget: DEFAULT_EMAIL_BUDGET,
            full_digest: None,
        }
    }
}

/// A rendered email edition and what it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailEdition {
    /// The text/html part (at most the budget when it can be met at all).
    pub html: String,
    /// The text/plain part: the complete digest.
    pub text: String,
    /// Stories shown in full.
    pub full: usize,
    /// Stories shown as one line.
    pub brief: usize,
    /// Stories not shown in the HTML part.
    pub left_out: usize,
}

/// The largest `n` in `0..=max` for which `fits(n)` holds, assuming `fits` is monotone
/// (true up to some point, false after); 0 when none fits.
fn largest_fitting(
    max: usize,
    mut fits: impl FnMut(usize) -> Result<bool, RenderError>,
) -> Result<usize, RenderError> {
    if fits(max)? {
        return Ok(max);
    }
    let (mut lo, mut hi) = (0usize, max); // fits(lo) assumed, !fits(hi) known
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if fits(mid)? {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Ok(lo)
}

/// Other stories interleaved across outlets: each outlet's first story (in digest order), then
/// each outlet's second, and so on; outlets in order of their first story.
fn interleaved_others(d: &Digest) -> Vec<usize> {
    let mut by_outlet: Vec<(&str, Vec<usize>)> = Vec::new();
    for (i, s) in d.stories.iter().enumerate() {
        if s.section != Section::Other {
            continue;
        }
        let outlet = s
            .articles
            .first()
            .map(|a| a.feed.as_str())
            .unwrap_or_default();
        match by_outlet.iter_mut().find(|(o, _)| *o == outlet) {
            Some((_, v)) => v.push(i),
            None => by_outlet.push((outlet, vec![i])),
        }
    }
    let rounds = by_outlet.iter().map(|(_, v)| v.len()).max().unwrap_or(0);
    let mut out = Vec::new();
    for r in 0..rounds {
        out.extend(by_outlet.iter().filter_map(|(_, v)| v.get(r).copied()));
    }
    out
}

impl Renderer {
    /// Renders the email edition of `d` (see the module docs): the HTML part within
    /// `opts.budget` bytes whenever the header and footer alone fit, and the complete text part.
    pub fn render_email(
        &self,
        d: &Digest,
        opts: &EmailOptions,
    ) -> Result<EmailEdition, RenderError> {
        let (plan, html) = self.fit_email(d, opts, true)?;
        let shown = plan.full + plan.brief;
        Ok(EmailEdition {
            html,
            text: self.render(d, Format::Txt)?,
            full: plan.full,
            brief: plan.brief,
            left_out: d.stories.len().saturating_sub(shown),
        })
    }

    /// The email edition's HTML without the inbox preheader (for the Atom feed).
    pub(crate) fn render_feed_edition(
        &self,
        d: &Digest,
        opts: &EmailOptions,
    ) -> Result<String, RenderError> {
        Ok(self.fit_email(d, opts, false)?.1)
    }

    /// Chooses what the email edition shows under the budget and renders it.
    fn fit_email(
        &self,
        d: &Digest,
        opts: &EmailOptions,
        preheader: bool,
    ) -> Result<(EmailPlan, String), RenderError> {
        let front: Vec<usize> = d
            .stories
            .iter()
            .enumerate()
            .filter(|(_, s)| s.section != Section::Other)
            .map(|(i, _)| i)
            .collect();
        let budget = usize::try_from(opts.budget).unwrap_or(usize::MAX);
        let mut plan = EmailPlan {
            full: front.len(),
            brief: 0,
            max_lines: None,
            front,
            others: interleaved_others(d),
            full_digest: opts.full_digest.clone(),
            budget,
            preheader,
        };
        let size = |plan: &EmailPlan| -> Result<usize, RenderError> {
            Ok(self
                .render_view(d, Format::Html, Edition::Email(plan))?
                .len())
        };
        if size(&plan)? > budget {
            plan.max_lines = Some(EMAIL_LINES_PER_STORY);
        }
        if size(&plan)? > budget {
            // Fewer stories in full, the others of the front page as one line each — so every
            // front-page story is at least named — when that can fit at all.
            let n = plan.front.len();
            let mut p = plan.clone();
            let all_named = |p: &mut EmailPlan, full: usize| {
                p.full = full;
                p.brief = n - full;
            };
            all_named(&mut p, 0);
            let keep_named = size(&p)? <= budget;
            plan.full = largest_fitting(n, |full| {
                if keep_named {
                    all_named(&mut p, full);
                } else {
                    p.full = full;
                }
                Ok(size(&p)? <= budget)
            })?;
        }
        let mut p = plan.clone();
        plan.brief = largest_fitting(plan.brief_candidates(), |brief| {
            p.brief = brief;
            Ok(size(&p)? <= budget)
        })?;
        let html = self.render_view(d, Format::Html, Edition::Email(&plan))?;
        Ok((plan, html))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn largest_fitting_finds_the_boundary() {
        for limit in 0..=10usize {
            let got = largest_fitting(10, |n| Ok(n <= limit)).ok();
            assert_eq!(got, Some(limit));
        }
        // Nothing fits: 0.
        assert_eq!(largest_fitting(5, |_| Ok(false)).ok(), Some(0));
    }
}
