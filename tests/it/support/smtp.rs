//! A real, minimal SMTP server on 127.0.0.1 for tests (std threads, no TLS).
//!
//! Speaks EHLO/HELO, AUTH PLAIN/LOGIN (advertised only when credentials are configured, and
//! then required before MAIL), MAIL, RCPT, DATA (with dot-unstuffing), RSET, NOOP, QUIT, and
//! optionally STARTTLS or implicit TLS (rustls, with the self-signed test certificate below).
//! Every accepted message is recorded (envelope + raw data). It can reject at MAIL, RCPT or
//! DATA with a chosen code, and it can be created DOWN on a fixed port (nothing listening)
//! and brought UP later on that same port, or taken down again.
#![allow(dead_code)]

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// A self-signed certificate for `localhost` / `127.0.0.1` (valid until 2126), test use only.
pub const TEST_CERT_PEM: &str = "-----BEGIN CERTIFICATE-----
MIIBnDCCAUGgAwIBAgIUe0dVtICGWvGEialnvSgxMjTWbr4wCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTEyODE3MjEzNloYDzIxMjYxMTA0
MTcyMTM2WjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAASxKzMeAsBL32Vvr3fsTcYDVLb8DMfqGoKZC6wPQ0HerwK2zfFqKrH5
70MpWJm/qmvwKs4OZEbtwc2VA/2wzqkqo28wbTAdBgNVHQ4EFgQUN0qSDZNna3jV
9p0bL31OWu3ritAwHwYDVR0jBBgwFoAUN0qSDZNna3jV9p0bL31OWu3ritAwDwYD
VR0TAQH/BAUwAwEB/zAaBgNVHREEEzARgglsb2NhbGhvc3SHBH8AAAEwCgYIKoZI
zj0EAwIDSQAwRgIhAJEWv8FsfO+7BL8K29CfLs8wfJ8h1AzT3oUWc5fx19PHAiEA
6rm2ae0ibgmMFZ5UqlVpUpHADRof9X+MINlrNfqhzBg=
-----END CERTIFICATE-----
";

/// The private key of [`TEST_CERT_PEM`] (PKCS#8, P-256). Test use only.
pub const TEST_KEY_PEM: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgzW5zMDxVMQAW9w3e
wCx2XEWp9kd/th68Np7uOUqlmu+hRANCAASxKzMeAsBL32Vvr3fsTcYDVLb8DMfq
GoKZC6wPQ0HerwK2zfFqKrH570MpWJm/qmvwKs4OZEbtwc2VA/2wzqkq
-----END PRIVATE KEY-----
";

/// Whether and how the server speaks TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TlsMode {
    /// Plain TCP only.
    #[default]
    None,
    /// Plain TCP, STARTTLS offered.
    StartTls,
    /// TLS from the first byte.
    Implicit,
}

fn tls_config() -> io::Result<Arc<rustls::ServerConfig>> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let bad = |e: &dyn std::fmt::Display| io::Error::other(e.to_string());
    let cert = CertificateDer::from_pem_slice(TEST_CERT_PEM.as_bytes()).map_err(|e| bad(&e))?;
    let key = PrivateKeyDer::from_pem_slice(TEST_KEY_PEM.as_bytes()).map_err(|e| bad(&e))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| bad(&e))?
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .map_err(|e| bad(&e))?;
    Ok(Arc::new(cfg))
}

/// A server-side connection, plain or TLS.
enum Conn {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ServerConnection, TcpStream>>),
}

impl Conn {
    fn tls(sock: TcpStream, cfg: &Arc<rustls::ServerConfig>) -> io::Result<Conn> {
        let sc = rustls::ServerConnection::new(Arc::clone(cfg)).map_err(io::Error::other)?;
        Ok(Conn::Tls(Box::new(rustls::StreamOwned::new(sc, sock))))
    }

