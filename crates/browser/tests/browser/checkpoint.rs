//! What checkpoints stand on: the change signal moves on navigations and on localStorage
//! writes (DOMStorage events on our own CDP sessions), and a checkpoint capture opens no page a
//! connected client could see, yet keeps what a page wrote to an origin and then left.

use std::time::Duration;

use chromiumoxide::cdp::browser_protocol::target::EventTargetCreated;
use futures::StreamExt;
use pvault_browser::LocalStorageLoad;

use crate::support::*;

/// Writes localStorage on `page` until a write moves the change signal: DOMStorage is enabled
/// on our session a moment after the page appears (bounded: 10 s).
async fn until_storage_events_flow(
    page: &chromiumoxide::Page,
    rx: &mut tokio::sync::watch::Receiver<pvault_browser::ChangeSignal>,
) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let seen = rx.borrow_and_update().seq;
        eval(
            page,
            "localStorage.setItem('probe', String(Math.random())), 1",
        )
        .await;
        let moved =
            tokio::time::timeout(Duration::from_millis(500), rx.wait_for(|n| n.seq != seen))
                .await
                .is_ok();
        if moved {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "a localStorage write never moved the change signal"
        );
    }
}

/// Waits until the change counter moves past `seen`.
async fn changed_after(
    rx: &mut tokio::sync::watch::Receiver<pvault_browser::ChangeSignal>,
    seen: u64,
    what: &str,
) {
    tokio::time::timeout(Duration::from_secs(10), rx.wait_for(|n| n.seq != seen))
        .await
        .unwrap_or_else(|_| panic!("the change signal did not move after {what}"))
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn change_signal_moves_on_navigation_and_storage_writes() {
    let server = TestServer::start().await;
    let l = launch(None, LocalStorageLoad::Auto).await;
    let client = Client::connect(&l.session.client_ws_url().await.unwrap()).await;
    let mut changes = l.session.change_watch();

    let seen = changes.borrow_and_update().seq;
    let page = client.open(&server.url("/other")).await;
    changed_after(&mut changes, seen, "a navigation").await;

    // A write with no navigation moves it too.
    until_storage_events_flow(&page, &mut changes).await;
    drop(client);
    l.session.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkpoint_capture_opens_no_page_and_keeps_an_origin_a_page_left() {
    let server = TestServer::start().await;
    let l = launch(None, LocalStorageLoad::Auto).await;
    let client = Client::connect(&l.session.client_ws_url().await.unwrap()).await;
    let page = client.open(&server.url("/login")).await;
    // Make sure our session has DOMStorage enabled on this page before the writes that count.
    let mut changes = l.session.change_watch();
    until_storage_events_flow(&page, &mut changes).await;
    // Events reach our session asynchronously: a checkpoint holds what they told so far (the
    // daemon's checkpointer runs again after each signal), so wait for the removal's.
    let seen = changes.borrow_and_update().seq;
    eval(&page, "localStorage.setItem('later', 'x'), 1").await;
    changed_after(&mut changes, seen, "setItem").await;
    let seen = changes.borrow_and_update().seq;
    eval(&page, "localStorage.removeItem('probe'), 1").await;
    changed_after(&mut changes, seen, "removeItem").await;
    page.goto("about:blank").await.unwrap();

    let mut created = client
        .browser
        .event_listener::<EventTargetCreated>()
        .await
        .unwrap();
    let pages_before = client.browser.pages().await.unwrap().len();
    let (state, report) = l.session.capture_checkpoint().await.unwrap();
    assert_eq!(report.origins_read_stub, 0, "{report:?}");
    assert!(report.origins_from_events >= 1, "{report:?}");
    let o = state
        .origins
        .iter()
        .find(|o| o.origin == server.origin)
        .expect("the origin the page left is in the checkpoint");
    let mut names: Vec<&str> = o.local_storage.iter().map(|i| i.name.as_str()).collect();
    names.sort();
    assert_eq!(names, ["later", TOKEN_KEY]);
    assert!(o.local_storage.iter().any(|i| i.value == TOKEN_VALUE));
    assert!(state.cookies.iter().any(|c| c.name == SID));
    // No target appeared for the client, and its page count is unchanged.
    assert!(
        tokio::time::timeout(Duration::from_millis(300), created.next())
            .await
            .is_err(),
        "a checkpoint capture created a target"
    );
    assert_eq!(client.browser.pages().await.unwrap().len(), pages_before);

    // The origin stays due for an exact read: the full capture reads it (stub page) and
    // agrees with what the events said.
    let (full, report) = l.session.capture().await.unwrap();
    assert!(report.origins_read_stub >= 1, "{report:?}");
    assert_eq!(full.origins, state.origins);
    drop(client);
    l.session.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_the_last_page_is_signalled_and_keeps_session_cookies() {
    let server = TestServer::start().await;
    let l = launch(None, LocalStorageLoad::Auto).await;
    let client = Client::connect(&l.session.client_ws_url().await.unwrap()).await;
    let page = client.open(&server.url("/other")).await;
    eval(&page, "document.cookie = 'sess=1; path=/', 1").await;
    let mut changes = l.session.change_watch();
    // Close every page the client can see (ours excluded: there are none here).
    for p in client.browser.pages().await.unwrap() {
        p.close().await.unwrap();
    }
    tokio::time::timeout(
        Duration::from_secs(10),
        changes.wait_for(|c| c.last_page_closed),
    )
    .await
    .expect("last_page_closed is signalled")
    .unwrap();
    // Chrome 156 would have dropped the session cookie here without the preference written
    // at launch.
    let (state, _) = l.session.capture_checkpoint().await.unwrap();
    assert!(
        state
            .cookies
            .iter()
            .any(|c| c.name == "sess" && c.expires == -1.0),
        "session cookie survives the last page closing"
    );
    // A new page clears the flag.
    let _page = client.open(&server.url("/other")).await;
    tokio::time::timeout(
        Duration::from_secs(10),
        changes.wait_for(|c| !c.last_page_closed),
    )
    .await
    .expect("a new page clears last_page_closed")
    .unwrap();
    drop(client);
    l.session.close().await.unwrap();
}
