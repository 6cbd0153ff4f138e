//! The least a process in the middle of a CDP connection can do: one websocket accepted, one
//! opened to the browser, and a blocking thread per direction that passes each text frame on
//! as it is (no parsing, no routing, no async runtime). The sessions bench puts it beside the
//! daemon's relay and multiplexer, so that the cost of any extra hop on this machine (two
//! process wake-ups and two loopback socket trips per round trip) is measured in the same run
//! as what the daemon adds on top of it.

use std::net::TcpListener;

use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket, protocol::Role};

/// Starts a relay to `upstream` (a browser websocket URL) for one client and returns the URL
/// to connect to. Its threads end when either side closes.
pub fn spawn(upstream: &str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind the bare relay");
    let addr = listener.local_addr().expect("the bare relay's address");
    let upstream = upstream.to_owned();
    std::thread::spawn(move || {
        let (client, _) = listener.accept().expect("accept the bench's client");
        client.set_nodelay(true).expect("TCP_NODELAY");
        let client_out = client.try_clone().expect("clone the client socket");
        let mut from_client = tungstenite::accept(client).expect("websocket handshake");
        let (mut to_browser, _) = tungstenite::connect(&upstream).expect("connect the browser");
        let MaybeTlsStream::Plain(browser) = to_browser.get_ref() else {
            panic!("the browser's websocket is plain TCP")
        };
        browser.set_nodelay(true).expect("TCP_NODELAY");
        let browser_in = browser.try_clone().expect("clone the browser socket");
        // Each direction reads and writes its own socket clone through a websocket of its own:
        // the handshake is done, so a websocket over the raw stream reads and writes frames.
        let mut from_browser = WebSocket::from_raw_socket(browser_in, Role::Client, None);
        let mut to_client = WebSocket::from_raw_socket(client_out, Role::Server, None);
        std::thread::spawn(move || {
            while let Ok(m) = from_browser.read() {
                if matches!(m, Message::Text(_)) && to_client.send(m).is_err() {
                    return;
                }
            }
        });
        while let Ok(m) = from_client.read() {
            if matches!(m, Message::Text(_)) && to_browser.send(m).is_err() {
                return;
            }
        }
    });
    format!("ws://{addr}/")
}
