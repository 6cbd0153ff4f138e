//! The harness: an isolated environment (home, socket) per test, running the real binaries
//! with a bounded wait, and stopping the daemon the test started when it ends.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The longest one CLI invocation may take before the test fails (autostart included).
const CMD_DEADLINE: Duration = Duration::from_secs(60);

/// The `pvault` binary under test.
pub fn pvault_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_pvault"))
}

/// `pvaultd`, built into the same target directory as `pvault`.
pub fn pvaultd_bin() -> PathBuf {
    let p = pvault_bin().parent().unwrap().join("pvaultd");
    assert!(
        p.is_file(),
        "{} is missing: build it first: cargo build --workspace --bins",
        p.display()
    );
    p
}

/// One run of `pvault`.
#[derive(Debug)]
pub struct Out {
    /// Exit code (-1 if killed by a signal).
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Out {
    /// Parses stdout as one JSON document.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self:?}"))
    }

    /// Asserts the exit code, the `pvault: ` stderr line and, when `--json` was given, the
    /// error object's code.
    pub fn assert_error(&self, exit: i32, json_code: Option<&str>) {
        assert_eq!(self.code, exit, "{self:?}");
        assert!(self.stderr.starts_with("pvault: "), "stderr: {self:?}");
        if let Some(code) = json_code {
            let v = self.json();
            assert_eq!(v["error"]["code"], code, "{self:?}");
            assert!(
                v["error"]["message"]
                    .as_str()
                    .is_some_and(|m| !m.is_empty()),
                "{self:?}"
            );
        }
    }
}

/// An isolated pvault environment: its own vault directory and socket.
#[derive(Debug)]
pub struct Env {
    /// Everything lives in here; removed on drop.
    pub dir: tempfile::TempDir,
    /// `PVAULT_HOME`.
    pub home: PathBuf,
    /// `PVAULT_SOCKET`.
    pub socket: PathBuf,
}

/// The passphrase `Env::init` creates the vault with.
pub const PASS: &str = "correct horse battery staple";

impl Env {
    /// A fresh environment; no daemon runs yet.
    pub fn new() -> Env {
        pvaultd_bin();
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        // The run directory is left for the CLI (or the daemon) to create 0700.
        let socket = dir.path().join("run").join("pvaultd.sock");
        Env { dir, home, socket }
    }

    /// A fresh environment with a vault created (and unlocked) with [`PASS`].
    pub fn with_vault() -> Env {
        let env = Env::new();
        let f = env.file("pass", PASS.as_bytes());
        let out = env.run(&["init", "--passphrase-file", f.to_str().unwrap()]);
        assert_eq!(out.code, 0, "{out:?}");
        env
    }

    /// Writes a file in the environment's directory and returns its path.
    pub fn file(&self, name: &str, content: &[u8]) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, content).unwrap();
        p
    }

    /// A `pvault` command with this environment (and nothing inherited that could point it
    /// elsewhere).
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(pvault_bin());
        c.args(args)
            .env("PVAULT_HOME", &self.home)
            .env("PVAULT_SOCKET", &self.socket)
            .env("PVAULT_TEST_FAST_KDF", "1")
            .env_remove("PVAULT_NO_AUTOSTART")
            .env_remove("XDG_RUNTIME_DIR")
            .env_remove("NOTIFY_SOCKET")
            .env_remove("LISTEN_FDS")
            .env_remove("LISTEN_PID")
            .env("RUST_LOG", "info");
        c
    }

    /// Runs `pvault ARGS` with stdin from /dev/null.
    pub fn run(&self, args: &[&str]) -> Out {
        self.run_with(self.cmd(args), None)
    }

    /// Runs `pvault ARGS` with `input` on stdin.
    pub fn run_stdin(&self, args: &[&str], input: &[u8]) -> Out {
        self.run_with(self.cmd(args), Some(input))
    }

    /// Runs `pvault --json ARGS`, asserts success, and parses stdout.
    pub fn json(&self, args: &[&str]) -> Value {
        let mut a = vec!["--json"];
        a.extend_from_slice(args);
        let out = self.run(&a);
        assert_eq!(out.code, 0, "pvault {args:?}: {out:?}");
        out.json()
    }

    /// Runs a prepared command to completion with a bounded wait.
    pub fn run_with(&self, cmd: Command, input: Option<&[u8]>) -> Out {
        let child = spawn(cmd, input.is_some());
        finish(child, input)
    }

    /// The running daemon's pid, if one answers.
    pub fn daemon_pid(&self) -> Option<u32> {
        let out = self.run(&["--json", "--no-autostart", "status"]);
        (out.code == 0).then(|| out.json()["pid"].as_u64().unwrap() as u32)
    }
}

