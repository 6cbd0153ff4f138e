//! The daemon's shared state: options, configuration, the vault handle, the auto-lock timer,
//! the event bus and the shutdown signal. One [`Daemon`] per process, shared by `Arc`.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use pvault_protocol::{ErrorBody, ErrorCode, Event, LockReason};
use pvault_vault::Vault;
use tokio::sync::{Notify, broadcast};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::config::{CONFIG_FILE, Config, ConfigState};
use crate::sessions::Registry;
use crate::sync::{MutexExt as _, RwLockExt as _};

/// How the daemon runs. [`Options::new`] gives production defaults.
#[derive(Debug, Clone)]
pub struct Options {
    /// `$PVAULT_HOME`: the vault and `config.toml`.
    pub home: PathBuf,
    /// The socket path, for `status` (`None` when socket-activated from an unknown path).
    pub socket: Option<PathBuf>,
    /// A connection must send `hello` within this time.
    pub handshake_timeout: Duration,
    /// A connection with no request for this long, nothing in flight and no subscription, is
    /// closed.
    pub idle_timeout: Duration,
    /// Connections served at once; more are answered `busy` and closed.
    pub max_connections: usize,
    /// Requests in flight per connection; the connection is not read further until one ends.
    pub max_in_flight: usize,
    /// Create vaults with cheap KDF parameters (tests only: `PVAULT_TEST_FAST_KDF=1`).
    pub fast_kdf: bool,
    /// Watch `config.toml` and reload it on change.
    pub watch_config: bool,
}

impl Options {
    /// Production defaults for a home directory.
    pub fn new(home: PathBuf) -> Options {
        Options {
            home,
            socket: None,
            handshake_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(600),
            max_connections: 256,
            max_in_flight: 64,
            fast_kdf: false,
            watch_config: true,
        }
    }
}

/// The shared state of a running daemon.
#[derive(Debug)]
pub struct Daemon {
    /// How the daemon runs.
    pub(crate) opts: Options,
    /// Start time, for `uptime_secs`.
    pub(crate) started: Instant,
    /// Our effective uid: the only peer uid served.
    pub(crate) euid: u32,
    /// The configuration in force and the last reload's outcome.
    config: RwLock<ConfigState>,
    /// `None` until a vault exists (or if opening it failed).
    vault: RwLock<Option<Arc<Vault>>>,
    /// Serializes init/unlock/lock/passwd so they never interleave.
    pub(crate) lifecycle: tokio::sync::Mutex<()>,
    /// Last vault activity; the auto-lock deadline counts from here.
    last_activity: Mutex<Instant>,
    /// Wakes the auto-lock task: activity, unlock, config change.
    timer_kick: Notify,
    /// Events for subscribed connections.
    pub(crate) events: broadcast::Sender<Event>,
    /// Open connections (for the cap and `status`).
    pub(crate) connections: AtomicU64,
    /// Cancelled when the daemon stops (signal or `daemon.shutdown`).
    pub(crate) shutdown: CancellationToken,
    /// Browser sessions.
    pub sessions: Registry,
    /// Remote stores: local state, connections, leases.
    pub(crate) remotes: crate::remote::Remotes,
    /// Held by a health check while it runs (one check browser at a time); holds the check
    /// browser kept running between checks. Shutdown takes it to wait for a check in flight.
    pub(crate) check_lock: Arc<tokio::sync::Mutex<crate::sessions::check::CheckSlot>>,
    /// Wakes the kept check browser's idle timer to end it now (the vault locked).
    pub(crate) check_browser_end: tokio::sync::Notify,
    /// The clean-ups of killed check browsers (waiting for the process to exit, removing
    /// its directory), which go on after the answer and the check lock: shutdown waits for
    /// them.
    pub(crate) check_cleanups: tokio_util::task::TaskTracker,
    /// What the health check schedule did, for `status`.
    pub(crate) health_schedule: crate::health_schedule::ScheduleCounters,
}

