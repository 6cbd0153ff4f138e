//! Forwarding one relayed connection to the session's browser (its pipe multiplexer, or a
//! websocket to its port): messages pass both ways unchanged, except that a client's
//! browser-level `Browser.close` waits for the target's [`super::BeforeClose`] hook first (a `save`
//! session captures its exact final state while Chrome still answers).
//!
//! Looking at client messages costs one substring search per text message; only a message
//! that contains `Browser.close` is parsed.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use pvault_browser::MuxClient;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::{CLOSE_TIMEOUT, TargetInner};
use crate::sync::MutexExt as _;

/// The longest a `Browser.close` is held for the hook.
pub(super) const BEFORE_CLOSE_TIMEOUT: Duration = Duration::from_secs(15);

/// The session's browser, as one relayed connection reaches it.
pub(super) enum Upstream {
    /// A client of the browser's pipe multiplexer (a launched browser).
    Mux(MuxClient),
    /// A websocket to Chrome's debugging port (an attached browser, or the port fallback).
    WebSocket(Box<WebSocketStream<MaybeTlsStream<TcpStream>>>),
}

/// Forwards messages both ways until either side closes or the target is unregistered. With
/// a websocket upstream, text and binary messages pass unchanged and a close frame is passed
/// on; with the multiplexer, text messages pass (binary ones are decoded as UTF-8 text, as
/// Chrome reads them) and the client's end closes when the browser's pipe does. Pings are
/// answered by each hop itself.
pub(super) async fn pipe<C>(client: WebSocketStream<C>, upstream: Upstream, target: &TargetInner)
where
    C: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let (mut cw, mut cr) = client.split();
    match upstream {
        Upstream::WebSocket(ws) => {
            let (mut uw, mut ur) = ws.split();
            {
                let c2u = forward(&mut cr, &mut uw, Some(target));
                let u2c = forward(&mut ur, &mut cw, None);
                tokio::select! {
                    _ = c2u => {}
                    _ = u2c => {}
                    _ = target.closed.cancelled() => {}
                }
            }
            let _ = tokio::time::timeout(CLOSE_TIMEOUT, async {
                let _ = uw.close().await;
                let _ = cw.close().await;
            })
            .await;
        }
        Upstream::Mux(MuxClient {
            sender,
            mut receiver,
        }) => {
            {
                let c2u = async {
                    while let Some(Ok(m)) = cr.next().await {
                        let text = match m {
                            Message::Text(t) => t,
                            Message::Binary(b) => match Utf8Bytes::try_from(b) {
                                Ok(t) => t,
                                Err(_) => continue,
                            },
                            Message::Close(_) => return,
                            _ => continue,
                        };
                        hold_browser_close(target, text.as_str()).await;
                        if sender.send(text.as_str()).await.is_err() {
                            return;
                        }
                    }
                };
                let u2c = async {
                    while let Some(text) = receiver.recv().await {
                        if cw.send(Message::text(text)).await.is_err() {
                            return;
                        }
                    }
                };
                tokio::select! {
                    _ = c2u => {}
                    _ = u2c => {}
                    _ = target.closed.cancelled() => {}
                }
            }
            // Dropping the multiplexer client detaches its browser session (and with it every
            // page session it attached), so nothing waits for a client that is gone.
            drop((sender, receiver));
            let _ = tokio::time::timeout(CLOSE_TIMEOUT, cw.close()).await;
        }
    }
}

/// Runs the target's before-close hook when `text` is a client's browser-level
/// `Browser.close`, bounded by [`BEFORE_CLOSE_TIMEOUT`].
async fn hold_browser_close(target: &TargetInner, text: &str) {
    if !is_browser_close(text) {
        return;
    }
    let run = target.before_close.locked().clone();
    if let Some(run) = run
        && tokio::time::timeout(BEFORE_CLOSE_TIMEOUT, run())
            .await
            .is_err()
    {
        tracing::warn!("the capture before a client's Browser.close took over 15 s; passing it on");
    }
}

/// Copies messages from `from` to `to`; returns when `from` closes or fails, after passing a
/// close frame on. With `hook` (client to Chrome), a `Browser.close` waits for it first.
async fn forward<R, W>(from: &mut R, to: &mut W, hook: Option<&TargetInner>)
where
    R: futures::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
    W: futures::Sink<Message> + Unpin,
{
    while let Some(m) = from.next().await {
        match m {
            Ok(m @ (Message::Text(_) | Message::Binary(_))) => {
                if let (Some(target), Message::Text(t)) = (hook, &m) {
                    hold_browser_close(target, t.as_str()).await;
                }
                if to.send(m).await.is_err() {
                    return;
                }
            }
            Ok(Message::Close(frame)) => {
                let _ = to.send(Message::Close(frame)).await;
                return;
            }
            Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_)) => {}
            Err(_) => return,
        }
    }
}

/// Whether a client's text message is a browser-level `Browser.close` command (not one sent
/// to a page's session, which has no such method anyway).
fn is_browser_close(text: &str) -> bool {
    if !text.contains("Browser.close") {
        return false;
    }
    #[derive(serde::Deserialize)]
    struct Command<'a> {
        /// The CDP method.
        method: Option<&'a str>,
        /// Present when the command targets a page's session.
        #[serde(rename = "sessionId")]
        session_id: Option<&'a str>,
    }
    serde_json::from_str::<Command<'_>>(text)
        .is_ok_and(|c| c.method == Some("Browser.close") && c.session_id.is_none())
}

#[cfg(test)]
mod tests {
    use super::is_browser_close;

    #[test]
    fn only_a_browser_level_browser_close_is_held() {
        assert!(is_browser_close(r#"{"id":7,"method":"Browser.close"}"#));
        assert!(is_browser_close(
            r#"{"id":7,"method":"Browser.close","params":{}}"#
        ));
        assert!(!is_browser_close(
            r#"{"id":7,"method":"Browser.getVersion"}"#
        ));
        assert!(!is_browser_close(
            r#"{"id":7,"method":"Browser.close","sessionId":"AB"}"#
        ));
        assert!(!is_browser_close(
            r#"{"id":7,"method":"Runtime.evaluate","params":{"expression":"'Browser.close'"}}"#
        ));
        assert!(!is_browser_close("Browser.close"));
    }
}
