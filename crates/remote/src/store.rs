//! [`Remote`]: one connection to a store opened with its team key; profiles, pull (with the
//! chain checks of `remote-format.md` 7.1 and 7.3) and push (7.2, fenced by the lease, 6.1).

use tokio_postgres::Client;
use zeroize::Zeroizing;

use crate::chain;
use crate::connect::{Target, db_error};
use crate::crypto::{self, Id, Key, RECORD_BODY, RECORD_INFO};
use crate::error::{RemoteError, Result, Tamper};
use crate::lease::Lease;
use crate::schema::{self, Found};
use crate::{ChainedInfo, Head, Holder, Link, decode_versioned, encode_versioned};

/// Key version of remote profile data keys.
const KEY_VERSION: i32 = 1;

/// Which team key to use when connecting.
#[derive(Debug)]
pub enum KeyChoice {
    /// Create the store with a new key if the database is empty; an existing store then
    /// needs its key (`remote add --key-file`).
    CreateIfEmpty,
    /// The store's key (from the local state or a key file); the store must exist.
    Existing(Key),
}

/// A connection to a store, with its key.
pub struct Remote {
    /// Where (for errors and reconnects).
    target: Target,
    /// The password used (kept to reconnect; zeroized on drop; never printed).
    password: Option<Zeroizing<String>>,
    /// The connection.
    client: Client,
    /// The store's id (bound in every AAD).
    store_id: Id,
    /// The team key.
    team: Key,
    /// Whether this connect created the store.
    pub created: bool,
}

impl std::fmt::Debug for Remote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Remote")
            .field("target", &self.target)
            .field("store_id", &hex::encode(self.store_id))
            .finish_non_exhaustive()
    }
}

/// A profile on the remote.
#[derive(Debug, Clone)]
pub struct RemoteProfile {
    /// Its remote id (hex).
    pub id: String,
    /// Its head.
    pub head: Head,
    /// The head's random id (hex): what a push compares and swaps.
    pub head_id: String,
}

/// What a vault remembers of a remote profile's head (`remote-format.md` 7.3).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Memory {
    /// The highest `next_seq` seen.
    pub next_seq: u64,
    /// The newest snapshot then.
    pub latest: Option<Link>,
    /// The head id then (hex).
    pub head_id: String,
}

/// A new snapshot to push: its body plaintext and metadata.
#[derive(Debug, Clone)]
pub struct NewSnapshot {
    /// The vault's body plaintext (`version ‖ JSON`).
    pub body: Vec<u8>,
    /// Its info (seq and id are the local ones; the remote assigns its own).
    pub info: pvault_model::SnapshotInfo,
    /// The session that made it (its checkpoints are collapsed on the remote too).
    pub session_id: Option<String>,
}

/// The result of [`Remote::pull`] and [`Remote::push`].
#[derive(Debug)]
pub struct Pulled {
    /// The profile's remote id (hex).
    pub profile_id: String,
    /// Its head.
    pub head: Head,
    /// Its head id (hex).
    pub head_id: String,
    /// The whole chain, by seq.
    pub chain: Vec<ChainedInfo>,
    /// Bodies fetched (those not already had), with their info, by seq.
    pub bodies: Vec<(ChainedInfo, Vec<u8>)>,
    /// The remote ids a push inserted, in the order of its `NewSnapshot`s (`None` for one a
    /// later snapshot of the same push collapsed or retention removed at once).
    pub inserted: Vec<Option<String>>,
}

impl Pulled {
    /// The memory to keep after this.
    pub fn memory(&self) -> Memory {
        Memory {
            next_seq: self.head.next_seq,
            latest: self.head.latest.clone(),
            head_id: self.head_id.clone(),
        }
    }
}

/// `remote status`.
#[derive(Debug, Clone)]
pub struct StoreStatus {
    /// Store id (hex).
    pub store_id: String,
    /// Its schema version.
    pub schema_version: i32,
    /// Profiles on it.
    pub profiles: u64,
    /// Leases held now.
    pub leases: Vec<crate::LeaseInfo>,
}

