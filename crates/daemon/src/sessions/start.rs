//! `session.start` (launch Chrome with a profile's newest snapshot loaded) and `session.attach`
//! (register a browser the user started).

use std::path::PathBuf;
use std::sync::Arc;

use pvault_browser::{LaunchOptions, Session};
use pvault_model::{BrowserState, ProfileInfo, SessionSettings, SnapshotInfo};
use pvault_protocol::{
    ErrorBody, ErrorCode, Event, SessionAttach, SessionStart, SessionStartResponse,
};

use super::registry::{Entry, Launch, ProfileRef, Role};
use super::{browser_err, load_report, new_session_id, now_ms, runtime_dir, stop};
use crate::handlers::{blocking, vault_err};
use crate::state::Daemon;

/// Tests only: `PVAULT_TEST_NO_CHROME_FALLBACK=1` drops the built-in
/// `/usr/lib/chromium/chromium` fallback so "no browser found" can be exercised on a machine
/// that has Chromium installed.
const NO_FALLBACK_ENV: &str = "PVAULT_TEST_NO_CHROME_FALLBACK";

pub(crate) async fn start(
    d: &Arc<Daemon>,
    p: SessionStart,
) -> Result<SessionStartResponse, ErrorBody> {
    if p.save && p.profile.is_none() {
        return Err(ErrorBody::new(
            ErrorCode::InvalidArgument,
            "save needs a profile: give --profile NAME (or capture the session with `session capture --into NAME`)",
        ));
    }
    let range = crate::config::SESSION_TIMEOUT_RANGE;
    if let Some(t) = p.timeout_secs
        && !range.contains(&t)
    {
        return Err(ErrorBody::new(
            ErrorCode::InvalidArgument,
            format!(
                "timeout {t} s is out of range: give between {} and {} seconds (72 h)",
                range.start(),
                range.end()
            ),
        ));
    }
    if let Some(x) = p.extensions.iter().find(|x| !x.is_absolute()) {
        return Err(ErrorBody::new(
            ErrorCode::InvalidArgument,
            format!(
                "extension directory {} must be an absolute path (the daemon's working directory is not yours)",
                x.display()
            ),
        ));
    }
    refuse_if_closing(d)?;
    let cfg = d.config();
    // A person using a headful window is activity the relay cannot see: such a session only
    // times out when the request asked for a timeout explicitly, never by the config default.
    let timeout = match (p.timeout_secs, p.headful || p.kiosk) {
        (Some(t), _) => Some(std::time::Duration::from_secs(t)),
        (None, false) => Some(std::time::Duration::from_secs(cfg.session.timeout_secs)),
        (None, true) => None,
    };
    let executable = find_chrome(cfg.browser.path.clone())?;
    let relay = d.sessions.relay(&d.shutdown).await?.clone();
    let id = new_session_id();

    // The profile and its newest snapshot, read before anything is launched.
    // A `save` session into a profile that does not exist yet creates it (the first login of
    // a new account); a read-only one gets `not_found` (there is nothing to load, and a typo
    // must not pass silently).
    let mut loaded: Option<(ProfileInfo, Option<SnapshotInfo>, BrowserState)> = None;
    let mut profile_created = false;
    // A linked profile: the lease first (`save`), then the newest remote snapshots pulled
    // into the vault, so what is loaded below is the remote's newest.
    let remote = match &p.profile {
        Some(name) => crate::remote::session::before_start(d, name, p.save, &id).await?,
        None => None,
    };
    if let Some(name) = p.profile.clone() {
        let v = d.unlocked_vault()?;
        let save = p.save;
        let (l, created) = match blocking(move || newest_state(&v, &name, save)).await {
            Ok(x) => x,
            Err(e) => {
                if let Some(pid) = p
                    .profile
                    .as_deref()
                    .and_then(|n| d.unlocked_vault().ok()?.profile(n).ok())
                {
                    crate::remote::session::abandon(d, &pid.id, &id);
                }
                return Err(e);
            }
        };
        loaded = Some(l);
        profile_created = created;
    }
    let profile = loaded.as_ref().map(|(info, ..)| ProfileRef {
        id: info.id.clone(),
        name: info.name.clone(),
    });
    // The profile a `save` session saves into (`save` without a profile was refused above, and
    // with one `loaded` is set). Everything below asks this, not `p.save`.
    let writer = if p.save { profile.clone() } else { None };
    if let Some(pr) = &writer {
        d.sessions.claim_writer(&pr.id, &id).map_err(|holder| {
            ErrorBody::new(
                ErrorCode::Busy,
                format!(
                    "profile {} is being saved by session {holder}; stop that session first, or start this one without --save",
                    pr.name
                ),
            )
        })?;
    }
    let release = |d: &Daemon| {
        if let Some(pr) = &writer {
            d.sessions.release_writer(&pr.id, &id);
            crate::remote::session::abandon(d, &pr.id, &id);
        }
    };
    // A session that fails to start leaves no profile it created behind.
    let forget_created = async |d: &Daemon| {
        if let (true, Some(pr)) = (profile_created, &profile) {
            forget_profile(d, pr).await;
        }
    };

    let settings = SessionSettings {
        proxy: p.proxy.clone(),
        viewport: p.viewport,
        user_agent: p.user_agent.clone(),
        locale: p.locale.clone(),
    }
    .or(&loaded
        .as_ref()
        .map(|(i, ..)| i.settings.clone())
        .unwrap_or_default())
    .or(&cfg.session.defaults);

    let (dir, mut record) = match prepare_session_dir(d, &id).await {
        Ok(x) => x,
        Err(e) => {
            release(d);
            forget_created(d).await;
            return Err(e);
        }
    };
    let (snapshot, state) = match loaded {
        Some((_, snap, state)) => (snap, Some(state)),
        None => (None, None),
    };
    let mut opts = LaunchOptions::new(executable, dir.join("chrome"));
    opts.headful = p.headful || p.kiosk;
    opts.kiosk = p.kiosk;
    opts.start_url = p.start_url.clone();
    opts.settings = settings;
    opts.extensions = p.extensions.clone();
    opts.extra_args = cfg.browser.extra_flags.clone();
    opts.allow_port_fallback = cfg.browser.allow_port_fallback;
    let had_profile = state.is_some();
    // What a checkpoint compares the first capture with (only a `save` session checkpoints).
    let baseline = writer.is_some().then(|| state.clone().unwrap_or_default());
    opts.state = state;
    let launched = Session::launch(opts).await;
    let (session, report) = match launched {
        Ok(x) => x,
        Err(e) => {
            release(d);
            forget_created(d).await;
            remove_dir(dir).await;
            return Err(browser_err(e));
        }
    };
    let registered = relay
        .register(session.cdp_endpoint())
        .map_err(|e| ErrorBody::new(ErrorCode::Internal, e.to_string()))
        .and_then(|target| match session.pid() {
            Some(pid) => Ok((target, pid)),
            None => Err(ErrorBody::new(
                ErrorCode::Internal,
                "the launched browser reports no process id",
            )),
        });
    let (target, pid) = match registered {
        Ok(x) => x,
        Err(e) => {
            let _ = session.close().await;
            release(d);
            forget_created(d).await;
            remove_dir(dir).await;
            return Err(e);
        }
    };
    record.browser_pid = Some(pid);
    let record_dir = dir.clone();
    let _ = tokio::task::spawn_blocking(move || write_record(&record_dir, &record)).await;
    let load = had_profile.then(|| load_report(&report, snapshot));
    if let Some(pr) = &profile {
        let v = d.unlocked_vault();
        let pid = pr.id.clone();
        // Recency only: a failure here must not fail a started session.
        if let Ok(v) = v
            && let Err(e) = blocking(move || v.touch_profile(&pid).map_err(vault_err)).await
        {
            tracing::warn!(error = %e.message, "could not record the profile's use");
        }
    }
    // The logout guard judges what a save session writes, unless it was started to accept a
    // logout (the user logs out on purpose, or switches accounts).
    let guard = writer.is_some() && !p.accept_logout;
    let role = match writer {
        Some(profile) => Role::Save {
            profile,
            checkpoints: Default::default(),
        },
        None => Role::ReadOnly {
            loaded: std::sync::Mutex::new(profile),
        },
    };
    let entry = Arc::new(Entry {
        id: id.clone(),
        role,
        launch: Launch::Launched {
            pid,
            transport: session.transport(),
            dir,
            timeout,
        },
        started_at: now_ms(),
        cdp_ws_url: target.url().to_owned(),
        relay: target,
        product: session.product().to_owned(),
        slot: tokio::sync::Mutex::new(None),
        stopping: Default::default(),
        latest: Default::default(),
        guard,
    });
    let changes = session.change_watch();
    let info = register(d, entry.clone(), session).await?;
    if let Some(baseline) = baseline {
        // Weak: the hook lives in the relay target the entry owns.
        let weak = Arc::downgrade(&entry);
        entry.relay.set_before_close(Arc::new(move || {
            let weak = weak.clone();
            Box::pin(async move {
                if let Some(e) = weak.upgrade() {
                    super::checkpoint::before_close(&e).await;
                }
            })
        }));
        tokio::spawn(super::checkpoint::run(
            Arc::downgrade(d),
            entry,
            changes,
            baseline,
        ));
    }
    tracing::info!(session = %info.session_id, pid = ?info.pid, profile = ?info.profile, save = info.save, "session started");
    if profile_created {
        tracing::info!(session = %info.session_id, profile = ?info.profile, "created the profile the session saves into");
    }
    Ok(SessionStartResponse {
        session: info,
        load,
        profile_created,
        remote,
    })
}

