//! `pvault session …`: browser sessions the daemon runs (or attached to). Starting one prints
//! the session id and the CDP URL that Playwright's `connectOverCDP` and Puppeteer's `connect`
//! accept; whatever could not be loaded or captured is always reported (stderr for people,
//! `failures` in `--json`), never dropped.
//!
//! The clap types of this family live here, next to the code that uses them; `cli.rs` only
//! names [`SessionCmd`] and [`SessionOpts`].

use std::path::PathBuf;

use clap::{Args, Subcommand};
use pvault_model::{SnapshotInfo, Viewport};
use pvault_protocol::{
    CaptureReport, CdpTransport, LoadReport, SessionAttach, SessionCapture, SessionInfo,
    SessionList, SessionLoad, SessionShow, SessionStart, SessionStartResponse, SessionState,
    SessionStop, SessionStopResponse,
};
use serde_json::{Value, json};

use super::Ctx;
use super::vault::format_duration;
use crate::connect::absolute;
use crate::exit::CliResult;
use crate::output::{Table, format_time, plural, short_id};

/// `session …`.
#[derive(Debug, Subcommand)]
pub enum SessionCmd {
    /// Launch Chromium (with a profile loaded, if given) and print its CDP URL.
    Start(SessionOpts),
    /// List running sessions.
    #[command(alias = "ls")]
    List,
    /// Show one session.
    Show {
        /// Session id.
        id: String,
    },
    /// End a session; a `--save` session first captures its state into its profile.
    Stop {
        /// Session id.
        id: String,
        /// End without saving, even if the session was started with `--save`.
        #[arg(long)]
        discard: bool,
    },
    /// Snapshot a running session into a profile (created if missing) without disturbing it.
    Capture {
        /// Session id.
        id: String,
        /// Profile to append the snapshot to.
        #[arg(long, value_name = "NAME")]
        into: String,
    },
    /// Load a profile into a running session that has none yet.
    Load {
        /// Session id.
        id: String,
        /// Profile to load.
        #[arg(long, value_name = "NAME")]
        profile: String,
    },
    /// Register a Chromium started with --remote-debugging-port as a session (stopping it
    /// detaches and leaves the browser running).
    Attach {
        /// `http://127.0.0.1:PORT` or the browser's `ws://…/devtools/browser/…` URL.
        #[arg(long, value_name = "URL")]
        cdp: String,
    },
}

/// How to start a browser session; shared by `session start` and `run`. Unset options come
/// from the profile's default session settings, then the daemon's config.
#[derive(Debug, Clone, Args)]
pub struct SessionOpts {
    /// Profile to load [default: an empty browser].
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// Save the final state into the profile when the session ends (one such session per
    /// profile at a time).
    #[arg(long, requires = "profile")]
    pub save: bool,
    /// Show a browser window (needs a display).
    #[arg(long)]
    pub headful: bool,
    /// Full-screen kiosk window (implies --headful).
    #[arg(long)]
    pub kiosk: bool,
    /// First page to open.
    #[arg(long, value_name = "URL")]
    pub start_url: Option<String>,
    /// Window size in CSS pixels, e.g. 1280x720.
    #[arg(long, value_name = "WxH")]
    pub viewport: Option<Viewport>,
    /// Proxy server, e.g. socks5://127.0.0.1:1080.
    #[arg(long, value_name = "URL")]
    pub proxy: Option<String>,
    /// User-Agent override.
    #[arg(long, value_name = "UA")]
    pub user_agent: Option<String>,
    /// Browser locale, e.g. en-US.
    #[arg(long, value_name = "L")]
    pub locale: Option<String>,
    /// Load an unpacked extension from DIR (repeatable).
    #[arg(long = "extension", value_name = "DIR")]
    pub extensions: Vec<PathBuf>,
    /// Inactivity timeout: end the session (saving it if --save) once no CDP client has been
    /// connected through its relay for SECS seconds, 10 to 259200 [default: the config's
    /// `[session] timeout_secs`, 300; --headful and --kiosk sessions time out only when this is
    /// given].
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<u64>,
    /// Turn the logout guard off for this session: what it saves becomes current even if it
    /// looks logged out (you log out or switch accounts on purpose).
    #[arg(long)]
    pub accept_logout: bool,
}

impl SessionOpts {
    /// The `session.start` request; extension paths are made absolute because the daemon
    /// does not share our working directory.
    pub fn request(&self) -> CliResult<SessionStart> {
        Ok(SessionStart {
            profile: self.profile.clone(),
            save: self.save,
            headful: self.headful || self.kiosk,
            kiosk: self.kiosk,
            start_url: self.start_url.clone(),
            viewport: self.viewport,
            proxy: self.proxy.clone(),
            user_agent: self.user_agent.clone(),
            locale: self.locale.clone(),
            extensions: self
                .extensions
                .iter()
                .map(|p| absolute(p))
                .collect::<CliResult<_>>()?,
            timeout_secs: self.timeout,
            accept_logout: self.accept_logout,
        })
    }
}

