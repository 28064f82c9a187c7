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

pub use files::write_files;
pub use headers::{ListHeaders, list_id, list_label, unsubscribe_uri};
pub use sendmail::send_sendmail;
pub use smtp::{Security, SmtpSettings, send_smtp};

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
            DeliverError::Timeout { .. } => true,
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
/// headers Date, Message-ID (on the From domain), From, To, Subject (RFC 2047 encoded when not
/// ASCII), plus the list and auto-reply headers of [`headers`].
pub fn build_message(from: &str, to: &[String], c: &EmailContent) -> Result<Message, DeliverError> {
    if to.is_empty() {
        return Err(DeliverError::NoRecipients);
    }
    let from = parse_mailbox("From", from)?;
    let message_id = headers::message_id_on(&c.message_id, &from);
    let mut b = Message::builder()
        .from(from.clone())
        .subject(c.subject.split_whitespace().collect::<Vec<_>>().join(" "))
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
