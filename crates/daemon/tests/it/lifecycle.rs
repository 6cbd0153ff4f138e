//! Vault lifecycle in-process with tokio's paused clock (no sleeping): starts locked, init
//! leaves it unlocked, lock/unlock, wrong passphrase, auto-lock after the idle time, events.

use std::sync::Arc;
use std::time::Duration;

use pvault_daemon::{Daemon, Options, serve, socket};
use pvault_protocol::client::Client;
use pvault_protocol::{
    Credential, ErrorCode, Event, LockReason, ProfileCreate, ProfileImport, Secret, Status,
    VaultInit, VaultLock, VaultUnlock,
};

use crate::harness::{PASS, storage_state};

pub struct InProc {
    pub _dir: tempfile::TempDir,
    pub socket: std::path::PathBuf,
    pub daemon: Arc<Daemon>,
    pub stop: Option<tokio::sync::oneshot::Sender<()>>,
    pub task: tokio::task::JoinHandle<()>,
}

/// Starts `serve` in this runtime on a temp socket.
pub async fn start_in_process(tweak: impl FnOnce(&mut Options)) -> InProc {
    let dir = tempfile::tempdir().unwrap();
    let socket_path = dir.path().join("run/pvaultd.sock");
    let mut opts = Options::new(dir.path().join("home"));
    opts.fast_kdf = true;
    opts.socket = Some(socket_path.clone());
    // Paused-clock tests advance hours at once: keep connections alive through it.
    opts.handshake_timeout = Duration::from_secs(1 << 30);
    opts.idle_timeout = Duration::from_secs(1 << 30);
    tweak(&mut opts);
    let bound = socket::bind(&socket_path).unwrap();
    let daemon = Daemon::new(opts).unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let d2 = daemon.clone();
    let task = tokio::spawn(async move {
        let _lock = bound.lock;
        serve(bound.listener, d2, async {
            let _ = rx.await;
        })
        .await;
    });
    InProc {
        _dir: dir,
        socket: socket_path,
        daemon,
        stop: Some(tx),
        task,
    }
}

impl InProc {
    /// The daemon's `PVAULT_HOME` (the vault directory).
    pub fn home(&self) -> std::path::PathBuf {
        self._dir.path().join("home")
    }

    pub async fn shutdown(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.task.await.unwrap();
    }
}

fn pass(p: &str) -> Credential {
    Credential::Passphrase(Secret::new(p))
}

async fn wait_locked(c: &Client, locked: bool) {
    for _ in 0..10_000 {
        if c.call(&Status {}).await.unwrap().locked == locked {
            return;
        }
        tokio::task::yield_now().await;
    }
    panic!("vault never became locked={locked}");
}

#[tokio::test(start_paused = true)]
async fn lock_unlock_and_auto_lock_without_sleeping() {
    let p = start_in_process(|_| {}).await;
    let c = Client::connect(&p.socket).await.unwrap();
    let st = c.call(&Status {}).await.unwrap();
    assert!(!st.vault_exists && st.locked && st.auto_lock_remaining_secs.is_none());
    let mut events = c.subscribe().await.unwrap();

    c.call(&VaultInit {
        credential: pass(PASS),
    })
    .await
    .unwrap();
    assert!(matches!(
        events.recv().await,
        Some(Event::VaultUnlocked { .. })
    ));
    let st = c.call(&Status {}).await.unwrap();
    assert!(st.vault_exists && !st.locked);
    assert_eq!(st.auto_lock_secs, 3600);
    assert_eq!(st.profile_count, Some(0));

    // Explicit lock: profile calls say `locked`.
    c.call(&VaultLock {}).await.unwrap();
    assert_eq!(
        events.recv().await,
        Some(Event::VaultLocked {
            reason: LockReason::Request
        })
    );
    let e = c
        .call(&ProfileCreate {
            name: "a".into(),
            description: None,
            settings: None,
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::Locked));

    // Wrong passphrase.
    let e = c
        .call(&VaultUnlock {
            credential: pass("wrong"),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::AuthFailed));
    assert!(c.call(&Status {}).await.unwrap().locked);

    c.call(&VaultUnlock {
        credential: pass(PASS),
    })
    .await
    .unwrap();
    assert!(matches!(
        events.recv().await,
        Some(Event::VaultUnlocked { .. })
    ));

    // Activity restarts the countdown: 3000 s idle, a write, 3000 s more: still unlocked.
    tokio::time::advance(Duration::from_secs(3000)).await;
    c.call(&ProfileImport {
        name: "work".into(),
        state: storage_state("a"),
        create: true,
    })
    .await
    .unwrap();
    assert!(matches!(
        events.recv().await,
        Some(Event::SnapshotSaved { .. })
    ));
    tokio::time::advance(Duration::from_secs(3000)).await;
    let st = c.call(&Status {}).await.unwrap();
    assert!(
        !st.locked,
        "activity 3000 s ago must not lock a 3600 s timer"
    );
    assert!(st.auto_lock_remaining_secs.unwrap() <= 600);

    // Past the idle time: locked by the timer, keys gone.
    tokio::time::advance(Duration::from_secs(601)).await;
    wait_locked(&c, true).await;
    assert_eq!(
        events.recv().await,
        Some(Event::VaultLocked {
            reason: LockReason::Idle
        })
    );
    let e = c
        .call(&pvault_protocol::ProfileShow {
            name: "work".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::Locked));

    // Unlock again: the data is there.
    c.call(&VaultUnlock {
        credential: pass(PASS),
    })
    .await
    .unwrap();
    let prof = c
        .call(&pvault_protocol::ProfileShow {
            name: "work".into(),
        })
        .await
        .unwrap()
        .profile;
    assert_eq!(prof.snapshot_count, 1);
    drop(c);
    p.shutdown().await;
}

#[tokio::test]
async fn shutdown_locks_the_vault_and_init_twice_conflicts() {
    let p = start_in_process(|_| {}).await;
    let c = Client::connect(&p.socket).await.unwrap();
    c.call(&VaultInit {
        credential: pass(PASS),
    })
    .await
    .unwrap();
    let e = c
        .call(&VaultInit {
            credential: pass(PASS),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::Conflict));
    let d = p.daemon.clone();
    assert!(d.is_unlocked());
    drop(c);
    p.shutdown().await;
    assert!(!d.is_unlocked(), "shutdown must lock the vault");
}
