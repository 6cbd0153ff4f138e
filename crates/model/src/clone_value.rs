//! The tagged encoding of structured-clone values (IndexedDB keys and values).
//!
//! It is Playwright's serialization (`utilityScriptSerializers.ts`, what its storageState writes
//! in `keyEncoded`/`valueEncoded`), so a Playwright file round-trips unchanged, extended by a
//! few pvault tags for what Playwright cannot encode. An encoded value `E` is:
//!
//! | form | meaning |
//! |---|---|
//! | a JSON string, finite number, `true`/`false`, `null` | itself |
//! | `{"v": "undefined" \| "null" \| "NaN" \| "Infinity" \| "-Infinity" \| "-0"}` | that special value |
//! | `{"d": ISO-8601 string}` | a Date (pvault: `{"d": null}` is an invalid Date) |
//! | `{"u": string}` | a URL |
//! | `{"bi": decimal string}` | a BigInt |
//! | `{"e": {"n","m","s"}}` | an Error (name, message, stack) |
//! | `{"r": {"p","f"}}` | a RegExp (source, flags) |
//! | `{"a": [E…], "id": n}` | an Array; pvault adds `"holes": [index…]` for a sparse one |
//! | `{"o": [{"k": string, "v": E}…], "id": n}` | a plain object |
//! | `{"m": [{"k": E, "v": E}…], "id": n}` | a Map |
//! | `{"s": [E…], "id": n}` | a Set |
//! | `{"ref": n}` | the array/object/Map/Set with that `id` (shared or cyclic graphs) |
//! | `{"ta": {"b": base64, "k": kind}}` | a typed array of `kind` (`i8 ui8 ui8c i16 ui16 i32 ui32 f32 f64 bi64 bui64`; pvault adds `f16`) |
//! | `{"ab": {"b": base64}}` | an ArrayBuffer |
//! | pvault `{"dv": {"b": base64}}` | a DataView (over a buffer of exactly those bytes) |
//! | pvault `{"bx": E}` | a boxed primitive (`new String("x")`, `Object(1n)`…) of E |
//! | pvault `{"unsupported": type name}` | a value that cannot be serialized (Blob, File, FileList, CryptoKey…): recorded by name, reported, never loaded |

use std::collections::{BTreeSet, HashSet};

use serde_json::{Map, Value};

/// What an encoded value uses beyond Playwright's encoding.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EncodedInfo {
    /// pvault-only features used (e.g. `DataView`, `sparse array`), sorted.
    pub pvault_only: BTreeSet<&'static str>,
    /// Type names of values that could not be serialized (`Blob`…), sorted.
    pub unsupported: BTreeSet<String>,
}

impl EncodedInfo {
    /// Adds `other` into `self`.
    pub fn merge(&mut self, other: EncodedInfo) {
        self.pvault_only.extend(other.pvault_only);
        self.unsupported.extend(other.unsupported);
    }
}

/// Checks that `v` follows the encoding. The error is `(path inside the value, reason)`, the
/// path in JSON-pointer style relative to the value (`""` for the value itself).
pub fn validate(v: &Value) -> Result<(), (String, String)> {
    let mut ids = HashSet::new();
    check(v, "", &mut ids, 0)
}

/// Deepest nesting accepted inside one encoded value (the JSON parser caps documents at 128).
const MAX_DEPTH: usize = 100;

