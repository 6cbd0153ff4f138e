//! The benchmark states shared by the session and checkpoint benches: a typical profile (100
//! cookies over 10 domains, 5 origins × 20 localStorage keys) and a large one (1,000 cookies
//! over 50 domains, 20 origins × 50 keys), as Playwright storageState.

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
}

/// The typical and the large state, in that order.
pub const SHAPES: [Shape; 2] = [
    Shape {
        name: "typical",
        cookies: 100,
        domains: 10,
        origins: 5,
        keys: 20,
    },
    Shape {
        name: "large",
        cookies: 1000,
        domains: 50,
        origins: 20,
        keys: 50,
    },
];

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
            json!({"origin": format!("https://bench{o}.test"), "localStorage": items})
        })
        .collect();
    json!({"cookies": cookies, "origins": origins})
}
