//! SMTP delivery of one digest email, over implicit TLS, STARTTLS or (explicitly) plain TCP.
//!
//! One connection per delivery: connect, EHLO, optional STARTTLS, optional AUTH (PLAIN or
//! LOGIN, only over TLS unless `security = none`), MAIL/RCPT/DATA, QUIT. No pooling: digests
//! are rare, and a fresh connection makes every retry self-contained.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::extension::ClientId;

use super::{DeliverError, EmailContent, build_message};

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Security {
    /// Plain TCP. Credentials, if configured, are sent in clear: only for a local relay.
    None,
    /// Implicit TLS from the first byte (usually port 465).
    Tls,
    /// Plain connection upgraded with STARTTLS, which is required (usually port 587).
    #[default]
    StartTls,
}

impl Security {
    /// The name used in the configuration (`security = "starttls"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Security::None => "none",
            Security::Tls => "tls",
            Security::StartTls => "starttls",
        }
    }

    /// The usual port for this security mode.
    pub fn default_port(self) -> u16 {
        match self {
            Security::None => 25,
            Security::Tls => 465,
            Security::StartTls => 587,
        }
    }
}

impl std::str::FromStr for Security {
    type Err = String;

    /// Reads the configuration's name of a mode (`none`, `tls`, `starttls`).
    fn from_str(s: &str) -> Result<Security, String> {
        [Security::None, Security::Tls, Security::StartTls]
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| {
                format!("invalid value {s:?} (expected \"tls\", \"starttls\" or \"none\")")
            })
    }
}

/// Where and how to send mail.
#[derive(Debug, Clone, PartialEq)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub username: Option<String>,
    pub password: Option<String>,
    /// Envelope sender and From header, e.g. `"digestif <digest@example.org>"`.
    pub from: String,
    /// Timeout for connecting and for each command.
    pub timeout: Duration,
    /// Skip certificate verification (self-signed test relays only).
    pub accept_invalid_certs: bool,
}

/// Sends one digest email to `to` through the configured SMTP server.
pub async fn send_smtp(
    s: &SmtpSettings,
    to: &[String],
    c: &EmailContent,
) -> Result<(), DeliverError> {
    send_smtp_observed(s, to, c, || {}).await
}

/// [`send_smtp`], calling `on_body` once the whole message body has been written and just
/// before the final "." (from then on the server may accept it at any moment). A timeout or a
/// dropped connection after that point is [`DeliverError::Unconfirmed`], not a plain failure:
/// the caller must not resend soon.
pub async fn send_smtp_observed(
    s: &SmtpSettings,
    to: &[String],
    c: &EmailContent,
    on_body: impl FnOnce() + Send,
) -> Result<(), DeliverError> {
    let message = build_message(&s.from, to, c)?;
    let envelope = message.envelope().clone();
    let raw = message.formatted();
    let body_out = AtomicBool::new(false);
    let mut on_body = Some(on_body);
    let mark = || {
        body_out.store(true, Ordering::SeqCst);
        if let Some(f) = on_body.take() {
            f();
        }
    };
    // The message has `timeout` (see `transaction`); the whole exchange gets a generous overall
    // bound too.
    let overall = s.timeout.saturating_mul(6).max(Duration::from_secs(1));
    let result = tokio::time::timeout(overall, deliver(s, &envelope, &raw, mark)).await;
    let unconfirmed = |cause: String| DeliverError::Unconfirmed {
        host: s.host.clone(),
        port: s.port,
        cause,
    };
    match result {
        Ok(Err(DeliverError::Smtp { source, .. }))
            if body_out.load(Ordering::SeqCst) && source.status().is_none() =>
        {
            Err(unconfirmed(source.to_string()))
        }
        Ok(Err(DeliverError::Timeout { .. })) if body_out.load(Ordering::SeqCst) => Err(
            unconfirmed(format!("no reply within {} ms", s.timeout.as_millis())),
        ),
        Ok(r) => r,
        Err(_) if body_out.load(Ordering::SeqCst) => Err(unconfirmed(format!(
            "no reply within {} s",
            overall.as_secs()
        ))),
        Err(_) => Err(DeliverError::Timeout {
            host: s.host.clone(),
            port: s.port,
            secs: overall.as_secs(),
        }),
    }
}

/// Yields the message once, then calls `done` (the body is written; the final "." follows).
struct BodyThenNotify<'a, F: FnMut()> {
    body: Option<&'a [u8]>,
    done: F,
    notified: bool,
}

impl<'a, F: FnMut()> Iterator for BodyThenNotify<'a, F> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if let Some(b) = self.body.take() {
            return Some(b);
        }
        if !self.notified {
            self.notified = true;
            (self.done)();
        }
        None
    }
}