fn check(
    v: &Value,
    at: &str,
    ids: &mut HashSet<u64>,
    depth: usize,
) -> Result<(), (String, String)> {
    let bad = |reason: String| Err((at.to_owned(), reason));
    if depth > MAX_DEPTH {
        return bad(format!("nested deeper than {MAX_DEPTH} levels"));
    }
    let o = match v {
        Value::String(_) | Value::Number(_) | Value::Bool(_) | Value::Null => return Ok(()),
        Value::Array(_) => {
            return bad(
                "a bare array is not an encoded value; arrays are {\"a\": [...], \"id\": n}".into(),
            );
        }
        Value::Object(o) => o,
    };
    let tag = tag_of(o).ok_or_else(|| {
        (
            at.to_owned(),
            format!(
                "object with members {:?} is not an encoded value (expected one of the tags v, d, u, bi, e, r, a, o, m, s, ref, ta, ab, dv, bx, unsupported)",
                o.keys().collect::<Vec<_>>()
            ),
        )
    })?;
    let allowed: &[&str] = match tag {
        "a" => &["a", "id", "holes"],
        "o" | "m" | "s" => &[tag, "id"],
        _ => &[tag],
    };
    if let Some(k) = o.keys().find(|k| !allowed.contains(&k.as_str())) {
        return bad(format!("member {k:?} does not belong with tag {tag:?}"));
    }
    let inner = &o[tag];
    let sub = |k: &str| format!("{at}/{tag}/{k}");
    match tag {
        "v" => match inner.as_str() {
            Some("undefined" | "null" | "NaN" | "Infinity" | "-Infinity" | "-0") => Ok(()),
            _ => bad("v must be one of \"undefined\", \"null\", \"NaN\", \"Infinity\", \"-Infinity\", \"-0\"".into()),
        },
        "d" => match inner {
            Value::Null => Ok(()),
            Value::String(s) if looks_like_iso_date(s) => Ok(()),
            _ => bad("d must be an ISO-8601 date string like 2026-01-02T03:04:05.678Z (or null for an invalid Date)".into()),
        },
        "u" | "unsupported" => string(inner, at, tag),
        "bi" => match inner.as_str() {
            Some(s) if is_bigint(s) => Ok(()),
            _ => bad("bi must be a decimal integer string".into()),
        },
        "e" => fields(inner, at, tag, &["n", "m", "s"]),
        "r" => fields(inner, at, tag, &["p", "f"]),
        "ta" => {
            fields(inner, at, tag, &["b", "k"])?;
            base64(&inner["b"], &sub("b"))?;
            let k = inner["k"].as_str().unwrap_or_default();
            let Some(width) = typed_array_width(k) else {
                return Err((sub("k"), format!("unknown typed-array kind {k:?}")));
            };
            // `b` holds exactly the viewed elements: a partial one cannot be loaded.
            if base64_len(inner["b"].as_str().unwrap_or_default()).is_multiple_of(width) {
                Ok(())
            } else {
                Err((
                    sub("b"),
                    format!("{k} elements are {width} bytes; the bytes are not a whole number of them"),
                ))
            }
        }
        "ab" | "dv" => {
            fields(inner, at, tag, &["b"])?;
            base64(&inner["b"], &sub("b"))
        }
        "bx" => match inner {
            Value::Object(b) if tag_of(b).is_some_and(|t| !matches!(t, "v" | "bi")) => {
                bad("bx must box a string, number, boolean, BigInt or special number".into())
            }
            Value::Array(_) | Value::Null => bad("bx must box a primitive".into()),
            _ => check(inner, &format!("{at}/bx"), ids, depth + 1),
        },
        "ref" => match inner.as_u64() {
            Some(id) if ids.contains(&id) => Ok(()),
            _ => bad("ref must name the id of an array, object, Map or Set seen before it".into()),
        },
        "a" | "o" | "m" | "s" => {
            let id = o.get("id").and_then(Value::as_u64).ok_or_else(|| {
                (at.to_owned(), format!("tag {tag:?} needs a non-negative integer id"))
            })?;
            if !ids.insert(id) {
                return bad(format!("id {id} is used twice; ids are unique in one value"));
            }
            let Value::Array(items) = inner else {
                return Err((sub(""), format!("{tag} must be an array")));
            };
            for (i, item) in items.iter().enumerate() {
                let here = format!("{at}/{tag}/{i}");
                match tag {
                    "a" | "s" => check(item, &here, ids, depth + 1)?,
                    _ => {
                        let Value::Object(kv) = item else {
                            return Err((here, "entries are {\"k\": ..., \"v\": ...}".into()));
                        };
                        if kv.len() != 2 || !kv.contains_key("k") || !kv.contains_key("v") {
                            return Err((here, "entries have exactly the members k and v".into()));
                        }
                        if tag == "o" {
                            string(&kv["k"], &format!("{here}/k"), "k")?;
                        } else {
                            check(&kv["k"], &format!("{here}/k"), ids, depth + 1)?;
                        }
                        check(&kv["v"], &format!("{here}/v"), ids, depth + 1)?;
                    }
                }
            }
            if let Some(h) = o.get("holes") {
                let ok = h.as_array().is_some_and(|h| {
                    h.iter()
                        .all(|i| i.as_u64().is_some_and(|i| (i as usize) < items.len()))
                });
                if !ok {
                    return Err((format!("{at}/holes"), "holes must list indexes of the array".into()));
                }
            }
            Ok(())
        }
        _ => unreachable!("tag_of returns known tags only"),
    }
}

