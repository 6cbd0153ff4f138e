//! The protocol crate's rules, each as written in protocol.md: error code names, the wire
//! shape of requests, responses, credentials and events, the framing limits, request
//! parsing, socket/home discovery, and the client's id matching against a scripted server.

use std::ffi::OsString;
use std::path::PathBuf;

use pvault_protocol::frame::{
    Frame, encode_error, encode_request, encode_result, parse_request, read_frame,
};
use pvault_protocol::paths::{home_dir_from, socket_path_from};
use pvault_protocol::*;
use serde_json::{Value, json};

#[test]
fn error_codes_have_stable_snake_case_names() {
    let names: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
    assert_eq!(
        names,
        [
            "invalid_argument",
            "not_found",
            "conflict",
            "busy",
            "locked",
            "auth_failed",
            "too_large",
            "unsupported",
            "browser_error",
            "logged_out",
            "internal",
            "remote_unavailable",
            "remote_tampered"
        ]
    );
    for c in ErrorCode::ALL {
        assert_eq!(serde_json::to_value(c).unwrap(), json!(c.as_str()));
        assert_eq!(ErrorCode::from_wire(c.as_str()), Some(c));
    }
}

#[test]
fn secrets_never_show_in_debug_and_travel_as_documented() {
    let c = Credential::Passphrase(Secret::new("hunter2"));
    assert!(!format!("{c:?}").contains("hunter2"));
    assert_eq!(
        serde_json::to_value(&c).unwrap(),
        json!({"passphrase": "hunter2"})
    );
    let k = Credential::KeyFile(SecretBytes::new(vec![0u8, 1, 2, 255]));
    assert!(!format!("{k:?}").contains("AAEC"));
    assert_eq!(
        serde_json::to_value(&k).unwrap(),
        json!({"key_file": "AAEC/w=="})
    );
    let back: Credential = serde_json::from_value(json!({"key_file": "AAEC/w=="})).unwrap();
    assert_eq!(back, k);
    assert!(serde_json::from_value::<Credential>(json!({"key_file": "not base64!"})).is_err());
    assert!(serde_json::from_value::<Credential>(json!({"password": "x"})).is_err());
}

#[test]
fn request_and_response_lines() {
    let line = encode_request(7, Status::METHOD, &Status {});
    assert_eq!(line, b"{\"id\":7,\"method\":\"status\",\"params\":{}}\n");
    assert_eq!(encode_result(7, &Ack {}), b"{\"id\":7,\"result\":{}}\n");
    let e = encode_error(None, &ErrorBody::new(ErrorCode::TooLarge, "m"));
    assert_eq!(
        e,
        b"{\"id\":null,\"error\":{\"code\":\"too_large\",\"message\":\"m\"}}\n"
    );
    // Advice travels in its own optional member, absent when there is none.
    let e = encode_error(
        Some(2),
        &ErrorBody::new(ErrorCode::Locked, "m").with_hint("run `pvault unlock`"),
    );
    assert_eq!(
        e,
        b"{\"id\":2,\"error\":{\"code\":\"locked\",\"message\":\"m\",\"hint\":\"run `pvault unlock`\"}}\n"
    );
    let back: ErrorBody = serde_json::from_value(json!({"code": "busy", "message": "m"})).unwrap();
    assert_eq!(back.hint, None);
    // Request types name their method through the one method table.
    assert_eq!(Hello::KIND, Method::Hello);
    assert_eq!(ProfileImport::METHOD, Method::ProfileImport.name());
    assert_eq!(SessionAttach::KIND.name(), "session.attach");
}

#[test]
fn the_method_table_lists_every_documented_method_once_by_name() {
    let names: Vec<&str> = Method::ALL.iter().map(|m| m.name()).collect();
    assert_eq!(
        names,
        [
            "hello",
            "status",
            "subscribe",
            "daemon.shutdown",
            "vault.init",
            "vault.unlock",
            "vault.lock",
            "vault.passwd",
            "vault.verify",
            "vault.backup",
            "profile.create",
            "profile.list",
            "profile.show",
            "profile.rename",
            "profile.update",
            "profile.delete",
            "profile.import",
            "profile.import_browser",
            "profile.export",
            "profile.history",
            "profile.diff",
            "profile.restore",
            "profile.health.set",
            "profile.health.show",
            "profile.health.clear",
            "profile.check",
            "profile.accept",
            "session.start",
            "session.list",
            "session.show",
            "session.stop",
            "session.capture",
            "session.load",
            "session.attach",
            "remote.add",
            "remote.list",
            "remote.remove",
            "remote.status",
            "remote.export_key",
            "profile.link",
            "profile.pull",
        ]
    );
    for &m in Method::ALL {
        assert_eq!(Method::from_name(m.name()), Some(m));
    }
    assert_eq!(Method::from_name("session.loads"), None);
    assert_eq!(Method::from_name("Session.load"), None);
}