fn parse_id(s: &str) -> Result<Id> {
    hex::decode(s)
        .ok()
        .and_then(|v| v.try_into().ok())
        .ok_or_else(|| RemoteError::ProfileNotFound { name: s.to_owned() })
}

impl Remote {
    /// Connects, recognises the store (creating it in an empty database with
    /// [`KeyChoice::CreateIfEmpty`]) and checks the key. Writes nothing unless it creates.
    pub async fn connect(
        target: &Target,
        password: Option<Zeroizing<String>>,
        key: KeyChoice,
    ) -> Result<(Remote, Key)> {
        let mut client = target
            .connect(password.as_deref().map(String::as_str))
            .await?;
        let found = schema::recognise(target, &client).await?;
        let (store_id, team, created, version) = match (found, key) {
            (
                Found::Store {
                    store_id,
                    schema_version,
                    key_check,
                },
                KeyChoice::Existing(k),
            ) => {
                check_key(&k, &store_id, &key_check)?;
                (store_id, k, false, schema_version)
            }
            (Found::Store { .. }, KeyChoice::CreateIfEmpty) => {
                return Err(RemoteError::WrongKey {
                    what: "this database already holds a pvault remote store: bring its team key (pvault remote export-key on a machine that has it, then remote add … --key-file FILE)".into(),
                });
            }
            (Found::Empty { .. }, KeyChoice::Existing(_)) => {
                return Err(RemoteError::WrongKey {
                    what: "the key file belongs to another remote store: this database holds none"
                        .into(),
                });
            }
            (Found::Empty { .. }, KeyChoice::CreateIfEmpty) => {
                let k = Key::random()?;
                let id = schema::create(target, &mut client, &k).await?;
                // Another client may have created it first: then our new key is not its key.
                let found = schema::recognise(target, &client).await?;
                let Found::Store {
                    key_check,
                    schema_version,
                    ..
                } = found
                else {
                    return Err(RemoteError::Database {
                        detail: "the store vanished after creation".into(),
                    });
                };
                check_key(&k, &id, &key_check).map_err(|_| RemoteError::WrongKey {
                    what: "another machine created this remote store at the same moment: bring its team key (remote add … --key-file FILE)".into(),
                })?;
                (id, k, true, schema_version)
            }
        };
        schema::migrate(target, &mut client, version).await?;
        let remote = Remote {
            target: target.clone(),
            password,
            client,
            store_id,
            team: team.clone(),
            created,
        };
        Ok((remote, team))
    }

    /// The store's id (hex).
    pub fn store_id(&self) -> String {
        hex::encode(self.store_id)
    }

    /// The raw store id.
    pub fn store_id_bytes(&self) -> Id {
        self.store_id
    }

    /// The team key.
    pub fn team_key(&self) -> &Key {
        &self.team
    }

    /// Whether the connection has closed (the daemon then connects again).
    pub fn is_closed(&self) -> bool {
        self.client.is_closed()
    }

    /// A new connection to the same store with the same key and password.
    pub async fn reconnect(&self) -> Result<Remote> {
        let (r, _) = Remote::connect(
            &self.target,
            self.password.clone(),
            KeyChoice::Existing(self.team.clone()),
        )
        .await?;
        Ok(r)
    }

    pub(crate) fn client(&self) -> &Client {
        &self.client
    }

    pub(crate) fn err(&self, e: tokio_postgres::Error) -> RemoteError {
        db_error(&self.target, e)
    }

    fn dk(&self, profile: &Id, wrapped: &[u8], name: &str) -> Result<Key> {
        crypto::open_key(
            &self.team,
            &crypto::aad_dk(&self.store_id, profile, KEY_VERSION as u32),
            wrapped,
        )
        .ok_or_else(|| {
            RemoteError::tampered(
                name,
                Tamper::Unreadable,
                "the profile's data key does not open",
            )
        })
    }

