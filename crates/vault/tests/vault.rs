//! The vault's one integration-test binary: real SQLite files in temporary directories, the
//! real Argon2id (at the OWASP minimum so the suite stays fast). Each module says what it
//! covers.

// The golden content is one large `json!` literal.
#![recursion_limit = "512"]

#[path = "vault/common.rs"]
mod common;

#[path = "vault/at_rest.rs"]
mod at_rest;
#[path = "vault/chain.rs"]
mod chain;
#[path = "vault/concurrency.rs"]
mod concurrency;
#[path = "vault/golden.rs"]
mod golden;
#[path = "vault/health.rs"]
mod health;
#[path = "vault/history.rs"]
mod history;
#[path = "vault/negative.rs"]
mod negative;
#[path = "vault/profiles.rs"]
mod profiles;
#[path = "vault/schema.rs"]
mod schema;
#[path = "vault/spec.rs"]
mod spec;
#[path = "vault/spec_body.rs"]
mod spec_body;
#[path = "vault/spec_format2.rs"]
mod spec_format2;
#[path = "vault/spec_negative.rs"]
mod spec_negative;
#[path = "vault/spec_reader.rs"]
mod spec_reader;
#[path = "vault/spec_unlock.rs"]
mod spec_unlock;
#[path = "vault/tamper.rs"]
mod tamper;
#[path = "vault/unlock.rs"]
mod unlock;
#[path = "vault/upgrade.rs"]
mod upgrade;
#[path = "vault/upgrade_crash.rs"]
mod upgrade_crash;