impl Daemon {
    /// Builds the state: creates `home` (0700) if missing, loads the config (an invalid file
    /// is an error at start: there is no previous config to keep), opens the vault locked if
    /// one exists.
    pub fn new(opts: Options) -> Result<Arc<Daemon>, crate::StartError> {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&opts.home)
            .map_err(|source| crate::StartError::Home {
                path: opts.home.clone(),
                source,
            })?;
        let config = Config::load(&opts.home.join(CONFIG_FILE))?;
        let vault = if opts.home.join(Vault::FILE_NAME).exists() {
            Some(Arc::new(Vault::open(&opts.home).map_err(|e| {
                crate::StartError::Vault {
                    path: opts.home.clone(),
                    message: e.to_string(),
                }
            })?))
        } else {
            None
        };
        Ok(Arc::new(Daemon {
            opts,
            started: Instant::now(),
            euid: pvault_protocol::paths::euid(),
            config: RwLock::new(ConfigState {
                config: Arc::new(config),
                reloads: 0,
                error: None,
            }),
            vault: RwLock::new(vault),
            lifecycle: tokio::sync::Mutex::new(()),
            last_activity: Mutex::new(Instant::now()),
            timer_kick: Notify::new(),
            events: broadcast::channel(1024).0,
            connections: AtomicU64::new(0),
            shutdown: CancellationToken::new(),
            sessions: Registry::default(),
            remotes: Default::default(),
            check_lock: Arc::default(),
            check_browser_end: tokio::sync::Notify::new(),
            check_cleanups: tokio_util::task::TaskTracker::new(),
            health_schedule: Default::default(),
        }))
    }

    /// The options.
    pub fn options(&self) -> &Options {
        &self.opts
    }

    /// The configuration in force.
    pub fn config(&self) -> Arc<Config> {
        self.config.read_locked().config.clone()
    }

    /// The configuration with its reload status.
    pub fn config_state(&self) -> ConfigState {
        self.config.read_locked().clone()
    }

    /// Asks the daemon to shut down (as `daemon.shutdown` does).
    pub fn request_shutdown(&self) {
        self.shutdown.cancel();
    }

    /// Rereads `config.toml`: applies a valid file, keeps the previous config otherwise.
    pub fn reload_config(&self) {
        let path = self.opts.home.join(CONFIG_FILE);
        let result = Config::load(&path);
        let mut st = self.config.write_locked();
        match result {
            Ok(cfg) => {
                if *st.config != cfg {
                    tracing::info!(
                        auto_lock_secs = cfg.auto_lock_secs,
                        retention = cfg.retention,
                        "configuration reloaded"
                    );
                }
                st.config = Arc::new(cfg);
                st.reloads += 1;
                st.error = None;
            }
            Err(e) => {
                tracing::warn!(error = %e, "configuration change rejected; keeping the previous configuration");
                st.error = Some(e.to_string());
            }
        }
        drop(st);
        self.timer_kick.notify_one();
    }

    /// The vault handle, if a vault exists.
    pub(crate) fn vault_handle(&self) -> Option<Arc<Vault>> {
        self.vault.read_locked().clone()
    }

    pub(crate) fn set_vault(&self, v: Arc<Vault>) {
        *self.vault.write_locked() = Some(v);
    }

    /// The vault if it exists and is unlocked, else `not_found` / `locked`.
    pub(crate) fn unlocked_vault(&self) -> Result<Arc<Vault>, ErrorBody> {
        let v = self.existing_vault()?;
        if !v.is_unlocked() {
            return Err(ErrorBody::new(ErrorCode::Locked, "the vault is locked")
                .with_hint(crate::handlers::UNLOCK_HINT));
        }
        Ok(v)
    }

    /// The vault if it exists, else `not_found`.
    pub(crate) fn existing_vault(&self) -> Result<Arc<Vault>, ErrorBody> {
        self.vault_handle().ok_or_else(|| {
            ErrorBody::new(
                ErrorCode::NotFound,
                format!("no vault in {}", self.opts.home.display()),
            )
            .with_hint("run `pvault init` first")
        })
    }

    /// Whether the vault exists and is unlocked.
    pub fn is_unlocked(&self) -> bool {
        self.vault_handle().is_some_and(|v| v.is_unlocked())
    }

    /// Records use of the vault: restarts the auto-lock countdown.
    pub(crate) fn touch(&self) {
        *self.last_activity.locked() = Instant::now();
    }

    /// Seconds until auto-lock, when unlocked and auto-lock is on.
    pub(crate) fn auto_lock_remaining(&self) -> Option<u64> {
        let secs = self.config().auto_lock_secs;
        if secs == 0 || !self.is_unlocked() {
            return None;
        }
        let deadline = *self.last_activity.locked() + Duration::from_secs(secs);
        Some(deadline.saturating_duration_since(Instant::now()).as_secs())
    }

    /// Locks the vault (keys zeroized) and tells subscribers.
    pub(crate) fn lock_vault(&self, reason: LockReason) {
        if let Some(v) = self.vault_handle() {
            let was = v.is_unlocked();
            v.lock();
            self.remotes.forget();
            // No browser of the daemon's runs on while locked (a kept check browser holds no
            // state, but nothing is left to chance).
            self.check_browser_end.notify_waiters();
            if was {
                tracing::info!(?reason, "vault locked");
                let _ = self.events.send(Event::VaultLocked { reason });
            }
        }
    }

    /// Called after a successful unlock or init.
    pub(crate) fn unlocked(&self, vault_id: String) {
        self.touch();
        self.timer_kick.notify_one();
        let _ = self.events.send(Event::VaultUnlocked { vault_id });
    }

    pub(crate) fn connection_count(&self) -> u64 {
        self.connections.load(Ordering::Relaxed)
    }

    /// Runs until shutdown: locks the vault once it has been idle for `auto_lock_secs`.
    /// Uses tokio's clock, so tests drive it with paused time instead of sleeping.
    pub(crate) async fn auto_lock_task(self: Arc<Self>) {
        loop {
            let secs = self.config().auto_lock_secs;
            let kicked = self.timer_kick.notified();
            tokio::pin!(kicked);
            kicked.as_mut().enable();
            if secs == 0 || !self.is_unlocked() {
                tokio::select! {
                    _ = kicked => continue,
                    _ = self.shutdown.cancelled() => return,
                }
            }
            let deadline = *self.last_activity.locked() + Duration::from_secs(secs);
            tokio::select! {
                _ = tokio::time::sleep_until(deadline) => {
                    let last = *self.last_activity.locked();
                    if Instant::now() >= last + Duration::from_secs(secs) {
                        let _guard = self.lifecycle.lock().await;
                        crate::sessions::checkpoint_before_lock(&self).await;
                        self.lock_vault(LockReason::Idle);
                    }
                }
                _ = kicked => {}
                _ = self.shutdown.cancelled() => return,
            }
        }
    }
}
