//! Property tests (proptest) of the hand-written parsers and text walkers: durations, sizes, HTML
//! to text and entity decoding, OPML export → import, line wrapping, the NER tokeniser and
//! boilerplate stripping. Each property states an invariant the code promises, not only "does not
//! panic". Deterministic: a fixed seed and a modest number of cases (the whole module runs in a few
//! seconds in release), no failure files written; `PROPTEST_CASES` raises the count for a longer
//! local run.

use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};

use digestif::digest::render::wrap_text;
use digestif::ner::tokenize::{split_sentences, tokenize};
use digestif::normalize::{Boilerplate, boilerplate, decode_entities, html_to_text};
use digestif::opml::{self, OpmlFeed};
use digestif::schedule::{format_duration, format_size, parse_duration, parse_size};

/// Fixed seed, no persistence files, `PROPTEST_CASES` (default 128) cases.
fn config() -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(128);
    Config {
        cases,
        rng_seed: RngSeed::Fixed(0x5eed_d16e_571f),
        failure_persistence: None,
        ..Config::default()
    }
}

// ---------------------------------------------------------------------------------- durations

const UNITS_MS: [(&str, u64); 6] = [
    ("ms", 1),
    ("s", 1_000),
    ("m", 60_000),
    ("h", 3_600_000),
    ("d", 86_400_000),
    ("w", 604_800_000),
];

fn unit() -> impl Strategy<Value = (&'static str, u64)> {
    prop::sample::select(UNITS_MS.to_vec())
}

proptest! {
    #![proptest_config(config())]

    /// Every duration of whole milliseconds formats to text that parses back to it, and that text
    /// is canonical (formatting the parsed value gives the same text).
    #[test]
    fn duration_format_parse_round_trip(ms in prop_oneof![0u64..10_000_000, any::<u64>()]) {
        let d = Duration::from_millis(ms);
        let text = format_duration(d);
        prop_assert_eq!(parse_duration(&text), Ok(d), "{}", text);
        prop_assert!(text.chars().all(|c| c.is_ascii_alphanumeric()), "{}", text);
    }

    /// Groups add up, with or without surrounding spaces; a value past `u64::MAX` milliseconds is
    /// an error, never a wrap-around or a panic.
    #[test]
    fn duration_groups_add_up_and_overflow_is_an_error(
        groups in prop::collection::vec((0u64..2_000_000_000_000, unit()), 1..5),
    ) {
        let text: String = groups.iter().map(|(n, (u, _))| format!("{n}{u}")).collect();
        let total: u128 = groups.iter().map(|(n, (_, ms))| *n as u128 * *ms as u128).sum();
        let parsed = parse_duration(&format!("  {text} "));
        if total <= u64::MAX as u128 {
            prop_assert_eq!(parsed, Ok(Duration::from_millis(total as u64)), "{}", text);
        } else {
            prop_assert!(parsed.is_err(), "{} parsed as {:?}", text, parsed);
        }
    }

    /// More of a unit is never a shorter duration.
    #[test]
    fn duration_is_monotonic(a in 0u64..1_000_000, b in 0u64..1_000_000, (u, _) in unit()) {
        let (lo, hi) = (a.min(b), a.max(b));
        let lo = parse_duration(&format!("{lo}{u}")).unwrap();
        let hi = parse_duration(&format!("{hi}{u}")).unwrap();
        prop_assert!(lo <= hi);
    }

    /// Arbitrary text either parses (and then round-trips through its canonical form) or is an
    /// error that quotes the input; it never panics.
    #[test]
    fn duration_parse_of_any_text(s in prop_oneof![
        "[0-9hmsdw ]{0,12}",
        "[0-9]{1,25}(ms|s|m|h|d|w|x|)",
        any::<String>(),
    ]) {
        match parse_duration(&s) {
            Ok(d) => prop_assert_eq!(parse_duration(&format_duration(d)), Ok(d)),
            Err(e) => prop_assert!(e.contains(&format!("{s:?}")), "{}", e),
        }
    }
}

// -------------------------------------------------------------------------------------- sizes

const SIZE_UNITS: [(&str, u64); 8] = [
    ("", 1),
    ("B", 1),
    ("KB", 1_000),
    ("KiB", 1 << 10),
    ("MB", 1_000_000),
    ("MiB", 1 << 20),
    ("GB", 1_000_000_000),
    ("GiB", 1 << 30),
];

