//! Helpers for the session tests: a daemon with Chromium configured, a local HTTP server that
//! "logs in", a minimal CDP client (standing in for Playwright), and an event reader.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::harness::{Daemon, Env, Raw, wait_for};

/// Debian's Chromium, installed by `.ci/run`.
pub const CHROME: &str = "/usr/lib/chromium/chromium";
/// The httpOnly cookie value the login page sets.
pub const SID: &str = "sid-7d41c2-secret";
/// The localStorage value the login page stores.
pub const TOKEN: &str = "tok-19be55-secret";

/// Starts pvaultd on `env` with Chromium configured and extra environment.
pub fn start_daemon(env: &Env, extra: &[(&str, &str)]) -> Daemon {
    let mut c = env.command();
    c.env("PVAULT_CHROME", CHROME);
    for (k, v) in extra {
        c.env(k, v);
    }
    let child = c.spawn().unwrap();
    let d = Daemon {
        child: Some(child),
        socket: env.socket.clone(),
    };
    wait_for("pvaultd to answer", 20, || {
        Raw::try_connect(&env.socket).is_some()
    });
    d
}

/// A daemon with an unlocked vault and a connection that said hello.
pub fn ready(env: &Env) -> (Daemon, Raw) {
    let d = start_daemon(env, &[]);
    let mut c = d.session();
    c.init();
    (d, c)
}

/// `<runtime>/sessions`: where session directories live.
pub fn sessions_dir(env: &Env) -> PathBuf {
    env.socket.parent().unwrap().join("sessions")
}

/// Names of the session directories that exist now.
pub fn session_dirs(env: &Env) -> Vec<String> {
    match std::fs::read_dir(sessions_dir(env)) {
        Ok(rd) => rd
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// Whether process `pid` is alive (not gone and not a zombie).
pub fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => !s
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z'),
        Err(_) => false,
    }
}

/// One request the server saw.
#[derive(Debug, Clone)]
pub struct Seen {
    /// Path without the query.
    pub path: String,
    /// The query string (after `?`), decoded only for `%20`-free test values.
    pub query: String,
    /// The `Cookie` header, empty when none was sent.
    pub cookie: String,
}

/// A local HTTP server on 127.0.0.1 (never the internet):
/// - `/login` sets the httpOnly cookie `sid` and, from script, localStorage `token`, then
///   requests `/done`;
/// - `/app` sets a `visited` cookie and reports localStorage `token` to `/report?token=…`.
pub struct Server {
    /// `http://127.0.0.1:PORT`.
    pub origin: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Server {
    pub fn start() -> Server {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let origin = format!("http://127.0.0.1:{}", l.local_addr().unwrap().port());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        std::thread::spawn(move || {
            for stream in l.incoming().flatten() {
                let s = s.clone();
                std::thread::spawn(move || {
                    let _ = serve(stream, &s);
                });
            }
        });
        Server { origin, seen }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.origin)
    }

