//! Tagging a text of any length piece by piece (`digestif tag` on a stream): the text is cut
//! into pieces at paragraph, sentence or word boundaries ([`cut_point`]), each piece is tagged
//! on its own, and [`StreamTagger`] keeps only the entities seen so far, so memory grows with
//! the number of distinct entities, not with the length of the text. Mentions do not link
//! across pieces (a bare "Obama" in one piece is not tied to "Barack Obama" in an earlier one);
//! pieces are large enough (a paragraph or more) that this rarely matters.

use std::collections::HashMap;

use crate::model::Entity;

use super::Mention;

/// A piece is cut once this many bytes are buffered.
pub const PIECE_BYTES: usize = 64 * 1024;

/// Where to end the next piece of `buf` (the bytes read so far), or `None` to read more first.
/// Prefers the last paragraph break, then the last sentence end, then the last whitespace in
/// the buffer; a buffer of [`PIECE_BYTES`] without any is cut at its last whole character.
/// The cut always falls on a character boundary of valid UTF-8.
pub fn cut_point(buf: &[u8]) -> Option<usize> {
    if buf.len() < PIECE_BYTES {
        return None;
    }
    let half = buf.len() / 2;
    let tail = &buf[half..];
    let after = |i: usize, n: usize| Some(half + i + n);
    if let Some(i) = find_last(tail, b"\n\n") {
        return after(i, 2);
    }
    if let Some(i) = find_last(tail, b". ") {
        return after(i, 2);
    }
    if let Some(i) = tail.iter().rposition(u8::is_ascii_whitespace) {
        return after(i, 1);
    }
    // No whitespace in half a piece: cut before a UTF-8 continuation byte never.
    let mut end = buf.len();
    while end > 0 && (buf[end - 1] & 0xC0) == 0x80 {
        end -= 1;
    }
    // `end - 1` starts a character that may be incomplete: leave it for the next piece.
    Some(end.saturating_sub(1).max(1))
}

fn find_last(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).rposition(|w| w == needle)
}

/// The entities of a text tagged piece by piece.
#[derive(Debug, Default)]
pub struct StreamTagger {
    /// Bytes of text tagged so far: the offset of the next piece.
    offset: usize,
    entities: Vec<Entity>,
    by_key: HashMap<String, usize>,
}

impl StreamTagger {
    pub fn new() -> StreamTagger {
        StreamTagger::default()
    }

    /// Tags the next piece; returns its mentions with offsets into the whole text.
    pub fn push(&mut self, piece: &str) -> Vec<Mention> {
        let (mut mentions, entities) = super::tag_text(piece);
        for m in &mut mentions {
            m.start += self.offset;
            m.end += self.offset;
        }
        for mut e in entities {
            e.first_offset += self.offset;
            match self.by_key.get(&e.key()) {
                Some(&i) => {
                    let have = &mut self.entities[i];
                    have.mentions += e.mentions;
                    have.first_offset = have.first_offset.min(e.first_offset);
                    have.in_title |= e.in_title;
                }
                None => {
                    self.by_key.insert(e.key(), self.entities.len());
                    e.salience = 0.0;
                    self.entities.push(e);
                }
            }
        }
        self.offset += piece.len();
        mentions
    }

    /// The entities of everything pushed, ranked by salience over the whole text.
    pub fn finish(mut self) -> Vec<Entity> {
        super::link::rank(&mut self.entities, self.offset);
        self.entities
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_at_paragraph_then_sentence_then_word() {
        let mut buf = vec![b'a'; PIECE_BYTES];
        assert_eq!(cut_point(&buf[..PIECE_BYTES - 1]), None);
        buf[PIECE_BYTES - 100] = b' ';
        assert_eq!(cut_point(&buf), Some(PIECE_BYTES - 99));
        buf[PIECE_BYTES - 300] = b'.';
        buf[PIECE_BYTES - 299] = b' ';
        assert_eq!(cut_point(&buf), Some(PIECE_BYTES - 298));
        buf[PIECE_BYTES - 500] = b'\n';
        buf[PIECE_BYTES - 499] = b'\n';
        assert_eq!(cut_point(&buf), Some(PIECE_BYTES - 498));
    }

    #[test]
    fn a_cut_without_whitespace_keeps_characters_whole() {
        let text = "é".repeat(PIECE_BYTES / 2 + 1);
        let cut = cut_point(text.as_bytes()).expect("cut");
        assert!(text.is_char_boundary(cut), "{cut}");
        assert!(cut > 0);
    }

    #[test]
    fn pieces_give_the_entities_of_the_whole() {
        let text = "Joe Biden met Angela Merkel in Berlin. ".repeat(10);
        let mut t = StreamTagger::new();
        let half = text.len() / 2;
        let cut = half + text[half..].find(". ").map_or(0, |i| i + 2);
        let mut mentions = t.push(&text[..cut]);
        mentions.extend(t.push(&text[cut..]));
        let (whole_mentions, whole) = crate::ner::tag_text(&text);
        let streamed = t.finish();
        assert_eq!(mentions.len(), whole_mentions.len());
        for m in &mentions {
            assert_eq!(&text[m.start..m.end], m.text);
        }
        let names = |v: &[Entity]| {
            let mut n: Vec<(String, u32)> =
                v.iter().map(|e| (e.name.clone(), e.mentions)).collect();
            n.sort();
            n
        };
        assert_eq!(names(&streamed), names(&whole));
    }
}
