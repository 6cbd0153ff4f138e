//! Where a session's CDP is reached, and a raw text connection to it.
//!
//! A launched browser is reached through the daemon-side multiplexer of its
//! `--remote-debugging-pipe` (no listening socket in the browser); a browser someone else
//! started, or a launch that was allowed to fall back, through Chrome's own websocket. The
//! engine's own raw connections (the sessionStorage hand-off) open a [`Link`] on either.

use futures::stream::{SplitSink, SplitStream};
use futures::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

use crate::BrowserError;
use crate::mux::{Mux, MuxReceiver, MuxSender};

/// How a session's browser is reached over CDP.
#[derive(Clone, Debug)]
pub enum CdpEndpoint {
    /// The multiplexer of the browser's `--remote-debugging-pipe`: every client gets a
    /// browser-level session of its own through [`Mux::client`].
    Mux(Mux),
    /// Chrome's own DevTools websocket URL (a browser with a debugging port).
    WebSocket(String),
}

/// Which transport a session's browser speaks CDP over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// Launched with `--remote-debugging-pipe`: the browser listens on no socket.
    Pipe,
    /// Launched with `--remote-debugging-port` (the configured fallback for a browser that
    /// cannot do pipe mode): any local process can reach the port while it runs.
    Port,
    /// Attached to a browser someone else started with a debugging port.
    Attached,
}

impl Transport {
    /// The name shown to users and in the protocol: `pipe`, `port` or `attached`.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Pipe => "pipe",
            Transport::Port => "port",
            Transport::Attached => "attached",
        }
    }
}

type WsStream =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// One raw CDP connection: text messages in and out, as on a websocket of one's own.
pub(crate) enum Link {
    /// A websocket to Chrome.
    Ws {
        /// Writes to Chrome.
        sink: SplitSink<WsStream, Message>,
        /// Reads from Chrome.
        stream: SplitStream<WsStream>,
    },
    /// A client of the multiplexer.
    Mux {
        /// Sends to Chrome.
        sender: MuxSender,
        /// What Chrome sends this client.
        receiver: MuxReceiver,
    },
}

impl Link {
    /// Opens a new connection to `endpoint`.
    pub(crate) async fn open(endpoint: &CdpEndpoint) -> Result<Link, BrowserError> {
        match endpoint {
            CdpEndpoint::Mux(mux) => {
                let c = mux.client().await.map_err(|e| BrowserError::Connect {
                    url: "the browser's CDP pipe".into(),
                    detail: e.to_string(),
                })?;
                Ok(Link::Mux {
                    sender: c.sender,
                    receiver: c.receiver,
                })
            }
            CdpEndpoint::WebSocket(url) => {
                let (ws, _) = tokio_tungstenite::connect_async(url.as_str())
                    .await
                    .map_err(|e| BrowserError::Connect {
                        url: url.clone(),
                        detail: e.to_string(),
                    })?;
                let (sink, stream) = ws.split();
                Ok(Link::Ws { sink, stream })
            }
        }
    }

    /// Splits into a sending and a receiving half.
    pub(crate) fn split(self) -> (LinkSender, LinkReceiver) {
        match self {
            Link::Ws { sink, stream } => (LinkSender::Ws(sink), LinkReceiver::Ws(stream)),
            Link::Mux { sender, receiver } => {
                (LinkSender::Mux(sender), LinkReceiver::Mux(receiver))
            }
        }
    }
}

/// The sending half of a [`Link`].
pub(crate) enum LinkSender {
    /// Websocket.
    Ws(SplitSink<WsStream, Message>),
    /// Multiplexer.
    Mux(MuxSender),
}

impl LinkSender {
    /// Sends one message; `false` once the connection is gone.
    pub(crate) async fn send(&mut self, text: String) -> bool {
        match self {
            LinkSender::Ws(sink) => sink.send(Message::text(text)).await.is_ok(),
            LinkSender::Mux(sender) => sender.send(&text).await.is_ok(),
        }
    }
}

/// The receiving half of a [`Link`].
pub(crate) enum LinkReceiver {
    /// Websocket.
    Ws(SplitStream<WsStream>),
    /// Multiplexer.
    Mux(MuxReceiver),
}

impl LinkReceiver {
    /// The next text message; `None` once the connection is gone.
    pub(crate) async fn recv(&mut self) -> Option<String> {
        match self {
            LinkReceiver::Ws(stream) => loop {
                match stream.next().await? {
                    Ok(Message::Text(t)) => return Some(t.as_str().to_owned()),
                    Ok(Message::Close(_)) | Err(_) => return None,
                    Ok(_) => continue,
                }
            },
            LinkReceiver::Mux(r) => r.recv().await,
        }
    }
}
