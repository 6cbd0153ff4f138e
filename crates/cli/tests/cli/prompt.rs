//! Passphrase prompts on a real terminal: `pvault` runs on the slave side of a pseudo-terminal
//! (its controlling tty, so rpassword's /dev/tty is ours) and the test types on the master side,
//! answering each prompt only once it has appeared.

use std::io::{Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::{Env, PASS};

/// A `pvault` process attached to a fresh pseudo-terminal.
struct Tty {
    /// The terminal side the test reads and types on.
    master: std::fs::File,
    /// Everything the process wrote to the terminal so far.
    seen: Arc<Mutex<Vec<u8>>>,
    /// The process.
    child: std::process::Child,
    /// The thread copying terminal output into `seen`; joined at exit so no output is lost.
    reader: std::thread::JoinHandle<()>,
}

impl Tty {
    /// Starts `pvault ARGS` with stdin, stdout and stderr on a new pty that is its
    /// controlling terminal.
    fn spawn(env: &Env, args: &[&str]) -> Tty {
        let (mut master_fd, mut slave_fd) = (-1, -1);
        // SAFETY: openpty writes two fds into the pointers we pass; name/termios/winsize null.
        let rc = unsafe {
            libc::openpty(
                &mut master_fd,
                &mut slave_fd,
                std::ptr::null_mut(),
                std::ptr::null(),
                std::ptr::null(),
            )
        };
        assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
        // SAFETY: both fds were just returned by openpty and are owned by nobody else.
        let (master, slave) = unsafe {
            (
                OwnedFd::from_raw_fd(master_fd),
                OwnedFd::from_raw_fd(slave_fd),
            )
        };
        let mut cmd = env.cmd(args);
        cmd.stdin(slave.try_clone().unwrap())
            .stdout(slave.try_clone().unwrap())
            .stderr(slave.try_clone().unwrap());
        // SAFETY: setsid and ioctl are async-signal-safe; they make the pty (already fd 0) the
        // controlling terminal of the new session.
        unsafe {
            cmd.pre_exec(|| {
                if libc::setsid() == -1 || libc::ioctl(0, libc::TIOCSCTTY, 0) == -1 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().unwrap();
        drop(slave);
        let master = std::fs::File::from(master);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let mut reader = master.try_clone().unwrap();
        let sink = seen.clone();
        let reader = std::thread::spawn(move || {
            let mut buf = [0u8; 1024];
            // Ends with EIO once the process exits and the slave side closes.
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        Tty {
            master,
            seen,
            child,
            reader,
        }
    }

    /// Waits until the terminal shows `text` (the `nth` occurrence, 1-based).
    fn expect(&self, text: &str, nth: usize) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let seen = String::from_utf8_lossy(&self.seen.lock().unwrap()).into_owned();
            if seen.matches(text).count() >= nth {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "no {text:?} on the terminal; saw {seen:?}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Types a line.
    fn type_line(&mut self, line: &str) {
        self.master
            .write_all(format!("{line}\n").as_bytes())
            .unwrap();
    }

    /// Waits for exit; returns the code and the whole terminal output.
    fn finish(mut self) -> (i32, String) {
        let deadline = Instant::now() + Duration::from_secs(60);
        let status = loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                break st;
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                panic!("pvault did not exit");
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        // The process is gone; give the reader a bounded moment to drain what it wrote before
        // its end (it stops at EIO, or never if a daemon it started still holds the terminal).
        let drained = Instant::now() + Duration::from_secs(2);
        while !self.reader.is_finished() && Instant::now() < drained {
            std::thread::sleep(Duration::from_millis(10));
        }
        let seen = String::from_utf8_lossy(&self.seen.lock().unwrap()).into_owned();
        (status.code().unwrap_or(-1), seen)
    }
}

#[test]
fn init_asks_twice_and_unlock_once_on_a_terminal() {
    let env = Env::new();
    let mut tty = Tty::spawn(&env, &["init"]);
    tty.expect("New passphrase: ", 1);
    tty.type_line(PASS);
    tty.expect("Repeat the new passphrase: ", 1);
    tty.type_line(PASS);
    let (code, seen) = tty.finish();
    assert_eq!(code, 0, "{seen}");
    assert!(seen.contains("created the vault"), "{seen}");
    assert!(!seen.contains(PASS), "the passphrase is not echoed: {seen}");
    assert!(
        seen.contains("creating the vault"),
        "a spinner on a terminal: {seen}"
    );

    env.json(&["lock"]);
    let mut tty = Tty::spawn(&env, &["--json", "unlock"]);
    tty.expect("Passphrase: ", 1);
    tty.type_line(PASS);
    let (code, seen) = tty.finish();
    assert_eq!(code, 0, "{seen}");
    assert!(
        !seen.contains("unlocking"),
        "no spinner with --json: {seen}"
    );
    assert!(seen.contains("\"vault_id\""), "{seen}");
    assert_eq!(env.json(&["status"])["locked"], false);
}

#[test]
fn mismatched_new_passphrases_change_nothing() {
    let env = Env::new();
    let mut tty = Tty::spawn(&env, &["init"]);
    tty.expect("New passphrase: ", 1);
    tty.type_line("one thing");
    tty.expect("Repeat the new passphrase: ", 1);
    tty.type_line("another thing");
    let (code, seen) = tty.finish();
    assert_eq!(code, 2, "{seen}");
    assert!(seen.contains("differ"), "{seen}");
    assert_eq!(env.json(&["status"])["vault_exists"], false);
}
