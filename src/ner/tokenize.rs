//! Unicode-aware tokeniser and sentence splitter for news text.
//!
//! Owns the mapping from raw text to tokens with byte offsets. Rules: words keep internal hyphens
//! (`al-Assad`, `1996-08-22`), apostrophes inside names (`O'Brien`, `d'Ivoire`) and digit
//! separators (`1,000.50`); dotted acronyms stay whole (`U.S.`, `U.N.`), as do initials (`J.`) and
//! common abbreviations (`Mr.`, `Corp.`); the possessive `'s` / `’s` and other clitics are split
//! off, except in lexicalised names (`McDonald's`); curly and straight quotes, dashes and other
//! punctuation are single tokens (runs such as `...` or `--` stay together).

/// One token: a byte range into the text it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token {
    pub start: usize,
    pub end: usize,
}

impl Token {
    /// The token's text.
    pub fn text<'a>(&self, text: &'a str) -> &'a str {
        &text[self.start..self.end]
    }
}

/// Abbreviations that keep their trailing period.
const ABBREVIATIONS: &[&str] = &[
    "Mr", "Mrs", "Ms", "Dr", "Prof", "Gen", "Sen", "Rep", "Gov", "Lt", "Col", "Sgt", "Capt",
    "Cmdr", "Adm", "Maj", "Rev", "Fr", "St", "Jr", "Sr", "Inc", "Corp", "Co", "Ltd", "Bros", "Plc",
    "vs", "etc", "No", "Nos", "Jan", "Feb", "Mar", "Apr", "Jun", "Jul", "Aug", "Sep", "Sept",
    "Oct", "Nov", "Dec", "Mt", "Ft", "Ave", "Blvd", "Dept", "Univ", "approx", "Pres", "Supt",
    "Insp", "Det",
];

/// Names whose `'s` is part of the name, not a possessive.
const LEXICALISED_S: &[&str] = &[
    "mcdonald",
    "moody",
    "sotheby",
    "christie",
    "kellogg",
    "wendy",
    "domino",
    "lloyd",
    "denny",
    "hardee",
    "sainsbury",
    "macy",
    "harrod",
    "dillard",
    "friendly",
    "lowe",
    "kohl",
    "trader joe",
    "carl",
    "applebee",
    "chili",
    "arby",
    "claire",
    "levi",
    "ben & jerry",
    "dunkin",
    "hershey",
    "reese",
    "nathan",
    "morrison",
    "hamleys",
    "boots",
];

fn is_abbreviation(w: &str) -> bool {
    ABBREVIATIONS.contains(&w)
        || (w.len() <= 5
            && w.chars().all(|c| c.is_ascii_uppercase())
            && ABBREVIATIONS
                .iter()
                .any(|a| a.eq_ignore_ascii_case(w) && a.len() > 2))
}

const CLITICS: &[&str] = &["s", "re", "ve", "ll", "d", "m"];

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric()
}

fn is_apostrophe(c: char) -> bool {
    c == '\'' || c == '\u{2019}'
}

fn is_hyphen(c: char) -> bool {
    matches!(c, '-' | '\u{2010}' | '\u{2011}')
}

/// Splits `text` into tokens with byte offsets.
// fn-length: the tokeniser's hot state machine (one pass over the characters, every state moving the
// same cursor); split into functions it would pass that cursor and the output back and forth per token.
pub fn tokenize(text: &str) -> Vec<Token> {
    let cs: Vec<(usize, char)> = text.char_indices().collect();
    let n = cs.len();
    let pos = |i: usize| if i < n { cs[i].0 } else { text.len() };
    let ch = |i: usize| if i < n { cs[i].1 } else { ' ' };
    let mut out = Vec::with_capacity(text.len() / 5 + 1);
    let mut i = 0;
    while i < n {
        let c = cs[i].1;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        // Clitic directly after a word: 's 're 've 'll 'd 'm
        if is_apostrophe(c) && i > 0 && is_word_char(cs[i - 1].1) {
            let mut k = i + 1;
            while k < n && cs[k].1.is_alphabetic() {
                k += 1;
            }
            if k > i + 1 && !is_word_char(ch(k)) {
                let rest = text[pos(i + 1)..pos(k)].to_lowercase();
                if CLITICS.contains(&rest.as_str()) {
                    out.push(Token {
                        start: pos(i),
                        end: pos(k),
                    });
                    i = k;
                    continue;
                }
            }
        }
        if is_word_char(c) {
            // Dotted acronym: U.S. / U.N. / e.g. / initial J.
            if c.is_alphabetic() && ch(i + 1) == '.' {
                let mut j = i;
                let mut segs = 0;
                while j < n && cs[j].1.is_alphabetic() && ch(j + 1) == '.' {
                    segs += 1;
                    j += 2;
                    if !ch(j).is_alphabetic() || is_word_char(ch(j + 1)) {
                        break;
                    }
                }
                // trailing single letter without dot ("U.S")
                if segs >= 1
                    && ch(j).is_alphabetic()
                    && !is_word_char(ch(j + 1))
                    && ch(j + 1) != '.'
                {
                    j += 1;
                    segs += 1;
                }
                if segs >= 2 || (segs == 1 && c.is_uppercase() && j == i + 2) {
                    out.push(Token {
                        start: pos(i),
                        end: pos(j),
                    });
                    i = j;
                    continue;
                }
            }
            let mut j = i + 1;
            while j < n {
                let c = cs[j].1;
                if is_word_char(c) || unicode_normalization::char::is_combining_mark(c) {
                    j += 1;
                    continue;
                }
                if (is_hyphen(c) || c == '&') && is_word_char(ch(j + 1)) {
                    j += 2;
                    continue;
                }
                if matches!(c, '.' | ',' | ':' | '/')
                    && cs[j - 1].1.is_ascii_digit()
                    && ch(j + 1).is_ascii_digit()
                {
                    j += 2;
                    continue;
                }
                if is_apostrophe(c) && ch(j + 1).is_alphabetic() {
                    let mut k = j + 1;
                    while k < n && cs[k].1.is_alphabetic() {
                        k += 1;
                    }
                    let rest = text[pos(j + 1)..pos(k)].to_lowercase();
                    if CLITICS.contains(&rest.as_str()) && !is_word_char(ch(k)) {
                        let word = text[pos(i)..pos(j)].to_lowercase();
                        if rest == "s" && LEXICALISED_S.contains(&word.as_str()) {
                            j = k;
                            continue;
                        }
                        break;
                    }
                    j = k;
                    continue;
                }
                break;
            }
            // abbreviation with period
            if ch(j) == '.' && is_abbreviation(&text[pos(i)..pos(j)]) {
                j += 1;
            }
            out.push(Token {
                start: pos(i),
                end: pos(j),
            });
            i = j;
            continue;
        }
        // punctuation: runs of the same char for . - and the like
        let mut j = i + 1;
        if matches!(c, '.' | '-' | '=' | '*' | '_' | '!' | '?') {
            while j < n && cs[j].1 == c {
                j += 1;
            }
        }
        out.push(Token {
            start: pos(i),
            end: pos(j),
        });
        i = j;
    }
    out
}

