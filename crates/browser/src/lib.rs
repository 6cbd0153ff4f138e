//! pvault-browser owns everything that talks to Chrome/Chromium: finding the executable,
//! launching it with a fresh user-data-dir, loading a [`pvault_model::BrowserState`] into it
//! (fast and verified), capturing the state back, attaching to a browser someone else started,
//! and closing or detaching. It is the only crate that imports chromiumoxide and knows nothing
//! of the vault or the daemon's sockets.
//!
//! Entry points: [`discover_chrome`], [`Session::launch`] (with [`LaunchOptions`], returns a
//! [`LoadReport`]), [`Session::attach`], [`Session::load_state`], [`Session::capture`]
//! (returns a [`CaptureReport`]), [`Session::capture_checkpoint`] and [`Session::change_watch`]
//! (what checkpoints stand on), [`Session::exit_watch`], [`Session::close`] and
//! [`Session::detach`]; [`Session::cdp_endpoint`] is what a relay hands its clients to.
//!
//! A launched browser speaks CDP over `--remote-debugging-pipe` (module `mux`: one pipe, a
//! browser-level session per client, so the engine, the sessionStorage hand-off and every
//! relayed client each see a connection of their own) and listens on no socket; an attached
//! browser, or a launch allowed to fall back, over Chrome's websocket (module `endpoint`).
//! CDP traffic for state goes through `cdp.rs` (raw JSON commands on chromiumoxide) for live
//! pages, and through `raw_cdp.rs` (a connection of our own) for the tabs the engine opens.
//!
//! What was measured on Chromium 156 and chromiumoxide 0.9, and why the code does what it
//! does, is said in each module's comments where it matters.

mod capture;
mod cdp;
mod cookies;
mod discover;
mod endpoint;
mod error;
mod file_watch;
mod indexed_db;
mod launch;
mod leveldb;
mod load;
mod mux;
mod page_events;
mod probe;
mod raw_cdp;
mod report;
mod session;
mod stub;
mod tabs;
mod tracker;

pub use discover::{ChromeSearch, chrome_major_version, discover_chrome, discover_chrome_in};
pub use endpoint::{CdpEndpoint, Transport};
pub use error::BrowserError;
pub use launch::{BrowserExit, LaunchOptions, LocalStorageLoad};
pub use leveldb::VERIFIED_MAJORS;
pub use mux::{
    EndpointError, MAX_IN_FLIGHT, Mux, MuxClient, MuxError, MuxReceiver, MuxSender, OUT_QUEUE,
};
pub use probe::{FailedAt, PageProbe};
pub use report::{CaptureReport, LoadMethod, LoadReport};
pub use session::Session;
pub use tracker::ChangeSignal;
