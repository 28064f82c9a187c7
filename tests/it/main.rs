//! The one integration-test binary of digestif. Each module covers one area; `support` holds the
//! real loopback HTTP and SMTP servers and the other shared helpers. Tests that need the development
//! data in `../shared` go through `support::shared::require`: they skip with a message when it is
//! absent, and fail instead under `DIGESTIF_REQUIRE_SHARED=1` (as `.ci/run` sets).

mod support;

mod atom;
mod bounds;
mod config;
mod deliver;
mod developing;
mod e2e;
mod email;
mod faults;
mod feeds_corpus;
mod fetch;
mod ingest;
mod ner;
mod neterrors;
mod normalize;
mod operator;
mod opml;
mod properties;
mod render;
mod retention;
mod schedule;
mod stories;
mod structure;
