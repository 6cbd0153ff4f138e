//! Attaching to a Chromium the user started with `--remote-debugging-port=0`: capture works,
//! and detaching leaves that browser running.

use std::time::Duration;

use pvault_browser::Session;

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attach_capture_detach_leaves_browser_running() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec![
        "--headless".to_owned(),
        "--remote-debugging-port=0".into(),
        format!("--user-data-dir={}", dir.path().display()),
        "--no-first-run".into(),
        "--disable-background-networking".into(),
        "--disable-component-update".into(),
        "--disable-gpu".into(),
        server.url("/login"),
    ];
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        args.push("--no-sandbox".into());
    }
    let mut child = tokio::process::Command::new(chrome())
        .args(&args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // Chrome writes its port and browser path to DevToolsActivePort once it listens.
    let port_file = dir.path().join("DevToolsActivePort");
    let ws = wait_for(90, "DevToolsActivePort", || async {
        let text = std::fs::read_to_string(&port_file).ok()?;
        let mut lines = text.lines();
        let (port, path) = (lines.next()?, lines.next()?);
        Some(format!("ws://127.0.0.1:{port}{path}"))
    })
    .await;
    let session = Session::attach(&ws).await.unwrap();
    assert_eq!(session.pid(), None);
    let (state, _) = wait_for(20, "login page to set its state", || async {
        let (s, r) = session.capture().await.ok()?;
        (s.cookies.iter().any(|c| c.name == SID)
            && s.origins.iter().any(|o| o.origin == server.origin))
        .then_some((s, r))
    })
    .await;
    let o = state
        .origins
        .iter()
        .find(|o| o.origin == server.origin)
        .unwrap();
    assert_eq!(o.local_storage[0].value, TOKEN_VALUE);
    session.detach();

    // Still running and still answering CDP.
    assert!(child.try_wait().unwrap().is_none());
    let again = Session::attach(&ws).await.unwrap();
    assert!(again.product().contains('/'));
    again.detach();
    assert!(child.try_wait().unwrap().is_none());
    child.start_kill().unwrap();
    tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .unwrap()
        .unwrap();
}
