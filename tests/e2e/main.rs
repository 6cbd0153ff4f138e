//! End-to-end suites: the real `pvaultd` and `pvault` binaries on temporary homes and sockets,
//! real Chromium (Debian's), a local HTTP server started by the tests (never the internet),
//! and real Playwright (`playwright-core` from tests/node) as a client.
//!
//! The binaries are found next to this test executable (`target/<profile>/`); `cargo test
//! --workspace` builds them first.

mod checkpoints;
mod clients;
mod complete_state;
mod headful;
mod multiplexed;
mod playwright;
mod puppeteer;
mod sessions;
mod support;
