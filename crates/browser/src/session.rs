//! A connected browser: launch or attach, load state, capture state, close or detach.

use std::sync::Arc;
use std::time::Duration;

use chromiumoxide::Browser;
use chromiumoxide::handler::HandlerConfig;
use futures::StreamExt;
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::BrowserError;
use crate::cdp::call_browser;
use crate::endpoint::{CdpEndpoint, Transport};
use crate::launch::{BrowserExit, ChildProcess, LaunchOptions, Upstream};
use crate::page_events;
use crate::report::{LoadMethod, LoadReport, valid_origins};
use crate::tracker::Tracker;

/// How long `close` waits for Chrome to exit after `Browser.close` before killing it.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(10);

/// A browser driven over CDP: one we launched, or one we attached to.
pub struct Session {
    /// The chromiumoxide connection (shared with the tracking task).
    pub(crate) browser: Arc<Browser>,
    /// Polls chromiumoxide's handler for as long as the connection lives.
    pub(crate) handler_task: JoinHandle<()>,
    /// Tracks navigations to know which origins may have changed.
    pub(crate) tracker_task: JoinHandle<()>,
    /// Tracking state.
    pub(crate) tracker: Arc<Tracker>,
    /// Where the browser's CDP is reached (its pipe's multiplexer, or its websocket URL).
    pub(crate) endpoint: CdpEndpoint,
    /// Which transport that is (shown to users: a port is reachable by any local process).
    pub(crate) transport: Transport,
    /// `Browser.getVersion`'s `product`, e.g. `Chrome/156.0.8078.79`.
    pub(crate) product: String,
    /// Our child process; `None` when attached.
    pub(crate) process: Option<ChildProcess>,
    /// Becomes `Some` when the browser exits or (attached) the connection closes.
    pub(crate) exit_rx: watch::Receiver<Option<BrowserExit>>,
    /// Our page connection: storage events in order, and the sessionStorage hand-off.
    pub(crate) tabs: crate::tabs::TabLink,
    /// Watches Chrome's cookie and localStorage files (launched sessions) and bumps the change
    /// signal when Chrome writes them; dropped with the session.
    pub(crate) file_watch: Option<crate::file_watch::FileWatch>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("transport", &self.transport)
            .field("product", &self.product)
            .field("pid", &self.pid())
            .finish()
    }
}

impl Session {
    /// Launches Chrome with `opts.state` loaded and verified, over `--remote-debugging-pipe`
    /// (or a port when the pipe fails and `opts.allow_port_fallback` allows it). The session
    /// is usable (and its [`Session::cdp_endpoint`] can be handed out) when this returns.
    pub async fn launch(opts: LaunchOptions) -> Result<(Session, LoadReport), BrowserError> {
        let state = opts.state.clone().unwrap_or_default();
        let (origins, _) = valid_origins(&state.origins);
        let t_prepare = std::time::Instant::now();
        let (method, written) = crate::launch::prepare(&opts, origins.clone()).await?;
        tracing::debug!(
            ms = t_prepare.elapsed().as_millis() as u64,
            "profile directory prepared"
        );
        // The start page must see the loaded state, so it is opened over CDP after the load:
        // on the command line Chrome would request it before the cookies are set.
        let mut spawn_opts = opts.clone();
        let start_url = spawn_opts.start_url.take();
        let t_start = std::time::Instant::now();
        let mut session = match Session::start(&spawn_opts, Transport::Pipe).await {
            Ok(s) => s,
            Err(e @ BrowserError::Startup { .. }) if opts.allow_port_fallback => {
                tracing::warn!(error = %e, "the browser did not start in pipe mode; starting it with a debugging port as the configuration allows");
                crate::launch::remove_singleton_files(&opts.user_data_dir);
                Session::start(&spawn_opts, Transport::Port).await?
            }
            Err(BrowserError::Startup { executable, detail }) => {
                return Err(BrowserError::PipeUnsupported { executable, detail });
            }
            Err(e) => return Err(e),
        };
        tracing::debug!(
            ms = t_start.elapsed().as_millis() as u64,
            "browser started and connected"
        );
        session.file_watch =
            crate::file_watch::FileWatch::start(&opts.user_data_dir, session.tracker.clone());
        let t_load = std::time::Instant::now();
        let loaded = session
            .guard(session.load(&state, true, method == LoadMethod::OnDisk))
            .await;
        tracing::debug!(ms = t_load.elapsed().as_millis() as u64, "state loaded");
        let mut report = match loaded {
            Ok(r) => r,
            Err(e) => {
                session.close().await.ok();
                return Err(e);
            }
        };
        if method == LoadMethod::OnDisk {
            report.origins_loaded = written.len();
        }
        if let Some(url) = start_url {
            let opened = session
                .guard(call_browser(
                    &session.browser,
                    "Target.createTarget",
                    json!({"url": url}),
                ))
                .await;
            if let Err(e) = opened {
                session.close().await.ok();
                return Err(e);
            }
        }
        Ok((session, report))
    }

