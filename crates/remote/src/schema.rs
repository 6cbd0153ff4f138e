//! Creating, recognising and migrating the store (`remote-format.md` 3.1). The SQL is in
//! `crates/remote/sql/`; migration N takes a store from version N − 1 to N.

use tokio_postgres::Client;

use crate::connect::{Target, db_error};
use crate::crypto::{self, Id, Key};
use crate::error::{RemoteError, Result};

/// The schema version this build writes and the highest it reads.
pub const SCHEMA_VERSION: i32 = 1;

/// The migrations, in order: `(version, SQL)`; the first creates the tables.
const MIGRATIONS: &[(i32, &str)] = &[(1, include_str!("../sql/v1.sql"))];

/// The SQL that creates the current schema (for administrators and the docs' test).
pub fn schema_sql() -> String {
    MIGRATIONS
        .iter()
        .map(|(_, s)| *s)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Our tables.
const TABLES: [&str; 4] = [
    "pvault_store",
    "pvault_profiles",
    "pvault_snapshots",
    "pvault_leases",
];

/// The key passed to `pg_advisory_xact_lock` while creating or migrating (`pvlt`).
const CREATE_LOCK: i64 = 0x7076_6c74;

/// What [`recognise`] found.
pub(crate) enum Found {
    /// A pvault store: its id, schema version and key check.
    Store {
        store_id: Id,
        schema_version: i32,
        key_check: Vec<u8>,
    },
    /// An empty schema, or our tables without the store row (an administrator ran the SQL).
    Empty { tables_exist: bool },
}

/// Tables in the current schema (all of them, whatever our privileges on them).
async fn tables(t: &Target, c: &impl tokio_postgres::GenericClient) -> Result<Vec<String>> {
    let rows = c
        .query(
            "SELECT c.relname::text FROM pg_catalog.pg_class c \
             WHERE c.relnamespace = (SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = current_schema()) \
               AND c.relkind IN ('r','p','v','m','f') ORDER BY 1",
            &[],
        )
        .await
        .map_err(|e| db_error(t, e))?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// Reads what is in the database (3.1 steps 1–3), writing nothing.
pub(crate) async fn recognise(t: &Target, c: &impl tokio_postgres::GenericClient) -> Result<Found> {
    let schema: Option<String> = c
        .query_one("SELECT current_schema()::text", &[])
        .await
        .map_err(|e| db_error(t, e))?
        .get(0);
    if schema.is_none() {
        return Err(RemoteError::NotAStore {
            detail: "the role's search_path names no existing schema".into(),
        });
    }
    let all = tables(t, c).await?;
    let foreign: Vec<&String> = all
        .iter()
        .filter(|n| !TABLES.contains(&n.as_str()))
        .collect();
    let ours = all.len() - foreign.len();
    if !foreign.is_empty() {
        let shown: Vec<&str> = foreign.iter().take(5).map(|s| s.as_str()).collect();
        return Err(RemoteError::NotAStore {
            detail: format!(
                "it holds tables of another tool ({}{})",
                shown.join(", "),
                if foreign.len() > 5 { ", …" } else { "" }
            ),
        });
    }
    if ours == 0 {
        return Ok(Found::Empty {
            tables_exist: false,
        });
    }
    if ours != TABLES.len() {
        return Err(RemoteError::NotAStore {
            detail: format!("only {ours} of pvault's {} tables exist", TABLES.len()),
        });
    }
    let rows = c
        .query(
            "SELECT magic, schema_version, store_id, key_check FROM pvault_store",
            &[],
        )
        .await
        .map_err(|e| db_error(t, e))?;
    match rows.as_slice() {
        [] => Ok(Found::Empty { tables_exist: true }),
        [r] => {
            let magic: String = r.get(0);
            if magic != "pvault-remote-store" {
                return Err(RemoteError::NotAStore {
                    detail: "pvault_store has another magic".into(),
                });
            }
            let version: i32 = r.get(1);
            if version > SCHEMA_VERSION {
                return Err(RemoteError::NewerSchema {
                    found: version,
                    known: SCHEMA_VERSION,
                });
            }
            let id: Vec<u8> = r.get(2);
            Ok(Found::Store {
                store_id: id.try_into().map_err(|_| RemoteError::NotAStore {
                    detail: "store_id is not 16 bytes".into(),
                })?,
                schema_version: version,
                key_check: r.get(3),
            })
        }
        _ => Err(RemoteError::NotAStore {
            detail: "pvault_store has several rows".into(),
        }),
    }
}

/// Creates the store in an empty schema (or fills the row of tables an administrator
/// created) under the creation lock, with `team` as its key; returns its id. If another
/// client created it meanwhile, returns theirs (the caller's key will then not open it).
pub(crate) async fn create(t: &Target, c: &mut Client, team: &Key) -> Result<Id> {
    let tx = c.transaction().await.map_err(|e| db_error(t, e))?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&CREATE_LOCK])
        .await
        .map_err(|e| db_error(t, e))?;
    let id = match recognise(t, &tx).await? {
        Found::Store { store_id, .. } => store_id,
        Found::Empty { tables_exist } => {
            if !tables_exist {
                for (_, sql) in MIGRATIONS {
                    tx.batch_execute(sql).await.map_err(|e| db_error(t, e))?;
                }
            }
            let id = crypto::random_id()?;
            let check = crypto::seal(
                team,
                &crypto::aad_key_check(&id),
                crypto::KEY_CHECK_PLAINTEXT,
            )?;
            tx.execute(
                "INSERT INTO pvault_store (magic, schema_version, store_id, created_at, key_check) \
                 VALUES ('pvault-remote-store', $1, $2, $3, $4)",
                &[&SCHEMA_VERSION, &id.as_slice(), &crate::now_ms(), &check],
            )
            .await
            .map_err(|e| db_error(t, e))?;
            id
        }
    };
    tx.commit().await.map_err(|e| db_error(t, e))?;
    Ok(id)
}

/// Brings an older store to [`SCHEMA_VERSION`] (3.1 step 4). With one version there is
/// nothing to run yet; the loop is what a second version plugs into.
pub(crate) async fn migrate(t: &Target, c: &mut Client, from: i32) -> Result<()> {
    if from >= SCHEMA_VERSION {
        return Ok(());
    }
    let tx = c.transaction().await.map_err(|e| db_error(t, e))?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&CREATE_LOCK])
        .await
        .map_err(|e| db_error(t, e))?;
    let current: i32 = tx
        .query_one("SELECT schema_version FROM pvault_store", &[])
        .await
        .map_err(|e| db_error(t, e))?
        .get(0);
    for (v, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
        tx.batch_execute(sql).await.map_err(|e| db_error(t, e))?;
        tx.execute("UPDATE pvault_store SET schema_version = $1", &[v])
            .await
            .map_err(|e| db_error(t, e))?;
    }
    tx.commit().await.map_err(|e| db_error(t, e))
}
