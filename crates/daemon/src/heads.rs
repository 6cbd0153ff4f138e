//! The daemon's memory of the vault's history heads, kept outside the vault file.
//!
//! Nothing inside a vault file can show that the whole file was replaced by an older copy of
//! itself: every rule still holds, it is just an older state. So the daemon remembers, per
//! profile, the highest sealed values that never decrease in a vault (at every unlock and
//! verify; not at lock, which must stay instant and cost nothing while other requests run),
//! in `heads.json` next to the vault (mode 0600, replaced atomically), and warns when the
//! vault goes below one of them:
//! - `next_seq` grows with every append (even deleting snapshots keeps it);
//! - `updated_at` is set at every append, removal, rename, description or settings change,
//!   health definition change and `accept` to the later of the clock and its previous value;
//! - `last_used_at` is set at every last use the same way;
//! - the kept health result's `checked_at` is never below the previous result's; a new
//!   health definition clears the result but moves `updated_at`, so the check time is only
//!   compared while `updated_at` is the remembered one.
//!
//! So going below any of them means the file went back, including to a copy that only undoes
//! a last use or a health check. Profiles the memory does not know are added; profiles missing
//! from the vault are forgotten (they may have been deleted). This detects a vault file put
//! back on its own; an older copy of the whole directory, memory included, is as undetectable
//! as before.

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use pvault_vault::{ProfileHead, Vault};
use serde::{Deserialize, Serialize};

/// File name of the memory, in the vault's directory.
pub const FILE_NAME: &str = "heads.json";

/// What is remembered of one profile: the values that never decrease in a vault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Seen {
    /// Highest `next_seq` seen.
    next_seq: u64,
    /// Highest `updated_at` seen.
    updated_at: i64,
    /// Highest `last_used_at` seen (a memory written before it was kept has none).
    #[serde(default)]
    last_used_at: Option<i64>,
    /// Highest health-check time seen while `updated_at` was the remembered one: a change
    /// that moves `updated_at` (a new health definition) may clear the result.
    #[serde(default)]
    health_checked_at: Option<i64>,
}

impl Seen {
    fn of(h: &ProfileHead) -> Seen {
        Seen {
            next_seq: h.next_seq,
            updated_at: h.updated_at,
            last_used_at: h.last_used_at,
            health_checked_at: h.health_checked_at,
        }
    }

    /// Which value of `now` went below `self`, if any (`None` is below any time).
    fn went_back_in(&self, now: &Seen) -> Option<HeadValue> {
        if now.next_seq < self.next_seq {
            Some(HeadValue::NextSeq)
        } else if now.updated_at < self.updated_at {
            Some(HeadValue::UpdatedAt)
        } else if now.last_used_at < self.last_used_at {
            Some(HeadValue::LastUsedAt)
        } else if now.updated_at == self.updated_at
            && now.health_checked_at < self.health_checked_at
        {
            Some(HeadValue::HealthCheckedAt)
        } else {
            None
        }
    }

    /// The memory after seeing `now` (which did not go back).
    fn merged(&self, now: &Seen) -> Seen {
        Seen {
            next_seq: now.next_seq.max(self.next_seq),
            updated_at: now.updated_at.max(self.updated_at),
            last_used_at: now.last_used_at.max(self.last_used_at),
            health_checked_at: if now.updated_at > self.updated_at {
                now.health_checked_at
            } else {
                now.health_checked_at.max(self.health_checked_at)
            },
        }
    }
}

/// A sealed value of a profile's metadata that never decreases in a vault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeadValue {
    /// The seq the next snapshot gets: every append raises it.
    NextSeq,
    /// The last change of the profile or its history.
    UpdatedAt,
    /// The last time a session loaded the profile.
    LastUsedAt,
    /// When the kept health result was checked.
    HealthCheckedAt,
}

impl HeadValue {
    /// Its name in vault-format.md.
    pub fn name(self) -> &'static str {
        match self {
            HeadValue::NextSeq => "next_seq",
            HeadValue::UpdatedAt => "updated_at",
            HeadValue::LastUsedAt => "last_used_at",
            HeadValue::HealthCheckedAt => "health_result.checked_at",
        }
    }

    fn of(self, s: &Seen) -> Option<i64> {
        match self {
            HeadValue::NextSeq => i64::try_from(s.next_seq).ok(),
            HeadValue::UpdatedAt => Some(s.updated_at),
            HeadValue::LastUsedAt => s.last_used_at,
            HeadValue::HealthCheckedAt => s.health_checked_at,
        }
    }
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
    /// The sealed value that went below what the daemon had seen.
    pub value: HeadValue,
    /// What the daemon had seen of it.
    pub seen: Option<i64>,
    /// What the vault says now.
    pub now: Option<i64>,
}

