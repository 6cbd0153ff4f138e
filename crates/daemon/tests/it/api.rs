//! Every vault and profile method through the Rust client against the in-process daemon:
//! results, error codes, events, and many requests in flight on one connection.

use pvault_protocol::client::Client;
use pvault_protocol::*;
use serde_json::json;

use crate::harness::{PASS, storage_state};
use crate::lifecycle::start_in_process;

fn pass(p: &str) -> Credential {
    Credential::Passphrase(Secret::new(p))
}

/// Content Playwright's format cannot hold: sessionStorage and a DataView value.
fn full_state() -> serde_json::Value {
    json!({
        "pvault": 1,
        "cookies": [],
        "origins": [{
            "origin": "https://spa.test",
            "localStorage": [],
            "sessionStorage": [{"name": "msal.token", "value": "SECRETSESSION"}],
            "indexedDB": [{"name": "db", "version": 1, "stores": [{
                "name": "s", "autoIncrement": false, "indexes": [], "records": [
                    {"key": "view", "valueEncoded": {"dv": {"b": "AQID"}}},
                    {"key": "plain", "value": {"t": "SECRETIDB"}}]}]}]
        }]
    })
}

fn export(name: &str, format: Option<ExportFormat>, chunked: bool) -> ProfileExport {
    ProfileExport {
        name: name.into(),
        snapshot: None,
        format,
        chunked,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profile_export_formats_and_chunks() {
    let p = start_in_process(|_| {}).await;
    let c = Client::connect(&p.socket).await.unwrap();
    assert_eq!(c.daemon().protocol.minor, 8);
    c.call(&VaultInit {
        credential: pass(PASS),
    })
    .await
    .unwrap();
    c.call(&ProfileImport {
        name: "spa".into(),
        state: full_state(),
        create: true,
    })
    .await
    .unwrap();

    // Playwright's format (the default) leaves out and names, never quoting values.
    let pw = c.call(&export("spa", None, false)).await.unwrap();
    assert!(pw.state.get("pvault").is_none());
    assert!(pw.state["origins"][0].get("sessionStorage").is_none());
    assert_eq!(pw.left_out.len(), 2, "{:?}", pw.left_out);
    assert!(pw.left_out[0].contains("sessionStorage of 1 origin (https://spa.test)"));
    assert!(pw.left_out[1].contains("https://spa.test db/s: 1 record (DataView)"));
    assert!(!pw.left_out.concat().contains("SECRET"));
    assert_eq!(
        c.call(&export("spa", Some(ExportFormat::Playwright), false))
            .await
            .unwrap(),
        pw
    );
    // pvault's format keeps everything.
    let own = c
        .call(&export("spa", Some(ExportFormat::Pvault), false))
        .await
        .unwrap();
    assert_eq!(own.state, full_state());
    assert!(own.left_out.is_empty());
    // Chunked: the same document, in chunk frames before a result without it.
    let (res, doc) = c
        .call_chunked(&export("spa", Some(ExportFormat::Pvault), true))
        .await
        .unwrap();
    assert!(res.state.is_null());
    assert_eq!(res.state_bytes, Some(doc.len() as u64));
    assert_eq!(res.state_chunks, Some(1));
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&doc).unwrap(),
        own.state
    );

    // A snapshot larger than one message (written straight into the vault, as a session's
    // capture could be): too_large unchunked, naming the snapshot; whole in chunks.
    let big = "x".repeat(70 * 1024 * 1024);
    {
        let v = pvault_vault::Vault::open(&p.home()).unwrap();
        v.unlock(&pvault_vault::Credential::Passphrase(
            zeroize::Zeroizing::new(PASS.to_owned()),
        ))
        .unwrap();
        let mut origin = pvault_model::OriginState::new("https://big.test");
        origin.session_storage = Some(vec![pvault_model::StorageItem {
            name: "k".into(),
            value: big.clone(),
        }]);
        v.create_profile("big", None, &Default::default()).unwrap();
        v.append_snapshot(
            "big",
            &pvault_model::BrowserState {
                cookies: vec![],
                origins: vec![origin],
                source: None,
            },
            pvault_model::SnapshotKind::Capture,
        )
        .unwrap();
    }
    let e = c
        .call(&export("big", Some(ExportFormat::Pvault), false))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::TooLarge));
    assert!(e.to_string().contains("snapshot #1 of profile big"), "{e}");
    assert!(e.to_string().contains("chunked"), "{e}");
    let (res, doc) = c
        .call_chunked(&export("big", Some(ExportFormat::Pvault), true))
        .await
        .unwrap();
    assert_eq!(res.state_chunks, Some(5));
    let state: serde_json::Value = serde_json::from_slice(&doc).unwrap();
    assert!(state["origins"][0]["sessionStorage"][0]["value"] == big.as_str());
    // The connection is still fine afterwards.
    c.call(&Status {}).await.unwrap();
    p.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profile_methods_end_to_end() {
    let p = start_in_process(|_| {}).await;
    let c = Client::connect(&p.socket).await.unwrap();
    assert_eq!(c.daemon().protocol.major, PROTOCOL_MAJOR);
    assert_eq!(c.daemon().pid, std::process::id());
    c.call(&VaultInit {
        credential: pass(PASS),
    })
    .await
    .unwrap();

    let created = c
        .call(&ProfileCreate {
            name: "work".into(),
            description: Some("d".into()),
            settings: None,
        })
        .await
        .unwrap();
    assert_eq!(created.profile.name, "work");
    let e = c
        .call(&ProfileCreate {
            name: "work".into(),
            description: None,
            settings: None,
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::Conflict));
    let e = c
        .call(&ProfileCreate {
            name: "bad name/".into(),
            description: None,
            settings: None,
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::InvalidArgument));

    let mut events = c.subscribe().await.unwrap();
    let imp = c
        .call(&ProfileImport {
            name: "work".into(),
            state: storage_state("one"),
            create: false,
        })
        .await
        .unwrap();
    assert!(!imp.created);
    assert_eq!(imp.snapshot.seq, 1);
    match events.recv().await.unwrap() {
        Event::SnapshotSaved {
            profile, snapshot, ..
        } => {
            assert_eq!(profile, "work");
            assert_eq!(snapshot.kind, pvault_model::SnapshotKind::Import);
        }
        other => panic!("unexpected event {other:?}"),
    }
    let e = c
        .call(&ProfileImport {
            name: "nope".into(),
            state: storage_state("x"),
            create: false,
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::NotFound));
    let e = c
        .call(&ProfileImport {
            name: "work".into(),
            state: json!({"cookies": 5}),
            create: false,
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::InvalidArgument));
    let imp2 = c
        .call(&ProfileImport {
            name: "work".into(),
            state: storage_state("two"),
            create: true,
        })
        .await
        .unwrap();
    assert_eq!(imp2.snapshot.seq, 2);

    let exp = c
        .call(&ProfileExport {
            name: "work".into(),
            snapshot: Some("1".into()),
            format: None,
            chunked: false,
        })
        .await
        .unwrap();
    assert_eq!(exp.snapshot.seq, 1);
    assert_eq!(exp.state["cookies"][0]["value"], "secret-one");
    let exp = c
        .call(&ProfileExport {
            name: "work".into(),
            snapshot: None,
            format: None,
            chunked: false,
        })
        .await
        .unwrap();
    assert_eq!(exp.state["origins"][0]["localStorage"][0]["value"], "two");

    let hist = c
        .call(&ProfileHistory {
            name: "work".into(),
        })
        .await
        .unwrap();
    assert_eq!(
        hist.snapshots.iter().map(|s| s.seq).collect::<Vec<_>>(),
        vec![2, 1]
    );
    let diff = c
        .call(&ProfileDiff {
            name: "work".into(),
            from: None,
            to: None,
        })
        .await
        .unwrap();
    assert_eq!((diff.from.seq, diff.to.seq), (1, 2));
    assert!(
        !diff.diff.to_string().contains("secret-"),
        "a diff never carries values"
    );
    assert_ne!(diff.diff["cookiesAdded"], json!([]));

    let rest = c
        .call(&ProfileRestore {
            name: "work".into(),
            snapshot: "1".into(),
        })
        .await
        .unwrap();
    assert_eq!((rest.snapshot.seq, rest.restored_from.seq), (3, 1));
    assert_eq!(rest.snapshot.content_hash, rest.restored_from.content_hash);

    let upd = c
        .call(&ProfileUpdate {
            name: "work".into(),
            clear_description: true,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(upd.profile.description, None);
    let ren = c
        .call(&ProfileRename {
            name: "work".into(),
            new_name: "job".into(),
        })
        .await
        .unwrap();
    assert_eq!(ren.profile.name, "job");
    let list = c
        .call(&ProfileList {
            offset: 0,
            limit: Some(10),
        })
        .await
        .unwrap();
    assert_eq!((list.total, list.profiles.len()), (1, 1));
    c.call(&ProfileDelete { name: "job".into() }).await.unwrap();
    let e = c
        .call(&ProfileShow { name: "job".into() })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::NotFound));

    let v = c.call(&VaultVerify {}).await.unwrap();
    assert!(v.ok, "{:?}", v.failures);

    // Backup: absolute, new file only.
    let dest = p._dir.path().join("backup.db");
    let b = c.call(&VaultBackup { path: dest.clone() }).await.unwrap();
    assert!(b.size_bytes > 0 && dest.exists());
    let e = c.call(&VaultBackup { path: dest }).await.unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::Conflict));

    // Passphrase change: the old one stops working.
    c.call(&VaultPasswd {
        old: pass(PASS),
        new: pass("new pass"),
    })
    .await
    .unwrap();
    c.call(&VaultLock {}).await.unwrap();
    let e = c
        .call(&VaultUnlock {
            credential: pass(PASS),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::AuthFailed));
    c.call(&VaultUnlock {
        credential: pass("new pass"),
    })
    .await
    .unwrap();

    // Session methods answer (the sessions module covers them with a real browser).
    let list = c.call(&SessionList {}).await.unwrap();
    assert!(list.sessions.is_empty());
    drop(c);
    p.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_requests_in_flight_on_one_connection_and_many_connections() {
    let p = start_in_process(|_| {}).await;
    let c = Client::connect(&p.socket).await.unwrap();
    c.call(&VaultInit {
        credential: pass(PASS),
    })
    .await
    .unwrap();
    let mut set = tokio::task::JoinSet::new();
    for i in 0..200 {
        let c = c.clone();
        set.spawn(async move {
            c.call(&ProfileCreate {
                name: format!("p{i:03}"),
                description: None,
                settings: None,
            })
            .await
            .unwrap()
            .profile
            .name
        });
    }
    let mut names = set.join_all().await;
    names.sort();
    assert_eq!(names.len(), 200);
    assert_eq!(names[0], "p000");
    // 20 connections at once.
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let path = p.socket.clone();
        set.spawn(async move {
            let c = Client::connect(&path).await.unwrap();
            c.call(&ProfileList {
                offset: 0,
                limit: None,
            })
            .await
            .unwrap()
            .total
        });
    }
    assert!(set.join_all().await.iter().all(|&t| t == 200));
    drop(c);
    p.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_cap_and_daemon_shutdown_request() {
    let p = start_in_process(|o| o.max_connections = 2).await;
    let a = Client::connect(&p.socket).await.unwrap();
    let _b = Client::connect(&p.socket).await.unwrap();
    let e = Client::connect(&p.socket).await.unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::Busy), "{e}");
    a.call(&DaemonShutdown {}).await.unwrap();
    // serve returns by itself after daemon.shutdown.
    p.task.await.unwrap();
}

#[tokio::test]
async fn handshake_timeout_closes_silent_connections() {
    let p = start_in_process(|o| o.handshake_timeout = std::time::Duration::from_millis(50)).await;
    let mut s = tokio::net::UnixStream::connect(&p.socket).await.unwrap();
    let mut buf = String::new();
    // The daemon speaks first only to say it is closing, then closes.
    let n = tokio::io::AsyncReadExt::read_to_string(&mut s, &mut buf)
        .await
        .unwrap();
    assert!(n > 0 && buf.contains("handshake"), "{buf}");
    p.shutdown().await;
}
