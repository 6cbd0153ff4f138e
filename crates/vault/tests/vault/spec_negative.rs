//! The independent reader (`spec_reader.rs`, written from vault-format.md alone) faces the
//! negative corpus: every vector of `tests/vectors/negative.json` is applied as
//! `negative.rs` applies it (its steps before the defect need pvault as the writer holding
//! the keys; the defect itself is the vector's SQL or byte patch), then the independent reader
//! reads the copy and must refuse it at the vector's layer: at `open` or `unlock` with an
//! error, at `op` with a finding of its own checks (records, columns, chain) on the profile,
//! record and seq the vector names. The test lists every vector it ran, and fails listing
//! every vector the reader did not refuse as the document requires.

use serde_json::Value;

use crate::golden::GOLDEN_PASS;
use crate::negative::{apply, fixture_of, prepare, profile_ids, vectors};
use crate::spec_reader::{Finding, unlock_and_read};

/// Problems `verify` reports on a history as a whole: the reader's chain check (section 7.1,
/// 7.5) reports them on the profile's `history`, whatever record the vector names.
const CHAIN_PROBLEMS: [&str; 8] = [
    "Missing",
    "Reordered",
    "RolledBack",
    "Unexpected",
    "ContentMismatch",
    "AnchorMismatch",
    "CountMismatch",
    "CurrentMismatch",
];

/// Whether the reader's `f` is the finding `want` (one `finding` object of a vector) asks for.
fn matches(f: &Finding, want: &Value, profile: &str) -> bool {
    if f.profile != profile {
        return false;
    }
    let record = want["record"].as_str().unwrap();
    let problem = want["problem"].as_str().unwrap();
    if CHAIN_PROBLEMS.contains(&problem) && f.record == "history" {
        return true;
    }
    f.record == record && (!record.starts_with("snapshot-") || f.seq == want["seq"].as_u64())
}

/// Runs the independent reader on one vector; `Err` says how it fell short of the document.
fn check(vector: &Value) -> Result<String, String> {
    let (_t, dir) = prepare(vector);
    apply(&dir, vector);
    let layer = vector["layer"].as_str().unwrap();
    let reading = unlock_and_read(&dir, GOLDEN_PASS, None);
    match (layer, reading) {
        ("open" | "unlock", Err(r)) if r.layer == layer => Ok(format!("refused: {}", r.reason)),
        (_, Err(r)) => Err(format!(
            "refused at {} ({}), the vector's layer is {layer}",
            r.layer, r.reason
        )),
        ("op", Ok(r)) => {
            let ids = profile_ids(fixture_of(vector));
            let wanted = match &vector["finding"] {
                Value::Array(all) => all.iter().collect(),
                one => vec![one],
            };
            let missed: Vec<&Value> = wanted
                .into_iter()
                .filter(|w| {
                    let profile = &ids[w["profile"].as_str().unwrap()];
                    !r.findings.iter().any(|f| matches(f, w, profile))
                })
                .collect();
            let found: Vec<String> = r.findings.iter().map(ToString::to_string).collect();
            if missed.is_empty() {
                Ok(format!("found: {}", found.join("; ")))
            } else {
                Err(format!("no finding for {missed:?}; it found {found:?}"))
            }
        }
        (_, Ok(r)) => Err(format!(
            "accepted (format {}, findings {:?})",
            r.version,
            r.findings
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
        )),
    }
}

#[test]
fn independent_reader_refuses_every_negative_vector() {
    let vectors = vectors();
    assert!(vectors.len() >= 20);
    let mut failed = Vec::new();
    for vector in &vectors {
        let name = vector["name"].as_str().unwrap();
        match check(vector) {
            Ok(how) => eprintln!("{name}: {how}"),
            Err(why) => {
                eprintln!("{name}: NOT REFUSED AS REQUIRED: {why}");
                failed.push(format!("{name}: {why}"));
            }
        }
    }
    assert!(
        failed.is_empty(),
        "the independent reader did not refuse {} of {} vectors:\n{}",
        failed.len(),
        vectors.len(),
        failed.join("\n")
    );
}
