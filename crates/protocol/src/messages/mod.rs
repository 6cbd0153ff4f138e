//! One struct per request (its `params`), each tied to its method name and response type by
//! [`Request`](crate::Request). Shared model types (profiles, snapshots, settings) are reused
//! from `pvault-model`, never copied.
//!
//! Unknown fields in `params` are rejected (`invalid_argument`): a typo in an optional field
//! must not be silently ignored.

mod daemon;
mod profile;
mod session;
mod vault;

pub use daemon::*;
pub use profile::*;
pub use session::*;
pub use vault::*;

use serde::{Deserialize, Serialize};

/// The empty result `{}` of requests that only acknowledge.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {}

/// Ties a params struct to its method name and response type.
macro_rules! request {
    ($ty:ty, $method:literal, $resp:ty) => {
        impl $crate::Request for $ty {
            const METHOD: &'static str = $method;
            type Response = $resp;
        }
    };
}
pub(crate) use request;

/// Every method name this protocol version defines, in documentation order.
pub const METHODS: &[&str] = &[
    "hello",
    "status",
    "subscribe",
    "daemon.shutdown",
    "vault.init",
    "vault.unlock",
    "vault.lock",
    "vault.passwd",
    "vault.verify",
    "vault.backup",
    "profile.create",
    "profile.list",
    "profile.show",
    "profile.rename",
    "profile.update",
    "profile.delete",
    "profile.import",
    "profile.export",
    "profile.history",
    "profile.diff",
    "profile.restore",
    "session.start",
    "session.list",
    "session.show",
    "session.stop",
    "session.capture",
    "session.load",
    "session.attach",
];
