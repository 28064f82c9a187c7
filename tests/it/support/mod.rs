//! Shared test helpers: real servers on 127.0.0.1 and data locators.

pub mod app;
pub mod fetch_data;
pub mod http;
pub mod shared;
pub mod smtp;
pub mod stories_fixtures;
