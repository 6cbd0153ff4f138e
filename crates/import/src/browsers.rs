//! The browsers this crate reads, where Linux installs keep their user-data-dir (native,
//! Flatpak, Snap), and the names each uses in the desktop keyring.

use std::path::{Path, PathBuf};

use crate::ImportError;

/// A Chromium-family browser.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Browser {
    /// Google Chrome.
    Chrome,
    /// Chromium.
    Chromium,
    /// Brave.
    Brave,
    /// Microsoft Edge.
    Edge,
    /// Vivaldi.
    Vivaldi,
}

/// How one browser names its key in the keyrings. Chromium builds the names from its
/// product name, and several browsers reuse Chrome's or Chromium's (the same facts yt-dlp
/// relies on: Edge stores under "Chromium", Vivaldi under "Chrome"); every candidate is
/// tried and a secret counts only once it decrypts a value.
#[derive(Debug, Clone, Copy)]
pub struct KeyringNames {
    /// Names `N` of "N Safe Storage" (Secret Service label, KWallet entry) and "N Keys"
    /// (KWallet folder), most likely first.
    pub names: &'static [&'static str],
    /// The Secret Service `application` attribute of
    /// `chrome_libsecret_os_crypt_password_v2` (and `_v1`) items, most likely first.
    pub applications: &'static [&'static str],
    /// The app ids the secret portal may know this browser by, most likely first: the
    /// Flatpak id, then the ids xdg-desktop-portal derives for a host or Snap install
    /// (from its `.desktop` file or systemd scope). The portal keeps one secret per app id;
    /// it keys `v12` values.
    pub portal_app_ids: &'static [&'static str],
}

impl Browser {
    /// Every browser, in the order the command line lists them.
    pub const ALL: [Browser; 5] = [
        Browser::Chrome,
        Browser::Chromium,
        Browser::Brave,
        Browser::Edge,
        Browser::Vivaldi,
    ];

    /// The name on the command line and in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Browser::Chrome => "chrome",
            Browser::Chromium => "chromium",
            Browser::Brave => "brave",
            Browser::Edge => "edge",
            Browser::Vivaldi => "vivaldi",
        }
    }

    /// The browser called `name` (as [`Browser::as_str`] writes it).
    pub fn from_name(name: &str) -> Option<Browser> {
        Browser::ALL.into_iter().find(|b| b.as_str() == name)
    }

    /// The keyring names this browser's builds use.
    pub fn keyring_names(self) -> KeyringNames {
        match self {
            Browser::Chrome => KeyringNames {
                names: &["Chrome"],
                applications: &["chrome"],
                portal_app_ids: &[
                    "com.google.Chrome",
                    "google-chrome",
                    "google-chrome-beta",
                    "google-chrome-unstable",
                ],
            },
            Browser::Chromium => KeyringNames {
                names: &["Chromium"],
                applications: &["chromium"],
                portal_app_ids: &[
                    "org.chromium.Chromium",
                    "chromium",
                    "chromium-browser",
                    "chromium_chromium",
                ],
            },
            Browser::Brave => KeyringNames {
                names: &["Brave", "Chromium"],
                applications: &["brave", "chromium"],
                portal_app_ids: &["com.brave.Browser", "brave-browser", "brave_brave"],
            },
            Browser::Edge => KeyringNames {
                names: &["Chromium", "Microsoft Edge"],
                applications: &["chromium", "microsoft-edge", "msedge"],
                portal_app_ids: &[
                    "com.microsoft.Edge",
                    "microsoft-edge",
                    "microsoft-edge-beta",
                    "microsoft-edge-dev",
                ],
            },
            Browser::Vivaldi => KeyringNames {
                names: &["Chrome", "Vivaldi"],
                applications: &["chrome", "vivaldi"],
                portal_app_ids: &[
                    "com.vivaldi.Vivaldi",
                    "vivaldi-stable",
                    "vivaldi-snapshot",
                    "vivaldi_vivaldi",
                ],
            },
        }
    }

    /// Where this browser's user-data-dir may be, relative to `$XDG_CONFIG_HOME` (native
    /// packages) and to `$HOME` (Flatpak and Snap), most common first.
    fn places(self) -> (&'static [&'static str], &'static [&'static str]) {
        match self {
            Browser::Chrome => (
                &[
                    "google-chrome",
                    "google-chrome-beta",
                    "google-chrome-unstable",
                ],
                &[".var/app/com.google.Chrome/config/google-chrome"],
            ),
            Browser::Chromium => (
                &["chromium"],
                &[
                    "snap/chromium/common/chromium",
                    ".var/app/org.chromium.Chromium/config/chromium",
                ],
            ),
            Browser::Brave => (
                &["BraveSoftware/Brave-Browser"],
                &[
                    "snap/brave/current/.config/BraveSoftware/Brave-Browser",
                    ".var/app/com.brave.Browser/config/BraveSoftware/Brave-Browser",
                ],
            ),
            Browser::Edge => (
                &[
                    "microsoft-edge",
                    "microsoft-edge-beta",
                    "microsoft-edge-dev",
                ],
                &[".var/app/com.microsoft.Edge/config/microsoft-edge"],
            ),
            Browser::Vivaldi => (
                &["vivaldi", "vivaldi-snapshot"],
                &[
                    "snap/vivaldi/current/.config/vivaldi",
                    ".var/app/com.vivaldi.Vivaldi/config/vivaldi",
                ],
            ),
        }
    }

    /// Every place this browser's user-data-dir may be, for `home` and `config_home`
    /// (`$XDG_CONFIG_HOME`, else `$HOME/.config`).
    pub fn candidate_dirs(self, home: &Path, config_home: &Path) -> Vec<PathBuf> {
        let (native, sandboxed) = self.places();
        native
            .iter()
            .map(|p| config_home.join(p))
            .chain(sandboxed.iter().map(|p| home.join(p)))
            .collect()
    }
}

impl std::fmt::Display for Browser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The user-data-dir of `browser`: of every candidate place that holds a `Local State`
/// file, the one used last (newest `Local State`), so an old Flatpak install next to the
/// native one does not win.
pub fn find_user_data_dir(
    browser: Browser,
    home: &Path,
    config_home: &Path,
) -> Result<PathBuf, ImportError> {
    let tried = browser.candidate_dirs(home, config_home);
    tried
        .iter()
        .filter_map(|d| {
            let m = std::fs::metadata(d.join("Local State")).ok()?;
            Some((m.modified().ok()?, d.clone()))
        })
        .max_by_key(|(t, _)| *t)
        .map(|(_, d)| d)
        .ok_or(ImportError::NoUserDataDir { browser, tried })
}

/// `$HOME` and `$XDG_CONFIG_HOME` (else `$HOME/.config`) of this process.
pub fn home_and_config() -> Option<(PathBuf, PathBuf)> {
    let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
    let home = PathBuf::from(var("HOME")?);
    let config = var("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .unwrap_or_else(|| home.join(".config"));
    Some((home, config))
}
