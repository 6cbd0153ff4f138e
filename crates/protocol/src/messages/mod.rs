//! One struct per request (its `params`), each tied to its method name and response type by
//! [`Request`](crate::Request). Shared model types (profiles, snapshots, settings) are reused
//! from `pvault-model`, never copied.
//!
//! Unknown fields in `params` are rejected (`invalid_argument`): a typo in an optional field
//! must not be silently ignored.

mod daemon;
mod health;
mod profile;
mod remote;
mod session;
mod vault;

pub use daemon::*;
pub use health::*;
pub use profile::*;
pub use remote::*;
pub use session::*;
pub use vault::*;

use serde::{Deserialize, Serialize};

/// The empty result `{}` of requests that only acknowledge.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {}

/// The method table: every method of this protocol version, in documentation order, with its
/// wire name, its params type and its result type. It generates [`Method`] and every
/// [`Request`](crate::Request) impl, so a name is written once; the daemon routes on
/// [`Method`] with an exhaustive match, so a method added here does not build until it is
/// routed.
macro_rules! methods {
    ($($variant:ident = $name:literal, $params:ty => $resp:ty;)*) => {
        /// A method of the protocol, as the daemon routes it.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Method {
            $(
                #[doc = concat!("`", $name, "`")]
                $variant,
            )*
        }

        impl Method {
            /// Every method, in documentation order.
            pub const ALL: &'static [Method] = &[$(Method::$variant),*];

            /// The wire name, `area.verb`.
            pub const fn name(self) -> &'static str {
                match self {
                    $(Method::$variant => $name,)*
                }
            }

            /// The method called `name`; `None` for a name this version does not define.
            pub fn from_name(name: &str) -> Option<Method> {
                match name {
                    $($name => Some(Method::$variant),)*
                    _ => None,
                }
            }
        }

        $(
            impl $crate::Request for $params {
                const METHOD: &'static str = $name;
                const KIND: Method = Method::$variant;
                type Response = $resp;
            }
        )*
    };
}

methods! {
    Hello = "hello", Hello => HelloResponse;
    Status = "status", Status => StatusResponse;
    Subscribe = "subscribe", Subscribe => Ack;
    DaemonShutdown = "daemon.shutdown", DaemonShutdown => Ack;
    VaultInit = "vault.init", VaultInit => VaultInitResponse;
    VaultUnlock = "vault.unlock", VaultUnlock => VaultUnlockResponse;
    VaultLock = "vault.lock", VaultLock => Ack;
    VaultPasswd = "vault.passwd", VaultPasswd => Ack;
    VaultVerify = "vault.verify", VaultVerify => VaultVerifyResponse;
    VaultBackup = "vault.backup", VaultBackup => VaultBackupResponse;
    ProfileCreate = "profile.create", ProfileCreate => ProfileResponse;
    ProfileList = "profile.list", ProfileList => ProfileListResponse;
    ProfileShow = "profile.show", ProfileShow => ProfileResponse;
    ProfileRename = "profile.rename", ProfileRename => ProfileResponse;
    ProfileUpdate = "profile.update", ProfileUpdate => ProfileResponse;
    ProfileDelete = "profile.delete", ProfileDelete => Ack;
    ProfileImport = "profile.import", ProfileImport => ProfileImportResponse;
    ProfileImportBrowser = "profile.import_browser", ProfileImportBrowser => ProfileImportBrowserResponse;
    ProfileExport = "profile.export", ProfileExport => ProfileExportResponse;
    ProfileHistory = "profile.history", ProfileHistory => ProfileHistoryResponse;
    ProfileDiff = "profile.diff", ProfileDiff => ProfileDiffResponse;
    ProfileRestore = "profile.restore", ProfileRestore => ProfileRestoreResponse;
    ProfileHealthSet = "profile.health.set", ProfileHealthSet => ProfileResponse;
    ProfileHealthShow = "profile.health.show", ProfileHealthShow => ProfileHealthResponse;
    ProfileHealthClear = "profile.health.clear", ProfileHealthClear => ProfileResponse;
    ProfileCheck = "profile.check", ProfileCheck => ProfileCheckResponse;
    ProfileAccept = "profile.accept", ProfileAccept => ProfileAcceptResponse;
    SessionStart = "session.start", SessionStart => SessionStartResponse;
    SessionList = "session.list", SessionList => SessionListResponse;
    SessionShow = "session.show", SessionShow => SessionShowResponse;
    SessionStop = "session.stop", SessionStop => SessionStopResponse;
    SessionCapture = "session.capture", SessionCapture => SessionCaptureResponse;
    SessionLoad = "session.load", SessionLoad => SessionLoadResponse;
    SessionAttach = "session.attach", SessionAttach => SessionStartResponse;
    RemoteAdd = "remote.add", RemoteAdd => RemoteAddResponse;
    RemoteList = "remote.list", RemoteList => RemoteListResponse;
    RemoteRemove = "remote.remove", RemoteRemove => Ack;
    RemoteStatus = "remote.status", RemoteStatus => RemoteStatusResponse;
    RemoteExportKey = "remote.export_key", RemoteExportKey => RemoteExportKeyResponse;
    ProfileLink = "profile.link", ProfileLink => ProfileLinkResponse;
    ProfilePull = "profile.pull", ProfilePull => ProfileLinkResponse;
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