    fn is_tls(&self) -> bool {
        matches!(self, Conn::Tls(_))
    }
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(s) => s.read(buf),
            Conn::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(s) => s.write(buf),
            Conn::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Conn::Plain(s) => s.flush(),
            Conn::Tls(s) => s.flush(),
        }
    }
}

/// The SMTP stage at which a rejection is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Mail,
    Rcpt,
    /// After the message data has been received (the reply to the final ".").
    Data,
}

/// A configured rejection: reply `code text` at `stage`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    pub stage: Stage,
    pub code: u16,
    pub text: String,
}

/// One message as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub helo: String,
    pub mail_from: String,
    pub rcpt_to: Vec<String>,
    /// The message after dot-unstuffing, CRLF line ends, without the final ".".
    pub data: Vec<u8>,
    /// The user who authenticated on this connection, if any.
    pub auth_user: Option<String>,
    /// True when the message came over TLS (implicit or after STARTTLS).
    pub tls: bool,
}

impl Received {
    pub fn data_str(&self) -> String {
        String::from_utf8_lossy(&self.data).into_owned()
    }
}

#[derive(Default)]
struct Shared {
    messages: Mutex<Vec<Received>>,
    reject: Mutex<Option<Reject>>,
    credentials: Mutex<Option<(String, String)>>,
    tls_mode: Mutex<TlsMode>,
    /// Every command line received (AUTH payloads redacted), for assertions.
    commands: Mutex<Vec<String>>,
    connections: AtomicUsize,
    auth_attempts: AtomicUsize,
    /// When set, the reply to the final "." is held back this long (the message is recorded
    /// as received first, as a server that queued it but whose reply never arrives).
    stall_final_reply: Mutex<Option<Duration>>,
}

/// The test SMTP server. Dropping it stops it.
pub struct SmtpServer {
    port: u16,
    shared: Arc<Shared>,
    running: Mutex<Option<(Arc<AtomicBool>, JoinHandle<()>)>>,
}

