//! The documented fallback for Chrome's own debugging port (README, Security): with
//! no pipe transport in chromiumoxide 0.9, Chrome keeps a `--remote-debugging-port=0` listener.
//! What must hold, checked from the kernel's socket tables rather than from Chrome's word:
//! every TCP socket any of the session's Chrome processes listens on is bound to 127.0.0.1
//! (never a wildcard or external address, IPv4 or IPv6), the port is the one Chrome chose at
//! random (not a fixed one), it is never handed out, and it closes when the session ends.

use std::time::Duration;

use std::collections::HashSet;
use std::net::TcpStream;

use serde_json::json;

use crate::harness::{Env, wait_for};
use crate::sessions::support::{ready, sessions_dir};

/// Socket inodes held open by every process whose command line names `dir`.
fn socket_inodes_of_processes_using(dir: &std::path::Path) -> HashSet<u64> {
    let needle = dir.to_string_lossy().into_owned();
    let mut out = HashSet::new();
    for pid in std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
    {
        let uses = std::fs::read(format!("/proc/{pid}/cmdline"))
            .map(|b| String::from_utf8_lossy(&b).contains(&needle))
            .unwrap_or(false);
        if !uses {
            continue;
        }
        let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            if let Ok(target) = std::fs::read_link(fd.path()) {
                let t = target.to_string_lossy();
                if let Some(n) = t.strip_prefix("socket:[").and_then(|r| r.strip_suffix(']')) {
                    out.insert(n.parse().unwrap());
                }
            }
        }
    }
    out
}

/// `(local address as in /proc/net/tcp*, port)` of every listening socket whose inode is in
/// `inodes`.
fn listening(inodes: &HashSet<u64>) -> Vec<(String, u16)> {
    let mut out = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let text = std::fs::read_to_string(table).unwrap_or_default();
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            // sl local rem st tx:rx tr:when retrnsmt uid timeout inode
            if f.len() < 10 || f[3] != "0A" {
                continue;
            }
            if !f[9].parse::<u64>().is_ok_and(|i| inodes.contains(&i)) {
                continue;
            }
            let (addr, port) = f[1].split_once(':').unwrap();
            out.push((addr.to_owned(), u16::from_str_radix(port, 16).unwrap()));
        }
    }
    out
}

#[test]
fn chromes_own_port_listens_on_loopback_only_and_closes_with_the_session() {
    let env = Env::new();
    let (_d, mut c) = ready(&env);
    let s = c.ok("session.start", json!({}))["session"].clone();
    let id = s["session_id"].as_str().unwrap().to_owned();
    let dir = sessions_dir(&env).join(&id);
    let active = std::fs::read_to_string(dir.join("chrome/DevToolsActivePort")).unwrap();
    let port: u16 = active.lines().next().unwrap().trim().parse().unwrap();
    assert!(
        port >= 1024 && port != 9222,
        "a random ephemeral port, not a well-known one: {port}"
    );
    assert!(
        !s["cdp_ws_url"]
            .as_str()
            .unwrap()
            .contains(&format!(":{port}/")),
        "Chrome's port is never handed out"
    );

    let sockets = listening(&socket_inodes_of_processes_using(&dir));
    assert!(
        sockets.iter().any(|(_, p)| *p == port),
        "Chrome's debugging listener is found in the socket tables: {sockets:?}"
    );
    for (addr, p) in &sockets {
        // 127.0.0.1 in /proc/net/tcp's little-endian hex.
        assert_eq!(
            addr, "0100007F",
            "Chrome listens on port {p} at {addr}, not on 127.0.0.1 only"
        );
    }

    c.ok("session.stop", json!({"session_id": id}));
    wait_for(
        "Chrome's port to close with the session",
        Duration::from_secs(20),
        || TcpStream::connect(("127.0.0.1", port)).is_err(),
    );
}
