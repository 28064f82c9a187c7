//! A feed farm on loopback for `scripts/bench-farm.sh`: N copies of the real feed snapshots in
//! `../shared/data/feeds/news-snapshots`, pre-rendered in memory and served by a minimal
//! keep-alive HTTP/1.1 server, so the server's own CPU stays small and identical for every client
//! measured against it.
//!
//! ```text
//! farm [--snapshots DIR] [--feeds N]
//! ```
//!
//! Prints `port <p>` on stdout once it listens on 127.0.0.1, then serves until stdin closes.
//! Paths are `/<farm>/<validators>/<i>.xml` with `i` in `0..N`:
//! - farm `rep`: copy `i` is snapshot file `i mod files`, byte for byte (the same items again and
//!   again, as when many feeds carry the same wire stories);
//! - farm `uniq`: the same, but every `<link>`, `<guid>`, `<id>` and link `href` of copy `i` is
//!   made its own (`https://c<i>.host/…`, or `c<i>-<guid>`), so each copy's items are new articles;
//! - validators `v`: responses carry an ETag and a Last-Modified, and a matching conditional GET
//!   gets `304`; `n`: no validators at all (as many real feeds do).

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const LAST_MODIFIED: &str = "Tue, 15 Dec 2020 13:59:00 GMT";

struct Farm {
    rep: Vec<Arc<Vec<u8>>>,
    uniq: Vec<Arc<Vec<u8>>>,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut snapshots = PathBuf::from("../shared/data/feeds/news-snapshots");
    let mut feeds = 1000usize;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--snapshots" => snapshots = PathBuf::from(args.next().ok_or("--snapshots DIR")?),
            "--feeds" => feeds = args.next().ok_or("--feeds N")?.parse()?,
            other => return Err(format!("unknown argument {other:?}").into()),
        }
    }
    let files = snapshot_files(&snapshots)?;
    if files.is_empty() {
        return Err(format!("no snapshot files under {}", snapshots.display()).into());
    }
    let farm = Arc::new(build(&files, feeds)?);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        println!("port {}", listener.local_addr()?.port());
        eprintln!(
            "farm: {feeds} feeds from {} snapshot files, {} MiB unique farm",
            files.len(),
            farm.uniq.iter().map(|b| b.len()).sum::<usize>() >> 20
        );
        // Serve until stdin closes (the bench script holds it open).
        let stdin_closed = tokio::task::spawn_blocking(|| {
            let mut sink = Vec::new();
            let _ = std::io::stdin().read_to_end(&mut sink);
        });
        tokio::select! {
            _ = stdin_closed => {}
            _ = accept_loop(listener, farm) => {}
        }
        Ok::<_, std::io::Error>(())
    })?;
    Ok(())
}

/// The snapshot feed files (`<snapshot>/<stem>.xml`), sorted, without `edge-cases/`.
fn snapshot_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for snap in std::fs::read_dir(dir)? {
        let snap = snap?.path();
        if !snap.is_dir() || snap.ends_with("edge-cases") {
            continue;
        }
        for f in std::fs::read_dir(&snap)? {
            let f = f?.path();
            if f.extension().is_some_and(|e| e == "xml") {
                out.push(f);
            }
        }
    }
    out.sort();
    Ok(out)
}

fn build(files: &[PathBuf], feeds: usize) -> std::io::Result<Farm> {
    let bodies: Vec<Arc<Vec<u8>>> = files
        .iter()
        .map(|f| std::fs::read(f).map(Arc::new))
        .collect::<Result<_, _>>()?;
    let re = regex::bytes::Regex::new(
        r#"(?i)(<link>|<link\s[^>]*?href=["']|<guid(?:\s[^>]*)?>|<id>)(\s*(?:<!\[CDATA\[)?\s*)(https?://)?"#,
    )
    .map_err(std::io::Error::other)?;
    let mut farm = Farm {
        rep: Vec::with_capacity(feeds),
        uniq: Vec::with_capacity(feeds),
    };
    for i in 0..feeds {
        let body = &bodies[i % bodies.len()];
        farm.rep.push(body.clone());
        let own = re.replace_all(body, |c: &regex::bytes::Captures<'_>| {
            let mut out = c[1].to_vec();
            out.extend_from_slice(&c[2]);
            match c.get(3) {
                Some(scheme) => {
                    out.extend_from_slice(scheme.as_bytes());
                    out.extend_from_slice(format!("c{i}.").as_bytes());
                }
                None => out.extend_from_slice(format!("c{i}-").as_bytes()),
            }
            out
        });
        farm.uniq.push(Arc::new(own.into_owned()));
    }
    Ok(farm)
}

async fn accept_loop(listener: TcpListener, farm: Arc<Farm>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let farm = farm.clone();
        tokio::spawn(async move {
            let _ = serve(stream, farm).await;
        });
    }
}

/// Serves requests on one connection until the client closes it.
async fn serve(mut stream: TcpStream, farm: Arc<Farm>) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let mut buf = Vec::with_capacity(4096);
    loop {
        let end = loop {
            if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break p + 4;
            }
            let mut chunk = [0u8; 4096];
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                return Ok(());
            }
            buf.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8_lossy(&buf[..end]).into_owned();
        buf.drain(..end);
        let close = respond(&mut stream, &farm, &head).await?;
        if close {
            return Ok(());
        }
    }
}

/// Writes the response to one request head; true when the connection is to be closed.
async fn respond(stream: &mut TcpStream, farm: &Farm, head: &str) -> std::io::Result<bool> {
    let path = head.split_whitespace().nth(1).unwrap_or("/");
    let mut if_none_match = None;
    let mut close = false;
    for line in head.lines().skip(1) {
        if let Some((k, v)) = line.split_once(':') {
            if k.eq_ignore_ascii_case("if-none-match") {
                if_none_match = Some(v.trim().to_string());
            } else if k.eq_ignore_ascii_case("connection") && v.trim().eq_ignore_ascii_case("close")
            {
                close = true;
            }
        }
    }
    let Some((body, etag)) = route(farm, path) else {
        let msg = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
        stream.write_all(msg).await?;
        return Ok(close);
    };
    let mut out = Vec::with_capacity(256);
    match (&etag, if_none_match) {
        (Some(tag), Some(inm)) if *tag == inm => {
            out.extend_from_slice(b"HTTP/1.1 304 Not Modified\r\n");
            out.extend_from_slice(format!("ETag: {tag}\r\n\r\n").as_bytes());
            stream.write_all(&out).await?;
        }
        _ => {
            out.extend_from_slice(b"HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\n");
            if let Some(tag) = &etag {
                out.extend_from_slice(format!("ETag: {tag}\r\n").as_bytes());
                out.extend_from_slice(format!("Last-Modified: {LAST_MODIFIED}\r\n").as_bytes());
            }
            out.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
            stream.write_all(&out).await?;
            stream.write_all(&body).await?;
        }
    }
    Ok(close)
}

/// The body and (when validators are on) the ETag of a path.
fn route(farm: &Farm, path: &str) -> Option<(Arc<Vec<u8>>, Option<String>)> {
    let mut parts = path.trim_start_matches('/').split('/');
    let (kind, validators, file) = (parts.next()?, parts.next()?, parts.next()?);
    let i: usize = file.strip_suffix(".xml")?.parse().ok()?;
    let body = match kind {
        "rep" => farm.rep.get(i)?,
        "uniq" => farm.uniq.get(i)?,
        _ => return None,
    };
    let etag = match validators {
        "v" => Some(format!("\"{kind}-{i}\"")),
        "n" => None,
        _ => return None,
    };
    Some((body.clone(), etag))
}
