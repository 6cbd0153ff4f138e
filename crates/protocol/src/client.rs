//! A small tokio client: connects, says `hello`, and pipelines requests (any number in
//! flight on one connection, matched by id). Cloning a [`Client`] shares the connection.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::net::unix::OwnedWriteHalf;
use tokio::sync::{mpsc, oneshot};

use crate::frame::{Frame, Incoming, encode_request, read_frame};
use crate::{
    ErrorBody, ErrorCode, Event, Hello, HelloResponse, MAX_MESSAGE_BYTES, PROTOCOL_MAJOR,
    PROTOCOL_MINOR, Request,
};

/// Errors of the client.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No daemon answers at the socket (missing, refused, permission denied, or the
    /// connection was reset or closed before the `hello` reply).
    #[error("cannot connect to pvaultd at {path}: {source}")]
    Connect {
        /// The socket path tried.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The daemon answered with an error.
    #[error("{message}")]
    Remote {
        /// Stable code.
        code: ErrorCode,
        /// The daemon's message.
        message: String,
        /// The daemon's advice for the user, if it gave one.
        hint: Option<String>,
    },
    /// The connection broke or closed before the answer came.
    #[error("connection to pvaultd closed: {reason}")]
    Closed {
        /// What happened.
        reason: String,
    },
    /// The daemon sent something this client cannot read (a version skew or a bug).
    #[error("unexpected reply from pvaultd to {method}: {detail}")]
    Protocol {
        /// The method called.
        method: &'static str,
        /// What was wrong.
        detail: String,
    },
}

impl From<ErrorBody> for ClientError {
    fn from(e: ErrorBody) -> ClientError {
        ClientError::Remote {
            code: e.code,
            message: e.message,
            hint: e.hint,
        }
    }
}

impl ClientError {
    /// The remote error code, if the daemon answered with an error.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            ClientError::Remote { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// Whether the daemon could not be reached at all (the CLI auto-starts one then).
    pub fn is_unreachable(&self) -> bool {
        matches!(self, ClientError::Connect { .. })
    }
}

type Reply = Result<Box<serde_json::value::RawValue>, ClientError>;

struct Shared {
    /// Pending calls and why the connection closed, under one lock so a call can never be
    /// registered after the reader has failed everything pending.
    state: Mutex<ConnState>,
    /// Where events go after `subscribe`; `None` before (events are dropped).
    events: Mutex<Option<mpsc::UnboundedSender<Event>>>,
}

#[derive(Default)]
struct ConnState {
    /// Calls awaiting their response, by id.
    pending: HashMap<u64, oneshot::Sender<Reply>>,
    /// Decoded `chunk` frames received so far for a pending call, by id.
    chunks: HashMap<u64, Vec<u8>>,
    /// Set once the connection is unusable.
    closed: Option<CloseReason>,
}

/// Why the connection ended: an error the daemon sent without an id (e.g. `busy` at the
/// connection cap, `too_large`), or a local reason.
#[derive(Clone)]
enum CloseReason {
    Remote(ErrorBody),
    Local(String),
}

impl CloseReason {
    fn to_error(&self) -> ClientError {
        match self {
            CloseReason::Remote(e) => e.clone().into(),
            CloseReason::Local(r) => ClientError::Closed { reason: r.clone() },
        }
    }
}

/// A connection to pvaultd. Cheap to clone; all clones share one connection.
#[derive(Clone)]
pub struct Client {
    /// State shared with the reader task.
    shared: Arc<Shared>,
    /// The write half; one request line at a time.
    writer: Arc<tokio::sync::Mutex<OwnedWriteHalf>>,
    /// The next request id.
    next_id: Arc<AtomicU64>,
    /// The daemon's answer to `hello`.
    hello: HelloResponse,
    /// Aborts the reader task when the last clone is dropped.
    _reader_task: Arc<ReaderGuard>,
}

struct ReaderGuard(tokio::task::JoinHandle<()>);