impl std::fmt::Display for WentBack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let show = |v: Option<i64>| v.map_or_else(|| "none".to_owned(), |v| v.to_string());
        write!(
            f,
            "profiles[{}]: the vault file went back to an older copy: its {} is {}, this daemon \
             already saw {}",
            self.profile,
            self.value.name(),
            show(self.now),
            show(self.seen)
        )
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
        tracing::warn!(profile = %w.profile, value = w.value.name(), seen = ?w.seen, now = ?w.now,
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
        let now = Seen::of(h);
        let seen = memory.profiles.get(&h.id).copied().unwrap_or(now);
        if let Some(value) = seen.went_back_in(&now) {
            went_back.push(WentBack {
                profile: h.id.clone(),
                value,
                seen: value.of(&seen),
                now: value.of(&now),
            });
        }
        profiles.insert(h.id.clone(), seen.merged(&now));
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

    /// Puts the copy `old` back as the vault file of `home` and unlocks it: valid in every
    /// rule, and only the memory can tell.
    fn put_back(home: &Path, old: &Path) -> Vault {
        for f in ["vault.db", "vault.db-wal", "vault.db-shm"] {
            let _ = std::fs::remove_file(home.join(f));
        }
        std::fs::copy(old, home.join("vault.db")).unwrap();
        let v = Vault::open(home).unwrap();
        v.unlock(&pass()).unwrap();
        assert_eq!(v.verify().unwrap().findings, Vec::new());
        v
    }

    fn head(
        next_seq: u64,
        updated_at: i64,
        last_used_at: Option<i64>,
        checked: Option<i64>,
    ) -> ProfileHead {
        ProfileHead {
            id: "aa".into(),
            next_seq,
            updated_at,
            last_used_at,
            health_checked_at: checked,
        }
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
        let v = put_back(&home, &old);
        let went_back = check_and_remember(&home, &v);
        assert_eq!(went_back.len(), 1);
        assert_eq!(
            (went_back[0].value, went_back[0].seen, went_back[0].now),
            (HeadValue::NextSeq, Some(4), Some(2))
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
        let v = put_back(&home, &old);
        let went_back = check_and_remember(&home, &v);
        let mut named: Vec<&str> = went_back.iter().map(|w| w.profile.as_str()).collect();
        named.sort_unstable();
        let mut want: Vec<&str> = heads.iter().map(|h| h.id.as_str()).collect();
        want.sort_unstable();
        assert_eq!(named, want, "{went_back:?}");
        for w in &went_back {
            assert_eq!(w.value, HeadValue::UpdatedAt);
            assert!(w.now < w.seen);
            assert!(w.to_string().contains("its updated_at is"), "{w}");
        }
    }

    #[test]
    fn a_vault_file_put_back_over_a_last_use_only_is_reported() {
        let (t, home, v) = new_vault();
        v.create_profile("p", None, &Default::default()).unwrap();
        v.touch_profile("p").unwrap();
        assert_eq!(check_and_remember(&home, &v), Vec::new());
        let old = t.path().join("old.db");
        v.backup(&old).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(5));
        let before = v.heads().unwrap();
        v.touch_profile("p").unwrap();
        let after = v.heads().unwrap();
        assert_eq!(
            (after[0].next_seq, after[0].updated_at),
            (before[0].next_seq, before[0].updated_at),
            "a last use moves neither next_seq nor updated_at"
        );
        assert_eq!(check_and_remember(&home, &v), Vec::new());
        drop(v);
        let v = put_back(&home, &old);
        let went_back = check_and_remember(&home, &v);
        assert_eq!(went_back.len(), 1, "{went_back:?}");
        assert_eq!(went_back[0].value, HeadValue::LastUsedAt);
        assert_eq!(went_back[0].now, before[0].last_used_at);
        assert_eq!(went_back[0].seen, after[0].last_used_at);
    }

    #[test]
    fn a_health_result_undone_is_reported_and_one_cleared_by_a_new_definition_is_not() {
        let memory = |h: &ProfileHead| compare(Memory::default(), "v", std::slice::from_ref(h)).1;
        let checked = memory(&head(2, 10, None, Some(100)));
        // Put back to before that check (no result, or an older one): reported.
        for older in [None, Some(50)] {
            let (went_back, _) = compare(
                memory(&head(2, 10, None, Some(100))),
                "v",
                &[head(2, 10, None, older)],
            );
            assert_eq!(went_back.len(), 1, "{older:?}");
            assert_eq!(went_back[0].value, HeadValue::HealthCheckedAt);
        }
        // A new definition moved updated_at and cleared the result: not a rollback, and the
        // memory takes the new state.
        let (went_back, m) = compare(checked, "v", &[head(2, 11, None, None)]);
        assert_eq!(went_back, Vec::new());
        assert_eq!(m.profiles["aa"].health_checked_at, None);
        // A later check is remembered.
        let (went_back, m) = compare(m, "v", &[head(2, 11, None, Some(200))]);
        assert_eq!(went_back, Vec::new());
        assert_eq!(m.profiles["aa"].health_checked_at, Some(200));
    }

    #[test]
    fn a_memory_written_before_last_use_and_health_were_kept_still_reads() {
        let t = tempfile::tempdir().unwrap();
        std::fs::write(
            t.path().join(FILE_NAME),
            r#"{"vault_id":"v","profiles":{"aa":{"next_seq":3,"updated_at":7}}}"#,
        )
        .unwrap();
        let m = load(t.path());
        assert_eq!(m.profiles["aa"].next_seq, 3);
        let (went_back, _) = compare(m, "v", &[head(2, 7, Some(1), Some(1))]);
        assert_eq!(went_back.len(), 1);
        assert_eq!(went_back[0].value, HeadValue::NextSeq);
    }

    #[test]
    fn another_vault_starts_a_new_memory() {
        let heads = [head(2, 5, None, None)];
        let old = Memory {
            vault_id: "other".into(),
            profiles: [("aa".to_owned(), Seen::of(&head(9, 9, Some(9), Some(9))))].into(),
        };
        let (went_back, m) = compare(old, "this", &heads);
        assert_eq!(went_back, Vec::new());
        assert_eq!(m.profiles["aa"].next_seq, 2);
    }
}
