//! Login health in the vault (vault-format.md 7.5): the sealed definition and result, the
//! logout guard's marks, what "current" means for reads, retention and checkpoint collapsing
//! around a marked snapshot, `accept` and `restore`.

use pvault_model::{HealthDefinition, HealthResult, HealthStatus, SnapshotKind};
use pvault_vault::{Vault, VaultError};

use crate::common::*;
use crate::golden::{golden_health, health_state};

fn guarded(v: &Vault, logged_in: bool, tag: &str, session: &str) -> pvault_vault::Appended {
    v.append_guarded(
        "p",
        &health_state(logged_in, tag),
        SnapshotKind::SessionSave,
        Some(session),
        true,
    )
    .unwrap()
}

fn with_health() -> (tempfile::TempDir, Vault) {
    let (t, v) = new_vault();
    v.unlock(&pass(PASS)).unwrap();
    v.create_profile("p", None, &Default::default()).unwrap();
    v.set_health("p", Some(&golden_health())).unwrap();
    (t, v)
}

#[test]
fn a_logout_is_kept_marked_and_the_login_stays_current_until_accepted() {
    let (_t, v) = with_health();
    v.append_snapshot("p", &health_state(true, "a"), SnapshotKind::Import)
        .unwrap();
    let out = guarded(&v, false, "b", "s1");
    assert!(out.info.logged_out);
    assert_eq!(out.guard_failures.len(), 1);
    assert_eq!(
        out.guard_failures[0].expectation,
        "cookie sid@app.example.com"
    );
    assert_eq!(out.current.as_ref().map(|c| c.seq), Some(1));
    // Nothing is lost, but sessions (no selector) load the login.
    assert_eq!(v.history("p").unwrap().len(), 2);
    assert_eq!(
        v.read_snapshot("p", None).unwrap().state,
        health_state(true, "a")
    );
    assert_eq!(
        v.read_snapshot("p", Some("latest")).unwrap().state,
        health_state(false, "b")
    );
    let info = v.profile("p").unwrap();
    assert_eq!(
        (info.current, info.latest.unwrap().logged_out),
        (Some(1), true)
    );
    // The mark survives a reopen and shows in the history.
    let hist = v.history("p").unwrap();
    assert!(hist[0].logged_out && !hist[1].logged_out);
    // `accept` of an unmarked snapshot is refused; of the marked one makes it current.
    assert!(matches!(
        v.accept("p", Some("1")),
        Err(VaultError::InvalidArgument { .. })
    ));
    let accepted = v.accept("p", None).unwrap();
    assert_eq!((accepted.seq, accepted.logged_out), (2, false));
    assert_eq!(
        v.read_snapshot("p", None).unwrap().state,
        health_state(false, "b")
    );
    assert_eq!(v.profile("p").unwrap().current, None);
    assert!(v.verify().unwrap().findings.is_empty());
}

#[test]
fn the_guard_is_off_without_a_definition_when_asked_or_when_already_logged_out() {
    let (_t, v) = new_vault();
    v.unlock(&pass(PASS)).unwrap();
    v.create_profile("p", None, &Default::default()).unwrap();
    v.append_snapshot("p", &health_state(true, "a"), SnapshotKind::Import)
        .unwrap();
    // No definition: nothing to guard.
    assert!(!guarded(&v, false, "b", "s1").info.logged_out);
    v.set_health("p", Some(&golden_health())).unwrap();
    // The current snapshot fails too: there is no login left to protect.
    assert!(!guarded(&v, false, "c", "s2").info.logged_out);
    v.append_snapshot("p", &health_state(true, "d"), SnapshotKind::Import)
        .unwrap();
    // `guard: false` (a session started with accept_logout).
    let off = v
        .append_guarded(
            "p",
            &health_state(false, "e"),
            SnapshotKind::SessionSave,
            Some("s3"),
            false,
        )
        .unwrap();
    assert!(!off.info.logged_out && off.guard_failures.is_empty());
    // A definition with only browser-side expectations cannot judge a stored state.
    let online = HealthDefinition {
        expect: golden_health().expect.split_off(1),
        ..golden_health()
    };
    v.set_health("p", Some(&online)).unwrap();
    v.append_snapshot("p", &health_state(true, "f"), SnapshotKind::Import)
        .unwrap();
    assert!(!guarded(&v, false, "g", "s4").info.logged_out);
}