proptest! {
    #![proptest_config(config())]

    /// Every byte count formats to text that parses back to it exactly.
    #[test]
    fn size_format_parse_round_trip(n in prop_oneof![
        0u64..100_000,
        (0u64..100_000).prop_map(|k| k << 10),
        (0u64..100_000).prop_map(|k| k << 20),
        (0u64..10_000_000).prop_map(|k| k << 30),
        any::<u64>(),
    ]) {
        let text = format_size(n);
        prop_assert_eq!(parse_size(&text), Ok(n), "{}", text);
    }

    /// `<n><unit>` is n times the unit in any letter case, an overflow is an error, and more of a
    /// unit is never less.
    #[test]
    fn size_units_multiply_and_are_monotonic(
        a in 0u64..50_000_000_000,
        b in 0u64..50_000_000_000,
        (u, mult) in prop::sample::select(SIZE_UNITS.to_vec()),
        lower in any::<bool>(),
    ) {
        let unit = if lower { u.to_lowercase() } else { u.to_uppercase() };
        let pa = parse_size(&format!("{a}{unit}"));
        match a.checked_mul(mult) {
            Some(v) => prop_assert_eq!(pa.clone(), Ok(v)),
            None => prop_assert!(pa.is_err()),
        }
        if let (Ok(x), Ok(y)) = (pa, parse_size(&format!("{b}{unit}"))) {
            prop_assert_eq!(a.cmp(&b), x.cmp(&y));
        }
    }

    /// Arbitrary text never panics, and what parses formats back to the same number.
    #[test]
    fn size_parse_of_any_text(s in prop_oneof!["[0-9]{0,22} ?[kKmMgGiIbB]{0,3}", any::<String>()]) {
        if let Ok(n) = parse_size(&s) {
            prop_assert_eq!(parse_size(&format_size(n)), Ok(n));
        }
    }
}

// ------------------------------------------------------------------------------- HTML to text

/// A word of text and its plain form: literal words, words with character references, words with
/// non-ASCII letters.
fn word() -> impl Strategy<Value = (String, String)> {
    prop_oneof![
        4 => "[A-Za-z0-9][a-z0-9]{0,9}[.,!?]?".prop_map(|w| (w.clone(), w)),
        1 => prop::sample::select(vec![
            ("&amp;", "&"),
            ("AT&amp;T", "AT&T"),
            ("caf&eacute;", "café"),
            ("&#8220;quoted&#8221;", "\u{201c}quoted\u{201d}"),
            ("it&#x2019;s", "it\u{2019}s"),
            ("&hellip;", "…"),
            ("&quot;x&quot;", "\"x\""),
            ("Z&uuml;rich", "Zürich"),
            ("S&atilde;o", "São"),
            ("&euro;5", "€5"),
        ])
        .prop_map(|(h, t)| (h.to_string(), t.to_string())),
        1 => "[àéîõüßøæłżçñ北京東京]{1,6}".prop_map(|w| (w.clone(), w)),
    ]
}

/// Text of words separated by single spaces, as HTML and as its expected plain text.
fn words(max: usize) -> impl Strategy<Value = (String, String)> {
    prop::collection::vec(word(), 1..max).prop_map(|ws| {
        let html = ws
            .iter()
            .map(|w| w.0.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        let text = ws
            .iter()
            .map(|w| w.1.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        (html, text)
    })
}

/// Content that must never reach the text (scripts, styles and other removed elements), with a
/// marker inside.
fn hidden() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "<script>var HIDDENMARK = '<p>x</p>';</script>",
        "<script type=\"text/javascript\">document.write(\"HIDDENMARK\")</script>",
        "<style>p { content: 'HIDDENMARK' }</style>",
        "<noscript>HIDDENMARK</noscript>",
        "<iframe src=\"https://x.example/\">HIDDENMARK</iframe>",
        "<svg><text>HIDDENMARK</text></svg>",
        "<object>HIDDENMARK</object>",
        "<!-- HIDDENMARK -->",
        "<select><option>HIDDENMARK</option></select>",
    ])
    .prop_map(str::to_string)
}

