//! Fixtures shared by every suite: where the binaries are, a daemon on a temporary home and
//! socket, and a local HTTP server with a page that "logs in".
#![allow(dead_code)]

pub mod cdp;
pub mod daemon;
pub mod http;
pub mod session;
pub mod xvfb;

use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Directory holding the workspace's binaries (`target/<profile>/`): this test executable
/// lives in `target/<profile>/deps/`.
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    exe.parent()
        .and_then(|d| d.parent())
        .expect("target dir")
        .to_path_buf()
}

/// Path of a workspace binary; panics with what to run when it has not been built.
pub fn bin(name: &str) -> PathBuf {
    let path = bin_dir().join(name);
    assert!(
        path.exists(),
        "{} is missing: build it first with `cargo build --workspace --bins` (the README's \
         `cargo test --workspace` does)",
        path.display()
    );
    path
}

/// The Chromium the suites drive: `PVAULT_CHROME` or Debian's real binary.
pub fn chrome() -> PathBuf {
    std::env::var_os("PVAULT_CHROME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/lib/chromium/chromium"))
}

/// Polls `cond` until it returns `Some`, or panics naming `what` after `timeout`.
/// Used instead of sleeps: tests wait on the condition itself.
pub fn wait_for<T>(what: &str, timeout: Duration, mut cond: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(2);
    loop {
        if let Some(v) = cond() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

/// The `tests/node` folder with `playwright-core` installed (`npm ci` there).
pub fn node_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/node");
    assert!(
        dir.join("node_modules/playwright-core").exists(),
        "playwright-core is not installed: run `npm ci` in tests/node (.ci/run does)"
    );
    dir
}
