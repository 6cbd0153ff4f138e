//! Who may connect and where the socket lives: 0600 socket in a 0700 directory, refusal of
//! unsafe pre-existing directories, another user refused, stale-socket reclaim, and one
//! daemon per socket.

use std::time::Duration;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::process::Command;

use serde_json::json;

use crate::harness::{Env, Raw, wait_for};

fn mode(p: &std::path::Path) -> u32 {
    std::fs::symlink_metadata(p).unwrap().mode() & 0o7777
}

#[test]
fn socket_is_0600_and_directories_0700() {
    let env = Env::new();
    let _d = env.start();
    assert_eq!(mode(&env.socket), 0o600);
    assert_eq!(mode(env.socket.parent().unwrap()), 0o700);
    assert_eq!(mode(&env.home), 0o700);
}

fn refused_to_start(env: &Env) -> String {
    let out = env
        .command()
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap();
    assert!(!out.status.success(), "pvaultd should refuse to start");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn refuses_a_directory_open_to_others() {
    let env = Env::new();
    let dir = env.socket.parent().unwrap();
    std::fs::create_dir_all(dir).unwrap();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let err = refused_to_start(&env);
    assert!(
        err.contains("refusing runtime directory") && err.contains("0755"),
        "{err}"
    );
    assert!(!env.socket.exists());
}

#[test]
fn refuses_a_directory_owned_by_another_user() {
    let env = Env::new();
    let dir = env.socket.parent().unwrap();
    std::fs::create_dir_all(dir).unwrap();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::os::unix::fs::chown(dir, Some(65534), Some(65534)).unwrap();
    let err = refused_to_start(&env);
    assert!(err.contains("owned by uid 65534"), "{err}");
}

#[test]
fn refuses_a_symlinked_directory() {
    let env = Env::new();
    let real = env.dir.path().join("elsewhere");
    std::fs::create_dir_all(&real).unwrap();
    std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::fs::create_dir_all(env.socket.parent().unwrap().parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(&real, env.socket.parent().unwrap()).unwrap();
    let err = refused_to_start(&env);
    assert!(err.contains("symbolic link"), "{err}");
}

#[test]
fn another_user_cannot_connect() {
    let env = Env::new();
    let d = env.start();
    // `nobody` cannot even reach the socket: the directory is 0700 and the socket 0600.
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", "-c"])
        .arg("import socket,sys\ns=socket.socket(socket.AF_UNIX)\ntry:\n s.connect(sys.argv[1]); print('connected')\nexcept OSError as e: print('refused', e.errno)")
        .arg(&env.socket)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("refused 13"),
        "nobody's connect: {text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The daemon still serves its owner.
    assert_eq!(d.session().status()["pid"], json!(d.pid()));
}

#[test]
fn stale_socket_is_reclaimed() {
    let env = Env::new();
    let dir = env.socket.parent().unwrap();
    std::fs::create_dir_all(dir).unwrap();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    // A socket file nobody listens on, as a crashed daemon leaves behind.
    drop(std::os::unix::net::UnixListener::bind(&env.socket).unwrap());
    assert!(env.socket.exists());
    assert!(Raw::try_connect(&env.socket).is_none());
    let d = env.start();
    assert_eq!(d.session().status()["pid"], json!(d.pid()));
}

#[test]
fn second_daemon_on_the_same_socket_is_refused() {
    let env = Env::new();
    let d = env.start();
    let err = refused_to_start(&env);
    assert!(err.contains("already running"), "{err}");
    // The first daemon's socket is intact and it still answers.
    assert!(env.socket.exists());
    assert_eq!(d.session().status()["pid"], json!(d.pid()));
}

#[test]
fn a_regular_file_at_the_socket_path_is_not_deleted() {
    let env = Env::new();
    let dir = env.socket.parent().unwrap();
    std::fs::create_dir_all(dir).unwrap();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::fs::write(&env.socket, b"precious").unwrap();
    let err = refused_to_start(&env);
    assert!(err.contains("not a socket"), "{err}");
    assert_eq!(std::fs::read(&env.socket).unwrap(), b"precious");
    wait_for("nothing", Duration::from_secs(1), || true);
}