/// An HTML fragment: nested elements, text and hidden content, up to a small depth.
fn fragment() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        3 => words(6).prop_map(|(h, _)| h),
        1 => hidden(),
        1 => Just("<br>".to_string()),
        1 => Just("<img src=\"https://x.example/p.png\" alt=\"alt text\">".to_string()),
    ];
    leaf.prop_recursive(4, 32, 4, |inner| {
        (
            prop::sample::select(vec![
                "p",
                "div",
                "b",
                "i",
                "em",
                "span",
                "li",
                "ul",
                "blockquote",
                "h2",
                "td",
                "tr",
                "table",
                "pre",
                "section",
                "a",
            ]),
            prop::collection::vec(inner, 1..4),
            any::<bool>(),
        )
            .prop_map(|(tag, kids, attrs)| {
                let open = match (tag, attrs) {
                    ("a", _) => {
                        "<a href=\"https://x.example/?a=1&amp;b=2\" title=\"t > s\">".to_string()
                    }
                    (t, true) => format!("<{t} class=\"c\" onclick=\"alert(1)\" style=\"x\">"),
                    (t, false) => format!("<{t}>"),
                };
                format!("{open}{}</{tag}>", kids.join(" "))
            })
    })
}

proptest! {
    #![proptest_config(config())]

    /// No tag and nothing of a removed element survives; the text is folded (no runs of spaces,
    /// at most one blank line, no control characters, trimmed); and each of its lines is a fixed
    /// point: normalising a stored text again does not change it.
    #[test]
    fn html_to_text_leaves_no_markup_and_is_idempotent(html in fragment()) {
        let text = html_to_text(&html);
        prop_assert!(!text.contains("HIDDENMARK"), "{:?} → {:?}", html, text);
        prop_assert!(!text.contains('<') && !text.contains('>'), "{:?} → {:?}", html, text);
        prop_assert!(!text.contains("  ") && !text.contains("\n\n\n"), "{:?}", text);
        prop_assert_eq!(text.trim(), text.as_str());
        prop_assert!(
            text.chars().all(|c| c == '\n' || !c.is_control()),
            "{:?}", text
        );
        for line in text.lines().filter(|l| !l.is_empty()) {
            prop_assert_eq!(html_to_text(line), line, "line of {:?}", text);
        }
    }

    /// The words of a paragraph come out in order, their character references decoded, separated
    /// by single spaces, whatever inline markup wraps them.
    #[test]
    fn html_to_text_decodes_entities_and_keeps_words((html, text) in words(12), tag in
        prop::sample::select(vec!["p", "b", "span", "em", "div"])) {
        prop_assert_eq!(html_to_text(&format!("<{tag}>{html}</{tag}>")), text.clone());
        prop_assert_eq!(html_to_text(&html), text);
    }

    /// Any input, including broken markup cut at any character: no panic, and nothing that looks
    /// like the start of a tag from the input survives.
    #[test]
    fn html_to_text_of_broken_markup(html in fragment(), cut in any::<prop::sample::Index>(),
        junk in any::<String>()) {
        let chars: Vec<char> = html.chars().collect();
        let cut: String = chars[..cut.index(chars.len() + 1)].iter().collect();
        let text = html_to_text(&cut);
        prop_assert!(!text.contains("HIDDENMARK"), "{:?} → {:?}", cut, text);
        prop_assert!(!text.contains("<script") && !text.contains("<p>"), "{:?}", text);
        let _ = html_to_text(&junk);
        let _ = html_to_text(&format!("{cut}{junk}"));
    }

    /// Decoding inverts escaping: XML-escaped text, and text with every character written as a
    /// numeric reference (decimal or hex), decode back to the original (NUL aside, which is not a
    /// valid reference and stays written out).
    #[test]
    fn decode_entities_inverts_escaping(s in any::<String>(), hex in any::<bool>()) {
        prop_assert_eq!(decode_entities(&quick_xml::escape::escape(s.as_str())), s.clone());
        let numeric: String = s
            .chars()
            .map(|c| if hex { format!("&#x{:X};", c as u32) } else { format!("&#{};", c as u32) })
            .collect();
        let expected: String = s
            .chars()
            .map(|c| if c == '\0' { if hex { "&#x0;".into() } else { "&#0;".into() } } else { c.to_string() })
            .collect();
        prop_assert_eq!(decode_entities(&numeric), expected);
        // Text without an ampersand is returned as it is.
        let plain = s.replace('&', "");
        prop_assert_eq!(decode_entities(&plain), plain);
    }
}