    fn open_head(&self, profile: &Id, dk: &Key, row: HeadRow<'_>, shown: &str) -> Result<Head> {
        let HeadRow {
            head_id,
            fence,
            sealed,
            updated_at,
        } = row;
        let hid: Id = head_id
            .try_into()
            .map_err(|_| RemoteError::tampered(shown, Tamper::Edited, "head_id is not 16 bytes"))?;
        let pt = crypto::open(
            dk,
            &crypto::aad_head(&self.store_id, profile, &hid, fence as u64),
            sealed,
        )
        .ok_or_else(|| {
            RemoteError::tampered(
                shown,
                Tamper::Unreadable,
                "the head does not open (edited, or put back under another write)",
            )
        })?;
        let head: Head = decode_versioned(crate::HEAD_VERSION, &pt).ok_or_else(|| {
            RemoteError::tampered(shown, Tamper::Unreadable, "the head does not decode")
        })?;
        if head.updated_at != updated_at {
            return Err(RemoteError::tampered(
                shown,
                Tamper::Edited,
                "updated_at differs from the sealed head",
            ));
        }
        Ok(head)
    }

    /// Every profile on the remote, with its head (each head opened and checked).
    pub async fn profiles(&self) -> Result<Vec<RemoteProfile>> {
        let rows = self
            .client
            .query("SELECT profile_id, wrapped_dk, head_id, head, fence, updated_at, name_hash FROM pvault_profiles", &[])
            .await
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for r in rows {
            let id: Vec<u8> = r.get(0);
            let pid: Id = id.as_slice().try_into().map_err(|_| {
                RemoteError::tampered("?", Tamper::Edited, "a profile id is not 16 bytes")
            })?;
            let shown = hex::encode(pid);
            let dk = self.dk(&pid, r.get::<_, &[u8]>(1), &shown)?;
            let row = HeadRow {
                head_id: r.get(2),
                sealed: r.get(3),
                fence: r.get(4),
                updated_at: r.get(5),
            };
            let head = self.open_head(&pid, &dk, row, &shown)?;
            if crypto::name_hash(&self.team, &head.name).as_slice() != r.get::<_, &[u8]>(6) {
                return Err(RemoteError::tampered(
                    &shown,
                    Tamper::Edited,
                    "the name index points elsewhere",
                ));
            }
            out.push(RemoteProfile {
                id: shown,
                head,
                head_id: hex::encode(r.get::<_, &[u8]>(2)),
            });
        }
        out.sort_by(|a, b| a.head.name.cmp(&b.head.name));
        Ok(out)
    }

    /// The profile named `name`, if any.
    pub async fn find(&self, name: &str) -> Result<Option<RemoteProfile>> {
        let hash = crypto::name_hash(&self.team, name);
        let row = self
            .client
            .query_opt(
                "SELECT profile_id FROM pvault_profiles WHERE name_hash = $1",
                &[&hash.as_slice()],
            )
            .await
            .map_err(|e| self.err(e))?;
        let Some(row) = row else { return Ok(None) };
        let id = hex::encode(row.get::<_, &[u8]>(0));
        let p = self.profiles().await?.into_iter().find(|p| p.id == id);
        match p {
            Some(p) if p.head.name == name => Ok(Some(p)),
            _ => Err(RemoteError::tampered(
                name,
                Tamper::Edited,
                "the name index points elsewhere",
            )),
        }
    }

    /// Status: schema, profile count, leases held.
    pub async fn status(&self) -> Result<StoreStatus> {
        let version: i32 = self
            .client
            .query_one("SELECT schema_version FROM pvault_store", &[])
            .await
            .map_err(|e| self.err(e))?
            .get(0);
        let profiles = self.profiles().await?;
        let mut leases = Vec::new();
        for p in &profiles {
            if let Some(l) = self.lease_info(&p.id, &p.head.name).await? {
                leases.push(l);
            }
        }
        Ok(StoreStatus {
            store_id: self.store_id(),
            schema_version: version,
            profiles: profiles.len() as u64,
            leases,
        })
    }