pub(crate) async fn attach(
    d: &Arc<Daemon>,
    p: SessionAttach,
) -> Result<SessionStartResponse, ErrorBody> {
    check_loopback(&p.cdp_url)?;
    refuse_if_closing(d)?;
    let relay = d.sessions.relay(&d.shutdown).await?.clone();
    let session = Session::attach(&p.cdp_url).await.map_err(browser_err)?;
    let upstream = match session.cdp_endpoint() {
        pvault_browser::CdpEndpoint::WebSocket(url) => crate::relay::upstream_url(&url)
            .await
            .map(pvault_browser::CdpEndpoint::WebSocket),
        mux => Ok(mux),
    };
    let target = match upstream.and_then(|u| relay.register(u)) {
        Ok(t) => t,
        Err(e) => {
            session.detach();
            let code = match e {
                crate::relay::RelayError::Discover { .. } => ErrorCode::BrowserError,
                _ => ErrorCode::Internal,
            };
            return Err(ErrorBody::new(code, e.to_string()));
        }
    };
    let entry = Arc::new(Entry {
        id: new_session_id(),
        role: Role::ReadOnly {
            loaded: Default::default(),
        },
        launch: Launch::Attached,
        started_at: now_ms(),
        cdp_ws_url: target.url().to_owned(),
        relay: target,
        product: session.product().to_owned(),
        slot: tokio::sync::Mutex::new(None),
        stopping: Default::default(),
        latest: Default::default(),
        guard: false,
    });
    let info = register(d, entry, session).await?;
    tracing::info!(session = %info.session_id, "attached to a running browser");
    Ok(SessionStartResponse {
        session: info,
        load: None,
        profile_created: false,
        remote: None,
    })
}

