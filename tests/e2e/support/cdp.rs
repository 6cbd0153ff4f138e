//! A minimal synchronous CDP client (one WebSocket, browser-level commands) for what the
//! suites and the benchmark check behind pvault's back: cookies the browser really holds,
//! whether a CDP URL answers, the port a separately launched Chromium chose.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

/// A connection to a browser's CDP endpoint (`ws://…/devtools/browser/…`).
pub struct Cdp {
    /// The socket.
    ws: WebSocket<MaybeTlsStream<TcpStream>>,
    /// Next command id.
    next_id: u64,
}

impl std::fmt::Debug for Cdp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cdp")
            .field("next_id", &self.next_id)
            .finish_non_exhaustive()
    }
}

impl Cdp {
    /// Connects to a browser WebSocket URL.
    pub fn connect(ws_url: &str) -> Result<Cdp, String> {
        let (ws, _) = tungstenite::connect(ws_url).map_err(|e| format!("connect {ws_url}: {e}"))?;
        if let MaybeTlsStream::Plain(s) = ws.get_ref() {
            let _ = s.set_read_timeout(Some(Duration::from_secs(60)));
            let _ = s.set_nodelay(true);
        }
        Ok(Cdp { ws, next_id: 1 })
    }

    /// Sends one command and returns its `result`; events in between are skipped.
    pub fn call(&mut self, method: &str, params: Value) -> Result<Value, String> {
        let id = self.next_id;
        self.next_id += 1;
        let msg = json!({"id": id, "method": method, "params": params}).to_string();
        self.ws
            .send(Message::text(msg))
            .map_err(|e| format!("{method}: send: {e}"))?;
        loop {
            let m = self.ws.read().map_err(|e| format!("{method}: read: {e}"))?;
            let Message::Text(t) = m else { continue };
            let v: Value =
                serde_json::from_str(t.as_str()).map_err(|e| format!("{method}: {e}"))?;
            if v["id"].as_u64() != Some(id) {
                continue;
            }
            if let Some(err) = v.get("error") {
                return Err(format!("{method}: {err}"));
            }
            return Ok(v["result"].clone());
        }
    }

    /// Every cookie of the default browser context (`Storage.getCookies`).
    pub fn cookies(&mut self) -> Vec<Value> {
        let r = self
            .call("Storage.getCookies", json!({}))
            .expect("Storage.getCookies");
        r["cookies"].as_array().cloned().unwrap_or_default()
    }

    /// Sets cookies in the default browser context (`Storage.setCookies`).
    pub fn set_cookies(&mut self, cookies: Value) {
        self.call("Storage.setCookies", json!({ "cookies": cookies }))
            .expect("Storage.setCookies");
    }
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

/// The flags this project launches Chromium with (measured on Chromium 156; see `crates/browser/src/launch.rs`), for a
/// browser the tests or the benchmark start themselves.
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
    if unsafe { geteuid() } == 0 {
        // Chromium refuses to start as root with its sandbox.
        args.push("--no-sandbox".into());
    }
    args.push(format!("--user-data-dir={}", user_data_dir.display()));
    args
}

unsafe extern "C" {
    fn geteuid() -> u32;
}
