//! digestif: turns the feeds a person follows into one good daily digest.
//!
//! Data flows one way: `config → fetch → parse (feed) → normalize → ner → store → (at digest time)
//! stories → digest → deliver`. `normalize`, `ner` and `stories` are pure (text in, data out) and
//! know nothing of fetching, storage, delivery or the command line; `store` knows no rendering; only
//! `cli` knows clap.

pub mod config;
pub mod deliver;
pub mod digest;
pub mod feed;
pub mod fetch;
pub mod hash;
pub mod model;
pub mod ner;
pub mod netcause;
pub mod normalize;
pub mod opml;
pub mod schedule;
pub mod store;
pub mod stories;
pub mod testhook;

pub mod cli;
pub mod daemon;
pub mod devdata;
pub mod pipeline;
