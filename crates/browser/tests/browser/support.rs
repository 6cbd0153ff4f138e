//! Shared test parts: a local HTTP server that records Cookie headers, a second CDP client
//! (chromiumoxide, as another tool like Playwright would be), and launch helpers.

#![allow(dead_code)]

use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chromiumoxide::handler::HandlerConfig;
use chromiumoxide::{Browser, Page};
use futures::StreamExt;
use pvault_browser::{LaunchOptions, LoadReport, LocalStorageLoad, Session, discover_chrome};
use pvault_model::BrowserState;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// The session cookie the login page sets (httpOnly, so only CDP can see it).
pub const SID: &str = "sid";
pub const SID_VALUE: &str = "s3cr3t-value";
/// The localStorage item the login page sets; unicode on purpose.
pub const TOKEN_KEY: &str = "token";
pub const TOKEN_VALUE: &str = "tök€n-✓";

/// One request the server saw.
#[derive(Debug, Clone)]
pub struct Seen {
    /// Request path.
    pub path: String,
    /// The Cookie header, if any.
    pub cookie: Option<String>,
}

/// A tiny HTTP/1.1 server on 127.0.0.1:0.
/// - `/login` sets an httpOnly cookie via Set-Cookie and a localStorage item via script;
/// - `/read` puts the localStorage item into the title;
/// - `/storage-text` writes the localStorage token and all sessionStorage into the page text;
/// - anything else is an empty page.
pub struct TestServer {
    /// `http://127.0.0.1:PORT`.
    pub origin: String,
    /// Every request, in order.
    pub seen: Arc<Mutex<Vec<Seen>>>,
}

impl TestServer {
    pub async fn start() -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let seen2 = seen.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut sock, _)) = listener.accept().await else {
                    return;
                };
                let seen = seen2.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                        match sock.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let head = String::from_utf8_lossy(&buf).to_string();
                    let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
                    let cookie = head
                        .lines()
                        .find(|l| l.to_ascii_lowercase().starts_with("cookie:"))
                        .map(|l| l[7..].trim().to_owned());
                    seen.lock().unwrap().push(Seen {
                        path: path.clone(),
                        cookie,
                    });
                    let (extra, body) = match path.as_str() {
                        "/login" => (
                            format!(
                                "Set-Cookie: {SID}={SID_VALUE}; HttpOnly; Path=/; Max-Age=3600\r\n"
                            ),
                            format!(
                                "<html><head><title>login</title></head><body><script>\
                                 localStorage.setItem({TOKEN_KEY:?}, {TOKEN_VALUE:?}); \
                                 document.title = 'logged-in';</script></body></html>"
                            ),
                        ),
                        "/read" => (
                            String::new(),
                            format!(
                                "<html><head><title>x</title></head><body><script>\
                                 document.title = 'ls:' + localStorage.getItem({TOKEN_KEY:?});\
                                 </script></body></html>"
                            ),
                        ),
                        // The page's text shows its localStorage token and its
                        // sessionStorage, as a logged-in page shows its user.
                        "/storage-text" => (
                            String::new(),
                            format!(
                                "<html><head><title>x</title></head><body><script>\
                                 document.body.textContent = 'ls=' + \
                                 localStorage.getItem({TOKEN_KEY:?}) + ' ss=' + \
                                 JSON.stringify(Object.entries(sessionStorage));\
                                 </script></body></html>"
                            ),
                        ),
                        // What the page's own first script sees of sessionStorage.
                        "/session-probe" => (
                            String::new(),
                            "<html><head><title>x</title></head><body><script>\
                             window.firstSeen = JSON.stringify(Object.entries(sessionStorage));\
                             </script></body></html>"
                                .to_owned(),
                        ),
                        // A login written by the page's first script, before any debugger of
                        // ours can have enabled storage events on the new tab.
                        "/session-login" => (
                            String::new(),
                            "<html><head><title>x</title></head><body><script>\
                             sessionStorage.setItem('fresh', 'token-2');\
                             </script></body></html>"
                                .to_owned(),
                        ),
                        _ => (String::new(), "<html><body>ok</body></html>".to_owned()),
                    };
                    let resp = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n{extra}\
                         Content-Length: {}\r\nConnection: close\r\nCache-Control: no-store\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = sock.write_all(resp.as_bytes()).await;
                    let _ = sock.shutdown().await;
                });
            }
        });
        TestServer {
            origin: format!("http://127.0.0.1:{port}"),
            seen,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.origin)
    }

    /// Paths requested so far other than `expected`, in order.
    pub fn other_requests(&self, expected: &[&str]) -> Vec<String> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .map(|s| s.path.clone())
            .filter(|p| !expected.contains(&p.as_str()))
            .collect()
    }

    /// Requests for `path`, in order.
    pub fn requests(&self, path: &str) -> Vec<Seen> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.path == path)
            .cloned()
            .collect()
    }
}

/// The Chromium under test.
pub fn chrome() -> PathBuf {
    discover_chrome(std::env::var_os("PVAULT_CHROME").map(PathBuf::from), None)
        .expect("tests need Chromium: apt-get install chromium")
}

/// A launched session plus the directory it lives in (removed on drop).
pub struct Launched {
    pub session: Session,
    pub report: LoadReport,
    pub dir: tempfile::TempDir,
}

pub async fn launch(state: Option<BrowserState>, method: LocalStorageLoad) -> Launched {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = LaunchOptions::new(chrome(), dir.path().to_path_buf());
    opts.state = state;
    opts.local_storage_load = method;
    let (session, report) = Session::launch(opts).await.expect("launch");
    Launched {
        session,
        report,
        dir,
    }
}

/// Another CDP client on the same browser, as Playwright or Puppeteer would be.
pub struct Client {
    pub browser: Browser,
    task: tokio::task::JoinHandle<()>,
}

impl Client {
    pub async fn connect(ws: &str) -> Client {
        let config = HandlerConfig {
            viewport: None,
            ..HandlerConfig::default()
        };
        let (browser, mut handler) = Browser::connect_with_config(ws, config).await.unwrap();
        let task = tokio::spawn(async move { while handler.next().await.is_some() {} });
        Client { browser, task }
    }

    /// Opens `url` in a new page and waits for its load.
    pub async fn open(&self, url: &str) -> Page {
        let page = self.browser.new_page(url).await.unwrap();
        page.wait_for_navigation().await.unwrap();
        page
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Evaluates `expr` (wrapped in `String()`: a null result errors in chromiumoxide).
pub async fn eval(page: &Page, expr: &str) -> String {
    page.evaluate(format!("String({expr})"))
        .await
        .unwrap()
        .into_value::<String>()
        .unwrap()
}

/// Waits until `f` returns `Some`, polling, for at most `secs` seconds.
pub async fn wait_for<T, F, Fut>(secs: u64, what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}