async fn deliver(
    s: &SmtpSettings,
    envelope: &lettre::address::Envelope,
    raw: &[u8],
    on_body: impl FnMut() + Send,
) -> Result<(), DeliverError> {
    let err = |stage: &'static str| {
        move |source: lettre::transport::smtp::Error| DeliverError::Smtp {
            host: s.host.clone(),
            port: s.port,
            stage,
            source,
        }
    };
    let tls = || {
        TlsParameters::builder(s.host.clone())
            .dangerous_accept_invalid_certs(s.accept_invalid_certs)
            .build()
            .map_err(|e| DeliverError::Config {
                host: s.host.clone(),
                port: s.port,
                message: format!("TLS parameters: {e}"),
            })
    };
    let hello = ClientId::default();
    let wrapper = match s.security {
        Security::Tls => Some(tls()?),
        Security::None | Security::StartTls => None,
    };
    tracing::debug!(host = %s.host, port = s.port, security = ?s.security, "connecting to SMTP server");
    let mut conn = AsyncSmtpConnection::connect_tokio1(
        (s.host.as_str(), s.port),
        Some(s.timeout),
        &hello,
        wrapper,
        None,
    )
    .await
    .map_err(err("connect"))?;

    let result = session(s, &mut conn, &hello, envelope, raw, on_body, tls, err).await;
    match &result {
        Ok(()) => {
            // The message is accepted; a failing QUIT must not turn that into a retry.
            if let Err(e) = conn.quit().await {
                tracing::debug!(error = %e, "SMTP QUIT failed after delivery");
            }
        }
        // A failed STARTTLS upgrade leaves lettre's stream empty, and abort() (which writes
        // QUIT) would panic on it: just drop the connection then.
        Err(DeliverError::Smtp {
            stage: "STARTTLS", ..
        }) => {}
        Err(_) => conn.abort().await,
    }
    result
}

#[allow(clippy::too_many_arguments)]
async fn session<T, E, F>(
    s: &SmtpSettings,
    conn: &mut AsyncSmtpConnection,
    hello: &ClientId,
    envelope: &lettre::address::Envelope,
    raw: &[u8],
    on_body: impl FnMut() + Send,
    tls: T,
    err: E,
) -> Result<(), DeliverError>
where
    T: Fn() -> Result<TlsParameters, DeliverError>,
    E: Fn(&'static str) -> F,
    F: FnOnce(lettre::transport::smtp::Error) -> DeliverError,
{
    if s.security == Security::StartTls {
        if !conn.can_starttls() {
            return Err(DeliverError::StartTlsUnavailable {
                host: s.host.clone(),
                port: s.port,
            });
        }
        conn.starttls(tls()?, hello)
            .await
            .map_err(err("STARTTLS"))?;
    }
    if let Some(user) = &s.username {
        if s.security != Security::None && !conn.is_encrypted() {
            return Err(DeliverError::Config {
                host: s.host.clone(),
                port: s.port,
                message: "refusing to send credentials over an unencrypted connection".into(),
            });
        }
        let creds = Credentials::new(user.clone(), s.password.clone().unwrap_or_default());
        conn.auth(&[Mechanism::Plain, Mechanism::Login], &creds)
            .await
            .map_err(err("AUTH"))?;
    }
    transaction(s, conn, envelope, raw, on_body, err).await
}

/// MAIL, RCPT, DATA and the message, as lettre's `send` does, but with `on_body` called between
/// the body and the final ".".
async fn transaction<E, F>(
    s: &SmtpSettings,
    conn: &mut AsyncSmtpConnection,
    envelope: &lettre::address::Envelope,
    raw: &[u8],
    on_body: impl FnMut() + Send,
    err: E,
) -> Result<(), DeliverError>
where
    E: Fn(&'static str) -> F,
    F: FnOnce(lettre::transport::smtp::Error) -> DeliverError,
{
    use lettre::transport::smtp::commands::{Data, Mail, Rcpt};
    use lettre::transport::smtp::extension::{Extension, MailBodyParameter, MailParameter};
    let mut options = Vec::new();
    // Non-ASCII addresses need SMTPUTF8; a server without it refuses MAIL with a 5xx reply.
    let non_ascii = envelope
        .from()
        .into_iter()
        .chain(envelope.to())
        .any(|a| !AsRef::<str>::as_ref(a).is_ascii());
    if non_ascii {
        options.push(MailParameter::SmtpUtfEight);
    }
    if !raw.is_ascii() && conn.server_info().supports_feature(Extension::EightBitMime) {
        options.push(MailParameter::Body(MailBodyParameter::EightBitMime));
    }
    conn.command(Mail::new(envelope.from().cloned(), options))
        .await
        .map_err(err("MAIL"))?;
    for rcpt in envelope.to() {
        conn.command(Rcpt::new(rcpt.clone(), vec![]))
            .await
            .map_err(err("RCPT"))?;
    }
    conn.command(Data).await.map_err(err("DATA"))?;
    let body = BodyThenNotify {
        body: Some(raw),
        done: on_body,
        notified: false,
    };
    // The message and the reply to its final "." get `timeout` of their own (lettre bounds only
    // the connect): a server that never confirms is found out in `timeout`, not 6 × `timeout`.
    match tokio::time::timeout(s.timeout, conn.message_iter(body)).await {
        Ok(r) => {
            r.map_err(err("end of DATA"))?;
        }
        Err(_) => {
            return Err(DeliverError::Timeout {
                host: s.host.clone(),
                port: s.port,
                secs: s.timeout.as_secs(),
            });
        }
    }
    Ok(())
}
