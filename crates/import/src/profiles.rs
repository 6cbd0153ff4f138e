//! The browser profiles of a user-data-dir (`Default`, `Profile 1`, …) and which one to read.

use std::path::{Path, PathBuf};

use crate::{Browser, ImportError};

/// One browser profile directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrowserProfile {
    /// The directory name (`Default`, `Profile 1`).
    pub dir_name: String,
    /// The name the browser shows for it (from `Local State`), if known.
    pub display_name: Option<String>,
}

impl BrowserProfile {
    /// `Profile 1 ("Work")`, for error messages.
    pub fn describe(&self) -> String {
        match &self.display_name {
            Some(n) => format!("{:?} ({n:?})", self.dir_name),
            None => format!("{:?}", self.dir_name),
        }
    }
}

/// Display names from `Local State`'s `profile.info_cache`.
fn display_names(udd: &Path) -> serde_json::Map<String, serde_json::Value> {
    std::fs::read(udd.join("Local State"))
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .and_then(|v| v["profile"]["info_cache"].as_object().cloned())
        .unwrap_or_default()
}

/// Every profile directory of `udd`: a directory with a `Preferences` file or a cookie
/// database, except the browser's internal `System Profile` and `Guest Profile`. Sorted
/// with `Default` first.
pub fn list(udd: &Path) -> Vec<BrowserProfile> {
    let names = display_names(udd);
    let mut out: Vec<BrowserProfile> = std::fs::read_dir(udd)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            if name == "System Profile" || name == "Guest Profile" {
                return None;
            }
            let p = e.path();
            let is_profile = p.join("Preferences").is_file() || cookies_path(&p).is_some();
            is_profile.then(|| BrowserProfile {
                display_name: names
                    .get(&name)
                    .and_then(|i| i["name"].as_str())
                    .map(str::to_owned),
                dir_name: name,
            })
        })
        .collect();
    out.sort_by(|a, b| {
        (a.dir_name != "Default", &a.dir_name).cmp(&(b.dir_name != "Default", &b.dir_name))
    });
    out
}

/// The profile to read: `wanted` by directory name (or by the name the browser shows), or
/// the only one. Several and none wanted, or a wanted one missing: an error listing them.
pub fn choose(
    browser: Browser,
    udd: &Path,
    wanted: Option<&str>,
) -> Result<BrowserProfile, ImportError> {
    let all = list(udd);
    let available = || all.iter().map(BrowserProfile::describe).collect();
    match wanted {
        Some(w) => all
            .iter()
            .find(|p| p.dir_name == w)
            .or_else(|| {
                let mut by_name = all.iter().filter(|p| p.display_name.as_deref() == Some(w));
                match (by_name.next(), by_name.next()) {
                    (Some(p), None) => Some(p),
                    _ => None,
                }
            })
            .cloned()
            .ok_or_else(|| ImportError::NoProfile {
                browser,
                user_data_dir: udd.to_path_buf(),
                wanted: Some(w.to_owned()),
                available: available(),
            }),
        None => match all.as_slice() {
            [one] => Ok(one.clone()),
            [] => Err(ImportError::NoProfile {
                browser,
                user_data_dir: udd.to_path_buf(),
                wanted: None,
                available: Vec::new(),
            }),
            _ => Err(ImportError::AmbiguousProfile {
                browser,
                user_data_dir: udd.to_path_buf(),
                available: available(),
            }),
        },
    }
}

/// The profile's cookie database: `Network/Cookies` (Chrome 96 and later) or `Cookies`
/// (older builds, and builds that keep it there, such as Debian's Chromium 156); the newer
/// of the two when both exist.
pub fn cookies_path(profile_dir: &Path) -> Option<PathBuf> {
    let mtime = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    [
        profile_dir.join("Network/Cookies"),
        profile_dir.join("Cookies"),
    ]
    .into_iter()
    .filter_map(|p| mtime(&p).map(|t| (t, p)))
    .max_by_key(|(t, _)| *t)
    .map(|(_, p)| p)
}
