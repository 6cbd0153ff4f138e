//! systemd socket activation: pvaultd adopts a listening socket on fd 3 (LISTEN_FDS=1,
//! LISTEN_PID=its pid) and serves it; the peer-uid check refuses another user even when the
//! socket's own permissions would let them in.

use std::time::Duration;

use std::os::fd::AsRawFd;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::process::Command;

use serde_json::json;

use crate::harness::{Env, Raw};

#[test]
fn serves_a_socket_passed_on_fd_3_and_refuses_other_uids() {
    let env = Env::new();
    // systemd-like: a world-accessible directory and socket, to exercise the peer check.
    let dir = env.dir.path().join("sd");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(env.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = dir.join("pvaultd.sock");
    let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
    let fd = listener.as_raw_fd();

    let mut cmd: Command = env.command();
    // PVAULT_SOCKET points elsewhere: the daemon must not bind it when activated.
    cmd.env("LISTEN_FDS", "1");
    // LISTEN_PID must be the daemon's own pid: a tiny wrapper sets it and execs in place
    // (same pid). Not `sh`: dash does not pass fd 3 on.
    let mut sh = Command::new("/usr/bin/python3");
    sh.arg("-c")
        .arg("import os,sys; os.environ['LISTEN_PID']=str(os.getpid()); os.execv(sys.argv[1], sys.argv[1:])")
        .arg(env!("CARGO_BIN_EXE_pvaultd"))
        .envs(cmd.get_envs().filter_map(|(k, v)| v.map(|v| (k.to_owned(), v.to_owned()))))
        .stdin(std::process::Stdio::null())
        .stderr(env.log_file());
    // SAFETY: only dup2/fcntl (async-signal-safe) run between fork and exec.
    unsafe {
        sh.pre_exec(move || {
            // dup2 onto itself would keep FD_CLOEXEC: clear it explicitly in that case.
            let r = if fd == 3 {
                libc::fcntl(3, libc::F_SETFD, 0)
            } else {
                libc::dup2(fd, 3)
            };
            if r < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = sh.spawn().unwrap();
    drop(listener);
    let _guard = crate::harness::Daemon {
        child: Some(child),
        socket: path.clone(),
    };

    let log = || env.log();
    crate::harness::wait_for_with(
        "the activated daemon to answer",
        Duration::from_secs(20),
        log,
        || {
            Raw::try_connect(&path).is_some_and(|mut r| {
                r.call("hello", json!({"protocol": 1}))
                    .get("result")
                    .is_some()
            })
        },
    );
    let mut c = Raw::connect(&path);
    c.hello();
    let st = c.status();
    assert!(st["locked"].as_bool().unwrap());
    assert!(
        !env.socket.exists(),
        "an activated daemon binds nothing itself"
    );

    // nobody can reach this socket, and is refused by the peer-uid check. The daemon answers
    // a refused peer at once and closes, so the hello may meet a closed socket (EPIPE); the
    // answer is still there to read.
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", "-c"])
        .arg("import socket,sys\ns=socket.socket(socket.AF_UNIX)\ns.connect(sys.argv[1])\ntry:\n    s.sendall(b'{\"id\":1,\"method\":\"hello\",\"params\":{\"protocol\":1}}\\n')\nexcept BrokenPipeError:\n    pass\nprint(s.makefile().readline())")
        .arg(&path)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("auth_failed") && !text.contains("\"result\""),
        "nobody got: {text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The owner is still served.
    assert_eq!(c.status()["pid"], st["pid"]);
}

#[test]
fn reports_ready_to_the_notify_socket() {
    let env = Env::new();
    let notify_path = env.dir.path().join("notify.sock");
    let notify = std::os::unix::net::UnixDatagram::bind(&notify_path).unwrap();
    notify
        .set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    let child = env
        .command()
        .env("NOTIFY_SOCKET", &notify_path)
        .spawn()
        .unwrap();
    let _guard = crate::harness::Daemon {
        child: Some(child),
        socket: env.socket.clone(),
    };
    let mut buf = [0u8; 256];
    let n = notify.recv(&mut buf).expect("READY=1 within 20 s");
    assert_eq!(&buf[..n], b"READY=1\n");
    // READY is sent only once the socket accepts connections.
    let mut c = Raw::connect(&env.socket);
    c.hello();
}
