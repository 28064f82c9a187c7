//! The digest as a feed: an Atom 1.0 document (RFC 4287) of the last digests of one name, each
//! entry holding that digest's HTML (its email edition, without the head and the preheader),
//! so a feed reader can subscribe to the digests.
//!
//! Ids are stable: an entry's id is derived from the digest's name, outbox id and build time,
//! the feed's id from the digest's name and where the feed lives, so rewriting the feed after
//! each build never makes a reader show old digests as new.

use jiff::Timestamp;
use quick_xml::escape::escape;
use sha2::{Digest as _, Sha256};

use super::{Digest, EmailOptions, RenderError, Renderer};

/// Digests kept in the Atom feed unless configured otherwise.
pub const DEFAULT_ATOM_ENTRIES: usize = 10;

/// One stored digest to put in the feed.
#[derive(Debug, Clone, Copy)]
pub struct AtomItem<'a> {
    /// Outbox id of the digest.
    pub id: i64,
    pub digest: &'a Digest,
}

/// A `urn:uuid:` made from a SHA-256 of `parts` (version 8, name-based), stable for the same
/// parts.
pub fn stable_urn(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0u8]);
    }
    let d = h.finalize();
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    b[6] = (b[6] & 0x0f) | 0x80; // version 8
    b[8] = (b[8] & 0x3f) | 0x80; // RFC 4122 variant
    let x = hex::encode(b);
    format!(
        "urn:uuid:{}-{}-{}-{}-{}",
        &x[0..8],
        &x[8..12],
        &x[12..16],
        &x[16..20],
        &x[20..32]
    )
}

/// The id of a digest's entry: the same digest always gets the same id.
pub fn entry_id(name: &str, outbox_id: i64, built_at: Timestamp) -> String {
    stable_urn(&[
        "digestif-entry",
        name,
        &outbox_id.to_string(),
        &built_at.as_second().to_string(),
    ])
}

/// The id of a digest's feed, given where the feed is written (its path or URL).
pub fn feed_id(name: &str, location: &str) -> String {
    stable_urn(&["digestif-feed", name, location])
}

fn rfc3339(t: Timestamp) -> String {
    // Whole seconds, UTC, "Z": the form every Atom consumer reads.
    Timestamp::from_second(t.as_second())
        .unwrap_or(t)
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// The inner HTML of `<body>`, or the whole document when it has none.
fn body_of(html: &str) -> &str {
    let start = html
        .find("<body")
        .and_then(|i| html[i..].find('>').map(|j| i + j + 1));
    let end = html.rfind("</body>");
    match (start, end) {
        (Some(s), Some(e)) if s <= e => html[s..e].trim(),
        _ => html,
    }
}

impl Renderer {
    /// Renders the Atom feed of `items` (newest first is the usual order; entries keep the
    /// order given). `location` identifies the feed (its file path), `link` is the digest's
    /// web address if any (feed and entry `alternate` link). Each entry's content is the
    /// email edition's HTML body under `budget` bytes.
    pub fn render_atom(
        &self,
        name: &str,
        location: &str,
        link: Option<&str>,
        items: &[AtomItem<'_>],
        budget: u64,
    ) -> Result<String, RenderError> {
        let updated = items
            .iter()
            .map(|i| i.digest.generated_at)
            .max()
            .unwrap_or(Timestamp::UNIX_EPOCH);
        let link = link.filter(|l| l.starts_with("https://") || l.starts_with("http://"));
        let mut out = String::with_capacity(4096 + items.len() * budget as usize);
        out.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
        out.push_str("<feed xmlns=\"http://www.w3.org/2005/Atom\">\n");
        out.push_str(&format!("<id>{}</id>\n", feed_id(name, location)));
        out.push_str(&format!("<title>{}</title>\n", escape(name)));
        out.push_str(&format!("<updated>{}</updated>\n", rfc3339(updated)));
        out.push_str("<author><name>digestif</name></author>\n");
        out.push_str(&format!(
            "<generator version=\"{}\">digestif</generator>\n",
            env!("CARGO_PKG_VERSION")
        ));
        if let Some(l) = link {
            out.push_str(&format!(
                "<link rel=\"alternate\" type=\"text/html\" href=\"{}\"/>\n",
                escape(l)
            ));
        }
        let opts = EmailOptions {
            budget,
            full_digest: link.map(str::to_string),
        };
        for item in items {
            out.push_str(&self.atom_entry(name, item, link, &opts)?);
        }
        out.push_str("</feed>\n");
        Ok(out)
    }

    fn atom_entry(
        &self,
        name: &str,
        item: &AtomItem<'_>,
        link: Option<&str>,
        opts: &EmailOptions,
    ) -> Result<String, RenderError> {
        let d = item.digest;
        let title = if !d.title.trim().is_empty() {
            d.title.clone()
        } else if !d.subject.trim().is_empty() {
            d.subject.clone()
        } else {
            self.title(d, None)?
        };
        let html = self.render_feed_edition(d, opts)?;
        let mut e = String::with_capacity(html.len() + 512);
        e.push_str("<entry>\n");
        e.push_str(&format!(
            "<id>{}</id>\n",
            entry_id(name, item.id, d.generated_at)
        ));
        e.push_str(&format!("<title>{}</title>\n", escape(title.as_str())));
        e.push_str(&format!("<updated>{}</updated>\n", rfc3339(d.generated_at)));
        e.push_str(&format!(
            "<published>{}</published>\n",
            rfc3339(d.generated_at)
        ));
        if let Some(l) = link {
            e.push_str(&format!(
                "<link rel=\"alternate\" type=\"text/html\" href=\"{}\"/>\n",
                escape(l)
            ));
        }
        e.push_str(&format!(
            "<content type=\"html\">{}</content>\n",
            escape(body_of(&html))
        ));
        e.push_str("</entry>\n");
        Ok(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urns_are_stable_and_distinct() {
        let t = Timestamp::from_second(1_700_000_000).unwrap_or(Timestamp::UNIX_EPOCH);
        assert_eq!(entry_id("daily", 3, t), entry_id("daily", 3, t));
        assert_ne!(entry_id("daily", 3, t), entry_id("daily", 4, t));
        assert_ne!(entry_id("daily", 3, t), entry_id("weekly", 3, t));
        let u = feed_id("daily", "/srv/digests/daily.atom");
        assert!(u.starts_with("urn:uuid:") && u.len() == 45, "{u}");
        assert_eq!(&u[23..24], "8");
    }

    #[test]
    fn body_is_cut_out_of_a_document() {
        assert_eq!(
            body_of("<html><body class=\"x\">\n<p>a</p>\n</body></html>"),
            "<p>a</p>"
        );
        assert_eq!(body_of("<p>b</p>"), "<p>b</p>");
    }
}
