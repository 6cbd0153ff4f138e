//! `Session::probe_isolated` (what a login health check runs, in a browser context of its
//! own): the page sees every part of the state (cookies, localStorage, the saved
//! sessionStorage), written without a request to the real server; selectors and texts are
//! reported (and not waited for where the check has failed already); a failed navigation is an error, never a finding; nothing of one probe is seen by
//! the next, or by the browser's own context.

use std::time::Duration;

use pvault_browser::{LaunchOptions, Session};
use pvault_model::{BrowserState, OriginState, StorageItem};

use crate::roundtrip::cookie;
use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_probe_in_a_context_of_its_own_sees_the_whole_state_and_leaves_nothing_behind() {
    let server = TestServer::start().await;
    let host = server.origin.trim_start_matches("http://");
    let host = host.split(':').next().unwrap();
    let mut o = OriginState::new(&server.origin);
    o.local_storage = vec![StorageItem {
        name: TOKEN_KEY.into(),
        value: TOKEN_VALUE.into(),
    }];
    o.session_storage = Some(vec![StorageItem {
        name: "msal.token".into(),
        value: "t-1".into(),
    }]);
    let mut sid = cookie(SID, host);
    sid.value = SID_VALUE.into();
    let state = BrowserState {
        cookies: vec![sid],
        origins: vec![o],
        source: None,
    };
    let dir = tempfile::tempdir().unwrap();
    let (session, _) = Session::launch(LaunchOptions::new(chrome(), dir.path().to_path_buf()))
        .await
        .expect("launch");
    let texts = [
        format!("ls={TOKEN_VALUE}"),
        r#"ss=[["msal.token","t-1"]]"#.into(),
        "ss=[]".into(),
    ];
    let url = server.url("/storage-text");
    let probe = session
        .probe_isolated(
            &state,
            &url,
            // The selector that matches nothing is waited for until this deadline.
            Duration::from_secs(3),
            &["body".into(), "#nowhere".into(), "a[".into()],
            &texts,
            &|_| false,
        )
        .await
        .expect("the page opens");
    assert_eq!(probe.final_url, url);
    assert_eq!(probe.http_status, Some(200));
    assert_eq!(probe.texts, [true, true, false], "{probe:?}");
    assert_eq!(probe.selectors[..2], [Ok(true), Ok(false)], "{probe:?}");
    assert!(
        probe.selectors[2].is_err(),
        "an invalid selector is refused"
    );
    assert!(probe.selectors_waited, "{probe:?}");
    let sent = server.requests("/storage-text");
    let header = sent[0].cookie.clone().unwrap_or_default();
    assert!(header.contains(&format!("{SID}={SID_VALUE}")), "{header}");
    let paths = server.other_requests(&["/storage-text", "/favicon.ico"]);
    assert!(
        paths.is_empty(),
        "the state's writes reached the server: {paths:?}"
    );

    let probe = session
        .probe_isolated(
            &BrowserState::default(),
            &url,
            Duration::from_secs(10),
            &[],
            &texts,
            &|_| false,
        )
        .await
        .expect("the page opens");
    assert_eq!(probe.texts, [false, false, true], "{probe:?}");
    let sent = server.requests("/storage-text");
    assert_eq!(sent[1].cookie, None, "the first probe's cookie stayed");

    // Where the check has already failed at the loaded page's URL, a missing selector is
    // looked for once, not waited for until the (long) deadline.
    let seen = std::sync::Mutex::new(Vec::new());
    let started = std::time::Instant::now();
    let probe = session
        .probe_isolated(
            &state,
            &url,
            Duration::from_secs(120),
            &["body".into(), "#nowhere".into()],
            &[],
            &|u| {
                seen.lock().unwrap().push(u.to_owned());
                true
            },
        )
        .await
        .expect("the page opens");
    assert_eq!(probe.selectors, [Ok(true), Ok(false)], "{probe:?}");
    assert!(!probe.selectors_waited, "{probe:?}");
    assert_eq!(
        *seen.lock().unwrap(),
        std::slice::from_ref(&url),
        "asked at the loaded page's URL"
    );
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "the missing selector was waited for: {:?}",
        started.elapsed()
    );
    // A server that is down: an error naming the navigation, not a page without the login.
    let down = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = down.local_addr().unwrap().port();
    drop(down);
    let err = session
        .probe_isolated(
            &state,
            &format!("http://127.0.0.1:{port}/"),
            Duration::from_secs(10),
            &[],
            &[],
            &|_| false,
        )
        .await
        .expect_err("nothing listens there");
    assert!(err.to_string().contains("ERR_CONNECTION_REFUSED"), "{err}");
    let (own, _) = session.capture().await.unwrap();
    assert!(
        own.cookies.is_empty() && own.origins.is_empty(),
        "the browser's own context got the probe's state: {} cookies, {} origins",
        own.cookies.len(),
        own.origins.len()
    );
    session.close().await.unwrap();
}
