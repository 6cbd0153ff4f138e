//! A watch on a launched Chrome's cookie and localStorage files, one of the change signals of
//! checkpoints. Chrome writes its `Cookies` database only every 30 s or 512 changes,
//! so the files are a hint that something changed, never a source of state: capture goes over
//! CDP.
//!
//! The watch is recursive on the user-data-dir because `Default/` and
//! `Default/Local Storage/leveldb/` appear only once Chrome first needs them; events outside
//! the two places that hold state are dropped by a path check that costs nanoseconds.

use std::path::{Component, Path};
use std::sync::Arc;

use notify::event::{AccessKind, EventKind};
use notify::{RecommendedWatcher, RecursiveMode, Watcher};

use crate::tracker::Tracker;

/// A running watch; dropping it stops the watch.
pub(crate) struct FileWatch {
    /// Kept alive for the watch's lifetime (its drop removes the inotify watches).
    _watcher: RecommendedWatcher,
}

impl FileWatch {
    /// Starts watching `user_data_dir`. A failure (e.g. out of inotify watches) is logged and
    /// yields `None`: checkpoints then rely on CDP events and their timer.
    pub(crate) fn start(user_data_dir: &Path, tracker: Arc<Tracker>) -> Option<FileWatch> {
        let handler = move |res: notify::Result<notify::Event>| {
            let Ok(ev) = res else { return };
            if matches!(
                ev.kind,
                EventKind::Access(AccessKind::Read | AccessKind::Open(_))
            ) {
                return;
            }
            if ev.paths.iter().any(|p| holds_state(p)) {
                tracker.bump();
            }
        };
        let started = notify::recommended_watcher(handler).and_then(|mut w| {
            w.watch(user_data_dir, RecursiveMode::Recursive)?;
            Ok(w)
        });
        match started {
            Ok(w) => Some(FileWatch { _watcher: w }),
            Err(e) => {
                tracing::warn!(error = %e, "cannot watch the browser's profile files; checkpoints rely on CDP events and their timer");
                None
            }
        }
    }
}

/// Whether `path` is Chrome's cookie database (or its journal) or under `Local Storage`.
fn holds_state(path: &Path) -> bool {
    let cookie_file = path
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n == "Cookies" || n == "Cookies-journal");
    cookie_file
        || path
            .components()
            .any(|c| c == Component::Normal("Local Storage".as_ref()))
}

#[cfg(test)]
mod tests {
    use super::holds_state;
    use std::path::Path;

    #[test]
    fn only_cookie_and_local_storage_paths_count() {
        assert!(holds_state(Path::new("/u/Default/Cookies")));
        assert!(holds_state(Path::new("/u/Default/Cookies-journal")));
        assert!(holds_state(Path::new(
            "/u/Default/Local Storage/leveldb/000003.log"
        )));
        assert!(!holds_state(Path::new(
            "/u/Default/Cache/Cache_Data/f_0001"
        )));
        assert!(!holds_state(Path::new("/u/Default/Preferences")));
        assert!(!holds_state(Path::new("/u/Default/CookiesX")));
    }
}
