//! The SQLite file: schema, pragmas, file modes, and the connections.
//!
//! One writer connection behind a mutex (every change is one `BEGIN IMMEDIATE` transaction);
//! readers take a connection from a small pool and read inside their own deferred transaction,
//! so under WAL they see a consistent snapshot and never wait for the writer.

use std::fs::{DirBuilder, OpenOptions};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};

use crate::error::{Result, VaultError};

/// Current on-disk format version (`vault.format_version`). Formats 1 and 2 are still opened,
/// and upgraded to this one at the first unlock.
pub const FORMAT_VERSION: i64 = 3;
/// `PRAGMA application_id`: ASCII "pvlt".
pub const APPLICATION_ID: i64 = 0x7076_6c74;
/// Reader connections kept open for reuse.
const POOL_SIZE: usize = 4;

/// Schema of format version 1 (normative: `vault-format.md`, "Tables").
pub const SCHEMA_V1: &str = "
CREATE TABLE vault (
    singleton      INTEGER PRIMARY KEY CHECK (singleton = 1),
    format_version INTEGER NOT NULL,
    vault_id       BLOB    NOT NULL CHECK (length(vault_id) = 16),
    created_at     INTEGER NOT NULL,
    retention      INTEGER NOT NULL CHECK (retention >= 1)
);
CREATE TABLE keyslots (
    slot_id    BLOB    PRIMARY KEY CHECK (length(slot_id) = 16),
    slot_kind  INTEGER NOT NULL UNIQUE,
    kdf_id     INTEGER NOT NULL,
    m_kib      INTEGER NOT NULL,
    t          INTEGER NOT NULL,
    p          INTEGER NOT NULL,
    salt       BLOB    NOT NULL,
    wrapped_mk BLOB    NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE profiles (
    profile_id   BLOB    PRIMARY KEY CHECK (length(profile_id) = 16),
    name_hash    BLOB    NOT NULL UNIQUE CHECK (length(name_hash) = 32),
    key_version  INTEGER NOT NULL,
    wrapped_dk   BLOB    NOT NULL,
    meta         BLOB    NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    next_seq     INTEGER NOT NULL
);
CREATE TABLE snapshots (
    snapshot_id    BLOB    PRIMARY KEY CHECK (length(snapshot_id) = 16),
    profile_id     BLOB    NOT NULL REFERENCES profiles (profile_id) ON DELETE CASCADE,
    seq            INTEGER NOT NULL,
    kind           INTEGER NOT NULL,
    created_at     INTEGER NOT NULL,
    schema_version INTEGER NOT NULL,
    size_bytes     INTEGER NOT NULL,
    session_id     TEXT,
    info           BLOB    NOT NULL,
    body           BLOB    NOT NULL,
    UNIQUE (profile_id, seq)
);
CREATE INDEX snapshots_by_session ON snapshots (profile_id, session_id)
    WHERE session_id IS NOT NULL;
";

/// The open database: one writer, a pool of readers.
pub struct Store {
    /// Path of the database file.
    path: PathBuf,
    /// The writer connection.
    writer: Mutex<Connection>,
    /// Idle reader connections.
    readers: Mutex<Vec<Connection>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// Creates `dir` with mode 0700 if missing; refuses a directory others can access.
pub fn prepare_dir(dir: &Path, create: bool) -> Result<()> {
    if create && !dir.exists() {
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(VaultError::io(dir))?;
    }
    let meta = std::fs::metadata(dir).map_err(VaultError::io(dir))?;
    if !meta.is_dir() {
        return Err(VaultError::InvalidArgument {
            what: "vault directory",
            reason: format!("{} is not a directory", dir.display()),
        });
    }
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(VaultError::InvalidArgument {
            what: "vault directory",
            reason: format!(
                "{} is accessible by group or others (mode {:o}); run `chmod 700 {}`",
                dir.display(),
                meta.permissions().mode() & 0o777,
                dir.display()
            ),
        });
    }
    Ok(())
}

/// Creates an empty 0600 database file; `AlreadyExists` if there is one.
pub fn create_file(path: &Path) -> Result<()> {
    match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(VaultError::AlreadyExists {
            path: path.display().to_string(),
        }),
        Err(e) => Err(VaultError::io(path)(e)),
    }
}

/// Forces mode 0600 on the database and its `-wal`/`-shm` companions (whatever the umask).
pub fn fix_modes(path: &Path) -> Result<()> {
    for suffix in ["", "-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        let p = PathBuf::from(p);
        if p.exists() {
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600))
                .map_err(VaultError::io(&p))?;
        }
    }
    Ok(())
}

/// How long a connection waits for a lock another connection holds.
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Opens a connection with the vault's pragmas.
pub fn connect(path: &Path) -> Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(VaultError::storage("open"))?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(VaultError::storage("busy_timeout"))?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;
         PRAGMA secure_delete = ON;
         PRAGMA foreign_keys = ON;",
    )
    .map_err(VaultError::storage("pragmas"))?;
    // Every statement of the read and write paths goes through the statement cache (parsing
    // them again on every commit cost more than the history chain does); there are about
    // thirty distinct ones.
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

