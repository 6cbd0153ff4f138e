//! How a snapshot diff is shown to people. The data is the model's `StateDiff` (names only,
//! never values); a generic rendering covers a newer daemon's diff that this CLI cannot parse.

use pvault_model::{CookieKey, StateDiff};
use serde_json::Value;

/// A summary line, then one line per change: `+` added, `-` removed, `~` changed.
pub fn render_state_diff(d: &StateDiff) -> String {
    if d.is_empty() {
        return String::new();
    }
    let cookie = |k: &CookieKey| {
        let part = match &k.partition_key {
            Some(p) => format!(" (partition {})", p.top_level_site),
            None => String::new(),
        };
        format!(
            "cookie {} {}{}{part}",
            display_name(&k.name),
            k.domain,
            k.path
        )
    };
    let mut out = format!("{}\n", d.summary());
    for k in &d.cookies_added {
        out.push_str(&format!("  + {}\n", cookie(k)));
    }
    for k in &d.cookies_removed {
        out.push_str(&format!("  - {}\n", cookie(k)));
    }
    for c in &d.cookies_changed {
        out.push_str(&format!(
            "  ~ {} [{}]\n",
            cookie(&c.key),
            c.fields.join(", ")
        ));
    }
    for o in &d.origins_added {
        out.push_str(&format!("  + origin {o}\n"));
    }
    for o in &d.origins_removed {
        out.push_str(&format!("  - origin {o}\n"));
    }
    for (kind, list) in [
        ("localStorage", &d.local_storage),
        ("sessionStorage", &d.session_storage),
    ] {
        for o in list {
            for (mark, keys) in [('+', &o.added), ('-', &o.removed), ('~', &o.changed)] {
                for k in keys {
                    out.push_str(&format!(
                        "  {mark} {kind} {} {}\n",
                        o.origin,
                        display_name(k)
                    ));
                }
            }
        }
    }
    for db in &d.indexed_db {
        let name = format!("IndexedDB {} {}", db.origin, display_name(&db.database));
        match db.status.as_str() {
            "added" => out.push_str(&format!("  + {name} (database)\n")),
            "removed" => out.push_str(&format!("  - {name} (database)\n")),
            _ => {}
        }
        for change in &db.schema {
            out.push_str(&format!("  ~ {name}: {change}\n"));
        }
        for st in &db.stores {
            for (mark, keys) in [('+', &st.added), ('-', &st.removed), ('~', &st.changed)] {
                for k in keys {
                    out.push_str(&format!(
                        "  {mark} {name}/{} key {k}\n",
                        display_name(&st.store)
                    ));
                }
            }
        }
    }
    out
}

/// A cookie or key name as shown: quoted when empty or when it has spaces or controls, so
/// every entry stays one unambiguous line.
fn display_name(n: &str) -> String {
    if n.is_empty() || n.chars().any(|c| c.is_whitespace() || c.is_control()) {
        format!("{n:?}")
    } else {
        n.to_owned()
    }
}

/// Renders the daemon's diff object for people without depending on its exact shape: lists
/// under keys naming an addition, removal or change get `+`, `-`, `~` markers; empty lists
/// are skipped, so an empty diff renders as nothing.
pub fn render_diff(v: &Value, depth: usize) -> String {
    let pad = "  ".repeat(depth);
    let mut out = String::new();
    let Value::Object(map) = v else {
        return String::new();
    };
    for (key, val) in map {
        match val {
            Value::Array(items) if items.is_empty() => {}
            Value::Array(items) => {
                let mark = marker(key);
                out.push_str(&format!("{pad}{key} ({}):\n", items.len()));
                for it in items {
                    out.push_str(&format!("{pad}  {mark} {}\n", summarize(it)));
                }
            }
            Value::Object(_) => {
                let inner = render_diff(val, depth + 1);
                if !inner.is_empty() {
                    out.push_str(&format!("{pad}{key}:\n{inner}"));
                }
            }
            Value::Null | Value::Bool(false) => {}
            Value::Number(n) if n.as_u64() == Some(0) => {}
            other => out.push_str(&format!("{pad}{key}: {}\n", summarize(other))),
        }
    }
    out
}

/// `+` for additions, `-` for removals, `~` for changes, `*` otherwise.
fn marker(key: &str) -> char {
    let k = key.to_ascii_lowercase();
    if k.contains("add") {
        '+'
    } else if k.contains("remov") || k.contains("delet") {
        '-'
    } else if k.contains("chang") || k.contains("modif") {
        '~'
    } else {
        '*'
    }
}