/// The tag of an encoded object, if it has exactly one known tag.
fn tag_of(o: &Map<String, Value>) -> Option<&'static str> {
    const TAGS: &[&str] = &[
        "v",
        "d",
        "u",
        "bi",
        "e",
        "r",
        "a",
        "o",
        "m",
        "s",
        "ref",
        "ta",
        "ab",
        "dv",
        "bx",
        "unsupported",
    ];
    let mut found = TAGS.iter().copied().filter(|t| o.contains_key(*t));
    let tag = found.next()?;
    found.next().is_none().then_some(tag)
}

fn string(v: &Value, at: &str, what: &str) -> Result<(), (String, String)> {
    match v {
        Value::String(_) => Ok(()),
        _ => Err((at.to_owned(), format!("{what} must be a string"))),
    }
}

fn fields(v: &Value, at: &str, tag: &str, names: &[&str]) -> Result<(), (String, String)> {
    let Value::Object(o) = v else {
        return Err((
            format!("{at}/{tag}"),
            format!("{tag} must be an object with {names:?}"),
        ));
    };
    for n in names {
        string(
            o.get(*n).unwrap_or(&Value::Null),
            &format!("{at}/{tag}/{n}"),
            n,
        )?;
    }
    if let Some(k) = o.keys().find(|k| !names.contains(&k.as_str())) {
        return Err((format!("{at}/{tag}/{k}"), "unknown member".into()));
    }
    Ok(())
}

fn base64(v: &Value, at: &str) -> Result<(), (String, String)> {
    let ok = v.as_str().is_some_and(|s| {
        s.len() % 4 == 0
            && s.trim_end_matches('=').len() + 2 >= s.len()
            && s.trim_end_matches('=')
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
    });
    if ok {
        Ok(())
    } else {
        Err((at.to_owned(), "must be standard padded base64".into()))
    }
}

/// The element size in bytes of a typed-array kind; `None` for an unknown kind.
fn typed_array_width(kind: &str) -> Option<usize> {
    match kind {
        "i8" | "ui8" | "ui8c" => Some(1),
        "i16" | "ui16" | "f16" => Some(2),
        "i32" | "ui32" | "f32" => Some(4),
        "f64" | "bi64" | "bui64" => Some(8),
        _ => None,
    }
}

/// The number of bytes standard padded base64 `s` decodes to (`s` already checked).
fn base64_len(s: &str) -> usize {
    s.len() / 4 * 3 - (s.len() - s.trim_end_matches('=').len())
}

