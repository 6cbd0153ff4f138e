//! A connected browser: launch or attach, load state, capture state, close or detach.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use chromiumoxide::handler::HandlerConfig;
use chromiumoxide::{Browser, Page};
use futures::StreamExt;
use pvault_model::{BrowserState, Cookie, OriginState, StorageItem};
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::BrowserError;
use crate::cdp::{call_browser, call_page, http_origin};
use crate::cookies::{cookie_problem, from_get_cookies, key_of, now_unix, to_cookie_param};
use crate::launch::{BrowserExit, ChildProcess, LaunchOptions};
use crate::report::{CaptureReport, LoadMethod, LoadReport, sorted, valid_origins};
use crate::stub::{StubPage, pairs_to_items};
use crate::tracker::{self, Tracker};

/// How long `close` waits for Chrome to exit after `Browser.close` before killing it.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(10);

/// A browser driven over CDP: one we launched, or one we attached to.
pub struct Session {
    /// The chromiumoxide connection (shared with the tracking task).
    browser: Arc<Browser>,
    /// Polls chromiumoxide's handler for as long as the connection lives.
    handler_task: JoinHandle<()>,
    /// Tracks navigations to know which origins may have changed.
    tracker_task: JoinHandle<()>,
    /// Tracking state.
    tracker: Arc<Tracker>,
    /// Chrome's DevTools websocket URL.
    ws_url: String,
    /// `Browser.getVersion`'s `product`, e.g. `Chrome/156.0.8078.79`.
    product: String,
    /// Our child process; `None` when attached.
    process: Option<ChildProcess>,
    /// Becomes `Some` when the browser exits or (attached) the connection closes.
    exit_rx: watch::Receiver<Option<BrowserExit>>,
    /// Watches Chrome's cookie and localStorage files (launched sessions) and bumps the change
    /// signal when Chrome writes them; dropped with the session.
    file_watch: Option<crate::file_watch::FileWatch>,
}

/// How a capture treats origins no live frame shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CaptureMode {
    /// Reuse untouched known data; read touched origins through a stub page.
    Cached,
    /// Read every origin without a live frame through a stub page.
    Uncached,
    /// Never open a page: touched origins without a live frame keep their known data as
    /// updated by storage events (see `tracker.rs`), and stay touched for the next capture.
    Checkpoint,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("ws_url", &self.ws_url)
            .field("product", &self.product)
            .field("pid", &self.pid())
            .finish()
    }
}

impl Session {
    /// Launches Chrome with `opts.state` loaded and verified. The session is usable (and its
    /// `cdp_ws_url` can be handed out) when this returns.
    pub async fn launch(opts: LaunchOptions) -> Result<(Session, LoadReport), BrowserError> {
        let state = opts.state.clone().unwrap_or_default();
        let (origins, bad_origins) = valid_origins(&state.origins);
        let (method, written) = crate::launch::prepare(&opts, origins.clone()).await?;
        let (exit_tx, exit_rx) = watch::channel(None);
        // The start page must see the loaded state, so it is opened over CDP after the load:
        // on the command line Chrome would request it before the cookies are set.
        let mut spawn_opts = opts.clone();
        let start_url = spawn_opts.start_url.take();
        let (process, ws_url) = crate::launch::spawn(&spawn_opts, exit_tx).await?;
        let mut session = match Session::connect(ws_url, Some(process), exit_rx, false).await {
            Ok(s) => s,
            Err(e) => return Err(e),
        };
        session.file_watch =
            crate::file_watch::FileWatch::start(&opts.user_data_dir, session.tracker.clone());
        let report = if method == LoadMethod::OnDisk {
            for o in &origins {
                session
                    .tracker
                    .set_known(&o.origin, sorted(&o.local_storage));
            }
            let (loaded, rejected) = session.load_cookies(&state.cookies).await?;
            LoadReport {
                cookies_loaded: loaded,
                cookies_rejected: rejected,
                origins_loaded: written.len(),
                origins_failed: bad_origins,
                method,
            }
        } else {
            match session.guard(session.load(&state, true)).await {
                Ok(r) => r,
                Err(e) => {
                    session.close().await.ok();
                    return Err(e);
                }
            }
        };
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
        Session::connect(url.to_owned(), None, exit_rx, true).await
    }

