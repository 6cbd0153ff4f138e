//! The independent reader's check of a snapshot body (vault-format.md section 6): the
//! `BrowserState` shape, and for snapshot schema 2 the strict `OriginState` of section 6.2
//! (databases, stores, indexes, records). A schema-1 body's `indexedDB` is read leniently
//! (section 6.4) and not checked here. The tagged values inside records are not decoded.

use std::collections::HashSet;

use serde_json::{Map, Value};

type Obj = Map<String, Value>;

fn obj<'a>(v: &'a Value, what: &str) -> Result<&'a Obj, String> {
    v.as_object()
        .ok_or_else(|| format!("{what} is not an object"))
}

fn arr<'a>(v: &'a Value, what: &str) -> Result<&'a Vec<Value>, String> {
    v.as_array()
        .ok_or_else(|| format!("{what} is not an array"))
}

/// A member of the given JSON type; `required` or absent.
fn member<'a>(
    o: &'a Obj,
    name: &str,
    required: bool,
    ok: fn(&Value) -> bool,
) -> Result<Option<&'a Value>, String> {
    match o.get(name) {
        None if required => Err(format!("missing {name}")),
        None => Ok(None),
        Some(v) if ok(v) => Ok(Some(v)),
        Some(v) => Err(format!("{name} of the wrong type: {v}")),
    }
}

fn string(v: &Value) -> bool {
    v.is_string()
}
fn boolean(v: &Value) -> bool {
    v.is_boolean()
}
fn number(v: &Value) -> bool {
    v.is_number()
}
fn integer(v: &Value) -> bool {
    v.is_i64() || v.is_u64()
}
fn count(v: &Value) -> bool {
    v.is_u64()
}
fn positive(v: &Value) -> bool {
    v.as_u64().is_some_and(|n| n >= 1)
}
fn object(v: &Value) -> bool {
    v.is_object()
}
fn array(v: &Value) -> bool {
    v.is_array()
}

/// Names unique among `items` (each an object with a string `name`).
fn unique_names(items: &[Value], what: &str) -> Result<(), String> {
    let mut seen = HashSet::new();
    for i in items {
        let n = obj(i, what)?
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("{what} without a name"))?;
        if !seen.insert(n) {
            return Err(format!("{what} name {n:?} twice"));
        }
    }
    Ok(())
}

/// Parses JSON text as section 6 reads it: `serde_json::Value` keeps the last of two members
/// of the same name, and the format refuses the text instead (the JSON strictness rules), so
/// the text is first read by a visitor that remembers each object's member names.
pub fn parse_strict(text: &[u8]) -> Result<Value, String> {
    use serde::de::{Deserializer, MapAccess, SeqAccess, Visitor};

    /// Reads any JSON value, refusing an object that names a member twice.
    struct NoDuplicates;
    impl<'de> serde::de::DeserializeSeed<'de> for NoDuplicates {
        type Value = ();
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_any(self)
        }
    }
    impl<'de> Visitor<'de> for NoDuplicates {
        type Value = ();
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("JSON")
        }
        fn visit_bool<E>(self, _: bool) -> Result<(), E> {
            Ok(())
        }
        fn visit_i64<E>(self, _: i64) -> Result<(), E> {
            Ok(())
        }
        fn visit_u64<E>(self, _: u64) -> Result<(), E> {
            Ok(())
        }
        fn visit_f64<E>(self, _: f64) -> Result<(), E> {
            Ok(())
        }
        fn visit_str<E>(self, _: &str) -> Result<(), E> {
            Ok(())
        }
        fn visit_unit<E>(self) -> Result<(), E> {
            Ok(())
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            while seq.next_element_seed(NoDuplicates)?.is_some() {}
            Ok(())
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            let mut names = HashSet::new();
            while let Some(name) = map.next_key::<String>()? {
                if !names.insert(name.clone()) {
                    return Err(serde::de::Error::custom(format!("member {name:?} twice")));
                }
                map.next_value_seed(NoDuplicates)?;
            }
            Ok(())
        }
    }
    let mut d = serde_json::Deserializer::from_slice(text);
    serde::de::DeserializeSeed::deserialize(NoDuplicates, &mut d)
        .and_then(|()| d.end())
        .map_err(|e| format!("JSON: {e}"))?;
    serde_json::from_slice(text).map_err(|e| format!("JSON: {e}"))
}