impl Drop for ReaderGuard {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("daemon", &self.hello)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Connects to the socket at `path` and performs the `hello` handshake.
    pub async fn connect(path: impl AsRef<Path>) -> Result<Client, ClientError> {
        let path = path.as_ref();
        let stream = UnixStream::connect(path)
            .await
            .map_err(|source| ClientError::Connect {
                path: path.to_owned(),
                source,
            })?;
        let (read, write) = stream.into_split();
        let shared = Arc::new(Shared {
            state: Mutex::new(ConnState::default()),
            events: Mutex::new(None),
        });
        let task = tokio::spawn(read_loop(
            BufReader::with_capacity(64 * 1024, read),
            shared.clone(),
        ));
        let mut client = Client {
            shared,
            writer: Arc::new(tokio::sync::Mutex::new(write)),
            next_id: Arc::new(AtomicU64::new(1)),
            hello: HelloResponse {
                protocol: crate::ProtocolVersion { major: 0, minor: 0 },
                daemon_version: String::new(),
                pid: 0,
            },
            _reader_task: Arc::new(ReaderGuard(task)),
        };
        let hello = client
            .call(&Hello {
                protocol: PROTOCOL_MAJOR,
                minor: Some(PROTOCOL_MINOR),
                client: Some(format!("pvault-protocol {}", env!("CARGO_PKG_VERSION"))),
            })
            .await;
        client.hello = match hello {
            Ok(h) => h,
            // Reset or closed before the hello reply: a daemon dying (or killed) after the
            // kernel queued our connection. No daemon serves this socket, so this is a
            // connect failure, which callers may retry (nothing but `hello` was sent).
            Err(ClientError::Closed { reason }) => {
                return Err(ClientError::Connect {
                    path: path.to_owned(),
                    source: std::io::Error::new(
                        std::io::ErrorKind::ConnectionReset,
                        format!("the connection closed before the hello reply: {reason}"),
                    ),
                });
            }
            Err(e) => return Err(e),
        };
        Ok(client)
    }

    /// Connects to the default socket ([`crate::paths::socket_path`]).
    pub async fn connect_default() -> Result<Client, ClientError> {
        Client::connect(crate::paths::socket_path()).await
    }

    /// The daemon's answer to `hello`.
    pub fn daemon(&self) -> &HelloResponse {
        &self.hello
    }

    /// Sends a request and waits for its response. Many calls may be in flight at once.
    pub async fn call<R: Request>(&self, req: &R) -> Result<R::Response, ClientError> {
        let raw = self.call_raw(R::METHOD, req).await?;
        serde_json::from_str(raw.get()).map_err(|e| ClientError::Protocol {
            method: R::METHOD,
            detail: e.to_string(),
        })
    }

    /// Like [`Client::call`] for a request answered in `chunk` frames before its result
    /// (`profile.export` with `chunked`): returns the result and the reassembled bytes.
    pub async fn call_chunked<R: Request>(
        &self,
        req: &R,
    ) -> Result<(R::Response, Vec<u8>), ClientError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let raw = self.call_raw_id(id, R::METHOD, req).await;
        // The reader stores every chunk before it hands over the result.
        let bytes = self.shared.state.lock().unwrap().chunks.remove(&id);
        let resp = serde_json::from_str(raw?.get()).map_err(|e| ClientError::Protocol {
            method: R::METHOD,
            detail: e.to_string(),
        })?;
        Ok((resp, bytes.unwrap_or_default()))
    }

    async fn call_raw<P: serde::Serialize>(&self, method: &'static str, params: &P) -> Reply {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.call_raw_id(id, method, params).await
    }

    async fn call_raw_id<P: serde::Serialize>(
        &self,
        id: u64,
        method: &'static str,
        params: &P,
    ) -> Reply {
        let line = encode_request(id, method, params);
        let (tx, rx) = oneshot::channel();
        {
            let mut st = self.shared.state.lock().unwrap();
            if let Some(reason) = &st.closed {
                return Err(reason.to_error());
            }
            st.pending.insert(id, tx);
        }
        let written = {
            let mut w = self.writer.lock().await;
            w.write_all(&line).await
        };
        if let Err(e) = written {
            // The reader sees the same broken connection and fails every pending call, with
            // the daemon's last word if it sent one (e.g. `busy` at the connection cap).
            return match rx.await {
                Ok(r) => r,
                Err(_) => Err(ClientError::Closed {
                    reason: format!("write failed: {e}"),
                }),
            };
        }
        rx.await.unwrap_or_else(|_| {
            Err(ClientError::Closed {
                reason: "reader stopped".into(),
            })
        })
    }

    /// Sends `subscribe` and returns the stream of events on this connection. A second call
    /// replaces the previous receiver.
    pub async fn subscribe(&self) -> Result<mpsc::UnboundedReceiver<Event>, ClientError> {
        let (tx, rx) = mpsc::unbounded_channel();
        *self.shared.events.lock().unwrap() = Some(tx);
        self.call(&crate::Subscribe {}).await?;
        Ok(rx)
    }
}

