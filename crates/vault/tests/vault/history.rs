//! Snapshot history: append and read back (lossless, unicode, session and partitioned
//! cookies), selectors, history order, seq never reused, retention, restore, checkpoint
//! collapsing per session, content hashes and size limits.

use pvault_model::{BrowserState, SnapshotKind};
use pvault_vault::VaultError;
use sha2::{Digest, Sha256};

use crate::common::*;

#[test]
fn append_and_read_back_exactly() {
    let (t, v) = new_vault();
    v.create_profile("p", None, &Default::default()).unwrap();
    assert!(matches!(
        v.read_snapshot("p", None).unwrap_err(),
        VaultError::SnapshotNotFound { .. }
    ));
    let s = rich_state("rt");
    let info = v
        .append_snapshot("p", &s, SnapshotKind::SessionSave)
        .unwrap();
    assert_eq!(
        (
            info.seq,
            info.kind,
            info.cookie_count,
            info.origin_count,
            info.local_storage_key_count
        ),
        (1, SnapshotKind::SessionSave, 3, 1, 2)
    );
    // content_hash = SHA-256 of version byte 1 ‖ compact JSON of the state.
    let mut enc = vec![1u8];
    enc.extend(serde_json::to_vec(&s).unwrap());
    assert_eq!(info.content_hash, hex::encode(Sha256::digest(&enc)));
    assert_eq!(info.size_bytes, enc.len() as u64);
    let back = v.read_snapshot("p", None).unwrap();
    assert_eq!(
        (back.info.clone(), back.state.clone()),
        (info.clone(), s.clone())
    );
    assert_eq!(back.state.cookies[0].expires.to_bits(), (-1.0f64).to_bits());
    assert_eq!(
        back.state.cookies[1].expires.to_bits(),
        s.cookies[1].expires.to_bits()
    );
    assert_eq!(
        reopen(&vault_dir(&t))
            .read_snapshot("p", Some("1"))
            .unwrap()
            .state,
        s
    );
    // Empty state round-trips too.
    v.append_snapshot("p", &BrowserState::default(), SnapshotKind::Capture)
        .unwrap();
    assert_eq!(
        v.read_snapshot("p", None).unwrap().state,
        BrowserState::default()
    );
}

#[test]
fn selectors_and_history_order() {
    let (_t, v) = new_vault();
    v.create_profile("p", None, &Default::default()).unwrap();
    let infos: Vec<_> = (0..5)
        .map(|i| {
            v.append_snapshot("p", &state_with(&i.to_string()), SnapshotKind::Capture)
                .unwrap()
        })
        .collect();
    let h = v.history("p").unwrap();
    assert_eq!(
        h.iter().map(|i| i.seq).collect::<Vec<_>>(),
        vec![5, 4, 3, 2, 1]
    );
    assert_eq!(h[0], infos[4]);
    let s3 = &infos[2];
    for sel in [
        s3.seq.to_string(),
        s3.id.clone(),
        s3.id[..8].to_string(),
        s3.id.to_uppercase(),
    ] {
        assert_eq!(
            v.read_snapshot("p", Some(&sel)).unwrap().info,
            *s3,
            "selector {sel}"
        );
    }
    assert_eq!(v.read_snapshot("p", Some("latest")).unwrap().info, infos[4]);
    for bad in ["99", "zzzzzz", "abc"] {
        assert_eq!(
            v.read_snapshot("p", Some(bad)).unwrap_err().code(),
            "not_found",
            "{bad}"
        );
    }
    assert_eq!(
        v.read_snapshot("nope", None).unwrap_err().code(),
        "not_found"
    );
}

#[test]
fn retention_keeps_newest_and_seq_is_never_reused() {
    let (_t, v) = new_vault();
    v.create_profile("p", None, &Default::default()).unwrap();
    v.set_retention(3).unwrap();
    assert_eq!(v.set_retention(0).unwrap_err().code(), "invalid_argument");
    for i in 0..7 {
        v.append_snapshot("p", &state_with(&i.to_string()), SnapshotKind::Capture)
            .unwrap();
    }
    let h = v.history("p").unwrap();
    assert_eq!(h.iter().map(|i| i.seq).collect::<Vec<_>>(), vec![7, 6, 5]);
    assert_eq!(v.profile("p").unwrap().snapshot_count, 3);
    assert_eq!(
        v.read_snapshot("p", Some("2")).unwrap_err().code(),
        "not_found"
    );
    v.set_retention(1).unwrap();
    let i8 = v
        .append_snapshot("p", &state_with("8"), SnapshotKind::Capture)
        .unwrap();
    assert_eq!(v.history("p").unwrap(), vec![i8.clone()]);
    // Deleting and recreating a profile starts a new history; an existing one never reuses.
    assert_eq!(v.profile("p").unwrap().latest, Some(i8));
}

