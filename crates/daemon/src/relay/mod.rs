//! The guarded CDP relay: one websocket listener on `127.0.0.1` (random port) that clients
//! such as Playwright's `connectOverCDP` and Puppeteer's `connect` use to reach a session's
//! browser. A client connects to `ws://127.0.0.1:PORT/devtools/browser/<token>`, where the
//! token is 256 random bits drawn per session; the relay looks the token up (compared in
//! constant time), refuses a missing or unknown one with HTTP 403 *before* any upgrade (logged
//! without the token), and otherwise connects the client to the session's browser: one more
//! client of the browser's pipe multiplexer (a launched browser, which listens on no socket),
//! or a websocket of its own to Chrome's debugging port (an attached browser, or the
//! configured port fallback). Messages pass both ways unchanged but for a client's
//! `Browser.close` (see below).
//!
//! Modules: this one is the token registry; `http` the listener, the request head and the
//! upgrade; `pipe` the forwarding of one connection.
//!
//! Each [`RelayTarget`] also tracks how many clients are connected and since when none is,
//! which drives the sessions' inactivity timeout. The one CDP message the relay looks at is a
//! client's `Browser.close` (module `pipe`): a `save` session captures first.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use crate::sync::MutexExt as _;
use pvault_browser::CdpEndpoint;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

mod http;
mod pipe;

/// The path prefix clients connect to; the token follows. It mirrors Chrome's own
/// `/devtools/browser/<id>` so tools that look at the path are not surprised.
pub const PATH_PREFIX: &str = "/devtools/browser/";

/// Random bytes per token (256 bits; hex-encoded in the URL, so URL-safe).
const TOKEN_BYTES: usize = 32;
/// Connecting to Chrome must not take longer than this.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(10);
/// How long closing both sides may take once a connection ends.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// Why the relay could not start or register a session.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// Binding `127.0.0.1:0` failed.
    #[error("cannot open the CDP relay's listener on 127.0.0.1: {source}")]
    Bind {
        /// The OS error.
        source: std::io::Error,
    },
    /// An `http://host:port` debugging endpoint did not name its browser websocket URL.
    #[error("cannot read the browser's websocket URL from {url}/json/version: {detail}")]
    Discover {
        /// The endpoint asked.
        url: String,
        /// What went wrong.
        detail: String,
    },
    /// The OS random source failed, so no unguessable token can be made.
    #[error("cannot draw a random relay token ({detail}); the session was not exposed")]
    Random {
        /// getrandom's explanation.
        detail: String,
    },
}

/// Connected clients of one target, for the inactivity timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Activity {
    /// Relay clients connected now.
    pub clients: usize,
    /// Since when no client is connected (registration time if none ever was); `None` while
    /// one is.
    pub idle_since: Option<Instant>,
}

/// The relay: a listener plus the registered sessions. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Relay {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    /// Where the listener is bound.
    addr: SocketAddr,
    /// Registered targets. A `Vec`, scanned in full on every lookup, so the time a lookup
    /// takes does not depend on how much of a guessed token matched (there are few sessions).
    targets: Mutex<Vec<Arc<TargetInner>>>,
    /// Cancelled when the daemon stops: the listener and every piped connection end.
    stop: CancellationToken,
}

struct TargetInner {
    /// The secret token (hex).
    token: String,
    /// Where the browser is reached: its pipe's multiplexer, or Chrome's own browser
    /// websocket URL (never leaves the daemon).
    upstream: CdpEndpoint,
    /// Client count and idle time; watched by the inactivity timeout.
    activity: watch::Sender<Activity>,
    /// Cancelled at unregistration: piped connections of this target end.
    closed: CancellationToken,
    /// Run before a client's `Browser.close` reaches Chrome (see [`BeforeClose`]).
    before_close: Mutex<Option<BeforeClose>>,
}

/// What the relay awaits before passing a client's browser-level `Browser.close` on to Chrome
/// (Puppeteer's `browser.close()`): a `save` session captures its exact final state while
/// Chrome can still be asked. Bounded by [`pipe::BEFORE_CLOSE_TIMEOUT`]; the message is passed
/// on afterwards whatever happened.
pub type BeforeClose = Arc<dyn Fn() -> futures::future::BoxFuture<'static, ()> + Send + Sync>;

impl std::fmt::Debug for TargetInner {
    // Hand-written: the token is a secret and the upstream URL reaches Chrome unguarded.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TargetInner")
            .field("activity", &*self.activity.borrow())
            .finish_non_exhaustive()
    }
}

impl TargetInner {
    fn client_joined(&self) {
        self.activity.send_modify(|a| {
            a.clients += 1;
            a.idle_since = None;
        });
    }

    fn client_left(&self) {
        self.activity.send_modify(|a| {
            a.clients = a.clients.saturating_sub(1);
            if a.clients == 0 {
                a.idle_since = Some(Instant::now());
            }
        });
    }
}

/// A session registered with the relay. Dropping it (or [`RelayTarget::unregister`])
/// forgets the token and closes the session's relayed connections.
pub struct RelayTarget {
    inner: Arc<TargetInner>,
    relay: Weak<Shared>,
    /// The URL clients use (contains the token: a secret).
    url: String,
}

impl std::fmt::Debug for RelayTarget {
    // Hand-written: the URL holds the token.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelayTarget")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl RelayTarget {
    /// `ws://127.0.0.1:PORT/devtools/browser/<token>`: what `cdp_ws_url` reports. A secret:
    /// whoever holds it controls the browser.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Clients connected now and since when none is.
    pub fn activity(&self) -> Activity {
        *self.inner.activity.borrow()
    }

    /// A receiver that sees every change of [`RelayTarget::activity`].
    pub fn watch(&self) -> watch::Receiver<Activity> {
        self.inner.activity.subscribe()
    }

