//! A real `pvaultd` on a temporary home and socket, and the `pvault` CLI pointed at it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use pvault_testkit::{chrome, wait_for};

use super::bin;

/// A running daemon that is killed (and its temp dirs removed) on drop.
pub struct Daemon {
    /// Holds `home/` (the vault) and `run/` (the 0700 runtime dir with the socket).
    pub root: tempfile::TempDir,
    /// Holds `run/` instead of `root` when [`DaemonOpts::runtime_on_tmpfs`] asked for it.
    pub run_root: Option<tempfile::TempDir>,
    /// The daemon process; `None` once stopped.
    pub child: Option<Child>,
    /// How this daemon is started differently from the default (failure-path tests).
    pub opts: DaemonOpts,
}

/// Unusual ways to start the daemon; the default is the plain daemon.
#[derive(Debug, Clone, Default)]
pub struct DaemonOpts {
    /// Variables set (after [`Daemon::env`]'s) for the daemon only, not for the CLI.
    pub env: Vec<(String, String)>,
    /// A command the daemon is started through, e.g. `["unshare", "-m", …]`; the daemon's
    /// path and arguments follow it.
    pub wrapper: Vec<String>,
    /// Puts the runtime dir (socket, session and check browser profiles) on tmpfs
    /// (`/dev/shm`), where a systemd machine has `$XDG_RUNTIME_DIR` (`/run/user/UID`), the
    /// daemon's default: the benchmarks measure that set-up. Tests keep it under `root`.
    pub runtime_on_tmpfs: bool,
    /// The daemon's `config.toml`, written into the home before it starts.
    pub config: Option<String>,
}

impl Daemon {
    /// Starts `pvaultd` with fast test KDF parameters and waits until it answers.
    pub fn start() -> Daemon {
        Daemon::start_with(DaemonOpts::default())
    }

    /// Starts `pvaultd` as [`Daemon::start`] does, with `opts`.
    pub fn start_with(opts: DaemonOpts) -> Daemon {
        let root = tempfile::tempdir().expect("tempdir");
        let shm = std::path::Path::new("/dev/shm");
        let run_root = (opts.runtime_on_tmpfs && shm.is_dir())
            .then(|| tempfile::tempdir_in(shm).expect("tempdir in /dev/shm"));
        let d = Daemon {
            root,
            run_root,
            child: None,
            opts,
        };
        std::fs::create_dir_all(d.home()).unwrap();
        // The vault refuses a home that group or others can read.
        std::fs::set_permissions(
            d.home(),
            std::os::unix::fs::PermissionsExt::from_mode(0o700),
        )
        .unwrap();
        if let Some(cfg) = &d.opts.config {
            std::fs::write(d.home().join("config.toml"), cfg).unwrap();
        }
        d.spawn()
    }

    /// (Re)spawns the daemon on the same home and socket.
    pub fn spawn(mut self) -> Daemon {
        let mut cmd = match self.opts.wrapper.split_first() {
            Some((w, rest)) => {
                let mut c = Command::new(w);
                c.args(rest).arg(bin("pvaultd"));
                c
            }
            None => Command::new(bin("pvaultd")),
        };
        let child = cmd
            .envs(self.env())
            .envs(self.opts.env.iter().cloned())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn pvaultd");
        self.child = Some(child);
        let sock = self.socket();
        wait_for(
            "pvaultd to answer on its socket",
            Duration::from_secs(20),
            || std::os::unix::net::UnixStream::connect(&sock).ok(),
        );
        self
    }

    /// The vault home (`PVAULT_HOME`).
    pub fn home(&self) -> PathBuf {
        self.root.path().join("home")
    }

    /// The socket path (`PVAULT_SOCKET`).
    pub fn socket(&self) -> PathBuf {
        let root = self.run_root.as_ref().unwrap_or(&self.root);
        root.path().join("run").join("pvaultd.sock")
    }

    /// Environment every process of this fixture gets.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("PVAULT_HOME".into(), self.home().display().to_string()),
            ("PVAULT_SOCKET".into(), self.socket().display().to_string()),
            ("PVAULT_TEST_FAST_KDF".into(), "1".into()),
            ("PVAULT_CHROME".into(), chrome().display().to_string()),
            ("PVAULT_NO_AUTOSTART".into(), "1".into()),
        ]
    }

    /// A `pvault` command with this daemon's environment.
    pub fn cli(&self) -> Command {
        let mut c = Command::new(bin("pvault"));
        c.envs(self.env()).stdin(Stdio::null());
        c
    }

    /// Runs `pvault ARGS` and returns its output.
    pub fn run(&self, args: &[&str]) -> Output {
        self.cli().args(args).output().expect("run pvault")
    }

    /// Runs `pvault --json ARGS`, asserts success, and parses stdout.
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let out = self
            .cli()
            .arg("--json")
            .args(args)
            .output()
            .expect("run pvault");
        assert!(
            out.status.success(),
            "pvault {args:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "pvault {args:?}: stdout is not JSON ({e}): {}",
                String::from_utf8_lossy(&out.stdout)
            )
        })
    }

    /// Creates the vault with a passphrase file and leaves it unlocked.
    pub fn init(&self) {
        let pass = self.root.path().join("passphrase");
        std::fs::write(&pass, "correct horse battery staple\n").unwrap();
        self.json(&["init", "--passphrase-file", pass.to_str().unwrap()]);
    }

    /// Path of a file in the fixture's temp root.
    pub fn path(&self, name: &str) -> PathBuf {
        self.root.path().join(name)
    }

    /// Sends SIGKILL and reaps the daemon.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Sends SIGTERM and waits for a clean exit; returns its status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let mut c = self.child.take().expect("daemon running");
        // SAFETY: plain kill(2) on our own child's pid.
        unsafe { libc_kill(c.id() as i32, 15) };
        c.wait().expect("wait pvaultd")
    }
}

unsafe extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, sig: i32) -> i32;
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if self.child.is_some() {
            // Ask politely first so it stops its browsers; then make sure.
            if let Some(c) = &self.child {
                unsafe { libc_kill(c.id() as i32, 15) };
            }
            let child = self.child.as_mut().unwrap();
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            while std::time::Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            self.kill();
        }
    }
}

/// Writes `contents` to `dir/name` and returns the path.
pub fn write_file(dir: &Path, name: &str, contents: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, contents).unwrap();
    p
}
