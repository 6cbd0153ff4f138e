//! An independent reader written from `vault-format.md` alone (no vault-crate internals):
//! it reads the golden fixture with plain SQL, derives the KEK with the `argon2` crate, builds
//! every AAD byte by byte as the document specifies, opens every blob with
//! `chacha20poly1305`, decodes the plaintexts, and must arrive at `expected.json`. Also checks
//! the file-level rules (application id, WAL, pragmas at rest). It reads both golden fixtures
//! (snapshot schemas 1 and 2), and decodes the schema-2 fixture's tagged IndexedDB values with
//! its own decoder written from the grammar table of vault-format.md section 6.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::common::*;

/// Columns of a profile row as the reader selects them.
type ProfileCols = (
    Vec<u8>,
    Vec<u8>,
    u32,
    Vec<u8>,
    Vec<u8>,
    i64,
    i64,
    Option<i64>,
    i64,
);
/// Columns of a snapshot row as the reader selects them.
type SnapshotCols = (
    Vec<u8>,
    u64,
    i64,
    u16,
    Vec<u8>,
    Vec<u8>,
    i64,
    u64,
    Option<String>,
);
use crate::golden::{FORMAT1_SCHEMA1, FORMAT1_SCHEMA2, GOLDEN_PASS, fixture_dir};

fn open(key: &[u8], aad: &[u8], blob: &[u8]) -> Vec<u8> {
    let c = XChaCha20Poly1305::new(key.into());
    c.decrypt(
        XNonce::from_slice(&blob[..24]),
        Payload {
            msg: &blob[24..],
            aad,
        },
    )
    .expect("blob must open")
}

fn record_aad(vault_id: &[u8], pid: &[u8], sid: &[u8], kind: u8, schema: u16) -> Vec<u8> {
    let mut a = b"pvault/v1/record\0".to_vec();
    a.extend_from_slice(vault_id);
    a.extend_from_slice(pid);
    a.extend_from_slice(sid);
    a.push(kind);
    a.extend_from_slice(&schema.to_be_bytes());
    a
}

fn json_of(plain: &[u8]) -> Value {
    json_of_version(plain, 1)
}

/// Decodes `version byte ‖ JSON`, requiring that version byte.
fn json_of_version(plain: &[u8], version: u8) -> Value {
    assert_eq!(plain[0], version, "plaintext version byte");
    serde_json::from_slice(&plain[1..]).unwrap()
}

/// Everything in the vault at `fixture` (a copy of it is read), decrypted, in the shape of its
/// `expected.json`.
pub fn read_independently(fixture: &std::path::Path) -> Value {
    let (_t, dir) = copy_vault(fixture);
    let (content, problems) = read_vault_file(&dir);
    assert_eq!(problems, Vec::<String>::new());
    content
}