impl SmtpServer {
    /// Starts a server on a free port of 127.0.0.1.
    pub fn start() -> io::Result<SmtpServer> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let s = SmtpServer::new_down(port);
        s.run(listener)?;
        Ok(s)
    }

    /// Picks a free port and returns a server that is DOWN on it (nothing listening).
    pub fn down() -> io::Result<SmtpServer> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        Ok(SmtpServer::new_down(port))
    }

    /// A DOWN server for a given port.
    pub fn new_down(port: u16) -> SmtpServer {
        SmtpServer {
            port,
            shared: Arc::new(Shared::default()),
            running: Mutex::new(None),
        }
    }

    /// Requires AUTH with these credentials (advertises AUTH PLAIN LOGIN).
    pub fn with_auth(self, user: &str, password: &str) -> Self {
        *lock(&self.shared.credentials) = Some((user.to_string(), password.to_string()));
        self
    }

    /// Speaks TLS as given (takes effect for new connections).
    pub fn with_tls(self, mode: TlsMode) -> Self {
        *lock(&self.shared.tls_mode) = mode;
        self
    }

    /// Sets (or clears) a rejection; takes effect for the next command.
    pub fn set_reject(&self, reject: Option<Reject>) {
        *lock(&self.shared.reject) = reject;
    }

    /// Holds back the reply to the final "." for `stall` (None: reply at once). The message
    /// counts as received when its "." arrives.
    pub fn stall_final_reply(&self, stall: Option<Duration>) {
        *lock(&self.shared.stall_final_reply) = stall;
    }

    /// Shorthand: reply `code text` to the end of DATA.
    pub fn reject_data(&self, code: u16, text: &str) {
        self.set_reject(Some(Reject {
            stage: Stage::Data,
            code,
            text: text.to_string(),
        }));
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    pub fn is_up(&self) -> bool {
        lock(&self.running).is_some()
    }

    /// Brings the server UP on its port (retrying briefly if the port is still busy).
    pub fn up(&self) -> io::Result<()> {
        if self.is_up() {
            return Ok(());
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        let listener = loop {
            match TcpListener::bind(self.addr()) {
                Ok(l) => break l,
                Err(e) if Instant::now() < deadline && e.kind() == io::ErrorKind::AddrInUse => {
                    thread::sleep(Duration::from_millis(50));
                }
                Err(e) => return Err(e),
            }
        };
        self.run(listener)
    }

    /// Takes the server DOWN: stops listening (open sessions finish on their own).
    pub fn stop(&self) {
        let running = lock(&self.running).take();
        if let Some((stop, handle)) = running {
            stop.store(true, Ordering::SeqCst);
            let _ = handle.join();
        }
    }

    fn run(&self, listener: TcpListener) -> io::Result<()> {
        listener.set_nonblocking(true)?;
        let stop = Arc::new(AtomicBool::new(false));
        let shared = Arc::clone(&self.shared);
        let stop2 = Arc::clone(&stop);
        let handle = thread::spawn(move || {
            while !stop2.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let shared = Arc::clone(&shared);
                        shared.connections.fetch_add(1, Ordering::SeqCst);
                        thread::spawn(move || {
                            let _ = session(stream, &shared);
                        });
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        thread::sleep(Duration::from_millis(5));
                    }
                    Err(_) => thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        *lock(&self.running) = Some((stop, handle));
        Ok(())
    }

    /// Messages received so far.
    pub fn messages(&self) -> Vec<Received> {
        lock(&self.shared.messages).clone()
    }

    /// Waits until at least `n` messages were received (or `timeout` passes).
    pub fn wait_for_messages(&self, n: usize, timeout: Duration) -> Vec<Received> {
        let deadline = Instant::now() + timeout;
        loop {
            let m = self.messages();
            if m.len() >= n || Instant::now() >= deadline {
                return m;
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Command lines received so far (AUTH payloads replaced by "<redacted>").
    pub fn commands(&self) -> Vec<String> {
        lock(&self.shared.commands).clone()
    }

    pub fn connections(&self) -> usize {
        self.shared.connections.load(Ordering::SeqCst)
    }

    pub fn auth_attempts(&self) -> usize {
        self.shared.auth_attempts.load(Ordering::SeqCst)
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn reply(r: &mut BufReader<Conn>, line: &str) -> io::Result<()> {
    let w = r.get_mut();
    w.write_all(line.as_bytes())?;
    w.write_all(b"\r\n")?;
    w.flush()
}

fn read_line(r: &mut BufReader<Conn>) -> io::Result<Option<String>> {
    let mut buf = Vec::new();
    let n = r.read_until(b'\n', &mut buf)?;
    if n == 0 {
        return Ok(None);
    }
    while buf.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        buf.pop();
    }
    Ok(Some(String::from_utf8_lossy(&buf).into_owned()))
}

fn rejection(shared: &Shared, stage: Stage) -> Option<String> {
    lock(&shared.reject)
        .as_ref()
        .filter(|r| r.stage == stage)
        .map(|r| format!("{} {}", r.code, r.text))
}

/// Extracts the address from `MAIL FROM:<a@b> SIZE=..` / `RCPT TO:<a@b>`.
fn path_arg(rest: &str) -> String {
    let rest = rest.trim();
    match (rest.find('<'), rest.find('>')) {
        (Some(a), Some(b)) if b > a => rest[a + 1..b].to_string(),
        _ => rest.split_whitespace().next().unwrap_or("").to_string(),
    }
}

fn session(stream: TcpStream, shared: &Shared) -> io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mode = *lock(&shared.tls_mode);
    let cfg = match mode {
        TlsMode::None => None,
        TlsMode::StartTls | TlsMode::Implicit => Some(tls_config()?),
    };
    let conn = match (&cfg, mode) {
        (Some(cfg), TlsMode::Implicit) => Conn::tls(stream, cfg)?,
        _ => Conn::Plain(stream),
    };
    let mut r = BufReader::new(conn);
    reply(&mut r, "220 127.0.0.1 digestif-test ESMTP ready")?;
    let creds = lock(&shared.credentials).clone();
    let mut helo = String::new();
    let mut auth_user: Option<String> = None;
    let mut mail_from: Option<String> = None;
    let mut rcpts: Vec<String> = Vec::new();
    while let Some(line) = read_line(&mut r)? {
        let upper = line.to_ascii_uppercase();
        let verb = upper.split_whitespace().next().unwrap_or("").to_string();
        let logged = if verb == "AUTH" {
            format!(
                "AUTH {} <redacted>",
                upper.split_whitespace().nth(1).unwrap_or("")
            )
        } else {
            line.clone()
        };
        lock(&shared.commands).push(logged);
        match verb.as_str() {
            "EHLO" => {
                helo = line[4..].trim().to_string();
                mail_from = None;
                rcpts.clear();
                let mut caps =
                    String::from("250-127.0.0.1 hello\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n");
                if mode == TlsMode::StartTls && !r.get_ref().is_tls() {
                    caps.push_str("250-STARTTLS\r\n");
                }
                if creds.is_some() {
                    caps.push_str("250-AUTH PLAIN LOGIN\r\n");
                }
                caps.push_str("250 SIZE 10485760");
                reply(&mut r, &caps)?;
            }
            "HELO" => {
                helo = line[4..].trim().to_string();
                reply(&mut r, "250 127.0.0.1")?;
            }
            "STARTTLS" => {
                let Some(cfg) = cfg.as_ref().filter(|_| !r.get_ref().is_tls()) else {
                    reply(&mut r, "502 5.5.1 STARTTLS not available")?;
                    continue;
                };
                reply(&mut r, "220 2.0.0 Ready to start TLS")?;
                let Conn::Plain(sock) = r.into_inner() else {
                    return Ok(());
                };
                r = BufReader::new(Conn::tls(sock, cfg)?);
                // RFC 3207: forget everything learned before TLS.
                helo.clear();
                auth_user = None;
                mail_from = None;
                rcpts.clear();
            }
            "AUTH" => {
                shared.auth_attempts.fetch_add(1, Ordering::SeqCst);
                let Some((user, pass)) = &creds else {
                    reply(&mut r, "503 5.5.1 AUTH not available")?;
                    continue;
                };
                let mut parts = line.split_whitespace().skip(1);
                let mech = parts.next().unwrap_or("").to_ascii_uppercase();
                let initial = parts.next().map(str::to_string);
                let ok = match mech.as_str() {
                    "PLAIN" => {
                        let resp = match initial {
                            Some(s) => s,
                            None => {
                                reply(&mut r, "334 ")?;
                                read_line(&mut r)?.unwrap_or_default()
                            }
                        };
                        let dec = b64decode(resp.trim()).unwrap_or_default();
                        let fields: Vec<&[u8]> = dec.split(|b| *b == 0).collect();
                        fields.len() == 3
                            && fields[1] == user.as_bytes()
                            && fields[2] == pass.as_bytes()
                    }
                    "LOGIN" => {
                        let u = match initial {
                            Some(s) => s,
                            None => {
                                reply(&mut r, "334 VXNlcm5hbWU6")?;
                                read_line(&mut r)?.unwrap_or_default()
                            }
                        };
                        reply(&mut r, "334 UGFzc3dvcmQ6")?;
                        let p = read_line(&mut r)?.unwrap_or_default();
                        b64decode(u.trim()).unwrap_or_default() == user.as_bytes()
                            && b64decode(p.trim()).unwrap_or_default() == pass.as_bytes()
                    }
                    _ => {
                        reply(&mut r, "504 5.5.4 mechanism not supported")?;
                        continue;
                    }
                };
                if ok {
                    auth_user = Some(user.clone());
                    reply(&mut r, "235 2.7.0 Authentication successful")?;
                } else {
                    reply(&mut r, "535 5.7.8 Authentication credentials invalid")?;
                }
            }
            "MAIL" => {
                if creds.is_some() && auth_user.is_none() {
                    reply(&mut r, "530 5.7.0 Authentication required")?;
                } else if let Some(rej) = rejection(shared, Stage::Mail) {
                    reply(&mut r, &rej)?;
                } else {
                    let rest = line.get(10..).unwrap_or("");
                    mail_from = Some(path_arg(rest));
                    rcpts.clear();
                    reply(&mut r, "250 2.1.0 OK")?;
                }
            }
            "RCPT" => {
                if mail_from.is_none() {
                    reply(&mut r, "503 5.5.1 need MAIL first")?;
                } else if let Some(rej) = rejection(shared, Stage::Rcpt) {
                    reply(&mut r, &rej)?;
                } else {
                    rcpts.push(path_arg(line.get(8..).unwrap_or("")));
                    reply(&mut r, "250 2.1.5 OK")?;
                }
            }
            "DATA" => {
                if mail_from.is_none() || rcpts.is_empty() {
                    reply(&mut r, "503 5.5.1 need MAIL and RCPT first")?;
                    continue;
                }
                reply(&mut r, "354 End data with <CR><LF>.<CR><LF>")?;
                let mut data = Vec::new();
                loop {
                    let mut buf = Vec::new();
                    if r.read_until(b'\n', &mut buf)? == 0 {
                        return Ok(());
                    }
                    if buf == b".\r\n" || buf == b".\n" {
                        break;
                    }
                    let body = if buf.starts_with(b".") {
                        &buf[1..]
                    } else {
                        &buf[..]
                    };
                    data.extend_from_slice(body);
                }
                if let Some(rej) = rejection(shared, Stage::Data) {
                    reply(&mut r, &rej)?;
                } else {
                    lock(&shared.messages).push(Received {
                        helo: helo.clone(),
                        mail_from: mail_from.take().unwrap_or_default(),
                        rcpt_to: std::mem::take(&mut rcpts),
                        data,
                        auth_user: auth_user.clone(),
                        tls: r.get_ref().is_tls(),
                    });
                    let stall = *lock(&shared.stall_final_reply);
                    if let Some(stall) = stall {
                        thread::sleep(stall);
                    }
                    reply(&mut r, "250 2.0.0 OK queued")?;
                }
                mail_from = None;
                rcpts.clear();
            }
            "RSET" => {
                mail_from = None;
                rcpts.clear();
                reply(&mut r, "250 2.0.0 OK")?;
            }
            "NOOP" => reply(&mut r, "250 2.0.0 OK")?,
            "QUIT" => {
                reply(&mut r, "221 2.0.0 Bye")?;
                if let Conn::Tls(mut t) = r.into_inner() {
                    t.conn.send_close_notify();
                    let _ = t.flush();
                }
                return Ok(());
            }
            _ => reply(&mut r, "502 5.5.2 command not implemented")?,
        }
    }
    Ok(())
}

/// Standard base64 decoding (padding optional); None on invalid input.
pub fn b64decode(s: &str) -> Option<Vec<u8>> {
    fn val(c: u8) -> Option<u32> {
        match c {
            b'A'..=b'Z' => Some(u32::from(c - b'A')),
            b'a'..=b'z' => Some(u32::from(c - b'a') + 26),
            b'0'..=b'9' => Some(u32::from(c - b'0') + 52),
            b'+' => Some(62),
            b'/' => Some(63),
            _ => None,
        }
    }
    let bytes: Vec<u8> = s.bytes().filter(|b| *b != b'=').collect();
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let mut acc = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            acc |= val(c)? << (18 - 6 * i);
        }
        let n = match chunk.len() {
            4 => 3,
            3 => 2,
            2 => 1,
            _ => return None,
        };
        for i in 0..n {
            out.push((acc >> (16 - 8 * i)) as u8);
        }
    }
    Some(out)
}