fn is_closer(s: &str) -> bool {
    matches!(
        s,
        "\"" | "'" | "\u{201d}" | "\u{2019}" | ")" | "]" | "\u{bb}"
    )
}

fn starts_sentence(s: &str) -> bool {
    match s.chars().next() {
        Some(c) => {
            c.is_uppercase()
                || c.is_ascii_digit()
                || matches!(
                    c,
                    '"' | '\'' | '\u{201c}' | '\u{2018}' | '(' | '[' | '\u{ab}' | '-'
                )
        }
        None => false,
    }
}

/// Splits tokens into sentences; returns ranges of token indices. Newlines always end a sentence.
pub fn split_sentences(text: &str, tokens: &[Token]) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let n = tokens.len();
    let mut start = 0;
    let mut t = 0;
    while t < n {
        let mut end_here = None;
        let tok = tokens[t].text(text);
        if matches!(tok, "!" | "?" | "\u{2026}")
            || tok.starts_with("..")
            || tok == "."
            || tok.starts_with("!!")
            || tok.starts_with("??")
        {
            let mut e = t;
            // A closing quote or bracket touches the mark; after a space it opens the next one.
            while e + 1 < n
                && is_closer(tokens[e + 1].text(text))
                && tokens[e].end == tokens[e + 1].start
            {
                e += 1;
            }
            if e + 1 >= n || starts_sentence(tokens[e + 1].text(text)) {
                end_here = Some(e);
            }
        }
        let e = end_here.unwrap_or(t);
        let newline_after = e + 1 < n && text[tokens[e].end..tokens[e + 1].start].contains('\n');
        if end_here.is_some() || newline_after || e + 1 >= n {
            out.push(start..e + 1);
            start = e + 1;
        }
        t = e + 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<&str> {
        tokenize(s).iter().map(|t| t.text(s)).collect()
    }

    #[test]
    fn keeps_acronyms_hyphens_and_lexicalised_names() {
        assert_eq!(
            toks("The U.S. and al-Assad met at McDonald's."),
            [
                "The",
                "U.S.",
                "and",
                "al-Assad",
                "met",
                "at",
                "McDonald's",
                "."
            ]
        );
        assert_eq!(toks("Kim Jong Un spoke"), ["Kim", "Jong", "Un", "spoke"]);
    }

    #[test]
    fn splits_possessive_and_quotes() {
        assert_eq!(toks("Germany's army"), ["Germany", "'s", "army"]);
        assert_eq!(
            toks("“Putin’s plan” — 1,200.5 km"),
            ["“", "Putin", "’s", "plan", "”", "—", "1,200.5", "km"]
        );
        assert_eq!(toks("O'Brien said"), ["O'Brien", "said"]);
    }

    #[test]
    fn offsets_are_bytes() {
        let s = "Zürich’s mayor";
        let t = tokenize(s);
        assert_eq!(t[0], Token { start: 0, end: 7 });
        assert_eq!(t[1].text(s), "’s");
        assert_eq!(t[2].start, s.find("mayor").unwrap());
    }

    #[test]
    fn sentences_split_on_punctuation_and_newline() {
        let s = "Mr. Smith went to Washington. He met the U.S. envoy!\nTitle Line\nNext one.";
        let t = tokenize(s);
        let ss = split_sentences(s, &t);
        let firsts: Vec<&str> = ss.iter().map(|r| t[r.start].text(s)).collect();
        assert_eq!(firsts, ["Mr.", "He", "Title", "Next"]);
    }

    #[test]
    fn regression_opening_quote_after_a_mark_was_taken_as_closing() {
        let s = "He left! \"Why?\" Then \"no.\" \"Yes.\"";
        let t = tokenize(s);
        let ss = split_sentences(s, &t);
        let texts: Vec<&str> = ss
            .iter()
            .map(|r| &s[t[r.start].start..t[r.end - 1].end])
            .collect();
        assert_eq!(texts, ["He left!", "\"Why?\"", "Then \"no.\"", "\"Yes.\""]);
    }
}
