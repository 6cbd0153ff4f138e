//! `config.toml` reload on the real daemon: a valid edit applies, an invalid edit is rejected
//! and the previous configuration kept. Waits on `status`, never a fixed sleep.

use std::time::Duration;

use crate::harness::{Env, wait_for};

#[test]
fn valid_edit_applies_and_invalid_edit_is_rejected() {
    let env = Env::new();
    let d = env.start();
    let mut c = d.session();
    assert_eq!(c.status()["auto_lock_secs"], 3600);
    let cfg = env.home.join("config.toml");

    write_atomic(
        &cfg,
        "auto_lock_secs = 120\nretention = 5\n[browser]\nextra_flags = [\"--lang=en\"]\n",
    );
    wait_for("the valid edit to apply", Duration::from_secs(20), || {
        c.status()["auto_lock_secs"] == 120
    });
    let st = c.status();
    assert_eq!(st["retention"], 5);
    assert!(st["config_error"].is_null());

    // Wrong type: rejected, previous config kept.
    write_atomic(&cfg, "auto_lock_secs = \"soon\"\n");
    wait_for(
        "the invalid edit to be rejected",
        Duration::from_secs(20),
        || !c.status()["config_error"].is_null(),
    );
    let st = c.status();
    assert_eq!(st["auto_lock_secs"], 120);
    assert!(
        st["config_error"]
            .as_str()
            .unwrap()
            .contains("auto_lock_secs"),
        "{st}"
    );

    // Unknown key (a typo): rejected too.
    write_atomic(&cfg, "auto_lock_secs = 60\nretension = 3\n");
    wait_for(
        "the fixed file to apply after a typo",
        Duration::from_secs(20),
        || {
            let st = c.status();
            st["config_error"]
                .as_str()
                .is_some_and(|e| e.contains("retension"))
        },
    );
    assert_eq!(c.status()["auto_lock_secs"], 120);

    // Fixed: applies again.
    write_atomic(&cfg, "auto_lock_secs = 60\n");
    wait_for("the fix to apply", Duration::from_secs(20), || {
        c.status()["auto_lock_secs"] == 60
    });
    assert!(c.status()["config_error"].is_null());
}

/// Writes by rename, as editors do, so the daemon never sees a half-written file.
fn write_atomic(path: &std::path::Path, text: &str) {
    let tmp = path.with_extension("toml.tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}
