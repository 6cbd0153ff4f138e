//! The test site: a local HTTP server for the browser tests (127.0.0.1, port 0; never the
//! internet).
//!
//! - `GET /login` "logs in": sets an httpOnly cookie `sid` (and a plain `theme` cookie), and a
//!   script stores `token` in localStorage, sets the title to `logged-in`, then requests
//!   `/done` (so a test can wait for the script to have run).
//! - `GET /login-all` logs in with one cookie of every kind a browser import must carry
//!   over: `sid` (httpOnly), `theme`, `sess` (a session cookie), `strict` (Secure,
//!   SameSite=Strict, Priority=High), `lax` (SameSite=Lax, Priority=Low), `chips` (Secure,
//!   Partitioned, SameSite=None); its script stores `token` and a non-Latin-1 `unicode` item
//!   in localStorage, then requests `/done`.
//! - `GET /whoami` answers `user:<sid>` when the `sid` cookie arrives, `anonymous` otherwise.
//! - `GET /app` is a page whose title becomes `token:<localStorage token>` (or `token:none`),
//!   and which reports the same to `/report?token=…` (so a test without a page session sees
//!   it too).
//! - `GET /logout` expires `sid` and removes `token` from localStorage, then requests
//!   `/logged-out` (by then the browser has applied the expiry).
//! - `GET /account` is a logged-in page (`<div id="user-menu">`, text `Welcome back`) when
//!   `sid` arrives and the server has not expired sessions; otherwise it redirects (302) to
//!   `/login-page?next=/account`, a sign-in form. [`TestServer::expire_sessions`] expires
//!   every session server-side: the browser keeps its cookie, the site no longer accepts it.
//! - `GET /idb-app` keeps a login in IndexedDB through real npm libraries (idb-keyval, Dexie,
//!   localforage): `app.login(token)` stores it, and on load the page's title becomes
//!   `idb:{"keyval":…,"dexie":…,"localforage":…}` (`null` where a library found nothing).
//! - `GET /oidc-app` keeps an OpenID Connect user with oidc-client-ts's `UserManager` in its
//!   default store, sessionStorage: `app.login(token)` stores a `User` with that access token,
//!   `app.logout()` removes it, and on load the title becomes `oidc:<access token>` or
//!   `oidc:none`.
//! - `GET /frames?URL,URL…` is a page embedding each URL (on `127.0.0.1` or, another site
//!   and so an out-of-process frame, `localhost`) in an iframe.
//! - `GET /worker.js` a dedicated worker that answers `worker:<message>`; `GET /sw.js` a
//!   service worker that claims its pages; `GET /download` a text file sent as an attachment.
//! - `GET /lib/<name>.js` serves those libraries' browser builds from tests/node/node_modules
//!   (installed by `npm ci` there), so the pages load them from this server, never the
//!   internet.
//!
//! Every request's path, query and `Cookie` header are recorded so a test can assert what the
//! browser sent.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::wait_for;

/// The `tests/node` folder with the npm packages installed (`npm ci` there): Playwright for
/// the suites, and the libraries `/lib/` serves.
pub fn node_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/node");
    assert!(
        dir.join("node_modules/playwright-core").exists(),
        "playwright-core is not installed: run `npm ci` in tests/node (.ci/run does)"
    );
    dir
}

/// The secret values the login page hands out; tests look for them in stored state.
pub const SID: &str = "sid-3f9a7c1e-secret";
/// The localStorage token the login page stores.
pub const TOKEN: &str = "token-8d2b6e44-secret";
/// The OpenID Connect client id of `/oidc-app`.
pub const OIDC_CLIENT_ID: &str = "pvault-e2e";

/// The sessionStorage key under which oidc-client-ts keeps `/oidc-app`'s user:
/// `oidc.user:<authority>:<client id>`, the authority being `<origin>/oidc`.
pub fn oidc_user_key(origin: &str) -> String {
    format!("oidc.user:{origin}/oidc:{OIDC_CLIENT_ID}")
}

/// Browser builds of the npm libraries the app pages use, by the name they are served under
/// (`/lib/<name>.js`), as paths inside tests/node/node_modules.
const LIBRARIES: &[(&str, &str)] = &[
    ("idb-keyval", "idb-keyval/dist/umd.js"),
    ("dexie", "dexie/dist/dexie.js"),
    ("localforage", "localforage/dist/localforage.js"),
    (
        "oidc-client-ts",
        "oidc-client-ts/dist/browser/oidc-client-ts.js",
    ),
];