#[test]
fn import_browser_params_default_as_documented_and_refuse_unknown_fields() {
    let p: ProfileImportBrowser =
        serde_json::from_value(json!({"name": "gh", "browser": "chromium"})).unwrap();
    assert!(p.create && !p.dry_run && !p.skip_undecryptable);
    assert!(p.domains.is_empty() && p.dbus_address.is_none() && p.user_data_dir.is_none());
    assert_eq!(
        serde_json::to_value(&p).unwrap(),
        json!({"name": "gh", "browser": "chromium", "create": true})
    );
    let bad = serde_json::from_value::<ProfileImportBrowser>(
        json!({"name": "gh", "browser": "chromium", "domain": ["x.com"]}),
    );
    assert!(bad.is_err(), "`domain` (not `domains`) must be refused");
    assert_eq!(ProfileImportBrowser::METHOD, "profile.import_browser");
}

#[test]
fn events_are_tagged_with_event_and_data() {
    let v = serde_json::to_value(Event::VaultLocked {
        reason: LockReason::Idle,
    })
    .unwrap();
    assert_eq!(
        v,
        json!({"event": "vault.locked", "data": {"reason": "idle"}})
    );
}

#[test]
fn parse_request_rules() {
    let ok = parse_request(br#"{"id":3,"method":"status"}"#).unwrap();
    assert_eq!((ok.id, ok.method, ok.params.get()), (3, "status", "{}"));
    let ok = parse_request(br#"{"id":9007199254740991,"method":"x","params":null}"#).unwrap();
    assert_eq!(ok.params.get(), "{}");
    for bad in [
        &b"{\"id\":9007199254740992,\"method\":\"x\"}"[..],
        b"{\"id\":-1,\"method\":\"x\"}",
        b"{\"id\":\"1\",\"method\":\"x\"}",
        b"{\"method\":\"x\"}",
        b"[1]",
        b"",
        b"\xff",
    ] {
        let f = parse_request(bad).unwrap_err();
        assert_eq!(f.id, None);
        assert_eq!(f.error.code, ErrorCode::InvalidArgument);
    }
    let f = parse_request(br#"{"id":4,"method":"x","params":[1]}"#).unwrap_err();
    assert_eq!(f.id, Some(4));
    let f = parse_request(br#"{"id":4}"#).unwrap_err();
    assert_eq!(f.id, Some(4));
    let f =
        parse_request(br#"{"id":5,"method":"x","params":{"v":"SECRETVALUE"},"zz":1}"#).unwrap_err();
    assert!(!f.error.message.contains("SECRETVALUE"));
}

#[tokio::test]
async fn framing_bounds_lines_before_buffering() {
    let input: &[u8] = b"{\"a\":1}\r\n{\"b\":2}\npartial";
    let mut r = tokio::io::BufReader::with_capacity(4, input);
    let mut buf = Vec::new();
    assert_eq!(
        read_frame(&mut r, &mut buf, 100).await.unwrap(),
        Frame::Line
    );
    assert_eq!(buf, b"{\"a\":1}");
    assert_eq!(
        read_frame(&mut r, &mut buf, 100).await.unwrap(),
        Frame::Line
    );
    assert_eq!(buf, b"{\"b\":2}");
    assert_eq!(
        read_frame(&mut r, &mut buf, 100).await.unwrap(),
        Frame::Truncated
    );
    assert_eq!(read_frame(&mut r, &mut buf, 100).await.unwrap(), Frame::Eof);

    // Exactly the limit passes; one byte more is too long, and the buffer stays bounded.
    let mut at = vec![b'x'; 64];
    at.push(b'\n');
    let mut r = tokio::io::BufReader::with_capacity(8, &at[..]);
    assert_eq!(read_frame(&mut r, &mut buf, 64).await.unwrap(), Frame::Line);
    let over = vec![b'x'; 10_000];
    let mut r = tokio::io::BufReader::with_capacity(8, &over[..]);
    assert_eq!(
        read_frame(&mut r, &mut buf, 64).await.unwrap(),
        Frame::TooLong
    );
    assert!(buf.len() <= 65, "buffered {} bytes", buf.len());
    assert_eq!(MAX_MESSAGE_BYTES, 64 * 1024 * 1024);
}

#[test]
fn socket_and_home_discovery_order() {
    let env = |pairs: &'static [(&'static str, &'static str)]| {
        move |k: &str| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| OsString::from(v))
        }
    };
    let e = env(&[
        ("PVAULT_SOCKET", "/s/x.sock"),
        ("XDG_RUNTIME_DIR", "/run/user/1"),
    ]);
    assert_eq!(socket_path_from(&e, 1), PathBuf::from("/s/x.sock"));
    let e = env(&[("PVAULT_SOCKET", ""), ("XDG_RUNTIME_DIR", "/run/user/1")]);
    assert_eq!(
        socket_path_from(&e, 1),
        PathBuf::from("/run/user/1/pvault/pvaultd.sock")
    );
    let e = env(&[]);
    assert_eq!(
        socket_path_from(&e, 42),
        PathBuf::from("/tmp/pvault-42/pvaultd.sock")
    );

    let e = env(&[
        ("PVAULT_HOME", "/h"),
        ("XDG_DATA_HOME", "/d"),
        ("HOME", "/home/u"),
    ]);
    assert_eq!(home_dir_from(&e).unwrap(), PathBuf::from("/h"));
    let e = env(&[("XDG_DATA_HOME", "/d"), ("HOME", "/home/u")]);
    assert_eq!(home_dir_from(&e).unwrap(), PathBuf::from("/d/pvault"));
    let e = env(&[("HOME", "/home/u")]);
    assert_eq!(
        home_dir_from(&e).unwrap(),
        PathBuf::from("/home/u/.local/share/pvault")
    );
    assert!(home_dir_from(&env(&[])).is_err());
}

/// A scripted server answering out of order: the client must match responses by id.
#[tokio::test]
async fn client_matches_out_of_order_responses_by_id() {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sock");
    let listener = tokio::net::UnixListener::bind(&path).unwrap();
    let server = tokio::spawn(async move {
        let (s, _) = listener.accept().await.unwrap();
        let (r, mut w) = s.into_split();
        let mut lines = tokio::io::BufReader::new(r).lines();
        let hello: Value =
            serde_json::from_str(&lines.next_line().await.unwrap().unwrap()).unwrap();
        assert_eq!(hello["method"], "hello");
        assert_eq!(hello["params"]["protocol"], 1);
        let resp = json!({"id": hello["id"], "result": {"protocol": {"major": 1, "minor": 0}, "daemon_version": "t", "pid": 1}});
        w.write_all(format!("{resp}\n").as_bytes()).await.unwrap();
        let x: Value = serde_json::from_str(&lines.next_line().await.unwrap().unwrap()).unwrap();
        let y: Value = serde_json::from_str(&lines.next_line().await.unwrap().unwrap()).unwrap();
        let (a, b) = if x["method"] == "vault.lock" {
            (x, y)
        } else {
            (y, x)
        };
        assert_eq!(b["method"], "profile.show");
        // Answer the second first, with an error; then an event; then the first.
        let eb = json!({"id": b["id"], "error": {"code": "not_found", "message": "no"}});
        let ev = json!({"event": "vault.unlocked", "data": {"vault_id": "v"}});
        let unknown = json!({"event": "some.future.event", "data": {}});
        let ea = json!({"id": a["id"], "result": {}});
        w.write_all(format!("{eb}\n{unknown}\n{ev}\n{ea}\n").as_bytes())
            .await
            .unwrap();
        w
    });
    let c = client::Client::connect(&path).await.unwrap();
    assert_eq!(c.daemon().daemon_version, "t");
    let show = ProfileShow { name: "x".into() };
    let (ra, rb) = tokio::join!(c.call(&VaultLock {}), c.call(&show));
    assert_eq!(ra.unwrap(), Ack {});
    assert_eq!(rb.unwrap_err().code(), Some(ErrorCode::NotFound));
    drop(server.await.unwrap());
    // The server closed: later calls fail as Closed, not hang.
    let e = c.call(&Status {}).await.unwrap_err();
    assert!(matches!(e, client::ClientError::Closed { .. }), "{e}");
}

#[test]
fn verify_findings_are_typed_and_forward_compatible() {
    let f = VerifyFinding {
        profile: "ab".repeat(16),
        snapshot: None,
        seq: Some(2),
        record: FindingRecord::History,
        kind: FindingKind::Missing,
        column: None,
        code: None,
        message: "profiles[…].history (seq 2): snapshot seq 2 is missing (deleted)".into(),
    };
    let wire = serde_json::to_value(&f).unwrap();
    assert_eq!(
        wire,
        json!({"profile": "ab".repeat(16), "seq": 2, "record": "history", "kind": "missing",
               "message": f.message})
    );
    assert_eq!(serde_json::from_value::<VerifyFinding>(wire).unwrap(), f);
    // A newer daemon's record or kind reads as `other` (its message still says it all).
    let newer: VerifyFinding = serde_json::from_value(json!({"profile": "p",
        "record": "keyslot", "kind": "something_new", "message": "m", "extra": 1}))
    .unwrap();
    assert_eq!(
        (newer.record, newer.kind),
        (FindingRecord::Other, FindingKind::Other)
    );
    // A daemon older than 1.5 sends no `findings`: read as none.
    let old: VaultVerifyResponse =
        serde_json::from_value(json!({"ok": false, "records": 3, "failures": ["x"]})).unwrap();
    assert!(old.findings.is_empty() && old.failures == ["x"]);
    for (kind, name) in [
        (FindingKind::Edited, "edited"),
        (FindingKind::RolledBack, "rolled_back"),
        (FindingKind::AnchorMismatch, "anchor_mismatch"),
        (FindingKind::CurrentMismatch, "current_mismatch"),
        (FindingKind::WentBack, "went_back"),
    ] {
        assert_eq!(serde_json::to_value(kind).unwrap(), name);
    }
    assert_eq!(
        serde_json::to_value(FindingRecord::SnapshotInfo).unwrap(),
        "snapshot_info"
    );
}
