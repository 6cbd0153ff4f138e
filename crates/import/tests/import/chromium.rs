//! A real Chromium (`--password-store=basic`, so every value is `v10`) logs into the test
//! site and is closed, or left running; the import's cookies equal, field by field, what
//! Chromium's own `Storage.getCookies` returns, and its localStorage what the page stored.

use std::time::Duration;

use pvault_import::import;
use pvault_model::Cookie;
use pvault_testkit::{SID, TOKEN, TestServer, wait_for};
use serde_json::json;

use crate::support::{UserBrowser, assert_scratch_empty, options, show, sorted};

/// Cookies no request can set: domain cookies of a fake site, and a partitioned cookie set
/// in a cross-site context (so `hasCrossSiteAncestor` is true).
fn extra_cookies() -> serde_json::Value {
    json!([
        {"name": "dom", "value": "d=1,x", "domain": ".example.test", "path": "/",
         "secure": true, "httpOnly": true, "sameSite": "None", "expires": 4_102_444_800.5},
        {"name": "host", "value": "", "domain": "app.example.test", "path": "/sub",
         "secure": false, "sameSite": "Lax", "priority": "High"},
        {"name": "xsite", "value": "p", "domain": "embed.example.test", "path": "/",
         "secure": true, "sameSite": "None", "expires": 4_102_444_800.0,
         "partitionKey": {"topLevelSite": "https://top.example", "hasCrossSiteAncestor": true}},
    ])
}

fn check_logged_in(cookies: &[Cookie], origins: &[pvault_model::OriginState], server: &TestServer) {
    let sid = cookies
        .iter()
        .find(|c| c.name == "sid")
        .expect("sid imported");
    assert_eq!(sid.value, SID);
    assert!(sid.http_only);
    let o = origins
        .iter()
        .find(|o| o.origin == server.origin)
        .expect("the site's localStorage");
    let item = |k: &str| {
        o.local_storage
            .iter()
            .find(|i| i.name == k)
            .map(|i| i.value.as_str())
    };
    assert_eq!(item("token"), Some(TOKEN));
    assert_eq!(item("unicode"), Some("ünïcødé ✓ 日本"));
}

#[test]
fn closed_browser_imports_every_cookie_field_as_chromium_reports_it() {
    let server = TestServer::start();
    let udd = tempfile::tempdir().unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let mut b = UserBrowser::start(udd.path(), "basic", &[]);
    b.log_in(&server, "/login-all", 1);
    b.cdp.set_cookies(extra_cookies());
    let want = sorted(b.cookies());
    assert!(want.len() >= 9, "{}", show(&want));
    assert!(want.iter().any(|c| c.session == Some(true)));
    assert!(want.iter().any(|c| {
        c.partition_key
            .as_ref()
            .is_some_and(|p| p.has_cross_site_ancestor)
    }));
    assert!(want.iter().any(|c| {
        c.partition_key
            .as_ref()
            .is_some_and(|p| !p.has_cross_site_ancestor)
    }));
    b.close();

    let got = import(&options(udd.path(), scratch.path())).expect("import");
    assert_eq!(show(&sorted(got.state.cookies.clone())), show(&want));
    assert_eq!(sorted(got.state.cookies.clone()), want);
    check_logged_in(&got.state.cookies, &got.state.origins, &server);
    assert_eq!(got.report.encryption.v10, want.len() as u64);
    assert_eq!(got.report.cookies, want.len() as u64);
    assert_eq!(got.report.keyring, None, "basic store needs no keyring");
    let src = got.state.source.expect("source recorded");
    assert_eq!(
        (src.browser.as_str(), src.browser_profile.as_str()),
        ("chromium", "Default")
    );
    assert_scratch_empty(scratch.path());
}

#[test]
fn running_browser_is_read_through_copies_and_left_untouched() {
    let server = TestServer::start();
    let udd = tempfile::tempdir().unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let mut b = UserBrowser::start(udd.path(), "basic", &[]);
    b.log_in(&server, "/login-all", 1);
    // Chromium commits its cookie database every 30 s or every 512 changes: 600 cookies
    // make it commit now (over 10 domains: it keeps at most 180 per domain).
    let filler: Vec<_> = (0..600)
        .map(|i| {
            json!({"name": format!("f{i}"), "value": "x", "domain": format!("filler{}.test", i % 10),
                   "path": "/", "expires": 4_102_444_800.0})
        })
        .collect();
    b.cdp.set_cookies(serde_json::Value::Array(filler));
    let opts = options(udd.path(), scratch.path());
    let got = wait_for(
        "the running browser's files to hold the login",
        Duration::from_secs(60),
        || {
            let i = import(&opts).ok()?;
            let has_ls = i.state.origins.iter().any(|o| o.origin == server.origin);
            let has_sid = i.state.cookies.iter().any(|c| c.name == "sid");
            (has_ls && has_sid).then_some(i)
        },
    );
    check_logged_in(&got.state.cookies, &got.state.origins, &server);
    // Whatever the file holds equals what Chromium reports for those cookies.
    let live = sorted(b.cookies());
    for c in &got.state.cookies {
        let l = live
            .iter()
            .find(|l| (&l.domain, &l.path, &l.name) == (&c.domain, &c.path, &c.name))
            .unwrap_or_else(|| {
                panic!(
                    "{} {} is not live among {} live, {} imported",
                    c.name,
                    c.domain,
                    live.len(),
                    got.state.cookies.len()
                )
            });
        assert_eq!(show(c), show(l));
    }
    // Chromium still works on its files: it reads the login back on a new page.
    let t = b.cdp.open(&server.url("/whoami"));
    let s = b.cdp.attach(&t);
    wait_for("whoami", Duration::from_secs(20), || {
        b.cdp.eval(&s, "document.title") == json!(format!("user:{SID}"))
    });
    assert!(b.child.try_wait().unwrap().is_none(), "chromium still runs");
    assert_scratch_empty(scratch.path());
}
