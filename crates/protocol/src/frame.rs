//! JSON-lines framing: one compact UTF-8 JSON object per line, `\n`-terminated (a `\r` before
//! it is tolerated). Lines are bounded by [`MAX_MESSAGE_BYTES`](crate::MAX_MESSAGE_BYTES)
//! *before* they are buffered, and requests are routed on `id`/`method` without parsing
//! `params` twice.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use tokio::io::{AsyncBufRead, AsyncBufReadExt};

use crate::{ErrorBody, ErrorCode, Event, MAX_ID};

/// What [`read_frame`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame {
    /// A complete line is in the buffer (without `\n` or `\r\n`).
    Line,
    /// The peer closed the connection at a line boundary.
    Eof,
    /// The peer closed the connection in the middle of a line; the partial line is discarded.
    Truncated,
    /// The line exceeds the limit; the connection must be answered `too_large` and closed.
    TooLong,
}

/// Reads one line into `buf` (cleared first), never buffering more than `max` bytes of it.
pub async fn read_frame<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    buf: &mut Vec<u8>,
    max: usize,
) -> std::io::Result<Frame> {
    buf.clear();
    loop {
        let chunk = reader.fill_buf().await?;
        if chunk.is_empty() {
            return Ok(if buf.is_empty() {
                Frame::Eof
            } else {
                Frame::Truncated
            });
        }
        match memchr(chunk) {
            Some(i) => {
                if buf.len() + i > max {
                    return Ok(Frame::TooLong);
                }
                buf.extend_from_slice(&chunk[..i]);
                reader.consume(i + 1);
                if buf.last() == Some(&b'\r') {
                    buf.pop();
                }
                return Ok(Frame::Line);
            }
            None => {
                let n = chunk.len();
                // `max + 1` leaves room for a `\r` that precedes the `\n`.
                if buf.len() + n > max + 1 {
                    return Ok(Frame::TooLong);
                }
                buf.extend_from_slice(chunk);
                reader.consume(n);
            }
        }
    }
}

fn memchr(b: &[u8]) -> Option<usize> {
    b.iter().position(|&c| c == b'\n')
}

/// A request line, checked for shape; `params` still raw (`{}` when absent or `null`).
#[derive(Debug)]
pub struct ParsedRequest<'a> {
    /// The request id.
    pub id: u64,
    /// The method name.
    pub method: &'a str,
    /// The raw `params` object.
    pub params: &'a RawValue,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRequest<'a> {
    /// Checked to be an integer in range by [`parse_request`].
    #[serde(default, borrow)]
    id: Option<&'a RawValue>,
    /// Checked to be a string.
    #[serde(default, borrow)]
    method: Option<&'a RawValue>,
    /// Checked to be an object (or absent/null).
    #[serde(default, borrow)]
    params: Option<&'a RawValue>,
}

/// A failed request parse: the id to answer with (`None` when it could not be read) and why.
#[derive(Debug)]
pub struct ParseFailure {
    /// The request id, when it was valid.
    pub id: Option<u64>,
    /// The error to send.
    pub error: ErrorBody,
}

/// Parses a request line. Never includes any of the line's content in an error message (it
/// may hold secrets or cookie values).
pub fn parse_request(line: &[u8]) -> Result<ParsedRequest<'_>, ParseFailure> {
    let fail = |id, msg: &str| ParseFailure {
        id,
        error: ErrorBody::new(ErrorCode::InvalidArgument, msg),
    };
    let Ok(text) = std::str::from_utf8(line) else {
        return Err(fail(None, "message is not valid UTF-8"));
    };
    if text.trim().is_empty() {
        return Err(fail(
            None,
            "empty message: expected one JSON object per line",
        ));
    }
    // Serde would also read a struct from an array (`[1,"status"]`): only objects are requests.
    if !text.trim_start().starts_with('{') {
        return Err(fail(
            None,
            "a request is a JSON object: {\"id\":N,\"method\":\"…\",\"params\":{…}}",
        ));
    }
    let raw: RawRequest<'_> = match serde_json::from_str(text) {
        Ok(r) => r,
        Err(e) => {
            let msg = match e.classify() {
                serde_json::error::Category::Data => format!(
                    "a request is a JSON object with members id, method, params only (column {})",
                    e.column()
                ),
                _ => format!(
                    "message is not a JSON object (line {} column {}): expected {{\"id\":N,\"method\":\"…\",\"params\":{{…}}}}",
                    e.line(),
                    e.column()
                ),
            };
            return Err(fail(None, &msg));
        }
    };
    let id = match raw.id {
        None => {
            return Err(fail(
                None,
                "request has no id: add \"id\": an integer 0..=2^53-1",
            ));
        }
        Some(v) => match serde_json::from_str::<u64>(v.get()) {
            Ok(n) if n <= MAX_ID => n,
            _ => return Err(fail(None, "request id must be an integer 0..=2^53-1")),
        },
    };
    let method: &str = match raw.method {
        None => return Err(fail(Some(id), "request has no method")),
        Some(v) => match serde_json::from_str::<&str>(v.get()) {
            Ok(m) => m,
            // Escaped strings cannot be borrowed; no method name needs escapes.
            Err(_) => {
                return Err(fail(
                    Some(id),
                    "method must be a plain string like \"profile.list\"",
                ));
            }
        },
    };
    let params = match raw.params {
        Some(p) if p.get() != "null" => {
            if !p.get().starts_with('{') {
                return Err(fail(Some(id), "params must be a JSON object"));
            }
            p
        }
        _ => empty_object(),
    };
    Ok(ParsedRequest { id, method, params })
}