fn is_bigint(s: &str) -> bool {
    let digits = s.strip_prefix('-').unwrap_or(s);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

/// `YYYY-MM-DDTHH:MM:SS.sssZ`, with the expanded `±YYYYYY` years `Date.prototype.toJSON`
/// writes outside 0000–9999.
fn looks_like_iso_date(s: &str) -> bool {
    let rest = if s.starts_with(['+', '-']) {
        s.get(7..)
    } else {
        s.get(4..)
    };
    let Some(rest) = rest else { return false };
    let year = &s[..s.len() - rest.len()];
    let b = rest.as_bytes();
    b.len() == 20
        && b[0] == b'-'
        && b[3] == b'-'
        && b[6] == b'T'
        && b[9] == b':'
        && b[12] == b':'
        && b[15] == b'.'
        && b[19] == b'Z'
        && year
            .trim_start_matches(['+', '-'])
            .bytes()
            .all(|c| c.is_ascii_digit())
        && [1..3, 4..6, 7..9, 10..12, 13..15, 16..19]
            .into_iter()
            .all(|r| b[r].iter().all(u8::is_ascii_digit))
}

/// What `v` (a valid encoded value) uses beyond Playwright's encoding.
pub fn inspect(v: &Value) -> EncodedInfo {
    let mut info = EncodedInfo::default();
    walk(v, &mut info);
    info
}

fn walk(v: &Value, info: &mut EncodedInfo) {
    match v {
        Value::Array(a) => a.iter().for_each(|x| walk(x, info)),
        Value::Object(o) => {
            if o.contains_key("holes") && o.contains_key("a") {
                info.pvault_only.insert("sparse array");
            }
            if o.contains_key("dv") {
                info.pvault_only.insert("DataView");
            }
            if o.contains_key("bx") {
                info.pvault_only.insert("boxed primitive");
            }
            if o.get("d").is_some_and(Value::is_null) {
                info.pvault_only.insert("invalid Date");
            }
            if o.get("ta").and_then(|t| t.get("k")).and_then(Value::as_str) == Some("f16") {
                info.pvault_only.insert("Float16Array");
            }
            if let Some(name) = o.get("unsupported").and_then(Value::as_str) {
                info.unsupported.insert(name.to_owned());
            }
            o.values().for_each(|x| walk(x, info));
        }
        _ => {}
    }
}

/// Whether a plain-JSON value is a valid IndexedDB key: a string, a number (JSON has no
/// NaN), or an array of valid keys.
pub fn is_plain_key(v: &Value) -> bool {
    match v {
        Value::String(_) | Value::Number(_) => true,
        Value::Array(a) => a.iter().all(is_plain_key),
        _ => false,
    }
}

/// Whether an encoded value is a valid IndexedDB key: a number (±Infinity included, NaN not),
/// a string, a valid Date, binary (ArrayBuffer, typed array, DataView) or an array of keys.
pub fn is_encoded_key(v: &Value) -> bool {
    match v {
        Value::String(_) | Value::Number(_) => true,
        Value::Object(o) => match tag_of(o) {
            Some("v") => matches!(o["v"].as_str(), Some("Infinity" | "-Infinity" | "-0")),
            Some("d") => o["d"].is_string(),
            Some("ab" | "ta" | "dv") => true,
            Some("a") => {
                !o.contains_key("holes")
                    && o["a"]
                        .as_array()
                        .is_some_and(|a| a.iter().all(is_encoded_key))
            }
            _ => false,
        },
        _ => false,
    }
}

/// The key an in-line key path (one path, `""` meaning the value itself, or a dotted path)
/// selects from a value, in the value's own form: `Ok(None)` when a step is missing,
/// `Err(())` when it cannot be followed without evaluating (a `ref`, a `length` of a string).
#[allow(clippy::result_unit_err)]
pub fn key_at_path(value: &Value, encoded: bool, path: &str) -> Result<Option<Value>, ()> {
    let mut cur = value;
    if path.is_empty() {
        return Ok(Some(cur.clone()));
    }
    for step in path.split('.') {
        let next = if encoded {
            match cur {
                Value::Object(o) if o.contains_key("o") => o["o"].as_array().and_then(|entries| {
                    entries
                        .iter()
                        .find(|e| e.get("k").and_then(Value::as_str) == Some(step))
                        .and_then(|e| e.get("v"))
                }),
                Value::Object(o) if o.contains_key("ref") => return Err(()),
                _ if step == "length" => return Err(()),
                _ => None,
            }
        } else {
            match cur {
                Value::Object(o) => o.get(step),
                _ if step == "length" => return Err(()),
                _ => None,
            }
        };
        match next {
            Some(n) => cur = n,
            None => return Ok(None),
        }
    }
    Ok(Some(cur.clone()))
}

#[cfg(test)]
mod tests {
    //! The grammar on hand-written values; the browser suite checks it against what a real
    //! page serializes.
    use super::*;
    use serde_json::json;

    #[test]
    fn playwright_values_are_accepted_and_not_flagged() {
        let v = json!({"o": [
            {"k": "d", "v": {"d": "2026-01-02T03:04:05.678Z"}},
            {"k": "m", "v": {"m": [{"k": 1, "v": {"s": [{"v": "NaN"}], "id": 3}}], "id": 2}},
            {"k": "self", "v": {"ref": 1}},
            {"k": "t", "v": {"ta": {"b": "AQID", "k": "ui8"}}},
            {"k": "big", "v": {"bi": "-12345678901234567890"}}
        ], "id": 1});
        assert_eq!(validate(&v), Ok(()));
        assert_eq!(inspect(&v), EncodedInfo::default());
    }

    #[test]
    fn pvault_tags_are_flagged() {
        let v = json!({"a": [1, {"v": "undefined"}, {"dv": {"b": "AAAA"}}, {"bx": "s"}, {"unsupported": "Blob"}], "id": 1, "holes": [1]});
        assert_eq!(validate(&v), Ok(()));
        let info = inspect(&v);
        assert_eq!(
            info.pvault_only.into_iter().collect::<Vec<_>>(),
            vec!["DataView", "boxed primitive", "sparse array"]
        );
        assert_eq!(
            info.unsupported.into_iter().collect::<Vec<_>>(),
            vec!["Blob"]
        );
    }

    #[test]
    fn malformed_values_name_where() {
        for (v, at) in [
            (json!([1]), ""),
            (json!({"o": [{"k": 1, "v": 2}], "id": 1}), "/o/0/k"),
            (json!({"a": [{"ref": 9}], "id": 1}), "/a/0"),
            (json!({"ta": {"b": "AQID", "k": "u128"}}), "/ta/k"),
            (json!({"ab": {"b": "not base64!"}}), "/ab/b"),
            (json!({"d": "yesterday"}), ""),
            (json!({"d": "2026-0x-02T03:04:05.678Z"}), ""),
            (json!({"v": "undefined", "d": "x"}), ""),
            (json!({"a": [], "id": 1, "holes": [0]}), "/holes"),
            (json!({"a": [{"o": [], "id": 1}], "id": 1}), "/a/0"),
            (json!({"ta": {"b": "AQID", "k": "i16"}}), "/ta/b"),
            (json!({"ta": {"b": "AQIDBA==", "k": "f64"}}), "/ta/b"),
        ] {
            let e = validate(&v).expect_err(&v.to_string());
            assert_eq!(e.0, at, "{v}: {}", e.1);
        }
    }

    #[test]
    fn keys() {
        assert!(is_plain_key(&json!(["a", 1, ["b"]])));
        assert!(!is_plain_key(&json!({"a": 1})));
        assert!(!is_plain_key(&json!(true)));
        assert!(is_encoded_key(
            &json!({"a": [{"d": "2026-01-02T03:04:05.678Z"}, {"ab": {"b": ""}}], "id": 1})
        ));
        assert!(!is_encoded_key(&json!({"v": "NaN"})));
        assert!(!is_encoded_key(&json!({"d": null})));
        assert_eq!(
            key_at_path(&json!({"a": {"b": "k"}}), false, "a.b"),
            Ok(Some(json!("k")))
        );
        assert_eq!(
            key_at_path(
                &json!({"o": [{"k": "id", "v": {"d": "2026-01-02T03:04:05.678Z"}}], "id": 1}),
                true,
                "id"
            ),
            Ok(Some(json!({"d": "2026-01-02T03:04:05.678Z"})))
        );
        assert_eq!(key_at_path(&json!({"x": 1}), false, "id"), Ok(None));
    }
}
