//! pvaultd's socket protocol, shared by the daemon, the CLI and Rust clients: the message
//! types (one struct per request, tied to its method name and response by [`Request`]), the
//! stable [`ErrorCode`]s, the JSON-lines framing with its size cap ([`frame`]), socket and
//! home discovery ([`paths`]), and a small pipelining tokio [`client`].
//!
//! The normative description is `protocol.md` at the repository root; this crate implements
//! it and its tests check each rule.

pub mod error;
pub mod events;
pub mod frame;
pub mod messages;
pub mod paths;
mod secret;

#[cfg(feature = "client")]
pub mod client;

pub use error::{ErrorBody, ErrorCode};
pub use events::{Event, LockReason};
pub use messages::*;
pub use secret::{Credential, Secret, SecretBytes};

use serde::Serialize;
use serde::de::DeserializeOwned;

/// Protocol major version: a client with another major is refused at `hello` (`unsupported`).
pub const PROTOCOL_MAJOR: u32 = 1;
/// Protocol minor version: additions only.
pub const PROTOCOL_MINOR: u32 = 8;

/// Largest message (one line, without its `\n`) either side accepts: 64 MiB. A Playwright
/// storageState with large localStorage values can reach tens of MiB, and `profile.import`
/// carries one in a single message. A longer line is answered with `too_large` and the
/// connection is closed, before more than this many bytes are buffered.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;

/// Largest request id: 2^53 − 1, so ids survive JavaScript numbers unchanged.
pub const MAX_ID: u64 = (1 << 53) - 1;

/// A request's `params` type: names its method and its result type.
pub trait Request: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The method name, `area.verb`.
    const METHOD: &'static str;
    /// The method, for routing.
    const KIND: Method;
    /// The type of the `result` member of a successful response.
    type Response: Serialize + DeserializeOwned + Send + 'static;
}
