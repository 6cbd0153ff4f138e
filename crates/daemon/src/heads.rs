//! The daemon's memory of the vault's history heads, kept outside the vault file.
//!
//! Nothing inside a vault file can show that the whole file was replaced by an older copy of
//! itself: every rule still holds, it is just an older state. So the daemon remembers, per
//! profile, the highest `next_seq` and `updated_at` it has seen (at every unlock and verify;
//! not at lock, which must stay instant and cost nothing while other requests run), in
//! `heads.json` next to the vault (mode 0600, replaced atomically), and warns when
//! the vault goes below either. Neither ever decreases in a vault: `next_seq` grows with
//! every append (even deleting snapshots keeps it), and `updated_at` is set at every append,
//! rename, description or settings change, health definition change and `accept` to the
//! later of the clock and its previous value. So going below either means the file went
//! back, including to a copy that only undoes changes that append nothing. Profiles the memory
//! does not know are added; profiles missing from the vault are forgotten (they may have been
//! deleted).
//!
//! This detects a vault file put back on its own; an older copy of the whole directory,
//! memory included, is as undetectable as before. Changes that move neither value (a last
//! use, a health check's result) are not detected when they alone are undone.

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use pvault_vault::{ProfileHead, Vault};
use serde::{Deserialize, Serialize};

/// File name of the memory, in the vault's directory.
pub const FILE_NAME: &str = "heads.json";

/// What is remembered of one profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Seen {
    /// Highest `next_seq` seen.
    next_seq: u64,
    /// Highest `updated_at` seen.
    updated_at: i64,
}

/// The whole memory file.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Memory {
    /// The vault it is about; another vault id starts a new memory.
    vault_id: String,
    /// Per profile id (hex).
    profiles: BTreeMap<String, Seen>,
}

/// One profile that went back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WentBack {
    /// Profile id (hex).
    pub profile: String,
    /// The highest `next_seq` the daemon had seen.
    pub seen_next_seq: u64,
    /// What the vault says now.
    pub now_next_seq: u64,
    /// The highest `updated_at` the daemon had seen.
    pub seen_updated_at: i64,
    /// What the vault says now.
    pub now_updated_at: i64,
}

impl std::fmt::Display for WentBack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "profiles[{}]: the vault file went back to an older copy: ",
            self.profile
        )?;
        if self.now_next_seq < self.seen_next_seq {
            write!(
                f,
                "its next snapshot seq is {}, this daemon already saw {}",
                self.now_next_seq, self.seen_next_seq
            )
        } else {
            write!(
                f,
                "its last change is at {} (Unix ms), this daemon already saw one at {}",
                self.now_updated_at, self.seen_updated_at
            )
        }
    }
}

fn path(home: &Path) -> PathBuf {
    home.join(FILE_NAME)
}

fn load(home: &Path) -> Memory {
    std::fs::read(path(home))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

fn save(home: &Path, m: &Memory) -> std::io::Result<()> {
    let tmp = home.join(format!("{FILE_NAME}.tmp"));
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(&serde_json::to_vec(m).map_err(std::io::Error::other)?)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path(home))
}

/// Compares the unlocked vault's heads with the memory, then remembers the newer of both.
/// Returns the profiles that went back. Never fails the caller: a memory that cannot be read
/// or written is logged and treated as empty.
pub fn check_and_remember(home: &Path, vault: &Vault) -> Vec<WentBack> {
    let heads = match vault.heads() {
        Ok(h) => h,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the vault's history heads");
            return Vec::new();
        }
    };
    let (went_back, memory) = compare(load(home), &vault.vault_id(), &heads);
    for w in &went_back {
        tracing::warn!(profile = %w.profile, seen = w.seen_next_seq, now = w.now_next_seq,
            seen_updated_at = w.seen_updated_at, now_updated_at = w.now_updated_at,
            "the vault file went back to an older copy (history heads below what this daemon saw)");
    }
    if let Err(e) = save(home, &memory) {
        tracing::warn!(error = %e, "cannot write {FILE_NAME}");
    }
    went_back
}

