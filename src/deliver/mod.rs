//! Delivering rendered digests: email over SMTP ([`send_smtp`]), through a local sendmail
//! program ([`send_sendmail`]), or as files in a folder ([`write_files`]).
//!
//! This module owns the email message format (one `multipart/alternative` message with a
//! text/plain and a text/html part, built by [`build_message`]), the SMTP security policy
//! (credentials are only ever sent over TLS unless `security = none` is explicit), and the
//! classification of failures into transient (retry later) and permanent
//! ([`DeliverError::is_transient`]).

mod files;
mod headers;
mod sendmail;
mod smtp;

use std::path::PathBuf;
use std::time::SystemTime;

use lettre::Message;
use lettre::message::header::ContentType;
use lettre::message::{Mailbox, MultiPart, SinglePart};

pub use files::{feed_path, file_path, replace_file, write_files};
pub use headers::{ListHeaders, list_id, list_label, unsubscribe_uri};
pub use sendmail::send_sendmail;
pub use smtp::{Security, SmtpSettings, send_smtp, send_smtp_observed};

/// What goes into one digest email.
#[derive(Debug, Clone, PartialEq)]
pub struct EmailContent {
    pub subject: String,
    /// The text/plain alternative.
    pub text: String,
    /// The text/html alternative.
    pub html: String,
    /// Stable Message-ID derived from the outbox id (with or without angle brackets), so a
    /// retried delivery is recognisable as the same message. Without a domain (no `@`), the
    /// From address's domain is used.
    pub message_id: String,
    pub date: jiff::Timestamp,
    /// The digest's list identity (List-Id, List-Unsubscribe, List-Archive); see
    /// [`ListHeaders`].
    pub list: Option<ListHeaders>,
}

/// Errors while building or delivering a digest.
#[derive(Debug, thiserror::Error)]
pub enum DeliverError {
    #[error("invalid {role} address {address:?}: {source}")]
    Address {
        role: &'static str,
        address: String,
        source: lettre::address::AddressError,
    },
    #[error("no recipients given")]
    NoRecipients,
    #[error("invalid Message-ID {0:?}: expected local@domain without spaces")]
    MessageId(String),
    #[error("invalid mail header: {0}")]
    Header(String),
    #[error("building the email message: {0}")]
    Build(#[from] lettre::error::Error),
    #[error("SMTP configuration for {host}:{port}: {message}")]
    Config {
        host: String,
        port: u16,
        message: String,
    },
    #[error("SMTP server {host}:{port} does not offer STARTTLS (security = starttls)")]
    StartTlsUnavailable { host: String, port: u16 },
    #[error("SMTP delivery via {host}:{port} failed during {stage}: {source}")]
    Smtp {
        host: String,
        port: u16,
        stage: &'static str,
        source: lettre::transport::smtp::Error,
    },
    #[error("SMTP delivery via {host}:{port} timed out after {secs} s")]
    Timeout { host: String, port: u16, secs: u64 },
    /// The whole message went to the server but its reply never came (timeout, dropped
    /// connection): it may or may not have been accepted.
    #[error(
        "SMTP server {host}:{port} took the message but did not confirm it ({cause}); \
         it may have arrived"
    )]
    Unconfirmed {
        host: String,
        port: u16,
        cause: String,
    },
    #[error("could not run sendmail command {command}: {source}")]
    SendmailSpawn {
        command: PathBuf,
        source: std::io::Error,
    },
    #[error("sendmail command {command} failed ({status}): {stderr}")]
    SendmailFailed {
        command: PathBuf,
        /// Exit code, when the process exited normally.
        code: Option<i32>,
        status: String,
        stderr: String,
    },
    #[error("writing {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// sysexits.h codes a sendmail implementation uses for "try again later".
const EX_UNAVAILABLE: i32 = 69;
const EX_OSERR: i32 = 71;
const EX_IOERR: i32 = 74;
const EX_TEMPFAIL: i32 = 75;

impl DeliverError {
    /// True when retrying later may succeed: the server is unreachable or times out, a 4xx
    /// reply (e.g. 451 at DATA), a TLS handshake failure, sendmail exiting with
    /// EX_TEMPFAIL/EX_UNAVAILABLE/EX_OSERR/EX_IOERR or killed by a signal, a disk full.
    /// False for configuration and content problems (bad address, 5xx reply, authentication
    /// refused, STARTTLS missing, sendmail not found).
    pub fn is_transient(&self) -> bool {
        match self {
            DeliverError::Smtp { source, .. } => {
                if source.is_permanent() || source.is_client() {
                    false
                } else {
                    // 4xx replies, connection/network errors, timeouts, TLS handshake
                    // problems and unparsable replies.
                    true
                }
            }
            DeliverError::Timeout { .. } | DeliverError::Unconfirmed { .. } => true,
            DeliverError::SendmailFailed { code, .. } => match code {
                None => true,
                Some(c) => matches!(*c, EX_TEMPFAIL | EX_UNAVAILABLE | EX_OSERR | EX_IOERR),
            },
            DeliverError::SendmailSpawn { source, .. } => !matches!(
                source.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied
            ),
            DeliverError::Io { source, .. } => matches!(
                source.kind(),
                std::io::ErrorKind::StorageFull
                    | std::io::ErrorKind::Interrupted
                    | std::io::ErrorKind::WouldBlock
                    | std::io::ErrorKind::TimedOut
            ),
            DeliverError::Address { .. }
            | DeliverError::NoRecipients
            | DeliverError::MessageId(_)
            | DeliverError::Header(_)
            | DeliverError::Build(_)
            | DeliverError::Config { .. }
            | DeliverError::StartTlsUnavailable { .. } => false,
        }
    }
}

