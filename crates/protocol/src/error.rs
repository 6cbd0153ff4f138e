//! Stable error codes and the error object of a response.

use serde::{Deserialize, Serialize};

/// The stable error codes of the protocol. They never change meaning within a major version;
/// clients (and the CLI's exit codes) switch on them, never on messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The request is malformed: not JSON, wrong types, unknown method, bad name, bad path.
    InvalidArgument,
    /// The named profile, snapshot, session or vault does not exist.
    NotFound,
    /// The target already exists (a profile name, a vault, a backup file).
    Conflict,
    /// The resource is held by someone else (a `--save` session, a running operation).
    Busy,
    /// The vault is locked; unlock it first.
    Locked,
    /// The passphrase or key file opens no keyslot.
    AuthFailed,
    /// A message or value exceeds a documented limit.
    TooLarge,
    /// Not supported by this daemon: protocol major mismatch, a reserved method.
    Unsupported,
    /// The browser failed (launch, CDP).
    BrowserError,
    /// (1.8) A health check found the profile logged out (the CLI's `profile check` exits
    /// with it; `profile.check` itself answers with a result).
    LoggedOut,
    /// A bug or an I/O failure inside the daemon.
    Internal,
    /// A remote store could not be reached (1.9).
    RemoteUnavailable,
    /// A remote store showed records no honest server would: dropped, reordered, rolled
    /// back or edited (1.9). The local copy is kept.
    RemoteTampered,
}

impl ErrorCode {
    /// Every code, in documentation order.
    pub const ALL: [ErrorCode; 13] = [
        ErrorCode::InvalidArgument,
        ErrorCode::NotFound,
        ErrorCode::Conflict,
        ErrorCode::Busy,
        ErrorCode::Locked,
        ErrorCode::AuthFailed,
        ErrorCode::TooLarge,
        ErrorCode::Unsupported,
        ErrorCode::BrowserError,
        ErrorCode::LoggedOut,
        ErrorCode::Internal,
        ErrorCode::RemoteUnavailable,
        ErrorCode::RemoteTampered,
    ];

    /// The wire name, e.g. `invalid_argument`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidArgument => "invalid_argument",
            ErrorCode::NotFound => "not_found",
            ErrorCode::Conflict => "conflict",
            ErrorCode::Busy => "busy",
            ErrorCode::Locked => "locked",
            ErrorCode::AuthFailed => "auth_failed",
            ErrorCode::TooLarge => "too_large",
            ErrorCode::Unsupported => "unsupported",
            ErrorCode::BrowserError => "browser_error",
            ErrorCode::LoggedOut => "logged_out",
            ErrorCode::Internal => "internal",
            ErrorCode::RemoteUnavailable => "remote_unavailable",
            ErrorCode::RemoteTampered => "remote_tampered",
        }
    }

    /// Parses a wire name; `None` if unknown.
    pub fn from_wire(s: &str) -> Option<ErrorCode> {
        ErrorCode::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `error` member of a failed response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ErrorBody {
    /// Stable code.
    pub code: ErrorCode,
    /// Human-readable explanation of what went wrong. Never holds a secret.
    pub message: String,
    /// What the user can do about it, when the daemon knows (1.4): e.g. "run `pvault unlock`
    /// and stop it again". Separate from `message` so a client shows the daemon's own advice
    /// instead of guessing one from the code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl ErrorBody {
    /// Builds an error body without a hint.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ErrorBody {
        ErrorBody {
            code,
            message: message.into(),
            hint: None,
        }
    }

    /// The same error with `hint` as the advice for the user.
    pub fn with_hint(mut self, hint: impl Into<String>) -> ErrorBody {
        self.hint = Some(hint.into());
        self
    }
}