    /// Spawns the browser with `transport` and connects the engine to it.
    async fn start(opts: &LaunchOptions, transport: Transport) -> Result<Session, BrowserError> {
        let (exit_tx, exit_rx) = watch::channel(None);
        let t_spawn = std::time::Instant::now();
        let (process, upstream) = crate::launch::spawn(opts, transport, exit_tx).await?;
        tracing::debug!(
            ms = t_spawn.elapsed().as_millis() as u64,
            "browser answered"
        );
        let (endpoint, engine_url) = match upstream {
            Upstream::Port(url) => (CdpEndpoint::WebSocket(url.clone()), url),
            Upstream::Pipe(mux) => {
                let url = mux
                    .one_time_endpoint()
                    .await
                    .map_err(|e| BrowserError::Connect {
                        url: "the browser's CDP pipe".into(),
                        detail: e.to_string(),
                    })?;
                (CdpEndpoint::Mux(mux), url)
            }
        };
        Session::connect(
            endpoint,
            transport,
            engine_url,
            Some(process),
            exit_rx,
            false,
        )
        .await
    }

    /// Attaches to a Chrome someone else started with `--remote-debugging-port`. `url` is its
    /// `ws://…/devtools/browser/…` address or its `http://host:port` endpoint. Detaching leaves
    /// that browser running.
    pub async fn attach(url: &str) -> Result<Session, BrowserError> {
        if !(url.starts_with("ws://") || url.starts_with("http://")) {
            return Err(BrowserError::InvalidArgument(format!(
                "CDP URL must start with ws:// or http://, got {url:?}"
            )));
        }
        let (_tx, exit_rx) = watch::channel(None);
        let endpoint = CdpEndpoint::WebSocket(url.to_owned());
        Session::connect(
            endpoint,
            Transport::Attached,
            url.to_owned(),
            None,
            exit_rx,
            true,
        )
        .await
    }