fn empty_object() -> &'static RawValue {
    static EMPTY: std::sync::OnceLock<Box<RawValue>> = std::sync::OnceLock::new();
    EMPTY.get_or_init(|| RawValue::from_string("{}".to_owned()).unwrap())
}

#[derive(Serialize)]
struct RequestOut<'a, P> {
    /// Request id.
    id: u64,
    /// Method name.
    method: &'a str,
    /// Params object.
    params: &'a P,
}

#[derive(Serialize)]
struct ResultOut<'a, T> {
    /// Request id.
    id: u64,
    /// Result object.
    result: &'a T,
}

#[derive(Serialize)]
struct ErrorOut<'a> {
    /// Request id, `null` when unreadable.
    id: Option<u64>,
    /// The error.
    error: &'a ErrorBody,
}

fn line<T: Serialize>(v: &T) -> Vec<u8> {
    // Serializing our own types to a Vec cannot fail (no maps with non-string keys).
    let mut out = serde_json::to_vec(v).expect("protocol types serialize");
    out.push(b'\n');
    out
}

/// Encodes a request line.
pub fn encode_request<P: Serialize>(id: u64, method: &str, params: &P) -> Vec<u8> {
    line(&RequestOut { id, method, params })
}

/// Encodes a success response line.
pub fn encode_result<T: Serialize>(id: u64, result: &T) -> Vec<u8> {
    line(&ResultOut { id, result })
}

/// Encodes an error response line (`id` is `null` when the request's id was unreadable).
pub fn encode_error(id: Option<u64>, error: &ErrorBody) -> Vec<u8> {
    line(&ErrorOut { id, error })
}

/// Encodes a `chunk` frame of a chunked response: `{"id": N, "chunk": "<base64>"}`.
pub fn encode_chunk(id: u64, bytes: &[u8]) -> Vec<u8> {
    use base64::Engine as _;
    let mut out = Vec::with_capacity(bytes.len() / 3 * 4 + 64);
    out.extend_from_slice(format!("{{\"id\":{id},\"chunk\":\"").as_bytes());
    out.extend_from_slice(
        base64::engine::general_purpose::STANDARD
            .encode(bytes)
            .as_bytes(),
    );
    out.extend_from_slice(b"\"}\n");
    out
}

/// Encodes an event line.
pub fn encode_event(event: &Event) -> Vec<u8> {
    line(event)
}

/// A line the daemon sent: a response (with `id`) or an event (with `event`).
#[derive(Debug, Deserialize)]
pub struct Incoming<'a> {
    /// Response id (`null` for errors about unreadable requests).
    #[serde(default)]
    pub id: Option<u64>,
    /// Success result.
    #[serde(default, borrow)]
    pub result: Option<&'a RawValue>,
    /// Failure.
    #[serde(default)]
    pub error: Option<ErrorBody>,
    /// Event name.
    #[serde(default)]
    pub event: Option<String>,
    /// Event data.
    #[serde(default, borrow)]
    pub data: Option<&'a RawValue>,
    /// One piece of a chunked response (base64), before its `result`.
    #[serde(default, borrow)]
    pub chunk: Option<&'a str>,
}
