//! A private Xvfb per test (a free display chosen by Xvfb itself, killed on drop), and closing
//! a window the way a window manager's close button does: a `WM_DELETE_WINDOW` client message.
//! (`XDestroyWindow`, as `xdotool windowclose` does, leaves Chromium running; `xkill` makes it
//! exit like a crash: neither is what a person closing the window does.)

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use x11rb::connection::Connection;
use x11rb::protocol::xproto::{
    AtomEnum, ClientMessageEvent, ConnectionExt as _, EventMask, MapState, Window,
};
use x11rb::rust_connection::RustConnection;
use x11rb::wrapper::ConnectionExt as _;

use pvault_testkit::wait_for;

/// A running Xvfb, killed on drop.
pub struct Xvfb {
    /// The server process.
    child: Child,
    /// `:NN`, the value for `DISPLAY`.
    pub display: String,
}

impl Xvfb {
    /// Starts `Xvfb -displayfd 1` and waits (bounded) for the display number it prints once it
    /// accepts connections. Panics saying to install xvfb when it is missing: a headful test
    /// must never pass by skipping.
    pub fn start() -> Xvfb {
        let mut child = Command::new("Xvfb")
            .args([
                "-displayfd",
                "1",
                "-screen",
                "0",
                "1280x800x24",
                "-nolisten",
                "tcp",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start Xvfb ({e}): the headful tests need it; install xvfb \
                     (`apt-get install xvfb`; .ci/run does)"
                )
            });
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        // Read on a thread so the wait below is bounded even if Xvfb never prints.
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(l) => l,
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("Xvfb printed no display number within 20 s ({e})");
            }
        };
        let n: u32 = match line.trim().parse() {
            Ok(n) => n,
            Err(_) => {
                let _ = child.kill();
                let status = child.wait();
                panic!("Xvfb did not start (printed {line:?}, exit {status:?})");
            }
        };
        Xvfb {
            child,
            display: format!(":{n}"),
        }
    }

    /// The viewable top-level windows whose `_NET_WM_PID` is `pid`.
    pub fn windows_of(&self, pid: u32) -> Vec<Window> {
        let (conn, screen) = self.connect();
        let root = conn.setup().roots[screen].root;
        let net_pid = atom(&conn, "_NET_WM_PID");
        let children = conn
            .query_tree(root)
            .expect("query_tree")
            .reply()
            .expect("query_tree reply")
            .children;
        children
            .into_iter()
            .filter(|&w| {
                let Ok(Ok(p)) = conn
                    .get_property(false, w, net_pid, AtomEnum::CARDINAL, 0, 1)
                    .map(|c| c.reply())
                else {
                    return false;
                };
                if p.value32().and_then(|mut i| i.next()) != Some(pid) {
                    return false;
                }
                conn.get_window_attributes(w)
                    .ok()
                    .and_then(|c| c.reply().ok())
                    .is_some_and(|a| a.map_state == MapState::VIEWABLE)
            })
            .collect()
    }

    /// Waits (bounded) for `pid` to show a window, then asks every viewable top-level window
    /// of `pid` to close with `WM_DELETE_WINDOW`, as a window manager's close button does.
    /// Returns how many windows were asked.
    pub fn close_windows_of(&self, pid: u32) -> usize {
        let windows = wait_for(
            "the browser's window to be mapped on Xvfb",
            Duration::from_secs(30),
            || Some(self.windows_of(pid)).filter(|w| !w.is_empty()),
        );
        let (conn, _) = self.connect();
        let wm_protocols = atom(&conn, "WM_PROTOCOLS");
        let wm_delete = atom(&conn, "WM_DELETE_WINDOW");
        for &w in &windows {
            let ev = ClientMessageEvent::new(
                32,
                w,
                wm_protocols,
                [wm_delete, x11rb::CURRENT_TIME, 0, 0, 0],
            );
            conn.send_event(false, w, EventMask::NO_EVENT, ev)
                .expect("send WM_DELETE_WINDOW");
        }
        conn.sync().expect("X sync");
        windows.len()
    }

    /// A new connection to this display.
    fn connect(&self) -> (RustConnection, usize) {
        x11rb::connect(Some(&self.display))
            .unwrap_or_else(|e| panic!("connect to Xvfb {}: {e}", self.display))
    }
}

/// The atom named `name`.
fn atom(conn: &RustConnection, name: &str) -> u32 {
    conn.intern_atom(false, name.as_bytes())
        .expect("intern_atom")
        .reply()
        .expect("intern_atom reply")
        .atom
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
