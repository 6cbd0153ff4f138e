//! Login health in the vault: the definition and last result sealed in a profile's metadata,
//! the logout guard's verdict on a new snapshot, and `accept` (vault-format.md 7.5).

use pvault_model::{BrowserState, HealthDefinition, HealthFailure, HealthResult, SnapshotInfo};
use rusqlite::{Transaction, params};

use crate::error::{Result, VaultError};
use crate::profiles::OpenProfile;
use crate::snapshot_rows::{find_row, open_info};
use crate::store;
use crate::vault::Vault;

impl Vault {
    /// Sets (or with `None` clears) a profile's health definition; the last result goes with
    /// the old definition. The definition is validated first (`InvalidArgument` naming the
    /// argument).
    pub fn set_health(
        &self,
        name_or_id: &str,
        definition: Option<&HealthDefinition>,
    ) -> Result<pvault_model::ProfileInfo> {
        if let Some(d) = definition {
            d.validate().map_err(|e| VaultError::InvalidArgument {
                what: "health definition",
                reason: e.to_string(),
            })?;
        }
        self.with_keys(|keys| {
            self.store.write(|tx| {
                let mut open = self.resolve(tx, keys, name_or_id)?;
                open.meta.health = definition.cloned();
                open.meta.health_result = None;
                open.changed_at(self.env.now_ms());
                self.store_meta(keys, tx, &mut open)?;
                Ok(open.info())
            })
        })
    }

    /// Keeps the result of a check of `checked` (the definition the check ran): dropped, and
    /// `None` returned, when the definition changed meanwhile. `since` is carried over from
    /// the previous result when the status did not change; `checked_at` is never below the
    /// previous result's. Returns the previous result and
    /// the one kept. Does not count as a change of the profile (`updated_at` stays).
    pub fn record_health(
        &self,
        name_or_id: &str,
        checked: &HealthDefinition,
        mut result: HealthResult,
    ) -> Result<Option<(Option<HealthResult>, HealthResult)>> {
        self.with_keys(|keys| {
            self.store.write(|tx| {
                let mut open = self.resolve(tx, keys, name_or_id)?;
                if open.meta.health.as_ref() != Some(checked) {
                    return Ok(None);
                }
                let previous = open.meta.health_result.take();
                if let Some(p) = &previous {
                    // The check time never decreases (a clock set back, or two checks
                    // recorded out of order): a file put back over a result is then noticed
                    // by whoever remembers it.
                    result.checked_at = result.checked_at.max(p.checked_at);
                    result.since = if p.status == result.status {
                        p.since
                    } else {
                        // This status began after the previous check found another.
                        result.since.max(p.checked_at)
                    };
                }
                open.meta.health_result = Some(result.clone());
                self.store_meta(keys, tx, &mut open)?;
                Ok(Some((previous, result)))
            })
        })
    }

    /// Makes a snapshot the logout guard marked current: `snapshot` selects it (the newest
    /// when `None`). It must be marked and newer than the current snapshot (an older one is
    /// made current by `restore`, which appends a copy). Returns the snapshot, unmarked.
    pub fn accept(&self, name_or_id: &str, snapshot: Option<&str>) -> Result<SnapshotInfo> {
        self.with_keys(|keys| {
            self.store.write(|tx| {
                let mut open = self.resolve(tx, keys, name_or_id)?;
                let row = find_row(tx, &open.row.id, name_or_id, snapshot.or(Some("latest")))?;
                let mut info = open_info(&self.vault_id, &open.dk, &open.row.id, &row)?;
                if !info.logged_out {
                    return Err(VaultError::InvalidArgument {
                        what: "snapshot",
                        reason: format!(
                            "snapshot #{} of profile {name_or_id} is not marked logged_out: it \
                             needs no accept",
                            info.seq
                        ),
                    });
                }
                if let Some(c) = &open.meta.current
                    && c.seq > info.seq
                {
                    return Err(VaultError::InvalidArgument {
                        what: "snapshot",
                        reason: format!(
                            "snapshot #{} is older than the current snapshot #{}; `pvault \
                             profile restore {name_or_id} {}` makes a copy of it current",
                            info.seq, c.seq, info.seq
                        ),
                    });
                }
                info.logged_out = false;
                let schema = u16::try_from(row.schema_version).unwrap_or(u16::MAX);
                let sealed = self.seal_info(&open, &row.id, schema, &info)?;
                store::exec(
                    tx,
                    "UPDATE snapshots SET info = ?1 WHERE snapshot_id = ?2",
                    params![sealed, &row.id[..]],
                )
                .map_err(VaultError::storage("accept snapshot"))?;
                open.meta.current = Some(info.link());
                if open.meta.latest.as_ref().map(|l| l.seq) == Some(info.seq) {
                    open.meta.latest = Some(info.public());
                }
                open.changed_at(self.env.now_ms());
                self.store_meta(keys, tx, &mut open)?;
                Ok(info.public())
            })
        })
    }

    /// The logout guard's verdict on a new state: the offline expectations it fails, when the
    /// current snapshot passes all of them (then the new snapshot is marked); empty otherwise
    /// (no definition, no offline expectation, the new state passes, or the current one
    /// fails too: there is no login left to protect).
    pub(crate) fn guard_verdict(
        &self,
        tx: &Transaction<'_>,
        open: &OpenProfile,
        state: &BrowserState,
    ) -> Result<Vec<HealthFailure>> {
        let Some(def) = open.meta.health.as_ref().filter(|d| d.has_offline()) else {
            return Ok(Vec::new());
        };
        let now = self.env.now_ms() as f64 / 1000.0;
        let failed = def.failed_offline(state, now);
        if failed.is_empty() || open.meta.current.is_none() {
            return Ok(Vec::new());
        }
        let current = self.load_snapshot(tx, open, "", None)?;
        if def.failed_offline(&current.state, now).is_empty() {
            Ok(failed)
        } else {
            Ok(Vec::new())
        }
    }
}
