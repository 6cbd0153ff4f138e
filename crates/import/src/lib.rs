//! Reads a user's own Chromium-family browser profile (Chrome, Chromium, Brave, Edge,
//! Vivaldi on Linux) into pvault's state model: cookies (decrypted) and localStorage.
//!
//! It knows nothing of the vault or of sockets: [`import`] returns a
//! [`BrowserState`](pvault_model::BrowserState) with its [`source`](pvault_model::StateSource)
//! and a [`BrowserImportReport`] (counts only), and the daemon stores it. The browser may be
//! running: its files are copied consistently into a private directory and read there
//! ([`copy`]), and never opened for writing. Values are decrypted per row by their prefix
//! ([`crypto`]) with keys from the desktop keyring when needed ([`keyring`]).
//!
//! IndexedDB is not read: Chromium keeps it in LevelDB under its own `idb_cmp1` comparator
//! with Blink/V8-serialized values whose layout changes between versions, so no reader here
//! can promise to read it faithfully. The report names every origin's IndexedDB it leaves
//! behind (as it does partitioned localStorage), never silently.

pub mod browsers;
pub mod cookies;
pub mod copy;
pub mod crypto;
pub mod filter;
pub mod fuzz_support;
pub mod keyring;
pub mod local_storage;
pub mod profiles;
mod value_keys;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use pvault_model::{
    BrowserImportReport, BrowserState, Cookie, DomainCounts, OriginState, StateSource,
};
use zeroize::Zeroizing;

pub use browsers::Browser;
pub use filter::Filter;
pub use profiles::BrowserProfile;
use value_keys::{Keys, Outcome};

/// What to import, and from where.
#[derive(Debug, Clone)]
pub struct Options {
    /// The browser family.
    pub browser: Browser,
    /// Its user-data-dir; `None` finds it in the usual places ([`browsers::find_user_data_dir`]).
    pub user_data_dir: Option<PathBuf>,
    /// The profile directory (`Default`, `Profile 1`) or the name the browser shows for it;
    /// `None` takes the only one.
    pub browser_profile: Option<String>,
    /// `--domain`: keep only these registrable domains (empty: all).
    pub domains: Vec<String>,
    /// `--exclude-domain`: drop these registrable domains.
    pub exclude_domains: Vec<String>,
    /// Leave undecryptable values out (and count them) instead of failing.
    pub skip_undecryptable: bool,
    /// The private directory the copies are made in (a fresh 0700 subdirectory of it is
    /// used and removed).
    pub scratch_dir: PathBuf,
    /// The D-Bus session bus to ask the keyring on; `None` = `$DBUS_SESSION_BUS_ADDRESS`.
    pub dbus_address: Option<String>,
}

/// A finished read: the state to store and what was found.
#[derive(Debug, Clone)]
pub struct Imported {
    /// Cookies and localStorage, with `source` set.
    pub state: BrowserState,
    /// Counts per domain and what was not imported.
    pub report: BrowserImportReport,
}