/// A body plaintext's JSON, for the snapshot schema it was sealed under.
pub fn check_body(body: &Value, schema: i64) -> Result<(), String> {
    let o = obj(body, "body")?;
    if let Some(cookies) = member(o, "cookies", false, array)? {
        for c in arr(cookies, "cookies")? {
            check_cookie(obj(c, "cookie")?)?;
        }
    }
    if let Some(origins) = member(o, "origins", false, array)? {
        for origin in arr(origins, "origins")? {
            check_origin(obj(origin, "origin")?, schema)?;
        }
    }
    if let Some(source) = member(o, "source", false, object)? {
        let s = obj(source, "source")?;
        for m in ["browser", "browserProfile", "userDataDir"] {
            member(s, m, true, string)?;
        }
    }
    Ok(())
}

fn check_cookie(c: &Obj) -> Result<(), String> {
    for m in ["name", "value", "domain", "path"] {
        member(c, m, true, string)?;
    }
    member(c, "expires", true, number)?;
    member(c, "size", false, count)?;
    for m in ["httpOnly", "secure", "session"] {
        member(c, m, false, boolean)?;
    }
    for m in ["sameSite", "priority", "sourceScheme"] {
        member(c, m, false, string)?;
    }
    member(c, "sourcePort", false, integer)?;
    if let Some(pk) = member(c, "partitionKey", false, object)? {
        let pk = obj(pk, "partitionKey")?;
        member(pk, "topLevelSite", true, string)?;
        member(pk, "hasCrossSiteAncestor", false, boolean)?;
    }
    Ok(())
}

fn check_items(items: &Value, what: &str) -> Result<(), String> {
    let items = arr(items, what)?;
    for i in items {
        let i = obj(i, what)?;
        member(i, "name", true, string)?;
        member(i, "value", true, string)?;
    }
    unique_names(items, what)
}

fn check_origin(o: &Obj, schema: i64) -> Result<(), String> {
    member(o, "origin", true, string)?;
    check_items(
        member(o, "localStorage", true, array)?.unwrap(),
        "localStorage",
    )?;
    if let Some(s) = member(o, "sessionStorage", false, array)? {
        check_items(s, "sessionStorage")?;
    }
    // Section 6.4: a schema-1 body's IndexedDB is read leniently.
    if schema < 2 {
        return Ok(());
    }
    if let Some(dbs) = member(o, "indexedDB", false, array)? {
        let dbs = arr(dbs, "indexedDB")?;
        for db in dbs {
            let db = obj(db, "database")?;
            let name = member(db, "name", true, string)?.unwrap();
            if name.as_str() == Some("") {
                return Err("a database with an empty name".into());
            }
            member(db, "version", true, positive)?;
            let stores = arr(member(db, "stores", true, array)?.unwrap(), "stores")?;
            for s in stores {
                check_store(obj(s, "store")?)?;
            }
            unique_names(stores, "store")?;
        }
        unique_names(dbs, "database")?;
    }
    Ok(())
}

fn check_store(s: &Obj) -> Result<(), String> {
    member(s, "name", true, string)?;
    let auto = member(s, "autoIncrement", true, boolean)?.unwrap();
    let path = member(s, "keyPath", false, string)?;
    let paths = member(s, "keyPathArray", false, array)?;
    if path.is_some() && paths.is_some() {
        return Err("a store with keyPath and keyPathArray".into());
    }
    if let Some(p) = paths
        && !arr(p, "keyPathArray")?.iter().all(Value::is_string)
    {
        return Err("keyPathArray of non-strings".into());
    }
    if member(s, "keyGenerator", false, positive)?.is_some() && auto != &Value::Bool(true) {
        return Err("keyGenerator without autoIncrement".into());
    }
    let indexes = arr(member(s, "indexes", true, array)?.unwrap(), "indexes")?;
    for i in indexes {
        let i = obj(i, "index")?;
        member(i, "name", true, string)?;
        let one = member(i, "keyPath", false, string)?.is_some();
        let many = member(i, "keyPathArray", false, array)?.is_some();
        if one == many {
            return Err("an index needs exactly one key path".into());
        }
        member(i, "multiEntry", true, boolean)?;
        member(i, "unique", true, boolean)?;
    }
    unique_names(indexes, "index")?;
    for r in arr(member(s, "records", true, array)?.unwrap(), "records")? {
        let r = obj(r, "record")?;
        if let Some(k) = r
            .keys()
            .find(|k| !["key", "keyEncoded", "value", "valueEncoded"].contains(&k.as_str()))
        {
            return Err(format!("a record member {k:?}"));
        }
        if r.contains_key("value") == r.contains_key("valueEncoded") {
            return Err("a record needs exactly one of value and valueEncoded".into());
        }
        if r.contains_key("key") && r.contains_key("keyEncoded") {
            return Err("a record with key and keyEncoded".into());
        }
        if let Some(v) = r.get("valueEncoded") {
            check_encoded(v, &mut HashSet::new(), 0)?;
        }
        if let Some(k) = r.get("key")
            && !plain_key(k)
        {
            return Err("a key that is not a string, a finite number or an array of those".into());
        }
        if let Some(k) = r.get("keyEncoded") {
            check_encoded(k, &mut HashSet::new(), 0)?;
            if !encoded_key(k) {
                return Err("a keyEncoded that is not a valid key".into());
            }
        }
    }
    Ok(())
}