// ---------------------------------------------------------------------------------------- OPML

/// A feed name as found in the wild: markup characters, quotes, entities written out, bare `&`,
/// non-ASCII, tabs and line breaks.
fn opml_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z0-9 ]{1,20}",
        "[A-Za-z &<>\"'/,;#=?.é日]{1,24}",
        Just("AT&T & Friends".to_string()),
        Just("&amp; &lt;b&gt; &#38; &nbsp;".to_string()),
        Just("Tab\there\nline two".to_string()),
        any::<String>(),
    ]
}

fn opml_url() -> impl Strategy<Value = String> {
    (
        prop::sample::select(vec!["http", "https"]),
        "[a-z0-9-]{1,12}(\\.[a-z]{2,6}){1,2}",
        "(/[A-Za-z0-9._~-]{0,10}){0,3}",
        prop::option::of("[a-z]{1,5}=[A-Za-z0-9&;<>\"'%]{0,8}(&[a-z]{1,5}=[0-9]{0,3}){0,2}"),
    )
        .prop_map(|(s, host, path, q)| match q {
            Some(q) => format!("{s}://{host}{path}?{q}"),
            None => format!("{s}://{host}{path}"),
        })
}

/// What import makes of a name: control characters other than tab and line breaks dropped,
/// no-break spaces as spaces, trimmed; an empty name is the URL.
fn imported_name(name: &str, url: &str) -> String {
    let kept: String = name
        .chars()
        .filter(|&c| (c as u32) >= 0x20 || matches!(c, '\n' | '\r' | '\t'))
        .map(|c| if c == '\u{a0}' { ' ' } else { c })
        .collect();
    let t = kept.trim();
    if t.is_empty() {
        url.to_string()
    } else {
        t.to_string()
    }
}

proptest! {
    #![proptest_config(config())]

    /// Export → import gives back every feed with its URL, its name (as import cleans names) and
    /// its tags in order, whatever characters they hold.
    #[test]
    fn opml_export_import_round_trip(
        raw in prop::collection::vec(
            (opml_text(), opml_url(), prop::collection::vec("[A-Za-z][A-Za-z0-9 é]{0,10}", 0..3)),
            1..8,
        ),
    ) {
        // URLs are unique in a config; tags are trimmed, non-empty and distinct per feed.
        let mut seen = std::collections::HashSet::new();
        let feeds: Vec<OpmlFeed> = raw
            .into_iter()
            .filter(|(_, url, _)| seen.insert(url.clone()))
            .map(|(name, url, tags)| {
                let mut uniq: Vec<String> = Vec::new();
                for t in tags.iter().map(|t| t.trim().to_string()) {
                    if !t.is_empty() && !uniq.contains(&t) {
                        uniq.push(t);
                    }
                }
                OpmlFeed { name, url, tags: uniq }
            })
            .collect();
        let xml = opml::export(&feeds);
        let back = opml::import(xml.as_bytes());
        prop_assert!(back.is_ok(), "{:?}\n{}", back, xml);
        let back = back.unwrap();
        prop_assert_eq!(back.len(), feeds.len(), "{}", xml);
        // Export groups feeds by their first tag; compare as sets keyed by URL.
        for f in &feeds {
            let b = back.iter().find(|b| b.url == f.url);
            prop_assert!(b.is_some(), "{} missing from\n{}", f.url, xml);
            let b = b.unwrap();
            prop_assert_eq!(&b.name, &imported_name(&f.name, &f.url), "{}", xml);
            prop_assert_eq!(&b.tags, &f.tags, "{}", xml);
        }
    }

    /// Hand-written OPML with raw `&` in titles and URLs (as many exporters write it) imports with
    /// the `&` as it was, and entities in it decoded.
    #[test]
    fn opml_import_tolerates_raw_ampersands(
        title in "[A-Za-z ]{0,8}&[A-Za-z ]{0,8}",
        q in "[a-z]{1,4}=[0-9]{1,3}&[a-z]{1,4}=[0-9]{1,3}",
    ) {
        let url = format!("https://feeds.example/rss?{q}");
        let doc = format!(
            "<?xml version=\"1.0\"?>\n<opml version=\"1.0\"><body>\n\
             <outline text=\"{title}\" xmlUrl=\"{url}\"/>\n\
             <outline text=\"A &amp; B&#39;s\" xmlUrl=\"{url}&amp;x=1\"/>\n</body></opml>"
        );
        let feeds = opml::import(doc.as_bytes());
        prop_assert!(feeds.is_ok(), "{:?}\n{}", feeds, doc);
        let feeds = feeds.unwrap();
        prop_assert_eq!(feeds.len(), 2);
        prop_assert_eq!(&feeds[0].url, &url);
        prop_assert_eq!(&feeds[0].name, &imported_name(&title, &url));
        prop_assert_eq!(&feeds[1].name, "A & B's");
        prop_assert_eq!(feeds[1].url.clone(), format!("{url}&x=1"));
    }

    /// Arbitrary bytes never panic the importer.
    #[test]
    fn opml_import_of_any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..400),
        text in "<opml><body>(<outline( [a-zA-Z]{1,6}=\"[^\"]{0,10}\")*/?>|</outline>|[&<>;]){0,12}") {
        let _ = opml::import(&bytes);
        let _ = opml::import(text.as_bytes());
    }
}

