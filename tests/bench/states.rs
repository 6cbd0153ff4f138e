//! The benchmark states shared by the session and checkpoint benches: a typical profile (100
//! cookies over 10 domains, 5 origins × 20 localStorage keys), a large one (1,000 cookies
//! over 50 domains, 20 origins × 50 keys), and the large one plus IndexedDB (5 origins × 2
//! databases × 1,000 records, about 2 MB), as Playwright storageState.

use serde_json::{Value, json};

/// One benchmark state: its name and shape.
pub struct Shape {
    /// Profile name and table label.
    pub name: &'static str,
    /// Number of cookies.
    pub cookies: usize,
    /// Number of cookie domains.
    pub domains: usize,
    /// Number of origins with localStorage.
    pub origins: usize,
    /// localStorage keys per origin.
    pub keys: usize,
    /// Origins (the first ones) with IndexedDB.
    pub idb_origins: usize,
    /// Databases per such origin.
    pub idb_databases: usize,
    /// Records per database.
    pub idb_records: usize,
}

/// The typical, the large and the large-with-IndexedDB state, in that order.
pub const SHAPES: [Shape; 3] = [
    Shape {
        name: "typical",
        cookies: 100,
        domains: 10,
        origins: 5,
        keys: 20,
        idb_origins: 0,
        idb_databases: 0,
        idb_records: 0,
    },
    Shape {
        name: "large",
        cookies: 1000,
        domains: 50,
        origins: 20,
        keys: 50,
        idb_origins: 0,
        idb_databases: 0,
        idb_records: 0,
    },
    Shape {
        name: "large-idb",
        cookies: 1000,
        domains: 50,
        origins: 20,
        keys: 50,
        idb_origins: 5,
        idb_databases: 2,
        idb_records: 1000,
    },
];

/// Playwright's `indexedDB` member for one origin: `databases` databases with one
/// out-of-line store of `records` records of about 200 bytes each (a token-like string and
/// a few fields), in Playwright's plain-JSON form.
fn indexed_db(o: usize, databases: usize, records: usize) -> Value {
    (0..databases)
        .map(|d| {
            let records: Vec<Value> = (0..records)
                .map(|r| {
                    json!({
                        "key": format!("k{r:05}"),
                        "value": {"id": r, "origin": o, "token": format!("{:0>150x}", (r as u128 + 1) * 0x9E37_79B9), "at": 1_700_000_000 + r},
                    })
                })
                .collect();
            json!({"name": format!("db{d}"), "version": 1, "stores": [
                {"name": "kv", "records": records, "indexes": [], "autoIncrement": false}
            ]})
        })
        .collect()
}

/// A Playwright storageState of the given shape. Values are distinct and of realistic length;
/// half the cookies are domain cookies, a third httpOnly, all expire in 30 days.
pub fn state(shape: &Shape) -> Value {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let cookies: Vec<Value> = (0..shape.cookies)
        .map(|i| {
            let d = i % shape.domains;
            // One registrable site per domain: Chrome keeps at most 180 cookies per site.
            let host = format!("bench{d}.test");
            json!({
                "name": format!("c{i}"),
                "value": format!("{:032x}", (i as u128 + 1) * 0x9E37_79B9_7F4A_7C15),
                "domain": if i % 2 == 0 { format!(".{host}") } else { host },
                "path": "/",
                "expires": (now + 30.0 * 86_400.0).floor(),
                "httpOnly": i % 3 == 0,
                "secure": true,
                "sameSite": "Lax",
            })
        })
        .collect();
    let origins: Vec<Value> = (0..shape.origins)
        .map(|o| {
            let items: Vec<Value> = (0..shape.keys)
                .map(|k| json!({"name": format!("key{k}"), "value": format!("value-{o}-{k}-{}", "x".repeat(48))}))
                .collect();
            let mut origin = json!({"origin": format!("https://bench{o}.test"), "localStorage": items});
            if o < shape.idb_origins {
                origin["indexedDB"] = indexed_db(o, shape.idb_databases, shape.idb_records);
            }
            origin
        })
        .collect();
    json!({"cookies": cookies, "origins": origins})
}
