//! Which Chromium the tests drive, and one started the way a user would.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::wait_for;

/// The Chromium the tests drive: `PVAULT_CHROME`, else Debian's real binary (installed by
/// `.ci/run`), the same fallback the daemon has.
pub fn chrome() -> PathBuf {
    std::env::var_os("PVAULT_CHROME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/lib/chromium/chromium"))
}

/// The flags pvault launches Chromium with (see `crates/browser/src/launch.rs`), for a
/// browser a test or a benchmark starts itself: headless, nothing phoning home, a debugging
/// port the kernel picks (read back with [`active_port`]).
pub fn chromium_args(user_data_dir: &Path) -> Vec<String> {
    let mut args: Vec<String> = [
        "--headless",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--remote-debugging-port=0",
        "--no-startup-window",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        // Chromium refuses to start as root with its sandbox.
        args.push("--no-sandbox".into());
    }
    args.push(format!("--user-data-dir={}", user_data_dir.display()));
    args
}

/// Reads `DevToolsActivePort` of a Chromium started with `--remote-debugging-port=0`:
/// `(port, "/devtools/browser/<id>")`, once Chromium has written both lines.
pub fn active_port(user_data_dir: &Path) -> Option<(u16, String)> {
    let text = std::fs::read_to_string(user_data_dir.join("DevToolsActivePort")).ok()?;
    let mut lines = text.lines();
    let port = lines.next()?.trim().parse().ok()?;
    let path = lines.next()?.trim().to_owned();
    path.starts_with("/devtools/browser/")
        .then_some((port, path))
}

/// `GET http://127.0.0.1:<port>/json/version` over a plain socket; the parsed JSON.
pub fn json_version(port: u16) -> Option<Value> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(
        s,
        "GET /json/version HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).ok()?;
    let text = String::from_utf8_lossy(&buf);
    let body = text.split_once("\r\n\r\n")?.1;
    serde_json::from_str(body).ok()
}

/// A Chromium started the way a user would for `session attach`; killed when dropped.
#[derive(Debug)]
pub struct UserChrome {
    /// The process, so a test can check it still runs after a detach.
    pub child: Child,
    /// Its user-data-dir, removed with it.
    _dir: tempfile::TempDir,
    /// Its debugging port.
    pub port: u16,
    /// Its browser WebSocket URL.
    pub ws: String,
}

impl UserChrome {
    /// Launches it and waits until it has written its debugging port.
    pub fn launch() -> UserChrome {
        let dir = tempfile::tempdir().expect("tempdir");
        let child = Command::new(chrome())
            .args(chromium_args(dir.path()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("launch chromium");
        let (port, path) = wait_for("DevToolsActivePort", Duration::from_secs(30), || {
            active_port(dir.path())
        });
        UserChrome {
            child,
            _dir: dir,
            port,
            ws: format!("ws://127.0.0.1:{port}{path}"),
        }
    }

    /// `http://127.0.0.1:PORT`, what `session.attach` takes.
    pub fn http(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Whether the process still runs.
    pub fn running(&mut self) -> bool {
        self.child.try_wait().expect("try_wait").is_none()
    }
}

impl Drop for UserChrome {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
