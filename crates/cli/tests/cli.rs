//! The `pvault` CLI against the real `pvaultd` binary, each test on its own temporary
//! `PVAULT_HOME` and socket, with cheap KDF parameters (`PVAULT_TEST_FAST_KDF=1`).
//!
//! Needs `pvaultd` built next to `pvault` (`cargo build --workspace --bins`).

#[path = "cli/support.rs"]
mod support;

#[path = "cli/daemon.rs"]
mod daemon;
#[path = "cli/errors.rs"]
mod errors;
#[path = "cli/from_browser.rs"]
mod from_browser;
#[path = "cli/health.rs"]
mod health;
#[path = "cli/packaging.rs"]
mod packaging;
#[path = "cli/profile.rs"]
mod profile;
#[path = "cli/prompt.rs"]
mod prompt;
#[path = "cli/remote.rs"]
mod remote;
#[path = "cli/save_new.rs"]
mod save_new;
#[path = "cli/session.rs"]
mod session;
#[path = "cli/vault.rs"]
mod vault;