/// The profiles whose heads went below the memory, and the memory updated with `heads`.
fn compare(mut memory: Memory, vault_id: &str, heads: &[ProfileHead]) -> (Vec<WentBack>, Memory) {
    if memory.vault_id != vault_id {
        memory = Memory {
            vault_id: vault_id.to_owned(),
            profiles: BTreeMap::new(),
        };
    }
    let mut went_back = Vec::new();
    let mut profiles = BTreeMap::new();
    for h in heads {
        let now = Seen {
            next_seq: h.next_seq,
            updated_at: h.updated_at,
        };
        let seen = memory.profiles.get(&h.id).copied().unwrap_or(now);
        if now.next_seq < seen.next_seq || now.updated_at < seen.updated_at {
            went_back.push(WentBack {
                profile: h.id.clone(),
                seen_next_seq: seen.next_seq,
                now_next_seq: now.next_seq,
                seen_updated_at: seen.updated_at,
                now_updated_at: now.updated_at,
            });
        }
        profiles.insert(
            h.id.clone(),
            Seen {
                next_seq: now.next_seq.max(seen.next_seq),
                updated_at: now.updated_at.max(seen.updated_at),
            },
        );
    }
    memory.profiles = profiles;
    (went_back, memory)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use pvault_model::{BrowserState, SnapshotKind};
    use pvault_vault::{CreateOptions, Credential, KdfParams};

    use super::*;

    fn pass() -> Credential {
        Credential::Passphrase(zeroize::Zeroizing::new("heads test".into()))
    }

    /// A new unlocked vault in a temporary directory's `home`, with a fast KDF.
    fn new_vault() -> (tempfile::TempDir, std::path::PathBuf, Vault) {
        let t = tempfile::tempdir().unwrap();
        let home = t.path().join("home");
        let opts = CreateOptions {
            kdf_target: None,
            retention: 20,
            kdf_params: Some(KdfParams::OWASP_MINIMUM),
        };
        let v = Vault::create(&home, &pass(), &opts).unwrap();
        (t, home, v)
    }

    #[test]
    fn a_vault_file_put_back_is_reported_and_the_memory_is_private() {
        let (t, home, v) = new_vault();
        v.create_profile("p", None, &Default::default()).unwrap();
        v.append_snapshot("p", &BrowserState::default(), SnapshotKind::Import)
            .unwrap();
        assert_eq!(check_and_remember(&home, &v), Vec::new());
        let mode = std::fs::metadata(home.join(FILE_NAME))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        // An older copy of the vault file, then two more snapshots seen by the daemon.
        let old = t.path().join("old.db");
        v.backup(&old).unwrap();
        for _ in 0..2 {
            v.append_snapshot("p", &BrowserState::default(), SnapshotKind::Capture)
                .unwrap();
        }
        assert_eq!(check_and_remember(&home, &v), Vec::new());
        drop(v);
        // The file goes back: valid in every rule, and only the memory can tell.
        for f in ["vault.db", "vault.db-wal", "vault.db-shm"] {
            let _ = std::fs::remove_file(home.join(f));
        }
        std::fs::copy(&old, home.join("vault.db")).unwrap();
        let v = Vault::open(&home).unwrap();
        v.unlock(&pass()).unwrap();
        assert_eq!(v.verify().unwrap().findings, Vec::new());
        let went_back = check_and_remember(&home, &v);
        assert_eq!(went_back.len(), 1);
        assert_eq!(
            (went_back[0].seen_next_seq, went_back[0].now_next_seq),
            (4, 2)
        );
        assert!(went_back[0].to_string().contains("went back"));
        // It stays reported: the memory keeps the highest head seen.
        assert_eq!(check_and_remember(&home, &v).len(), 1);
    }

    #[test]
    fn a_vault_file_put_back_over_changes_that_append_nothing_is_reported() {
        let (t, home, v) = new_vault();
        v.create_profile("p", None, &Default::default()).unwrap();
        v.create_profile("q", None, &Default::default()).unwrap();
        v.append_snapshot("p", &BrowserState::default(), SnapshotKind::Import)
            .unwrap();
        assert_eq!(check_and_remember(&home, &v), Vec::new());
        let old = t.path().join("old.db");
        v.backup(&old).unwrap();
        // A rename and a description change: nothing appended, `next_seq` unchanged.
        std::thread::sleep(std::time::Duration::from_millis(5));
        v.rename_profile("p", "p2").unwrap();
        v.update_profile(
            "q",
            &pvault_vault::ProfileUpdate {
                description: Some(Some("d".into())),
                settings: None,
            },
        )
        .unwrap();
        let heads = v.heads().unwrap();
        assert_eq!(check_and_remember(&home, &v), Vec::new());
        drop(v);
        for f in ["vault.db", "vault.db-wal", "vault.db-shm"] {
            let _ = std::fs::remove_file(home.join(f));
        }
        std::fs::copy(&old, home.join("vault.db")).unwrap();
        let v = Vault::open(&home).unwrap();
        v.unlock(&pass()).unwrap();
        assert_eq!(v.verify().unwrap().findings, Vec::new());
        let went_back = check_and_remember(&home, &v);
        let mut named: Vec<&str> = went_back.iter().map(|w| w.profile.as_str()).collect();
        named.sort_unstable();
        let mut want: Vec<&str> = heads.iter().map(|h| h.id.as_str()).collect();
        want.sort_unstable();
        assert_eq!(named, want, "{went_back:?}");
        for w in &went_back {
            assert_eq!(w.now_next_seq, w.seen_next_seq);
            assert!(w.now_updated_at < w.seen_updated_at);
            assert!(w.to_string().contains("its last change is at"), "{w}");
        }
    }

    #[test]
    fn another_vault_starts_a_new_memory() {
        let heads = [ProfileHead {
            id: "aa".into(),
            next_seq: 2,
            updated_at: 5,
        }];
        let old = Memory {
            vault_id: "other".into(),
            profiles: [(
                "aa".to_owned(),
                Seen {
                    next_seq: 9,
                    updated_at: 9,
                },
            )]
            .into(),
        };
        let (went_back, m) = compare(old, "this", &heads);
        assert_eq!(went_back, Vec::new());
        assert_eq!(m.profiles["aa"].next_seq, 2);
    }
}