#[test]
fn restore_appends_a_copy() {
    let (_t, v) = new_vault();
    v.create_profile("p", None, &Default::default()).unwrap();
    let old = v
        .append_snapshot("p", &rich_state("old"), SnapshotKind::Import)
        .unwrap();
    v.append_snapshot("p", &state_with("new"), SnapshotKind::Capture)
        .unwrap();
    let r = v.restore("p", "1").unwrap();
    assert_eq!((r.seq, r.kind), (3, SnapshotKind::Restore));
    assert_eq!(r.content_hash, old.content_hash);
    assert_ne!(r.id, old.id);
    assert_eq!(v.read_snapshot("p", None).unwrap().state, rich_state("old"));
    let p = v.profile("p").unwrap();
    assert_eq!((p.snapshot_count, p.latest.unwrap().id), (3, r.id));
    assert_eq!(p.cookie_domains, rich_state("old").cookie_domains());
    assert_eq!(v.restore("p", "42").unwrap_err().code(), "not_found");
}

#[test]
fn final_session_snapshot_collapses_its_checkpoints() {
    let (_t, v) = new_vault();
    v.create_profile("p", None, &Default::default()).unwrap();
    let before = v
        .append_snapshot("p", &state_with("0"), SnapshotKind::Import)
        .unwrap();
    for i in 1..=3 {
        v.append_snapshot_for_session(
            "p",
            &state_with(&i.to_string()),
            SnapshotKind::Checkpoint,
            "sess-A",
        )
        .unwrap();
    }
    let other = v
        .append_snapshot_for_session("p", &state_with("b"), SnapshotKind::Checkpoint, "sess-B")
        .unwrap();
    // One checkpoint per session: sess-A's newest, and sess-B's.
    assert_eq!(v.history("p").unwrap().len(), 3);
    let fin = v
        .append_snapshot_for_session("p", &state_with("f"), SnapshotKind::SessionSave, "sess-A")
        .unwrap();
    let seqs: Vec<u64> = v.history("p").unwrap().iter().map(|i| i.seq).collect();
    assert_eq!(seqs, vec![fin.seq, other.seq, before.seq]);
    assert_eq!(
        v.append_snapshot_for_session("p", &state_with("x"), SnapshotKind::Capture, "bad id!")
            .unwrap_err()
            .code(),
        "invalid_argument"
    );
}

#[test]
fn a_checkpoint_replaces_its_sessions_previous_checkpoint() {
    let (_t, v) = new_vault();
    v.set_retention(3).unwrap();
    v.create_profile("p", None, &Default::default()).unwrap();
    let real: Vec<u64> = (0..2)
        .map(|i| {
            v.append_snapshot("p", &state_with(&format!("r{i}")), SnapshotKind::Import)
                .unwrap()
                .seq
        })
        .collect();
    // Many checkpoints of a running session keep the real history within retention.
    let mut last = 0;
    for i in 0..10 {
        last = v
            .append_snapshot_for_session(
                "p",
                &state_with(&format!("c{i}")),
                SnapshotKind::Checkpoint,
                "sess-A",
            )
            .unwrap()
            .seq;
    }
    let h = v.history("p").unwrap();
    let seqs: Vec<u64> = h.iter().map(|i| i.seq).collect();
    assert_eq!(seqs, vec![last, real[1], real[0]]);
    assert_eq!(h[0].kind, SnapshotKind::Checkpoint);
    // The newest checkpoint is the newest state.
    let newest = v.read_snapshot("p", None).unwrap();
    assert_eq!(newest.state, state_with("c9"));
}

#[test]
fn discarding_a_session_drops_its_checkpoint_and_the_newest_is_the_one_before() {
    let (_t, v) = new_vault();
    v.create_profile("p", None, &Default::default()).unwrap();
    let before = v
        .append_snapshot("p", &state_with("0"), SnapshotKind::Import)
        .unwrap();
    v.append_snapshot_for_session("p", &state_with("c"), SnapshotKind::Checkpoint, "sess-A")
        .unwrap();
    let other = v
        .append_snapshot_for_session("p", &state_with("b"), SnapshotKind::Checkpoint, "sess-B")
        .unwrap();
    assert_eq!(v.discard_session_checkpoints("p", "sess-A").unwrap(), 1);
    let seqs: Vec<u64> = v.history("p").unwrap().iter().map(|i| i.seq).collect();
    assert_eq!(seqs, vec![other.seq, before.seq]);
    assert_eq!(v.discard_session_checkpoints("p", "sess-B").unwrap(), 1);
    assert_eq!(v.discard_session_checkpoints("p", "sess-B").unwrap(), 0);
    // The profile's summary names the newest remaining snapshot again.
    let info = v.profile("p").unwrap();
    assert_eq!(info.latest.map(|l| l.seq), Some(before.seq));
    assert_eq!(v.read_snapshot("p", None).unwrap().state, state_with("0"));
    assert_eq!(
        v.discard_session_checkpoints("p", "bad id!")
            .unwrap_err()
            .code(),
        "invalid_argument"
    );
}