    /// Waits (bounded) for the `n`-th request to `path` (1-based) and returns it.
    pub fn wait(&self, path: &str, n: usize) -> Seen {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let hits: Vec<Seen> = self
                .seen
                .lock()
                .unwrap()
                .iter()
                .filter(|s| s.path == path)
                .cloned()
                .collect();
            if hits.len() >= n {
                return hits[n - 1].clone();
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for request {n} to {path}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// How many requests to `path` arrived so far.
    pub fn count(&self, path: &str) -> usize {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.path == path)
            .count()
    }
}

fn serve(stream: TcpStream, seen: &Mutex<Vec<Seen>>) -> std::io::Result<()> {
    let mut r = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    r.read_line(&mut line)?;
    let target = line.split_whitespace().nth(1).unwrap_or("/").to_owned();
    let mut cookie = String::new();
    loop {
        let mut h = String::new();
        if r.read_line(&mut h)? == 0 || h == "\r\n" {
            break;
        }
        if let Some((k, v)) = h.split_once(':')
            && k.eq_ignore_ascii_case("cookie")
        {
            cookie = v.trim().to_owned();
        }
    }
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    seen.lock().unwrap().push(Seen {
        path: path.into(),
        query: query.into(),
        cookie,
    });
    let (headers, body) = match path {
        "/login" => (
            format!("Set-Cookie: sid={SID}; HttpOnly; Path=/; Max-Age=3600\r\n"),
            format!(
                "<!doctype html><script>localStorage.setItem('token', '{TOKEN}');\
                 fetch('/done');</script>"
            ),
        ),
        "/app" => (
            "Set-Cookie: visited=1; Path=/; Max-Age=3600\r\n".to_owned(),
            "<!doctype html><script>fetch('/report?token=' + \
             encodeURIComponent(localStorage.getItem('token') || 'none'));</script>"
                .to_owned(),
        ),
        _ => (String::new(), "ok".to_owned()),
    };
    let mut w = stream;
    write!(
        w,
        "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nCache-Control: no-store\r\n{headers}\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    w.flush()
}

/// A minimal CDP client over the browser websocket, as Playwright would connect.
pub struct Cdp {
    ws: tungstenite::WebSocket<tungstenite::stream::MaybeTlsStream<TcpStream>>,
    next: u64,
}

impl Cdp {
    pub fn connect(ws_url: &str) -> Cdp {
        let (ws, _) = tungstenite::connect(ws_url).expect("CDP websocket connect");
        if let tungstenite::stream::MaybeTlsStream::Plain(s) = ws.get_ref() {
            s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        }
        Cdp { ws, next: 0 }
    }

    /// Sends a browser-level command and returns its `result` (panics on a CDP error).
    pub fn call(&mut self, method: &str, params: Value) -> Value {
        self.send(None, method, params)
    }

    /// Sends a command, to a page's flat session when `session` is given, and returns its
    /// `result` (panics on a CDP error).
    fn send(&mut self, session: Option<&str>, method: &str, params: Value) -> Value {
        self.next += 1;
        let id = self.next;
        let mut msg = json!({"id": id, "method": method, "params": params});
        if let Some(s) = session {
            msg["sessionId"] = json!(s);
        }
        self.ws
            .send(tungstenite::Message::text(msg.to_string()))
            .unwrap();
        loop {
            let m = self.ws.read().expect("CDP read");
            let Ok(text) = m.to_text() else { continue };
            let v: Value = serde_json::from_str(text).unwrap_or(Value::Null);
            if v["id"] == json!(id) {
                assert!(v.get("error").is_none(), "{method} failed: {v}");
                return v["result"].clone();
            }
        }
    }

    /// Opens a page at `url` (a new target, as a client's `newPage` + `goto` would).
    pub fn open(&mut self, url: &str) -> String {
        self.call("Target.createTarget", json!({"url": url}))["targetId"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Attaches to a page target (flat session) and returns the session id for [`Cdp::eval`].
    pub fn attach(&mut self, target_id: &str) -> String {
        self.call(
            "Target.attachToTarget",
            json!({"targetId": target_id, "flatten": true}),
        )["sessionId"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Evaluates `expr` in the page of `session` (from [`Cdp::attach`]) and returns its value.
    pub fn eval(&mut self, session: &str, expr: &str) -> Value {
        let params = json!({"expression": expr, "returnByValue": true, "awaitPromise": true});
        self.send(Some(session), "Runtime.evaluate", params)["result"]["value"].clone()
    }

    /// URLs of the open pages.
    pub fn page_urls(&mut self) -> Vec<String> {
        self.call("Target.getTargets", json!({}))["targetInfos"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["type"] == "page")
            .map(|t| t["url"].as_str().unwrap_or("").to_owned())
            .collect()
    }
}

/// A subscribed connection; `next_event` reads until an event with the given name arrives.
pub struct Events(pub Raw);

impl Events {
    pub fn subscribe(d: &Daemon) -> Events {
        let mut r = d.session();
        r.ok("subscribe", json!({}));
        Events(r)
    }

    /// The next event called `name` whose `data.session_id` is `session` (others skipped).
    pub fn next(&mut self, name: &str, session: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            assert!(Instant::now() < deadline, "no {name} event for {session}");
            let v = self.0.recv().expect("event connection closed");
            if v["event"] == name {
                let sid = v["data"]["session_id"]
                    .as_str()
                    .or_else(|| v["data"]["session"]["session_id"].as_str());
                if sid == Some(session) {
                    return v["data"].clone();
                }
            }
        }
    }
}

/// Starts a Chromium the way a user would for `session attach`; returns it and its
/// `http://127.0.0.1:PORT` endpoint.
pub fn spawn_user_chrome(dir: &Path) -> (std::process::Child, String, String) {
    let mut cmd = std::process::Command::new(CHROME);
    cmd.args([
        "--headless",
        "--remote-debugging-port=0",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-startup-window",
    ])
    .arg(format!("--user-data-dir={}", dir.display()))
    .stdin(std::process::Stdio::null())
    .stdout(std::process::Stdio::null())
    .stderr(std::process::Stdio::piped());
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        cmd.arg("--no-sandbox");
    }
    let mut child = cmd.spawn().unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let ws = loop {
        let mut line = String::new();
        assert!(
            err.read_line(&mut line).unwrap() > 0,
            "chromium exited before DevTools"
        );
        if let Some(i) = line.find("ws://") {
            break line[i..].trim().to_owned();
        }
    };
    // Keep draining stderr so Chromium never blocks on a full pipe.
    std::thread::spawn(move || {
        let mut sink = String::new();
        while err.read_line(&mut sink).map(|n| n > 0).unwrap_or(false) {
            sink.clear();
        }
    });
    let port = ws
        .trim_start_matches("ws://")
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    (child, format!("http://{port}"), ws)
}