#[test]
fn retention_never_removes_the_current_snapshot_and_restore_makes_a_copy_current() {
    let (_t, v) = with_health();
    v.append_snapshot("p", &health_state(true, "a"), SnapshotKind::Import)
        .unwrap();
    // Retention is 20: fill it with marked snapshots, and more.
    for i in 0..22 {
        assert!(
            guarded(&v, false, &format!("m{i}"), &format!("s{i}"))
                .info
                .logged_out
        );
    }
    let hist = v.history("p").unwrap();
    assert_eq!(hist.len(), 20);
    assert_eq!(
        hist.last().unwrap().seq,
        1,
        "the current snapshot was pruned"
    );
    assert_eq!(
        v.read_snapshot("p", None).unwrap().state,
        health_state(true, "a")
    );
    assert!(v.verify().unwrap().findings.is_empty());
    // `accept` of a marked snapshot older than... none here; restore a marked one instead.
    let marked = hist[5].seq.to_string();
    let restored = v.restore("p", &marked).unwrap();
    assert!(!restored.logged_out);
    assert_eq!(v.read_snapshot("p", None).unwrap().info.seq, restored.seq);
    assert!(v.verify().unwrap().findings.is_empty());
}

#[test]
fn a_marked_final_snapshot_keeps_the_sessions_current_checkpoint() {
    let (_t, v) = with_health();
    v.append_snapshot("p", &health_state(true, "a"), SnapshotKind::Import)
        .unwrap();
    // The session's checkpoint was still logged in: it is the newest login.
    let cp = v
        .append_guarded(
            "p",
            &health_state(true, "cp"),
            SnapshotKind::Checkpoint,
            Some("s"),
            true,
        )
        .unwrap();
    assert!(!cp.info.logged_out);
    let end = guarded(&v, false, "end", "s");
    assert!(end.info.logged_out);
    assert_eq!(end.current.map(|c| c.seq), Some(cp.info.seq));
    assert_eq!(
        v.read_snapshot("p", None).unwrap().state,
        health_state(true, "cp")
    );
    // Discarding the session drops its checkpoint: the login before it is current again.
    assert_eq!(v.discard_session_checkpoints("p", "s").unwrap(), 1);
    assert_eq!(
        v.read_snapshot("p", None).unwrap().state,
        health_state(true, "a")
    );
    assert!(v.verify().unwrap().findings.is_empty());
    // An accepted snapshot older than the current one is refused, naming restore.
    v.append_snapshot("p", &health_state(true, "z"), SnapshotKind::Import)
        .unwrap();
    let e = v.accept("p", Some(&end.info.seq.to_string())).unwrap_err();
    assert!(e.to_string().contains("restore"), "{e}");
}

#[test]
fn health_definitions_and_results_are_sealed_and_validated() {
    let (t, v) = with_health();
    let bad = HealthDefinition {
        expect: vec![],
        ..golden_health()
    };
    let e = v.set_health("p", Some(&bad)).unwrap_err();
    assert!(matches!(e, VaultError::InvalidArgument { .. }) && e.to_string().contains("expect"));
    let result = |status, at| HealthResult {
        status,
        checked_at: at,
        since: at,
        snapshot_seq: None,
        final_url: None,
        http_status: None,
        failed: vec![],
    };
    let (_, kept) = v
        .record_health("p", &golden_health(), result(HealthStatus::Healthy, 10))
        .unwrap()
        .unwrap();
    assert_eq!(kept.since, 10);
    // Same status: `since` stays at the first check that found it.
    let (prev, kept) = v
        .record_health("p", &golden_health(), result(HealthStatus::Healthy, 20))
        .unwrap()
        .unwrap();
    assert_eq!(
        (prev.unwrap().checked_at, kept.since, kept.checked_at),
        (10, 10, 20)
    );
    // A result checked before the one kept (a clock set back, or two checks recorded out of
    // order) does not move the check time back; its new status began after the kept check.
    let (_, kept) = v
        .record_health("p", &golden_health(), result(HealthStatus::LoggedOut, 15))
        .unwrap()
        .unwrap();
    assert_eq!((kept.checked_at, kept.since), (20, 20));
    let (_, kept) = v
        .record_health("p", &golden_health(), result(HealthStatus::Healthy, 20))
        .unwrap()
        .unwrap();
    assert_eq!((kept.checked_at, kept.since), (20, 20));
    // A result of a definition that changed meanwhile is dropped.
    let other = HealthDefinition {
        url: "https://other.example/".into(),
        ..golden_health()
    };
    assert!(
        v.record_health("p", &other, result(HealthStatus::LoggedOut, 30))
            .unwrap()
            .is_none()
    );
    drop(v);
    let v = reopen(&vault_dir(&t));
    let p = v.profile("p").unwrap();
    assert_eq!(p.health, Some(golden_health()));
    assert_eq!(p.health_result.unwrap().checked_at, 20);
    // Clearing the definition clears its result.
    let p = v.set_health("p", None).unwrap();
    assert_eq!((p.health, p.health_result), (None, None));
}
