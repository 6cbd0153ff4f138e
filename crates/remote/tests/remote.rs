//! The remote store against a real PostgreSQL server (Debian's `postgresql`, started per test
//! as a throw-away cluster by `pvault_testkit::PgServer`). Each module says what it covers;
//! `remote-format.md` names the test of each rule.

#[path = "remote/common.rs"]
mod common;

#[path = "remote/bad_input.rs"]
mod bad_input;
#[path = "remote/confidentiality.rs"]
mod confidentiality;
#[path = "remote/keyfile.rs"]
mod keyfile;
#[path = "remote/lease.rs"]
mod lease;
#[path = "remote/schema.rs"]
mod schema;
#[path = "remote/tamper.rs"]
mod tamper;
#[path = "remote/vectors.rs"]
mod vectors;