fn parse_mailbox(role: &'static str, s: &str) -> Result<Mailbox, DeliverError> {
    s.trim()
        .parse::<Mailbox>()
        .map_err(|source| DeliverError::Address {
            role,
            address: s.to_string(),
            source,
        })
}

impl DeliverError {
    /// True when the message may have been delivered although the attempt failed: retrying soon
    /// would likely send a second copy.
    pub fn is_uncertain(&self) -> bool {
        matches!(self, DeliverError::Unconfirmed { .. })
    }
}

/// The Subject header value as it goes on the wire. A subject that is plain printable ASCII
/// without "=?" is kept as it is; any other (non-ASCII, control characters, or text shaped like
/// an RFC 2047 encoded-word, which a feed title can carry into `{{ top }}`) is encoded whole as
/// UTF-8 B encoded-words, so a reader decodes exactly the original text and never a CR LF or a
/// header of the feed's making. Words are at most 75 characters, folded onto continuation lines.
pub fn encode_subject(subject: &str) -> String {
    use base64::Engine as _;
    let plain = subject.bytes().all(|b| (0x20..0x7f).contains(&b)) && !subject.contains("=?");
    if plain {
        return subject.to_string();
    }
    // 39 bytes of UTF-8 → 52 base64 characters → a 64-character encoded-word.
    const CHUNK: usize = 39;
    let mut words = Vec::new();
    let mut start = 0;
    while start < subject.len() {
        let mut end = (start + CHUNK).min(subject.len());
        while !subject.is_char_boundary(end) {
            end -= 1;
        }
        let b64 = base64::engine::general_purpose::STANDARD.encode(&subject.as_bytes()[start..end]);
        words.push(format!("=?utf-8?b?{b64}?="));
        start = end;
    }
    words.join("\r\n ")
}

/// The Subject header, always written as [`encode_subject`] gives it.
#[derive(Debug, Clone)]
struct SafeSubject(String);

impl lettre::message::header::Header for SafeSubject {
    fn name() -> lettre::message::header::HeaderName {
        lettre::message::header::HeaderName::new_from_ascii_str("Subject")
    }

    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(SafeSubject(s.to_string()))
    }

    fn display(&self) -> lettre::message::header::HeaderValue {
        lettre::message::header::HeaderValue::dangerous_new_pre_encoded(
            Self::name(),
            self.0.clone(),
            encode_subject(&self.0),
        )
    }
}

/// Normalises a Message-ID to `<local@domain>`; refuses anything that could break the header.
fn normalize_message_id(id: &str) -> Result<String, DeliverError> {
    let inner = id.trim().trim_start_matches('<').trim_end_matches('>');
    let ok = !inner.is_empty()
        && inner.matches('@').count() == 1
        && !inner.starts_with('@')
        && !inner.ends_with('@')
        && inner.chars().all(|c| {
            c.is_ascii_graphic()
                && !matches!(
                    c,
                    '<' | '>' | '"' | '\\' | '(' | ')' | ',' | ';' | ':' | '[' | ']'
                )
        });
    if ok {
        Ok(format!("<{inner}>"))
    } else {
        Err(DeliverError::MessageId(id.to_string()))
    }
}

/// Builds the digest email: `multipart/alternative` with exactly two parts, text/plain then
/// text/html (UTF-8, transfer encoding chosen by lettre: 7bit, quoted-printable or base64), and
/// headers Date, Message-ID (on the From domain), From, To, Subject (whitespace folded to single
/// spaces, control characters dropped, RFC 2047 encoded whole when not plain ASCII or when it
/// contains "=?"), plus the list and auto-reply headers of [`headers`].
pub fn build_message(from: &str, to: &[String], c: &EmailContent) -> Result<Message, DeliverError> {
    if to.is_empty() {
        return Err(DeliverError::NoRecipients);
    }
    let from = parse_mailbox("From", from)?;
    let message_id = headers::message_id_on(&c.message_id, &from);
    let mut b = Message::builder()
        .from(from.clone())
        .header(SafeSubject(
            c.subject
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .replace(char::is_control, ""),
        ))
        .date(SystemTime::from(c.date))
        .message_id(Some(normalize_message_id(&message_id)?));
    b = headers::add_list_headers(b, &from, c.list.as_ref())?;
    for r in to {
        b = b.to(parse_mailbox("To", r)?);
    }
    let body = MultiPart::alternative()
        .singlepart(
            SinglePart::builder()
                .header(ContentType::TEXT_PLAIN)
                .body(c.text.clone()),
        )
        .singlepart(
            SinglePart::builder()
                .header(ContentType::TEXT_HTML)
                .body(c.html.clone()),
        );
    Ok(b.multipart(body)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_id_is_bracketed_and_validated() {
        assert_eq!(
            normalize_message_id("digest-42.abc@digestif")
                .ok()
                .as_deref(),
            Some("<digest-42.abc@digestif>")
        );
        assert_eq!(normalize_message_id("<a@b>").ok().as_deref(), Some("<a@b>"));
        assert!(normalize_message_id("a b@c").is_err());
        assert!(normalize_message_id("a@b\r\nBcc: x@y").is_err());
        assert!(normalize_message_id("nodomain").is_err());
    }
}
