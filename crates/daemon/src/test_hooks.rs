//! Fault injection for the integration tests, compiled only with the `test-hooks` feature
//! (which only the crate's own dev-dependency turns on: no release build contains it).
//!
//! `PVAULT_TEST_PANIC_METHOD=<method>`: every request for that method panics inside its async
//! handler while holding the session registry's lock, as a bug would; the daemon must answer
//! `internal`, keep serving, and keep the registry usable.

use std::sync::OnceLock;

/// The method whose handler panics, read once from the environment.
fn panic_method() -> Option<&'static str> {
    static METHOD: OnceLock<Option<String>> = OnceLock::new();
    METHOD
        .get_or_init(|| {
            std::env::var("PVAULT_TEST_PANIC_METHOD")
                .ok()
                .filter(|m| !m.is_empty())
        })
        .as_deref()
}

/// Panics (holding the registry's lock) if `method` is the one to fail.
pub(crate) fn maybe_panic(d: &crate::Daemon, method: pvault_protocol::Method) {
    if panic_method() == Some(method.name()) {
        d.sessions.panic_while_locked();
    }
}
