//! What the import tests share: a real Chromium on a fresh user-data-dir (the user's
//! browser), a private D-Bus session with gnome-keyring (a real Secret Service), cookie
//! databases written to order, and the import options.

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use pvault_import::{Browser, Options};
use pvault_model::Cookie;
use pvault_testkit::{Cdp, active_port, chrome, chromium_args, wait_for};
use serde_json::{Value, json};

/// Import options for `udd` with a private scratch directory.
pub fn options(udd: &Path, scratch: &Path) -> Options {
    Options {
        browser: Browser::Chromium,
        user_data_dir: Some(udd.to_path_buf()),
        browser_profile: None,
        domains: vec![],
        exclude_domains: vec![],
        skip_undecryptable: false,
        scratch_dir: scratch.to_path_buf(),
        dbus_address: None,
    }
}

/// A Chromium the way a user runs it: its own user-data-dir and password store; killed
/// when dropped if still running.
pub struct UserBrowser {
    /// The process.
    pub child: Child,
    /// The CDP connection.
    pub cdp: Cdp,
}

impl UserBrowser {
    /// Starts Chromium on `udd` with `--password-store=<store>` and the given environment.
    pub fn start(udd: &Path, store: &str, env: &[(&str, &str)]) -> UserBrowser {
        let mut cmd = Command::new(chrome());
        cmd.args(chromium_args(udd))
            .arg(format!("--password-store={store}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("launch chromium");
        let (port, path) = wait_for("DevToolsActivePort", Duration::from_secs(30), || {
            active_port(udd)
        });
        let cdp = Cdp::connect(&format!("ws://127.0.0.1:{port}{path}")).expect("cdp");
        UserBrowser { child, cdp }
    }

    /// Opens `url` and waits until the page has requested `/done` `n` times in all.
    pub fn log_in(&mut self, server: &pvault_testkit::TestServer, path: &str, n: usize) {
        self.cdp.open(&server.url(path));
        server.wait("/done", n);
    }

    /// Every cookie Chromium holds (`Storage.getCookies`), as the model reads CDP.
    pub fn cookies(&mut self) -> Vec<Cookie> {
        self.cdp
            .cookies()
            .into_iter()
            .map(|c| serde_json::from_value(c).expect("a CDP cookie"))
            .collect()
    }

    /// Closes Chromium cleanly (`Browser.close` flushes its files) and waits for it to exit.
    pub fn close(mut self) {
        let _ = self.cdp.call("Browser.close", json!({}));
        let child = &mut self.child;
        wait_for("chromium to exit", Duration::from_secs(30), || {
            child.try_wait().expect("try_wait").is_some()
        });
    }
}

impl Drop for UserBrowser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Cookies in a stable order, for comparing sets.
pub fn sorted(mut v: Vec<Cookie>) -> Vec<Cookie> {
    v.sort_by(|a, b| {
        (&a.domain, &a.path, &a.name, &a.partition_key).cmp(&(
            &b.domain,
            &b.path,
            &b.name,
            &b.partition_key,
        ))
    });
    v
}

/// A private D-Bus session bus with gnome-keyring's Secret Service on it, its login
/// keyring created and unlocked; both stopped when dropped.
pub struct Keyring {
    /// `dbus-daemon --session`.
    bus: Child,
    /// `gnome-keyring-daemon --foreground`.
    keyring: Child,
    /// The bus address.
    pub address: String,
    /// The keyring's private HOME / XDG dirs.
    _home: tempfile::TempDir,
    /// The environment Chromium and the tools run with.
    pub env: Vec<(String, String)>,
}

/// Why a real Secret Service cannot run here, if it cannot.
pub fn keyring_missing() -> Option<String> {
    for bin in ["dbus-daemon", "gnome-keyring-daemon"] {
        let found = std::env::var_os("PATH")
            .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(bin).is_file()));
        if !found {
            return Some(format!(
                "{bin} is not installed (apt-get install dbus-daemon gnome-keyring; .ci/run installs them)"
            ));
        }
    }
    None
}

