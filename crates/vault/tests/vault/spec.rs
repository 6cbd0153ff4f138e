//! An independent reader written from `vault-format.md` alone (no vault-crate internals):
//! it reads the golden fixture with plain SQL, derives the KEK with the `argon2` crate, builds
//! every AAD byte by byte as the document specifies, opens every blob with
//! `chacha20poly1305`, decodes the plaintexts, and must arrive at `expected.json`. Also checks
//! the file-level rules (application id, WAL, pragmas at rest). It reads both golden fixtures
//! (snapshot schemas 1 and 2), and decodes the schema-2 fixture's tagged IndexedDB values with
//! its own decoder written from the grammar table of vault-format.md section 6. The reader
//! itself is `spec_reader.rs` (and `spec_body.rs`); `spec_negative.rs` runs it on the negative
//! corpus.

use serde_json::{Value, json};

use crate::common::*;
use crate::golden::{FORMAT1_SCHEMA1, FORMAT1_SCHEMA2, GOLDEN_PASS, fixture_dir};
use crate::spec_reader;

/// The golden key file: bytes 0x00…0x3f (section 10).
pub fn golden_keyfile_bytes() -> Vec<u8> {
    (0u8..64).collect()
}

/// Everything in the vault at `fixture` (a copy of it is read), decrypted, in the shape of its
/// `expected.json`.
pub fn read_independently(fixture: &std::path::Path) -> Value {
    let (_t, dir) = copy_vault(fixture);
    let (content, problems) = read_vault_file(&dir);
    assert_eq!(problems, Vec::<String>::new());
    content
}

/// Everything in the vault in directory `dir`, decrypted with both golden credentials, in the
/// shape of `expected.json`, and every finding of the reader (columns against their sealed
/// copies, the chains of section 7), one line each. Panics when the reader refuses the vault.
pub fn read_vault_file(dir: &std::path::Path) -> (Value, Vec<String>) {
    let reading = spec_reader::read(dir, GOLDEN_PASS, Some(&golden_keyfile_bytes()))
        .unwrap_or_else(|r| panic!("the independent reader refused the vault: {r:?}"));
    let findings = reading.findings.iter().map(ToString::to_string).collect();
    (reading.content, findings)
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
