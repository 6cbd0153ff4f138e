//! Helpers of the remote tests: a PostgreSQL server with a database for the store, daemons
//! with separate vaults (standing for separate machines) with Chromium configured, and the
//! requests each test repeats.

use std::time::Duration;

use pvault_testkit::PgServer;
use pvault_testkit::postgres::SUPERUSER_PASSWORD;
use serde_json::{Value, json};

use crate::harness::{Daemon, Env, Raw};
use crate::sessions::support::start_daemon;

/// The passphrase of team-key exports in these tests.
pub const EXPORT_PASS: &str = "team key export passphrase";

/// A throw-away server with database `pv`.
pub struct Pg {
    /// The server.
    pub server: PgServer,
}

impl Pg {
    pub fn start() -> Pg {
        let server = PgServer::start();
        server.create_db("pv");
        Pg { server }
    }

    pub fn url(&self) -> String {
        self.server.url("pv")
    }

    pub fn sql(&self, sql: &str) -> String {
        self.server.psql("pv", sql)
    }
}

/// One machine: a daemon on its own vault, unlocked, and a connection.
pub struct Machine {
    pub env: Env,
    pub daemon: Daemon,
    pub c: Raw,
}

impl Machine {
    pub fn start() -> Machine {
        let env = Env::new();
        let daemon = start_daemon(&env, &[]);
        let mut c = daemon.session();
        c.init();
        Machine { env, daemon, c }
    }

    /// `remote.add NAME` for `pg` with the superuser's password and a lease of `ttl` s.
    pub fn add(&mut self, pg: &Pg, ttl: u64, key_file: Option<Value>) -> Value {
        let mut p = json!({"name": "team", "url": pg.url(), "password": SUPERUSER_PASSWORD,
                           "lease_ttl_secs": ttl});
        if let Some(k) = key_file {
            p["key_file"] = k;
        }
        self.c.ok("remote.add", p)
    }

    /// The team key exported with [`EXPORT_PASS`], as `remote.add`'s `key_file`.
    pub fn export(&mut self) -> Value {
        let doc = self.c.ok(
            "remote.export_key",
            json!({"name": "team", "protector": {"passphrase": EXPORT_PASS}}),
        )["document"]
            .clone();
        json!({"document": doc, "protector": {"passphrase": EXPORT_PASS}})
    }

    pub fn status(&mut self) -> Value {
        self.c.ok("remote.status", json!({"name": "team"}))
    }

    pub fn history(&mut self, profile: &str) -> Vec<Value> {
        self.c.ok("profile.history", json!({"name": profile}))["snapshots"]
            .as_array()
            .unwrap()
            .clone()
    }

    /// Starts a session; returns the whole response (with `error` when it failed).
    pub fn start_session(&mut self, profile: &str, save: bool) -> Value {
        self.c
            .call("session.start", json!({"profile": profile, "save": save}))
    }
}

pub fn session_id(started: &Value) -> String {
    started["result"]["session"]["session_id"]
        .as_str()
        .unwrap_or_else(|| panic!("not started: {started}"))
        .to_owned()
}

/// A storageState whose cookie value is `value` on `domain`.
pub fn state(value: &str, domain: &str) -> Value {
    json!({
        "cookies": [{"name": "remote-sid", "value": value, "domain": domain, "path": "/",
                     "expires": -1, "httpOnly": true, "secure": false, "sameSite": "Lax"}],
        "origins": [{"origin": format!("http://{domain}"),
                     "localStorage": [{"name": "remote-ls-key", "value": value}]}]
    })
}

/// Cookie values a CDP client sees in a session.
pub fn cookie_values(ws: &str) -> Vec<String> {
    let mut cdp = pvault_testkit::Cdp::connect(ws).unwrap();
    cdp.cookies()
        .iter()
        .filter_map(|c| c["value"].as_str().map(str::to_owned))
        .collect()
}

/// How long a test waits for something the daemon does in the background.
pub const PATIENCE: Duration = Duration::from_secs(60);
