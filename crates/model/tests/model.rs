//! Integration tests of pvault-model: storageState interop, diff, viewport parsing and the
//! cookie rules the browser crate checks before `Storage.setCookies`.

use pvault_model::storage_state::{MAX_COOKIES, MAX_EXPIRES, MAX_INPUT_BYTES};
use pvault_model::*;

fn cookie(name: &str, value: &str, domain: &str) -> Cookie {
    Cookie {
        name: name.into(),
        value: value.into(),
        domain: domain.into(),
        path: "/".into(),
        expires: -1.0,
        size: None,
        http_only: false,
        secure: true,
        session: Some(true),
        same_site: Some("Lax".into()),
        priority: None,
        source_scheme: None,
        source_port: None,
        partition_key: None,
        extra: Default::default(),
    }
}

/// Fixture files shaped exactly like Playwright's `storageState()` output come back byte for
/// byte, and their content is read as Playwright means it.
mod fixtures {
    use super::*;

    const FILES: [&str; 3] = [
        "playwright-basic.json",
        "playwright-partitioned-indexeddb.json",
        "playwright-empty.json",
    ];

    fn read(name: &str) -> String {
        let p = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(p).unwrap()
    }

    #[test]
    fn export_of_import_is_byte_identical() {
        for f in FILES {
            let text = read(f);
            let state = import_storage_state(text.as_bytes()).unwrap();
            assert_eq!(export_storage_state_string(&state), text, "{f}");
            let as_value: serde_json::Value = serde_json::from_str(&text).unwrap();
            assert_eq!(export_storage_state(&state), as_value, "{f}");
        }
    }

    #[test]
    fn basic_fixture_content() {
        let s = import_storage_state(read("playwright-basic.json").as_bytes()).unwrap();
        assert_eq!(s.cookies.len(), 6);
        assert_eq!(s.cookies[0].session, Some(true));
        assert_eq!(s.cookies[0].expires, -1.0);
        assert_eq!(s.cookies[1].session, Some(false));
        assert_eq!(s.cookies[1].expires, 1798761600.123456);
        assert_eq!(s.cookies[2].same_site.as_deref(), Some("None"));
        assert_eq!(s.cookies[3].name, "");
        assert!(s.cookies[4].value.contains("日本語"));
        assert_eq!(s.origins[0].local_storage[1].name, "");
        assert_eq!(s.local_storage_key_count(), 4);
    }

    #[test]
    fn partition_key_and_indexeddb() {
        let s =
            import_storage_state(read("playwright-partitioned-indexeddb.json").as_bytes()).unwrap();
        let pk = s.cookies[0].partition_key.as_ref().unwrap();
        assert_eq!(pk.top_level_site, "https://example.com");
        assert!(!pk.has_cross_site_ancestor);
        assert!(
            s.cookies[1]
                .partition_key
                .as_ref()
                .unwrap()
                .has_cross_site_ancestor
        );
        let idb = s.origins[0].indexed_db.as_ref().unwrap();
        assert_eq!(idb[0].name, "firebaseLocalStorageDb");
        // Playwright leaves the key of an in-line store out; pvault derives and keeps it.
        assert_eq!(
            idb[0].stores[0].records[0].key,
            Some(serde_json::json!("firebase:authUser:x"))
        );
    }

