//! The product's core promise: log in once, capture, and a fresh browser loaded with that state
//! is logged in — the server receives the httpOnly cookie on the very first request and the page
//! reads its localStorage — with the on-disk method and with the stub-page method.

use pvault_browser::{LoadMethod, LocalStorageLoad};
use pvault_model::BrowserState;

use crate::support::*;

/// Logs in through a second CDP client and captures.
async fn login_and_capture(server: &TestServer) -> BrowserState {
    let l = launch(None, LocalStorageLoad::Auto).await;
    let client = Client::connect(&l.session.client_ws_url().await.unwrap()).await;
    let page = client.open(&server.url("/login")).await;
    assert_eq!(eval(&page, "document.title").await, "logged-in");
    let (state, report) = l.session.capture().await.unwrap();
    assert!(report.origins_failed.is_empty(), "{report:?}");
    assert!(report.cookies_failed.is_empty(), "{report:?}");
    drop(client);
    l.session.close().await.unwrap();
    state
}

async fn check_logged_in(
    server: &TestServer,
    state: BrowserState,
    method: LocalStorageLoad,
    expect: LoadMethod,
) {
    let l = launch(Some(state), method).await;
    assert_eq!(l.report.method, expect);
    assert_eq!(l.report.cookies_loaded, 1, "{:?}", l.report);
    assert!(l.report.cookies_rejected.is_empty());
    assert_eq!(l.report.origins_loaded, 1);
    assert!(l.report.origins_failed.is_empty());
    let before = server.requests("/read").len();
    let client = Client::connect(&l.session.client_ws_url().await.unwrap()).await;
    let page = client.open(&server.url("/read")).await;
    assert_eq!(
        eval(&page, "document.title").await,
        format!("ls:{TOKEN_VALUE}")
    );
    let reqs = server.requests("/read");
    let first = &reqs[before];
    let cookie = first.cookie.as_deref().unwrap_or("");
    assert!(
        cookie.contains(&format!("{SID}={SID_VALUE}")),
        "first request carried {cookie:?}"
    );
    drop(client);
    l.session.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_capture_then_fresh_browser_is_logged_in() {
    let server = TestServer::start().await;
    let state = login_and_capture(&server).await;

    let sid = state
        .cookies
        .iter()
        .find(|c| c.name == SID)
        .expect("httpOnly cookie captured");
    assert!(sid.http_only);
    assert_eq!(sid.value, SID_VALUE);
    assert_eq!(sid.domain, "127.0.0.1");
    let origin = state
        .origins
        .iter()
        .find(|o| o.origin == server.origin)
        .expect("origin captured");
    assert_eq!(origin.local_storage.len(), 1);
    assert_eq!(origin.local_storage[0].name, TOKEN_KEY);
    assert_eq!(origin.local_storage[0].value, TOKEN_VALUE);

    check_logged_in(
        &server,
        state.clone(),
        LocalStorageLoad::Auto,
        LoadMethod::OnDisk,
    )
    .await;
    check_logged_in(
        &server,
        state,
        LocalStorageLoad::StubPage,
        LoadMethod::StubPage,
    )
    .await;
}
