//! A real, throw-away PostgreSQL server for the remote-store tests: Debian's `postgresql`
//! package (binaries in `/usr/lib/postgresql/<major>/bin`, not on PATH), one cluster per test
//! in a temporary directory, listening on 127.0.0.1 on a free port and on a Unix-socket
//! directory of its own, with SCRAM passwords. `initdb` refuses to run as root, and CI runs as
//! root: then the cluster runs as the `postgres` system user (the package creates it) through
//! `runuser`, in a directory chowned to it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The superuser's password in every test cluster (a test value, never a real secret).
pub const SUPERUSER_PASSWORD: &str = "pvault-test-superuser-pw";

/// A running test cluster; stopped (immediately) and deleted on drop.
#[derive(Debug)]
pub struct PgServer {
    /// Owns the cluster directory (data, log, socket); deleted on drop.
    dir: tempfile::TempDir,
    /// The TCP port on 127.0.0.1.
    pub port: u16,
    /// Where `initdb`, `pg_ctl`, `psql` and `pg_dump` are.
    bin: PathBuf,
    /// Whether we run the cluster as the `postgres` user (we are root).
    as_postgres: bool,
}

/// The directory of the newest installed PostgreSQL's binaries, if any.
pub fn postgres_bin() -> Option<PathBuf> {
    let mut majors: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| {
            let e = e.ok()?;
            let major = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((major, bin))
        })
        .collect();
    majors.sort();
    majors.pop().map(|(_, b)| b)
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    l.local_addr().unwrap().port()
}

impl PgServer {
    /// Starts a fresh cluster. Panics with what to install when PostgreSQL is missing.
    pub fn start() -> PgServer {
        let bin = postgres_bin()
            .expect("PostgreSQL is not installed: `apt-get install postgresql` (.ci/run does it)");
        // SAFETY: geteuid has no preconditions.
        let as_postgres = unsafe { libc::geteuid() } == 0;
        let dir = tempfile::Builder::new()
            .prefix("pvault-pg-")
            .tempdir()
            .expect("temp dir");
        std::fs::write(dir.path().join("pw"), SUPERUSER_PASSWORD).unwrap();
        if as_postgres {
            let st = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .status()
                .expect("chown");
            assert!(st.success(), "chown the cluster directory to postgres");
        }
        let server = PgServer {
            port: free_port(),
            dir,
            bin,
            as_postgres,
        };
        let data = server.data_dir();
        let out = server.run_as_owner(
            "initdb",
            &[
                "-D",
                data.to_str().unwrap(),
                "-U",
                "postgres",
                "--auth=scram-sha-256",
                "--pwfile",
                server.dir.path().join("pw").to_str().unwrap(),
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C",
            ],
        );
        assert!(out.status.success(), "initdb failed: {}", stderr(&out));
        server.start_again();
        server
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The socket directory (and cluster directory).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn run_as_owner(&self, tool: &str, args: &[&str]) -> Output {
        let exe = self.bin.join(tool);
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(exe);
            c
        } else {
            Command::new(exe)
        };
        cmd.args(args).output().expect("run a PostgreSQL tool")
    }

    /// (Re)starts the server on the same port and data; returns once it accepts connections.
    pub fn start_again(&self) {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200",
            self.port,
            self.dir.path().display()
        );
        let out = self.run_as_owner(
            "pg_ctl",
            &[
                "-D",
                self.data_dir().to_str().unwrap(),
                "-l",
                self.dir.path().join("log").to_str().unwrap(),
                "-w",
                "-t",
                "60",
                "-o",
                &opts,
                "start",
            ],
        );
        assert!(
            out.status.success(),
            "pg_ctl start failed: {}\n{}",
            stderr(&out),
            std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default()
        );
    }

    /// Stops the server at once (as a crash or a network loss would look to clients).
    pub fn stop(&self) {
        let _ = self.run_as_owner(
            "pg_ctl",
            &[
                "-D",
                self.data_dir().to_str().unwrap(),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
        );
    }

    /// `postgres://postgres@127.0.0.1:PORT/DB` (no password: give it through `PGPASSWORD`).
    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    /// A URL for another role.
    pub fn url_as(&self, role: &str, db: &str) -> String {
        format!("postgres://{role}@127.0.0.1:{}/{db}", self.port)
    }

    /// Runs SQL as the superuser in `db` with `psql`; panics on error; returns stdout.
    pub fn psql(&self, db: &str, sql: &str) -> String {
        let out = Command::new(self.bin.join("psql"))
            .args([
                "-X",
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
                "-At",
                "-h",
                "127.0.0.1",
            ])
            .args([
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
                "-d",
                db,
                "-c",
                sql,
            ])
            .env("PGPASSWORD", SUPERUSER_PASSWORD)
            .output()
            .expect("psql");
        assert!(out.status.success(), "psql failed: {}", stderr(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Creates a database; returns its name.
    pub fn create_db(&self, name: &str) -> String {
        self.psql("postgres", &format!("CREATE DATABASE \"{name}\""));
        name.to_owned()
    }

    /// `pg_dump` of a database (plain SQL; bytea as hex), without its per-run random lines.
    pub fn dump(&self, db: &str) -> Vec<u8> {
        let out = Command::new(self.bin.join("pg_dump"))
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
                db,
            ])
            .env("PGPASSWORD", SUPERUSER_PASSWORD)
            .output()
            .expect("pg_dump");
        assert!(out.status.success(), "pg_dump failed: {}", stderr(&out));
        // pg_dump 15.14+ brackets the dump with `\restrict KEY` / `\unrestrict KEY` lines
        // whose key is random per run: drop them so two dumps of the same data compare equal.
        let text = String::from_utf8_lossy(&out.stdout);
        text.lines()
            .filter(|l| !l.starts_with("\\restrict") && !l.starts_with("\\unrestrict"))
            .flat_map(|l| [l, "\n"])
            .collect::<String>()
            .into_bytes()
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

impl Drop for PgServer {
    fn drop(&mut self) {
        self.stop();
        // Give the files back to us so the temp dir can be removed.
        if self.as_postgres {
            let _ = Command::new("chown")
                .args(["-R", "root:root"])
                .arg(self.dir.path())
                .status();
        }
    }
}