/// Puts the browser into the entry, registers it, starts its exit watch and announces it.
/// If shutdown began meanwhile, the browser is closed (attached: detached) instead.
async fn register(
    d: &Arc<Daemon>,
    entry: Arc<Entry>,
    session: Session,
) -> Result<pvault_protocol::SessionInfo, ErrorBody> {
    let exit = session.exit_watch();
    *entry.slot.lock().await = Some(session);
    if let Err(entry) = d.sessions.insert(entry.clone()) {
        let session = entry.slot.lock().await.take();
        if let Some(s) = session {
            match entry.launch {
                Launch::Attached => s.detach(),
                Launch::Launched { .. } => {
                    let _ = s.close().await;
                }
            }
        }
        if let Some(p) = entry.save_profile() {
            d.sessions.release_writer(&p.id, &entry.id);
        }
        if let Some(dir) = entry.dir() {
            remove_dir(dir.to_owned()).await;
        }
        return Err(closing());
    }
    tokio::spawn(stop::watch_exit(Arc::downgrade(d), entry.clone(), exit));
    if let Some(t) = entry.timeout() {
        tokio::spawn(super::timeout::watch_idle(
            Arc::downgrade(d),
            entry.clone(),
            t,
        ));
    }
    let info = entry.running_info();
    let _ = d.events.send(Event::SessionStarted {
        session: info.clone(),
    });
    Ok(info)
}

fn closing() -> ErrorBody {
    ErrorBody::new(
        ErrorCode::Unsupported,
        "pvaultd is shutting down; start the session again once it is back",
    )
}

fn refuse_if_closing(d: &Daemon) -> Result<(), ErrorBody> {
    if d.sessions.is_closed() || d.shutdown.is_cancelled() {
        return Err(closing());
    }
    Ok(())
}

