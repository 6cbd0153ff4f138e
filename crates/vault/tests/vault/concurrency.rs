//! Many readers with one writer on one `Vault` handle (and a second handle on the same file):
//! readers always see complete, self-consistent snapshots and a history that only grows.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use pvault_model::{BrowserState, SnapshotKind};

use crate::common::*;

/// A state whose every part says `n`: n cookies valued `n`, n localStorage keys valued `n`.
fn consistent_state(n: usize) -> BrowserState {
    let mut s = state_with("c");
    s.cookies = (0..n)
        .map(|i| cookie(&format!("c{i}"), &n.to_string(), "example.com"))
        .collect();
    s.origins[0].local_storage = (0..n)
        .map(|i| pvault_model::StorageItem {
            name: format!("k{i}"),
            value: n.to_string(),
        })
        .collect();
    s
}

fn check_consistent(s: &BrowserState) -> usize {
    let n = s.cookies.len();
    assert!(
        s.cookies.iter().all(|c| c.value == n.to_string()),
        "torn cookies"
    );
    assert_eq!(s.origins[0].local_storage.len(), n, "torn storage");
    assert!(
        s.origins[0]
            .local_storage
            .iter()
            .all(|i| i.value == n.to_string())
    );
    n
}

#[test]
fn readers_see_complete_snapshots_while_one_writer_appends() {
    let (t, v) = new_vault();
    v.create_profile("p", None, &Default::default()).unwrap();
    v.append_snapshot("p", &consistent_state(1), SnapshotKind::Capture)
        .unwrap();
    let v = Arc::new(v);
    let other = Arc::new(reopen(&vault_dir(&t)));
    let done = Arc::new(AtomicBool::new(false));
    const WRITES: usize = 60;

    let readers: Vec<_> = (0..6)
        .map(|i| {
            let v = if i % 2 == 0 { v.clone() } else { other.clone() };
            let done = done.clone();
            std::thread::spawn(move || {
                let (mut reads, mut last_seq, mut last_n) = (0u64, 0u64, 0usize);
                loop {
                    let finished = done.load(Ordering::SeqCst);
                    let snap = v.read_snapshot("p", None).unwrap();
                    let n = check_consistent(&snap.state);
                    assert_eq!(snap.info.cookie_count as usize, n);
                    assert!(snap.info.seq >= last_seq, "history went backwards");
                    assert!(n >= last_n);
                    (last_seq, last_n) = (snap.info.seq, n);
                    let h = v.history("p").unwrap();
                    assert!(h.windows(2).all(|w| w[0].seq > w[1].seq));
                    reads += 1;
                    if finished {
                        return (reads, last_n);
                    }
                }
            })
        })
        .collect();

    for n in 2..=WRITES {
        v.append_snapshot("p", &consistent_state(n), SnapshotKind::Checkpoint)
            .unwrap();
    }
    done.store(true, Ordering::SeqCst);
    for r in readers {
        let (reads, last_n) = r.join().unwrap();
        assert!(reads >= 1);
        // The final read started after the last commit, so it must see it.
        assert_eq!(last_n, WRITES);
    }
    assert_eq!(v.history("p").unwrap().len(), 20);
    assert_eq!(v.verify().unwrap().failures.len(), 0);
}