/// Why an import failed. Messages name the browser, the file or keyring, and what to do;
/// never a value.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// No user-data-dir in any usual place.
    #[error(
        "no {browser} user data found (looked in {}); is {browser} installed and started once? Give --user-data-dir PATH otherwise",
        paths(tried)
    )]
    NoUserDataDir {
        /// The browser.
        browser: Browser,
        /// Every place looked at.
        tried: Vec<PathBuf>,
    },
    /// The given user-data-dir is not a directory.
    #[error("{} is not a directory; give {browser}'s user-data-dir to --user-data-dir", path.display())]
    NoSuchDir {
        /// The browser.
        browser: Browser,
        /// What was given.
        path: PathBuf,
    },
    /// `HOME` is not set, so no usual place can be found.
    #[error("cannot find {browser}'s user data: HOME is not set; give --user-data-dir PATH")]
    NoHome {
        /// The browser.
        browser: Browser,
    },
    /// The wanted profile is not there (or there is none).
    #[error(
        "{browser} has no profile {} in {}; {}",
        wanted.as_deref().map_or_else(|| "at all".to_owned(), |w| format!("{w:?}")),
        user_data_dir.display(),
        available_profiles(available)
    )]
    NoProfile {
        /// The browser.
        browser: Browser,
        /// The user-data-dir searched.
        user_data_dir: PathBuf,
        /// The profile asked for.
        wanted: Option<String>,
        /// The profiles there are.
        available: Vec<String>,
    },
    /// Several profiles and none chosen.
    #[error(
        "{browser} has several profiles in {}: {}; choose one with --browser-profile",
        user_data_dir.display(),
        available.join(", ")
    )]
    AmbiguousProfile {
        /// The browser.
        browser: Browser,
        /// The user-data-dir searched.
        user_data_dir: PathBuf,
        /// The profiles there are.
        available: Vec<String>,
    },
    /// A filter that is not a domain name.
    #[error("{value:?} is not a domain filter: {reason}")]
    InvalidFilter {
        /// What was given.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The private directory for the copies could not be made.
    #[error("cannot create a private directory for the copies in {}: {detail}", path.display())]
    Scratch {
        /// Where.
        path: PathBuf,
        /// The OS error.
        detail: String,
    },
    /// A browser file could not be copied.
    #[error("cannot copy {browser}'s {what} ({}): {detail}", path.display())]
    Copy {
        /// The browser.
        browser: Browser,
        /// `Cookies database` or `localStorage database`.
        what: &'static str,
        /// The original.
        path: PathBuf,
        /// The OS error, or that it kept changing.
        detail: String,
    },
    /// A browser file is damaged or not what this reader understands.
    #[error(
        "{browser}'s {what} ({}) cannot be read: {detail}; nothing was imported (close {browser} cleanly and retry; if it persists the file is damaged)",
        path.display()
    )]
    Corrupt {
        /// The browser.
        browser: Browser,
        /// `Cookies database` or `localStorage database`.
        what: &'static str,
        /// The original.
        path: PathBuf,
        /// What SQLite or LevelDB said.
        detail: String,
    },
    /// Cookie values did not decrypt and `skip_undecryptable` was not given.
    #[error(
        "{failed} of {total} encrypted cookie values of {browser} profile {profile:?} did not decrypt ({kinds}); keyring: {keyring}. Nothing was imported; give --skip-undecryptable to import the rest without them"
    )]
    Undecryptable {
        /// The browser.
        browser: Browser,
        /// The profile directory.
        profile: String,
        /// Values that failed.
        failed: u64,
        /// Encrypted values in all.
        total: u64,
        /// The failed values by scheme, e.g. `v11: 12`.
        kinds: String,
        /// Which keyring was used or what was tried.
        keyring: String,
    },
    /// The filters matched nothing.
    #[error(
        "nothing of {browser} profile {profile:?} matches {filters} ({domains} registrable domains have cookies or localStorage); nothing was imported"
    )]
    NothingMatches {
        /// The browser.
        browser: Browser,
        /// The profile directory.
        profile: String,
        /// The filters.
        filters: String,
        /// Domains the profile has.
        domains: usize,
    },
}

fn paths(p: &[PathBuf]) -> String {
    p.iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn available_profiles(a: &[String]) -> String {
    if a.is_empty() {
        "it has no profile directories (start the browser once, or give the right --user-data-dir)"
            .into()
    } else {
        format!(
            "available: {} (give one to --browser-profile)",
            a.join(", ")
        )
    }
}

/// Where `IndexedDB` is kept per origin: `<profile>/IndexedDB/<scheme>_<host>_<port>.indexeddb.leveldb`.
fn indexed_db_origins(profile_dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(profile_dir.join("IndexedDB"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            let stem = n
                .strip_suffix(".indexeddb.leveldb")
                .or_else(|| n.strip_suffix(".indexeddb.blob"))?;
            let (scheme, rest) = stem.split_once('_')?;
            let (host, port) = rest.rsplit_once('_')?;
            let port = if port == "0" {
                String::new()
            } else {
                format!(":{port}")
            };
            Some(format!("{scheme}://{host}{port}"))
        })
        .collect();
    v.sort();
    v.dedup();
    v
}

/// The counts of registrable domain `site`, created empty.
fn counts<'a>(m: &'a mut BTreeMap<String, DomainCounts>, site: &str) -> &'a mut DomainCounts {
    m.entry(site.to_owned()).or_insert_with(|| DomainCounts {
        domain: site.to_owned(),
        ..Default::default()
    })
}