    /// The info of a snapshot about to be pushed: the vault's, with the remote's id and the
    /// body's own length (the seq and link are set when the push is planned).
    fn new_info(id: &Id, s: &NewSnapshot) -> ChainedInfo {
        ChainedInfo {
            id: hex::encode(id),
            seq: 0,
            size_bytes: s.body.len() as u64,
            ..ChainedInfo::new(&s.info, s.session_id.as_deref(), None)
        }
    }

    /// Creates profile `name` with `snapshots` (oldest first) as its history, and its free
    /// lease row, in one transaction (`profile link`). `conflict` if the name is taken.
    pub async fn create_profile(
        &mut self,
        name: &str,
        snapshots: &[NewSnapshot],
        writer: &Holder,
        retention: u64,
    ) -> Result<Pulled> {
        let pid = crypto::random_id()?;
        let dk = Key::random()?;
        let wrapped = crypto::seal(
            &self.team,
            &crypto::aad_dk(&self.store_id, &pid, KEY_VERSION as u32),
            dk.expose(),
        )?;
        let empty = Head {
            name: name.to_owned(),
            next_seq: 1,
            latest: None,
            snapshot_count: 0,
            anchor: None,
            updated_at: crate::now_ms(),
            writer: writer.clone(),
        };
        let hash = crypto::name_hash(&self.team, name);
        let store_id = self.store_id;
        let target = self.target.clone();
        let tx = self
            .client
            .transaction()
            .await
            .map_err(|e| db_error(&target, e))?;
        let taken = tx
            .query_opt(
                "SELECT 1 FROM pvault_profiles WHERE name_hash = $1 FOR UPDATE",
                &[&hash.as_slice()],
            )
            .await
            .map_err(|e| db_error(&target, e))?;
        if taken.is_some() {
            return Err(RemoteError::NameTaken {
                name: name.to_owned(),
            });
        }
        let head_id = crypto::random_id()?;
        let now = crate::now_ms();
        let sealed_head = crypto::seal(
            &dk,
            &crypto::aad_head(&store_id, &pid, &head_id, 0),
            &encode_versioned(
                crate::HEAD_VERSION,
                &Head {
                    updated_at: now,
                    ..empty.clone()
                },
            ),
        )?;
        let inserted = tx
            .execute(
                "INSERT INTO pvault_profiles (profile_id, name_hash, key_version, wrapped_dk, head_id, head, fence, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $7) ON CONFLICT (name_hash) DO NOTHING",
                &[&pid.as_slice(), &hash.as_slice(), &KEY_VERSION, &wrapped, &head_id.as_slice(), &sealed_head, &now],
            )
            .await
            .map_err(|e| db_error(&target, e))?;
        if inserted == 0 {
            return Err(RemoteError::NameTaken {
                name: name.to_owned(),
            });
        }
        tx.execute(
            "INSERT INTO pvault_leases (profile_id, fence, acquired_at, expires_at) VALUES ($1, 1, now(), now())",
            &[&pid.as_slice()],
        )
        .await
        .map_err(|e| db_error(&target, e))?;
        let empty = Head {
            updated_at: now,
            ..empty
        };
        let pulled = write_chain(
            &tx,
            &store_id,
            &pid,
            &dk,
            &empty,
            vec![],
            snapshots,
            0,
            writer,
            retention,
            name,
        )
        .await?;
        tx.commit().await.map_err(|e| db_error(&target, e))?;
        Ok(pulled)
    }

