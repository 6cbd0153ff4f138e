//! The two tasks that move bytes over Chrome's `--remote-debugging-pipe`: Chrome reads
//! commands from its fd 3 and writes answers and events to its fd 4, each message a JSON text
//! followed by one NUL byte (no length prefix; JSON text never contains a raw NUL, which must
//! be escaped as `\u0000`).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, Weak};

use tokio::io::AsyncReadExt;
use tokio::net::unix::pipe::{Receiver, Sender};
use tokio::sync::{Notify, Semaphore, SemaphorePermit};

use super::Inner;

/// Bytes read from the pipe at a time.
const READ_CHUNK: usize = 64 * 1024;
/// A message from Chrome larger than this closes the pipe (Playwright's own limit for a CDP
/// message); nothing Chrome sends in practice comes near it.
const MAX_MESSAGE: usize = 256 * 1024 * 1024;

/// The write side of the pipe. A message is written at once by the task that sends it when
/// nothing is queued before it (one non-blocking `write`, no hand-over to another task: that
/// hand-over was a thread wake-up on every command); whatever the pipe does not take at once
/// waits in order in a bounded backlog that [`spawn_pipe_io`]'s writer task drains.
pub(crate) struct PipeWriter {
    /// Chrome's fd 3. Written only under `state`'s lock, so bytes of two messages never mix.
    pipe: Sender,
    /// What waits to be written, and whether the pipe failed.
    state: Mutex<WriteState>,
    /// One permit per message that may wait in the backlog: senders wait when it is full.
    room: Semaphore,
    /// Wakes the writer task when the backlog gains a message.
    wake: Notify,
}

#[derive(Default)]
struct WriteState {
    /// Messages (each with its NUL) not yet fully written, oldest first.
    backlog: VecDeque<Vec<u8>>,
    /// How much of the oldest message is already written.
    offset: usize,
    /// Set when a write failed: Chrome closed its end.
    closed: bool,
}

/// The pipe's write end failed: Chrome exited or closed it.
#[derive(Debug)]
pub(crate) struct PipeClosed;

impl PipeWriter {
    /// A writer for Chrome's fd 3 whose backlog holds at most `room` messages.
    pub(crate) fn new(pipe: Sender, room: usize) -> Arc<PipeWriter> {
        Arc::new(PipeWriter {
            pipe,
            state: Mutex::new(WriteState::default()),
            room: Semaphore::new(room),
            wake: Notify::new(),
        })
    }

    /// Queues `msg` behind every earlier message, writing it at once when nothing waits.
    /// Waits while [`super::TO_CHROME_QUEUE`] messages wait.
    pub(crate) async fn send(&self, msg: String) -> Result<(), PipeClosed> {
        let permit = self.room.acquire().await.map_err(|_| PipeClosed)?;
        self.enqueue(msg, permit)
    }

    /// [`PipeWriter::send`] without waiting: fails when the backlog is full.
    pub(crate) fn try_send(&self, msg: String) -> Result<(), PipeClosed> {
        let permit = self.room.try_acquire().map_err(|_| PipeClosed)?;
        self.enqueue(msg, permit)
    }

    fn enqueue(&self, msg: String, permit: SemaphorePermit<'_>) -> Result<(), PipeClosed> {
        // One buffer per message: the NUL goes with it, so a message is never split by a
        // failed second write.
        let mut bytes = msg.into_bytes();
        bytes.push(0);
        // The lock covers one non-blocking write of a message that is almost always a few
        // hundred bytes: the pipe buffer (64 KiB) takes it or refuses it at once.
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if st.closed {
            return Err(PipeClosed);
        }
        let written = if st.backlog.is_empty() {
            match self.pipe.try_write(&bytes) {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => 0,
                Err(_) => {
                    st.closed = true;
                    return Err(PipeClosed);
                }
            }
        } else {
            0
        };
        if written == bytes.len() {
            return Ok(());
        }
        if st.backlog.is_empty() {
            st.offset = written;
        }
        st.backlog.push_back(bytes);
        // The writer task gives the permit back when it has written the message.
        permit.forget();
        drop(st);
        self.wake.notify_one();
        Ok(())
    }