// ---------------------------------------------------------------------------------------- wrap

/// Spaces that break a line ([`wrap_text`] never breaks at a no-break space).
fn breaking(c: char) -> bool {
    c.is_whitespace() && !matches!(c, '\u{a0}' | '\u{202f}' | '\u{2007}')
}

fn wrap_word() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => "[a-zA-Z0-9,.()'-]{1,12}",
        1 => "[éß北東ü]{1,5}",
        1 => "[0-9]{1,2}\u{a0}[A-Z][a-z]{2}",
        1 => "https://[a-z]{10,30}\\.example/[a-z0-9/]{10,60}",
    ]
}

proptest! {
    #![proptest_config(config())]

    /// No line is longer than the width unless it holds one word that is; the words (split at
    /// breaking spaces) come out unchanged and in order; continuation lines of a list item hang
    /// under its text.
    #[test]
    fn wrap_keeps_words_in_order_within_the_width(
        lines in prop::collection::vec(
            (prop::sample::select(vec!["", "  ", "- ", "* ", "12. "]),
             prop::collection::vec(wrap_word(), 1..30)),
            1..4,
        ),
        width in 20usize..100,
    ) {
        let text = lines
            .iter()
            .map(|(lead, ws)| format!("{lead}{}", ws.join(" ")))
            .collect::<Vec<_>>()
            .join("\n");
        let out = wrap_text(&text, width);
        let words_in: Vec<&str> = text.split(breaking).filter(|w| !w.is_empty()).collect();
        let words_out: Vec<&str> = out.split(breaking).filter(|w| !w.is_empty()).collect();
        prop_assert_eq!(words_in, words_out);
        for line in out.lines() {
            let long = line.chars().count() > width;
            let one_word = line.split(breaking).filter(|w| !w.is_empty()).count() == 1;
            prop_assert!(!long || one_word, "line {:?} over {} in\n{}", line, width, out);
            prop_assert_eq!(line.trim_end_matches(breaking), line);
        }
        // Wrapping wrapped text again changes nothing.
        prop_assert_eq!(wrap_text(&out, width), out.clone());
        // Input lines stay lines: as many hard breaks as before, or more.
        prop_assert!(out.lines().count() >= text.lines().count());
    }

    /// Any text and width: no panic, and the non-space characters survive in order.
    #[test]
    fn wrap_of_any_text(s in any::<String>(), width in 0usize..40) {
        let out = wrap_text(&s, width);
        let a: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        let b: String = out.chars().filter(|c| !c.is_whitespace()).collect();
        prop_assert_eq!(a, b);
    }
}

// ---------------------------------------------------------------------------- NER tokeniser

fn news_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        "[A-Z][a-z]{1,8}",
        "[a-z]{1,8}",
        Just("U.S.".to_string()),
        Just("Mr.".to_string()),
        Just("O'Brien".to_string()),
        Just("McDonald's".to_string()),
        Just("Biden's".to_string()),
        Just("they're".to_string()),
        Just("al-Assad".to_string()),
        Just("1,000.50".to_string()),
        Just("1996-08-22".to_string()),
        Just("...".to_string()),
        Just("--".to_string()),
        Just("\u{201c}Quote\u{201d}".to_string()),
        Just("Côte d\u{2019}Ivoire".to_string()),
        "[.,;:!?\"'()\u{2014}\u{2013}-]",
        "[éüß北京東京]{1,4}",
        any::<char>().prop_map(String::from),
    ];
    let sep = prop::sample::select(vec![" ", " ", " ", "", "\n", "  ", "\t", "\u{a0}"]);
    prop::collection::vec((piece, sep), 0..40)
        .prop_map(|v| v.into_iter().map(|(p, s)| format!("{p}{s}")).collect())
}

