//! The two tasks that move bytes over Chrome's `--remote-debugging-pipe`: Chrome reads
//! commands from its fd 3 and writes answers and events to its fd 4, each message a JSON text
//! followed by one NUL byte (no length prefix; JSON text never contains a raw NUL, which must
//! be escaped as `\u0000`).

use std::sync::Weak;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::unix::pipe::{Receiver, Sender};
use tokio::sync::mpsc;

use super::Inner;

/// Bytes read from the pipe at a time.
const READ_CHUNK: usize = 64 * 1024;
/// A message from Chrome larger than this closes the pipe (Playwright's own limit for a CDP
/// message); nothing Chrome sends in practice comes near it.
const MAX_MESSAGE: usize = 256 * 1024 * 1024;

/// Starts the writer (queue to Chrome's fd 3) and the reader (Chrome's fd 4 to the
/// multiplexer). Both end when the pipe closes; the reader then marks the multiplexer closed.
/// They hold the multiplexer weakly, so dropping every handle of it stops them too.
pub(crate) fn spawn_pipe_io(
    inner: Weak<Inner>,
    mut to_chrome: Sender,
    mut from_chrome: Receiver,
    mut queue: mpsc::Receiver<String>,
) {
    tokio::spawn(async move {
        while let Some(msg) = queue.recv().await {
            // One write per message: the NUL goes with it, so a message is never split by a
            // failed second write.
            let mut bytes = msg.into_bytes();
            bytes.push(0);
            if to_chrome.write_all(&bytes).await.is_err() {
                break;
            }
        }
    });
    tokio::spawn(async move {
        let mut buf: Vec<u8> = Vec::with_capacity(READ_CHUNK);
        let mut chunk = vec![0u8; READ_CHUNK];
        // Where the scan for the next NUL resumes: bytes before it hold none.
        let mut scanned = 0;
        loop {
            let n = match from_chrome.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            buf.extend_from_slice(&chunk[..n]);
            let mut start = 0;
            while let Some(i) = buf[scanned..].iter().position(|b| *b == 0) {
                let end = scanned + i;
                let Some(inner) = inner.upgrade() else { return };
                match std::str::from_utf8(&buf[start..end]) {
                    Ok(text) => inner.route_from_chrome(text),
                    Err(_) => tracing::warn!(
                        bytes = end - start,
                        "CDP pipe: a message from the browser is not UTF-8; dropped"
                    ),
                }
                start = end + 1;
                scanned = start;
            }
            buf.drain(..start);
            scanned = buf.len();
            if buf.len() > MAX_MESSAGE {
                tracing::warn!(
                    bytes = buf.len(),
                    "CDP pipe: a message from the browser exceeds 256 MiB; closing the pipe"
                );
                break;
            }
        }
        if let Some(inner) = inner.upgrade() {
            inner.close();
        }
    });
}
