//! What the daemon's integration tests (`crates/daemon/tests`) and the end-to-end suites
//! (`tests/e2e`, `tests/bench`) share, so each exists once:
//!
//! - [`wait_for`]: readiness is a condition polled with a deadline, never a sleep;
//! - [`chrome`]: which Chromium the tests drive, and [`UserChrome`], one started the way a
//!   user would (for `session attach`);
//! - [`Cdp`]: a minimal synchronous CDP client, standing in for Playwright where a test checks
//!   what the browser really holds;
//! - [`PgServer`]: a throw-away PostgreSQL cluster for the remote-store tests;
//! - [`TestServer`]: a local site on 127.0.0.1 (never the internet) whose pages "log in";
//! - [`write_cookie_db`]: a Chromium `Cookies` database written to order (the import tests).

mod cdp;
mod chrome;
mod cookie_db;
pub mod postgres;
mod site;
mod wait;

pub use cdp::Cdp;
pub use chrome::{UserChrome, active_port, chrome, chromium_args, json_version};
pub use cookie_db::{RowSpec, write_cookie_db};
pub use postgres::PgServer;
pub use site::{OIDC_CLIENT_ID, SID, Seen, TOKEN, TestServer, node_dir, oidc_user_key};
pub use wait::{Ready, wait_for, wait_for_with};
