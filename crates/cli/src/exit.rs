//! The CLI's error type and its mapping to exit codes and to the `--json` error object.
//!
//! Every failure ends as a [`CliError`]: a stable code (the daemon's wire code, or one of the
//! CLI's own: `usage`, `unreachable`, `io`), and a message that says what to do.

use pvault_protocol::ErrorCode;

/// Exit code of a successful run.
pub const OK: i32 = 0;
/// Any error without a more specific code.
pub const OTHER: i32 = 1;
/// Bad command line or `invalid_argument`.
pub const USAGE: i32 = 2;
/// `not_found`.
pub const NOT_FOUND: i32 = 3;
/// `conflict`.
pub const CONFLICT: i32 = 4;
/// `busy`.
pub const BUSY: i32 = 5;
/// `locked`.
pub const LOCKED: i32 = 6;
/// `auth_failed`.
pub const AUTH_FAILED: i32 = 7;
/// `browser_error`.
pub const BROWSER_ERROR: i32 = 8;
/// `logged_out`: a health check found the login gone (`profile check`).
pub const LOGGED_OUT: i32 = 9;
/// The daemon did not answer (sysexits' EX_UNAVAILABLE).
pub const UNREACHABLE: i32 = 69;

/// Where an error came from, which decides the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The daemon answered with this code.
    Remote(ErrorCode),
    /// The command line (or a file it names) is unusable; exit 2, JSON code `usage`.
    Usage,
    /// Nothing answered on the socket; exit 69, JSON code `unreachable`.
    Unreachable,
    /// A local I/O failure or anything else; exit 1, JSON code `io`.
    Other,
}

/// A failure of a command, ready to be reported.
#[derive(Debug)]
pub struct CliError {
    /// Decides the exit code and the JSON `code`.
    pub kind: Kind,
    /// Human-readable; says what was wrong. Never holds a secret.
    pub message: String,
    /// What the user can do about it, when known: the daemon's own advice travels here as
    /// data, so the CLI never has to guess it from the message's text.
    pub hint: Option<String>,
    /// Whether `--json` also prints the error object on stdout. False when the command
    /// already printed its (failed) result there, e.g. `verify` with failures.
    pub json_object: bool,
}

impl CliError {
    /// A usage error (exit 2).
    pub fn usage(message: impl Into<String>) -> CliError {
        CliError {
            kind: Kind::Usage,
            message: message.into(),
            hint: None,
            json_object: true,
        }
    }

    /// A local failure (exit 1).
    pub fn other(message: impl Into<String>) -> CliError {
        CliError {
            kind: Kind::Other,
            message: message.into(),
            hint: None,
            json_object: true,
        }
    }

    /// The daemon does not answer (exit 69).
    pub fn unreachable(message: impl Into<String>) -> CliError {
        CliError {
            kind: Kind::Unreachable,
            message: message.into(),
            hint: None,
            json_object: true,
        }
    }

    /// An error with a daemon error code (the daemon's answer, or the CLI's own rewording
    /// of one).
    pub fn remote(code: ErrorCode, message: impl Into<String>) -> CliError {
        CliError {
            kind: Kind::Remote(code),
            message: message.into(),
            hint: None,
            json_object: true,
        }
    }

    /// The same error with the advice `hint` (none when `None`).
    pub fn with_hint(mut self, hint: Option<String>) -> CliError {
        self.hint = hint;
        self
    }

    /// Keeps stdout to the result the command already printed.
    pub fn without_json(mut self) -> CliError {
        self.json_object = false;
        self
    }

    /// The process exit code for this error.
    pub fn exit_code(&self) -> i32 {
        match self.kind {
            Kind::Usage => USAGE,
            Kind::Unreachable => UNREACHABLE,
            Kind::Other => OTHER,
            Kind::Remote(code) => match code {
                ErrorCode::InvalidArgument => USAGE,
                ErrorCode::NotFound => NOT_FOUND,
                ErrorCode::Conflict => CONFLICT,
                ErrorCode::Busy => BUSY,
                ErrorCode::Locked => LOCKED,
                ErrorCode::AuthFailed => AUTH_FAILED,
                ErrorCode::BrowserError => BROWSER_ERROR,
                ErrorCode::LoggedOut => LOGGED_OUT,
                ErrorCode::TooLarge
                | ErrorCode::Unsupported
                | ErrorCode::Internal
                | ErrorCode::RemoteUnavailable
                | ErrorCode::RemoteTampered => OTHER,
            },
        }
    }

    /// The `code` of the `--json` error object: the daemon's wire code, or the CLI's own.
    pub fn json_code(&self) -> &'static str {
        match self.kind {
            Kind::Remote(code) => code.as_str(),
            Kind::Usage => "usage",
            Kind::Unreachable => "unreachable",
            Kind::Other => "io",
        }
    }

    /// `{"error":{"code","message","hint"?}}`.
    pub fn to_json(&self) -> serde_json::Value {
        let mut error = serde_json::json!({"code": self.json_code(), "message": self.message});
        if let Some(h) = &self.hint {
            error["hint"] = h.as_str().into();
        }
        serde_json::json!({ "error": error })
    }

    /// What stderr shows: `pvault: <message>`, then `hint: <hint>` on its own line.
    pub fn report(&self) -> String {
        match &self.hint {
            Some(h) => format!("pvault: {}\nhint: {h}", self.message),
            None => format!("pvault: {}", self.message),
        }
    }
}

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CliError {}

/// Result alias of every command.
pub type CliResult<T = ()> = Result<T, CliError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_wire_code_maps_to_its_documented_exit_code() {
        let expected = [
            (ErrorCode::InvalidArgument, 2),
            (ErrorCode::NotFound, 3),
            (ErrorCode::Conflict, 4),
            (ErrorCode::Busy, 5),
            (ErrorCode::Locked, 6),
            (ErrorCode::AuthFailed, 7),
            (ErrorCode::TooLarge, 1),
            (ErrorCode::Unsupported, 1),
            (ErrorCode::BrowserError, 8),
            (ErrorCode::LoggedOut, 9),
            (ErrorCode::Internal, 1),
            (ErrorCode::RemoteUnavailable, 1),
            (ErrorCode::RemoteTampered, 1),
        ];
        assert_eq!(expected.len(), ErrorCode::ALL.len());
        for (code, exit) in expected {
            let e = CliError::remote(code, "x");
            assert_eq!(e.exit_code(), exit, "{code}");
            assert_eq!(e.json_code(), code.as_str());
        }
        assert_eq!(CliError::unreachable("x").exit_code(), 69);
        assert_eq!(CliError::usage("x").exit_code(), 2);
        assert_eq!(CliError::other("x").exit_code(), 1);
    }

    #[test]
    fn the_daemons_hint_is_shown_and_in_the_json_object_never_replaced() {
        let e = CliError::remote(
            ErrorCode::Locked,
            "the vault is locked, so session s1 cannot save",
        )
        .with_hint(Some("run `pvault unlock` and stop it again".into()));
        assert_eq!(
            e.report(),
            "pvault: the vault is locked, so session s1 cannot save\nhint: run `pvault unlock` and stop it again"
        );
        assert_eq!(
            e.to_json()["error"]["hint"],
            "run `pvault unlock` and stop it again"
        );
        let plain = CliError::remote(ErrorCode::Locked, "m");
        assert_eq!(plain.report(), "pvault: m");
        assert!(plain.to_json()["error"].get("hint").is_none());
    }
}
