//! The single-writer lease (`remote-format.md` 6): a row per profile with a holder, an expiry
//! under the server's clock and a fencing number that grows at every acquisition.

use std::time::Duration;

use crate::crypto::{self, Id};
use crate::error::{RemoteError, Result};
use crate::{Holder, Remote};

/// A lease held by this process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The remote profile (hex).
    pub profile_id: String,
    /// Random per acquisition: what the row must still name for renewals and writes.
    pub holder_id: Id,
    /// The fencing number of this acquisition.
    pub fence: u64,
    /// How long the lease lasts after each renewal.
    pub ttl: Duration,
}

/// A lease as `remote status` shows it.
#[derive(Debug, Clone)]
pub struct LeaseInfo {
    /// Profile name.
    pub profile: String,
    /// Who holds it (`None` if its sealed holder does not open).
    pub holder: Option<Holder>,
    /// Its fencing number.
    pub fence: u64,
    /// Milliseconds until it expires.
    pub expires_in_ms: u64,
}

fn pid(s: &str) -> Result<Id> {
    hex::decode(s)
        .ok()
        .and_then(|v| v.try_into().ok())
        .ok_or_else(|| RemoteError::ProfileNotFound { name: s.to_owned() })
}

impl Remote {
    /// Takes the lease of a profile for `ttl`, or `busy` naming the holder (`shown` is the
    /// profile's name in messages). One statement: exactly one of any number of contenders
    /// gets it.
    pub async fn acquire(
        &self,
        profile_id: &str,
        shown: &str,
        holder: &Holder,
        ttl: Duration,
    ) -> Result<Lease> {
        let p = pid(profile_id)?;
        let holder_id = crypto::random_id()?;
        let ttl_ms = ttl.as_millis() as i64;
        // The fencing number is not known before the statement runs, and the holder's AAD
        // binds it: seal for the next number, and retry if another acquisition raced it.
        for _ in 0..8 {
            let current: Option<i64> = self
                .client()
                .query_opt(
                    "SELECT fence FROM pvault_leases WHERE profile_id = $1",
                    &[&p.as_slice()],
                )
                .await
                .map_err(|e| self.err(e))?
                .map(|r| r.get(0));
            let Some(current) = current else {
                return Err(RemoteError::ProfileNotFound {
                    name: shown.to_owned(),
                });
            };
            let next = current + 1;
            let sealed = self.seal_holder(&p, &holder_id, next as u64, holder)?;
            let row = self
                .client()
                .query_opt(
                    "UPDATE pvault_leases SET fence = fence + 1, holder_id = $2, holder = $3, \
                       acquired_at = now(), expires_at = now() + $4 * interval '1 millisecond' \
                     WHERE profile_id = $1 AND fence = $5 AND (holder_id IS NULL OR expires_at <= now()) \
                     RETURNING fence",
                    &[&p.as_slice(), &holder_id.as_slice(), &sealed, &(ttl_ms as f64), &current],
                )
                .await
                .map_err(|e| self.err(e))?;
            if let Some(r) = row {
                return Ok(Lease {
                    profile_id: profile_id.to_owned(),
                    holder_id,
                    fence: r.get::<_, i64>(0) as u64,
                    ttl,
                });
            }
            // Not taken: either held (busy) or the fence moved under us (retry).
            if let Some(info) = self.lease_info(profile_id, shown).await? {
                return Err(RemoteError::Busy {
                    profile: shown.to_owned(),
                    holder: info.holder.unwrap_or(Holder {
                        host: "(unreadable holder)".into(),
                        session: None,
                        vault: String::new(),
                    }),
                    expires_in_ms: info.expires_in_ms,
                });
            }
        }
        Err(RemoteError::Database {
            detail: "the lease changed hands 8 times while acquiring it".into(),
        })
    }

    /// Extends the lease by its ttl from now; `busy` (lease lost) if it expired or was taken.
    pub async fn renew(&self, lease: &Lease) -> Result<()> {
        let p = pid(&lease.profile_id)?;
        let n = self
            .client()
            .execute(
                "UPDATE pvault_leases SET expires_at = now() + $4 * interval '1 millisecond' \
                 WHERE profile_id = $1 AND holder_id = $2 AND fence = $3 AND expires_at > now()",
                &[
                    &p.as_slice(),
                    &lease.holder_id.as_slice(),
                    &(lease.fence as i64),
                    &(lease.ttl.as_millis() as f64),
                ],
            )
            .await
            .map_err(|e| self.err(e))?;
        if n == 1 {
            Ok(())
        } else {
            Err(RemoteError::LeaseLost {
                profile: lease.profile_id.clone(),
                fence: lease.fence,
            })
        }
    }

    /// Gives the lease back (the fencing number stays). Releasing a lease already lost is
    /// not an error.
    pub async fn release(&self, lease: &Lease) -> Result<()> {
        let p = pid(&lease.profile_id)?;
        self.client()
            .execute(
                "UPDATE pvault_leases SET holder_id = NULL, holder = NULL, expires_at = now() \
                 WHERE profile_id = $1 AND holder_id = $2 AND fence = $3",
                &[
                    &p.as_slice(),
                    &lease.holder_id.as_slice(),
                    &(lease.fence as i64),
                ],
            )
            .await
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// The lease of a profile if it is held now.
    pub async fn lease_info(&self, profile_id: &str, shown: &str) -> Result<Option<LeaseInfo>> {
        let p = pid(profile_id)?;
        let row = self
            .client()
            .query_opt(
                "SELECT holder_id, holder, fence, \
                   GREATEST(0, (EXTRACT(EPOCH FROM (expires_at - now())) * 1000))::bigint \
                 FROM pvault_leases WHERE profile_id = $1 AND holder_id IS NOT NULL AND expires_at > now()",
                &[&p.as_slice()],
            )
            .await
            .map_err(|e| self.err(e))?;
        Ok(row.map(|r| {
            let fence = r.get::<_, i64>(2) as u64;
            let holder = r
                .get::<_, Option<&[u8]>>(0)
                .and_then(|h| <Id>::try_from(h).ok())
                .zip(r.get::<_, Option<&[u8]>>(1))
                .and_then(|(hid, sealed)| self.open_holder(&p, &hid, fence, sealed));
            LeaseInfo {
                profile: shown.to_owned(),
                holder,
                fence,
                expires_in_ms: r.get::<_, i64>(3) as u64,
            }
        }))
    }
}
