//! pvaultd's integration tests: the real `pvaultd` binary (or the in-process `serve`) on
//! temporary directories and sockets. One binary; each module says what it covers.

mod activation;
mod api;
mod bad_inputs;
mod browser_sockets;
mod config_reload;
mod durability;
mod faults;
mod harness;
mod health;
mod import_browser;
mod lifecycle;
mod relay;
mod remote;
mod rollback;
mod security;
mod sessions;
mod stalls;
mod verify;
