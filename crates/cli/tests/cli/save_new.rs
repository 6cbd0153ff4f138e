//! `--save` into a profile that does not exist creates it and says so: `session start`
//! (plain and `--json`) and `run`, against the autostarted daemon and Debian's Chromium.

use crate::support::Env;

#[test]
fn session_start_save_creates_a_missing_profile_and_says_so() {
    let env = Env::with_vault();
    // Read-only: still not found.
    env.run(&["--json", "session", "start", "--profile", "fresh"])
        .assert_error(3, Some("not_found"));

    let s = env.json(&["session", "start", "--profile", "fresh", "--save"]);
    assert_eq!(s["profile_created"], true, "{s}");
    assert_eq!(s["profile"], "fresh", "{s}");
    let id = s["session_id"].as_str().unwrap().to_owned();
    // JSON.md: session ids are `s` + 12 lowercase hex digits.
    assert!(
        id.len() == 13
            && id.starts_with('s')
            && id[1..]
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')),
        "{id}"
    );
    let stopped = env.json(&["session", "stop", &id]);
    assert!(stopped["snapshot"].is_object(), "{stopped}");

    // Plain output names the created profile.
    let out = env.run(&["session", "start", "--profile", "second", "--save"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.contains("created:    profile second"), "{out:?}");
    let id = out
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("session_id: "))
        .unwrap()
        .to_owned();
    env.json(&["session", "stop", &id, "--discard"]);

    // An existing profile: nothing is created.
    let s = env.json(&["session", "start", "--profile", "fresh", "--save"]);
    assert_eq!(s["profile_created"], false, "{s}");
    env.json(&[
        "session",
        "stop",
        s["session_id"].as_str().unwrap(),
        "--discard",
    ]);
}

#[test]
fn run_save_creates_a_missing_profile_and_says_so_on_stderr() {
    let env = Env::with_vault();
    let out = env.run(&["run", "--profile", "new", "--save", "--", "true"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stderr.contains("created profile new"), "{out:?}");
    let h = env.json(&["profile", "history", "new"]);
    assert_eq!(h["snapshots"].as_array().unwrap().len(), 1, "{h}");
}
