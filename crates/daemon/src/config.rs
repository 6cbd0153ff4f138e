//! `config.toml` in `$PVAULT_HOME`: parsed strictly (unknown keys are errors, so a typo does
//! not silently do nothing) and reloaded when the file changes. An invalid edit is rejected,
//! logged, and the previous configuration stays in force.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use pvault_model::SessionSettings;
use serde::{Deserialize, Serialize};

/// File name of the configuration inside `$PVAULT_HOME`.
pub const CONFIG_FILE: &str = "config.toml";

/// The daemon's configuration. Every field has a default; an absent file is the defaults.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Idle seconds before the vault locks itself; 0 disables auto-lock.
    pub auto_lock_secs: u64,
    /// Snapshots kept per profile (the newest is always kept); at least 1.
    pub retention: u32,
    /// Browser discovery and flags.
    pub browser: BrowserConfig,
    /// Session defaults.
    pub session: SessionConfig,
    /// Login health checks.
    pub health: HealthConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            auto_lock_secs: 3600,
            retention: 20,
            browser: BrowserConfig::default(),
            session: SessionConfig::default(),
            health: HealthConfig::default(),
        }
    }
}

/// `[health]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HealthConfig {
    /// Seconds between scheduled checks of every profile with a health definition; 0 (the
    /// default) turns them off; otherwise at least [`MIN_HEALTH_INTERVAL_SECS`], since each
    /// check launches a browser.
    pub interval_secs: u64,
    /// `profile show` / `list` warn when a cookie an expectation names expires within this
    /// many days (no browser needed).
    pub warn_expiry_days: u64,
    /// Seconds the check browser stays running after a check, for the next check to use
    /// (each check in a browser context of its own, disposed of after it); 0 kills it after
    /// every check. It is killed at once when the vault locks or the daemon stops.
    pub keep_browser_secs: u64,
}

/// Longest [`HealthConfig::keep_browser_secs`].
pub const MAX_KEEP_BROWSER_SECS: u64 = 3600;

/// Shortest interval between scheduled checks, seconds.
pub const MIN_HEALTH_INTERVAL_SECS: u64 = 60;

impl Default for HealthConfig {
    fn default() -> Self {
        HealthConfig {
            interval_secs: 0,
            warn_expiry_days: 3,
            keep_browser_secs: 60,
        }
    }
}

/// `[browser]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BrowserConfig {
    /// Chrome/Chromium binary; `PVAULT_CHROME` overrides it, discovery applies when unset.
    pub path: Option<PathBuf>,
    /// Extra command-line flags for every launch (not the debugging transport's: pvault
    /// owns `--remote-debugging-*`).
    pub extra_flags: Vec<String>,
    /// Start a browser that does not answer on `--remote-debugging-pipe` again with a
    /// debugging port on 127.0.0.1 instead of failing. Off by default: while such a session
    /// runs, any local process of any user can reach the port and read every cookie.
    pub allow_port_fallback: bool,
}

/// `[session]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SessionConfig {
    /// Settings used when neither the request nor the profile sets them.
    pub defaults: SessionSettings,
    /// Inactivity timeout of launched sessions, seconds ([`SESSION_TIMEOUT_RANGE`]), used
    /// when `session.start` gives none: a session with no CDP client connected through the
    /// relay for this long ends on its own.
    pub timeout_secs: u64,
}

/// Allowed inactivity timeouts, seconds: 10 s to 72 h.
pub const SESSION_TIMEOUT_RANGE: std::ops::RangeInclusive<u64> = 10..=259_200;

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            defaults: SessionSettings::default(),
            timeout_secs: 300,
        }
    }
}

/// The configuration file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Reading failed.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Not valid TOML or not the expected keys.
    #[error("invalid {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's explanation (names the key and line).
        message: String,
    },
    /// A value out of range.
    #[error("invalid {path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong and what is allowed.
        message: String,
    },
}