/// Reads the chosen profile's cookies and localStorage. Stores nothing; on error returns
/// nothing (no partial state).
pub fn import(opts: &Options) -> Result<Imported, ImportError> {
    let browser = opts.browser;
    let filter = Filter::new(&opts.domains, &opts.exclude_domains)?;
    let udd = match &opts.user_data_dir {
        Some(d) if !d.is_dir() => {
            return Err(ImportError::NoSuchDir {
                browser,
                path: d.clone(),
            });
        }
        Some(d) => d.clone(),
        None => {
            let (home, config) =
                browsers::home_and_config().ok_or(ImportError::NoHome { browser })?;
            browsers::find_user_data_dir(browser, &home, &config)?
        }
    };
    let profile = profiles::choose(browser, &udd, opts.browser_profile.as_deref())?;
    let pdir = udd.join(&profile.dir_name);
    let scratch = copy::Scratch::new(&opts.scratch_dir).map_err(|e| ImportError::Scratch {
        path: opts.scratch_dir.clone(),
        detail: e.to_string(),
    })?;

    let mut report = BrowserImportReport {
        browser: browser.as_str().into(),
        browser_profile: profile.dir_name.clone(),
        user_data_dir: udd.display().to_string(),
        ..Default::default()
    };
    let mut per_domain: BTreeMap<String, DomainCounts> = BTreeMap::new();
    let mut all_domains = std::collections::BTreeSet::new();

    // Cookies.
    let mut cookies_out: Vec<Cookie> = Vec::new();
    let mut keys = Keys::new();
    if let Some(cpath) = profiles::cookies_path(&pdir) {
        let copy_err = |detail: String| ImportError::Copy {
            browser,
            what: "Cookies database",
            path: cpath.clone(),
            detail,
        };
        let copy = copy::sqlite(&cpath, scratch.path(), "Cookies").map_err(|e| match e {
            copy::CopyError::Io(e) => copy_err(e.to_string()),
            copy::CopyError::Unstable => copy_err(format!(
                "it kept changing while it was copied; retry (or close {browser} first)"
            )),
        })?;
        let db = cookies::read(&copy).map_err(|detail| ImportError::Corrupt {
            browser,
            what: "Cookies database",
            path: cpath.clone(),
            detail,
        })?;
        let now = cookies::now_utc_us();
        let mut failed: BTreeMap<&'static str, u64> = BTreeMap::new();
        let mut encrypted_total = 0u64;
        for row in &db.rows {
            let site = filter::registrable(&row.host_key);
            all_domains.insert(site.clone());
            let scheme: &'static str = if row.encrypted.is_empty() {
                "plain"
            } else {
                match row.encrypted.get(..3) {
                    Some(b"v10") => "v10",
                    Some(b"v11") => "v11",
                    Some(b"v12") => "v12",
                    _ => "unknown prefix",
                }
            };
            match scheme {
                "plain" => report.encryption.plain += 1,
                "v10" => report.encryption.v10 += 1,
                "v11" => report.encryption.v11 += 1,
                "v12" => report.encryption.v12 += 1,
                _ => {}
            }
            if row.persistent && row.expires_utc <= now {
                report.expired_skipped += 1;
                continue;
            }
            if !filter.keeps(&site) {
                report.filtered_cookies += 1;
                continue;
            }
            let value = if scheme == "plain" {
                Zeroizing::new(row.value.as_str().to_owned())
            } else {
                encrypted_total += 1;
                match keys.decrypt(opts, row, db.version) {
                    Outcome::Value(v) => v,
                    Outcome::Failed => {
                        *failed.entry(scheme).or_default() += 1;
                        continue;
                    }
                }
            };
            counts(&mut per_domain, &site).cookies += 1;
            cookies_out.push(cookies::to_cookie(row, value.as_str().to_owned()));
        }
        let n_failed: u64 = failed.values().sum();
        if n_failed > 0 {
            if !opts.skip_undecryptable {
                return Err(ImportError::Undecryptable {
                    browser,
                    profile: profile.dir_name.clone(),
                    failed: n_failed,
                    total: encrypted_total,
                    kinds: failed
                        .iter()
                        .map(|(k, n)| format!("{k}: {n}"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    keyring: keys.describe(),
                });
            }
            report.undecryptable_skipped = n_failed;
        }
    }
    if keys.asked_keyring() {
        report.keyring = Some(keys.describe());
    }

    // localStorage.
    let mut origins_out = Vec::new();
    let ls_dir = pdir.join("Local Storage").join("leveldb");
    if ls_dir.join("CURRENT").is_file() {
        let copy_err = |detail: String| ImportError::Copy {
            browser,
            what: "localStorage database",
            path: ls_dir.clone(),
            detail,
        };
        let copy = copy::leveldb(&ls_dir, scratch.path(), "localstorage").map_err(|e| match e {
            copy::CopyError::Io(e) => copy_err(e.to_string()),
            copy::CopyError::Unstable => copy_err(format!(
                "it kept changing while it was copied; retry (or close {browser} first)"
            )),
        })?;
        let read = local_storage::read(&copy).map_err(|detail| ImportError::Corrupt {
            browser,
            what: "localStorage database",
            path: ls_dir.clone(),
            detail,
        })?;
        for (origin, items) in read.origins {
            let site = filter::registrable(filter::origin_host(&origin));
            all_domains.insert(site.clone());
            if !filter.keeps(&site) {
                report.filtered_origins += 1;
                continue;
            }
            let c = counts(&mut per_domain, &site);
            c.origins += 1;
            c.local_storage_keys += items.len() as u64;
            let mut o = OriginState::new(origin);
            o.local_storage = items;
            origins_out.push(o);
        }
        if read.partitioned_keys > 0 {
            report.not_imported.push(format!(
                "localStorage of {} partitioned (third-party) storage keys: a snapshot keeps localStorage per origin only",
                read.partitioned_keys
            ));
        }
        if read.non_web_origins > 0 {
            report.not_imported.push(format!(
                "localStorage of {} non-web origins (extensions, files)",
                read.non_web_origins
            ));
        }
        if read.lossy_values > 0 {
            report.not_imported.push(format!(
                "{} localStorage items held text that is not valid Unicode (a lone surrogate); imported with U+FFFD in its place",
                read.lossy_values
            ));
        }
    }

    let idb: Vec<String> = indexed_db_origins(&pdir)
        .into_iter()
        .filter(|o| filter.keeps(&filter::registrable(filter::origin_host(o))))
        .collect();
    if !idb.is_empty() {
        report.not_imported.push(format!(
            "IndexedDB of {} origins: Chromium keeps it in its own on-disk format (LevelDB with the idb_cmp1 comparator, Blink/V8-serialized values that change between versions), which pvault does not read; open those sites in a `pvault session` to capture it",
            idb.len()
        ));
    }
    drop(scratch);

    if filter.is_active() && cookies_out.is_empty() && origins_out.is_empty() {
        return Err(ImportError::NothingMatches {
            browser,
            profile: profile.dir_name,
            filters: filter.describe(),
            domains: all_domains.len(),
        });
    }
    report.cookies = cookies_out.len() as u64;
    report.origins = origins_out.len() as u64;
    report.local_storage_keys = origins_out
        .iter()
        .map(|o| o.local_storage.len() as u64)
        .sum();
    report.domains = per_domain.into_values().collect();
    Ok(Imported {
        state: BrowserState {
            cookies: cookies_out,
            origins: origins_out,
            source: Some(StateSource {
                browser: browser.as_str().into(),
                browser_profile: profile.dir_name,
                user_data_dir: udd.display().to_string(),
            }),
        },
        report,
    })
}
