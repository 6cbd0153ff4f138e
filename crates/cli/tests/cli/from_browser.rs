//! `pvault profile import NAME --from-browser chromium`, end to end through the real
//! daemon: a real Chromium (`--password-store=basic`) logs into the test site and is closed;
//! a dry run counts without writing; a missing browser profile is `not_found` listing the
//! available ones and stores nothing; the import stores a snapshot of kind `import` whose
//! source names the browser and whose cookies equal Chromium's own `Storage.getCookies`; and
//! a session started from it is logged in.

use std::process::{Command, Stdio};
use std::time::Duration;

use pvault_testkit::{Cdp, SID, TOKEN, TestServer, active_port, chrome, chromium_args, wait_for};
use serde_json::{Value, json};

use crate::support::Env;

/// Runs a user's Chromium on `udd`, logs in, and returns what `Storage.getCookies` reported
/// before closing it cleanly.
fn log_in_and_close(server: &TestServer, udd: &std::path::Path) -> Vec<Value> {
    let mut child = Command::new(chrome())
        .args(chromium_args(udd))
        .arg("--password-store=basic")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("launch chromium");
    let (port, path) = wait_for("DevToolsActivePort", Duration::from_secs(90), || {
        active_port(udd)
    });
    let mut cdp = Cdp::connect(&format!("ws://127.0.0.1:{port}{path}")).unwrap();
    cdp.open(&server.url("/login-all"));
    server.wait("/done", 1);
    let cookies = cdp.cookies();
    let _ = cdp.call("Browser.close", json!({}));
    wait_for("chromium to exit", Duration::from_secs(30), || {
        child.try_wait().unwrap().is_some()
    });
    cookies
}

fn by_key(v: &[Value]) -> Vec<Value> {
    let mut v = v.to_vec();
    v.sort_by_key(|c| format!("{}|{}|{}", c["domain"], c["path"], c["name"]));
    v
}

#[test]
fn import_from_a_real_chromium_gives_a_logged_in_profile() {
    let server = TestServer::start();
    let udd = tempfile::tempdir().unwrap();
    let want = log_in_and_close(&server, udd.path());
    assert!(want.len() >= 6, "{want:?}");
    let udd_s = udd.path().to_str().unwrap();
    let env = Env::with_vault();
    let args = [
        "profile",
        "import",
        "gh",
        "--from-browser",
        "chromium",
        "--user-data-dir",
        udd_s,
    ];

    // Dry run: counts per domain, no values, nothing written.
    let mut dry = args.to_vec();
    dry.push("--dry-run");
    let r = env.json(&dry);
    assert_eq!(r["dry_run"], true);
    assert_eq!(r["report"]["cookies"], want.len());
    assert_eq!(r["report"]["domains"][0]["domain"], "127.0.0.1");
    assert!(!r.to_string().contains(SID) && !r.to_string().contains(TOKEN));
    let human = env.run(&dry);
    assert_eq!(human.code, 0, "{human:?}");
    assert!(
        human.stdout.contains("dry run") && human.stdout.contains("127.0.0.1"),
        "{human:?}"
    );
    assert!(!human.stdout.contains(SID), "{human:?}");
    assert_eq!(env.json(&["profile", "list"])["total"], 0);

    // A browser profile that is not there: not_found naming the ones there are.
    let mut missing = args.to_vec();
    missing.extend(["--browser-profile", "Profile 9", "--json"]);
    let out = env.run(&missing);
    out.assert_error(3, Some("not_found"));
    assert!(out.stderr.contains("\"Default\""), "{out:?}");
    assert_eq!(env.json(&["profile", "list"])["total"], 0);

    // The import.
    let r = env.json(&args);
    assert_eq!(r["created"], true);
    assert_eq!(r["snapshot"]["kind"], "import");
    assert_eq!(r["snapshot"]["cookie_count"], want.len());
    let doc = env.json(&["profile", "export", "gh", "--format", "pvault"]);
    assert_eq!(doc["source"]["browser"], "chromium");
    assert_eq!(doc["source"]["browserProfile"], "Default");
    // Every field as Chromium reported it (pvault's JSON writes CDP's fields; `session`
    // is implied by `expires: -1`, and Playwright's names stand for the same values).
    let got = by_key(doc["cookies"].as_array().unwrap());
    let want = by_key(&want);
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(&want) {
        for k in [
            "name",
            "value",
            "domain",
            "path",
            "httpOnly",
            "secure",
            "size",
            "priority",
            "sourceScheme",
            "sourcePort",
        ] {
            assert_eq!(g[k], w[k], "{k} of {}", w["name"]);
        }
        assert_eq!(
            g["expires"].as_f64(),
            w["expires"].as_f64(),
            "expires of {}",
            w["name"]
        );
        assert_eq!(
            g["sameSite"],
            w.get("sameSite").cloned().unwrap_or(json!("Lax"))
        );
        assert_eq!(
            g.get("partitionKey"),
            w["partitionKey"].get("topLevelSite"),
            "partition of {}",
            w["name"]
        );
    }

    // A session of it is logged in.
    let s = env.json(&["session", "start", "--profile", "gh"]);
    let id = s["session_id"].as_str().unwrap().to_owned();
    let mut cdp = Cdp::connect(s["cdp_ws_url"].as_str().unwrap()).unwrap();
    let page = cdp.open(&server.url("/whoami"));
    let sess = cdp.attach(&page);
    wait_for(
        "the session to be logged in",
        Duration::from_secs(20),
        || cdp.eval(&sess, "document.title") == json!(format!("user:{SID}")),
    );
    let page = cdp.open(&server.url("/app"));
    let sess = cdp.attach(&page);
    wait_for(
        "the session's localStorage",
        Duration::from_secs(20),
        || cdp.eval(&sess, "document.title") == json!(format!("token:{TOKEN}")),
    );
    env.json(&["session", "stop", &id]);
}
