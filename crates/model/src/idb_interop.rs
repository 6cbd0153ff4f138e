//! `origins[].indexedDB` of a storageState file: validation on import (every error names the
//! member), and export to Playwright's shape with a list of what that shape cannot hold.

use std::collections::HashSet;

use serde_json::{Map, Value};

use crate::clone_value::{self, EncodedInfo};
use crate::indexed_db::{IdbDatabase, IdbIndex, IdbRecord, IdbStore};
use crate::storage_state::{
    StorageStateError, as_array, as_bool, as_object, as_string, err, kind, required,
};

/// Most databases accepted per origin.
pub const MAX_DATABASES_PER_ORIGIN: usize = 1_000;
/// Most object stores accepted per database.
pub const MAX_STORES_PER_DATABASE: usize = 1_000;
/// Most indexes accepted per store.
pub const MAX_INDEXES_PER_STORE: usize = 1_000;
/// Most records accepted per store.
pub const MAX_RECORDS_PER_STORE: usize = 1_000_000;

const DATABASE_FIELDS: &[&str] = &["name", "version", "stores"];
const STORE_FIELDS: &[&str] = &[
    "name",
    "records",
    "indexes",
    "autoIncrement",
    "keyPath",
    "keyPathArray",
    "keyGenerator",
];
const INDEX_FIELDS: &[&str] = &["name", "keyPath", "keyPathArray", "multiEntry", "unique"];
const RECORD_FIELDS: &[&str] = &["key", "keyEncoded", "value", "valueEncoded"];