/// Dispatches `session …`.
pub async fn run(ctx: &Ctx, cmd: SessionCmd) -> CliResult {
    match cmd {
        SessionCmd::Start(opts) => start(ctx, &opts).await,
        SessionCmd::List => list(ctx).await,
        SessionCmd::Show { id } => show(ctx, id).await,
        SessionCmd::Stop { id, discard } => stop(ctx, id, discard).await,
        SessionCmd::Capture { id, into } => capture(ctx, id, into).await,
        SessionCmd::Load { id, profile } => load(ctx, id, profile).await,
        SessionCmd::Attach { cdp } => attach(ctx, cdp).await,
    }
}

/// `session start [options]`.
async fn start(ctx: &Ctx, opts: &SessionOpts) -> CliResult {
    let req = opts.request()?;
    let res = {
        let _spin = ctx.out.spinner("starting Chromium");
        ctx.call1(&req).await?
    };
    print_started(ctx, &res)
}

/// `session attach --cdp URL`.
async fn attach(ctx: &Ctx, cdp_url: String) -> CliResult {
    let res = {
        let _spin = ctx.out.spinner("attaching to the browser");
        ctx.call1(&SessionAttach { cdp_url }).await?
    };
    print_started(ctx, &res)
}

/// The `--json` document of `session start` and `session attach`: the session's fields at
/// the top level (so `jq -r .cdp_ws_url` works) and the load report.
pub fn started_json(res: &SessionStartResponse) -> CliResult<Value> {
    let mut doc = serde_json::to_value(&res.session).map_err(|e| {
        crate::exit::CliError::other(format!("cannot encode the session as JSON: {e}"))
    })?;
    doc["load"] = serde_json::to_value(&res.load).unwrap_or(Value::Null);
    doc["profile_created"] = Value::Bool(res.profile_created);
    doc["remote"] = serde_json::to_value(&res.remote).unwrap_or(Value::Null);
    Ok(doc)
}

/// Prints a started or attached session; load failures go to stderr as warnings.
fn print_started(ctx: &Ctx, res: &SessionStartResponse) -> CliResult {
    if let Some(load) = &res.load {
        warn_load_failures(load);
    }
    if let Some(w) = res.remote.as_ref().and_then(|r| r.warning.as_deref()) {
        eprintln!("pvault: warning: {w}");
    }
    if ctx.out.json {
        return ctx.out.json(&started_json(res)?);
    }
    let s = &res.session;
    let mut lines = vec![
        format!("session_id: {}", s.session_id),
        format!("cdp_ws_url: {}", s.cdp_ws_url),
    ];
    if let Some(created) = created_profile(res) {
        lines.push(format!(
            "created:    profile {created} (it did not exist; the session saves into it)"
        ));
    } else if let Some(load) = &res.load {
        lines.push(format!("loaded:     {}", describe_load(s, load)));
    }
    ctx.out.line(lines.join("\n"))
}

/// The profile `session start --save` created because it did not exist, if it did.
pub fn created_profile(res: &SessionStartResponse) -> Option<&str> {
    res.profile_created
        .then_some(res.session.profile.as_deref())
        .flatten()
}

/// `12 cookies, 3 origins from profile github (snapshot #4)`.
fn describe_load(s: &SessionInfo, load: &LoadReport) -> String {
    let from = match (&s.profile, &load.snapshot) {
        (Some(p), Some(snap)) => format!(" from profile {p} (snapshot #{})", snap.seq),
        (Some(p), None) => format!(" from profile {p} (no snapshot yet)"),
        (None, _) => String::new(),
    };
    let mut parts = format!(
        "{}, {}",
        plural(load.cookies_loaded, "cookie"),
        plural(load.origins_loaded, "origin")
    );
    if load.session_storage_origins > 0 {
        parts += &format!(
            ", sessionStorage of {} for new tabs",
            plural(load.session_storage_origins, "origin")
        );
    }
    if load.indexed_db_databases > 0 {
        parts += &format!(
            ", {} ({})",
            plural(load.indexed_db_databases, "IndexedDB database"),
            plural(load.indexed_db_records, "record")
        );
    }
    format!("{parts}{from}")
}

/// Warns on stderr about everything a load left out.
pub fn warn_load_failures(load: &LoadReport) {
    warn_list("could not be loaded", &load.failures);
}

