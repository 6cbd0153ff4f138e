//! A real Chromium (`--password-store=basic`, so every value is `v10`) logs into the test
//! site and is closed, or left running; the import's cookies equal, field by field, what
//! Chromium's own `Storage.getCookies` returns, and its localStorage what the page stored.
//! The closed profile also checks: the database is version ≥ 24 (so every real value went
//! through the host-digest check and strip), the user's files are byte-for-byte and
//! mtime-for-mtime unchanged by the import, the domain filters on real cookies and origins,
//! and the IndexedDB the page wrote is named as not imported.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, SystemTime};

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

/// Every file under `dir` with its size, modification time and contents: what "the import
/// never writes the user's files" is checked against.
fn tree(dir: &Path) -> BTreeMap<String, (u64, SystemTime, Vec<u8>)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            let m = std::fs::symlink_metadata(&p).unwrap();
            if m.is_dir() {
                stack.push(p);
            } else if m.is_file() {
                out.insert(
                    p.strip_prefix(dir).unwrap().display().to_string(),
                    (m.len(), m.modified().unwrap(), std::fs::read(&p).unwrap()),
                );
            }
        }
    }
    out
}

/// `meta.version` of a cookie database, read without writing it.
fn db_version(path: &Path) -> i64 {
    let c = rusqlite::Connection::open_with_flags(
        format!("file:{}?immutable=1", path.display()),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_URI,
    )
    .unwrap();
    c.query_row("SELECT value FROM meta WHERE key = 'version'", [], |r| {
        r.get::<_, String>(0)
    })
    .unwrap()
    .parse()
    .unwrap()
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
    // IndexedDB, which the import names as left behind.
    let (_, sess) = b.cdp.open_loaded(&server.url("/"));
    let stored = b.cdp.eval(
        &sess,
        "new Promise((ok, err) => { const r = indexedDB.open('app', 1); \
         r.onupgradeneeded = () => r.result.createObjectStore('s'); \
         r.onsuccess = () => { const t = r.result.transaction('s', 'readwrite'); \
           t.objectStore('s').put('v', 'k'); t.oncomplete = () => ok('stored'); t.onerror = err; }; \
         r.onerror = err; })",
    );
    assert_eq!(stored, json!("stored"));
    b.close();

    let before = tree(udd.path());
    let got = import(&options(udd.path(), scratch.path())).expect("import");
    let after = tree(udd.path());
    assert!(
        before == after,
        "the import changed the user's files: {:?}",
        before
            .keys()
            .chain(after.keys())
            .filter(|k| before.get(*k) != after.get(*k))
            .collect::<Vec<_>>()
    );
    let cookies_db = pvault_import::profiles::cookies_path(&udd.path().join("Default")).unwrap();
    assert!(
        db_version(&cookies_db) >= pvault_import::crypto::HOST_DIGEST_VERSION,
        "Chromium's database carries the host digest"
    );
    assert!(
        got.report
            .not_imported
            .iter()
            .any(|l| l.starts_with("IndexedDB of 1 origins")),
        "{:?}",
        got.report.not_imported
    );
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

    // Filters on the real profile: the site's registrable domain (an IP stands for itself)
    // keeps its cookies and origin; excluding it keeps only the example.test cookies.
    let mut o = options(udd.path(), scratch.path());
    o.domains = vec!["127.0.0.1".into()];
    let only_site = import(&o).unwrap();
    assert!(
        only_site
            .state
            .cookies
            .iter()
            .all(|c| c.domain == "127.0.0.1")
    );
    assert_eq!(only_site.state.origins.len(), 1);
    assert_eq!(only_site.report.filtered_cookies, 3);
    let mut o = options(udd.path(), scratch.path());
    o.exclude_domains = vec!["127.0.0.1".into()];
    let rest = import(&o).unwrap();
    let mut names: Vec<_> = rest.state.cookies.iter().map(|c| c.name.as_str()).collect();
    names.sort();
    assert_eq!(names, ["dom", "host", "xsite"]);
    assert!(rest.state.origins.is_empty());
    assert_eq!(rest.report.filtered_origins, 1);
    assert!(
        rest.report
            .not_imported
            .iter()
            .all(|l| !l.contains("IndexedDB")),
        "a filtered-out origin's IndexedDB is not reported: {:?}",
        rest.report.not_imported
    );
    assert_eq!(rest.report.domains.len(), 1);
    assert_eq!(rest.report.domains[0].domain, "example.test");
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
