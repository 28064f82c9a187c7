//! Whether two summary sentences say the same thing in other words ("Chancellor Merz and President
//! Macron agreed …" / "French President Macron and German Chancellor Merz … backed …"), so a
//! story's summary never repeats itself. Pure; word overlap only, no model.
//!
//! Two sentences restate each other when most of the content words of the shorter one are in the
//! longer one (overlap coefficient ≥ [`CONTENT_OVERLAP`]), or when they name the same people,
//! organisations and places (the capitalised names of the shorter all in the longer, at least
//! two of them) and still share a fair part of their content words (≥ [`NAMED_OVERLAP`]).

use std::collections::HashSet;

/// Share of the shorter sentence's content words found in the other: a restatement.
pub const CONTENT_OVERLAP: f32 = 0.6;
/// With the same names on both sides, this much content-word overlap is a restatement.
pub const NAMED_OVERLAP: f32 = 0.3;

/// Words that carry no content of their own (and sentence-initial capitals that are no names).
const FUNCTION_WORDS: &[&str] = &[
    "a", "about", "after", "again", "against", "all", "also", "an", "and", "any", "are", "as",
    "at", "be", "been", "before", "being", "but", "by", "can", "could", "did", "do", "does",
    "during", "for", "from", "had", "has", "have", "he", "her", "his", "how", "i", "if", "in",
    "into", "is", "it", "its", "more", "most", "new", "no", "not", "of", "on", "one", "or", "our",
    "over", "said", "says", "she", "so", "than", "that", "the", "their", "them", "then", "there",
    "these", "they", "this", "those", "to", "two", "under", "up", "was", "we", "were", "what",
    "when", "where", "which", "while", "who", "will", "with", "would", "you",
];

fn is_function_word(w: &str) -> bool {
    FUNCTION_WORDS.binary_search(&w).is_ok()
}

/// Content words of a sentence: lower-cased, function words dropped, a plural `s` dropped and cut
/// to a 5-letter stem, so "agreed"/"agree" and "rates"/"rate" meet.
fn content_words(s: &str) -> HashSet<String> {
    words(s)
        .map(|w| w.to_lowercase())
        .filter(|w| w.chars().count() > 1 && !is_function_word(w))
        .map(|w| {
            let w = if w.len() > 3 {
                w.trim_end_matches('s')
            } else {
                &w
            };
            w.chars().take(5).collect()
        })
        .collect()
}

/// Capitalised words that are names: not the sentence's first word, not function words.
fn names(s: &str) -> HashSet<String> {
    words(s)
        .skip(1)
        .filter(|w| w.chars().next().is_some_and(char::is_uppercase))
        .map(|w| w.to_lowercase())
        .filter(|w| !is_function_word(w))
        .collect()
}

fn words(s: &str) -> impl Iterator<Item = &str> {
    s.split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .map(|w| w.trim_matches('\'').trim_end_matches("'s"))
        .filter(|w| !w.is_empty())
}

fn overlap(a: &HashSet<String>, b: &HashSet<String>) -> (usize, f32) {
    let inter = a.intersection(b).count();
    let small = a.len().min(b.len());
    (
        inter,
        if small == 0 {
            0.0
        } else {
            inter as f32 / small as f32
        },
    )
}

/// True when sentences `a` and `b` say the same thing (see the module docs).
pub fn restates(a: &str, b: &str) -> bool {
    let (ca, cb) = (content_words(a), content_words(b));
    let (_, content) = overlap(&ca, &cb);
    if content >= CONTENT_OVERLAP {
        return true;
    }
    let (na, nb) = (names(a), names(b));
    let (shared, named) = overlap(&na, &nb);
    shared >= 2 && named >= 1.0 && content >= NAMED_OVERLAP
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_words_are_sorted_for_binary_search() {
        assert!(FUNCTION_WORDS.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn a_restatement_in_other_words_is_caught() {
        assert!(restates(
            "Chancellor Merz and President Macron agreed on Tuesday to push for a joint European air defence fund.",
            "French President Macron and German Chancellor Merz on Tuesday backed a joint fund for European air defence."
        ));
        assert!(restates(
            "The Bank of Norway held its key rate at 4.5% and signalled a cut in spring.",
            "Norway's central bank held rates at 4.5 per cent, signalling a cut in the spring."
        ));
    }

    #[test]
    fn two_facts_of_one_story_are_both_kept() {
        assert!(!restates(
            "Gavin Newsom defeated the recall by a wide margin on Tuesday.",
            "Newsom's children tested positive for Covid last week, his office said."
        ));
        assert!(!restates(
            "Macron and Merz met in Berlin on Monday.",
            "Macron said France would raise its defence budget next year to 3% of output."
        ));
    }
}
