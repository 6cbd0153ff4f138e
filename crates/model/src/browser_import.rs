//! What an import from the user's own browser records and reports: the source of the state
//! (kept in the snapshot body, see [`crate::BrowserState::source`]) and the per-domain counts
//! an import or a dry run shows. Counts and names only: never a cookie or storage value.

use serde::{Deserialize, Serialize};

/// Where an imported state was read from. Stored with the snapshot (sealed in its body), so
/// the history can say which browser a snapshot came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StateSource {
    /// The browser family: `chrome`, `chromium`, `brave`, `edge` or `vivaldi`.
    pub browser: String,
    /// The browser's profile directory name, e.g. `Default` or `Profile 1`.
    pub browser_profile: String,
    /// The browser's user-data-dir the profile is in (absolute).
    pub user_data_dir: String,
}

/// What one import from a browser found, per registrable domain. Shown by a dry run and
/// returned with every import.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrowserImportReport {
    /// The browser family.
    pub browser: String,
    /// The profile directory read.
    pub browser_profile: String,
    /// The user-data-dir read (absolute).
    pub user_data_dir: String,
    /// Cookies imported (after filters; undecryptable ones skipped are not counted).
    pub cookies: u64,
    /// Origins whose localStorage was imported.
    pub origins: u64,
    /// localStorage keys imported.
    pub local_storage_keys: u64,
    /// Per registrable domain, sorted by domain.
    pub domains: Vec<DomainCounts>,
    /// Encrypted cookie values by scheme, before filters: `v10`, `v11`, `v12`, and `plain`
    /// for values stored in the clear.
    pub encryption: EncryptionCounts,
    /// The keyring the `v11`/`v12` key came from (e.g. `Secret Service (org.freedesktop.secrets)`),
    /// or `None` when no value needed one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keyring: Option<String>,
    /// Cookie values that did not decrypt and were left out (only with `skip_undecryptable`;
    /// otherwise the import fails).
    pub undecryptable_skipped: u64,
    /// Cookies left out because they had expired (the browser deletes them on its next read).
    pub expired_skipped: u64,
    /// Cookies left out by `--domain` / `--exclude-domain`.
    pub filtered_cookies: u64,
    /// Origins of localStorage left out by the filters.
    pub filtered_origins: u64,
    /// What the import does not read, one line each (e.g. IndexedDB), with how much of it
    /// the profile has. Never empty-handed silence: a part not imported is named here.
    pub not_imported: Vec<String>,
}

/// Counts for one registrable domain (`example.co.uk`; an IP address or a single-label host
/// stands for itself).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainCounts {
    /// The registrable domain.
    pub domain: String,
    /// Cookies whose host belongs to it.
    pub cookies: u64,
    /// Origins with localStorage whose host belongs to it.
    pub origins: u64,
    /// localStorage keys of those origins.
    pub local_storage_keys: u64,
}

/// How the cookie values of a browser's database were stored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EncryptionCounts {
    /// In the clear (`value` column).
    pub plain: u64,
    /// `v10`: the fixed key Chromium uses without a keyring (`--password-store=basic`).
    pub v10: u64,
    /// `v11`: the key from the desktop keyring.
    pub v11: u64,
    /// `v12`: the key from the secret portal.
    pub v12: u64,
}
