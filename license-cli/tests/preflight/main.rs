//! `coder-license preflight` as the real binary, against the Kubernetes API double set up as
//! a small good cluster and as clusters with each problem, the machine's PostgreSQL, and a
//! licensor stand-in; and the licensing preflight that `apply` runs for trial licenses.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

mod checks;
mod licensing;
