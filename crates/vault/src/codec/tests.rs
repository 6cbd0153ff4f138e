//! The plaintext framing rules of vault-format.md section 6 that the integration tests
//! cannot reach through the public API.

use super::*;

#[test]
fn plaintext_framing_is_strict() {
    let ok = encode_state(&BrowserState::default()).unwrap();
    assert_eq!(ok, b"\x01{\"cookies\":[],\"origins\":[]}");
    assert_eq!(
        decode_state(&ok, RECORD_SCHEMA_VERSION).unwrap(),
        BrowserState::default()
    );
    let mut trailing_ws = ok.clone();
    trailing_ws.extend_from_slice(b" \n");
    assert!(decode_state(&trailing_ws, RECORD_SCHEMA_VERSION).is_ok());
    let mut trailing = ok.clone();
    trailing.extend_from_slice(b"x");
    assert!(matches!(
        decode_state(&trailing, RECORD_SCHEMA_VERSION),
        Err(VaultError::Corrupt { .. })
    ));
    let mut v2 = ok.clone();
    v2[0] = 2;
    assert!(matches!(
        decode_state(&v2, RECORD_SCHEMA_VERSION),
        Err(VaultError::UnsupportedVersion { found: 2, .. })
    ));
    assert!(matches!(
        decode_state(b"", RECORD_SCHEMA_VERSION),
        Err(VaultError::Corrupt { .. })
    ));
    // Profile metadata refuses unknown members (it is ours alone; nothing may hide there).
    let meta = b"\x01{\"name\":\"a\",\"description\":null,\"settings\":{},\"latest\":null,\"cookie_domains\":[],\"origins\":[],\"x\":1}";
    assert!(decode_meta_v1(meta).is_err());
    assert!(
        decode_meta_v1(
            &meta[..meta.len() - 7]
                .iter()
                .chain(b"}")
                .copied()
                .collect::<Vec<u8>>()
        )
        .is_ok()
    );
    // Format 2 metadata and infos carry version byte 2; a format-1 record is refused.
    let v2 = b"\x02{\"name\":\"a\",\"description\":null,\"settings\":{},\"latest\":null,\"cookie_domains\":[],\"origins\":[],\"created_at\":1,\"updated_at\":1,\"last_used_at\":null,\"next_seq\":1,\"snapshot_count\":0,\"anchor\":null}";
    assert!(decode_meta_v2(v2).is_ok());
    let mut as_v1 = v2.to_vec();
    as_v1[0] = 1;
    assert!(matches!(
        decode_meta_v2(&as_v1),
        Err(VaultError::UnsupportedVersion { found: 1, .. })
    ));
    // Format 3 adds three members; a format-2 record is refused as format 3, and an
    // unknown member in a format-3 record is refused.
    assert!(matches!(
        decode_meta(v2),
        Err(VaultError::UnsupportedVersion { found: 2, .. })
    ));
    let v3 = b"\x03{\"name\":\"a\",\"description\":null,\"settings\":{},\"latest\":null,\"cookie_domains\":[],\"origins\":[],\"created_at\":1,\"updated_at\":1,\"last_used_at\":null,\"next_seq\":1,\"snapshot_count\":0,\"anchor\":null,\"current\":null,\"health\":null,\"health_result\":null}";
    let meta = decode_meta(v3).unwrap();
    assert_eq!(encode_meta(&meta).unwrap(), v3);
    let extra = [&v3[..v3.len() - 1], b",\"x\":1}"].concat();
    assert!(matches!(
        decode_meta(&extra),
        Err(VaultError::Corrupt { .. })
    ));
}

/// vault-format.md section 6, "JSON strictness": what a reader accepts and refuses, as
/// serde_json decodes the model types.
#[test]
fn json_strictness_is_as_documented() {
    let body = |json: &str| decode_state(&[b"\x01", json.as_bytes()].concat(), 2);
    let cookie = r#"{"name":"n","value":"v","domain":"d","path":"/","expires":-1}"#;
    // Leading and trailing whitespace: accepted.
    assert!(body(&format!(" \n{{\"cookies\":[{cookie}]}}\t")).is_ok());
    // Unknown top-level members of a body: ignored (and not written back); absent
    // `cookies` / `origins` read as empty.
    let s = body(r#"{"future":1}"#).unwrap();
    assert_eq!(s, BrowserState::default());
    assert_eq!(
        encode_state(&s).unwrap(),
        b"\x01{\"cookies\":[],\"origins\":[]}"
    );
    // A cookie's unknown members are kept, in order; only the five first members are
    // required.
    let open_cookie = &cookie[..cookie.len() - 1];
    let s = body(&format!(r#"{{"cookies":[{open_cookie},"zz":1,"aa":2}}]}}"#)).unwrap();
    assert_eq!(s.cookies[0].extra.keys().collect::<Vec<_>>(), ["zz", "aa"]);
    assert!(body(r#"{"cookies":[{"name":"n","value":"v","domain":"d","path":"/"}]}"#).is_err());
    // `-1` reads as the float -1; it is written back as `-1.0` (serde_json's float form),
    // which is what a re-hashing writer must produce.
    let enc = String::from_utf8(encode_state(&s).unwrap()[1..].to_vec()).unwrap();
    assert!(enc.contains(r#""expires":-1.0,"#), "{enc}");
    for (f, text) in [
        (1_900_000_000.123_456_7_f64, "1900000000.1234567"),
        (1e16, "1e+16"),
        (1e15, "1000000000000000.0"),
        (1e-7, "1e-7"),
        (0.0001, "0.0001"),
    ] {
        assert_eq!(serde_json::to_string(&f).unwrap(), text);
    }
    // Refused (`Corrupt`): duplicate members, NaN / Infinity, lone surrogates, a wrong
    // member type.
    for bad in [
        r#"{"cookies":[],"cookies":[]}"#.to_owned(),
        format!(
            r#"{{"cookies":[{}]}}"#,
            cookie.replace(r#""path":"/""#, r#""path":"/","path":"/""#)
        ),
        format!(r#"{{"cookies":[{}]}}"#, cookie.replace("-1", "NaN")),
        format!(r#"{{"cookies":[{}]}}"#, cookie.replace("-1", "Infinity")),
        format!(
            r#"{{"cookies":[{}]}}"#,
            cookie.replace(r#""v""#, r#""\ud800""#)
        ),
        format!(r#"{{"cookies":[{}]}}"#, cookie.replace(r#""v""#, "1")),
    ] {
        assert!(
            matches!(body(&bad), Err(VaultError::Corrupt { .. })),
            "accepted {bad}"
        );
    }
    let info = br#"{"id":"a","id":"a"}"#;
    assert!(decode_info(&[&[3u8][..], info].concat()).is_err());
}