    #[test]
    fn url_cookies_and_defaults_like_playwright() {
        let input = br#"{"cookies":[
            {"name":"a","value":"1","url":"https://Sub.Example.com:8443/app/page.html?q=1"},
            {"name":"b","value":"2","url":"http://localhost:3000","secure":true},
            {"name":"c","value":"3","url":"https://x.test/dir/"}]}"#;
        let s = import_storage_state(input).unwrap();
        let c = &s.cookies[0];
        assert_eq!(
            (c.domain.as_str(), c.path.as_str(), c.secure),
            ("sub.example.com", "/app/", true)
        );
        assert_eq!(c.expires, -1.0);
        assert_eq!(c.session, Some(true));
        assert!(!c.http_only);
        assert_eq!(c.same_site, None);
        let c = &s.cookies[1];
        // Playwright makes a url cookie secure exactly when the URL is https.
        assert_eq!(
            (c.domain.as_str(), c.path.as_str(), c.secure),
            ("localhost", "/", false)
        );
        assert_eq!(s.cookies[2].path, "/dir/");
        assert!(s.origins.is_empty());
    }

    #[test]
    fn partition_flag_defaults_to_true_and_unknown_fields_survive() {
        let input = br#"{"cookies":[{"name":"a","value":"1","domain":"x.test","path":"/",
            "sameSite":"Lax","partitionKey":"https://top.test","futureField":{"k":[1,2]}}],
            "origins":[{"origin":"https://x.test","localStorage":[],"futureOriginField":7}]}"#;
        let s = import_storage_state(input).unwrap();
        assert!(
            s.cookies[0]
                .partition_key
                .as_ref()
                .unwrap()
                .has_cross_site_ancestor
        );
        let out = export_storage_state(&s);
        assert_eq!(out["cookies"][0]["futureField"]["k"][1], 2);
        assert_eq!(out["cookies"][0]["_crHasCrossSiteAncestor"], true);
        assert_eq!(out["origins"][0]["futureOriginField"], 7);
        assert_eq!(import_storage_state(out.to_string().as_bytes()).unwrap(), s);
    }
}

/// Invalid input is refused with the exact path of the offending field.
mod errors {
    use super::*;

    const OK: &str = r#"{"name":"ok","value":"v","domain":"x.test","path":"/"}"#;

