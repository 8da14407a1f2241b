//! Free trials and the evaluation program over HTTP: every trial rule, every waiver and grant,
//! the desk's view of trials and enrollments, rate limits and the trial email. Each test runs
//! the server in-process on a fresh database, twice: on SQLite and on Postgres
//! (`sqlite::NAME`, `postgres::NAME`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../support/mod.rs"]
mod support;

#[path = "../mail/maildev.rs"]
mod maildev;

mod helpers;

mod concurrency;
mod desk;
mod email;
mod evaluations;
mod mailbox;
mod proof;
mod ratelimit;
mod rules;
mod waivers;