    /// Writes what the backlog holds, in order, as the pipe takes it. Returns when the pipe
    /// failed.
    async fn drain(&self) {
        loop {
            self.wake.notified().await;
            // Until the backlog is empty: wait for room in the pipe, then write what it takes.
            loop {
                {
                    let st = self.state.lock().unwrap_or_else(|p| p.into_inner());
                    if st.closed {
                        return;
                    }
                    if st.backlog.is_empty() {
                        break;
                    }
                }
                if self.pipe.writable().await.is_err() || !self.write_backlog() {
                    self.fail();
                    return;
                }
            }
        }
    }

    /// Writes backlog messages until the pipe would block; false when a write failed.
    fn write_backlog(&self) -> bool {
        let mut guard = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let st = &mut *guard;
        while let Some(front) = st.backlog.front() {
            match self.pipe.try_write(&front[st.offset..]) {
                Ok(n) => {
                    st.offset += n;
                    if st.offset == front.len() {
                        st.backlog.pop_front();
                        st.offset = 0;
                        self.room.add_permits(1);
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return true,
                Err(_) => return false,
            }
        }
        true
    }

    /// [`PipeWriter::drain`] for a spawned task.
    pub(crate) async fn drain_owned(self: Arc<Self>) {
        self.drain().await;
    }

    /// Stops writing: what waits is dropped, senders fail, the writer task ends.
    pub(crate) fn shut(&self) {
        self.fail();
        self.wake.notify_one();
    }

    fn fail(&self) {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        st.closed = true;
        st.backlog.clear();
        self.room.close();
    }
}

/// Starts the writer (the backlog of [`PipeWriter`] to Chrome's fd 3) and the reader (Chrome's
/// fd 4 to the multiplexer). The reader ends when the pipe closes and then marks the
/// multiplexer closed; the writer when a write fails or the multiplexer is dropped. They hold
/// the multiplexer weakly, so dropping every handle of it stops them too.
pub(crate) fn spawn_pipe_io(
    inner: Weak<Inner>,
    writer: Arc<PipeWriter>,
    mut from_chrome: Receiver,
) {
    tokio::spawn(writer.drain_owned());
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
                    Ok(text) => inner.on_chrome_message(text),
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

#[cfg(test)]
mod tests {
    use tokio::io::AsyncReadExt;

    use super::PipeWriter;

    /// A pipe that Chrome stops reading: the kernel buffer fills, messages wait in order in the
    /// backlog, senders wait once it is full, and everything arrives intact and in order once
    /// the reader goes on.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_pipe_keeps_order_and_bounds_the_backlog() {
        const ROOM: usize = 4;
        const MESSAGES: usize = 200;
        let (tx, mut rx) = tokio::net::unix::pipe::pipe().unwrap();
        let w = PipeWriter::new(tx, ROOM);
        tokio::spawn(w.clone().drain_owned());
        let sender = {
            let w = w.clone();
            tokio::spawn(async move {
                for i in 0..MESSAGES {
                    // 2 KiB each: the 64 KiB pipe buffer holds about 32 of them.
                    let msg = format!("{i:06}{}", "x".repeat(2042));
                    w.send(msg).await.unwrap();
                }
            })
        };
        // Nobody reads: the backlog fills to its bound and the sender waits.
        loop {
            let queued = w.state.lock().unwrap().backlog.len();
            assert!(queued <= ROOM, "the backlog holds {queued} > {ROOM}");
            if queued == ROOM && w.room.available_permits() == 0 {
                break;
            }
            assert!(
                !sender.is_finished(),
                "every message fitted: nothing was tested"
            );
            tokio::task::yield_now().await;
        }
        assert!(!sender.is_finished());
        let mut got = Vec::new();
        let mut buf = vec![0u8; 8192];
        while got.len() < MESSAGES * 2049 {
            let n = rx.read(&mut buf).await.unwrap();
            assert!(n > 0, "the pipe closed early");
            got.extend_from_slice(&buf[..n]);
        }
        sender.await.unwrap();
        for (i, m) in got.split(|b| *b == 0).take(MESSAGES).enumerate() {
            assert_eq!(m.len(), 2048, "message {i} arrived cut or joined");
            assert_eq!(
                &m[..6],
                format!("{i:06}").as_bytes(),
                "message {i} out of order"
            );
        }
    }
}