/// `/idb-app`: a token kept by three IndexedDB libraries. Dexie's table has an
/// auto-incremented primary key and a unique index on `user`, queried by that index.
const IDB_APP: &str = r#"<!doctype html><title>loading</title>
<script src="/lib/idb-keyval.js"></script>
<script src="/lib/dexie.js"></script>
<script src="/lib/localforage.js"></script>
<script>
const db = new Dexie('dexie-auth');
db.version(1).stores({ sessions: '++id, &user' });
window.app = {
  async login(token) {
    await idbKeyval.set('auth-token', token);
    await db.sessions.where('user').equals('alice').delete();
    await db.sessions.add({ user: 'alice', token, at: new Date() });
    await localforage.setItem('lf-token', token);
    return this.read();
  },
  async read() {
    const keyval = await idbKeyval.get('auth-token');
    const row = await db.sessions.where('user').equals('alice').first();
    const lf = await localforage.getItem('lf-token');
    return { keyval: keyval ?? null, dexie: row ? row.token : null, localforage: lf ?? null };
  },
};
window.app.read().then(
  (r) => { document.title = 'idb:' + JSON.stringify(r); },
  (e) => { document.title = 'error:' + e; },
);
</script>"#;

/// `/oidc-app`: oidc-client-ts's `UserManager` with its default user store (sessionStorage).
/// No provider is needed to store and read a user.
const OIDC_APP: &str = r#"<!doctype html><title>loading</title>
<script src="/lib/oidc-client-ts.js"></script>
<script>
const mgr = new oidc.UserManager({
  authority: location.origin + '/oidc',
  client_id: 'pvault-e2e',
  redirect_uri: location.origin + '/oidc-app',
  automaticSilentRenew: false,
});
window.app = {
  async login(token) {
    const now = Math.floor(Date.now() / 1000);
    await mgr.storeUser(new oidc.User({
      access_token: token,
      id_token: 'id-' + token,
      refresh_token: 'refresh-' + token,
      token_type: 'Bearer',
      scope: 'openid profile',
      profile: { sub: 'alice', iss: location.origin + '/oidc', aud: 'pvault-e2e', iat: now, exp: now + 86400 },
      expires_at: now + 86400,
    }));
    return this.read();
  },
  async read() {
    const user = await mgr.getUser();
    return user ? user.access_token : null;
  },
  async logout() {
    await mgr.removeUser();
    return this.read();
  },
};
window.app.read().then(
  (t) => { document.title = 'oidc:' + (t ?? 'none'); },
  (e) => { document.title = 'error:' + e; },
);
</script>"#;

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    /// Request path, without the query.
    pub path: String,
    /// The query string (after `?`), as sent.
    pub query: String,
    /// The `Cookie` header, empty when none was sent.
    pub cookie: String,
}

/// A running test server; it stops with the test process.
#[derive(Debug)]
pub struct TestServer {
    /// `http://127.0.0.1:<port>`.
    pub origin: String,
    /// Every request so far, in arrival order.
    pub seen: Arc<Mutex<Vec<Seen>>>,
    /// Set once the server expired every session (see [`TestServer::expire_sessions`]).
    pub sessions_expired: Arc<std::sync::atomic::AtomicBool>,
}