async fn read_loop(mut reader: BufReader<tokio::net::unix::OwnedReadHalf>, shared: Arc<Shared>) {
    let mut buf = Vec::new();
    let mut fatal: Option<ErrorBody> = None;
    let local = loop {
        match read_frame(&mut reader, &mut buf, MAX_MESSAGE_BYTES).await {
            Ok(Frame::Line) => {}
            Ok(Frame::Eof) => break "the daemon closed the connection".to_owned(),
            Ok(Frame::Truncated) => {
                break "the daemon closed the connection mid-message".to_owned();
            }
            Ok(Frame::TooLong) => break "the daemon sent a message over the size limit".to_owned(),
            Err(e) => break format!("read failed: {e}"),
        }
        let Ok(msg) = serde_json::from_slice::<Incoming<'_>>(&buf) else {
            continue;
        };
        if let (Some(id), Some(chunk)) = (msg.id, msg.chunk) {
            use base64::Engine as _;
            let mut st = shared.state.lock().unwrap();
            if !st.pending.contains_key(&id) {
                continue;
            }
            let decoded = base64::engine::general_purpose::STANDARD.decode(chunk);
            let have = st.chunks.get(&id).map_or(0, Vec::len);
            let failure = match decoded {
                Err(_) => Some(ClientError::Remote {
                    code: ErrorCode::Internal,
                    message: "the daemon sent a chunk that is not base64".into(),
                    hint: None,
                }),
                Ok(d) if have + d.len() > crate::MAX_CHUNKED_BYTES => Some(ClientError::Remote {
                    code: ErrorCode::TooLarge,
                    message: format!(
                        "the daemon sent more than {} bytes of chunks",
                        crate::MAX_CHUNKED_BYTES
                    ),
                    hint: None,
                }),
                Ok(d) => {
                    st.chunks.entry(id).or_default().extend_from_slice(&d);
                    None
                }
            };
            if let Some(e) = failure {
                st.chunks.remove(&id);
                if let Some(tx) = st.pending.remove(&id) {
                    let _ = tx.send(Err(e));
                }
            }
            continue;
        }
        if msg.event.is_some() {
            // Unknown events (newer daemon) are skipped, as protocol.md requires.
            if let Ok(ev) = serde_json::from_slice::<Event>(&buf)
                && let Some(tx) = shared.events.lock().unwrap().as_ref()
            {
                let _ = tx.send(ev);
            }
            continue;
        }
        let reply = match (msg.result, msg.error) {
            (_, Some(e)) => Err(ClientError::from(e)),
            (Some(r), None) => Ok(r.to_owned()),
            (None, None) => continue,
        };
        match (msg.id, reply) {
            (Some(id), reply) => {
                let tx = shared.state.lock().unwrap().pending.remove(&id);
                if let Some(tx) = tx {
                    let _ = tx.send(reply);
                }
            }
            // An error the daemon could not attach to a request (the connection cap, an
            // oversized or unreadable message, a timeout): it closes the connection next.
            (
                None,
                Err(ClientError::Remote {
                    code,
                    message,
                    hint,
                }),
            ) => {
                fatal = Some(ErrorBody {
                    code,
                    message,
                    hint,
                })
            }
            (None, _) => {}
        }
    };
    let reason = match fatal {
        Some(e) => CloseReason::Remote(e),
        None => CloseReason::Local(local),
    };
    let pending = {
        let mut st = shared.state.lock().unwrap();
        st.closed = Some(reason.clone());
        std::mem::take(&mut st.pending)
    };
    for (_, tx) in pending {
        let _ = tx.send(Err(reason.to_error()));
    }
    shared.events.lock().unwrap().take();
}
