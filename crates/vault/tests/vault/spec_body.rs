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
    }
    Ok(())
}