/// `PVAULT_CHROME` (the daemon's environment), then the config, then the usual names.
pub(super) fn find_chrome(config: Option<PathBuf>) -> Result<PathBuf, ErrorBody> {
    let env = std::env::var_os("PVAULT_CHROME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from);
    let mut search = pvault_browser::ChromeSearch::default();
    if std::env::var_os(NO_FALLBACK_ENV).is_some_and(|v| v == "1") {
        search.fallbacks.clear();
    }
    pvault_browser::discover_chrome_in(env, config, &search).map_err(browser_err)
}

/// The profile and its newest snapshot's state (empty when its history is empty). With
/// `create`, a missing profile is created (empty); the bool says whether it was.
#[allow(clippy::type_complexity)]
fn newest_state(
    v: &pvault_vault::Vault,
    name: &str,
    create: bool,
) -> Result<((ProfileInfo, Option<SnapshotInfo>, BrowserState), bool), ErrorBody> {
    let (info, created) = if create {
        super::profile_or_create(v, name)?
    } else {
        (v.profile(name).map_err(vault_err)?, false)
    };
    if created {
        return Ok(((info, None, BrowserState::default()), true));
    }
    match v.read_snapshot(&info.id, None) {
        Ok(s) => Ok(((info, Some(s.info), s.state), false)),
        Err(pvault_vault::VaultError::SnapshotNotFound { .. }) => {
            Ok(((info, None, BrowserState::default()), false))
        }
        Err(e) => Err(vault_err(e)),
    }
}

/// Deletes a profile this start created, after the start failed (best effort: logged).
async fn forget_profile(d: &Daemon, pr: &ProfileRef) {
    let Ok(v) = d.unlocked_vault() else { return };
    let pid = pr.id.clone();
    if let Err(e) = blocking(move || v.delete_profile(&pid).map_err(vault_err)).await {
        tracing::warn!(profile = %pr.name, error = %e.message, "could not delete the profile created for a session that failed to start");
    }
}

/// Creates the session's directory and writes its record (before Chrome starts, so a killed
/// daemon's successor finds it), in one task on the blocking pool: file system work never
/// runs on a runtime thread.
pub(super) async fn prepare_session_dir(
    d: &Arc<Daemon>,
    id: &str,
) -> Result<(PathBuf, super::recover::Record), ErrorBody> {
    let (d, id) = (d.clone(), id.to_owned());
    blocking(move || {
        let dir = make_session_dir(&d, &id)?;
        let record = super::recover::Record {
            session_id: id,
            daemon_pid: std::process::id(),
            owner_lock: super::owner_lock(&d),
            browser_pid: None,
            user_data_dir: dir.join("chrome"),
        };
        write_record(&dir, &record);
        Ok((dir, record))
    })
    .await
}

/// Writes (replaces) a session record; a failure is logged, not fatal: the session works, only
/// the cleanup after a crash of the daemon would miss it.
pub(super) fn write_record(dir: &std::path::Path, record: &super::recover::Record) {
    if let Err(e) = super::recover::write(dir, record) {
        tracing::warn!(error = %e, "cannot write the session record");
    }
}

/// Creates `<runtime>/sessions/<id>/chrome` (every level 0700, owned by us).
fn make_session_dir(d: &Daemon, id: &str) -> Result<PathBuf, ErrorBody> {
    use std::os::unix::fs::DirBuilderExt;
    let base = runtime_dir(d).join("sessions");
    crate::socket::ensure_private_dir(&base, d.euid)
        .map_err(|e| ErrorBody::new(ErrorCode::Internal, e.to_string()))?;
    let dir = base.join(id);
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&dir)
        .and_then(|()| {
            std::fs::DirBuilder::new()
                .mode(0o700)
                .create(dir.join("chrome"))
        })
        .map_err(|e| {
            ErrorBody::new(
                ErrorCode::Internal,
                format!("cannot create the session directory {}: {e}", dir.display()),
            )
        })?;
    Ok(dir)
}

/// Removes a session directory (Chrome's profile, in the clear) off the async threads.
pub(super) async fn remove_dir(dir: PathBuf) {
    let shown = dir.clone();
    let r = tokio::task::spawn_blocking(move || super::recover::remove_all(&dir)).await;
    match r {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            tracing::warn!(dir = %shown.display(), error = %e, "could not remove a session directory")
        }
        Err(_) => tracing::warn!(dir = %shown.display(), "could not remove a session directory"),
    }
}

/// Attaching is for a browser on this machine: the URL's host must be a loopback address.
fn check_loopback(url: &str) -> Result<(), ErrorBody> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("ws://"))
        .ok_or_else(|| {
            ErrorBody::new(
                ErrorCode::InvalidArgument,
                "the CDP URL must start with http:// or ws:// (e.g. http://127.0.0.1:9222)",
            )
        })?;
    let authority = rest.split('/').next().unwrap_or("");
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        authority.split(':').next().unwrap_or("")
    };
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if !loopback {
        return Err(ErrorBody::new(
            ErrorCode::InvalidArgument,
            "the CDP URL must point at this machine (127.0.0.1, ::1 or localhost): a remote debugging port would hand the profile's cookies to another host",
        ));
    }
    Ok(())
}
