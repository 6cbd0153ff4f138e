//! Web storage events are applied in the order the page made the changes: a burst of
//! set/update/remove and clear/add sequences on one key, made while our first whole read of
//! the origin is in flight, leaves our side with exactly what the page holds, and a checkpoint
//! after the page left takes that.

use pvault_browser::LocalStorageLoad;
use pvault_model::{BrowserState, StorageItem};

use crate::support::*;

/// Rounds of changes on `localStorage` and `sessionStorage` whose order matters (a removal after
/// an update, an addition after a clear), then `done` = `nonce` as the last change of each.
/// Each starts with a clear, so `done` is only held once its own event is applied.
fn burst(nonce: &str) -> String {
    format!(
        "(() => {{ for (const s of [localStorage, sessionStorage]) {{ s.clear(); \
           for (let r = 0; r < 25; r++) {{ \
             s.setItem('k', 'a' + r); s.setItem('k', 'b' + r); s.removeItem('k'); \
             s.setItem('gone', 'x' + r); s.clear(); s.setItem('after', 'y' + r); \
             s.setItem('kept' + (r % 3), 'z' + r); s.removeItem('kept' + ((r + 1) % 3)); \
             s.setItem('u', 'v' + r); s.removeItem('u'); s.setItem('u', 'w' + r); \
           }} \
           s.setItem('done', {nonce:?}); \
         }} return 1; }})()"
    )
}

/// The page's localStorage and sessionStorage, each sorted by key.
async fn page_storage(page: &chromiumoxide::Page) -> (Vec<StorageItem>, Vec<StorageItem>) {
    let json = eval(
        page,
        "JSON.stringify([localStorage, sessionStorage].map(s => Object.entries(s).sort()))",
    )
    .await;
    let v: Vec<Vec<(String, String)>> = serde_json::from_str(&json).unwrap();
    let items = |pairs: &[(String, String)]| -> Vec<StorageItem> {
        pairs
            .iter()
            .map(|(k, v)| StorageItem {
                name: k.clone(),
                value: v.clone(),
            })
            .collect()
    };
    (items(&v[0]), items(&v[1]))
}

/// The origin's localStorage and sessionStorage in `state` (empty when absent).
fn captured(state: &BrowserState, origin: &str) -> (Vec<StorageItem>, Vec<StorageItem>) {
    state
        .origins
        .iter()
        .find(|o| o.origin == origin)
        .map(|o| (o.local_storage.clone(), o.session_items().to_vec()))
        .unwrap_or_default()
}

fn holds_done(items: &[StorageItem], nonce: &str) -> bool {
    items.iter().any(|i| i.name == "done" && i.value == nonce)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_storage_changes_is_checkpointed_exactly() {
    let server = TestServer::start().await;
    let l = launch(None, LocalStorageLoad::Auto).await;
    let client = Client::connect(&l.session.client_ws_url().await.unwrap()).await;
    let page = client.open(&server.url("/other")).await;
    for round in 0..4 {
        if round > 0 {
            page.goto(server.url("/other")).await.unwrap();
        }
        let nonce = format!("n{round}-{}", std::process::id());
        // The first changes of the origin (round 0) start our whole read of it; the second
        // burst comes while that read may still be in flight.
        eval(&page, &burst(&format!("{nonce}-first"))).await;
        eval(&page, &burst(&nonce)).await;
        let (local, session) = page_storage(&page).await;
        assert!(holds_done(&local, &nonce) && holds_done(&session, &nonce));
        // Chrome reports a page's own localStorage writes a moment after they are made (and
        // drops what it has not reported yet when the page navigates): wait, with the page
        // still there, until our side has applied the last change of both areas.
        let (got_local, got_session) = wait_for(10, "our side to see the last change", || async {
            let (l, s) = l.session.known_storage(&server.origin);
            (holds_done(&l, &nonce) && holds_done(&s, &nonce)).then_some((l, s))
        })
        .await;
        assert_eq!(got_local, local, "localStorage, round {round}");
        assert_eq!(got_session, session, "sessionStorage, round {round}");
        // The page leaves: a checkpoint has what the events told.
        page.goto("about:blank").await.unwrap();
        let (state, report) = l.session.capture_checkpoint().await.unwrap();
        assert!(report.origins_from_events >= 1, "{report:?}");
        assert_eq!(captured(&state, &server.origin), (local, session));
    }
    drop(client);
    l.session.close().await.unwrap();
}
