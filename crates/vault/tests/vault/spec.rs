//! An independent reader written from `vault-format.md` alone (no vault-crate internals):
//! it reads the golden fixture with plain SQL, derives the KEK with the `argon2` crate, builds
//! every AAD byte by byte as the document specifies, opens every blob with
//! `chacha20poly1305`, decodes the plaintexts, and must arrive at `expected.json`. Also checks
//! the file-level rules (application id, WAL, pragmas at rest).

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::common::*;

/// Columns of a profile row as the reader selects them.
type ProfileCols = (
    Vec<u8>,
    Vec<u8>,
    u32,
    Vec<u8>,
    Vec<u8>,
    i64,
    i64,
    Option<i64>,
);
/// Columns of a snapshot row as the reader selects them.
type SnapshotCols = (Vec<u8>, u64, i64, u16, Vec<u8>, Vec<u8>);
use crate::golden::{GOLDEN_PASS, fixture_dir};

fn open(key: &[u8], aad: &[u8], blob: &[u8]) -> Vec<u8> {
    let c = XChaCha20Poly1305::new(key.into());
    c.decrypt(
        XNonce::from_slice(&blob[..24]),
        Payload {
            msg: &blob[24..],
            aad,
        },
    )
    .expect("blob must open")
}

fn record_aad(vault_id: &[u8], pid: &[u8], sid: &[u8], kind: u8, schema: u16) -> Vec<u8> {
    let mut a = b"pvault/v1/record\0".to_vec();
    a.extend_from_slice(vault_id);
    a.extend_from_slice(pid);
    a.extend_from_slice(sid);
    a.push(kind);
    a.extend_from_slice(&schema.to_be_bytes());
    a
}

fn json_of(plain: &[u8]) -> Value {
    assert_eq!(plain[0], 1, "plaintext version byte");
    serde_json::from_slice(&plain[1..]).unwrap()
}

