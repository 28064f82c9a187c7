//! The one integration-test binary of digestif. Each module covers one area; `support` holds the
//! real loopback HTTP and SMTP servers and the other shared helpers. Tests that need the development
//! data in `../shared` print a skip message and return when it is absent.

mod support;

mod config;
mod deliver;
mod e2e;
mod feeds_corpus;
mod fetch;
mod ner;
mod normalize;
mod render;
mod schedule;
mod stories;
mod structure;