#[test]
fn oversized_snapshot_is_refused() {
    let (_t, v) = new_vault();
    v.create_profile("p", None, &Default::default()).unwrap();
    // Past the 256 MiB sealed-body cap: refused, naming the profile, nothing stored.
    let mut s = state_with("big");
    s.origins[0].local_storage[0].value = "x".repeat(256 * 1024 * 1024);
    let e = v
        .append_snapshot("p", &s, SnapshotKind::Import)
        .unwrap_err();
    assert_eq!(e.code(), "too_large");
    assert!(e.to_string().contains("profile \"p\""), "{e}");
    assert!(
        e.to_string()
            .contains("largest origin https://big.example with"),
        "{e}"
    );
    assert_eq!(v.history("p").unwrap().len(), 0);
}

#[test]
fn diff_of_two_stored_snapshots() {
    let (_t, v) = new_vault();
    v.create_profile("p", None, &Default::default()).unwrap();
    let a = state_with("a");
    let mut b = a.clone();
    b.cookies[0].value = "changed".into();
    b.cookies.push(cookie("new", "v", "a.example"));
    b.origins[0].local_storage.push(pvault_model::StorageItem {
        name: "k2".into(),
        value: "x".into(),
    });
    v.append_snapshot("p", &a, SnapshotKind::Capture).unwrap();
    v.append_snapshot("p", &b, SnapshotKind::Capture).unwrap();
    let (s1, s2) = (
        v.read_snapshot("p", Some("1")).unwrap(),
        v.read_snapshot("p", Some("2")).unwrap(),
    );
    let d = pvault_model::diff::diff(&s1.state, &s2.state);
    assert_eq!(d.cookies_added.len(), 1);
    assert_eq!(d.cookies_added[0].name, "new");
    assert_eq!(d.cookies_changed.len(), 1);
    assert_eq!(d.cookies_changed[0].fields, vec!["value"]);
    assert_eq!(d.local_storage[0].added, vec!["k2"]);
    assert!(
        pvault_model::diff::diff(&s2.state, &v.read_snapshot("p", None).unwrap().state).is_empty()
    );
}

#[test]
fn vault_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<pvault_vault::Vault>();
}

/// vault-format.md §6.2: a body's optional top-level `source` (where an import from the
/// user's browser read the state) is sealed with the content, hashed with it, read back, and
/// kept by restore; a body without it reads as `None`; the bytes are exactly the documented
/// encoding (`source` after `origins`, camelCase members).
#[test]
fn an_imports_source_is_kept_in_the_body() {
    let (_t, v) = new_vault();
    v.create_profile("p", None, &Default::default()).unwrap();
    let mut s = state_with("src");
    s.source = Some(pvault_model::StateSource {
        browser: "chromium".into(),
        browser_profile: "Profile 1".into(),
        user_data_dir: "/home/u/.config/chromium".into(),
    });
    let info = v.append_snapshot("p", &s, SnapshotKind::Import).unwrap();
    let mut enc = vec![1u8];
    enc.extend(serde_json::to_vec(&s).unwrap());
    let text = String::from_utf8_lossy(&enc[1..]).into_owned();
    assert!(
        text.ends_with(r#"],"source":{"browser":"chromium","browserProfile":"Profile 1","userDataDir":"/home/u/.config/chromium"}}"#),
        "{text}"
    );
    assert_eq!(info.content_hash, hex::encode(Sha256::digest(&enc)));
    assert_eq!(v.read_snapshot("p", None).unwrap().state, s);
    let restored = v.restore("p", "1").unwrap();
    assert_eq!(
        v.read_snapshot("p", Some(&restored.id))
            .unwrap()
            .state
            .source,
        s.source
    );
    v.append_snapshot("p", &state_with("plain"), SnapshotKind::Capture)
        .unwrap();
    assert_eq!(v.read_snapshot("p", None).unwrap().state.source, None);
}
