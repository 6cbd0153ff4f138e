//! The completions and man pages committed in packaging/ match the CLI: `packaging/generate.sh`
//! run with this build's `pvault` into a temporary directory writes byte-identical files, and
//! the same set of them (a removed command leaves no stale page behind).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::pvault_bin;

/// The repository's packaging/ directory.
fn packaging() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../packaging")
}

/// File names in `dir`.
fn names(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn committed_completions_and_man_pages_match_the_cli() {
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new("bash")
        .arg(packaging().join("generate.sh"))
        .arg(tmp.path())
        .env("PVAULT", pvault_bin())
        .output()
        .expect("run bash packaging/generate.sh");
    assert!(
        out.status.success(),
        "packaging/generate.sh failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );

    let fix = "the CLI changed: run packaging/generate.sh (after `cargo build -p pvault-cli`) \
               and commit packaging/completions and packaging/man";
    let mut stale = Vec::new();
    for sub in ["completions", "man"] {
        let (fresh, committed) = (tmp.path().join(sub), packaging().join(sub));
        let (want, have) = (names(&fresh), names(&committed));
        assert!(!want.is_empty(), "generate.sh wrote nothing into {sub}/");
        assert_eq!(
            have, want,
            "packaging/{sub} holds other files than generated: {fix}"
        );
        for name in &want {
            let generated = std::fs::read(fresh.join(name)).unwrap();
            let on_disk = std::fs::read(committed.join(name)).unwrap();
            if generated != on_disk {
                stale.push(format!("packaging/{sub}/{name}"));
            }
        }
    }
    assert!(stale.is_empty(), "out of date: {stale:?}: {fix}");
}