fn extra_of(o: &Map<String, Value>, known: &[&str]) -> Map<String, Value> {
    o.iter()
        .filter(|(k, _)| !known.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn opt_string(
    o: &Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<Option<String>, StorageStateError> {
    o.get(key)
        .map(|v| as_string(v, &format!("{path}.{key}")))
        .transpose()
}

fn opt_bool(o: &Map<String, Value>, key: &str, path: &str) -> Result<bool, StorageStateError> {
    Ok(o.get(key)
        .map(|v| as_bool(v, &format!("{path}.{key}")))
        .transpose()?
        .unwrap_or(false))
}

/// `keyPath` / `keyPathArray` of a store or index, each optional, never both.
fn key_paths(
    o: &Map<String, Value>,
    path: &str,
) -> Result<(Option<String>, Option<Vec<String>>), StorageStateError> {
    let single = opt_string(o, "keyPath", path)?;
    let array = match o.get("keyPathArray") {
        None => None,
        Some(v) => {
            let p = format!("{path}.keyPathArray");
            let a = as_array(v, &p, 1_000)?;
            if a.is_empty() {
                return Err(err(p, "a compound key path needs at least one path"));
            }
            Some(
                a.iter()
                    .enumerate()
                    .map(|(i, s)| as_string(s, &format!("{p}[{i}]")))
                    .collect::<Result<Vec<_>, _>>()?,
            )
        }
    };
    if single.is_some() && array.is_some() {
        return Err(err(
            format!("{path}.keyPathArray"),
            "give either `keyPath` or `keyPathArray`, not both",
        ));
    }
    for p in single.iter().chain(array.iter().flatten()) {
        if !valid_key_path(p) {
            return Err(err(
                format!("{path}.keyPath"),
                format!("{p:?} is not a key path (identifiers joined by dots, or \"\")"),
            ));
        }
    }
    Ok((single, array))
}

/// A key path as IndexedDB accepts it: `""` or identifiers joined by `.`.
fn valid_key_path(p: &str) -> bool {
    p.is_empty()
        || p.split('.').all(|id| {
            let mut c = id.chars();
            c.next()
                .is_some_and(|f| f.is_alphabetic() || f == '_' || f == '$')
                && c.all(|x| x.is_alphanumeric() || x == '_' || x == '$')
        })
}

/// Parses and validates an origin's `indexedDB` member (`path` names it in errors, e.g.
/// `origins[0].indexedDB`). In-line records get the key their key path selects.
pub fn import_databases(v: &Value, path: &str) -> Result<Vec<IdbDatabase>, StorageStateError> {
    let arr = as_array(v, path, MAX_DATABASES_PER_ORIGIN)?;
    let mut names = HashSet::new();
    let mut out = Vec::with_capacity(arr.len());
    for (i, d) in arr.iter().enumerate() {
        let dpath = format!("{path}[{i}]");
        let o = as_object(d, &dpath)?;
        let name = as_string(required(o, "name", &dpath)?, &format!("{dpath}.name"))?;
        if name.is_empty() {
            return Err(err(
                format!("{dpath}.name"),
                "a database name cannot be empty",
            ));
        }
        if !names.insert(name.clone()) {
            return Err(err(
                format!("{dpath}.name"),
                format!("database {name:?} appears twice in this origin; keep one"),
            ));
        }
        let vpath = format!("{dpath}.version");
        let version = required(o, "version", &dpath)?;
        let version = version.as_u64().filter(|v| *v >= 1).ok_or_else(|| {
            err(
                &vpath,
                format!("expected a whole number ≥ 1, found {}", describe(version)),
            )
        })?;
        let stores = match o.get("stores") {
            None => Vec::new(),
            Some(s) => import_stores(s, &format!("{dpath}.stores"))?,
        };
        out.push(IdbDatabase {
            name,
            version,
            stores,
            extra: extra_of(o, DATABASE_FIELDS),
        });
    }
    Ok(out)
}

fn describe(v: &Value) -> String {
    match v {
        Value::Number(n) => n.to_string(),
        _ => kind(v).to_owned(),
    }
}

fn import_stores(v: &Value, path: &str) -> Result<Vec<IdbStore>, StorageStateError> {
    let arr = as_array(v, path, MAX_STORES_PER_DATABASE)?;
    let mut names = HashSet::new();
    let mut out = Vec::with_capacity(arr.len());
    for (i, s) in arr.iter().enumerate() {
        let spath = format!("{path}[{i}]");
        let o = as_object(s, &spath)?;
        let name = as_string(required(o, "name", &spath)?, &format!("{spath}.name"))?;
        if !names.insert(name.clone()) {
            return Err(err(
                format!("{spath}.name"),
                format!("object store {name:?} appears twice in this database; keep one"),
            ));
        }
        let auto_increment = opt_bool(o, "autoIncrement", &spath)?;
        let (key_path, key_path_array) = key_paths(o, &spath)?;
        if auto_increment && (key_path_array.is_some() || key_path.as_deref() == Some("")) {
            return Err(err(
                format!("{spath}.autoIncrement"),
                "a store with a key generator cannot have an empty or compound key path (IndexedDB refuses it)",
            ));
        }
        let key_generator = match o.get("keyGenerator") {
            None => None,
            Some(g) => Some(g.as_u64().filter(|g| *g >= 1).ok_or_else(|| {
                err(
                    format!("{spath}.keyGenerator"),
                    format!("expected a whole number ≥ 1, found {}", describe(g)),
                )
            })?),
        };
        if key_generator.is_some() && !auto_increment {
            return Err(err(
                format!("{spath}.keyGenerator"),
                "only a store with autoIncrement has a key generator",
            ));
        }
        let indexes = match o.get("indexes") {
            None => Vec::new(),
            Some(x) => import_indexes(x, &format!("{spath}.indexes"))?,
        };
        let mut store = IdbStore {
            name,
            records: Vec::new(),
            indexes,
            auto_increment,
            key_path,
            key_path_array,
            key_generator,
            extra: extra_of(o, STORE_FIELDS),
        };
        if let Some(r) = o.get("records") {
            store.records = import_records(r, &format!("{spath}.records"), &store)?;
        }
        out.push(store);
    }
    Ok(out)
}

fn import_indexes(v: &Value, path: &str) -> Result<Vec<IdbIndex>, StorageStateError> {
    let arr = as_array(v, path, MAX_INDEXES_PER_STORE)?;
    let mut names = HashSet::new();
    let mut out = Vec::with_capacity(arr.len());
    for (i, x) in arr.iter().enumerate() {
        let ipath = format!("{path}[{i}]");
        let o = as_object(x, &ipath)?;
        let name = as_string(required(o, "name", &ipath)?, &format!("{ipath}.name"))?;
        if !names.insert(name.clone()) {
            return Err(err(
                format!("{ipath}.name"),
                format!("index {name:?} appears twice in this store; keep one"),
            ));
        }
        let (key_path, key_path_array) = key_paths(o, &ipath)?;
        if key_path.is_none() && key_path_array.is_none() {
            return Err(err(
                format!("{ipath}.keyPath"),
                "an index needs `keyPath` or `keyPathArray`",
            ));
        }
        let multi_entry = opt_bool(o, "multiEntry", &ipath)?;
        if multi_entry && key_path_array.is_some() {
            return Err(err(
                format!("{ipath}.multiEntry"),
                "a multiEntry index cannot have a compound key path (IndexedDB refuses it)",
            ));
        }
        out.push(IdbIndex {
            name,
            key_path,
            key_path_array,
            multi_entry,
            unique: opt_bool(o, "unique", &ipath)?,
            extra: extra_of(o, INDEX_FIELDS),
        });
    }
    Ok(out)
}

fn encoded(v: &Value, path: &str) -> Result<(), StorageStateError> {
    clone_value::validate(v).map_err(|(at, reason)| {
        err(
            if at.is_empty() {
                path.to_owned()
            } else {
                format!("{path}{at}")
            },
            reason,
        )
    })
}

fn import_records(
    v: &Value,
    path: &str,
    store: &IdbStore,
) -> Result<Vec<IdbRecord>, StorageStateError> {
    let arr = as_array(v, path, MAX_RECORDS_PER_STORE)?;
    let mut keys = HashSet::new();
    let mut out = Vec::with_capacity(arr.len());
    for (i, r) in arr.iter().enumerate() {
        let rpath = format!("{path}[{i}]");
        let o = as_object(r, &rpath)?;
        if let Some(k) = o.keys().find(|k| !RECORD_FIELDS.contains(&k.as_str())) {
            return Err(err(
                format!("{rpath}.{k}"),
                "unknown member; a record has `key` or `keyEncoded`, and `value` or `valueEncoded`",
            ));
        }
        let mut rec = IdbRecord {
            key: o.get("key").cloned(),
            key_encoded: o.get("keyEncoded").cloned(),
            value: o.get("value").cloned(),
            value_encoded: o.get("valueEncoded").cloned(),
        };
        check_record(&rec, &rpath)?;
        if store.in_line() {
            in_line_key(&mut rec, store, &rpath)?;
        } else if rec.key.is_none() && rec.key_encoded.is_none() {
            return Err(err(
                format!("{rpath}.key"),
                "missing: a store without keyPath needs each record's `key` or `keyEncoded`",
            ));
        }
        if let Some(k) = rec.key_json()
            && !keys.insert(k)
        {
            return Err(err(
                format!("{rpath}.key"),
                "the same key appears twice in this store; keep one",
            ));
        }
        out.push(rec);
    }
    Ok(out)
}

/// The rules one record obeys on its own (vault-format.md 6.2 and 6.3): exactly one of
/// `value` and `valueEncoded`, at most one of `key` and `keyEncoded`, each encoded form valid,
/// each key a valid IndexedDB key. `rpath` names the record in errors, which never quote
/// values (they are secrets).
pub fn check_record(rec: &IdbRecord, rpath: &str) -> Result<(), StorageStateError> {
    match (&rec.value, &rec.value_encoded) {
        (Some(_), Some(_)) => {
            return Err(err(
                format!("{rpath}.valueEncoded"),
                "give either `value` or `valueEncoded`, not both",
            ));
        }
        (None, None) => {
            return Err(err(
                format!("{rpath}.value"),
                "missing: a record needs `value` or `valueEncoded`",
            ));
        }
        (None, Some(e)) => encoded(e, &format!("{rpath}.valueEncoded"))?,
        (Some(_), None) => {}
    }
    if rec.key.is_some() && rec.key_encoded.is_some() {
        return Err(err(
            format!("{rpath}.keyEncoded"),
            "give either `key` or `keyEncoded`, not both",
        ));
    }
    if let Some(k) = &rec.key
        && !clone_value::is_plain_key(k)
    {
        return Err(err(
            format!("{rpath}.key"),
            format!(
                "{} is not a valid IndexedDB key (a string, a number, or an array of them; anything else goes in keyEncoded)",
                kind(k)
            ),
        ));
    }
    if let Some(k) = &rec.key_encoded {
        let kpath = format!("{rpath}.keyEncoded");
        encoded(k, &kpath)?;
        if !clone_value::is_encoded_key(k) {
            return Err(err(
                kpath,
                "not a valid IndexedDB key (a number, string, Date, binary, or an array of them)",
            ));
        }
    }
    Ok(())
}

/// Derives an in-line record's key from its value and checks it against the key path; the
/// derived key is kept in the record (pvault stores every record's key).
fn in_line_key(
    rec: &mut IdbRecord,
    store: &IdbStore,
    rpath: &str,
) -> Result<(), StorageStateError> {
    let (value, is_encoded) = match (&rec.value, &rec.value_encoded) {
        (Some(v), _) => (v, false),
        (None, Some(v)) => (v, true),
        (None, None) => return Ok(()),
    };
    let paths: Vec<&str> = match (&store.key_path_array, &store.key_path) {
        (Some(a), _) => a.iter().map(String::as_str).collect(),
        (None, Some(p)) => vec![p.as_str()],
        (None, None) => return Ok(()),
    };
    let mut parts = Vec::new();
    for p in &paths {
        match clone_value::key_at_path(value, is_encoded, p) {
            Ok(Some(k)) => parts.push(k),
            Ok(None) if store.auto_increment && store.key_path_array.is_none() => {
                // The key generator assigns it on load.
                return Ok(());
            }
            Ok(None) => {
                return Err(err(
                    format!("{rpath}.value"),
                    format!("has no key at the store's key path {p:?}"),
                ));
            }
            // Not derivable without evaluating: keep what the record says.
            Err(()) => return Ok(()),
        }
    }
    let derived = if store.key_path_array.is_some() {
        if is_encoded {
            Value::Object(Map::from_iter([
                ("a".to_owned(), Value::Array(parts)),
                ("id".to_owned(), Value::from(0)),
            ]))
        } else {
            Value::Array(parts)
        }
    } else {
        parts.pop().unwrap_or(Value::Null)
    };
    let valid = if is_encoded {
        clone_value::is_encoded_key(&derived)
    } else {
        clone_value::is_plain_key(&derived)
    };
    if !valid {
        return Err(err(
            format!("{rpath}.value"),
            "the value at the store's key path is not a valid IndexedDB key",
        ));
    }
    // A plain-JSON key is stored plain; one from an encoded value stays encoded unless it
    // is a plain string or number.
    let (plain, enc) = if !is_encoded || derived.is_string() || derived.is_number() {
        (Some(derived), None)
    } else {
        (None, Some(derived))
    };
    let given = rec.key.clone().or_else(|| rec.key_encoded.clone());
    let derived_any = plain.clone().or_else(|| enc.clone());
    if let Some(g) = given
        && Some(&g) != derived_any.as_ref()
        && !(store.key_path_array.is_some() && is_encoded)
    {
        return Err(err(
            format!("{rpath}.key"),
            "disagrees with the key the store's key path selects from the value",
        ));
    }
    if rec.key.is_none() && rec.key_encoded.is_none() {
        rec.key = plain;
        rec.key_encoded = enc;
    }
    Ok(())
}

/// What Playwright's shape could not hold of one origin's databases.
#[derive(Debug, Default)]
pub(crate) struct LeftOut {
    /// Records left out, with what they use, as lines `db/store: N records (DataView)`.
    pub records: Vec<String>,
    /// Stores whose key generator Playwright's restore would not reproduce.
    pub key_generators: Vec<String>,
}

/// Exports an origin's databases in Playwright's shape: in-line stores lose their records'
/// keys (Playwright's restore passes a key only for out-of-line stores), `keyGenerator` is
/// dropped, and records whose value uses pvault-only tags or could not be serialized are
/// left out (listed in [`LeftOut`]).
pub(crate) fn export_playwright(dbs: &[IdbDatabase], left: &mut LeftOut) -> Value {
    let mut out = Vec::new();
    for db in dbs {
        let mut stores = Vec::new();
        for s in &db.stores {
            let mut records = Vec::new();
            let mut dropped = 0;
            let mut info = EncodedInfo::default();
            for r in &s.records {
                let ri = r.value_info();
                let key_ri = r
                    .key_encoded
                    .as_ref()
                    .map(clone_value::inspect)
                    .unwrap_or_default();
                if !ri.pvault_only.is_empty()
                    || !ri.unsupported.is_empty()
                    || !key_ri.pvault_only.is_empty()
                {
                    dropped += 1;
                    info.merge(ri);
                    info.merge(key_ri);
                    continue;
                }
                let mut o = Map::new();
                if !s.in_line() {
                    if let Some(k) = &r.key {
                        o.insert("key".into(), k.clone());
                    }
                    if let Some(k) = &r.key_encoded {
                        o.insert("keyEncoded".into(), k.clone());
                    }
                }
                if let Some(v) = &r.value {
                    o.insert("value".into(), v.clone());
                }
                if let Some(v) = &r.value_encoded {
                    o.insert("valueEncoded".into(), v.clone());
                }
                records.push(Value::Object(o));
            }
            if dropped > 0 {
                let what: Vec<String> = info
                    .pvault_only
                    .iter()
                    .map(|s| (*s).to_owned())
                    .chain(
                        info.unsupported
                            .iter()
                            .map(|u| format!("unserializable {u}")),
                    )
                    .collect();
                left.records.push(format!(
                    "{}/{}: {dropped} record{} ({})",
                    db.name,
                    s.name,
                    if dropped == 1 { "" } else { "s" },
                    what.join(", ")
                ));
            }
            if let Some(g) = s.key_generator
                && g != playwright_generator(s)
            {
                left.key_generators.push(format!("{}/{}", db.name, s.name));
            }
            let indexes = s.indexes.iter().map(export_index).collect();
            let mut o = Map::new();
            o.insert("name".into(), s.name.clone().into());
            o.insert("records".into(), Value::Array(records));
            o.insert("indexes".into(), Value::Array(indexes));
            o.insert("autoIncrement".into(), s.auto_increment.into());
            if let Some(p) = &s.key_path {
                o.insert("keyPath".into(), p.clone().into());
            }
            if let Some(p) = &s.key_path_array {
                o.insert("keyPathArray".into(), p.clone().into());
            }
            for (k, v) in &s.extra {
                o.entry(k.clone()).or_insert_with(|| v.clone());
            }
            stores.push(Value::Object(o));
        }
        let mut o = Map::new();
        o.insert("name".into(), db.name.clone().into());
        o.insert("version".into(), db.version.into());
        o.insert("stores".into(), Value::Array(stores));
        for (k, v) in &db.extra {
            o.entry(k.clone()).or_insert_with(|| v.clone());
        }
        out.push(Value::Object(o));
    }
    Value::Array(out)
}

fn export_index(i: &IdbIndex) -> Value {
    let mut o = Map::new();
    o.insert("name".into(), i.name.clone().into());
    if let Some(p) = &i.key_path {
        o.insert("keyPath".into(), p.clone().into());
    }
    if let Some(p) = &i.key_path_array {
        o.insert("keyPathArray".into(), p.clone().into());
    }
    o.insert("multiEntry".into(), i.multi_entry.into());
    o.insert("unique".into(), i.unique.into());
    for (k, v) in &i.extra {
        o.entry(k.clone()).or_insert_with(|| v.clone());
    }
    Value::Object(o)
}

/// The key generator a store ends with when its records are added back with their keys:
/// one more than the largest numeric key below 2^53, at least 1.
pub fn playwright_generator(s: &IdbStore) -> u64 {
    let mut next = 1u64;
    for r in &s.records {
        if let Some(n) = r.key.as_ref().and_then(Value::as_f64)
            && (1.0..9_007_199_254_740_992.0).contains(&n)
        {
            next = next.max(n.floor() as u64 + 1);
        }
    }
    next
}