impl Store {
    /// Opens the store over an existing file (after `connect` has set WAL mode).
    pub fn open(path: &Path) -> Result<Store> {
        let writer = connect(path)?;
        fix_modes(path)?;
        Ok(Store {
            path: path.to_owned(),
            writer: Mutex::new(writer),
            readers: Mutex::new(Vec::new()),
        })
    }

    /// Path of the database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` in one `BEGIN IMMEDIATE` transaction on the writer; commits if it returns Ok.
    pub fn write<T>(&self, f: impl FnOnce(&Transaction<'_>) -> Result<T>) -> Result<T> {
        let mut conn = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(VaultError::storage("begin"))?;
        let out = f(&tx)?;
        tx.commit().map_err(VaultError::storage("commit"))?;
        Ok(out)
    }

    /// Runs `f` in a read transaction on a pooled reader connection.
    pub fn read<T>(&self, f: impl FnOnce(&Transaction<'_>) -> Result<T>) -> Result<T> {
        let pooled = self.readers.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let mut conn = match pooled {
            Some(c) => c,
            None => connect(&self.path)?,
        };
        let out = {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Deferred)
                .map_err(VaultError::storage("begin read"))?;
            let out = f(&tx);
            // A read transaction has nothing to commit; ending it releases the WAL snapshot.
            let _ = tx.rollback();
            out
        };
        let mut pool = self.readers.lock().unwrap_or_else(|p| p.into_inner());
        if pool.len() < POOL_SIZE {
            pool.push(conn);
        }
        out
    }

    /// `wal_checkpoint(TRUNCATE)`: copies the WAL into the database (where `secure_delete`
    /// has zeroed freed content) and truncates the WAL, so destroyed keys leave no copy.
    pub fn checkpoint_truncate(&self) -> Result<()> {
        let conn = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        // Idle pooled readers hold no snapshot, so the checkpoint can complete.
        for _ in 0..100 {
            let busy: i64 = conn
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))
                .map_err(VaultError::storage("wal_checkpoint"))?;
            if busy == 0 {
                return Ok(());
            }
            std::thread::yield_now();
        }
        Ok(())
    }

    /// One `wal_checkpoint(TRUNCATE)` that waits for nobody: when a reader (of another
    /// handle or process) or a writer is in the way it gives up at once. Returns whether the
    /// WAL was copied and truncated.
    pub fn try_checkpoint_truncate(&self) -> Result<bool> {
        let conn = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        conn.busy_timeout(std::time::Duration::ZERO)
            .map_err(VaultError::storage("busy_timeout"))?;
        let done = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
            r.get::<_, i64>(0)
        });
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(VaultError::storage("busy_timeout"))?;
        match done {
            Ok(busy) => Ok(busy == 0),
            Err(rusqlite::Error::SqliteFailure(e, _))
                if matches!(
                    e.code,
                    rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
                ) =>
            {
                Ok(false)
            }
            Err(e) => Err(VaultError::storage("wal_checkpoint")(e)),
        }
    }

    /// Runs `f` on the writer connection outside any transaction (VACUUM INTO, checks).
    pub fn with_writer<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let conn = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        f(&conn)
    }
}

/// Runs one statement in `tx` through the connection's statement cache.
pub fn exec(
    tx: &Transaction<'_>,
    sql: &str,
    params: impl rusqlite::Params,
) -> rusqlite::Result<usize> {
    tx.prepare_cached(sql)?.execute(params)
}

/// Initializes a new database: schema, application id, the vault row.
pub fn init_schema(
    tx: &Transaction<'_>,
    vault_id: &[u8],
    created_at: i64,
    retention: u32,
) -> Result<()> {
    tx.execute_batch(SCHEMA_V1)
        .map_err(VaultError::storage("create schema"))?;
    tx.execute_batch(&format!("PRAGMA application_id = {APPLICATION_ID};"))
        .map_err(VaultError::storage("application_id"))?;
    tx.execute(
        "INSERT INTO vault (singleton, format_version, vault_id, created_at, retention)
         VALUES (1, ?1, ?2, ?3, ?4)",
        rusqlite::params![FORMAT_VERSION, vault_id, created_at, retention],
    )
    .map_err(VaultError::storage("insert vault row"))?;
    Ok(())
}

/// Checks integrity (`quick_check`) and the format version; returns the vault id.
pub fn check_open(conn: &Connection) -> Result<[u8; 16]> {
    let qc: String = conn
        .query_row("PRAGMA quick_check", [], |r| r.get(0))
        .map_err(VaultError::storage("quick_check"))?;
    if qc != "ok" {
        return Err(VaultError::corrupt(format!("SQLite quick_check: {qc}")));
    }
    let row: rusqlite::Result<(i64, Vec<u8>)> = conn.query_row(
        "SELECT format_version, vault_id FROM vault WHERE singleton = 1",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    );
    let (version, id) =
        row.map_err(|e| VaultError::corrupt(format!("no readable vault row: {e}")))?;
    if !(1..=FORMAT_VERSION).contains(&version) {
        return Err(VaultError::UnsupportedVersion {
            what: "vault format",
            found: version as u64,
            supported: format!("1, 2, {FORMAT_VERSION}"),
        });
    }
    id.as_slice()
        .try_into()
        .map_err(|_| VaultError::corrupt("vault id is not 16 bytes"))
}