impl TestServer {
    /// Binds 127.0.0.1:0 and serves on a background thread.
    pub fn start() -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind test server");
        let origin = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sessions_expired = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (s, x) = (seen.clone(), sessions_expired.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (s, x) = (s.clone(), x.clone());
                std::thread::spawn(move || {
                    let _ = handle(stream, &s, &x);
                });
            }
        });
        TestServer {
            origin,
            seen,
            sessions_expired,
        }
    }

    /// Expires every session server-side: `/account` then redirects to the sign-in page
    /// although the browser still sends its `sid` cookie.
    pub fn expire_sessions(&self) {
        self.sessions_expired
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Full URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.origin, path)
    }

    /// Waits (bounded) for the `n`-th request to `path` (1-based) and returns it.
    pub fn wait(&self, path: &str, n: usize) -> Seen {
        wait_for(
            &format!("request {n} to {path}"),
            Duration::from_secs(30),
            || {
                self.seen
                    .lock()
                    .unwrap()
                    .iter()
                    .filter(|s| s.path == path)
                    .nth(n - 1)
                    .cloned()
            },
        )
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

fn handle(
    stream: TcpStream,
    seen: &Mutex<Vec<Seen>>,
    sessions_expired: &std::sync::atomic::AtomicBool,
) -> std::io::Result<()> {
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
    let (path_only, query) = path.split_once('?').unwrap_or((&path, ""));
    let path_only = path_only.to_owned();
    seen.lock().unwrap().push(Seen {
        path: path_only.clone(),
        query: query.to_owned(),
        cookie: cookie.clone(),
    });
    if let Some(name) = path_only
        .strip_prefix("/lib/")
        .and_then(|f| f.strip_suffix(".js"))
    {
        return serve_library(stream, name);
    }
    // Scripts and a download: what a browser only accepts with their own content type.
    let asset = match path_only.as_str() {
        // A dedicated worker: answers every message, and can be evaluated in.
        "/worker.js" => Some((
            "text/javascript",
            "",
            "onmessage = (e) => postMessage('worker:' + e.data);",
        )),
        // A service worker that installs and claims its pages at once.
        "/sw.js" => Some((
            "text/javascript",
            "",
            "self.addEventListener('install', () => self.skipWaiting());\n\
             self.addEventListener('activate', (e) => e.waitUntil(self.clients.claim()));",
        )),
        "/download" => Some((
            "text/plain",
            "Content-Disposition: attachment; filename=\"report.txt\"\r\n",
            "downloaded report",
        )),
        _ => None,
    };
    if path_only == "/account" {
        let logged_in = cookie.split("; ").any(|c| c == format!("sid={SID}"))
            && !sessions_expired.load(std::sync::atomic::Ordering::SeqCst);
        let mut out = stream;
        if !logged_in {
            write!(
                out,
                "HTTP/1.1 302 Found\r\nLocation: /login-page?next=/account\r\n\
                 Cache-Control: no-store\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            )?;
            return out.flush();
        }
        let body = "<!doctype html><title>account</title><body><div id=\"user-menu\">me</div>\
                    <p>Welcome back</p></body>";
        write!(
            out,
            "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nCache-Control: no-store\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )?;
        return out.flush();
    }
    if let Some((content_type, extra, body)) = asset {
        let mut out = stream;
        write!(
            out,
            "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nCache-Control: no-store\r\n\
             {extra}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )?;
        return out.flush();
    }
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
                 document.title = 'logged-in'; fetch('/done');</script>"
            ),
        ),
        "/login-all" => (
            format!(
                "Set-Cookie: sid={SID}; HttpOnly; Path=/; Max-Age=86400\r\n\
                 Set-Cookie: theme=dark; Path=/; Max-Age=86400\r\n\
                 Set-Cookie: sess=session-only; Path=/\r\n\
                 Set-Cookie: strict=s; Secure; SameSite=Strict; Priority=High; Path=/; Max-Age=86400\r\n\
                 Set-Cookie: lax=l; SameSite=Lax; Priority=Low; Path=/; Max-Age=3600\r\n\
                 Set-Cookie: chips=c; Secure; Partitioned; SameSite=None; Path=/; Max-Age=86400\r\n"
            ),
            format!(
                "<!doctype html><title>logging in</title><script>\
                 localStorage.setItem('token', '{TOKEN}');\
                 localStorage.setItem('unicode', 'ünïcødé ✓ 日本');\
                 document.title = 'logged-in'; fetch('/done');</script>"
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
             const token = localStorage.getItem('token') || 'none';\
             document.title = 'token:' + token;\
             fetch('/report?token=' + encodeURIComponent(token));</script>"
                .to_owned(),
        ),
        "/idb-app" => (String::new(), IDB_APP.to_owned()),
        "/frames" => {
            let frames: String = path
                .split_once('?')
                .map(|(_, q)| q)
                .unwrap_or_default()
                .split(',')
                // `localhost` is another site than `127.0.0.1`: an out-of-process frame.
                .filter(|u| {
                    u.starts_with("http://127.0.0.1:") || u.starts_with("http://localhost:")
                })
                .map(|u| format!("<iframe src=\"{u}\"></iframe>"))
                .collect();
            (
                String::new(),
                format!("<!doctype html><title>frames</title>{frames}"),
            )
        }
        "/oidc-app" => (String::new(), OIDC_APP.to_owned()),
        "/login-page" => (
            String::new(),
            "<!doctype html><title>sign in</title><body><form><input name=\"user\">\
             <button>Sign in</button></form></body>"
                .to_owned(),
        ),
        "/logout" => (
            "Set-Cookie: sid=; Path=/; Max-Age=0\r\n".to_owned(),
            "<!doctype html><title>logged-out</title><script>\
             localStorage.removeItem('token'); fetch('/logged-out');</script>"
                .to_owned(),
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

/// Answers `/lib/<name>.js` with the library's browser build, or 404 for an unknown name.
fn serve_library(mut out: TcpStream, name: &str) -> std::io::Result<()> {
    let Some((_, file)) = LIBRARIES.iter().find(|(n, _)| *n == name) else {
        let body = "no such library";
        write!(
            out,
            "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\
             Connection: close\r\n\r\n{body}",
            body.len()
        )?;
        return out.flush();
    };
    let path = node_dir().join("node_modules").join(file);
    let body = std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run `npm ci` in tests/node)", path.display()));
    write!(
        out,
        "HTTP/1.1 200 OK\r\nContent-Type: text/javascript; charset=utf-8\r\n\
         Cache-Control: no-store\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    out.write_all(&body)?;
    out.flush()
}