    async fn connect(
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
        let connected = Browser::connect_with_config(ws_url.clone(), config).await;
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
        let browser = Arc::new(browser);
        let version = call_browser(&browser, "Browser.getVersion", json!({})).await;
        let version = match version {
            Ok(v) => v,
            Err(e) => {
                handler_task.abort();
                if let Some(p) = process.as_mut().and_then(|p| p.kill.take()) {
                    let _ = p.send(());
                }
                return Err(e);
            }
        };
        let tracker = Arc::new(Tracker::default());
        let tracker_task = tracker::spawn(browser.clone(), tracker.clone());
        Ok(Session {
            browser,
            handler_task,
            tracker_task,
            tracker,
            ws_url,
            product: version
                .get("product")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned(),
            process,
            exit_rx,
            file_watch: None,
        })
    }

    /// Chrome's DevTools websocket URL (what Playwright's `connectOverCDP` accepts).
    pub fn cdp_ws_url(&self) -> &str {
        &self.ws_url
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

    /// Loads `state` into this running browser without disturbing its pages or clients:
    /// cookies with one `Storage.setCookies`, localStorage through a new background stub page.
    pub async fn load_state(&self, state: &BrowserState) -> Result<LoadReport, BrowserError> {
        self.guard(self.load(state, false)).await
    }

    /// `fresh`: the browser had no state before, so what was written is all there is.
    async fn load(&self, state: &BrowserState, fresh: bool) -> Result<LoadReport, BrowserError> {
        let (origins, bad_origins) = valid_origins(&state.origins);
        let cookies = self.load_cookies(&state.cookies);
        let storage = async {
            let mut loaded = 0;
            let mut failed = bad_origins;
            let todo: Vec<&OriginState> = origins
                .iter()
                .filter(|o| !o.local_storage.is_empty())
                .collect();
            if todo.is_empty() {
                return Ok::<_, BrowserError>((loaded, failed));
            }
            let stub = StubPage::open(&self.browser, self.tracker.clone()).await?;
            for o in todo {
                match stub.write(&o.origin, &o.local_storage).await {
                    Ok(()) => {
                        loaded += 1;
                        if fresh {
                            self.tracker.set_known(&o.origin, sorted(&o.local_storage));
                        } else {
                            // Keys already there make the known data partial: read it next time.
                            self.tracker.retouch([o.origin.clone()]);
                        }
                    }
                    Err(e) => failed.push((o.origin.clone(), e.to_string())),
                }
            }
            stub.close(&self.browser).await;
            Ok((loaded, failed))
        };
        let (cookies, storage) = tokio::join!(cookies, storage);
        let (cookies_loaded, cookies_rejected) = cookies?;
        let (origins_loaded, origins_failed) = storage?;
        Ok(LoadReport {
            cookies_loaded,
            cookies_rejected,
            origins_loaded,
            origins_failed,
            method: LoadMethod::StubPage,
        })
    }

    /// Validates, sets with one `Storage.setCookies`, then counts what Chrome kept.
    async fn load_cookies(
        &self,
        cookies: &[Cookie],
    ) -> Result<(usize, Vec<(String, String, String)>), BrowserError> {
        let now = now_unix();
        let mut rejected = Vec::new();
        let mut valid: Vec<&Cookie> = Vec::new();
        for c in cookies {
            match cookie_problem(c, now) {
                Some(reason) => rejected.push((c.name.clone(), c.domain.clone(), reason)),
                None => valid.push(c),
            }
        }
        if valid.is_empty() {
            return Ok((0, rejected));
        }
        let params: Vec<Value> = valid.iter().map(|c| to_cookie_param(c)).collect();
        let batch = call_browser(
            &self.browser,
            "Storage.setCookies",
            json!({"cookies": params}),
        )
        .await;
        if let Err(batch_err) = batch {
            // One bad cookie fails the whole batch: find it by setting them one at a time.
            tracing::debug!("setCookies batch failed ({batch_err}); retrying one by one");
            let mut kept = Vec::new();
            for (c, p) in valid.iter().zip(params) {
                match call_browser(&self.browser, "Storage.setCookies", json!({"cookies": [p]}))
                    .await
                {
                    Ok(_) => kept.push(*c),
                    Err(e) => rejected.push((
                        c.name.clone(),
                        c.domain.clone(),
                        format!("Chrome refused it: {e}"),
                    )),
                }
            }
            valid = kept;
        }
        let now_in = call_browser(&self.browser, "Storage.getCookies", json!({})).await?;
        let (present, _) = from_get_cookies(&now_in);
        let keys: BTreeSet<_> = present.iter().map(key_of).collect();
        let mut loaded = 0;
        for c in valid {
            if keys.contains(&key_of(c)) {
                loaded += 1;
            } else {
                rejected.push((
                    c.name.clone(),
                    c.domain.clone(),
                    "silently dropped by Chrome after Storage.setCookies (e.g. over its limit of 180 cookies per site)".into(),
                ));
            }
        }
        Ok((loaded, rejected))
    }

    /// Captures cookies and the localStorage of every origin that was loaded or that a frame has
    /// been at, without disturbing pages or connected clients.
    pub async fn capture(&self) -> Result<(BrowserState, CaptureReport), BrowserError> {
        self.guard(self.capture_with(CaptureMode::Cached)).await
    }

    /// A capture for a checkpoint: like [`Session::capture`] but it never opens a page, so
    /// nothing a client can see happens. An origin a page wrote to and left since the last
    /// read is taken from the `DOMStorage` events seen meanwhile (counted in
    /// [`CaptureReport::origins_from_events`]); the next full capture reads it exactly.
    pub async fn capture_checkpoint(&self) -> Result<(BrowserState, CaptureReport), BrowserError> {
        self.guard(self.capture_with(CaptureMode::Checkpoint)).await
    }

    /// Like [`Session::capture`] but reads every origin from the browser, reusing nothing:
    /// for verification (it costs a stub-page visit per origin without a live frame).
    pub async fn capture_uncached(&self) -> Result<(BrowserState, CaptureReport), BrowserError> {
        self.guard(self.capture_with(CaptureMode::Uncached)).await
    }

    /// Runs `fut` unless or until the browser goes away: a dead browser fails at once instead
    /// of after chromiumoxide's 30 s request timeout.
    async fn guard<T>(
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

    async fn capture_with(
        &self,
        mode: CaptureMode,
    ) -> Result<(BrowserState, CaptureReport), BrowserError> {
        let mut report = CaptureReport::default();
        let raw = call_browser(&self.browser, "Storage.getCookies", json!({})).await?;
        let (cookies, bad) = from_get_cookies(&raw);
        report.cookies_failed = bad;

        let (touched, known, counts) = self.tracker.take_for_capture();
        let live = self.live_frames().await;
        let mut result: BTreeMap<String, Vec<StorageItem>> = BTreeMap::new();
        let mut need_stub: Vec<String> = Vec::new();
        // Checkpoint mode: origins whose data came from events, left touched for the next read.
        let mut estimated: Vec<String> = Vec::new();
        let all: BTreeSet<String> = known
            .keys()
            .cloned()
            .chain(touched.iter().cloned())
            .chain(live.keys().cloned())
            .collect();
        for origin in all {
            if let Some(pages) = live.get(&origin) {
                match read_live(pages, &origin).await {
                    Some(items) => {
                        report.origins_read_live += 1;
                        result.insert(origin, items);
                    }
                    // The page left the origin between the frame tree and the read (a busy
                    // script does that all the time): a checkpoint must still open no page,
                    // so it takes what the storage events said, as for any origin left.
                    None if mode == CaptureMode::Checkpoint => {
                        report.origins_from_events += 1;
                        estimated.push(origin.clone());
                        if let Some(items) = known.get(&origin) {
                            result.insert(origin, items.clone());
                        }
                    }
                    None => need_stub.push(origin),
                }
            } else if mode == CaptureMode::Checkpoint {
                if touched.contains(&origin) {
                    report.origins_from_events += 1;
                    estimated.push(origin.clone());
                } else {
                    report.origins_reused += 1;
                }
                if let Some(items) = known.get(&origin) {
                    result.insert(origin, items.clone());
                }
            } else if mode == CaptureMode::Uncached
                || touched.contains(&origin)
                || !known.contains_key(&origin)
            {
                need_stub.push(origin);
            } else {
                report.origins_reused += 1;
                result.insert(origin.clone(), known[&origin].clone());
            }
        }
        if !need_stub.is_empty() {
            match StubPage::open(&self.browser, self.tracker.clone()).await {
                Ok(stub) => {
                    for origin in need_stub {
                        match stub.read(&origin).await {
                            Ok(items) => {
                                report.origins_read_stub += 1;
                                result.insert(origin, items);
                            }
                            Err(e) => {
                                self.capture_failed(&mut report, &mut result, &known, origin, e)
                            }
                        }
                    }
                    stub.close(&self.browser).await;
                }
                Err(e) => {
                    for origin in need_stub {
                        self.capture_failed(
                            &mut report,
                            &mut result,
                            &known,
                            origin,
                            e.to_string(),
                        );
                    }
                }
            }
        }
        for (origin, items) in &result {
            if !estimated.contains(origin) {
                self.tracker.set_read(origin, items.clone(), &counts);
            }
        }
        // A frame still at an origin may change it at any moment.
        self.tracker.retouch(live.into_keys().chain(estimated));
        let origins = result
            .into_iter()
            .filter(|(_, items)| !items.is_empty())
            .map(|(origin, local_storage)| OriginState {
                origin,
                local_storage,
                session_storage: None,
                indexed_db: None,
                extra: Default::default(),
            })
            .collect();
        Ok((BrowserState { cookies, origins }, report))
    }

    fn capture_failed(
        &self,
        report: &mut CaptureReport,
        result: &mut BTreeMap<String, Vec<StorageItem>>,
        known: &BTreeMap<String, Vec<StorageItem>>,
        origin: String,
        err: impl ToString,
    ) {
        self.tracker.retouch([origin.clone()]);
        if let Some(k) = known.get(&origin) {
            result.insert(origin.clone(), k.clone());
        }
        report.origins_failed.push((origin, err.to_string()));
    }

    /// Every http(s) origin a frame of a (non-stub) page is at now, with the pages showing it.
    async fn live_frames(&self) -> BTreeMap<String, Vec<Page>> {
        let mut out: BTreeMap<String, Vec<Page>> = BTreeMap::new();
        let Ok(pages) = self.browser.pages().await else {
            return out;
        };
        for page in pages {
            if self.tracker.is_internal(page.target_id().as_ref()) {
                continue;
            }
            let Ok(tree) = call_page(&page, "Page.getFrameTree", json!({})).await else {
                continue;
            };
            let mut stack = vec![tree.get("frameTree").cloned().unwrap_or(Value::Null)];
            while let Some(node) = stack.pop() {
                let url = node
                    .pointer("/frame/url")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                if let Some(o) = http_origin(url) {
                    let e = out.entry(o).or_default();
                    if !e.iter().any(|p| p.target_id() == page.target_id()) {
                        e.push(page.clone());
                    }
                }
                if let Some(children) = node.get("childFrames").and_then(Value::as_array) {
                    stack.extend(children.iter().cloned());
                }
            }
        }
        out
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

    /// Drops the connection and leaves the browser running. A browser we launched keeps running
    /// until it exits or the tokio runtime that launched it shuts down (then it is killed, so
    /// a daemon that exits leaves no orphan).
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

/// Reads an origin's localStorage through a live frame's page session.
async fn read_live(pages: &[Page], origin: &str) -> Option<Vec<StorageItem>> {
    for page in pages {
        let r = call_page(
            page,
            "DOMStorage.getDOMStorageItems",
            json!({"storageId": {"securityOrigin": origin, "isLocalStorage": true}}),
        )
        .await;
        if let Ok(v) = r {
            return Some(pairs_to_items(v.get("entries").unwrap_or(&Value::Null)));
        }
    }
    None
}