    /// Connects chromiumoxide (the engine) to `ws_url`, which reaches `endpoint`.
    async fn connect(
        endpoint: CdpEndpoint,
        transport: Transport,
        ws_url: String,
        mut process: Option<ChildProcess>,
        mut exit_rx: watch::Receiver<Option<BrowserExit>>,
        attached: bool,
    ) -> Result<Session, BrowserError> {
        let config = HandlerConfig {
            // Both would change behaviour for every page, other clients' pages included.
            ignore_https_errors: false,
            viewport: None,
            request_timeout: Duration::from_secs(30),
            ..HandlerConfig::default()
        };
        let t_connect = std::time::Instant::now();
        let connected = Browser::connect_with_config(ws_url.clone(), config).await;
        tracing::debug!(
            ms = t_connect.elapsed().as_millis() as u64,
            "engine connected"
        );
        let (browser, mut handler) = match connected {
            Ok(x) => x,
            Err(e) => {
                if let Some(p) = process.as_mut().and_then(|p| p.kill.take()) {
                    let _ = p.send(());
                }
                return Err(BrowserError::Connect {
                    url: ws_url,
                    detail: e.to_string(),
                });
            }
        };
        let exit_tx = if attached {
            let (tx, rx) = watch::channel(None);
            exit_rx = rx;
            Some(tx)
        } else {
            None
        };
        let handler_task = tokio::spawn(async move {
            // Errors are per message (an event Chrome 156 sends that the generated types do
            // not parse); the loop only ends when the connection does.
            while let Some(r) = handler.next().await {
                if let Err(e) = r {
                    tracing::debug!("CDP handler: {e}");
                }
            }
            if let Some(tx) = exit_tx {
                let _ = tx.send(Some(BrowserExit::Disconnected));
            }
        });
        // An attached browser may be named by its `http://host:port` endpoint: our own
        // connections (storage tracking, target events, probes) need the websocket address
        // chromiumoxide found there.
        let endpoint = match endpoint {
            CdpEndpoint::WebSocket(_) => {
                CdpEndpoint::WebSocket(browser.websocket_address().clone())
            }
            mux => mux,
        };
        let browser = Arc::new(browser);
        let tracker = Arc::new(Tracker::default());
        // The browser's answer, then our own connections (page tracking, target events).
        let set_up = async {
            let version = call_browser(&browser, "Browser.getVersion", json!({})).await?;
            let tabs = crate::tabs::TabLink::connect(&endpoint, tracker.clone()).await?;
            let tracker_task = page_events::spawn(tracker.clone(), &endpoint).await?;
            Ok::<_, BrowserError>((version, tabs, tracker_task))
        };
        let t_set_up = std::time::Instant::now();
        let set_up = async {
            let r = set_up.await;
            tracing::debug!(
                ms = t_set_up.elapsed().as_millis() as u64,
                "page connections set up"
            );
            r
        };
        let (version, tabs, tracker_task) = match set_up.await {
            Ok(x) => x,
            Err(e) => {
                handler_task.abort();
                if let Some(p) = process.as_mut().and_then(|p| p.kill.take()) {
                    let _ = p.send(());
                }
                return Err(e);
            }
        };
        Ok(Session {
            browser,
            handler_task,
            tracker_task,
            tracker,
            endpoint,
            transport,
            product: version
                .get("product")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned(),
            process,
            exit_rx,
            tabs,
            file_watch: None,
        })
    }

    /// Where the browser's CDP is reached: what a relay connects its clients to. A launched
    /// browser's is its pipe's multiplexer; never hand a [`CdpEndpoint::WebSocket`] of a
    /// launched browser to other users (it is Chrome's own unguarded port).
    pub fn cdp_endpoint(&self) -> CdpEndpoint {
        self.endpoint.clone()
    }

    /// Which transport the browser speaks CDP over.
    pub fn transport(&self) -> Transport {
        self.transport
    }

    /// A websocket URL for one more CDP client of this browser (Playwright's
    /// `connectOverCDP` accepts it). Over a pipe: a one-time endpoint for exactly one
    /// connection, guarded by a random token (see the multiplexer's endpoint); otherwise
    /// Chrome's own websocket URL.
    pub async fn client_ws_url(&self) -> Result<String, BrowserError> {
        match &self.endpoint {
            CdpEndpoint::WebSocket(url) => Ok(url.clone()),
            CdpEndpoint::Mux(mux) => {
                mux.one_time_endpoint()
                    .await
                    .map_err(|e| BrowserError::Connect {
                        url: "the browser's CDP pipe".into(),
                        detail: e.to_string(),
                    })
            }
        }
    }

    /// Process id of the browser we launched; `None` when attached.
    pub fn pid(&self) -> Option<u32> {
        self.process.as_ref().map(|p| p.pid)
    }

    /// The browser's product string, e.g. `Chrome/156.0.8078.79`.
    pub fn product(&self) -> &str {
        &self.product
    }

    /// A watch that becomes `Some` when the browser process exits or crashes (launched), or the
    /// CDP connection closes (attached).
    pub fn exit_watch(&self) -> watch::Receiver<Option<BrowserExit>> {
        self.exit_rx.clone()
    }

    /// A counter that moves whenever the browser's state may have changed: a frame navigated,
    /// a page's localStorage changed (`DOMStorage` events on our own CDP sessions), or Chrome
    /// wrote its cookie or localStorage files. Cookies set by scripts or fetches raise no event
    /// (Chrome writes its cookie file only every 30 s), so a checkpointer also needs a timer.
    pub fn change_watch(&self) -> watch::Receiver<crate::ChangeSignal> {
        self.tracker.changes()
    }