impl Config {
    /// Loads `path`; a missing file yields the defaults.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Config::default()),
            Err(source) => {
                return Err(ConfigError::Read {
                    path: path.to_owned(),
                    source,
                });
            }
        };
        Config::parse(&text, path)
    }

    /// Parses TOML text (`path` only names the file in errors).
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let cfg: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string().replace('\n', " "),
        })?;
        if cfg.retention == 0 {
            return Err(ConfigError::Invalid {
                path: path.to_owned(),
                message: "retention must be at least 1 (the newest snapshot is always kept)".into(),
            });
        }
        if !SESSION_TIMEOUT_RANGE.contains(&cfg.session.timeout_secs) {
            return Err(ConfigError::Invalid {
                path: path.to_owned(),
                message: format!(
                    "[session] timeout_secs must be between {} and {} seconds, got {}",
                    SESSION_TIMEOUT_RANGE.start(),
                    SESSION_TIMEOUT_RANGE.end(),
                    cfg.session.timeout_secs
                ),
            });
        }
        if cfg.health.interval_secs != 0 && cfg.health.interval_secs < MIN_HEALTH_INTERVAL_SECS {
            return Err(ConfigError::Invalid {
                path: path.to_owned(),
                message: format!(
                    "[health] interval_secs must be 0 (off) or at least {MIN_HEALTH_INTERVAL_SECS} \
                     seconds, got {}",
                    cfg.health.interval_secs
                ),
            });
        }
        if cfg.health.keep_browser_secs > MAX_KEEP_BROWSER_SECS {
            return Err(ConfigError::Invalid {
                path: path.to_owned(),
                message: format!(
                    "[health] keep_browser_secs must be at most {MAX_KEEP_BROWSER_SECS}, got {}",
                    cfg.health.keep_browser_secs
                ),
            });
        }
        if cfg.health.warn_expiry_days > 3650 {
            return Err(ConfigError::Invalid {
                path: path.to_owned(),
                message: format!(
                    "[health] warn_expiry_days must be at most 3650, got {}",
                    cfg.health.warn_expiry_days
                ),
            });
        }
        Ok(cfg)
    }
}

/// Watches `home` for changes to `config.toml` and calls `on_change` (from notify's thread)
/// for each. The returned watcher must be kept alive.
pub fn watch(
    home: &Path,
    on_change: impl Fn() + Send + 'static,
) -> notify::Result<notify::RecommendedWatcher> {
    use notify::{RecursiveMode, Watcher};
    // The directory, not the file: editors replace files by renaming over them.
    let mut w = notify::recommended_watcher(move |ev: notify::Result<notify::Event>| {
        if let Ok(ev) = ev
            && ev
                .paths
                .iter()
                .any(|p| p.file_name().is_some_and(|n| n == CONFIG_FILE))
        {
            on_change();
        }
    })?;
    w.watch(home, RecursiveMode::NonRecursive)?;
    Ok(w)
}

/// The config in force plus what the last reload did, as `status` reports it.
#[derive(Debug, Clone)]
pub struct ConfigState {
    /// The configuration in force.
    pub config: Arc<Config>,
    /// Successful reloads since start.
    pub reloads: u64,
    /// Why the last reload was rejected; `None` after a good one.
    pub error: Option<String>,
}

#[cfg(test)]
mod tests {
    //! `[health]` bounds (protocol.md §6): checks off by default, at least a minute apart.

    use super::*;

    #[test]
    fn health_settings_have_defaults_and_bounds() {
        let p = Path::new("config.toml");
        let c = Config::parse("", p).unwrap();
        assert_eq!((c.health.interval_secs, c.health.warn_expiry_days), (0, 3));
        let c = Config::parse("[health]\ninterval_secs = 60\nwarn_expiry_days = 0\n", p).unwrap();
        assert_eq!((c.health.interval_secs, c.health.warn_expiry_days), (60, 0));
        let e = Config::parse("[health]\ninterval_secs = 59\n", p).unwrap_err();
        assert!(e.to_string().contains("interval_secs"), "{e}");
        assert!(Config::parse("[health]\nwarn_expiry_days = 3651\n", p).is_err());
        assert_eq!(c.health.keep_browser_secs, 60);
        let c = Config::parse("[health]\nkeep_browser_secs = 0\n", p).unwrap();
        assert_eq!(c.health.keep_browser_secs, 0);
        assert!(Config::parse("[health]\nkeep_browser_secs = 3601\n", p).is_err());
        assert!(Config::parse("[health]\nintervall_secs = 60\n", p).is_err());
    }
}
