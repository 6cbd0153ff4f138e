//! Fixtures of the end-to-end suites and benchmarks: where the binaries are, a daemon on a
//! temporary home and socket driven through the CLI, and Node scripts. The test site, the CDP
//! client, Chromium and `wait_for` are `pvault-testkit`'s, shared with the daemon's tests.
#![allow(dead_code)]

pub mod daemon;
pub mod session;
pub mod xvfb;

use std::path::PathBuf;

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
