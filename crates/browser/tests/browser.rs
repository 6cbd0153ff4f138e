//! Integration tests of pvault-browser against real Chromium (`/usr/lib/chromium/chromium` or
//! whatever `discover_chrome` finds) and a local HTTP server started by the tests. Nothing
//! here reaches the internet: fake hosts are only visited through the stub page, which answers
//! every request itself.

#[path = "browser/support.rs"]
mod support;

#[path = "browser/attach.rs"]
mod attach;
#[path = "browser/checkpoint.rs"]
mod checkpoint;
#[path = "browser/complete_state.rs"]
mod complete_state;
#[path = "browser/discovery.rs"]
mod discovery;
#[path = "browser/login.rs"]
mod login;
#[path = "browser/mux.rs"]
mod mux;
#[path = "browser/mux_conformance.rs"]
mod mux_conformance;
#[path = "browser/probe.rs"]
mod probe;
#[path = "browser/roundtrip.rs"]
mod roundtrip;
#[path = "browser/running.rs"]
mod running;
#[path = "browser/storage_order.rs"]
mod storage_order;
