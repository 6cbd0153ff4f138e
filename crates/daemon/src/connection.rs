//! One client connection: peer check, `hello` handshake, then a read loop that spawns one task
//! per request (so many are in flight at once) and a writer task that sends responses and
//! events in the order they complete. Payloads are never logged.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use interprocess::local_socket::tokio::Stream;
use interprocess::local_socket::traits::StreamCommon as _;
use pvault_protocol::frame::{
    Frame, encode_error, encode_event, encode_result, parse_request, read_frame,
};
use pvault_protocol::{
    Ack, ErrorBody, ErrorCode, Hello, HelloResponse, MAX_MESSAGE_BYTES, Method, PROTOCOL_MAJOR,
    PROTOCOL_MINOR, ProtocolVersion, Request, Subscribe,
};
use tokio::io::{AsyncWriteExt, BufReader, BufWriter};
use tokio::sync::{Semaphore, broadcast, mpsc};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::handlers;
use crate::state::Daemon;

/// Decrements the connection count when the connection ends.
pub(crate) struct ConnGuard(pub(crate) Arc<Daemon>);

impl Drop for ConnGuard {
    fn drop(&mut self) {
        self.0.connections.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Answers a connection over the cap with `busy` and closes it.
pub(crate) async fn refuse_busy(stream: Stream, max: usize) {
    let mut w = Shared(Arc::new(stream));
    let err = ErrorBody::new(
        ErrorCode::Busy,
        format!("pvaultd serves at most {max} connections; try again later"),
    );
    let _ = tokio::time::timeout(
        Duration::from_secs(1),
        w.write_all(&encode_error(None, &err)),
    )
    .await;
}

/// Serves one connection until the peer closes it, a fatal framing error, a timeout, or
/// daemon shutdown. In-flight requests always finish and their responses are written.
pub(crate) async fn serve_connection(d: Arc<Daemon>, stream: Stream, _guard: ConnGuard) {
    let peer = stream.peer_creds().ok();
    let peer_uid = peer.as_ref().and_then(|c| c.euid());
    let peer_pid = peer.as_ref().and_then(|c| c.pid());
    if peer_uid != Some(d.euid) {
        tracing::warn!(
            ?peer_uid,
            ?peer_pid,
            our_uid = d.euid,
            "refused a connection from another user"
        );
        let mut w = Shared(Arc::new(stream));
        let err = ErrorBody::new(
            ErrorCode::AuthFailed,
            format!(
                "pvaultd serves only uid {}; this connection is uid {:?}",
                d.euid, peer_uid
            ),
        );
        let _ = tokio::time::timeout(
            Duration::from_secs(1),
            w.write_all(&encode_error(None, &err)),
        )
        .await;
        return;
    }
    tracing::debug!(?peer_pid, "connection accepted");

    // Not `split()`: dropping a half would not shut the socket down. Both halves share it.
    let stream = Arc::new(stream);
    let (rh, wh) = (Shared(stream.clone()), Shared(stream));
    let (tx, rx) = mpsc::channel::<Vec<u8>>(256);
    let writer = tokio::spawn(write_loop(wh, rx));
    let conn_done = CancellationToken::new();
    let in_flight = Arc::new(Semaphore::new(d.opts.max_in_flight));

    read_loop(
        &d,
        BufReader::with_capacity(16 * 1024, rh),
        &tx,
        &in_flight,
        &conn_done,
    )
    .await;

    // Finish every request already accepted, then flush and close.
    conn_done.cancel();
    let _ = in_flight.acquire_many(d.opts.max_in_flight as u32).await;
    drop(tx);
    let _ = writer.await;
    tracing::debug!(?peer_pid, "connection closed");
}

async fn read_loop<R: tokio::io::AsyncBufRead + Unpin>(
    d: &Arc<Daemon>,
    mut reader: R,
    tx: &mpsc::Sender<Vec<u8>>,
    in_flight: &Arc<Semaphore>,
    conn_done: &CancellationToken,
) {
    let mut buf = Vec::with_capacity(1024);
    let mut hello_done = false;
    let mut subscribed = false;
    let handshake_deadline = Instant::now() + d.opts.handshake_timeout;
    loop {
        let idle = in_flight.available_permits() == d.opts.max_in_flight && !subscribed;
        let deadline = if !hello_done {
            Some(handshake_deadline)
        } else if idle {
            Some(Instant::now() + d.opts.idle_timeout)
        } else {
            None
        };
        let frame = tokio::select! {
            biased;
            _ = d.shutdown.cancelled() => return,
            r = read_with_deadline(&mut reader, &mut buf, deadline) => r,
        };
        let frame = match frame {
            Ok(Some(f)) => f,
            Ok(None) => {
                let why = if hello_done {
                    "idle timeout"
                } else {
                    "no hello within the handshake timeout"
                };
                tracing::debug!(why, "closing connection");
                let err = ErrorBody::new(
                    ErrorCode::InvalidArgument,
                    format!("closing the connection: {why}"),
                );
                let _ = tx.send(encode_error(None, &err)).await;
                return;
            }
            Err(e) => {
                tracing::debug!(error = %e, "connection read failed");
                return;
            }
        };
        match frame {
            Frame::Line => {}
            Frame::Eof | Frame::Truncated => return,
            Frame::TooLong => {
                tracing::warn!(
                    limit = MAX_MESSAGE_BYTES,
                    "message over the size limit; closing the connection"
                );
                let err = ErrorBody::new(
                    ErrorCode::TooLarge,
                    format!("message exceeds {MAX_MESSAGE_BYTES} bytes; the connection is closed"),
                );
                let _ = tx.send(encode_error(None, &err)).await;
                return;
            }
        }
        let req = match parse_request(&buf) {
            Ok(r) => r,
            Err(f) => {
                if tx.send(encode_error(f.id, &f.error)).await.is_err() {
                    return;
                }
                continue;
            }
        };
        let id = req.id;
        if !hello_done {
            if req.method != Hello::METHOD {
                let err = ErrorBody::new(
                    ErrorCode::InvalidArgument,
                    "send hello first: {\"id\":1,\"method\":\"hello\",\"params\":{\"protocol\":1}}",
                );
                if tx.send(encode_error(Some(id), &err)).await.is_err() {
                    return;
                }
                continue;
            }
            match hello(req.params.get()) {
                Ok(resp) => {
                    hello_done = true;
                    if tx.send(encode_result(id, &resp)).await.is_err() {
                        return;
                    }
                }
                Err((e, fatal)) => {
                    if tx.send(encode_error(Some(id), &e)).await.is_err() || fatal {
                        return;
                    }
                }
            }
            continue;
        }
        let Some(method) = Method::from_name(req.method) else {
            if tx
                .send(encode_error(
                    Some(id),
                    &handlers::unknown_method(req.method),
                ))
                .await
                .is_err()
            {
                return;
            }
            continue;
        };
        if method == Method::Subscribe {
            let reply = match handlers::parse::<Subscribe>(req.params.get()) {
                Err(e) => encode_error(Some(id), &e),
                Ok(_) if subscribed => encode_result(id, &Ack {}),
                Ok(_) => {
                    subscribed = true;
                    let events = d.events.subscribe();
                    // The ack is queued before the forwarder starts, so it precedes every event.
                    let ack = encode_result(id, &Ack {});
                    if tx.send(ack).await.is_err() {
                        return;
                    }
                    tokio::spawn(forward_events(events, tx.clone(), conn_done.clone()));
                    continue;
                }
            };
            if tx.send(reply).await.is_err() {
                return;
            }
            continue;
        }
        let Ok(permit) = in_flight.clone().acquire_owned().await else {
            return;
        };
        let d = d.clone();
        let tx = tx.clone();
        let params = req.params.to_owned();
        tokio::spawn(async move {
            let line = handlers::dispatch_guarded(&d, id, method, &params).await;
            let _ = tx.send(line).await;
            drop(permit);
        });
    }
}

async fn read_with_deadline<R: tokio::io::AsyncBufRead + Unpin>(
    reader: &mut R,
    buf: &mut Vec<u8>,
    deadline: Option<Instant>,
) -> std::io::Result<Option<Frame>> {
    let fut = read_frame(reader, buf, MAX_MESSAGE_BYTES);
    match deadline {
        Some(t) => match tokio::time::timeout_at(t, fut).await {
            Ok(r) => r.map(Some),
            Err(_) => Ok(None),
        },
        None => fut.await.map(Some),
    }
}

/// Checks `hello`; the bool says whether the connection must close (major mismatch).
fn hello(params: &str) -> Result<HelloResponse, (ErrorBody, bool)> {
    let h: Hello = handlers::parse(params).map_err(|e| (e, false))?;
    if h.protocol != PROTOCOL_MAJOR {
        return Err((
            ErrorBody::new(
                ErrorCode::Unsupported,
                format!(
                    "client speaks protocol {}, this pvaultd speaks protocol {}.{}",
                    h.protocol, PROTOCOL_MAJOR, PROTOCOL_MINOR
                ),
            )
            .with_hint(
                "use matching versions of pvault and pvaultd: `pvault daemon stop` lets the next command start the right one",
            ),
            true,
        ));
    }
    if let Some(client) = &h.client {
        tracing::debug!(client = %client.chars().take(64).collect::<String>(), "hello");
    }
    Ok(HelloResponse {
        protocol: ProtocolVersion {
            major: PROTOCOL_MAJOR,
            minor: PROTOCOL_MINOR,
        },
        daemon_version: env!("CARGO_PKG_VERSION").to_owned(),
        pid: std::process::id(),
    })
}

async fn forward_events(
    mut events: broadcast::Receiver<pvault_protocol::Event>,
    tx: mpsc::Sender<Vec<u8>>,
    done: CancellationToken,
) {
    loop {
        let ev = tokio::select! {
            _ = done.cancelled() => return,
            ev = events.recv() => ev,
        };
        match ev {
            Ok(ev) => {
                if tx.send(encode_event(&ev)).await.is_err() {
                    return;
                }
            }
            Err(broadcast::error::RecvError::Lagged(n)) => {
                tracing::warn!(skipped = n, "a subscriber fell behind; events skipped");
            }
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

async fn write_loop<W: tokio::io::AsyncWrite + Unpin>(w: W, mut rx: mpsc::Receiver<Vec<u8>>) {
    let mut w = BufWriter::with_capacity(16 * 1024, w);
    while let Some(line) = rx.recv().await {
        if w.write_all(&line).await.is_err() {
            return;
        }
        // Batch what is already queued into one flush.
        while let Ok(more) = rx.try_recv() {
            if w.write_all(&more).await.is_err() {
                return;
            }
        }
        if w.flush().await.is_err() {
            return;
        }
    }
    let _ = w.shutdown().await;
}

/// One side of a shared stream (`&Stream` is both `AsyncRead` and `AsyncWrite`).
struct Shared(Arc<Stream>);

impl tokio::io::AsyncRead for Shared {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut &*self.0).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for Shared {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut &*self.0).poll_write(cx, buf)
    }
    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut &*self.0).poll_flush(cx)
    }
    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut &*self.0).poll_shutdown(cx)
    }
}