/// Everything in the vault in directory `dir`, decrypted, in the shape of `expected.json`;
/// for format 2 also checks every column against its sealed copy (panics if one differs) and
/// returns every problem of every profile's chain (section 7).
pub fn read_vault_file(dir: &std::path::Path) -> (Value, Vec<String>) {
    let db = raw(dir);
    let app_id: i64 = db
        .query_row("PRAGMA application_id", [], |r| r.get(0))
        .unwrap();
    assert_eq!(app_id, 0x7076_6c74);
    let (version, vault_id): (i64, Vec<u8>) = db
        .query_row("SELECT format_version, vault_id FROM vault", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert!((1..=3).contains(&version), "format version {version}");
    // Profile metadata and snapshot infos carry plaintext version 1 in format 1, 2 in format
    // 2, 3 in format 3; bodies carry 1 in all.
    let record_version = version as u8;

    // Passphrase slot → KEK → master key.
    let (slot_id, kdf_id, m, t, p, salt, wrapped): (Vec<u8>, u8, u32, u32, u32, Vec<u8>, Vec<u8>) = db
        .query_row("SELECT slot_id, kdf_id, m_kib, t, p, salt, wrapped_mk FROM keyslots WHERE slot_kind = 1", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?))
        })
        .unwrap();
    assert_eq!((kdf_id, salt.len(), wrapped.len()), (1, 16, 24 + 32 + 16));
    let mut kek = [0u8; 32];
    argon2::Argon2::new(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        argon2::Params::new(m, t, p, Some(32)).unwrap(),
    )
    .hash_password_into(GOLDEN_PASS.as_bytes(), &salt, &mut kek)
    .unwrap();
    let mut aad = b"pvault/v1/mk-wrap\0".to_vec();
    aad.extend_from_slice(&vault_id);
    aad.extend_from_slice(&slot_id);
    aad.extend_from_slice(&[1, 1]);
    for x in [m, t, p] {
        aad.extend_from_slice(&x.to_be_bytes());
    }
    aad.push(16);
    aad.extend_from_slice(&salt);
    let mk = open(&kek, &aad, &wrapped);

    // Key-file slot opens the same master key.
    let (kslot, ksalt, kwrapped): (Vec<u8>, Vec<u8>, Vec<u8>) = db
        .query_row(
            "SELECT slot_id, salt, wrapped_mk FROM keyslots WHERE slot_kind = 2 AND kdf_id = 2",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    let keyfile: Vec<u8> = (0u8..64).collect();
    let hm = |k: &[u8], parts: &[&[u8]]| {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(k).unwrap();
        for x in parts {
            mac.update(x);
        }
        mac.finalize().into_bytes().to_vec()
    };
    let prk = hm(&ksalt, &[&keyfile]);
    let kkek = hm(&prk, &[b"pvault/v1/keyfile-kek", &[1]]);
    let mut kaad = b"pvault/v1/mk-wrap\0".to_vec();
    kaad.extend_from_slice(&vault_id);
    kaad.extend_from_slice(&kslot);
    kaad.extend_from_slice(&[2, 2]);
    kaad.extend_from_slice(&[0; 12]);
    kaad.push(32);
    kaad.extend_from_slice(&ksalt);
    assert_eq!(open(&kkek, &kaad, &kwrapped), mk);

    let name_key = hm(&mk, &[b"pvault/v1/name-index"]);
    let mut profiles = Vec::new();
    let mut problems = Vec::new();
    let mut stmt = db
        .prepare("SELECT profile_id, name_hash, key_version, wrapped_dk, meta, created_at, updated_at, last_used_at, next_seq FROM profiles")
        .unwrap();
    let rows: Vec<ProfileCols> = stmt
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
                r.get(7)?,
                r.get(8)?,
            ))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect();
    for (pid, name_hash, kv, wdk, meta, created, updated, used, next_seq) in rows {
        let mut dk_aad = b"pvault/v1/dk-wrap\0".to_vec();
        dk_aad.extend_from_slice(&vault_id);
        dk_aad.extend_from_slice(&pid);
        dk_aad.extend_from_slice(&kv.to_be_bytes());
        let dk = open(&mk, &dk_aad, &wdk);
        let meta = json_of_version(
            &open(&dk, &record_aad(&vault_id, &pid, &[0; 16], 1, 1), &meta),
            record_version,
        );
        if version >= 2 {
            // Section 7: every plaintext column equals its sealed copy.
            assert_eq!(
                (&meta["created_at"], &meta["updated_at"], &meta["next_seq"]),
                (&json!(created), &json!(updated), &json!(next_seq))
            );
            assert_eq!(meta["last_used_at"], json!(used));
        }
        let name = meta["name"].as_str().unwrap();
        assert_eq!(hm(&name_key, &[name.as_bytes()]), name_hash);
        let mut snaps = Vec::new();
        let mut s = db
            .prepare("SELECT snapshot_id, seq, kind, schema_version, info, body, created_at, size_bytes, session_id FROM snapshots WHERE profile_id = ?1 ORDER BY seq DESC")
            .unwrap();
        let srows: Vec<SnapshotCols> = s
            .query_map([&pid], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                    r.get(8)?,
                ))
            })
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let mut chain = Vec::new();
        for (sid, seq, kind, schema, info, body, created, size, session) in srows {
            let mut info = json_of_version(
                &open(&dk, &record_aad(&vault_id, &pid, &sid, 3, schema), &info),
                record_version,
            );
            assert_eq!(info["id"], json!(hex::encode(&sid)));
            if version >= 2 {
                assert_eq!(
                    (
                        &info["created_at"],
                        &info["size_bytes"],
                        &info["session_id"]
                    ),
                    (&json!(created), &json!(size), &json!(session))
                );
                chain.push(info.clone());
                // What a reader shows of an info: everything but the chain members.
                let o = info.as_object_mut().unwrap();
                o.remove("session_id");
                o.remove("prev");
                // Format 3: the mark is shown only when set.
                if o.get("logged_out") == Some(&json!(false)) {
                    o.remove("logged_out");
                }
            }
            let body = open(&dk, &record_aad(&vault_id, &pid, &sid, 2, schema), &body);
            assert_eq!(info["seq"], json!(seq));
            let kinds = ["import", "session_save", "capture", "checkpoint", "restore"];
            assert_eq!(info["kind"], json!(kinds[kind as usize - 1]));
            assert_eq!(
                info["content_hash"],
                json!(hex::encode(Sha256::digest(&body)))
            );
            assert_eq!(info["size_bytes"], json!(body.len()));
            snaps.push(json!({ "info": info, "state": json_of(&body) }));
        }
        if version >= 2 {
            for p in crate::spec_format2::chain_problems(&meta, &chain) {
                problems.push(format!("{name}: {p}"));
            }
        }
        let mut profile = json!({
            "id": hex::encode(&pid), "name": name, "settings": meta["settings"],
            "created_at": created, "updated_at": updated,
            "snapshot_count": snaps.len(), "cookie_domains": meta["cookie_domains"], "origins": meta["origins"],
        });
        for (k, v) in [
            ("description", &meta["description"]),
            ("latest", &meta["latest"]),
        ] {
            if !v.is_null() {
                profile[k] = v.clone();
            }
        }
        if let Some(u) = used {
            profile["last_used_at"] = json!(u);
        }
        // Format 3: the current snapshot is shown when it is not the newest; health when set.
        if version >= 3 {
            if !meta["current"].is_null() && meta["current"]["seq"] != meta["latest"]["seq"] {
                profile["current"] = meta["current"]["seq"].clone();
            }
            for k in ["health", "health_result"] {
                if !meta[k].is_null() {
                    profile[k] = meta[k].clone();
                }
            }
        }
        profiles.push((
            name.to_owned(),
            json!({ "profile": profile, "snapshots": snaps }),
        ));
    }
    profiles.sort_by(|a, b| a.0.cmp(&b.0));
    let content = json!({ "vault_id": hex::encode(&vault_id), "profiles": profiles.into_iter().map(|p| p.1).collect::<Vec<_>>() });
    (content, problems)
}

