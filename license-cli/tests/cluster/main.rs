//! `coder-license` against a Kubernetes API double over TLS, run as the real binary, with
//! the results read back by the real `kubectl`; and the same commands with `--file-store`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

mod apply;
mod deployment_id;
mod failures;
mod file_store;
mod judge;
mod remove;
