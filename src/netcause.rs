//! Naming the cause of a network failure, with the host, instead of a client library's generic
//! "error sending request for url (…)".
//!
//! This module owns the classification of an error's source chain into the failure kinds an
//! operator acts on differently — the name does not resolve (DNS), nothing listens (connection
//! refused), the TLS handshake failed (certificate, protocol), the peer took too long (timeout),
//! the connection was reset or the network is unreachable — and the one-line message for each.
//! It only reads `std::error::Error` chains (io errors, and the messages of hyper's connector
//! and rustls), so it serves the feed fetcher and the SMTP transport alike.

use std::error::Error;
use std::io;

/// What kind of network failure an error chain describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetKind {
    /// The host name did not resolve.
    Dns,
    /// The host refused the connection (nothing listens on the port).
    Refused,
    /// The TLS handshake failed (untrusted or expired certificate, wrong name, protocol).
    Tls,
    /// Connecting took longer than the connect timeout.
    ConnectTimeout,
    /// The request (or reading the body) took longer than the timeout.
    Timeout,
    /// The peer reset or closed the connection mid-way.
    Reset,
    /// No route to the host or network.
    Unreachable,
    /// Anything else.
    Other,
}

impl NetKind {
    /// A short label for logs and metrics ("dns", "refused", ...).
    pub fn as_str(self) -> &'static str {
        match self {
            NetKind::Dns => "dns",
            NetKind::Refused => "refused",
            NetKind::Tls => "tls",
            NetKind::ConnectTimeout => "connect-timeout",
            NetKind::Timeout => "timeout",
            NetKind::Reset => "reset",
            NetKind::Unreachable => "unreachable",
            NetKind::Other => "other",
        }
    }
}

/// The cause of a network failure: its kind and a one-line message naming the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetCause {
    pub kind: NetKind,
    pub message: String,
}

