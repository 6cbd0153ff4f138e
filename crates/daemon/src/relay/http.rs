//! The relay's listener and its HTTP side: reading a request head, refusing anything without
//! a valid token with the same `403` before any upgrade, finishing the websocket handshake
//! ourselves, and connecting the client to its session's browser.
//!
//! Why we do the HTTP handshake ourselves instead of `tokio_tungstenite::accept_hdr_async`:
//! tungstenite validates the websocket headers before its callback runs and drops a request
//! that is not a websocket upgrade without answering. We want every request without a valid
//! token (a plain `curl`, a port scanner) to get the same `403`, and to refuse before any
//! upstream connection is made.

use std::net::SocketAddr;
use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::{WebSocketStream, connect_async_with_config};

use pvault_browser::CdpEndpoint;

use super::{CLOSE_TIMEOUT, PATH_PREFIX, Shared, UPSTREAM_TIMEOUT};

/// A request head larger than this is refused (real clients send well under 1 KiB).
const MAX_HEAD: usize = 16 * 1024;
/// A client must send its request head within this time.
const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
/// CDP messages can be large (screenshots, big DOMs): the same limit Playwright uses.
const MAX_MESSAGE: usize = 256 * 1024 * 1024;

pub(super) async fn accept_loop(listener: TcpListener, shared: Weak<Shared>) {
    loop {
        let Some(stop) = shared.upgrade().map(|s| s.stop.clone()) else {
            return;
        };
        let accepted = tokio::select! {
            _ = stop.cancelled() => return,
            r = listener.accept() => r,
        };
        match accepted {
            Ok((tcp, peer)) => {
                let Some(s) = shared.upgrade() else { return };
                tokio::spawn(serve(s, tcp, peer));
            }
            Err(e) => {
                // EMFILE and friends: back off instead of spinning.
                tracing::warn!(error = %e, "CDP relay: accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// The parts of an HTTP request head the relay looks at.
struct Head {
    method: String,
    /// Path without the query string.
    path: String,
    /// `(lowercase name, value)` pairs.
    headers: Vec<(String, String)>,
}

impl Head {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether `name`'s comma-separated value list contains `token` (case-insensitive).
    fn header_has(&self, name: &str, token: &str) -> bool {
        self.header(name).is_some_and(|v| {
            v.split(',')
                .any(|part| part.trim().eq_ignore_ascii_case(token))
        })
    }
}

/// Reads the request head (up to the blank line). `Ok(None)`: the client sent bytes after the
/// head before being answered, or closed early; neither is a websocket client.
async fn read_head(tcp: &mut TcpStream) -> std::io::Result<Option<Head>> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 2048];
    let end = loop {
        let n = tcp.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > MAX_HEAD {
            return Ok(None);
        }
    };
    if end != buf.len() {
        // A websocket client waits for `101` before sending anything else.
        return Ok(None);
    }
    let text = String::from_utf8_lossy(&buf[..end]);
    let mut lines = text.split("\r\n");
    let mut first = lines.next().unwrap_or("").split(' ');
    let method = first.next().unwrap_or("").to_owned();
    let target = first.next().unwrap_or("");
    let path = target.split(['?', '#']).next().unwrap_or("").to_owned();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Ok(Some(Head {
        method,
        path,
        headers,
    }))
}

/// Writes a short plain-text HTTP response and closes.
async fn respond(mut tcp: TcpStream, status: &str, body: &str) {
    let msg = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\nCache-Control: no-store\r\n\r\n{body}",
        body.len()
    );
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, async {
        let _ = tcp.write_all(msg.as_bytes()).await;
        let _ = tcp.shutdown().await;
    })
    .await;
}

pub(super) fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .max_message_size(Some(MAX_MESSAGE))
        .max_frame_size(Some(MAX_MESSAGE))
}

