//! Finding the Chrome executable and its version.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use crate::BrowserError;

/// Executable names looked up on `PATH`, in order of preference.
const PATH_NAMES: &[&str] = &[
    "chromium",
    "chromium-browser",
    "google-chrome",
    "google-chrome-stable",
    "chrome",
];

/// Debian's real Chromium binary. The `/usr/bin/chromium` wrapper script costs 90–240 ms per
/// start and injects flags from `/etc/chromium.d`, so it is replaced by this when found.
const DEBIAN_CHROMIUM: &str = "/usr/lib/chromium/chromium";

/// Where [`discover_chrome_in`] looks after the explicit paths.
#[derive(Debug, Clone)]
pub struct ChromeSearch {
    /// A `PATH`-style list of directories searched for the usual executable names.
    pub path_var: std::ffi::OsString,
    /// Absolute paths tried last, in order.
    pub fallbacks: Vec<PathBuf>,
}

impl Default for ChromeSearch {
    /// The process's `PATH` and Debian's `/usr/lib/chromium/chromium`.
    fn default() -> Self {
        ChromeSearch {
            path_var: std::env::var_os("PATH").unwrap_or_default(),
            fallbacks: vec![PathBuf::from(DEBIAN_CHROMIUM)],
        }
    }
}

/// Finds the browser executable: `env_override` (the caller passes `PVAULT_CHROME`), then
/// `config`, then the usual names on `PATH`, then `/usr/lib/chromium/chromium`. An explicitly
/// given path that does not exist is not skipped silently: it is reported in `tried`, and the
/// search goes on.
pub fn discover_chrome(
    env_override: Option<PathBuf>,
    config: Option<PathBuf>,
) -> Result<PathBuf, BrowserError> {
    discover_chrome_in(env_override, config, &ChromeSearch::default())
}

/// [`discover_chrome`] with an explicit search path (tests, or a daemon with its own `PATH`).
pub fn discover_chrome_in(
    env_override: Option<PathBuf>,
    config: Option<PathBuf>,
    search: &ChromeSearch,
) -> Result<PathBuf, BrowserError> {
    let mut tried = Vec::new();
    for (label, candidate) in [("PVAULT_CHROME", env_override), ("config", config)] {
        if let Some(p) = candidate {
            if let Some(found) = resolve(&p, &search.path_var) {
                return Ok(prefer_real_binary(found));
            }
            tried.push(format!("{} ({label})", p.display()));
        }
    }
    for name in PATH_NAMES {
        for dir in std::env::split_paths(&search.path_var) {
            let p = dir.join(name);
            if is_executable(&p) {
                return Ok(prefer_real_binary(p));
            }
        }
        tried.push(format!("{name} (PATH)"));
    }
    for p in &search.fallbacks {
        if is_executable(p) {
            return Ok(p.clone());
        }
        tried.push(p.display().to_string());
    }
    Err(BrowserError::NotFound { tried })
}

/// A bare name is looked up on `PATH`; a path must be an executable file.
fn resolve(p: &Path, path_var: &std::ffi::OsStr) -> Option<PathBuf> {
    if p.components().count() == 1 && !p.is_absolute() {
        return std::env::split_paths(path_var)
            .map(|d| d.join(p))
            .find(|c| is_executable(c));
    }
    is_executable(p).then(|| p.to_path_buf())
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// Replaces Debian's `/usr/bin/chromium` wrapper script by the binary it runs.
fn prefer_real_binary(found: PathBuf) -> PathBuf {
    let canonical = std::fs::canonicalize(&found).unwrap_or_else(|_| found.clone());
    let is_wrapper = canonical == Path::new("/usr/bin/chromium")
        || (canonical.file_name().is_some_and(|n| n == "chromium")
            && canonical.parent() == Some(Path::new("/usr/bin")));
    if is_wrapper && is_executable(Path::new(DEBIAN_CHROMIUM)) {
        PathBuf::from(DEBIAN_CHROMIUM)
    } else {
        found
    }
}

/// Version cache keyed by executable path and modification time, so a browser upgraded in
/// place is asked again. `--version` costs 30–50 ms warm (180 ms cold): once per process.
type VersionCache = Mutex<HashMap<(PathBuf, Option<std::time::SystemTime>), Option<u32>>>;

fn version_cache() -> &'static VersionCache {
    static CACHE: OnceLock<VersionCache> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

/// The major version of the browser at `executable` (from `--version`, cached per process),
/// or `None` when it cannot be determined.
pub fn chrome_major_version(executable: &Path) -> Option<u32> {
    let mtime = std::fs::metadata(executable)
        .and_then(|m| m.modified())
        .ok();
    let key = (executable.to_path_buf(), mtime);
    if let Some(v) = version_cache().lock().ok()?.get(&key) {
        return *v;
    }
    let v = std::process::Command::new(executable)
        .arg("--version")
        .env_remove("NOTIFY_SOCKET")
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()
        .and_then(|o| parse_major(&String::from_utf8_lossy(&o.stdout)));
    if let Ok(mut c) = version_cache().lock() {
        c.insert(key, v);
    }
    v
}

/// `"Chromium 156.0.8078.79 "` or `"Google Chrome 141.0.1.2"` → the major number.
pub(crate) fn parse_major(s: &str) -> Option<u32> {
    s.split_whitespace()
        .find(|w| w.chars().next().is_some_and(|c| c.is_ascii_digit()) && w.contains('.'))
        .and_then(|w| w.split('.').next())
        .and_then(|m| m.parse().ok())
}
