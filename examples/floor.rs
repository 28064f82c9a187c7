//! The floor `scripts/bench-farm.sh` compares `digestif once` against: the least any feed reader
//! must do — fetch every feed with reqwest, 16 requests in flight, and parse it with feed-rs —
//! and nothing else (no normalising, tagging, storing or digest).
//!
//! ```text
//! floor --base http://127.0.0.1:PORT/rep/n [--feeds 1000] [--inflight 16]
//! ```
//!
//! Fetches `<base>/<i>.xml` for `i` in `0..feeds` and prints the feeds and entries it read.

use futures_util::StreamExt;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut base = None;
    let mut feeds = 1000usize;
    let mut inflight = 16usize;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--base" => base = Some(args.next().ok_or("--base URL")?),
            "--feeds" => feeds = args.next().ok_or("--feeds N")?.parse()?,
            "--inflight" => inflight = args.next().ok_or("--inflight N")?.parse()?,
            other => return Err(format!("unknown argument {other:?}").into()),
        }
    }
    let base = base.ok_or("--base URL is required")?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let (ok, entries) = rt.block_on(async {
        let client = reqwest::Client::builder().build()?;
        let results: Vec<Option<usize>> = futures_util::stream::iter(0..feeds)
            .map(|i| {
                let client = client.clone();
                let url = format!("{base}/{i}.xml");
                async move {
                    let body = client.get(&url).send().await.ok()?.bytes().await.ok()?;
                    let feed = feed_rs::parser::parse(&body[..]).ok()?;
                    Some(feed.entries.len())
                }
            })
            .buffer_unordered(inflight)
            .collect()
            .await;
        let ok = results.iter().flatten().count();
        let entries: usize = results.iter().flatten().sum();
        Ok::<_, reqwest::Error>((ok, entries))
    })?;
    println!("floor: {ok} of {feeds} feeds, {entries} entries");
    Ok(())
}
