//! What the import tests share: a real Chromium on a fresh user-data-dir (the user's
//! browser), a private D-Bus session with gnome-keyring (a real Secret Service), and the
//! import options. Cookie databases written to order come from the test kit
//! (`pvault_testkit::write_cookie_db`), which the daemon's tests share.

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::Path;
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
        let (port, path) = wait_for("DevToolsActivePort", Duration::from_secs(90), || {
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

/// A private D-Bus session bus with its own HOME and XDG directories, so nothing of the
/// machine's own session is asked and no service is started on demand; stopped when dropped.
pub struct SessionBus {
    /// `dbus-daemon` with a private configuration.
    bus: Child,
    /// The bus address.
    pub address: String,
    /// The private HOME / XDG dirs.
    _home: tempfile::TempDir,
    /// The environment Chromium and the tools run with.
    pub env: Vec<(String, String)>,
}

impl SessionBus {
    /// Starts the bus.
    pub fn start() -> SessionBus {
        let home = tempfile::tempdir().expect("tempdir");
        let h = home.path();
        for d in ["data", "config", "run"] {
            std::fs::create_dir_all(h.join(d)).unwrap();
        }
        std::fs::set_permissions(
            h.join("run"),
            std::os::unix::fs::PermissionsExt::from_mode(0o700),
        )
        .unwrap();
        // The machine's session configuration would start services on demand (a bus asked
        // for org.freedesktop.secrets starts gnome-keyring): this one starts nothing, so
        // each test has exactly the services it runs itself.
        let config = h.join("bus.conf");
        std::fs::write(
            &config,
            format!(
                r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:dir={}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"#,
                h.join("run").display()
            ),
        )
        .unwrap();
        let mut bus = Command::new("dbus-daemon")
            .arg(format!("--config-file={}", config.display()))
            .args(["--nofork", "--print-address=1"])
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
        SessionBus {
            bus,
            address,
            _home: home,
            env,
        }
    }

    /// The environment as `(&str, &str)` pairs.
    pub fn env_pairs(&self) -> Vec<(&str, &str)> {
        self.env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    /// Whether `name` has an owner on this bus.
    pub fn has_owner(&self, name: &str) -> bool {
        Command::new("dbus-send")
            .args([
                "--session",
                "--print-reply",
                "--dest=org.freedesktop.DBus",
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus.NameHasOwner",
                &format!("string:{name}"),
            ])
            .envs(self.env_pairs())
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("true"))
    }
}

impl Drop for SessionBus {
    fn drop(&mut self) {
        let _ = self.bus.kill();
        let _ = self.bus.wait();
    }
}

/// A private D-Bus session bus with gnome-keyring's Secret Service on it, its login
/// keyring created and unlocked; both stopped when dropped.
pub struct Keyring {
    /// `gnome-keyring-daemon --foreground` (declared first: stopped before its bus).
    keyring: Child,
    /// The bus it serves on.
    pub bus: SessionBus,
}

/// Why a real Secret Service cannot run here, if it cannot.
pub fn keyring_missing() -> Option<String> {
    for bin in ["dbus-daemon", "dbus-send", "gnome-keyring-daemon"] {
        let found = std::env::var_os("PATH")
            .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(bin).is_file()));
        if !found {
            return Some(format!(
                "{bin} is not installed (apt-get install dbus-daemon dbus-bin gnome-keyring; .ci/run installs them)"
            ));
        }
    }
    None
}

impl Keyring {
    /// Starts the bus and the keyring.
    pub fn start() -> Keyring {
        let bus = SessionBus::start();
        let mut keyring = Command::new("gnome-keyring-daemon")
            .args(["--foreground", "--unlock", "--components=secrets"])
            .envs(bus.env_pairs())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("gnome-keyring-daemon");
        // The login keyring's password, on stdin; closing it ends the input.
        let mut stdin = keyring.stdin.take().unwrap();
        stdin.write_all(b"keyring-password").unwrap();
        drop(stdin);
        let k = Keyring { keyring, bus };
        wait_for(
            "the Secret Service on the private bus",
            Duration::from_secs(20),
            || k.bus.has_owner("org.freedesktop.secrets"),
        );
        k
    }

    /// The bus address.
    pub fn address(&self) -> String {
        self.bus.address.clone()
    }

    /// The environment as `(&str, &str)` pairs.
    pub fn env_pairs(&self) -> Vec<(&str, &str)> {
        self.bus.env_pairs()
    }

    /// Locks the login keyring, as a screen lock or a timeout would.
    pub fn lock(&self) {
        let locked = Command::new("dbus-send")
            .args([
                "--session",
                "--print-reply",
                "--dest=org.freedesktop.secrets",
                "/org/freedesktop/secrets",
                "org.freedesktop.Secret.Service.Lock",
                "array:objpath:/org/freedesktop/secrets/collection/login",
            ])
            .envs(self.env_pairs())
            .output()
            .unwrap();
        assert!(locked.status.success(), "{locked:?}");
    }

    /// Asks gnome-keyring's secret portal backend (`org.freedesktop.impl.portal.Secret`)
    /// for the secret of `app_id`, exactly as xdg-desktop-portal does on behalf of an app
    /// that calls `org.freedesktop.portal.Secret.RetrieveSecret`: with the write end of a
    /// pipe, which the keyring fills with the app's secret (creating it on first use).
    pub fn portal_secret(&self, app_id: &str) -> Vec<u8> {
        use std::io::Read as _;
        use std::os::fd::AsFd as _;
        let conn = zbus::blocking::connection::Builder::address(self.bus.address.as_str())
            .unwrap()
            .build()
            .unwrap();
        let portal = zbus::blocking::Proxy::new(
            &conn,
            "org.freedesktop.secrets",
            "/org/freedesktop/portal/desktop",
            "org.freedesktop.impl.portal.Secret",
        )
        .unwrap();
        let (mut read, write) = std::io::pipe().unwrap();
        let write: std::os::fd::OwnedFd = write.into();
        let handle =
            zbus::zvariant::ObjectPath::try_from("/org/freedesktop/portal/desktop/request/1_1/t")
                .unwrap();
        let options: std::collections::HashMap<&str, zbus::zvariant::Value> =
            std::collections::HashMap::new();
        let (response, _): (
            u32,
            std::collections::HashMap<String, zbus::zvariant::OwnedValue>,
        ) = portal
            .call(
                "RetrieveSecret",
                &(
                    handle,
                    app_id,
                    zbus::zvariant::Fd::from(write.as_fd()),
                    options,
                ),
            )
            .expect("RetrieveSecret");
        assert_eq!(response, 0, "the portal backend refused");
        drop(write);
        let mut secret = Vec::new();
        read.read_to_end(&mut secret).unwrap();
        assert!(!secret.is_empty(), "the portal backend wrote no secret");
        secret
    }
}

impl Drop for Keyring {
    fn drop(&mut self) {
        let _ = self.keyring.kill();
        let _ = self.keyring.wait();
    }
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
