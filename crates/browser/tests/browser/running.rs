//! A running browser: loading into it and capturing from it must not disturb other CDP
//! clients' pages; navigations of other clients' frames are tracked so capture reads origins
//! that changed even after the page left them; a crash is observable on the exit watch.

use pvault_browser::{BrowserExit, LoadMethod, LocalStorageLoad};
use pvault_model::BrowserState;

use crate::roundtrip::{cookie, origin};
use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_into_running_session_leaves_clients_alone() {
    let server = TestServer::start().await;
    let l = launch(None, LocalStorageLoad::Auto).await;
    let client = Client::connect(&l.session.client_ws_url().await.unwrap()).await;
    let page = client.open(&server.url("/other")).await;
    let pages_before = client.browser.pages().await.unwrap().len();

    let mut sid = cookie(SID, "127.0.0.1");
    sid.value = SID_VALUE.into();
    sid.http_only = true;
    let state = BrowserState {
        cookies: vec![sid],
        origins: vec![origin(
            &server.origin,
            vec![pvault_model::StorageItem {
                name: TOKEN_KEY.into(),
                value: TOKEN_VALUE.into(),
            }],
        )],
        source: None,
    };
    let report = l.session.load_state(&state).await.unwrap();
    assert_eq!(report.method, LoadMethod::StubPage);
    assert_eq!(
        (report.cookies_loaded, report.origins_loaded),
        (1, 1),
        "{report:?}"
    );

    // The client's page is where it was and still works; the stub page is gone.
    assert_eq!(eval(&page, "location.pathname").await, "/other");
    assert_eq!(eval(&page, "6 * 7").await, "42");
    wait_for(10, "stub page to close", || async {
        (client.browser.pages().await.unwrap().len() == pages_before).then_some(())
    })
    .await;
    // The stub page made no request to the server.
    assert!(server.requests("/").is_empty());
    // And the loaded state is effective for the client.
    page.goto(server.url("/read")).await.unwrap();
    page.wait_for_navigation().await.unwrap();
    assert_eq!(
        eval(&page, "document.title").await,
        format!("ls:{TOKEN_VALUE}")
    );
    assert!(
        server.requests("/read")[0]
            .cookie
            .as_deref()
            .unwrap_or("")
            .contains(SID_VALUE)
    );
    drop(client);
    l.session.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capture_while_another_client_stays_connected() {
    let server = TestServer::start().await;
    let l = launch(None, LocalStorageLoad::Auto).await;
    let client = Client::connect(&l.session.client_ws_url().await.unwrap()).await;
    // A page of the other client logs in, writes more, then leaves the origin: capture must
    // still read it (tracked navigation, stub page), not forget it.
    let page = client.open(&server.url("/login")).await;
    eval(&page, "localStorage.setItem('later', 'x'), 1").await;
    page.goto("about:blank").await.unwrap();
    let (state, report) = l.session.capture().await.unwrap();
    assert!(report.origins_failed.is_empty(), "{report:?}");
    let o = state
        .origins
        .iter()
        .find(|o| o.origin == server.origin)
        .expect("origin left by the client is captured");
    assert_eq!(o.local_storage.len(), 2);
    assert!(state.cookies.iter().any(|c| c.name == SID && c.http_only));

    // The other client's page keeps working, on the same connection.
    page.goto(server.url("/read")).await.unwrap();
    page.wait_for_navigation().await.unwrap();
    assert_eq!(
        eval(&page, "document.title").await,
        format!("ls:{TOKEN_VALUE}")
    );

    // While a frame is live at the origin, capture reads it there, and sees fresh changes.
    eval(&page, "localStorage.setItem('live', 'y'), 1").await;
    let (state, report) = l.session.capture().await.unwrap();
    assert!(report.origins_read_live >= 1, "{report:?}");
    let o = state
        .origins
        .iter()
        .find(|o| o.origin == server.origin)
        .unwrap();
    assert_eq!(o.local_storage.len(), 3);

    // Nothing touched the origin since: the next capture reuses nothing stale — the live
    // frame is still there, so it is read again and still complete.
    let (again, _) = l.session.capture().await.unwrap();
    assert_eq!(again, state);
    drop(client);
    l.session.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loaded_origins_not_visited_are_reused() {
    let state = BrowserState {
        cookies: vec![],
        origins: vec![origin(
            "https://a.test",
            vec![pvault_model::StorageItem {
                name: "k".into(),
                value: "v".into(),
            }],
        )],
        source: None,
    };
    let l = launch(Some(state.clone()), LocalStorageLoad::Auto).await;
    let (cap, report) = l.session.capture().await.unwrap();
    assert_eq!(report.origins_reused, 1, "{report:?}");
    assert_eq!(report.origins_read_stub, 0);
    assert_eq!(cap.origins, state.origins);
    l.session.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_is_observable() {
    let l = launch(None, LocalStorageLoad::Auto).await;
    let mut exit = l.session.exit_watch();
    assert!(exit.borrow().is_none());
    let pid = l.session.pid().unwrap();
    // SAFETY: kill(2) on our own child's pid.
    assert_eq!(unsafe { libc::kill(pid as i32, libc::SIGKILL) }, 0);
    let got = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        exit.wait_for(|e| e.is_some()),
    )
    .await
    .expect("exit observed")
    .unwrap()
    .clone();
    assert_eq!(
        got,
        Some(BrowserExit::Exited {
            code: None,
            signal: Some(libc::SIGKILL)
        })
    );
    assert!(l.session.capture().await.is_err());
}
