//! Known answers (remote-format.md 10): `tests/vectors/remote-v1.json` holds one vector per
//! sealed blob of section 4.1, the name hash and a team-key export. This reader rebuilds every
//! AAD from the document with its own code (not the crate's), seals with the fixed nonce and
//! compares bytes; the crate's `open` opens each.

use pvault_remote::crypto::{self, Key};
use pvault_remote::keyfile::{self, Argon2Params, Protector};
use serde_json::{Value, json};

const PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/remote-v1.json");

fn h(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

fn fixed(n: u8) -> Vec<u8> {
    (0..16)
        .map(|i| n.wrapping_mul(16).wrapping_add(i))
        .collect()
}

/// The AADs as remote-format.md 4.1 writes them.
fn aads() -> Vec<(&'static str, &'static str, Vec<u8>, Vec<u8>)> {
    let (store, profile, snapshot, head, holder) =
        (fixed(1), fixed(2), fixed(3), fixed(4), fixed(5));
    let cat = |parts: &[&[u8]]| parts.concat();
    let head_json = br#"{"name":"vector profile","next_seq":2,"latest":{"seq":1,"content_hash":"aa"},"snapshot_count":1,"anchor":null,"updated_at":1767225600000,"writer":{"host":"host-a","session":"s1","vault":"00000000000000000000000000000000"}}"#;
    vec![
        (
            "key_check",
            "team",
            cat(&[b"pvault/remote/v1/key-check\0", &store]),
            b"pvault-remote-store".to_vec(),
        ),
        (
            "dk_wrap",
            "team",
            cat(&[
                b"pvault/remote/v1/dk-wrap\0",
                &store,
                &profile,
                &1u32.to_be_bytes(),
            ]),
            vec![0x42; 32],
        ),
        (
            "head",
            "data",
            cat(&[
                b"pvault/remote/v1/head\0",
                &store,
                &profile,
                &head,
                &7u64.to_be_bytes(),
            ]),
            cat(&[&[1], head_json]),
        ),
        (
            "body",
            "data",
            cat(&[
                b"pvault/remote/v1/record\0",
                &store,
                &profile,
                &snapshot,
                &[2],
                &2u16.to_be_bytes(),
            ]),
            cat(&[&[1], br#"{"cookies":[],"origins":[]}"#]),
        ),
        (
            "info",
            "data",
            cat(&[
                b"pvault/remote/v1/record\0",
                &store,
                &profile,
                &snapshot,
                &[3],
                &2u16.to_be_bytes(),
            ]),
            cat(&[&[3], br#"{"id":"303132333435363738393a3b3c3d3e3f"}"#]),
        ),
        (
            "holder",
            "team",
            cat(&[
                b"pvault/remote/v1/holder\0",
                &store,
                &profile,
                &holder,
                &7u64.to_be_bytes(),
            ]),
            cat(&[
                &[1],
                br#"{"host":"host-a","session":"s1","vault":"00000000000000000000000000000000"}"#,
            ]),
        ),
    ]
}

fn keys() -> (Key, Key) {
    (
        Key::from_slice(&[0x11; 32]).unwrap(),
        Key::from_slice(&[0x42; 32]).unwrap(),
    )
}

fn build(export_doc: Value) -> Value {
    let (team, data) = keys();
    let vectors: Vec<Value> = aads()
        .into_iter()
        .enumerate()
        .map(|(i, (name, key, aad, pt))| {
            let nonce = [i as u8 + 1; 24];
            let k = if key == "team" { &team } else { &data };
            json!({"name": name, "key": key, "aad": hex::encode(&aad), "nonce": hex::encode(nonce),
                   "plaintext": hex::encode(&pt), "sealed": hex::encode(crypto::seal_with_nonce(k, &nonce, &aad, &pt))})
        })
        .collect();
    let nk = crypto::hmac_sha256(team.expose(), &[b"pvault/remote/v1/name-index"]);
    json!({
        "team_key": hex::encode(team.expose()), "data_key": hex::encode(data.expose()),
        "store_id": hex::encode(fixed(1)), "profile_id": hex::encode(fixed(2)), "snapshot_id": hex::encode(fixed(3)),
        "head_id": hex::encode(fixed(4)), "holder_id": hex::encode(fixed(5)), "fence": 7,
        "vectors": vectors,
        "name_hash": {"name": "vector profile", "hash": hex::encode(crypto::hmac_sha256(&nk, &[b"vector profile"]))},
        "key_export": {"passphrase": "vector passphrase ☃", "file": export_doc},
    })
}

#[test]
fn every_vector_opens_and_reseals() {
    let stored: Value = serde_json::from_str(&std::fs::read_to_string(PATH).unwrap()).unwrap();
    let rebuilt = build(stored["key_export"]["file"].clone());
    assert_eq!(rebuilt, stored, "the vectors are reproduced byte for byte");
    let (team, data) = keys();
    let (store, profile) = (fixed(1).try_into().unwrap(), fixed(2).try_into().unwrap());
    // The crate's AAD builders agree with the document's.
    let ours = [
        crypto::aad_key_check(&store),
        crypto::aad_dk(&store, &profile, 1),
        crypto::aad_head(&store, &profile, &fixed(4).try_into().unwrap(), 7),
        crypto::aad_record(
            &store,
            &profile,
            &fixed(3).try_into().unwrap(),
            crypto::RECORD_BODY,
            2,
        ),
        crypto::aad_record(
            &store,
            &profile,
            &fixed(3).try_into().unwrap(),
            crypto::RECORD_INFO,
            2,
        ),
        crypto::aad_holder(&store, &profile, &fixed(5).try_into().unwrap(), 7),
    ];
    for (v, aad) in stored["vectors"].as_array().unwrap().iter().zip(ours) {
        assert_eq!(h(v["aad"].as_str().unwrap()), aad, "{}", v["name"]);
        let k = if v["key"] == "team" { &team } else { &data };
        let pt = crypto::open(k, &aad, &h(v["sealed"].as_str().unwrap())).unwrap();
        assert_eq!(*pt, h(v["plaintext"].as_str().unwrap()));
    }
    assert_eq!(
        hex::encode(crypto::name_hash(&team, "vector profile")),
        stored["name_hash"]["hash"].as_str().unwrap()
    );
    let doc = serde_json::to_vec(&stored["key_export"]["file"]).unwrap();
    let (s, k) = keyfile::import(&doc, &Protector::Passphrase("vector passphrase ☃")).unwrap();
    assert_eq!((s, k.expose()), (store, team.expose()));
}

#[test]
#[ignore = "regenerates the checked-in vectors; run only for an intended, versioned change"]
fn regenerate() {
    let (team, _) = keys();
    let doc = keyfile::export(
        &team,
        &fixed(1).try_into().unwrap(),
        &Protector::Passphrase("vector passphrase ☃"),
        Argon2Params::MINIMUM,
    )
    .unwrap();
    let v = build(serde_json::from_slice(&doc).unwrap());
    std::fs::write(PATH, serde_json::to_string_pretty(&v).unwrap() + "\n").unwrap();
}