pub fn expected_in(fixture: &std::path::Path) -> Value {
    serde_json::from_slice(&std::fs::read(fixture.join("expected.json")).unwrap()).unwrap()
}

#[test]
fn independent_reader_decrypts_golden_fixture() {
    assert_eq!(
        read_independently(&fixture_dir(FORMAT1_SCHEMA1)),
        expected_in(&fixture_dir(FORMAT1_SCHEMA1))
    );
}

#[test]
fn independent_reader_decrypts_golden_v2_fixture() {
    let got = read_independently(&fixture_dir(FORMAT1_SCHEMA2));
    assert_eq!(got, expected_in(&fixture_dir(FORMAT1_SCHEMA2)));
    // Snapshot schema 2, section 6: decode every tagged value of the `values` store.
    let spa = got["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["profile"]["name"] == "spa.example")
        .unwrap();
    let first = spa["snapshots"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["info"]["seq"] == 1)
        .unwrap();
    let origin = &first["state"]["origins"][0];
    assert_eq!(origin["sessionStorage"].as_array().unwrap().len(), 2);
    let types = origin["indexedDB"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "types")
        .unwrap();
    let store = |name: &str| {
        types["stores"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .unwrap()
            .clone()
    };
    let decoded: Vec<(String, String)> = store("values")["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let v = match (r.get("value"), r.get("valueEncoded")) {
                (Some(v), None) => format!("json {v}"),
                (None, Some(e)) => render(e),
                other => panic!("a record has exactly one of value/valueEncoded: {other:?}"),
            };
            (r["key"].as_str().unwrap().to_owned(), v)
        })
        .collect();
    let want = [
        ("plain", r#"json {"a":[1,"two",true,null],"n":1}"#),
        ("date", "Date(2026-01-02T03:04:05.678Z)"),
        ("invalid-date", "Date(invalid)"),
        (
            "specials",
            "#1[NaN, Infinity, -Infinity, -0, undefined, null]",
        ),
        ("bigint", "-123456789012345678901234567890n"),
        (
            "map",
            "#1Map{\"a\" => 1, Date(2026-01-02T03:04:05.678Z) => #2Set{1, 2}}",
        ),
        ("set", "#1Set{\"x\", 7n}"),
        (
            "typed",
            "#1{u8: Uint8Array[1, 2, 3], i16: Int16Array[-1, 1], f64: Float64Array[1], bi64: BigInt64Array[1n], f16: Float16Array[1]}",
        ),
        ("buffer", "ArrayBuffer(de ad be ef)"),
        ("view", "DataView(01 02 03 04)"),
        ("cycle", "#1{name: \"root\", self: <ref #1>}"),
        ("sparse", "#1[1, <hole>, 3] (length 3)"),
        ("blob", "#1{file: <unsupported Blob>}"),
        ("regexp", "/^a+$/gi"),
        ("url", "URL(https://example.com/a?b)"),
        ("error", "TypeError(\"boom\")"),
        ("boxed", "Object(\"str\")"),
    ];
    assert_eq!(
        decoded,
        want.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect::<Vec<_>>()
    );
    // Keys: out-of-line keys in both forms, compound in-line keys, the key generator.
    let keys: Vec<String> = store("binaryKeys")["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| match (r.get("key"), r.get("keyEncoded")) {
            (Some(k), None) => format!("json {k}"),
            (None, Some(e)) => render(e),
            other => panic!("a record has exactly one of key/keyEncoded: {other:?}"),
        })
        .collect();
    assert_eq!(
        keys,
        [
            "json -1.5",
            "-Infinity",
            "Date(2026-01-02T03:04:05.678Z)",
            "ArrayBuffer(01 02)",
            "#1[Date(2026-01-02T03:04:05.678Z), \"x\"]"
        ]
    );
    let compound = store("compound");
    assert_eq!(compound["keyPathArray"], json!(["user", "seq"]));
    assert_eq!(compound["records"][0]["key"], json!(["alice", 1]));
    assert_eq!(compound["indexes"][0]["multiEntry"], json!(true));
    let counter = store("counter");
    assert_eq!(
        (&counter["autoIncrement"], &counter["keyGenerator"]),
        (&json!(true), &json!(42))
    );
}

