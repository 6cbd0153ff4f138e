//! Shared helpers: start the real daemon on a temp dir and a raw JSON-lines connection.
//! Waits are `pvault_testkit::wait_for` (a condition with a deadline, never a fixed sleep).

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub use pvault_testkit::{wait_for, wait_for_with};
use serde_json::{Value, json};

pub const PASS: &str = "correct horse battery staple";

/// A temp home + runtime dir for one daemon.
pub struct Env {
    pub dir: tempfile::TempDir,
    pub home: PathBuf,
    pub socket: PathBuf,
}

impl Env {
    pub fn new() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        let socket = dir.path().join("run/pvault/pvaultd.sock");
        Env { dir, home, socket }
    }

    pub fn command(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_pvaultd"));
        c.env("PVAULT_HOME", &self.home)
            .env("PVAULT_SOCKET", &self.socket)
            .env("PVAULT_TEST_FAST_KDF", "1")
            .env("PVAULT_LOG", "warn")
            .env_remove("LISTEN_FDS")
            .env_remove("LISTEN_PID")
            .env_remove("NOTIFY_SOCKET")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(self.log_file());
        c
    }

    /// The daemon's stderr goes to a file: a pipe nobody reads would fill and block it.
    pub fn log_file(&self) -> std::fs::File {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("pvaultd.log"))
            .unwrap()
    }

    /// What the daemons of this test logged.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("pvaultd.log")).unwrap_or_default()
    }

    /// Starts the daemon and waits until it answers.
    pub fn start(&self) -> Daemon {
        Daemon::spawn(self.command(), &self.socket)
    }
}

/// A running `pvaultd`; killed on drop.
pub struct Daemon {
    pub child: Option<Child>,
    pub socket: PathBuf,
}

impl Daemon {
    /// Spawns `command` (a pvaultd) and waits until it answers on `socket`.
    pub fn spawn(mut command: Command, socket: &Path) -> Daemon {
        let child = command.spawn().unwrap();
        let d = Daemon {
            child: Some(child),
            socket: socket.to_owned(),
        };
        wait_for("pvaultd to answer", Duration::from_secs(20), || {
            Raw::try_connect(socket).is_some()
        });
        d
    }

    pub fn pid(&self) -> i32 {
        self.child.as_ref().unwrap().id() as i32
    }
    pub fn signal(&self, sig: i32) {
        // SAFETY: kill with a pid we own.
        unsafe { libc::kill(self.pid(), sig) };
    }
    /// Waits for exit; returns the status code (None = killed by a signal).
    pub fn wait(&mut self) -> Option<i32> {
        let mut child = self.child.take().unwrap();
        wait_for("pvaultd to exit", Duration::from_secs(30), || {
            child.try_wait().unwrap()
        })
        .code()
    }
    pub fn raw(&self) -> Raw {
        Raw::connect(&self.socket)
    }
    /// A raw connection that already said hello.
    pub fn session(&self) -> Raw {
        let mut r = self.raw();
        r.hello();
        r
    }
}

impl Drop for Daemon {
    /// SIGTERM first, so the daemon ends its browser sessions (a SIGKILL would leave their
    /// Chromes running, reparented to init, after the test); SIGKILL after 10 s.
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            // SAFETY: kill with a pid we own.
            unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A raw JSON-lines connection (blocking std socket).
pub struct Raw {
    pub w: UnixStream,
    pub r: BufReader<UnixStream>,
    next_id: u64,
}

impl Raw {
    pub fn try_connect(path: &Path) -> Option<Raw> {
        let s = UnixStream::connect(path).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let r = BufReader::new(s.try_clone().unwrap());
        Some(Raw {
            w: s,
            r,
            next_id: 1000,
        })
    }
    pub fn connect(path: &Path) -> Raw {
        Raw::try_connect(path).expect("connect to pvaultd")
    }
    pub fn send_bytes(&mut self, b: &[u8]) {
        self.w.write_all(b).unwrap();
    }
    /// Reads one line as JSON; `None` at EOF.
    pub fn recv(&mut self) -> Option<Value> {
        let mut line = String::new();
        match self.r.read_line(&mut line) {
            Ok(0) => None,
            Ok(_) => Some(
                serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("daemon sent non-JSON ({e}): {line}")),
            ),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => None,
            Err(e) => panic!("read failed: {e}"),
        }
    }
    /// Sends a request and returns its response (skipping events).
    pub fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let line = json!({"id": id, "method": method, "params": params}).to_string() + "\n";
        self.send_bytes(line.as_bytes());
        loop {
            let v = self.recv().expect("daemon closed the connection");
            if v.get("event").is_some() {
                continue;
            }
            assert_eq!(v["id"], json!(id), "response id");
            return v;
        }
    }
    /// Like `call` but panics on an error response; returns `result`.
    pub fn ok(&mut self, method: &str, params: Value) -> Value {
        let v = self.call(method, params);
        assert!(v.get("error").is_none(), "{method} failed: {v}");
        v["result"].clone()
    }
    /// Like `call` but expects an error and returns its code.
    pub fn err(&mut self, method: &str, params: Value) -> String {
        let v = self.call(method, params);
        v["error"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("{method} should fail: {v}"))
            .to_owned()
    }
    pub fn hello(&mut self) -> Value {
        self.ok("hello", json!({"protocol": 1}))
    }
    pub fn status(&mut self) -> Value {
        self.ok("status", json!({}))
    }
    pub fn init(&mut self) -> Value {
        self.ok("vault.init", json!({"credential": {"passphrase": PASS}}))
    }
    pub fn unlock(&mut self) -> Value {
        self.ok("vault.unlock", json!({"credential": {"passphrase": PASS}}))
    }
}

/// A small Playwright storageState with one cookie and one origin.
pub fn storage_state(tag: &str) -> Value {
    json!({
        "cookies": [{
            "name": format!("sid-{tag}"), "value": format!("secret-{tag}"), "domain": "example.com",
            "path": "/", "expires": -1, "httpOnly": true, "secure": true, "sameSite": "Lax"
        }],
        "origins": [{"origin": "https://example.com", "localStorage": [{"name": "k", "value": tag}]}]
    })
}