/// One relay connection: check the token, connect to Chrome, finish the handshake, pipe.
async fn serve(shared: Arc<Shared>, mut tcp: TcpStream, peer: SocketAddr) {
    let head = match tokio::time::timeout(HEAD_TIMEOUT, read_head(&mut tcp)).await {
        Ok(Ok(Some(h))) => h,
        Ok(Ok(None)) => {
            tracing::warn!(%peer, "CDP relay refused a connection: not an HTTP request head");
            return respond(tcp, "400 Bad Request", "bad request\n").await;
        }
        Ok(Err(_)) => return,
        Err(_) => {
            tracing::warn!(%peer, "CDP relay refused a connection: no request within 10 s");
            return;
        }
    };
    // The token is checked first, for every request: without it nothing else is revealed.
    let token = head.path.strip_prefix(PATH_PREFIX).unwrap_or("");
    let target = if token.is_empty() {
        None
    } else {
        shared.find(token.as_bytes())
    };
    let Some(target) = target else {
        let reason = if token.is_empty() {
            "missing token"
        } else {
            "unknown token"
        };
        // Never log the path: it holds what may be a near-miss of a real token.
        tracing::warn!(%peer, reason, "CDP relay refused a connection (HTTP 403)");
        return respond(tcp, "403 Forbidden", "forbidden\n").await;
    };
    let key = head.header("sec-websocket-key").map(str::to_owned);
    let upgrade = head.method == "GET"
        && head.header_has("upgrade", "websocket")
        && head.header_has("connection", "upgrade")
        && head.header("sec-websocket-version") == Some("13");
    let (true, Some(key)) = (upgrade, key) else {
        tracing::warn!(%peer, "CDP relay refused a request with a valid token: not a websocket upgrade");
        return respond(
            tcp,
            "400 Bad Request",
            "this URL is a CDP websocket endpoint: connect with a websocket client (Playwright connectOverCDP, Puppeteer connect)\n",
        )
        .await;
    };
    // The browser first: if it is gone, the client gets an HTTP error, not a dead websocket.
    let upstream = match connect_upstream(&target.upstream).await {
        Ok(u) => u,
        Err((status, body)) => {
            tracing::warn!(%peer, status, "CDP relay: cannot reach the session's browser");
            return respond(tcp, status, body).await;
        }
    };
    let accept = derive_accept_key(key.as_bytes());
    let reply = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
    );
    if tcp.write_all(reply.as_bytes()).await.is_err() {
        return;
    }
    let _ = tcp.set_nodelay(true);
    let client = WebSocketStream::from_raw_socket(tcp, Role::Server, Some(ws_config())).await;
    target.client_joined();
    tracing::debug!(%peer, "CDP relay: client connected");
    super::pipe::pipe(client, upstream, &target).await;
    target.client_left();
    tracing::debug!(%peer, "CDP relay: client left");
}

/// Connects to a session's browser: a new multiplexer client, or a websocket to Chrome's
/// debugging port. On failure, the HTTP status and body the client gets.
async fn connect_upstream(
    endpoint: &CdpEndpoint,
) -> Result<super::pipe::Upstream, (&'static str, &'static str)> {
    const GONE: (&str, &str) = (
        "502 Bad Gateway",
        "the session's browser is not reachable\n",
    );
    const SLOW: (&str, &str) = (
        "504 Gateway Timeout",
        "the session's browser did not answer\n",
    );
    match endpoint {
        CdpEndpoint::Mux(mux) => match tokio::time::timeout(UPSTREAM_TIMEOUT, mux.client()).await {
            Ok(Ok(c)) => Ok(super::pipe::Upstream::Mux(c)),
            Ok(Err(_)) => Err(GONE),
            Err(_) => Err(SLOW),
        },
        CdpEndpoint::WebSocket(url) => {
            let connected = tokio::time::timeout(
                UPSTREAM_TIMEOUT,
                connect_async_with_config(url.as_str(), Some(ws_config()), true),
            )
            .await;
            match connected {
                Ok(Ok((ws, _))) => Ok(super::pipe::Upstream::WebSocket(Box::new(ws))),
                Ok(Err(_)) => Err(GONE),
                Err(_) => Err(SLOW),
            }
        }
    }
}