/// Section 6.2: a plain key is a string, a finite number, or an array of those (nested).
fn plain_key(k: &Value) -> bool {
    match k {
        Value::String(_) | Value::Number(_) => true,
        Value::Array(a) => a.iter().all(plain_key),
        _ => false,
    }
}

/// Section 6.2: an encoded key is a number (±Infinity and -0 included), a string, a valid
/// Date, binary (typed array, ArrayBuffer, DataView), or an array of keys.
fn encoded_key(k: &Value) -> bool {
    match k {
        Value::String(_) | Value::Number(_) => true,
        Value::Object(o) => {
            if let Some(v) = o.get("v") {
                return matches!(v.as_str(), Some("Infinity" | "-Infinity" | "-0"));
            }
            if let Some(d) = o.get("d") {
                return d.is_string();
            }
            if ["ta", "ab", "dv"].iter().any(|t| o.contains_key(*t)) {
                return true;
            }
            o.get("a")
                .and_then(Value::as_array)
                .is_some_and(|a| o.get("holes").is_none() && a.iter().all(encoded_key))
        }
        _ => false,
    }
}

/// Standard padded base64 (RFC 4648 section 4); the number of bytes it holds.
fn base64_bytes(v: &Value) -> Result<usize, String> {
    let s = v.as_str().ok_or("base64 that is not a string")?;
    let body = s.trim_end_matches('=');
    let pad = s.len() - body.len();
    if s.len() % 4 != 0
        || pad > 2
        || !body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
    {
        return Err("not standard padded base64".into());
    }
    Ok(s.len() / 4 * 3 - pad)
}

/// An object with exactly the string members `names`.
fn string_members(v: &Value, names: &[&str], what: &str) -> Result<(), String> {
    let o = obj(v, what)?;
    if o.len() != names.len()
        || !names
            .iter()
            .all(|n| o.get(*n).is_some_and(Value::is_string))
    {
        return Err(format!("{what} is not an object of the strings {names:?}"));
    }
    Ok(())
}