/// The messages of an error's source chain, outermost first, without repeats: a message that
/// another one in the chain already contains is dropped (io errors often repeat their cause),
/// and so are messages that only restate the request ("error sending request for url (…)").
pub fn chain_messages(err: &(dyn Error + 'static)) -> Vec<String> {
    let mut all = Vec::new();
    let mut cur: Option<&(dyn Error + 'static)> = Some(err);
    while let Some(e) = cur {
        let m = e.to_string();
        if !m.is_empty()
            && !m.starts_with("error sending request")
            && !m.starts_with("client error (")
        {
            all.push(m);
        }
        cur = e.source();
    }
    let mut out: Vec<String> = Vec::new();
    for (i, m) in all.iter().enumerate() {
        let repeated_later = all[i + 1..].iter().any(|n| n.contains(m.as_str()));
        let repeats_earlier = out.iter().any(|o| o.contains(m.as_str()));
        if !repeated_later && !repeats_earlier {
            out.push(m.clone());
        }
    }
    out
}

/// The io errors of a chain, outermost first.
fn io_errors<'a>(err: &'a (dyn Error + 'static)) -> Vec<&'a io::Error> {
    let mut out = Vec::new();
    let mut cur: Option<&(dyn Error + 'static)> = Some(err);
    while let Some(e) = cur {
        if let Some(io) = e.downcast_ref::<io::Error>() {
            out.push(io);
        }
        cur = e.source();
    }
    out
}

/// Classifies an error chain. `timed_out` and `connecting` come from the client library when it
/// knows them (reqwest's `is_timeout()` / `is_connect()`).
pub fn classify(err: &(dyn Error + 'static), timed_out: bool, connecting: bool) -> NetKind {
    let text = chain_messages(err).join(": ").to_ascii_lowercase();
    let kinds: Vec<io::ErrorKind> = io_errors(err).iter().map(|e| e.kind()).collect();
    let has = |k: io::ErrorKind| kinds.contains(&k);
    if timed_out || has(io::ErrorKind::TimedOut) {
        return if connecting || text.contains("connect") {
            NetKind::ConnectTimeout
        } else {
            NetKind::Timeout
        };
    }
    if text.contains("dns error")
        || text.contains("failed to lookup address")
        || text.contains("name or service not known")
        || text.contains("no address associated")
        || text.contains("nodename nor servname")
    {
        return NetKind::Dns;
    }
    if has(io::ErrorKind::ConnectionRefused) || text.contains("connection refused") {
        return NetKind::Refused;
    }
    if text.contains("certificate")
        || text.contains("tls")
        || text.contains("handshake")
        || text.contains("peer sent")
        || text.contains("received fatal alert")
    {
        return NetKind::Tls;
    }
    if has(io::ErrorKind::HostUnreachable)
        || has(io::ErrorKind::NetworkUnreachable)
        || text.contains("unreachable")
    {
        return NetKind::Unreachable;
    }
    if has(io::ErrorKind::ConnectionReset)
        || has(io::ErrorKind::ConnectionAborted)
        || has(io::ErrorKind::BrokenPipe)
        || has(io::ErrorKind::UnexpectedEof)
        || text.contains("connection reset")
        || text.contains("connection closed")
    {
        return NetKind::Reset;
    }
    NetKind::Other
}

/// The innermost useful detail of a chain ("failed to lookup address information: Name or
/// service not known", "invalid peer certificate: UnknownIssuer").
fn detail(err: &(dyn Error + 'static)) -> String {
    let msgs = chain_messages(err);
    // hyper's connector labels ("dns error", "tcp connect error") say less than their cause.
    let useful: Vec<&String> = msgs
        .iter()
        .filter(|m| {
            !matches!(
                m.as_str(),
                "dns error" | "tcp connect error" | "tcp open error"
            )
        })
        .collect();
    useful
        .last()
        .map(|m| m.to_string())
        .or_else(|| msgs.last().cloned())
        .unwrap_or_default()
}

/// Explains a failure to reach `host` (with `port`) — the message says what happened there.
/// `timeout_secs` is the limit that ran out, for the timeout kinds.
pub fn explain(
    err: &(dyn Error + 'static),
    host: &str,
    port: Option<u16>,
    timed_out: bool,
    connecting: bool,
    timeout_secs: Option<u64>,
) -> NetCause {
    let kind = classify(err, timed_out, connecting);
    let hp = match port {
        Some(p) => format!("{host}:{p}"),
        None => host.to_string(),
    };
    let after = timeout_secs
        .map(|s| format!(" after {s} s"))
        .unwrap_or_default();
    let d = detail(err);
    let message = match kind {
        NetKind::Dns => format!("cannot resolve host {host} (DNS: {d})"),
        NetKind::Refused => format!("connection refused by {hp} (nothing listens there?)"),
        NetKind::Tls => format!("TLS handshake with {host} failed: {d}"),
        NetKind::ConnectTimeout => format!("timed out connecting to {hp}{after}"),
        NetKind::Timeout => format!("timed out waiting for {host}{after}"),
        NetKind::Reset => format!("connection to {hp} was reset or closed: {d}"),
        NetKind::Unreachable => format!("{hp} is unreachable: {d}"),
        NetKind::Other => format!("request to {host} failed: {d}"),
    };
    NetCause { kind, message }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Wrap(&'static str, Option<Box<dyn Error + Send + Sync>>);
    impl std::fmt::Display for Wrap {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }
    impl Error for Wrap {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            self.1.as_deref().map(|e| e as &(dyn Error + 'static))
        }
    }

    fn chain(top: &'static str, mid: &'static str, io: io::Error) -> Wrap {
        Wrap(top, Some(Box::new(Wrap(mid, Some(Box::new(io))))))
    }

    #[test]
    fn dns_refused_and_repeats_are_told_apart() {
        let dns = chain(
            "error sending request for url (http://x.invalid/feed)",
            "dns error",
            io::Error::other("failed to lookup address information: Name or service not known"),
        );
        let c = explain(&dns, "x.invalid", Some(80), false, true, None);
        assert_eq!(c.kind, NetKind::Dns);
        assert_eq!(
            c.message,
            "cannot resolve host x.invalid (DNS: failed to lookup address information: Name or service not known)"
        );
        let refused = chain(
            "error sending request for url (http://127.0.0.1:9/)",
            "tcp connect error",
            io::Error::from(io::ErrorKind::ConnectionRefused),
        );
        assert_eq!(
            explain(&refused, "127.0.0.1", Some(9), false, true, None).message,
            "connection refused by 127.0.0.1:9 (nothing listens there?)"
        );
        // "No such file or directory (os error 2)" twice in a chain is said once.
        let twice = Wrap(
            "No such file or directory (os error 2)",
            Some(Box::new(io::Error::from_raw_os_error(2))),
        );
        assert_eq!(chain_messages(&twice).len(), 1);
    }

    #[test]
    fn timeouts_name_the_phase() {
        let t = chain(
            "operation timed out",
            "x",
            io::Error::from(io::ErrorKind::TimedOut),
        );
        assert_eq!(
            explain(&t, "h", Some(443), true, true, Some(10)).message,
            "timed out connecting to h:443 after 10 s"
        );
        assert_eq!(
            explain(&t, "h", Some(443), true, false, Some(30)).kind,
            NetKind::Timeout
        );
    }
}