    /// Pulls a profile: its head (checked against `memory`), the whole chain (7.1), and the
    /// bodies of the snapshots `have` says are not held yet (each checked against its hash).
    /// Writes nothing.
    pub async fn pull(
        &self,
        profile_id: &str,
        memory: Option<&Memory>,
        have: &(dyn Fn(&str) -> bool + Sync),
    ) -> Result<Pulled> {
        let pid = parse_id(profile_id)?;
        let tx_client = &self.client;
        let (head, head_id, dk, chain) = read_chain(
            tx_client,
            &self.target,
            &self.team,
            &self.store_id,
            &pid,
            false,
        )
        .await?;
        check_memory(profile_id, &head, &head_id, memory)?;
        let want: Vec<Vec<u8>> = chain
            .iter()
            .filter(|i| !have(&i.id))
            .filter_map(|i| hex::decode(&i.id).ok())
            .collect();
        let mut bodies = Vec::new();
        if !want.is_empty() {
            let rows = self
                .client
                .query(
                    "SELECT snapshot_id, schema_version, body FROM pvault_snapshots WHERE profile_id = $1 AND snapshot_id = ANY($2)",
                    &[&pid.as_slice(), &want],
                )
                .await
                .map_err(|e| self.err(e))?;
            for r in rows {
                let sid: Id = r.get::<_, &[u8]>(0).try_into().map_err(|_| {
                    RemoteError::tampered(profile_id, Tamper::Edited, "snapshot id")
                })?;
                let schema: i32 = r.get(1);
                let info = chain
                    .iter()
                    .find(|i| i.id == hex::encode(sid))
                    .ok_or_else(|| {
                        RemoteError::tampered(
                            profile_id,
                            Tamper::Unexpected,
                            "a body without its info",
                        )
                    })?;
                let pt = crypto::open(
                    &dk,
                    &crypto::aad_record(&self.store_id, &pid, &sid, RECORD_BODY, schema as u16),
                    r.get::<_, &[u8]>(2),
                )
                .ok_or_else(|| {
                    RemoteError::tampered(
                        profile_id,
                        Tamper::Unreadable,
                        format!("the body of seq {} does not open", info.seq),
                    )
                })?;
                if pvault_vault::body::content_hash(&pt) != info.content_hash {
                    return Err(RemoteError::tampered(
                        profile_id,
                        Tamper::ContentMismatch,
                        format!(
                            "the body of seq {} is not the content its info names",
                            info.seq
                        ),
                    ));
                }
                bodies.push((info.clone(), pt.to_vec()));
            }
            if bodies.len() != want.len() {
                return Err(RemoteError::tampered(
                    profile_id,
                    Tamper::Missing,
                    "a snapshot's body vanished between reads",
                ));
            }
            bodies.sort_by_key(|(i, _)| i.seq);
        }
        Ok(Pulled {
            profile_id: profile_id.to_owned(),
            head,
            head_id: hex::encode(head_id),
            chain,
            bodies,
            inserted: vec![],
        })
    }

    /// Pushes `new` (oldest first) onto the profile's history under `lease`, if the remote
    /// head is still `expected` (7.2): one transaction that checks the lease and the head,
    /// re-checks the chain, and writes. `busy` (lease lost), `conflict` (head moved).
    pub async fn push(
        &mut self,
        lease: &Lease,
        expected: &Memory,
        new: &[NewSnapshot],
        writer: &Holder,
        retention: u64,
    ) -> Result<Pulled> {
        let pid = parse_id(&lease.profile_id)?;
        let store_id = self.store_id;
        let target = self.target.clone();
        let team = self.team.clone();
        let shown = lease.profile_id.clone();
        let tx = self
            .client
            .transaction()
            .await
            .map_err(|e| db_error(&target, e))?;
        let row = tx
            .query_opt(
                "SELECT holder_id, fence, expires_at > now() FROM pvault_leases WHERE profile_id = $1 FOR UPDATE",
                &[&pid.as_slice()],
            )
            .await
            .map_err(|e| db_error(&target, e))?;
        let held = row.is_some_and(|r| {
            r.get::<_, Option<&[u8]>>(0) == Some(lease.holder_id.as_slice())
                && r.get::<_, i64>(1) as u64 == lease.fence
                && r.get::<_, bool>(2)
        });
        if !held {
            return Err(RemoteError::LeaseLost {
                profile: shown,
                fence: lease.fence,
            });
        }
        let (head, head_id, dk, chain) =
            read_chain(&tx, &target, &team, &store_id, &pid, true).await?;
        let stored_fence: i64 = tx
            .query_one(
                "SELECT fence FROM pvault_profiles WHERE profile_id = $1",
                &[&pid.as_slice()],
            )
            .await
            .map_err(|e| db_error(&target, e))?
            .get(0);
        if stored_fence as u64 > lease.fence {
            return Err(RemoteError::LeaseLost {
                profile: shown,
                fence: lease.fence,
            });
        }
        if hex::encode(head_id) != expected.head_id {
            check_memory(&shown, &head, &head_id, Some(expected))?;
            return Err(RemoteError::HeadMoved { profile: head.name });
        }
        let name = head.name.clone();
        let pulled = write_chain(
            &tx,
            &store_id,
            &pid,
            &dk,
            &head,
            chain,
            new,
            lease.fence,
            writer,
            retention,
            &name,
        )
        .await?;
        tx.commit().await.map_err(|e| db_error(&target, e))?;
        Ok(pulled)
    }