/// Standard padded base64, decoded by hand (the reader uses no encoding crate).
fn base64(s: &str) -> Vec<u8> {
    let val = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {c}"),
    };
    let mut out = Vec::new();
    for chunk in s.as_bytes().chunks(4) {
        let n = chunk.iter().filter(|c| **c != b'=').count();
        let mut acc = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            let v = if *c == b'=' { 0 } else { val(*c) as u32 };
            acc |= v << (18 - 6 * i);
        }
        out.extend_from_slice(&acc.to_be_bytes()[1..n]);
    }
    out
}

/// An IEEE 754 half-precision number.
fn f16_to_f64(h: u16) -> f64 {
    let (sign, exp, frac) = ((h >> 15) & 1, ((h >> 10) & 0x1f) as i32, (h & 0x3ff) as f64);
    let mag = match exp {
        0 => frac * 2f64.powi(-24),
        31 if frac == 0.0 => f64::INFINITY,
        31 => f64::NAN,
        e => (1.0 + frac / 1024.0) * 2f64.powi(e - 15),
    };
    if sign == 1 { -mag } else { mag }
}

/// A typed-array kind: its JavaScript name, element width and element renderer.
type TypedKind<'a> = (&'a str, usize, &'a dyn Fn(&[u8]) -> String);

/// Renders one encoded value as JavaScript-like text, following the grammar table.
fn render(e: &Value) -> String {
    match e {
        Value::String(_) | Value::Number(_) | Value::Bool(_) | Value::Null => e.to_string(),
        Value::Array(_) => panic!("a bare array is not an encoded value"),
        Value::Object(o) => {
            let (tag, inner) = o.iter().find(|(k, _)| *k != "id" && *k != "holes").unwrap();
            let id = o.get("id").map(|i| format!("#{i}")).unwrap_or_default();
            let list = |items: &Value, f: &dyn Fn(&Value) -> String| {
                items
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(f)
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let hex_bytes = |b: &Value| {
                base64(b["b"].as_str().unwrap())
                    .iter()
                    .map(|x| format!("{x:02x}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            match tag.as_str() {
                "v" => inner.as_str().unwrap().to_owned(),
                "d" => match inner.as_str() {
                    Some(d) => format!("Date({d})"),
                    None => "Date(invalid)".into(),
                },
                "u" => format!("URL({})", inner.as_str().unwrap()),
                "bi" => format!("{}n", inner.as_str().unwrap()),
                "e" => format!("{}({})", inner["n"].as_str().unwrap(), inner["m"]),
                "r" => format!(
                    "/{}/{}",
                    inner["p"].as_str().unwrap(),
                    inner["f"].as_str().unwrap()
                ),
                "a" => {
                    let holes: Vec<u64> = o
                        .get("holes")
                        .map(|h| {
                            h.as_array()
                                .unwrap()
                                .iter()
                                .map(|i| i.as_u64().unwrap())
                                .collect()
                        })
                        .unwrap_or_default();
                    let items: Vec<String> = inner
                        .as_array()
                        .unwrap()
                        .iter()
                        .enumerate()
                        .map(|(i, x)| {
                            if holes.contains(&(i as u64)) {
                                "<hole>".into()
                            } else {
                                render(x)
                            }
                        })
                        .collect();
                    let len = if holes.is_empty() {
                        String::new()
                    } else {
                        format!(" (length {})", items.len())
                    };
                    format!("{id}[{}]{len}", items.join(", "))
                }
                "o" => format!(
                    "{id}{{{}}}",
                    list(inner, &|kv| format!(
                        "{}: {}",
                        kv["k"].as_str().unwrap(),
                        render(&kv["v"])
                    ))
                ),
                "m" => format!(
                    "{id}Map{{{}}}",
                    list(inner, &|kv| format!(
                        "{} => {}",
                        render(&kv["k"]),
                        render(&kv["v"])
                    ))
                ),
                "s" => format!("{id}Set{{{}}}", list(inner, &render)),
                "ref" => format!("<ref #{inner}>"),
                "ab" => format!("ArrayBuffer({})", hex_bytes(inner)),
                "dv" => format!("DataView({})", hex_bytes(inner)),
                "bx" => format!("Object({})", render(inner)),
                "unsupported" => format!("<unsupported {}>", inner.as_str().unwrap()),
                "ta" => {
                    let b = base64(inner["b"].as_str().unwrap());
                    let (name, width, f): TypedKind<'_> = match inner["k"].as_str().unwrap() {
                        "ui8" => ("Uint8Array", 1, &|c| c[0].to_string()),
                        "i8" => ("Int8Array", 1, &|c| (c[0] as i8).to_string()),
                        "i16" => ("Int16Array", 2, &|c| {
                            i16::from_le_bytes([c[0], c[1]]).to_string()
                        }),
                        "ui16" => ("Uint16Array", 2, &|c| {
                            u16::from_le_bytes([c[0], c[1]]).to_string()
                        }),
                        "f16" => ("Float16Array", 2, &|c| {
                            f16_to_f64(u16::from_le_bytes([c[0], c[1]])).to_string()
                        }),
                        "f64" => ("Float64Array", 8, &|c| {
                            f64::from_le_bytes(c.try_into().unwrap()).to_string()
                        }),
                        "bi64" => ("BigInt64Array", 8, &|c| {
                            format!("{}n", i64::from_le_bytes(c.try_into().unwrap()))
                        }),
                        k => panic!("kind {k} not in the fixture"),
                    };
                    let items: Vec<String> = b.chunks(width).map(f).collect();
                    format!("{name}[{}]", items.join(", "))
                }
                t => panic!("unknown tag {t}"),
            }
        }
    }
}
