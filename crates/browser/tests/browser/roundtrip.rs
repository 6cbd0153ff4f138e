//! Capture → load → capture keeps every field: session, persistent, domain and host-only,
//! SameSite, Secure, httpOnly and partitioned cookies, and unicode localStorage on several
//! origins (fake hosts included: the stub page never reaches them). Invalid cookies and
//! origins are reported with a reason, never silently dropped.

use pvault_browser::{LoadMethod, LocalStorageLoad};
use pvault_model::{BrowserState, Cookie, OriginState, PartitionKey, StorageItem};

use crate::support::*;

pub fn cookie(name: &str, domain: &str) -> Cookie {
    Cookie {
        name: name.into(),
        value: format!("v-{name}"),
        domain: domain.into(),
        path: "/".into(),
        expires: -1.0,
        size: None,
        http_only: false,
        secure: false,
        session: None,
        same_site: None,
        priority: None,
        source_scheme: None,
        source_port: None,
        partition_key: None,
        extra: Default::default(),
    }
}

fn item(k: &str, v: &str) -> StorageItem {
    StorageItem {
        name: k.into(),
        value: v.into(),
    }
}

pub fn origin(o: &str, items: Vec<StorageItem>) -> OriginState {
    OriginState {
        origin: o.into(),
        local_storage: items,
        session_storage: None,
        indexed_db: None,
        extra: Default::default(),
    }
}

fn sample_state() -> BrowserState {
    let in_a_year = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 365 * 86400) as f64
        + 0.25;
    let mut cookies = Vec::new();
    cookies.push(cookie("session", "app.test"));
    let mut c = cookie("persistent", ".app.test");
    c.expires = in_a_year;
    c.http_only = true;
    c.same_site = Some("Lax".into());
    cookies.push(c);
    let mut c = cookie("strict", "app.test");
    c.secure = true;
    c.same_site = Some("Strict".into());
    c.path = "/deep/path".into();
    c.priority = Some("High".into());
    cookies.push(c);
    let mut c = cookie("none", ".other.test");
    c.secure = true;
    c.same_site = Some("None".into());
    c.expires = in_a_year;
    cookies.push(c);
    let mut c = cookie("chips", "embed.test");
    c.secure = true;
    c.same_site = Some("None".into());
    c.partition_key = Some(PartitionKey {
        top_level_site: "https://top.test".into(),
        has_cross_site_ancestor: true,
    });
    cookies.push(c);
    let mut c = cookie("chips-session", "embed.test");
    c.secure = true;
    c.partition_key = Some(PartitionKey {
        top_level_site: "https://top.test".into(),
        has_cross_site_ancestor: false,
    });
    cookies.push(c);
    let mut c = cookie("unicodeish", "127.0.0.1");
    c.value = "a%C3%A9b".into();
    cookies.push(c);
    BrowserState {
        cookies,
        origins: vec![
            origin(
                "https://app.test",
                vec![
                    item("k1", "v1"),
                    item("ünï", "中文 😀"),
                    item("latin", "é ß ÿ"),
                    item("empty", ""),
                ],
            ),
            origin("http://localhost:8123", vec![item("a", "b")]),
            origin(
                "https://other.test",
                (0..30)
                    .map(|i| item(&format!("key{i:02}"), &"x".repeat(i * 10)))
                    .collect(),
            ),
        ],
        source: None,
    }
}

fn key(c: &Cookie) -> (String, String, String) {
    (c.domain.clone(), c.path.clone(), c.name.clone())
}