/// Warns on stderr about everything a capture left out.
pub fn warn_capture_failures(c: &CaptureReport) {
    warn_list("could not be captured", &c.failures);
    warn_list(
        "hold values that cannot be saved (kept by type name only, never loaded)",
        &c.unsupported,
    );
}

fn warn_list(what: &str, failures: &[String]) {
    if failures.is_empty() {
        return;
    }
    eprintln!("pvault: warning: {} item(s) {what}:", failures.len());
    for f in failures {
        eprintln!("  {f}");
    }
}

/// `session list`.
async fn list(ctx: &Ctx) -> CliResult {
    let res = ctx.call1(&SessionList {}).await?;
    if ctx.out.json {
        return ctx.out.json(&res);
    }
    if res.sessions.is_empty() {
        return ctx
            .out
            .line("no sessions running: `pvault session start [--profile NAME]`");
    }
    let mut t = Table::new(&["ID", "PID", "PROFILE", "MODE", "STARTED", "CDP"]);
    for s in &res.sessions {
        t.row(vec![
            s.session_id.clone(),
            s.pid.map_or_else(|| "-".into(), |p| p.to_string()),
            s.profile.clone().unwrap_or_else(|| "-".into()),
            mode(s).into(),
            format_time(s.started_at),
            elide_token(&s.cdp_ws_url),
        ]);
    }
    crate::output::write_stdout(t.render().as_bytes())
}

/// A CDP URL with its secret part (the relay token, the last path segment) replaced by `…`:
/// a table on a screen is no place for a password. `session show ID`, `--json` and `pvault
/// run`'s environment give the full URL.
fn elide_token(url: &str) -> String {
    match url.rsplit_once('/') {
        Some((head, token)) if !token.is_empty() && head.contains("://") => format!("{head}/…"),
        _ => url.to_owned(),
    }
}

/// `attached`, `save` or `read-only`.
fn mode(s: &SessionInfo) -> &'static str {
    if s.attached {
        "attached"
    } else if s.save {
        "save"
    } else {
        "read-only"
    }
}

/// How the daemon reaches the browser, with what it means for other local users.
fn describe_transport(t: CdpTransport) -> &'static str {
    match t {
        CdpTransport::Pipe => "pipe (the browser listens on no socket)",
        CdpTransport::Port => {
            "port (allow_port_fallback: any local process can reach the browser's debugging port)"
        }
        CdpTransport::Attached => "attached (your browser's own debugging port)",
        CdpTransport::Unknown => "unknown (a newer daemon)",
    }
}

/// The wire name of a session state.
fn state_name(state: SessionState) -> &'static str {
    match state {
        SessionState::Running => "running",
        SessionState::Stopping => "stopping",
        SessionState::Ended => "ended",
        SessionState::Crashed => "crashed",
    }
}

/// `session show ID`.
async fn show(ctx: &Ctx, session_id: String) -> CliResult {
    let res = ctx.call1(&SessionShow { session_id }).await?;
    if ctx.out.json {
        return ctx.out.json(&res);
    }
    let s = &res.session;
    let lines = [
        format!("session_id: {}", s.session_id),
        format!("cdp_ws_url: {}", s.cdp_ws_url),
        format!(
            "pid:        {}",
            s.pid
                .map_or_else(|| "- (attached)".into(), |p| p.to_string())
        ),
        format!("profile:    {}", s.profile.as_deref().unwrap_or("-")),
        format!("mode:       {}", mode(s)),
        format!("state:      {}", state_name(s.state)),
        format!("started:    {}", format_time(s.started_at)),
    ];
    let mut lines = lines.to_vec();
    if let Some(t) = s.ended_at {
        lines.push(format!("ended:      {}", format_time(t)));
    }
    if let Some(b) = &s.browser {
        lines.push(format!("browser:    {b}"));
    }
    if let Some(t) = s.transport {
        lines.push(format!("transport:  {}", describe_transport(t)));
    }
    if let Some(n) = s.clients {
        lines.push(format!("clients:    {n}"));
    }
    if let Some(t) = describe_timeout(s) {
        lines.push(format!("timeout:    {t}"));
    }
    if let Some(c) = &s.checkpoints {
        lines.push(format!("checkpoints: {}", describe_checkpoints(c)));
    }
    ctx.out.line(lines.join("\n"))
}

/// `3 written of 41 captures, last at 12:01:07 (took 12 ms)`, or `none yet`.
fn describe_checkpoints(c: &pvault_protocol::CheckpointStats) -> String {
    match (c.last_capture_at, c.last_capture_ms) {
        (Some(at), Some(ms)) => format!(
            "{} written of {}, last at {} (took {ms} ms)",
            c.written,
            plural(c.captures, "capture"),
            format_time(at)
        ),
        _ => "none yet".to_owned(),
    }
}

