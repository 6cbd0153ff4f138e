//! A local HTTP server for the browser suites (127.0.0.1, port 0; never the internet).
//!
//! - `GET /login` "logs in": sets an httpOnly cookie `sid` (and a partitioned-free plain
//!   `theme` cookie), and a script stores `token` in localStorage, then sets the title to
//!   `logged-in`.
//! - `GET /whoami` answers `user:<sid>` when the `sid` cookie arrives, `anonymous` otherwise.
//! - `GET /app` is a page whose title becomes `token:<localStorage token>` (or `token:none`).
//! - `GET /logout` expires `sid`.
//!
//! Every request's `Cookie` header is recorded so a test can assert what the browser sent.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

/// The secret values the login page hands out; tests look for them in stored state.
pub const SID: &str = "sid-3f9a7c1e-secret";
/// The localStorage token the login page stores.
pub const TOKEN: &str = "token-8d2b6e44-secret";

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    /// Request path.
    pub path: String,
    /// The `Cookie` header, empty when none was sent.
    pub cookie: String,
}

/// A running test server; it stops with the test process.
pub struct TestServer {
    /// `http://127.0.0.1:<port>`.
    pub origin: String,
    /// Every request so far, in arrival order.
    pub seen: Arc<Mutex<Vec<Seen>>>,
}

impl TestServer {
    /// Binds 127.0.0.1:0 and serves on a background thread.
    pub fn start() -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind test server");
        let origin = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let s = s.clone();
                std::thread::spawn(move || {
                    let _ = handle(stream, &s);
                });
            }
        });
        TestServer { origin, seen }
    }

    /// Full URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.origin, path)
    }

    /// Cookie headers received on requests to `path`.
    pub fn cookies_sent_to(&self, path: &str) -> Vec<String> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.path == path)
            .map(|r| r.cookie.clone())
            .collect()
    }
}

fn handle(stream: TcpStream, seen: &Mutex<Vec<Seen>>) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_owned();
    let mut cookie = String::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h == "\r\n" {
            break;
        }
        if let Some((k, v)) = h.split_once(':')
            && k.eq_ignore_ascii_case("cookie")
        {
            cookie = v.trim().to_owned();
        }
    }
    let path_only = path.split('?').next().unwrap_or("/").to_owned();
    seen.lock().unwrap().push(Seen {
        path: path_only.clone(),
        cookie: cookie.clone(),
    });
    let (extra_headers, body) = match path_only.as_str() {
        "/login" => (
            format!(
                "Set-Cookie: sid={SID}; HttpOnly; Path=/; Max-Age=86400\r\n\
                 Set-Cookie: theme=dark; Path=/; Max-Age=86400\r\n"
            ),
            format!(
                "<!doctype html><title>logging in</title><script>\
                 localStorage.setItem('token', '{TOKEN}');\
                 localStorage.setItem('unicode', 'ünïcødé ✓ 日本');\
                 document.title = 'logged-in';</script>"
            ),
        ),
        "/whoami" => {
            let user = cookie
                .split("; ")
                .find_map(|c| c.strip_prefix("sid="))
                .map(|v| format!("user:{v}"))
                .unwrap_or_else(|| "anonymous".into());
            (
                String::new(),
                format!("<!doctype html><title>{user}</title><body>{user}</body>"),
            )
        }
        "/app" => (
            String::new(),
            "<!doctype html><title>loading</title><script>\
             document.title = 'token:' + (localStorage.getItem('token') || 'none');</script>"
                .to_owned(),
        ),
        "/logout" => (
            "Set-Cookie: sid=; Path=/; Max-Age=0\r\n".to_owned(),
            "<!doctype html><title>logged-out</title>".to_owned(),
        ),
        _ => (String::new(), "<!doctype html><title>ok</title>".to_owned()),
    };
    let mut out = stream;
    write!(
        out,
        "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nCache-Control: no-store\r\n\
         {extra_headers}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    out.flush()
}