async fn roundtrip(method: LocalStorageLoad, expect: LoadMethod) {
    let input = sample_state();
    let a = launch(Some(input.clone()), method).await;
    assert_eq!(a.report.method, expect);
    assert_eq!(
        a.report.cookies_loaded,
        input.cookies.len(),
        "{:?}",
        a.report
    );
    assert!(a.report.cookies_rejected.is_empty(), "{:?}", a.report);
    assert_eq!(a.report.origins_loaded, 3);
    // Read every origin back from Chrome: nothing reused from what was loaded.
    let (cap_a, rep) = a.session.capture_uncached().await.unwrap();
    assert!(rep.origins_failed.is_empty(), "{rep:?}");
    assert_eq!(rep.origins_reused, 0);
    // A second capture, after the first one's stub page came and went, sees the same: Chrome
    // deletes session cookies when its last page closes, so the stub page must not be closed
    // when it is the only one (regression: session cookies vanished here).
    let (again, _) = a.session.capture_uncached().await.unwrap();
    assert_eq!(again, cap_a);
    a.session.close().await.unwrap();

    // Every cookie arrived with its value and flags.
    assert_eq!(
        cap_a.cookies.len(),
        input.cookies.len(),
        "{:?}",
        cap_a
            .cookies
            .iter()
            .map(|c| (&c.name, &c.domain, c.expires))
            .collect::<Vec<_>>()
    );
    for c in &input.cookies {
        let got = cap_a
            .cookies
            .iter()
            .find(|g| key(g) == key(c) && g.partition_key == c.partition_key)
            .unwrap_or_else(|| panic!("{} missing", c.name));
        assert_eq!(
            (&got.value, got.http_only, got.secure),
            (&c.value, c.http_only, c.secure),
            "{}",
            c.name
        );
        assert_eq!(got.expires == -1.0, c.expires == -1.0, "{}", c.name);
        if c.expires != -1.0 {
            assert_eq!(got.expires, c.expires, "{}", c.name);
        }
    }
    // localStorage arrived exactly (items are sorted by name in captures).
    let mut want = input.origins.clone();
    for o in &mut want {
        o.local_storage.sort_by(|x, y| x.name.cmp(&y.name));
    }
    want.sort_by(|x, y| x.origin.cmp(&y.origin));
    assert_eq!(cap_a.origins, want);

    // Load the capture into another fresh browser: the second capture equals the first in
    // every field (expires to the fraction, size, priority, sourceScheme, sourcePort...).
    let b = launch(Some(cap_a.clone()), method).await;
    assert!(b.report.cookies_rejected.is_empty(), "{:?}", b.report);
    let (cap_b, _) = b.session.capture_uncached().await.unwrap();
    b.session.close().await.unwrap();
    assert_eq!(cap_b, cap_a);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capture_load_capture_is_lossless_on_disk() {
    roundtrip(LocalStorageLoad::Auto, LoadMethod::OnDisk).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capture_load_capture_is_lossless_stub_page() {
    roundtrip(LocalStorageLoad::StubPage, LoadMethod::StubPage).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_cookies_are_reported_not_dropped() {
    let good = cookie("good", "app.test");
    let mut none_insecure = cookie("none-insecure", "app.test");
    none_insecure.same_site = Some("None".into());
    let mut chips_insecure = cookie("chips-insecure", "app.test");
    chips_insecure.partition_key = Some(PartitionKey {
        top_level_site: "https://top.test".into(),
        has_cross_site_ancestor: false,
    });
    let mut expired = cookie("expired", "app.test");
    expired.expires = 1000.0;
    let mut host = cookie("__Host-x", ".app.test");
    host.secure = true;
    // Passes our checks, but Chrome refuses a name + value over 4096 bytes: the count after
    // setCookies must catch it.
    let mut huge = cookie("huge", "app.test");
    huge.value = "x".repeat(5000);
    let state = BrowserState {
        cookies: vec![good, none_insecure, chips_insecure, expired, host, huge],
        // A path is not part of an origin: reported, not guessed at.
        origins: vec![
            origin("https://app.test/path", vec![item("k", "v")]),
            origin("https://ok.test", vec![item("k", "v")]),
        ],
        source: None,
    };
    let l = launch(Some(state), LocalStorageLoad::Auto).await;
    assert_eq!(l.report.cookies_loaded, 1, "{:?}", l.report);
    assert_eq!(l.report.origins_loaded, 1);
    assert_eq!(l.report.origins_failed.len(), 1);
    assert_eq!(l.report.origins_failed[0].0, "https://app.test/path");
    let names: Vec<&str> = l
        .report
        .cookies_rejected
        .iter()
        .map(|r| r.0.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "none-insecure",
            "chips-insecure",
            "expired",
            "__Host-x",
            "huge"
        ]
    );
    for (name, domain, reason) in &l.report.cookies_rejected {
        assert_eq!(domain.trim_start_matches('.'), "app.test");
        assert!(!reason.is_empty());
        assert!(
            !reason.contains("v-"),
            "reason for {name} leaks the value: {reason}"
        );
    }
    let (cap, _) = l.session.capture().await.unwrap();
    assert_eq!(cap.cookies.len(), 1);
    assert_eq!(cap.cookies[0].name, "good");
    l.session.close().await.unwrap();
}
