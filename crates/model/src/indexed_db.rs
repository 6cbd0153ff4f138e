//! IndexedDB content of one origin: databases, object stores, indexes and records.
//!
//! The JSON shape is Playwright's `storageState` `origins[].indexedDB` (1.51+) member for
//! member, so a file Playwright wrote is stored as is, plus one pvault member per store,
//! `keyGenerator`, which Playwright's format cannot hold. Keys and values are kept in
//! Playwright's two forms: `key`/`value` for plain JSON, `keyEncoded`/`valueEncoded` for
//! anything else, in the tagged encoding that [`crate::clone_value`] defines (Playwright's
//! own, plus a few pvault tags for what it cannot encode).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::clone_value::{self, EncodedInfo};

/// One database of an origin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdbDatabase {
    /// Database name (unique per origin; never empty).
    pub name: String,
    /// Version the database was opened with (at least 1).
    pub version: u64,
    /// Object stores, in the order the browser listed them (names are unique).
    #[serde(default)]
    pub stores: Vec<IdbStore>,
    /// Members this version does not know, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One object store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IdbStore {
    /// Store name (unique in its database).
    pub name: String,
    /// Every record, in key order as the browser returned them.
    #[serde(default)]
    pub records: Vec<IdbRecord>,
    /// Indexes (names unique in the store).
    #[serde(default)]
    pub indexes: Vec<IdbIndex>,
    /// Whether the store has a key generator.
    #[serde(default)]
    pub auto_increment: bool,
    /// In-line key path given as one string (`""` is the value itself).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_path: Option<String>,
    /// In-line compound key path (an array of paths).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_path_array: Option<Vec<String>>,
    /// pvault only: the key generator's current number, the next key it would hand out
    /// (CDP `IndexedDB.getMetadata`'s `keyGeneratorValue`). Records deleted after being added
    /// leave it above the largest key, which the records alone cannot tell.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_generator: Option<u64>,
    /// Members this version does not know, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One index of a store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IdbIndex {
    /// Index name.
    pub name: String,
    /// Key path given as one string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_path: Option<String>,
    /// Compound key path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_path_array: Option<Vec<String>>,
    /// One index entry per element when the key is an array.
    #[serde(default)]
    pub multi_entry: bool,
    /// No two records may share a key of this index.
    #[serde(default)]
    pub unique: bool,
    /// Members this version does not know, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One record. Exactly one of `key`/`key_encoded` for a store without a key path (pvault
/// also writes it for stores with one; Playwright leaves it out there), and exactly one of
/// `value`/`value_encoded`. Values are secrets: never logged.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IdbRecord {
    /// The key as plain JSON (a string or finite number, or an array of them).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub key: Option<Value>,
    /// The key in the tagged encoding (Date, binary, ±Infinity, arrays holding those).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub key_encoded: Option<Value>,
    /// The value as plain JSON (plain objects, arrays, strings, finite numbers, booleans,
    /// null and nothing else anywhere inside).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub value: Option<Value>,
    /// The value in the tagged encoding.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub value_encoded: Option<Value>,
}

/// A member that is there, `null` included (serde's plain `Option` reads `null` as absent,
/// and `null` is a value a record can hold).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

impl std::fmt::Debug for IdbRecord {
    // Hand-written: values are secrets (tokens live here); the key is shown, it names data.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdbRecord")
            .field("key", &self.key_json())
            .field("value", &"<redacted>")
            .finish()
    }
}

/// Either form of a key or value, as stored in a record.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Form<'a> {
    /// Plain JSON.
    Plain(&'a Value),
    /// Tagged encoding.
    Encoded(&'a Value),
}

impl IdbRecord {
    /// The record's value in whichever form it has.
    pub fn value_form(&self) -> Option<Form<'_>> {
        match (&self.value, &self.value_encoded) {
            (Some(v), _) => Some(Form::Plain(v)),
            (None, Some(v)) => Some(Form::Encoded(v)),
            (None, None) => None,
        }
    }

    /// The record's explicit key in whichever form it has.
    pub fn key_form(&self) -> Option<Form<'_>> {
        match (&self.key, &self.key_encoded) {
            (Some(v), _) => Some(Form::Plain(v)),
            (None, Some(v)) => Some(Form::Encoded(v)),
            (None, None) => None,
        }
    }

    /// A stable text for the key (compact JSON of its stored form), for diffs and sorting;
    /// `None` when the record carries no explicit key.
    pub fn key_json(&self) -> Option<String> {
        self.key_form().map(|f| match f {
            Form::Plain(v) => serde_json::to_string(v).unwrap_or_default(),
            Form::Encoded(v) => format!("encoded:{}", serde_json::to_string(v).unwrap_or_default()),
        })
    }

    /// What the value's encoding uses that Playwright's cannot read, and what could not be
    /// serialized at all (by type name).
    pub fn value_info(&self) -> EncodedInfo {
        match &self.value_encoded {
            Some(v) if self.value.is_none() => clone_value::inspect(v),
            _ => EncodedInfo::default(),
        }
    }
}

impl IdbStore {
    /// The store's key path as one JSON value (string, array of strings) or `None`.
    pub fn key_path_value(&self) -> Option<Value> {
        match (&self.key_path_array, &self.key_path) {
            (Some(a), _) => Some(Value::from(a.clone())),
            (None, Some(p)) => Some(Value::from(p.clone())),
            (None, None) => None,
        }
    }

    /// Whether records carry their key inside their value.
    pub fn in_line(&self) -> bool {
        self.key_path.is_some() || self.key_path_array.is_some()
    }
}

/// Totals over a list of databases, for reports and snapshot info.
pub fn record_count(dbs: &[IdbDatabase]) -> usize {
    dbs.iter()
        .flat_map(|d| &d.stores)
        .map(|s| s.records.len())
        .sum()
}