impl Drop for Env {
    /// Stops the daemon this test started: politely, then by signal if it does not go.
    fn drop(&mut self) {
        let Some(pid) = self.daemon_pid() else { return };
        let out = self.run(&["--no-autostart", "daemon", "stop"]);
        if out.code != 0 || pid_alive(pid) {
            // SAFETY: kill(2) on a pid we just read from our own daemon; no memory involved.
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
        }
    }
}

/// Whether a process exists (signal 0 probes without sending anything).
pub fn pid_alive(pid: u32) -> bool {
    // SAFETY: kill(2) with signal 0 only checks for existence and permission.
    unsafe { libc::kill(pid as i32, 0) == 0 }
}

/// Spawns with piped stdout/stderr (and stdin when input follows).
pub fn spawn(mut cmd: Command, piped_stdin: bool) -> Child {
    cmd.stdin(if piped_stdin {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    cmd.spawn().expect("spawn pvault")
}

/// Feeds stdin, collects stdout and stderr on threads (so a full pipe cannot stall the
/// child), and waits for exit with [`CMD_DEADLINE`]; kills and fails on timeout.
pub fn finish(mut child: Child, input: Option<&[u8]>) -> Out {
    if let Some(input) = input {
        let mut stdin = child.stdin.take().unwrap();
        let data = input.to_vec();
        std::thread::spawn(move || {
            let _ = stdin.write_all(&data);
        });
    }
    let mut so = child.stdout.take().unwrap();
    let mut se = child.stderr.take().unwrap();
    let t_out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = so.read_to_string(&mut s);
        s
    });
    let t_err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = se.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + CMD_DEADLINE;
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("pvault did not finish within {CMD_DEADLINE:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    Out {
        code: status.code().unwrap_or(-1),
        stdout: t_out.join().unwrap(),
        stderr: t_err.join().unwrap(),
    }
}

/// File mode bits (permissions only).
pub fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

/// A Playwright storageState with two cookies and one origin's localStorage.
pub fn sample_state(tag: &str) -> Value {
    serde_json::json!({
        "cookies": [
            {"name": "sid", "value": format!("s3cr3t-{tag}"), "domain": ".example.com", "path": "/",
             "expires": -1, "httpOnly": true, "secure": true, "sameSite": "Lax"},
            {"name": "pref", "value": "dark", "domain": "app.example.com", "path": "/settings",
             "expires": 1893456000.5, "httpOnly": false, "secure": false, "sameSite": "Strict"}
        ],
        "origins": [
            {"origin": "https://app.example.com",
             "localStorage": [{"name": "token", "value": format!("t-{tag}")},
                              {"name": "theme", "value": "dark"}]}
        ]
    })
}

/// Compares two storageStates on what Playwright reads: cookies (by their identifying and
/// value fields) and origins' localStorage.
pub fn assert_same_state(got: &Value, want: &Value) {
    let cookie_key = |c: &Value| {
        let f = |k: &str| c[k].clone();
        (
            f("name").to_string(),
            f("domain").to_string(),
            f("path").to_string(),
            f("value").to_string(),
            f("expires").as_f64(),
            f("httpOnly").as_bool(),
            f("secure").as_bool(),
            f("sameSite").to_string(),
        )
    };
    let mut g: Vec<_> = got["cookies"]
        .as_array()
        .unwrap()
        .iter()
        .map(cookie_key)
        .collect();
    let mut w: Vec<_> = want["cookies"]
        .as_array()
        .unwrap()
        .iter()
        .map(cookie_key)
        .collect();
    g.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
    w.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
    assert_eq!(g, w, "cookies differ");
    let origins = |v: &Value| {
        let mut o: Vec<(String, Vec<(String, String)>)> = v["origins"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| {
                let mut items: Vec<(String, String)> = o["localStorage"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|i| {
                        (
                            i["name"].as_str().unwrap().into(),
                            i["value"].as_str().unwrap().into(),
                        )
                    })
                    .collect();
                items.sort();
                (o["origin"].as_str().unwrap().into(), items)
            })
            .collect();
        o.sort();
        o
    };
    assert_eq!(origins(got), origins(want), "origins differ");
}
