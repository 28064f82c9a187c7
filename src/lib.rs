//! digestif: turns the feeds a person follows into one good daily digest.
//!
//! Data flows one way: `config → fetch → parse (feed) → normalize → ner → store → (at digest time)
//! stories → digest → deliver`. `normalize`, `ner` and `stories` are pure (text in, data out).

pub mod model;
