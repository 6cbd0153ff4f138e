//! A one-time websocket endpoint for a multiplexer client, for CDP clients that only speak
//! websockets: chromiumoxide (the engine's own connection) and tests.
//!
//! Why not a pipe transport for chromiumoxide: its `Browser::connect` takes a URL and opens
//! the websocket itself, and no public API accepts another transport. Forking it into the tree
//! would leave us maintaining a CDP client; wrapping its internals is not possible from
//! outside. So the engine connects, like any client, to a websocket that the multiplexer
//! serves: a listener on `127.0.0.1`, port chosen by the OS, path
//! `/devtools/browser/<token>` with 256 random bits, that accepts exactly one connection with
//! that path and then closes (a request with any other path is refused with HTTP 403 and
//! the listener keeps waiting, up to [`ACCEPT_TIMEOUT`]). The listener belongs to the
//! process that holds the multiplexer, never to the browser, and lives for the moment between
//! handing out the URL and the connection.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::StatusCode;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

use super::{Mux, MuxClient, MuxError};

/// How long the endpoint waits for its one client.
const ACCEPT_TIMEOUT: Duration = Duration::from_secs(30);
/// The largest message either side may send (as Playwright's limit for a CDP message).
const MAX_MESSAGE: usize = 256 * 1024 * 1024;

/// Why a one-time endpoint could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum EndpointError {
    /// Binding the loopback listener failed.
    #[error("cannot open a loopback listener for the browser's CDP endpoint: {0}")]
    Bind(std::io::Error),
    /// The OS random source failed, so no unguessable token can be made.
    #[error("cannot draw a random token for the browser's CDP endpoint: {0}")]
    Random(String),
    /// The multiplexer refused a new client.
    #[error(transparent)]
    Mux(#[from] MuxError),
}

impl Mux {
    /// Opens a one-time websocket endpoint for a new client and returns its URL
    /// (`ws://127.0.0.1:PORT/devtools/browser/<token>`, a secret). The client is connected to
    /// the multiplexer before this returns, so a command sent once connected sees everything
    /// that happened after the call.
    pub async fn one_time_endpoint(&self) -> Result<String, EndpointError> {
        let mut b = [0u8; 32];
        getrandom::fill(&mut b).map_err(|e| EndpointError::Random(e.to_string()))?;
        let token: String = b.iter().map(|x| format!("{x:02x}")).collect();
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(EndpointError::Bind)?;
        let addr = listener.local_addr().map_err(EndpointError::Bind)?;
        let client = self.client().await?;
        let path = format!("/devtools/browser/{token}");
        let url = format!("ws://{addr}{path}");
        tokio::spawn(async move {
            let accepted = tokio::time::timeout(ACCEPT_TIMEOUT, accept_one(&listener, &path)).await;
            drop(listener);
            match accepted {
                Ok(Some(ws)) => pump(ws, client).await,
                Ok(None) => {}
                Err(_) => {
                    tracing::warn!("a one-time CDP endpoint was not used within 30 s; closed")
                }
            }
        });
        Ok(url)
    }
}

type Ws = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

/// Accepts connections until one asks for `path` with a websocket upgrade.
async fn accept_one(listener: &TcpListener, path: &str) -> Option<Ws> {
    loop {
        let (tcp, _) = listener.accept().await.ok()?;
        let _ = tcp.set_nodelay(true);
        // The signature is tungstenite's handshake callback; its error type is not ours to box.
        #[allow(clippy::result_large_err)]
        let check = |req: &Request, resp: Response| -> Result<Response, ErrorResponse> {
            if ct_eq(req.uri().path().as_bytes(), path.as_bytes()) {
                Ok(resp)
            } else {
                let mut e = ErrorResponse::new(Some("forbidden\n".into()));
                *e.status_mut() = StatusCode::FORBIDDEN;
                Err(e)
            }
        };
        let config = WebSocketConfig::default()
            .max_message_size(Some(MAX_MESSAGE))
            .max_frame_size(Some(MAX_MESSAGE));
        match tokio_tungstenite::accept_hdr_async_with_config(tcp, check, Some(config)).await {
            Ok(ws) => return Some(ws),
            Err(_) => {
                // Never log the path: it may be a near-miss of the token.
                tracing::warn!("a one-time CDP endpoint refused a connection without its token");
            }
        }
    }
}

/// Constant-time equality for the token path (lengths are public).
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len()
        && std::hint::black_box(a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y))) == 0
}

/// Moves messages between the websocket and the multiplexer client until either ends.
async fn pump(ws: Ws, client: MuxClient) {
    let (mut sink, mut stream) = ws.split();
    let MuxClient {
        sender,
        mut receiver,
    } = client;
    let to_chrome = async {
        while let Some(Ok(m)) = stream.next().await {
            let text = match m {
                Message::Text(t) => t,
                Message::Binary(b) => match Utf8Bytes::try_from(b) {
                    Ok(t) => t,
                    Err(_) => continue,
                },
                Message::Close(_) => break,
                _ => continue,
            };
            if sender.send(text.as_str()).await.is_err() {
                break;
            }
        }
    };
    let to_client = async {
        while let Some(msg) = receiver.recv().await {
            if sink.send(Message::text(msg)).await.is_err() {
                return;
            }
        }
        let _ = sink.close().await;
    };
    tokio::select! {
        _ = to_chrome => {}
        _ = to_client => {}
    }
}