/// Section 6.3: one encoded value `E`, at nesting level `depth` (the value itself is level
/// 0). `ids` holds the ids of the arrays, objects, Maps and Sets met so far in document order,
/// a container's own id counting from the container's start.
fn check_encoded(e: &Value, ids: &mut HashSet<u64>, depth: usize) -> Result<(), String> {
    if depth > 100 {
        return Err("an encoded value nested deeper than 100 levels".into());
    }
    let o = match e {
        Value::String(_) | Value::Number(_) | Value::Bool(_) | Value::Null => return Ok(()),
        Value::Array(_) => return Err("a bare array as an encoded value".into()),
        Value::Object(o) => o,
    };
    const TAGS: [&str; 16] = [
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
    let tags: Vec<&str> = TAGS
        .iter()
        .copied()
        .filter(|t| o.contains_key(*t))
        .collect();
    let [tag] = tags[..] else {
        return Err(format!("an encoded object with the tags {tags:?}"));
    };
    let extra: &[&str] = match tag {
        "a" => &["id", "holes"],
        "o" | "m" | "s" => &["id"],
        _ => &[],
    };
    if let Some(k) = o.keys().find(|k| *k != tag && !extra.contains(&k.as_str())) {
        return Err(format!("member {k:?} beside the tag {tag:?}"));
    }
    let inner = &o[tag];
    match tag {
        "v" => match inner.as_str() {
            Some("undefined" | "null" | "NaN" | "Infinity" | "-Infinity" | "-0") => Ok(()),
            _ => Err(format!("v {inner}")),
        },
        "d" => match inner {
            Value::Null => Ok(()),
            Value::String(d) if iso_date(d) => Ok(()),
            _ => Err("d is not an ISO-8601 date".into()),
        },
        "u" | "unsupported" => inner
            .is_string()
            .then_some(())
            .ok_or(format!("{tag} is not a string")),
        "bi" => {
            let digits = inner.as_str().map(|s| s.strip_prefix('-').unwrap_or(s));
            match digits {
                Some(d) if !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()) => Ok(()),
                _ => Err("bi is not a decimal integer".into()),
            }
        }
        "e" => string_members(inner, &["n", "m", "s"], "e"),
        "r" => string_members(inner, &["p", "f"], "r"),
        "ab" | "dv" => {
            let b = obj(inner, tag)?;
            if b.len() != 1 {
                return Err(format!("{tag} has members besides b"));
            }
            base64_bytes(&b["b"]).map(drop)
        }
        "ta" => {
            let t = obj(inner, "ta")?;
            if t.len() != 2 {
                return Err("ta has members besides b and k".into());
            }
            let width = match t.get("k").and_then(Value::as_str) {
                Some("i8" | "ui8" | "ui8c") => 1,
                Some("i16" | "ui16" | "f16") => 2,
                Some("i32" | "ui32" | "f32") => 4,
                Some("f64" | "bi64" | "bui64") => 8,
                other => return Err(format!("typed-array kind {other:?}")),
            };
            let n = base64_bytes(t.get("b").unwrap_or(&Value::Null))?;
            n.is_multiple_of(width)
                .then_some(())
                .ok_or(format!("{n} bytes for elements of {width}"))
        }
        "bx" => match inner {
            Value::String(_) | Value::Number(_) | Value::Bool(_) => Ok(()),
            Value::Object(b) if b.len() == 1 && (b.contains_key("v") || b.contains_key("bi")) => {
                check_encoded(inner, ids, depth + 1)
            }
            _ => Err("bx does not box a primitive".into()),
        },
        "ref" => match inner.as_u64() {
            Some(id) if ids.contains(&id) => Ok(()),
            _ => Err(format!("ref {inner} names no id before it")),
        },
        _ => {
            // "a", "o", "m", "s": a container with a unique id.
            let id = o
                .get("id")
                .and_then(Value::as_u64)
                .ok_or(format!("{tag} without a non-negative integer id"))?;
            if !ids.insert(id) {
                return Err(format!("id {id} twice"));
            }
            let list = inner.as_array().ok_or(format!("{tag} is not an array"))?;
            for item in list {
                match tag {
                    "a" | "s" => check_encoded(item, ids, depth + 1)?,
                    _ => {
                        let kv = obj(item, "entry")?;
                        if kv.len() != 2 || !kv.contains_key("k") || !kv.contains_key("v") {
                            return Err(format!("a {tag} entry that is not {{k, v}}"));
                        }
                        if tag == "o" {
                            if !kv["k"].is_string() {
                                return Err("an object property name that is not a string".into());
                            }
                        } else {
                            check_encoded(&kv["k"], ids, depth + 1)?;
                        }
                        check_encoded(&kv["v"], ids, depth + 1)?;
                    }
                }
            }
            if let Some(h) = o.get("holes") {
                let ok = h.as_array().is_some_and(|h| {
                    h.iter()
                        .all(|i| i.as_u64().is_some_and(|i| (i as usize) < list.len()))
                });
                if !ok {
                    return Err("holes that are not indexes of the array".into());
                }
            }
            Ok(())
        }
    }
}

/// `YYYY-MM-DDTHH:MM:SS.sssZ`, or with `±YYYYYY` years.
fn iso_date(d: &str) -> bool {
    let rest = match d.as_bytes().first() {
        Some(b'+' | b'-') => d.get(7..),
        _ => d.get(4..),
    };
    let year = &d[..d.len() - rest.map_or(d.len(), str::len)];
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    rest.is_some_and(|r| {
        let b = r.as_bytes();
        b.len() == 20
            && [0, 3, 6, 9, 12, 15, 19]
                .iter()
                .zip(b"--T::.Z")
                .all(|(i, c)| b[*i] == *c)
            && [1..3, 4..6, 7..9, 10..12, 13..15, 16..19]
                .into_iter()
                .all(|range| digits(&r[range]))
    }) && digits(year.trim_start_matches(['+', '-']))
}
