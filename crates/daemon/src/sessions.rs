//! Browser sessions (issue 4). This is the seam: the registry the session handlers will fill,
//! and the shutdown hook `serve` already calls. Until sessions land, every `session.*` request
//! is parsed (so malformed params still get `invalid_argument`) and answered `unsupported`.

use pvault_protocol::{
    ErrorBody, ErrorCode, Request, SessionAttach, SessionCapture, SessionList, SessionLoad,
    SessionShow, SessionStart, SessionStop,
};
use serde_json::value::RawValue;

/// Running sessions. Empty until issue 4.
#[derive(Debug, Default)]
pub struct Registry {}

impl Registry {
    /// Number of running sessions.
    pub fn len(&self) -> usize {
        0
    }

    /// Whether no session runs.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Stops every session at daemon shutdown (saving those that asked to save).
    pub async fn shutdown(&self) {}
}

/// Whether `method` is a session method.
pub(crate) fn is_session_method(method: &str) -> bool {
    [
        SessionStart::METHOD,
        SessionList::METHOD,
        SessionShow::METHOD,
        SessionStop::METHOD,
        SessionCapture::METHOD,
        SessionLoad::METHOD,
        SessionAttach::METHOD,
    ]
    .contains(&method)
}

/// Handles a session request: checks its params, then `unsupported`.
pub(crate) fn handle(method: &str, params: &RawValue) -> Result<serde_json::Value, ErrorBody> {
    let p = params.get();
    let checked = match method {
        SessionStart::METHOD => crate::handlers::parse::<SessionStart>(p).map(drop),
        SessionList::METHOD => crate::handlers::parse::<SessionList>(p).map(drop),
        SessionShow::METHOD => crate::handlers::parse::<SessionShow>(p).map(drop),
        SessionStop::METHOD => crate::handlers::parse::<SessionStop>(p).map(drop),
        SessionCapture::METHOD => crate::handlers::parse::<SessionCapture>(p).map(drop),
        SessionLoad::METHOD => crate::handlers::parse::<SessionLoad>(p).map(drop),
        _ => crate::handlers::parse::<SessionAttach>(p).map(drop),
    };
    checked?;
    Err(ErrorBody::new(
        ErrorCode::Unsupported,
        format!(
            "{method} is not supported by this pvaultd yet (browser sessions arrive in a later version)"
        ),
    ))
}