proptest! {
    #![proptest_config(config())]

    /// Tokens are non-empty, in order, not overlapping, start and end on char boundaries, hold no
    /// whitespace, and together hold every non-whitespace character of the text; sentences
    /// partition the tokens.
    #[test]
    fn tokens_cover_the_text_on_char_boundaries(text in prop_oneof![news_text(), any::<String>()]) {
        let tokens = tokenize(&text);
        let mut last = 0;
        let mut covered = String::new();
        for t in &tokens {
            prop_assert!(t.start < t.end && t.start >= last && t.end <= text.len(), "{:?}", t);
            prop_assert!(text.is_char_boundary(t.start) && text.is_char_boundary(t.end));
            let s = t.text(&text);
            prop_assert_eq!(s, &text[t.start..t.end]);
            prop_assert!(!s.chars().any(char::is_whitespace), "{:?} in {:?}", s, text);
            prop_assert!(text[last..t.start].chars().all(char::is_whitespace),
                "{:?} skipped in {:?}", &text[last..t.start], text);
            covered.push_str(s);
            last = t.end;
        }
        prop_assert!(text[last..].chars().all(char::is_whitespace));
        let non_space: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        prop_assert_eq!(covered, non_space);
        // Sentences (ranges of token indices) are non-empty, in order, and together hold every
        // token exactly once; a line break always ends one.
        let sentences = split_sentences(&text, &tokens);
        let mut next = 0;
        for r in &sentences {
            prop_assert!(r.start == next && r.start < r.end, "{:?} in {:?}", r, sentences);
            for pair in tokens[r.clone()].windows(2) {
                prop_assert!(!text[pair[0].end..pair[1].start].contains('\n'),
                    "a sentence runs over a line break: {:?}", &text[tokens[r.start].start..tokens[r.end - 1].end]);
            }
            next = r.end;
        }
        prop_assert_eq!(next, tokens.len());
    }
}

// ------------------------------------------------------------------------------ boilerplate

fn item_text() -> impl Strategy<Value = String> {
    let seg = prop_oneof![
        3 => "[A-Z][a-z]{2,8}( [a-z]{2,8}){2,8}[.!?]",
        1 => prop::sample::select(vec![
            "Subscribe to our newsletter.",
            "Follow us on Twitter.",
            "The post Storm hits coast appeared first on Daily News.",
            "Read more at https://news.example/a.",
            "By Jane Doe",
            "Sign up for alerts!",
            "Mr. Smith went to Washington.",
            "It cost 1,234 dollars.",
        ]).prop_map(str::to_string),
        1 => "[A-Za-z ,.!?…\u{a0}]{0,30}",
    ];
    let sep = prop::sample::select(vec![" ", "  ", "\n", "\n\n", " \n", "\n \n", "\t"]);
    prop::collection::vec((seg, sep), 0..8)
        .prop_map(|v| v.into_iter().map(|(s, p)| format!("{s}{p}")).collect())
}

proptest! {
    #![proptest_config(config())]

    /// Stripping a fetch never makes a text longer, keeps only segments of the original (in
    /// order), and is idempotent: stripping what it left changes nothing.
    #[test]
    fn boilerplate_strip_never_grows_and_is_idempotent(
        texts in prop::collection::vec(item_text(), 1..12),
    ) {
        let mut stripped = texts.clone();
        let bp: Boilerplate = boilerplate::strip_feed(&mut stripped);
        for (orig, out) in texts.iter().zip(&stripped) {
            prop_assert!(out.len() <= orig.len(), "{:?} grew to {:?}", orig, out);
            prop_assert_eq!(bp.strip(out), out.clone(), "not idempotent on {:?}", orig);
            let mut segs = boilerplate::segments(orig);
            for s in boilerplate::segments(out) {
                prop_assert!(segs.any(|o| o == s), "{:?} not a segment of {:?}", s, orig);
            }
        }
    }
}