    /// Deletes a remote profile (its rows, its key: shredded). Needs its lease.
    pub async fn delete_profile(&self, lease: &Lease) -> Result<()> {
        let pid = parse_id(&lease.profile_id)?;
        self.client
            .execute(
                "DELETE FROM pvault_profiles WHERE profile_id = $1",
                &[&pid.as_slice()],
            )
            .await
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    pub(crate) fn seal_holder(
        &self,
        pid: &Id,
        holder_id: &Id,
        fence: u64,
        h: &Holder,
    ) -> Result<Vec<u8>> {
        crypto::seal(
            &self.team,
            &crypto::aad_holder(&self.store_id, pid, holder_id, fence),
            &encode_versioned(crate::HOLDER_VERSION, h),
        )
    }

    pub(crate) fn open_holder(
        &self,
        pid: &Id,
        holder_id: &Id,
        fence: u64,
        sealed: &[u8],
    ) -> Option<Holder> {
        let pt = crypto::open(
            &self.team,
            &crypto::aad_holder(&self.store_id, pid, holder_id, fence),
            sealed,
        )?;
        decode_versioned(crate::HOLDER_VERSION, &pt)
    }
}

fn check_key(k: &Key, store: &Id, key_check: &[u8]) -> Result<()> {
    match crypto::open(k, &crypto::aad_key_check(store), key_check) {
        Some(pt) if pt.as_slice() == crypto::KEY_CHECK_PLAINTEXT => Ok(()),
        _ => Err(RemoteError::WrongKey {
            what: "the team key does not open this remote store (it is another store's key)".into(),
        }),
    }
}

fn check_memory(shown: &str, head: &Head, head_id: &Id, memory: Option<&Memory>) -> Result<()> {
    let Some(m) = memory else { return Ok(()) };
    if hex::encode(head_id) == m.head_id {
        if head.next_seq != m.next_seq || head.latest != m.latest {
            return Err(RemoteError::tampered(
                shown,
                Tamper::Edited,
                "the head differs from the one remembered under the same head id",
            ));
        }
        return Ok(());
    }
    if head.next_seq < m.next_seq || (head.next_seq == m.next_seq && head.latest != m.latest) {
        return Err(RemoteError::tampered(
            shown,
            Tamper::RolledBack,
            format!(
                "the remote serves a head with next seq {}, this vault has seen {}: an older copy",
                head.next_seq, m.next_seq
            ),
        ));
    }
    Ok(())
}

/// Reads and checks a profile's head and chain (in a transaction when `lock`).
async fn read_chain(
    c: &impl tokio_postgres::GenericClient,
    target: &Target,
    team: &Key,
    store: &Id,
    pid: &Id,
    lock: bool,
) -> Result<(Head, Id, Key, Vec<ChainedInfo>)> {
    let shown = hex::encode(pid);
    let q = if lock {
        "SELECT wrapped_dk, head_id, head, fence, updated_at FROM pvault_profiles WHERE profile_id = $1 FOR UPDATE"
    } else {
        "SELECT wrapped_dk, head_id, head, fence, updated_at FROM pvault_profiles WHERE profile_id = $1"
    };
    let row = c
        .query_opt(q, &[&pid.as_slice()])
        .await
        .map_err(|e| db_error(target, e))?
        .ok_or_else(|| RemoteError::ProfileNotFound {
            name: shown.clone(),
        })?;
    let dk = crypto::open_key(
        team,
        &crypto::aad_dk(store, pid, KEY_VERSION as u32),
        row.get::<_, &[u8]>(0),
    )
    .ok_or_else(|| {
        RemoteError::tampered(
            &shown,
            Tamper::Unreadable,
            "the profile's data key does not open",
        )
    })?;
    let head_id: Id = row
        .get::<_, &[u8]>(1)
        .try_into()
        .map_err(|_| RemoteError::tampered(&shown, Tamper::Edited, "head_id"))?;
    let fence: i64 = row.get(3);
    let pt = crypto::open(
        &dk,
        &crypto::aad_head(store, pid, &head_id, fence as u64),
        row.get::<_, &[u8]>(2),
    )
    .ok_or_else(|| {
        RemoteError::tampered(
            &shown,
            Tamper::Unreadable,
            "the head does not open (edited, or put back under another write)",
        )
    })?;
    let head: Head = decode_versioned(crate::HEAD_VERSION, &pt).ok_or_else(|| {
        RemoteError::tampered(&shown, Tamper::Unreadable, "the head does not decode")
    })?;
    if head.updated_at != row.get::<_, i64>(4) {
        return Err(RemoteError::tampered(
            &shown,
            Tamper::Edited,
            "updated_at differs from the sealed head",
        ));
    }
    let rows = c
        .query(
            "SELECT snapshot_id, schema_version, created_at, size_bytes, info FROM pvault_snapshots WHERE profile_id = $1",
            &[&pid.as_slice()],
        )
        .await
        .map_err(|e| db_error(target, e))?;
    let mut infos = Vec::with_capacity(rows.len());
    for r in rows {
        let sid: Id = r.get::<_, &[u8]>(0).try_into().map_err(|_| {
            RemoteError::tampered(&shown, Tamper::Edited, "a snapshot id is not 16 bytes")
        })?;
        let schema: i32 = r.get(1);
        if !(1..=2).contains(&schema) {
            return Err(RemoteError::tampered(
                &shown,
                Tamper::Edited,
                format!("snapshot schema {schema}"),
            ));
        }
        let pt = crypto::open(
            &dk,
            &crypto::aad_record(store, pid, &sid, RECORD_INFO, schema as u16),
            r.get::<_, &[u8]>(4),
        )
        .ok_or_else(|| {
            RemoteError::tampered(
                &shown,
                Tamper::Unreadable,
                format!("the info of snapshot {} does not open", hex::encode(sid)),
            )
        })?;
        let info: ChainedInfo = decode_versioned(crate::INFO_VERSION, &pt).ok_or_else(|| {
            RemoteError::tampered(
                &shown,
                Tamper::Unreadable,
                "a snapshot info does not decode",
            )
        })?;
        if info.id != hex::encode(sid)
            || info.created_at != r.get::<_, i64>(2)
            || info.size_bytes as i64 != r.get::<_, i64>(3)
        {
            return Err(RemoteError::tampered(
                &shown,
                Tamper::Edited,
                format!(
                    "a column of snapshot seq {} differs from its sealed info",
                    info.seq
                ),
            ));
        }
        infos.push(info);
    }
    let chain = chain::verify(&shown, &head, infos)?;
    Ok((head, head_id, dk, chain))
}

/// Writes the plan of appending `new` to `chain` (7.2) and a new head; returns the result.
#[allow(clippy::too_many_arguments)]
async fn write_chain(
    tx: &tokio_postgres::Transaction<'_>,
    store: &Id,
    pid: &Id,
    dk: &Key,
    head: &Head,
    chain: Vec<ChainedInfo>,
    new: &[NewSnapshot],
    fence: u64,
    writer: &Holder,
    retention: u64,
    name: &str,
) -> Result<Pulled> {
    let db = |e: tokio_postgres::Error| RemoteError::Database {
        detail: e.to_string(),
    };
    let mut ids = Vec::with_capacity(new.len());
    let mut infos = Vec::with_capacity(new.len());
    for s in new {
        let id = crypto::random_id()?;
        infos.push(Remote::new_info(&id, s));
        ids.push(id);
    }
    let plan = chain::plan(head, chain, infos, retention);
    let del: Vec<Vec<u8>> = plan
        .deleted
        .iter()
        .filter_map(|h| hex::decode(h).ok())
        .collect();
    if !del.is_empty() {
        tx.execute(
            "DELETE FROM pvault_snapshots WHERE profile_id = $1 AND snapshot_id = ANY($2)",
            &[&pid.as_slice(), &del],
        )
        .await
        .map_err(db)?;
    }
    let seal_info = |sid: &Id, info: &ChainedInfo| {
        crypto::seal(
            dk,
            &crypto::aad_record(
                store,
                pid,
                sid,
                RECORD_INFO,
                pvault_vault::body::SCHEMA_VERSION,
            ),
            &encode_versioned(crate::INFO_VERSION, info),
        )
    };
    let schema = pvault_vault::body::SCHEMA_VERSION as i32;
    let mut inserted = vec![None; new.len()];
    for p in &plan.rows {
        let sid: Id = hex::decode(&p.info.id)
            .ok()
            .and_then(|v| v.try_into().ok())
            .expect("ids we hold are 16 bytes");
        match p.new {
            Some(i) => {
                let body = crypto::seal(
                    dk,
                    &crypto::aad_record(store, pid, &sid, RECORD_BODY, schema as u16),
                    &new[i].body,
                )?;
                tx.execute(
                    "INSERT INTO pvault_snapshots (profile_id, snapshot_id, schema_version, created_at, size_bytes, info, body) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    &[&pid.as_slice(), &sid.as_slice(), &schema, &p.info.created_at, &(p.info.size_bytes as i64), &seal_info(&sid, &p.info)?, &body],
                )
                .await
                .map_err(db)?;
                inserted[i] = Some(p.info.id.clone());
            }
            None if p.relinked => {
                tx.execute(
                    "UPDATE pvault_snapshots SET info = $3 WHERE profile_id = $1 AND snapshot_id = $2",
                    &[&pid.as_slice(), &sid.as_slice(), &seal_info(&sid, &p.info)?],
                )
                .await
                .map_err(db)?;
            }
            None => {}
        }
    }
    let now = crate::now_ms().max(head.updated_at);
    let new_head = Head {
        name: name.to_owned(),
        next_seq: plan.next_seq,
        latest: plan.latest.clone(),
        snapshot_count: plan.rows.len() as u64,
        anchor: plan.anchor.clone(),
        updated_at: now,
        writer: writer.clone(),
    };
    let head_id = crypto::random_id()?;
    let sealed = crypto::seal(
        dk,
        &crypto::aad_head(store, pid, &head_id, fence),
        &encode_versioned(crate::HEAD_VERSION, &new_head),
    )?;
    tx.execute(
        "UPDATE pvault_profiles SET head_id = $2, head = $3, fence = $4, updated_at = $5 WHERE profile_id = $1",
        &[&pid.as_slice(), &head_id.as_slice(), &sealed, &(fence as i64), &now],
    )
    .await
    .map_err(db)?;
    Ok(Pulled {
        profile_id: hex::encode(pid),
        head: new_head,
        head_id: hex::encode(head_id),
        chain: plan.rows.into_iter().map(|p| p.info).collect(),
        bodies: vec![],
        inserted,
    })
}

/// The plaintext columns of a `pvault_profiles` row that its sealed head must agree with.
struct HeadRow<'a> {
    /// `head_id`: the random id of the write that sealed the head (part of its AAD).
    head_id: &'a [u8],
    /// `fence`: the lease fencing number of that write (part of its AAD).
    fence: i64,
    /// `head`: the sealed head itself.
    sealed: &'a [u8],
    /// `updated_at`: shown without opening, so it must equal the sealed copy.
    updated_at: i64,
}