    /// Sets what runs before a client's `Browser.close` is passed on (see [`BeforeClose`]).
    pub fn set_before_close(&self, hook: BeforeClose) {
        *self.inner.before_close.locked() = Some(hook);
    }

    /// Completes once the target is unregistered (or the relay stopped).
    pub async fn unregistered(&self) {
        self.inner.closed.cancelled().await;
    }

    /// Forgets the token and ends this target's relayed connections (also done on drop).
    pub fn unregister(&self) {
        self.inner.closed.cancel();
        if let Some(shared) = self.relay.upgrade() {
            shared
                .targets
                .lock()
                .unwrap()
                .retain(|t| !Arc::ptr_eq(t, &self.inner));
        }
    }
}

impl Drop for RelayTarget {
    fn drop(&mut self) {
        self.unregister();
    }
}

impl Relay {
    /// Binds `127.0.0.1:0` and serves until `stop` is cancelled.
    pub async fn start(stop: CancellationToken) -> Result<Relay, RelayError> {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(|source| RelayError::Bind { source })?;
        let addr = listener
            .local_addr()
            .map_err(|source| RelayError::Bind { source })?;
        let shared = Arc::new(Shared {
            addr,
            targets: Mutex::new(Vec::new()),
            stop,
        });
        tokio::spawn(http::accept_loop(listener, Arc::downgrade(&shared)));
        tracing::info!(%addr, "CDP relay listening");
        Ok(Relay { shared })
    }

    /// The listener's address.
    pub fn addr(&self) -> SocketAddr {
        self.shared.addr
    }

    /// Registers a session whose browser is reached at `upstream` under a fresh token; the
    /// returned target gives the URL clients use.
    pub fn register(&self, upstream: CdpEndpoint) -> Result<RelayTarget, RelayError> {
        let mut b = [0u8; TOKEN_BYTES];
        getrandom::fill(&mut b).map_err(|e| RelayError::Random {
            detail: e.to_string(),
        })?;
        let token = hex::encode(b);
        let url = format!("ws://{}{PATH_PREFIX}{token}", self.shared.addr);
        let inner = Arc::new(TargetInner {
            token,
            upstream,
            activity: watch::Sender::new(Activity {
                clients: 0,
                idle_since: Some(Instant::now()),
            }),
            closed: self.shared.stop.child_token(),
            before_close: Mutex::new(None),
        });
        self.shared.targets.locked().push(inner.clone());
        Ok(RelayTarget {
            inner,
            relay: Arc::downgrade(&self.shared),
            url,
        })
    }

    /// Sessions registered now.
    pub fn len(&self) -> usize {
        self.shared.targets.locked().len()
    }

    /// Whether no session is registered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The browser websocket URL to relay to: `url` itself when it is a `ws://` URL, else (an
/// `http://host:port` debugging endpoint, as `session.attach` accepts) the
/// `webSocketDebuggerUrl` its `/json/version` names.
pub async fn upstream_url(url: &str) -> Result<String, RelayError> {
    if url.starts_with("ws://") {
        return Ok(url.to_owned());
    }
    let err = |detail: String| RelayError::Discover {
        url: url.trim_end_matches('/').to_owned(),
        detail,
    };
    let authority = url
        .strip_prefix("http://")
        .and_then(|r| r.split('/').next())
        .filter(|a| !a.is_empty())
        .ok_or_else(|| err("expected http://HOST:PORT or ws://…".into()))?;
    // Chrome's HTTP server keeps the connection open whatever we ask: read the head, then
    // exactly Content-Length bytes of body.
    let fetch = async {
        let mut tcp = TcpStream::connect(authority).await?;
        let req =
            format!("GET /json/version HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n");
        tcp.write_all(req.as_bytes()).await?;
        let mut raw = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            let n = tcp.read(&mut chunk).await?;
            raw.extend_from_slice(&chunk[..n]);
            if let Some(i) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&raw[..i]).to_ascii_lowercase();
                let len = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse::<usize>().ok());
                if n == 0 || len.is_some_and(|len| raw.len() >= i + 4 + len) {
                    return Ok(raw.split_off(i + 4));
                }
            } else if n == 0 {
                return Ok(Vec::new());
            }
            if n == 0 || raw.len() > 1024 * 1024 {
                return Ok(Vec::new());
            }
        }
    };
    let body = tokio::time::timeout(UPSTREAM_TIMEOUT, fetch)
        .await
        .map_err(|_| err("no answer within 10 s".into()))?
        .map_err(|e: std::io::Error| err(e.to_string()))?;
    let v: serde_json::Value =
        serde_json::from_slice(&body).map_err(|e| err(format!("not a JSON answer ({e})")))?;
    v.get("webSocketDebuggerUrl")
        .and_then(|u| u.as_str())
        .map(str::to_owned)
        .ok_or_else(|| err("no webSocketDebuggerUrl in the answer".into()))
}

impl Shared {
    /// The target whose token equals `token`, compared in constant time against every
    /// registered token (no early exit on a match or a mismatch).
    fn find(&self, token: &[u8]) -> Option<Arc<TargetInner>> {
        let targets = self.targets.locked();
        let mut found = None;
        for t in targets.iter() {
            if ct_eq(t.token.as_bytes(), token) {
                found = Some(t.clone());
            }
        }
        found
    }
}

/// Constant-time equality for equal-length inputs (the length of a token is public).
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::ct_eq;

    #[test]
    fn ct_eq_compares_whole_tokens() {
        assert!(ct_eq(b"abcd", b"abcd"));
        assert!(!ct_eq(b"abcd", b"abce"));
        assert!(!ct_eq(b"abcd", b"abc"));
        assert!(!ct_eq(b"", b"a"));
    }
}
