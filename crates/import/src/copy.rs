//! Consistent private copies of the browser's files, read while it may be running.
//!
//! The browser keeps its `Cookies` database open (and locked) and writes through a journal
//! or a WAL; its `Local State/leveldb` directory changes as it compacts. So the files are
//! copied into a fresh 0700 directory inside the caller's private runtime directory and read
//! there; the originals are only ever opened read-only. A copy counts as consistent when the
//! files' sizes and modification times (and, for LevelDB, the file set) are the same before
//! and after it was taken; otherwise it is taken again, a few times, then refused. The copies
//! are removed when the [`Scratch`] is dropped.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// How often a copy is taken again while the browser keeps changing the files.
const ATTEMPTS: usize = 6;

/// A private directory for one import's copies, removed on drop.
#[derive(Debug)]
pub struct Scratch {
    /// The directory (0700, inside the caller's private runtime directory).
    dir: tempfile::TempDir,
}

impl Scratch {
    /// Creates `<base>/import-XXXXXX` (0700), creating `base` (0700) if needed.
    pub fn new(base: &Path) -> io::Result<Scratch> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(base)?;
        let dir = tempfile::Builder::new()
            .prefix("import-")
            .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700))
            .tempdir_in(base)?;
        Ok(Scratch { dir })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// What the state of one file was: `None` when it does not exist.
type Stamp = Option<(u64, SystemTime)>;

fn stamp(p: &Path) -> io::Result<Stamp> {
    match fs::metadata(p) {
        Ok(m) => Ok(Some((m.len(), m.modified()?))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Copies `src` (opened read-only) to `dst` (created 0600). `Ok(false)` when `src`
/// vanished meanwhile.
fn copy_file(src: &Path, dst: &Path) -> io::Result<bool> {
    let mut from = match File::open(src) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    let mut to = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(dst)?;
    io::copy(&mut from, &mut to)?;
    Ok(true)
}

/// Why a copy could not be taken.
#[derive(Debug)]
pub enum CopyError {
    /// Reading or writing failed.
    Io(io::Error),
    /// The files kept changing over every attempt.
    Unstable,
}

impl From<io::Error> for CopyError {
    fn from(e: io::Error) -> CopyError {
        CopyError::Io(e)
    }
}

/// Copies an SQLite database and its `-wal` and `-journal` (when present) into `dir` under
/// `name`; returns the copy's path.
pub fn sqlite(src: &Path, dir: &Path, name: &str) -> Result<PathBuf, CopyError> {
    let side = |p: &Path, suffix: &str| {
        let mut s = p.as_os_str().to_owned();
        s.push(suffix);
        PathBuf::from(s)
    };
    let dst = dir.join(name);
    let parts = ["", "-wal", "-journal"];
    for _ in 0..ATTEMPTS {
        let before = parts
            .iter()
            .map(|s| stamp(&side(src, s)))
            .collect::<io::Result<Vec<_>>>()?;
        if before[0].is_none() {
            return Err(CopyError::Io(io::Error::new(
                io::ErrorKind::NotFound,
                format!("{} does not exist", src.display()),
            )));
        }
        for s in parts {
            let d = side(&dst, s);
            let _ = fs::remove_file(&d);
            copy_file(&side(src, s), &d)?;
        }
        let after = parts
            .iter()
            .map(|s| stamp(&side(src, s)))
            .collect::<io::Result<Vec<_>>>()?;
        if before == after {
            return Ok(dst);
        }
    }
    Err(CopyError::Unstable)
}

/// The files of a LevelDB directory with their stamps (the lock file is left out: it is
/// the browser's, and a copy must not look held).
fn listing(dir: &Path) -> io::Result<Vec<(String, Stamp)>> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir)? {
        let e = e?;
        let name = e.file_name().to_string_lossy().into_owned();
        if name == "LOCK" || !e.file_type()?.is_file() {
            continue;
        }
        let st = stamp(&e.path())?;
        out.push((name, st));
    }
    out.sort();
    Ok(out)
}

/// Copies a LevelDB directory into `dir/name`; returns the copy's path.
pub fn leveldb(src: &Path, dir: &Path, name: &str) -> Result<PathBuf, CopyError> {
    let dst = dir.join(name);
    for _ in 0..ATTEMPTS {
        let before = listing(src)?;
        if dst.exists() {
            fs::remove_dir_all(&dst)?;
        }
        fs::DirBuilder::new().mode(0o700).create(&dst)?;
        let mut vanished = false;
        for (f, _) in &before {
            if !copy_file(&src.join(f), &dst.join(f))? {
                vanished = true;
                break;
            }
        }
        if !vanished && listing(src)? == before {
            return Ok(dst);
        }
    }
    Err(CopyError::Unstable)
}