    #[test]
    fn table_of_bad_inputs() {
        let c = |body: &str| format!(r#"{{"cookies":[{OK},{{"name":"n","value":"v",{body}}}]}}"#);
        let o = |body: &str| format!(r#"{{"origins":[{body}]}}"#);
        let cases: Vec<(String, &str)> = vec![
            ("not json".into(), ""),
            ("[]".into(), ""),
            ("null".into(), ""),
            (r#"{"cookies":{}}"#.into(), "cookies"),
            (r#"{"cookies":[1]}"#.into(), "cookies[0]"),
            (
                r#"{"cookies":[{"value":"v","domain":"x","path":"/"}]}"#.into(),
                "cookies[0].name",
            ),
            (
                r#"{"cookies":[{"name":"n","domain":"x","path":"/"}]}"#.into(),
                "cookies[0].value",
            ),
            (
                r#"{"cookies":[{"name":1,"value":"v","domain":"x","path":"/"}]}"#.into(),
                "cookies[0].name",
            ),
            (
                c(r#""url":"https://x.test/","domain":"x.test""#),
                "cookies[1].domain",
            ),
            (
                c(r#""url":"https://x.test/","path":"/""#),
                "cookies[1].path",
            ),
            (c(r#""url":"ftp://x.test/""#), "cookies[1].url"),
            (c(r#""url":"about:blank""#), "cookies[1].url"),
            (c(r#""url":"data:text/html,x""#), "cookies[1].url"),
            (c(r#""url":7"#), "cookies[1].url"),
            (
                c(r#""domain":"x.test","path":"/","sameSite":"strict""#),
                "cookies[1].sameSite",
            ),
            (
                c(r#""domain":"x.test","path":"/","sameSite":null"#),
                "cookies[1].sameSite",
            ),
            (
                c(r#""domain":"x.test","path":"/","expires":"1""#),
                "cookies[1].expires",
            ),
            (
                c(r#""domain":"x.test","path":"/","expires":-2"#),
                "cookies[1].expires",
            ),
            (
                c(r#""domain":"x.test","path":"/","expires":0"#),
                "cookies[1].expires",
            ),
            (
                c(r#""domain":"x.test","path":"/","expires":1e15"#),
                "cookies[1].expires",
            ),
            (c(r#""domain":"x.test","path":"/","expires":1e400"#), ""),
            (
                c(r#""domain":"x.test","path":"/","httpOnly":"yes""#),
                "cookies[1].httpOnly",
            ),
            (
                c(r#""domain":"x.test","path":"/","secure":1"#),
                "cookies[1].secure",
            ),
            (
                c(r#""domain":"x.test","path":"/","partitionKey":{"topLevelSite":"https://a"}"#),
                "cookies[1].partitionKey",
            ),
            (
                c(
                    r#""domain":"x.test","path":"/","partitionKey":"https://a","_crHasCrossSiteAncestor":"no""#,
                ),
                "cookies[1]._crHasCrossSiteAncestor",
            ),
            (
                c(r#""domain":"x.test","path":"/","expires":5,"session":true"#),
                "cookies[1].session",
            ),
            (c(r#""path":"/""#), "cookies[1].domain"),
            (c(r#""domain":"x.test""#), "cookies[1].path"),
            (c(r#""domain":"","path":"/""#), "cookies[1].domain"),
            (r#"{"origins":{}}"#.into(), "origins"),
            (o(r#"{"localStorage":[]}"#), "origins[0].origin"),
            (
                o(r#"{"origin":"https://a.test/","localStorage":[]}"#),
                "origins[0].origin",
            ),
            (
                o(r#"{"origin":"https://a.test/app","localStorage":[]}"#),
                "origins[0].origin",
            ),
            (
                o(r#"{"origin":"a.test","localStorage":[]}"#),
                "origins[0].origin",
            ),
            (
                o(r#"{"origin":"https://a.test:70000","localStorage":[]}"#),
                "origins[0].origin",
            ),
            (
                o(
                    r#"{"origin":"https://a.test","localStorage":[]},{"origin":"https://a.test","localStorage":[]}"#,
                ),
                "origins[1].origin",
            ),
            (
                o(
                    r#"{"origin":"https://a.test","localStorage":[{"name":"k","value":"1"},{"name":"k","value":"2"}]}"#,
                ),
                "origins[0].localStorage[1].name",
            ),
            (
                o(r#"{"origin":"https://a.test","localStorage":[{"name":"k","value":1}]}"#),
                "origins[0].localStorage[0].value",
            ),
            (
                o(r#"{"origin":"https://a.test","localStorage":[{"name":"k"}]}"#),
                "origins[0].localStorage[0].value",
            ),
            (
                o(r#"{"origin":"https://a.test","localStorage":[{"name":"k","value":"v","x":1}]}"#),
                "origins[0].localStorage[0].x",
            ),
            (
                o(r#"{"origin":"https://a.test","localStorage":{}}"#),
                "origins[0].localStorage",
            ),
            (
                r#"{"cookies":[],"sessionStorage":[]}"#.into(),
                "sessionStorage",
            ),
        ];
        assert!(cases.len() >= 20);
        for (input, path) in &cases {
            let e = import_storage_state(input.as_bytes())
                .expect_err(&format!("accepted bad input {input}"));
            assert_eq!(&e.path, path, "input {input}: {e}");
            let shown = e.to_string();
            assert!(
                shown.contains(if path.is_empty() {
                    "the document"
                } else {
                    path
                }),
                "{shown}"
            );
            assert!(shown.contains("fix the file"), "{shown}");
        }
    }

    #[test]
    fn size_limits() {
        let big = vec![b' '; MAX_INPUT_BYTES + 1];
        assert_eq!(import_storage_state(&big).unwrap_err().path, "");
        let many = format!(r#"{{"cookies":[{}1]}}"#, "1,".repeat(MAX_COOKIES));
        let e = import_storage_state(many.as_bytes()).unwrap_err();
        assert_eq!(e.path, "cookies");
        assert!(e.reason.contains("limit"), "{e}");
    }

    #[test]
    fn error_never_shows_values() {
        let input = br#"{"cookies":[{"name":"n","value":"SECRET-VALUE","domain":"x","path":"/","sameSite":"lax"}]}"#;
        let e = import_storage_state(input).unwrap_err();
        assert!(!e.to_string().contains("SECRET-VALUE"));
    }
}

/// Property tests: generated Playwright-representable states survive export → import exactly,
/// and arbitrary bytes never panic the importer (the fuzz target's check, run here too).
mod properties {
    use super::*;
    use proptest::prelude::*;

    fn expires() -> impl Strategy<Value = f64> {
        prop_oneof![
            Just(-1.0),
            (1u64..=MAX_EXPIRES as u64).prop_map(|s| s as f64),
            (f64::MIN_POSITIVE..=MAX_EXPIRES),
        ]
    }

    fn any_cookie() -> impl Strategy<Value = Cookie> {
        (
            (
                any::<String>(),
                any::<String>(),
                "[a-z0-9.-]{1,20}",
                any::<String>(),
                expires(),
            ),
            (
                any::<bool>(),
                any::<bool>(),
                prop_oneof![Just("Strict"), Just("Lax"), Just("None")],
            ),
            proptest::option::of((any::<String>(), any::<bool>())),
            (
                proptest::option::of(any::<u64>()),
                proptest::option::of("Low|Medium|High"),
            ),
            proptest::option::of(-1i64..65536),
        )
            .prop_map(
                |((name, value, domain, path, expires), (h, s, ss), pk, (size, prio), port)| {
                    Cookie {
                        name,
                        value,
                        domain,
                        path,
                        expires,
                        size,
                        http_only: h,
                        secure: s,
                        session: Some(expires == -1.0),
                        same_site: Some(ss.into()),
                        priority: prio,
                        source_scheme: None,
                        source_port: port,
                        partition_key: pk.map(|(top_level_site, has_cross_site_ancestor)| {
                            PartitionKey {
                                top_level_site,
                                has_cross_site_ancestor,
                            }
                        }),
                        extra: Default::default(),
                    }
                },
            )
    }

    fn any_state() -> impl Strategy<Value = BrowserState> {
        let origin = (
            proptest::collection::btree_map(any::<String>(), any::<String>(), 0..6),
            proptest::option::of(Just(vec![pvault_model::IdbDatabase {
                name: "db".into(),
                version: 2,
                stores: vec![],
                extra: Default::default(),
            }])),
        );
        (
            proptest::collection::vec(any_cookie(), 0..8),
            proptest::collection::vec(origin, 0..4),
        )
            .prop_map(|(cookies, origins)| BrowserState {
                cookies,
                origins: origins
                    .into_iter()
                    .enumerate()
                    .map(|(i, (items, indexed_db))| OriginState {
                        origin: format!("https://h{i}.example:{}", 1000 + i),
                        local_storage: items
                            .into_iter()
                            .map(|(name, value)| StorageItem { name, value })
                            .collect(),
                        session_storage: None,
                        indexed_db: indexed_db.map(std::sync::Arc::new),
                        extra: Default::default(),
                    })
                    .collect(),
                source: None,
            })
    }

    proptest! {
        #[test]
        fn export_then_import_is_identity(s in any_state()) {
            let text = export_storage_state_string(&s);
            let back = import_storage_state(text.as_bytes()).unwrap();
            prop_assert_eq!(&back, &s);
            for (a, b) in back.cookies.iter().zip(&s.cookies) {
                prop_assert_eq!(a.expires.to_bits(), b.expires.to_bits());
            }
            prop_assert!(diff(&s, &back).is_empty());
        }

        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..512)) {
            pvault_model::fuzz_support::storage_state_import(&data);
        }

        #[test]
        fn mutated_valid_files_never_panic(s in any_state(), cut in any::<usize>(), byte in any::<u8>()) {
            let mut data = export_storage_state_string(&s).into_bytes();
            if !data.is_empty() {
                let i = cut % data.len();
                data[i] = byte;
            }
            pvault_model::fuzz_support::storage_state_import(&data);
        }
    }
}

/// Diffs: keyed by (name, domain, path, partitionKey), names of changed fields, never values.
mod diffs {
    use super::*;

    fn origin(o: &str, items: &[(&str, &str)]) -> OriginState {
        OriginState {
            origin: o.into(),
            local_storage: items
                .iter()
                .map(|(n, v)| StorageItem {
                    name: (*n).into(),
                    value: (*v).into(),
                })
                .collect(),
            session_storage: None,
            indexed_db: None,
            extra: Default::default(),
        }
    }

    #[test]
    fn identical_states_are_empty() {
        let s = BrowserState {
            cookies: vec![cookie("a", "1", "x.test")],
            origins: vec![],
            source: None,
        };
        let d = diff(&s, &s);
        assert!(d.is_empty());
        assert_eq!(d.summary(), "no changes");
    }

    #[test]
    fn added_removed_changed_without_values() {
        let mut changed = cookie("sid", "OLD-SECRET", "x.test");
        let from = BrowserState {
            cookies: vec![changed.clone(), cookie("gone", "v", "x.test")],
            origins: vec![
                origin(
                    "https://a.test",
                    &[("keep", "1"), ("edit", "OLD-LS"), ("drop", "x")],
                ),
                origin("https://old.test", &[("k", "v")]),
            ],
            source: None,
        };
        changed.value = "NEW-SECRET".into();
        changed.expires = 2e9;
        changed.session = Some(false);
        changed.extra.insert("future".into(), 1.into());
        let mut partitioned = cookie("sid", "p", "x.test");
        partitioned.partition_key = Some(PartitionKey {
            top_level_site: "https://top.test".into(),
            has_cross_site_ancestor: false,
        });
        let to = BrowserState {
            cookies: vec![changed, partitioned, cookie("new", "v", ".x.test")],
            origins: vec![
                origin(
                    "https://a.test",
                    &[("keep", "1"), ("edit", "NEW-LS"), ("add", "y")],
                ),
                origin("https://new.test", &[("n", "v")]),
            ],
            source: None,
        };
        let d = diff(&from, &to);
        let names = |v: &[CookieKey]| {
            v.iter()
                .map(|k| (k.name.clone(), k.partition_key.is_some()))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            names(&d.cookies_added),
            [("new".to_string(), false), ("sid".to_string(), true)]
        );
        assert_eq!(names(&d.cookies_removed), [("gone".to_string(), false)]);
        assert_eq!(d.cookies_changed.len(), 1);
        assert_eq!(
            d.cookies_changed[0].fields,
            ["expires", "extra.future", "session", "value"]
        );
        assert_eq!(d.origins_added, ["https://new.test"]);
        assert_eq!(d.origins_removed, ["https://old.test"]);
        let a = d
            .local_storage
            .iter()
            .find(|o| o.origin == "https://a.test")
            .unwrap();
        assert_eq!(
            (
                a.added.as_slice(),
                a.removed.as_slice(),
                a.changed.as_slice()
            ),
            (
                &["add".to_string()][..],
                &["drop".to_string()][..],
                &["edit".to_string()][..]
            )
        );
        assert_eq!(
            d.summary(),
            "cookies +2 -1 ~1; origins +1 -1; localStorage keys +2 -2 ~1"
        );
        let json = serde_json::to_string(&d).unwrap();
        for secret in ["OLD-SECRET", "NEW-SECRET", "OLD-LS", "NEW-LS"] {
            assert!(
                !json.contains(secret) && !format!("{d:?}").contains(secret),
                "{secret} leaked"
            );
        }
        let back: StateDiff = serde_json::from_str(&json).unwrap();
        assert_eq!(back, d);
    }

    #[test]
    fn host_only_and_domain_cookies_are_different_keys() {
        let from = BrowserState {
            cookies: vec![cookie("a", "1", "x.test")],
            origins: vec![],
            source: None,
        };
        let to = BrowserState {
            cookies: vec![cookie("a", "1", ".x.test")],
            origins: vec![],
            source: None,
        };
        let d = diff(&from, &to);
        assert_eq!((d.cookies_added.len(), d.cookies_removed.len()), (1, 1));
    }
}

/// `Viewport` parses `WIDTHxHEIGHT` and refuses anything else with a clear message.
mod viewport {
    use super::*;

    #[test]
    fn parses_and_refuses() {
        assert_eq!(
            "1280x720".parse::<Viewport>().unwrap(),
            Viewport {
                width: 1280,
                height: 720
            }
        );
        assert_eq!(
            "800X600".parse::<Viewport>().unwrap().to_string(),
            "800x600"
        );
        for bad in [
            "",
            "1280",
            "1280x",
            "x720",
            "0x720",
            "1280x-1",
            "1e3x5",
            "99999x1",
            "1280 x 720",
        ] {
            let e = bad.parse::<Viewport>().unwrap_err();
            assert!(e.to_string().contains("WIDTHxHEIGHT"), "{bad}: {e}");
        }
    }
}

/// The pre-flight check for `Storage.setCookies` flags what Chrome would drop or refuse.
mod cookie_rules {
    use super::*;
    use pvault_model::cookie_rules::cdp_cookie_problem_at;

    const NOW: f64 = 1_800_000_000.0;

    #[test]
    fn flags_known_traps() {
        assert_eq!(
            cdp_cookie_problem_at(&cookie("ok", "v", "x.test"), NOW),
            None
        );
        let mut c = cookie("a", "SECRET", "x.test");
        c.same_site = Some("None".into());
        c.secure = false;
        let p = cdp_cookie_problem_at(&c, NOW).unwrap();
        assert!(p.contains("SameSite=None") && !p.contains("SECRET"), "{p}");

        let mut c = cookie("a", "v", "x.test");
        c.secure = false;
        c.partition_key = Some(PartitionKey {
            top_level_site: "https://t.test".into(),
            has_cross_site_ancestor: false,
        });
        assert!(
            cdp_cookie_problem_at(&c, NOW)
                .unwrap()
                .contains("whole setCookies batch")
        );

        for exp in [0.0, NOW - 1.0] {
            let mut c = cookie("a", "v", "x.test");
            c.expires = exp;
            c.session = Some(false);
            assert!(cdp_cookie_problem_at(&c, NOW).is_some(), "expires {exp}");
        }
        let mut c = cookie("a", "v", "x.test");
        c.expires = NOW + 100.0;
        c.session = Some(false);
        assert_eq!(cdp_cookie_problem_at(&c, NOW), None);

        assert!(
            cdp_cookie_problem_at(&cookie("a", "v", ""), NOW)
                .unwrap()
                .contains("empty domain")
        );
        assert!(cdp_cookie_problem_at(&cookie("__Host-a", "v", ".x.test"), NOW).is_some());
        assert!(cdp_problem_free_now());
    }

    fn cdp_problem_free_now() -> bool {
        cdp_cookie_problem(&cookie("ok", "v", "x.test")).is_none()
    }
}

/// A state read from the user's browser names its source: pvault's JSON carries it both
/// ways, Playwright's format leaves it out (it is not browser state), and a Playwright file
/// cannot claim one.
mod source {
    use super::*;

    #[test]
    fn pvault_json_carries_the_source_and_playwright_json_does_not() {
        let s = BrowserState {
            source: Some(StateSource {
                browser: "brave".into(),
                browser_profile: "Default".into(),
                user_data_dir: "/home/u/.config/BraveSoftware/Brave-Browser".into(),
            }),
            ..Default::default()
        };
        let doc = export_as(&s, ExportFormat::Pvault).json;
        assert_eq!(doc["source"]["browser"], "brave");
        let back = import_storage_state(doc.to_string().as_bytes()).unwrap();
        assert_eq!(back, s);
        let pw = export_as(&s, ExportFormat::Playwright);
        assert!(pw.json.get("source").is_none() && pw.left_out.is_empty());
        let plain = br#"{"cookies":[],"origins":[],"source":{"browser":"x","browserProfile":"y","userDataDir":"z"}}"#;
        let e = import_storage_state(plain).unwrap_err();
        assert_eq!(e.path, "source");
        let bad = br#"{"pvault":1,"cookies":[],"source":{"browser":"x"}}"#;
        assert_eq!(import_storage_state(bad).unwrap_err().path, "source");
    }
}