/// One diff entry on one line: a string as is; an object as its identifying fields
/// (`name`, `domain`, `path`, `origin`, `key`, and a `fields` list if any) or compact JSON.
fn summarize(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Object(m) => {
            let mut parts = Vec::new();
            for k in ["origin", "name", "key", "domain", "path"] {
                if let Some(Value::String(s)) = m.get(k) {
                    parts.push(s.clone());
                }
            }
            for k in ["fields", "changed", "changed_fields"] {
                if let Some(Value::Array(f)) = m.get(k) {
                    let names: Vec<String> = f.iter().map(summarize).collect();
                    parts.push(format!("[{}]", names.join(", ")));
                }
            }
            if parts.is_empty() {
                v.to_string()
            } else {
                parts.join(" ")
            }
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn state_diff_rendering_lists_every_change_without_values() {
        let from: pvault_model::BrowserState = serde_json::from_value(json!({
            "cookies": [{"name": "sid", "value": "v1", "domain": ".a.com", "path": "/", "expires": -1},
                        {"name": "old", "value": "x", "domain": "a.com", "path": "/", "expires": -1}],
            "origins": [{"origin": "https://a.com", "localStorage": [{"name": "k", "value": "1"}]}]
        }))
        .unwrap();
        let to: pvault_model::BrowserState = serde_json::from_value(json!({
            "cookies": [{"name": "sid", "value": "v2", "domain": ".a.com", "path": "/", "expires": -1}],
            "origins": [{"origin": "https://a.com", "localStorage": [{"name": "k", "value": "2"},
                                                                      {"name": "new key", "value": "3"}]}]
        }))
        .unwrap();
        let s = render_state_diff(&pvault_model::diff(&from, &to));
        assert!(s.contains("  - cookie old a.com/"), "{s}");
        assert!(s.contains("  ~ cookie sid .a.com/ [value]"), "{s}");
        assert!(
            s.contains("  + localStorage https://a.com \"new key\""),
            "{s}"
        );
        assert!(s.contains("  ~ localStorage https://a.com k"), "{s}");
        assert!(!s.contains("v2"), "no values: {s}");
        assert_eq!(render_state_diff(&pvault_model::diff(&to, &to)), "");
    }

    #[test]
    fn session_storage_and_indexeddb_changes_are_listed_without_values() {
        let from: pvault_model::BrowserState = serde_json::from_value(json!({
            "cookies": [],
            "origins": [{"origin": "https://a.com", "localStorage": [],
                "sessionStorage": [{"name": "gone", "value": "SECRET1"}, {"name": "tok", "value": "SECRET2"}],
                "indexedDB": [
                    {"name": "app", "version": 1, "stores": [
                        {"name": "kv", "records": [{"key": "a", "value": "SECRET3"}, {"key": "b", "value": 1}]},
                        {"name": "old", "records": []}]},
                    {"name": "dropped", "version": 1, "stores": []}]}]
        }))
        .unwrap();
        let to: pvault_model::BrowserState = serde_json::from_value(json!({
            "cookies": [],
            "origins": [{"origin": "https://a.com", "localStorage": [],
                "sessionStorage": [{"name": "tok", "value": "SECRET4"}, {"name": "new", "value": "x"}],
                "indexedDB": [
                    {"name": "app", "version": 2, "stores": [
                        {"name": "kv", "records": [{"key": "a", "value": "SECRET5"},
                                                   {"keyEncoded": {"d": "2026-01-02T03:04:05.678Z"}, "value": 2}]}]},
                    {"name": "firebaseLocalStorageDb", "version": 1, "stores": [
                        {"name": "firebaseLocalStorage", "keyPath": "fbase_key",
                         "records": [{"key": "firebase:authUser:k", "value": {"fbase_key": "firebase:authUser:k"}}]}]}]}]
        }))
        .unwrap();
        let s = render_state_diff(&pvault_model::diff(&from, &to));
        for line in [
            "  + sessionStorage https://a.com new",
            "  - sessionStorage https://a.com gone",
            "  ~ sessionStorage https://a.com tok",
            "  ~ IndexedDB https://a.com app: version 1 → 2",
            "  ~ IndexedDB https://a.com app: store \"old\" removed",
            "  ~ IndexedDB https://a.com app/kv key \"a\"",
            "  - IndexedDB https://a.com app/kv key \"b\"",
            "  + IndexedDB https://a.com app/kv key encoded:{\"d\":\"2026-01-02T03:04:05.678Z\"}",
            "  - IndexedDB https://a.com dropped (database)",
            "  + IndexedDB https://a.com firebaseLocalStorageDb (database)",
            "  + IndexedDB https://a.com firebaseLocalStorageDb/firebaseLocalStorage key \"firebase:authUser:k\"",
        ] {
            assert!(s.contains(&format!("{line}\n")), "missing {line:?} in\n{s}");
        }
        assert!(!s.contains("SECRET"), "no values: {s}");
        assert!(s.starts_with("cookies +0 -0 ~0"), "{s}");
        assert!(s.contains("sessionStorage keys +1 -1 ~1"), "{s}");

        // A state with only these parts differs from one without them.
        let bare: pvault_model::BrowserState = serde_json::from_value(json!({
            "cookies": [], "origins": [{"origin": "https://a.com", "localStorage": []}]
        }))
        .unwrap();
        assert!(!render_state_diff(&pvault_model::diff(&bare, &to)).is_empty());
        assert!(!render_state_diff(&pvault_model::diff(&to, &bare)).is_empty());
    }

    #[test]
    fn diff_rendering_marks_and_skips_empty_sections() {
        let v = json!({
            "cookies": {"added": [{"name": "sid", "domain": "a.com", "path": "/"}], "removed": [],
                        "changed": [{"name": "t", "domain": "b.com", "path": "/", "fields": ["value"]}]},
            "local_storage": {"added": [], "removed": [{"origin": "https://a.com", "key": "k"}]}
        });
        let s = render_diff(&v, 0);
        assert!(s.contains("+ sid a.com /"), "{s}");
        assert!(s.contains("~ t b.com / [value]"), "{s}");
        assert!(s.contains("- https://a.com k"), "{s}");
        assert!(!s.contains("removed (0)"), "{s}");
        assert_eq!(render_diff(&json!({"cookies": {"added": []}}), 0), "");
    }
}
