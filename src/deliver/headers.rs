//! The headers a digest mailer sends besides From/To/Subject/Date: a Message-ID on the From
//! domain, `List-Id` (RFC 2919) so clients can filter and label the digest, `Auto-Submitted:
//! auto-generated` (RFC 3834) and `X-Auto-Response-Suppress: All` so vacation responders and
//! Exchange out-of-office replies stay quiet, `Precedence: list` for older responders, and —
//! when configured — `List-Unsubscribe` (RFC 2369, a mailto: address) and `List-Archive` (the
//! digest's `link`).

use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MessageBuilder};

use super::DeliverError;

/// The mailing-list identity of one digest.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ListHeaders {
    /// The digest's name; becomes the list label (`daily` → `<daily.example.org>`).
    pub name: String,
    /// Human-readable description shown by some clients (the digest's title); only sent when
    /// it is printable ASCII.
    pub description: Option<String>,
    /// `mailto:` URI (or a bare address) for `List-Unsubscribe`.
    pub unsubscribe: Option<String>,
    /// http(s) URL of the digest on the web, for `List-Archive`.
    pub archive: Option<String>,
}

/// The list label of a digest name: lower-case ASCII letters, digits and `-` (anything else
/// becomes `-`), dot-separated words kept, never empty.
pub fn list_label(name: &str) -> String {
    let mapped: String = name
        .trim()
        .chars()
        .map(|c| match c.to_ascii_lowercase() {
            c @ ('a'..='z' | '0'..='9' | '-' | '.') => c,
            _ => '-',
        })
        .collect();
    let words: Vec<String> = mapped
        .split('.')
        .map(|w| {
            let mut out = String::with_capacity(w.len());
            for c in w.trim_matches('-').chars() {
                if !(c == '-' && out.ends_with('-')) {
                    out.push(c);
                }
            }
            out
        })
        .filter(|w| !w.is_empty())
        .collect();
    if words.is_empty() {
        "digest".to_string()
    } else {
        words.join(".")
    }
}

/// `List-Id` value: `"description" <label.domain>` (description only when printable ASCII
/// without quotes or backslashes).
pub fn list_id(list: &ListHeaders, domain: &str) -> String {
    let id = format!(
        "<{}.{}>",
        list_label(&list.name),
        domain.to_ascii_lowercase()
    );
    match list.description.as_deref().map(str::trim) {
        Some(d)
            if !d.is_empty()
                && d.chars()
                    .all(|c| c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ') =>
        {
            format!("\"{d}\" {id}")
        }
        _ => id,
    }
}

/// Turns a configured unsubscribe target into a `mailto:` URI: `mailto:…` is kept, a bare
/// address gets the scheme. Anything else (an https URL would need RFC 8058 one-click POST,
/// which a digest has no server for) is refused.
pub fn unsubscribe_uri(s: &str) -> Result<String, String> {
    let s = s.trim();
    let (uri, addr) = match s.get(..7) {
        Some(p) if p.eq_ignore_ascii_case("mailto:") => (s.to_string(), &s[7..]),
        _ => (format!("mailto:{s}"), s),
    };
    let addr = addr.split('?').next().unwrap_or_default();
    let ok = addr.parse::<lettre::Address>().is_ok()
        && uri.chars().all(|c| c.is_ascii_graphic())
        && !uri.contains(['<', '>', ',']);
    if ok {
        Ok(uri)
    } else {
        Err(format!(
            "{s:?} is not an email address or mailto: URI (e.g. \"mailto:me@example.org?subject=unsubscribe\")"
        ))
    }
}

fn raw(name: &'static str, value: String) -> HeaderValue {
    // Every value is built here from validated ASCII parts, so it needs no further encoding.
    HeaderValue::dangerous_new_pre_encoded(
        HeaderName::new_from_ascii_str(name),
        value.clone(),
        value,
    )
}

/// The Message-ID: `id` as given when it has a domain, else `<id@domain-of-from>`.
pub fn message_id_on(id: &str, from: &Mailbox) -> String {
    let inner = id.trim().trim_start_matches('<').trim_end_matches('>');
    if inner.contains('@') {
        inner.to_string()
    } else {
        format!("{inner}@{}", from.email.domain())
    }
}

/// Adds the list and auto-reply headers (see the module docs) to a message being built.
pub fn add_list_headers(
    mut b: MessageBuilder,
    from: &Mailbox,
    list: Option<&ListHeaders>,
) -> Result<MessageBuilder, DeliverError> {
    b = b
        .raw_header(raw("Auto-Submitted", "auto-generated".into()))
        .raw_header(raw("X-Auto-Response-Suppress", "All".into()))
        .raw_header(raw("Precedence", "list".into()));
    let Some(list) = list else {
        return Ok(b);
    };
    b = b.raw_header(raw("List-Id", list_id(list, from.email.domain())));
    if let Some(u) = &list.unsubscribe {
        let uri = unsubscribe_uri(u).map_err(DeliverError::Header)?;
        b = b.raw_header(raw("List-Unsubscribe", format!("<{uri}>")));
    }
    if let Some(a) = &list.archive {
        let a = a.trim();
        if (a.starts_with("https://") || a.starts_with("http://"))
            && a.chars().all(|c| c.is_ascii_graphic())
            && !a.contains(['<', '>'])
        {
            b = b.raw_header(raw("List-Archive", format!("<{a}>")));
        }
    }
    Ok(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_label_is_a_dot_atom() {
        assert_eq!(list_label("daily"), "daily");
        assert_eq!(list_label("Morning News!"), "morning-news");
        assert_eq!(list_label("..x..y.."), "x.y");
        assert_eq!(list_label("ünï"), "n");
        assert_eq!(list_label("***"), "digest");
    }

    #[test]
    fn list_id_carries_a_safe_description() {
        let mut l = ListHeaders {
            name: "daily".into(),
            description: Some("Daily news".into()),
            ..Default::default()
        };
        assert_eq!(
            list_id(&l, "Example.org"),
            "\"Daily news\" <daily.example.org>"
        );
        l.description = Some("Nachrichten — täglich".into());
        assert_eq!(list_id(&l, "example.org"), "<daily.example.org>");
        l.description = Some("say \"hi\"".into());
        assert_eq!(list_id(&l, "example.org"), "<daily.example.org>");
    }

    #[test]
    fn unsubscribe_accepts_mailto_and_bare_addresses_only() {
        assert_eq!(
            unsubscribe_uri("me@example.org").as_deref(),
            Ok("mailto:me@example.org")
        );
        assert_eq!(
            unsubscribe_uri("MAILTO:me@example.org?subject=stop").as_deref(),
            Ok("MAILTO:me@example.org?subject=stop")
        );
        assert!(unsubscribe_uri("https://example.org/unsub").is_err());
        assert!(unsubscribe_uri("mailto:not an address").is_err());
        assert!(unsubscribe_uri("a@b.example>, <mailto:x@y.example").is_err());
    }
}