/// The inactivity timeout for people: `4m 12s left of 5m` while no CDP client is connected,
/// `5m (paused: 1 client connected)` while one is, `5m` otherwise (ended); `None` when the
/// session has none (attached, or headful without `--timeout`).
fn describe_timeout(s: &SessionInfo) -> Option<String> {
    let total = format_duration(s.timeout_secs?);
    Some(match (s.timeout_left_secs, s.clients) {
        (Some(left), _) => format!("{} left of {total}", format_duration(left)),
        (None, Some(n)) if n > 0 => {
            let who = if n == 1 { "client" } else { "clients" };
            format!("{total} (paused: {n} {who} connected)")
        }
        (None, _) => total,
    })
}

/// `session stop ID [--discard]`.
async fn stop(ctx: &Ctx, session_id: String, discard: bool) -> CliResult {
    let res = {
        let _spin = ctx.out.spinner("stopping the session");
        ctx.call1(&SessionStop {
            session_id,
            discard,
        })
        .await?
    };
    print_stopped(ctx, &res)
}

/// Prints the result of `session stop` (also used by `run` for its stderr notice).
fn print_stopped(ctx: &Ctx, res: &SessionStopResponse) -> CliResult {
    if let Some(c) = &res.capture {
        warn_capture_failures(c);
    }
    if let Some(w) = res.remote.as_ref().and_then(|r| r.warning.as_deref()) {
        eprintln!("pvault: warning: {w}");
    }
    if ctx.out.json {
        return ctx.out.json(res);
    }
    if let Some(g) = &res.logout_guard {
        eprintln!("pvault: {}", describe_guard(g));
    }
    ctx.out.line(describe_stop(res))
}

/// `stopped session X; saved snapshot #N …` or `stopped session X (nothing saved)`.
pub fn describe_stop(res: &SessionStopResponse) -> String {
    match &res.snapshot {
        Some(snap) => format!(
            "stopped session {}; saved {}",
            res.session_id,
            describe_snapshot(snap)
        ),
        None => format!("stopped session {} (nothing saved)", res.session_id),
    }
}

/// What the logout guard did, for people: the failed expectations and how to accept.
pub fn describe_guard(g: &pvault_protocol::LogoutGuard) -> String {
    let mut s = String::from("logout guard: the saved state looks logged out (");
    s.push_str(
        &g.failed
            .iter()
            .map(|f| format!("{}: {}", f.expectation, f.reason))
            .collect::<Vec<_>>()
            .join("; "),
    );
    s.push_str(")\n");
    if let Some(c) = g.current {
        s.push_str(&format!("the next session loads snapshot #{c}\n"));
    }
    s.push_str(&format!("hint: {}", g.hint));
    s
}

/// `snapshot #4 (1a2b3c4d): 12 cookies, 3 origins`.
fn describe_snapshot(s: &SnapshotInfo) -> String {
    format!(
        "snapshot #{} ({}): {}, {}",
        s.seq,
        short_id(&s.id),
        plural(s.cookie_count, "cookie"),
        plural(s.origin_count, "origin")
    )
}

/// `session capture ID --into NAME`.
async fn capture(ctx: &Ctx, session_id: String, into: String) -> CliResult {
    let res = {
        let _spin = ctx.out.spinner("capturing the session");
        ctx.call1(&SessionCapture { session_id, into }).await?
    };
    warn_capture_failures(&res.capture);
    if ctx.out.json {
        return ctx.out.json(&res);
    }
    ctx.out.line(format!(
        "captured into profile {}: {}",
        res.profile,
        describe_snapshot(&res.snapshot)
    ))
}

/// `session load ID --profile NAME`.
async fn load(ctx: &Ctx, session_id: String, profile: String) -> CliResult {
    let res = {
        let _spin = ctx.out.spinner("loading the profile");
        ctx.call1(&SessionLoad {
            session_id,
            profile: profile.clone(),
        })
        .await?
    };
    warn_load_failures(&res.load);
    if ctx.out.json {
        return ctx.out.json(&json!({ "load": res.load }));
    }
    let snap = res
        .load
        .snapshot
        .as_ref()
        .map(|s| format!(" (snapshot #{})", s.seq))
        .unwrap_or_default();
    ctx.out.line(format!(
        "loaded profile {profile}{snap}: {}, {}",
        plural(res.load.cookies_loaded, "cookie"),
        plural(res.load.origins_loaded, "origin")
    ))
}
