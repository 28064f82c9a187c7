//! Throughput of entity tagging on news text: the tagger alone on tokenised titles and
//! descriptions (`Tagger::tag_tokens`, what `eval ner` times), and the whole of
//! `ner::tag_article` (tokenise, tag, link); and the cost of loading the model and its word table.
//!
//! Input: titles and descriptions of the real feed snapshots in
//! `../shared/data/feeds/news-snapshots/` when present (extracted with a crude tag stripper, good
//! enough for timing), otherwise a small built-in paragraph. Run with `cargo bench --bench ner`.

use std::path::PathBuf;

use divan::counter::{BytesCount, ItemsCount};

fn main() {
    divan::main();
}

const BUILTIN: &[(&str, &str)] = &[(
    "Harbour Authority Approves Night Ferries Between Halden And Fredrikstad",
    "The harbour authority in Halden voted on Monday to run night ferries to Fredrikstad from \
     next spring, said chairwoman Ingrid Solberg. Solberg told the Halden Arbeiderblad that the \
     European Union had agreed to pay part of the cost. Norway's transport ministry and the \
     Swedish operator Kustlinjen AB will share the rest. \"We have waited ten years,\" said Per \
     Olav Berg, a ferry captain. Critics in Oslo said the plan ignored the railway.",
)];

fn strip(s: &str) -> String {
    let s = s.replace("<![CDATA[", "").replace("]]>", "");
    let mut out = String::with_capacity(s.len());
    let mut in_tag = false;
    for c in s.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                out.push(' ');
            }
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&amp;", "&")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&apos;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&nbsp;", " ")
}

fn between<'a>(s: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let a = s.find(open)? + open.len();
    let a = a + s[a..].find('>')? + 1;
    let b = a + s[a..].find(close)?;
    Some(&s[a..b])
}

/// (title, text) pairs from the news snapshots, or the built-in paragraph.
fn articles() -> Vec<(String, String)> {
    let mut shared = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared"));
    if !shared.is_dir()
        && let Some(env) = std::env::var_os("DIGESTIF_SHARED")
    {
        shared = PathBuf::from(env);
    }
    let dir = shared.join("data/feeds/news-snapshots");
    let mut out = Vec::new();
    let mut files = Vec::new();
    if let Ok(rd) = std::fs::read_dir(&dir) {
        for snap in rd.flatten() {
            if let Ok(rd2) = std::fs::read_dir(snap.path()) {
                files.extend(
                    rd2.flatten()
                        .map(|e| e.path())
                        .filter(|p| p.extension().is_some_and(|e| e == "xml")),
                );
            }
        }
    }
    files.sort();
    for f in files {
        let Ok(xml) = std::fs::read_to_string(&f) else {
            continue;
        };
        for item in xml
            .split("<item")
            .skip(1)
            .chain(xml.split("<entry").skip(1))
        {
            let title = between(item, "<title", "</title>")
                .map(strip)
                .unwrap_or_default();
            let text = between(item, "<description", "</description>")
                .or_else(|| between(item, "<summary", "</summary>"))
                .or_else(|| between(item, "<content", "</content>"))
                .map(strip)
                .unwrap_or_default();
            if !title.trim().is_empty() || !text.trim().is_empty() {
                out.push((
                    title.trim().to_string(),
                    text.split_whitespace().collect::<Vec<_>>().join(" "),
                ));
            }
        }
    }
    if out.is_empty() {
        println!("../shared/data/feeds/news-snapshots absent: benchmarking the built-in paragraph");
        out = BUILTIN
            .iter()
            .map(|(t, x)| (t.to_string(), x.to_string()))
            .collect();
    }
    out
}

#[divan::bench]
fn tag_and_link_news(bencher: divan::Bencher) {
    let arts = articles();
    // load model and gazetteers outside the timed loop
    let _ = digestif::ner::tag_article("Warm Up", "Warm up.");
    let bytes: usize = arts.iter().map(|(t, x)| t.len() + x.len() + 2).sum();
    let tokens: usize = arts
        .iter()
        .map(|(t, x)| digestif::ner::tokenize::tokenize(&format!("{t}\n\n{x}")).len())
        .sum();
    bencher
        .counter(BytesCount::new(bytes))
        .counter(ItemsCount::new(tokens))
        .bench(|| {
            let mut n = 0;
            for (t, x) in &arts {
                n += digestif::ner::tag_article(divan::black_box(t), divan::black_box(x)).len();
            }
            n
        });
}

#[divan::bench]
fn tag_tokens_news(bencher: divan::Bencher) {
    use digestif::ner::tokenize::{split_sentences, tokenize};
    let docs: Vec<(Vec<String>, Vec<std::ops::Range<usize>>)> = articles()
        .iter()
        .map(|(t, x)| {
            let text = format!("{t}\n\n{x}");
            let toks = tokenize(&text);
            let sents = split_sentences(&text, &toks);
            (
                toks.iter().map(|k| k.text(&text).to_string()).collect(),
                sents,
            )
        })
        .collect();
    let strs: Vec<Vec<&str>> = docs
        .iter()
        .map(|(t, _)| t.iter().map(String::as_str).collect())
        .collect();
    let tokens: usize = strs.iter().map(Vec::len).sum();
    let tagger = digestif::ner::Tagger::global();
    bencher.counter(ItemsCount::new(tokens)).bench(|| {
        let mut n = 0;
        for (toks, (_, sents)) in strs.iter().zip(&docs) {
            n += tagger.tag_tokens(divan::black_box(toks), sents, true).len();
        }
        n
    });
}

#[divan::bench]
fn word_table_load(bencher: divan::Bencher) {
    let bytes = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/data/ner/words.bin"))
        .unwrap_or_default();
    bencher.bench(|| {
        digestif::ner::words::WordTable::from_bytes(divan::black_box(&bytes)).map(|w| w.len())
    });
}

#[divan::bench]
fn model_load(bencher: divan::Bencher) {
    let bytes =
        std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/models/ner.bin")).unwrap_or_default();
    bencher.bench(|| {
        digestif::ner::Tagger::from_bytes(divan::black_box(&bytes)).map(|t| t.stages_len())
    });
}