    /// Runs `fut` unless or until the browser goes away: a dead browser fails at once instead
    /// of after chromiumoxide's 30 s request timeout.
    pub(crate) async fn guard<T>(
        &self,
        fut: impl std::future::Future<Output = Result<T, BrowserError>>,
    ) -> Result<T, BrowserError> {
        let mut rx = self.exit_rx.clone();
        let gone = |e: &Option<BrowserExit>| match e {
            Some(BrowserExit::Disconnected) => "connection closed".to_owned(),
            Some(BrowserExit::Exited { code, signal }) => {
                format!("process exited, code {code:?}, signal {signal:?}")
            }
            None => String::new(),
        };
        if let Some(e) = rx.borrow().as_ref() {
            return Err(BrowserError::Gone(gone(&Some(e.clone()))));
        }
        tokio::select! {
            r = fut => r,
            e = rx.wait_for(|e| e.is_some()) => Err(BrowserError::Gone(
                e.map(|e| gone(&e)).unwrap_or_else(|_| "process watcher ended".into()),
            )),
        }
    }

    /// Closes the browser: `Browser.close` (Chrome flushes its profile), waits for the process
    /// to exit, and kills it when that takes longer than 10 s. On an attached session this
    /// closes that browser too; use [`Session::detach`] to leave it running.
    pub async fn close(mut self) -> Result<(), BrowserError> {
        let _ = tokio::time::timeout(
            Duration::from_secs(5),
            call_browser(&self.browser, "Browser.close", json!({})),
        )
        .await;
        let mut rx = self.exit_rx.clone();
        let exited = tokio::time::timeout(CLOSE_TIMEOUT, rx.wait_for(|e| e.is_some()))
            .await
            .is_ok();
        let result = if !exited {
            if let Some(k) = self.process.as_mut().and_then(|p| p.kill.take()) {
                let _ = k.send(());
                let _ = tokio::time::timeout(Duration::from_secs(5), rx.wait_for(|e| e.is_some()))
                    .await;
            }
            Err(BrowserError::Timeout {
                what: "waiting for the browser to exit after Browser.close (it was killed)".into(),
                ms: CLOSE_TIMEOUT.as_millis() as u64,
            })
        } else {
            Ok(())
        };
        self.stop_tasks();
        result
    }

    /// Kills a browser whose state nobody will read (a health check's: its profile directory
    /// is removed next): the kill signal is sent before this returns; the returned future
    /// waits, for at most 5 s, until the process has exited. A graceful `Browser.close`
    /// would spend hundreds of milliseconds flushing files that are thrown away. An attached
    /// browser is only disconnected.
    pub fn kill(mut self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut rx = self.exit_rx.clone();
        let sent = match self.process.as_mut().and_then(|p| p.kill.take()) {
            Some(k) => k.send(()).is_ok(),
            None => false,
        };
        self.stop_tasks();
        async move {
            if sent {
                let _ = tokio::time::timeout(Duration::from_secs(5), rx.wait_for(|e| e.is_some()))
                    .await;
            }
        }
    }

    /// Drops the connection and leaves the browser running (what an attached session's end
    /// does). A browser we launched keeps running until it exits, the tokio runtime that
    /// launched it shuts down (then it is killed, so a daemon that exits leaves no orphan), or
    /// (pipe mode) the last handle on its multiplexer is dropped: Chrome exits when its end of
    /// the pipe closes.
    pub fn detach(mut self) {
        if let Some(p) = self.process.as_mut() {
            // Dropping the sender without sending leaves the process alive.
            p.kill.take();
        }
        self.stop_tasks();
    }

    fn stop_tasks(&mut self) {
        self.tracker_task.abort();
        self.handler_task.abort();
    }
}

impl Drop for Session {
    /// A session dropped without `close` or `detach` must not leave an orphan Chrome.
    fn drop(&mut self) {
        if let Some(k) = self.process.as_mut().and_then(|p| p.kill.take()) {
            let _ = k.send(());
        }
        self.stop_tasks();
    }
}
