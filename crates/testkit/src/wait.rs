//! Waiting on a condition with a deadline.

use std::time::{Duration, Instant};

/// What a polled condition returns: `bool` (done or not) or `Option<T>` (the value once
/// there).
pub trait Ready {
    /// What [`wait_for`] returns once the condition holds.
    type Value;
    /// `Some` once the condition holds.
    fn ready(self) -> Option<Self::Value>;
}

impl Ready for bool {
    type Value = ();
    fn ready(self) -> Option<()> {
        self.then_some(())
    }
}

impl<T> Ready for Option<T> {
    type Value = T;
    fn ready(self) -> Option<T> {
        self
    }
}

/// Polls `cond` until it holds, or panics naming `what` after `timeout`. The pause between
/// polls grows from 2 ms to 50 ms: quick conditions are seen at once, slow ones cost little.
pub fn wait_for<R: Ready>(what: &str, timeout: Duration, cond: impl FnMut() -> R) -> R::Value {
    wait_for_with(what, timeout, String::new, cond)
}

/// Like [`wait_for`], adding `context()` (e.g. a log so far) to the panic message.
pub fn wait_for_with<R: Ready>(
    what: &str,
    timeout: Duration,
    context: impl Fn() -> String,
    mut cond: impl FnMut() -> R,
) -> R::Value {
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(2);
    loop {
        if let Some(v) = cond().ready() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}{}",
            match context() {
                c if c.is_empty() => String::new(),
                c => format!(": {c}"),
            }
        );
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}
