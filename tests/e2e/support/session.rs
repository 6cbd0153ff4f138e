//! Browser-session helpers over the fixture daemon: starting and stopping sessions through the
//! CLI, running the Playwright scripts of `tests/node`, and building or reading storageState.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Output, Stdio};

use serde_json::{Value, json};

use super::daemon::Daemon;
use pvault_testkit::{SID, TOKEN, TestServer, node_dir};

impl Daemon {
    /// `pvault --json session start ARGS`; asserts success and returns the document.
    pub fn session_start(&self, args: &[&str]) -> Value {
        let mut full = vec!["session", "start"];
        full.extend_from_slice(args);
        let doc = self.json(&full);
        assert!(
            doc["session_id"].is_string()
                && doc["cdp_ws_url"]
                    .as_str()
                    .is_some_and(|u| u.starts_with("ws://")),
            "session start printed no session_id/cdp_ws_url: {doc}"
        );
        doc
    }

    /// `pvault --json session stop ID [EXTRA]`; asserts success and returns the document.
    pub fn session_stop(&self, id: &str, extra: &[&str]) -> Value {
        let mut full = vec!["session", "stop", id];
        full.extend_from_slice(extra);
        self.json(&full)
    }

    /// Ids of the snapshots of `profile`, newest first.
    pub fn history_ids(&self, profile: &str) -> Vec<String> {
        let h = self.json(&["profile", "history", profile]);
        h["snapshots"]
            .as_array()
            .expect("snapshots")
            .iter()
            .map(|s| s["id"].as_str().unwrap().to_owned())
            .collect()
    }

    /// The newest snapshot of `profile` as storageState (`profile export`).
    pub fn export(&self, profile: &str) -> Value {
        let out = self.run(&["profile", "export", profile]);
        assert!(
            out.status.success(),
            "export {profile}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("export prints storageState JSON")
    }

    /// Imports `state` (storageState JSON) into `profile` (created if missing).
    pub fn import(&self, profile: &str, state: &Value) {
        let file = self.path(&format!("{profile}-import.json"));
        std::fs::write(&file, state.to_string()).unwrap();
        self.json(&["profile", "import", profile, file.to_str().unwrap()]);
    }
}

/// `node tests/node/<script>` in tests/node, with `TEST_ORIGIN` set to the server's origin.
pub fn node(script: &str, server: &TestServer) -> Command {
    let dir = node_dir();
    let mut c = Command::new("node");
    c.current_dir(&dir)
        .arg(dir.join(script))
        .env("TEST_ORIGIN", &server.origin)
        .env("CHROME", pvault_testkit::chrome())
        .stdin(Stdio::null());
    c
}

/// Runs a node script against a session's CDP URL; asserts it exits 0 and returns its stdout
/// parsed as JSON (`null` when it printed nothing).
pub fn node_json(script: &str, server: &TestServer, cdp_ws_url: &str) -> Value {
    let out = node(script, server)
        .env("PVAULT_CDP_URL", cdp_ws_url)
        .output()
        .expect("run node");
    parse_node(script, &out)
}

/// Asserts a node script succeeded and parses its last stdout line as JSON.
pub fn parse_node(script: &str, out: &Output) -> Value {
    assert!(
        out.status.success(),
        "node {script} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    match text.lines().rev().find(|l| !l.trim().is_empty()) {
        Some(l) => serde_json::from_str(l).unwrap_or_else(|e| panic!("node {script}: {e}: {l}")),
        None => Value::Null,
    }
}

/// A node script that keeps running, driven line by line over stdin/stdout.
pub struct Interactive {
    /// The node process.
    pub child: Child,
    /// Its stdin.
    stdin: ChildStdin,
    /// Its stdout, by lines.
    stdout: BufReader<ChildStdout>,
}

impl Interactive {
    /// Spawns `cmd` with piped stdin and stdout.
    pub fn spawn(mut cmd: Command) -> Interactive {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn node");
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Interactive {
            child,
            stdin,
            stdout,
        }
    }

    /// The next stdout line parsed as JSON (the scripts print one JSON document per step).
    pub fn read(&mut self) -> Value {
        let mut line = String::new();
        let n = self.stdout.read_line(&mut line).expect("read node stdout");
        assert!(
            n > 0,
            "node script ended early: {:?}",
            self.child.try_wait()
        );
        serde_json::from_str(line.trim())
            .unwrap_or_else(|e| panic!("node printed non-JSON ({e}): {line}"))
    }

    /// Sends one command line.
    pub fn send(&mut self, line: &str) {
        writeln!(self.stdin, "{line}").expect("write node stdin");
        self.stdin.flush().unwrap();
    }
}

impl Drop for Interactive {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The state the test server's `/login` leaves behind, as Playwright storageState: the
/// httpOnly `sid` cookie (persistent for a day, as the server sets it) and the `token`
/// localStorage key of the server's origin.
pub fn login_state(server: &TestServer) -> Value {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    json!({
        "cookies": [{
            "name": "sid", "value": SID, "domain": "127.0.0.1", "path": "/",
            "expires": (now.as_secs() + 86_400) as f64, "httpOnly": true, "secure": false,
            "sameSite": "Lax"
        }],
        "origins": [{
            "origin": server.origin,
            "localStorage": [{"name": "token", "value": TOKEN}]
        }]
    })
}

/// The value of cookie `name` in a storageState, if present.
pub fn cookie_value<'a>(state: &'a Value, name: &str) -> Option<&'a str> {
    state["cookies"]
        .as_array()?
        .iter()
        .find(|c| c["name"] == name)?["value"]
        .as_str()
}

/// The localStorage value of `key` at `origin` in a storageState, if present.
pub fn storage_value<'a>(state: &'a Value, origin: &str, key: &str) -> Option<&'a str> {
    state["origins"]
        .as_array()?
        .iter()
        .find(|o| o["origin"] == origin)?["localStorage"]
        .as_array()?
        .iter()
        .find(|i| i["name"] == key)?["value"]
        .as_str()
}
