//! Sessions write nothing outside their 0700 session directory, even when Chrome crashes:
//! under a sandboxed `$HOME`, XDG directories and `$TMPDIR`, a clean session, a session whose
//! renderer and then browser crash (SIGSEGV), and one whose browser aborts (SIGABRT) leave
//! those directories exactly as they were, and their session directories are removed.
//! (Chromium keeps minidumps — process memory, cookies included — and its singleton
//! directory outside the user-data-dir unless told otherwise.)

use std::time::Duration;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::json;

use super::support::*;
use crate::harness::{Env, Raw, wait_for};

/// Every path under `root` (files and directories), relative to it.
fn tree(root: &Path) -> BTreeSet<PathBuf> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeSet<PathBuf>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            let p = e.path();
            out.insert(p.strip_prefix(root).unwrap().to_owned());
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                walk(root, &p, out);
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(root, root, &mut out);
    out
}

fn signal(pid: u32, sig: i32) {
    // SAFETY: kill(2) on a pid of this test's own session's Chrome.
    unsafe { libc::kill(pid as i32, sig) };
}

/// Starts a session with a page open (so it has a renderer); returns (id, browser pid, dir).
fn session_with_a_page(c: &mut Raw, env: &Env) -> (String, u32, PathBuf) {
    let s = c.ok(
        "session.start",
        json!({"start_url": "data:text/html,<title>x</title><p>hello</p>"}),
    );
    let id = s["session"]["session_id"].as_str().unwrap().to_owned();
    let pid = s["session"]["pid"].as_u64().unwrap() as u32;
    (id.clone(), pid, sessions_dir(env).join(id))
}

fn wait_crashed(c: &mut Raw, id: &str) {
    wait_for(
        "the session to be marked crashed",
        Duration::from_secs(30),
        || c.ok("session.show", json!({"session_id": id}))["session"]["state"] == "crashed",
    );
}

#[test]
fn crashed_and_clean_sessions_leave_nothing_outside_their_directory() {
    let env = Env::new();
    let sandbox = env.dir.path().join("sandbox");
    let (home, tmp) = (sandbox.join("home"), sandbox.join("tmp"));
    for d in [&home, &tmp] {
        std::fs::create_dir_all(d).unwrap();
    }
    let var = |p: &Path| p.to_str().unwrap().to_owned();
    let vars = [
        ("HOME", var(&home)),
        ("XDG_CONFIG_HOME", var(&home.join(".config"))),
        ("XDG_CACHE_HOME", var(&home.join(".cache"))),
        ("XDG_DATA_HOME", var(&home.join(".local/share"))),
        ("XDG_STATE_HOME", var(&home.join(".local/state"))),
        ("TMPDIR", var(&tmp)),
    ];
    let extra: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let d = start_daemon(&env, &extra);
    let mut c = d.session();
    c.init();
    let before = tree(&sandbox);

    // A clean session.
    let (id, _, dir) = session_with_a_page(&mut c, &env);
    c.ok("session.stop", json!({"session_id": id}));
    wait_for(
        "the clean session's directory to go",
        Duration::from_secs(20),
        || !dir.exists(),
    );

    // A renderer crash, then the browser's.
    let (id, pid, dir) = session_with_a_page(&mut c, &env);
    wait_for("a renderer", Duration::from_secs(20), || {
        !chrome_processes(&dir, "--type=renderer").is_empty()
    });
    for r in chrome_processes(&dir, "--type=renderer") {
        signal(r, libc::SIGSEGV);
    }
    signal(pid, libc::SIGSEGV);
    wait_crashed(&mut c, &id);
    wait_for(
        "the crashed session's directory to go",
        Duration::from_secs(30),
        || !dir.exists(),
    );

    // An aborting browser.
    let (id, pid, dir) = session_with_a_page(&mut c, &env);
    signal(pid, libc::SIGABRT);
    wait_crashed(&mut c, &id);
    wait_for(
        "the aborted session's directory to go",
        Duration::from_secs(30),
        || !dir.exists(),
    );

    // Every process of those Chromes gone, the crash handler included (it names its database
    // directory, in a session directory or in the sandbox), so nothing writes any more.
    wait_for(
        "every process of the sessions' Chromes to exit",
        Duration::from_secs(30),
        || {
            chrome_processes(&sessions_dir(&env), "").is_empty()
                && chrome_processes(&sandbox, "").is_empty()
        },
    );
    let after = tree(&sandbox);
    let new: Vec<_> = after.difference(&before).collect();
    assert!(
        new.is_empty(),
        "written outside the session directories: {new:#?}"
    );
    assert!(session_dirs(&env).is_empty(), "{:?}", session_dirs(&env));
}