impl Keyring {
    /// Starts the bus and the keyring.
    pub fn start() -> Keyring {
        let home = tempfile::tempdir().expect("tempdir");
        let h = home.path();
        for d in ["data", "config", "run"] {
            std::fs::create_dir_all(h.join(d)).unwrap();
        }
        std::os::unix::fs::PermissionsExt::set_mode(
            &mut std::fs::metadata(h.join("run")).unwrap().permissions(),
            0o700,
        );
        let mut bus = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--print-address=1"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("dbus-daemon");
        let mut line = String::new();
        BufReader::new(bus.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("bus address");
        let address = line.trim().to_owned();
        let env: Vec<(String, String)> = vec![
            ("DBUS_SESSION_BUS_ADDRESS".into(), address.clone()),
            ("HOME".into(), h.display().to_string()),
            ("XDG_DATA_HOME".into(), h.join("data").display().to_string()),
            (
                "XDG_CONFIG_HOME".into(),
                h.join("config").display().to_string(),
            ),
            (
                "XDG_RUNTIME_DIR".into(),
                h.join("run").display().to_string(),
            ),
        ];
        let mut keyring = Command::new("gnome-keyring-daemon")
            .args(["--foreground", "--unlock", "--components=secrets"])
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("gnome-keyring-daemon");
        // The login keyring's password, on stdin; closing it ends the input.
        let mut stdin = keyring.stdin.take().unwrap();
        stdin.write_all(b"keyring-password").unwrap();
        drop(stdin);
        let k = Keyring {
            bus,
            keyring,
            address,
            _home: home,
            env,
        };
        let probe = k.env.clone();
        wait_for(
            "the Secret Service on the private bus",
            Duration::from_secs(20),
            || {
                Command::new("dbus-send")
                    .args([
                        "--session",
                        "--print-reply",
                        "--dest=org.freedesktop.DBus",
                        "/org/freedesktop/DBus",
                        "org.freedesktop.DBus.NameHasOwner",
                        "string:org.freedesktop.secrets",
                    ])
                    .envs(probe.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                    .output()
                    .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("true"))
            },
        );
        k
    }

    /// The environment as `(&str, &str)` pairs.
    pub fn env_pairs(&self) -> Vec<(&str, &str)> {
        self.env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }
}

impl Drop for Keyring {
    fn drop(&mut self) {
        let _ = self.keyring.kill();
        let _ = self.keyring.wait();
        let _ = self.bus.kill();
        let _ = self.bus.wait();
    }
}

/// One cookie row of a database written to order.
#[derive(Debug, Clone)]
pub struct RowSpec {
    /// `host_key`.
    pub host: String,
    /// `name`.
    pub name: String,
    /// `encrypted_value` (prefix included), or empty for a value in the clear.
    pub encrypted: Vec<u8>,
    /// `value` (in the clear).
    pub value: String,
    /// `top_frame_site_key`.
    pub partition: String,
}

impl RowSpec {
    /// A row for `host`/`name` with an encrypted value.
    pub fn encrypted(host: &str, name: &str, encrypted: Vec<u8>) -> RowSpec {
        RowSpec {
            host: host.into(),
            name: name.into(),
            encrypted,
            value: String::new(),
            partition: String::new(),
        }
    }
}

/// Writes `<udd>/Default/Cookies` with Chromium 156's schema and `meta.version` = `version`,
/// plus an empty `Preferences` so the directory is a profile.
pub fn write_cookie_db(udd: &Path, version: i64, rows: &[RowSpec]) -> PathBuf {
    let dir = udd.join("Default");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("Preferences"), "{}").unwrap();
    let path = dir.join("Cookies");
    let _ = std::fs::remove_file(&path);
    let c = rusqlite::Connection::open(&path).unwrap();
    c.execute_batch(
        "CREATE TABLE meta(key LONGVARCHAR NOT NULL UNIQUE PRIMARY KEY, value LONGVARCHAR);
         CREATE TABLE cookies(creation_utc INTEGER NOT NULL, host_key TEXT NOT NULL,
           top_frame_site_key TEXT NOT NULL, name TEXT NOT NULL, value TEXT NOT NULL,
           encrypted_value BLOB NOT NULL, path TEXT NOT NULL, expires_utc INTEGER NOT NULL,
           is_secure INTEGER NOT NULL, is_httponly INTEGER NOT NULL,
           last_access_utc INTEGER NOT NULL, has_expires INTEGER NOT NULL,
           is_persistent INTEGER NOT NULL, priority INTEGER NOT NULL, samesite INTEGER NOT NULL,
           source_scheme INTEGER NOT NULL, source_port INTEGER NOT NULL,
           last_update_utc INTEGER NOT NULL, source_type INTEGER NOT NULL,
           has_cross_site_ancestor INTEGER NOT NULL);",
    )
    .unwrap();
    c.execute(
        "INSERT INTO meta VALUES ('version', ?1), ('last_compatible_version', ?1)",
        [version.to_string()],
    )
    .unwrap();
    // A year from now, in µs since 1601.
    let expires = 11_644_473_600_000_000i64
        + (std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_micros() as i64)
        + 365 * 86_400 * 1_000_000;
    for (i, r) in rows.iter().enumerate() {
        c.execute(
            "INSERT INTO cookies VALUES (?1, ?2, ?3, ?4, ?5, ?6, '/', ?7, 1, 0, ?1, 1, 1, 1, 0, 2, 443, ?1, 1, 0)",
            rusqlite::params![
                13_000_000_000_000_000i64 + i as i64,
                r.host,
                r.partition,
                r.name,
                r.value,
                r.encrypted,
                expires,
            ],
        )
        .unwrap();
    }
    path
}

/// What the import of `opts` stores nothing beyond: a convenience to assert errors.
pub fn import_err(opts: &Options) -> pvault_import::ImportError {
    match pvault_import::import(opts) {
        Ok(i) => panic!(
            "expected an error, got {} cookies and {} origins",
            i.state.cookies.len(),
            i.state.origins.len()
        ),
        Err(e) => e,
    }
}

/// The scratch directory is empty again (the copies were removed).
pub fn assert_scratch_empty(scratch: &Path) {
    let left: Vec<_> = std::fs::read_dir(scratch)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "copies left behind: {left:?}");
}

/// JSON of a model value, for messages.
pub fn show<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap()
}