#[test]
fn independent_reader_decrypts_golden_fixture() {
    let (_t, dir) = copy_vault(&fixture_dir());
    let db = raw(&dir);
    let app_id: i64 = db
        .query_row("PRAGMA application_id", [], |r| r.get(0))
        .unwrap();
    assert_eq!(app_id, 0x7076_6c74);
    let (version, vault_id): (i64, Vec<u8>) = db
        .query_row("SELECT format_version, vault_id FROM vault", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!(version, 1);

    // Passphrase slot → KEK → master key.
    let (slot_id, kdf_id, m, t, p, salt, wrapped): (Vec<u8>, u8, u32, u32, u32, Vec<u8>, Vec<u8>) = db
        .query_row("SELECT slot_id, kdf_id, m_kib, t, p, salt, wrapped_mk FROM keyslots WHERE slot_kind = 1", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?))
        })
        .unwrap();
    assert_eq!((kdf_id, salt.len(), wrapped.len()), (1, 16, 24 + 32 + 16));
    let mut kek = [0u8; 32];
    argon2::Argon2::new(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        argon2::Params::new(m, t, p, Some(32)).unwrap(),
    )
    .hash_password_into(GOLDEN_PASS.as_bytes(), &salt, &mut kek)
    .unwrap();
    let mut aad = b"pvault/v1/mk-wrap\0".to_vec();
    aad.extend_from_slice(&vault_id);
    aad.extend_from_slice(&slot_id);
    aad.extend_from_slice(&[1, 1]);
    for x in [m, t, p] {
        aad.extend_from_slice(&x.to_be_bytes());
    }
    aad.push(16);
    aad.extend_from_slice(&salt);
    let mk = open(&kek, &aad, &wrapped);

    // Key-file slot opens the same master key.
    let (kslot, ksalt, kwrapped): (Vec<u8>, Vec<u8>, Vec<u8>) = db
        .query_row(
            "SELECT slot_id, salt, wrapped_mk FROM keyslots WHERE slot_kind = 2 AND kdf_id = 2",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    let keyfile: Vec<u8> = (0u8..64).collect();
    let hm = |k: &[u8], parts: &[&[u8]]| {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(k).unwrap();
        for x in parts {
            mac.update(x);
        }
        mac.finalize().into_bytes().to_vec()
    };
    let prk = hm(&ksalt, &[&keyfile]);
    let kkek = hm(&prk, &[b"pvault/v1/keyfile-kek", &[1]]);
    let mut kaad = b"pvault/v1/mk-wrap\0".to_vec();
    kaad.extend_from_slice(&vault_id);
    kaad.extend_from_slice(&kslot);
    kaad.extend_from_slice(&[2, 2]);
    kaad.extend_from_slice(&[0; 12]);
    kaad.push(32);
    kaad.extend_from_slice(&ksalt);
    assert_eq!(open(&kkek, &kaad, &kwrapped), mk);

    let name_key = hm(&mk, &[b"pvault/v1/name-index"]);
    let expected: Value =
        serde_json::from_slice(&std::fs::read(fixture_dir().join("expected.json")).unwrap())
            .unwrap();
    let mut profiles = Vec::new();
    let mut stmt = db
        .prepare("SELECT profile_id, name_hash, key_version, wrapped_dk, meta, created_at, updated_at, last_used_at FROM profiles")
        .unwrap();
    let rows: Vec<ProfileCols> = stmt
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
                r.get(7)?,
            ))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect();
    for (pid, name_hash, kv, wdk, meta, created, updated, used) in rows {
        let mut dk_aad = b"pvault/v1/dk-wrap\0".to_vec();
        dk_aad.extend_from_slice(&vault_id);
        dk_aad.extend_from_slice(&pid);
        dk_aad.extend_from_slice(&kv.to_be_bytes());
        let dk = open(&mk, &dk_aad, &wdk);
        let meta = json_of(&open(
            &dk,
            &record_aad(&vault_id, &pid, &[0; 16], 1, 1),
            &meta,
        ));
        let name = meta["name"].as_str().unwrap();
        assert_eq!(hm(&name_key, &[name.as_bytes()]), name_hash);
        let mut snaps = Vec::new();
        let mut s = db
            .prepare("SELECT snapshot_id, seq, kind, schema_version, info, body FROM snapshots WHERE profile_id = ?1 ORDER BY seq DESC")
            .unwrap();
        let srows: Vec<SnapshotCols> = s
            .query_map([&pid], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            })
            .unwrap()
            .map(Result::unwrap)
            .collect();
        for (sid, seq, kind, schema, info, body) in srows {
            let info = json_of(&open(
                &dk,
                &record_aad(&vault_id, &pid, &sid, 3, schema),
                &info,
            ));
            let body = open(&dk, &record_aad(&vault_id, &pid, &sid, 2, schema), &body);
            assert_eq!(info["seq"], json!(seq));
            let kinds = ["import", "session_save", "capture", "checkpoint", "restore"];
            assert_eq!(info["kind"], json!(kinds[kind as usize - 1]));
            assert_eq!(
                info["content_hash"],
                json!(hex::encode(Sha256::digest(&body)))
            );
            assert_eq!(info["size_bytes"], json!(body.len()));
            snaps.push(json!({ "info": info, "state": json_of(&body) }));
        }
        let mut profile = json!({
            "id": hex::encode(&pid), "name": name, "settings": meta["settings"],
            "created_at": created, "updated_at": updated,
            "snapshot_count": snaps.len(), "cookie_domains": meta["cookie_domains"], "origins": meta["origins"],
        });
        for (k, v) in [
            ("description", &meta["description"]),
            ("latest", &meta["latest"]),
        ] {
            if !v.is_null() {
                profile[k] = v.clone();
            }
        }
        if let Some(u) = used {
            profile["last_used_at"] = json!(u);
        }
        profiles.push((
            name.to_owned(),
            json!({ "profile": profile, "snapshots": snaps }),
        ));
    }
    profiles.sort_by(|a, b| a.0.cmp(&b.0));
    let got = json!({ "vault_id": hex::encode(&vault_id), "profiles": profiles.into_iter().map(|p| p.1).collect::<Vec<_>>() });
    assert_eq!(got, expected);
}

#[test]
fn live_vault_uses_wal_and_the_documented_schema() {
    let (t, v) = new_vault();
    v.create_profile("p", None, &Default::default()).unwrap();
    let db = raw(&vault_dir(&t));
    let mode: String = db
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let app_id: i64 = db
        .query_row("PRAGMA application_id", [], |r| r.get(0))
        .unwrap();
    assert_eq!(app_id, 0x7076_6c74);
    let tables: Vec<String> = db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(tables, ["keyslots", "profiles", "snapshots", "vault"]);
}
