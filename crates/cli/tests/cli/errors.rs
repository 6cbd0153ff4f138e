//! Usage errors and the error contract: exit 2 for a bad command line, `pvault: ` on stderr,
//! one JSON error object on stdout with `--json`; plus `completions` and `--help`, which need
//! no daemon.

use crate::support::Env;

#[test]
fn usage_errors_exit_2_with_a_json_object() {
    let env = Env::new();
    for args in [
        &["--json", "frobnicate"][..],
        &["--json", "profile", "show"],
        &["--json", "profile", "rename", "only-one"],
        &["--json", "init", "--passphrase-file", "a", "--keyfile", "b"],
        &["--json", "completions", "tcsh"],
        &["profile", "--json", "export"],
        &["--json", "profile"],
    ] {
        let out = env.run(args);
        out.assert_error(2, Some("usage"));
        assert!(
            !out.stderr.contains("error: "),
            "one `pvault:` prefix: {out:?}"
        );
    }
    // Without --json, stdout stays empty.
    let out = env.run(&["frobnicate"]);
    assert_eq!(out.code, 2);
    assert_eq!(out.stdout, "");
    assert!(!env.socket.exists(), "a usage error starts no daemon");
}

#[test]
fn unreadable_secret_files_are_usage_errors() {
    let env = Env::new();
    let missing = env.dir.path().join("nope");
    let out = env.run(&[
        "--json",
        "unlock",
        "--passphrase-file",
        missing.to_str().unwrap(),
    ]);
    out.assert_error(2, Some("usage"));
    assert!(out.stderr.contains("nope"), "names the file: {out:?}");
    let empty = env.file("empty", b"\n");
    env.run(&[
        "--json",
        "init",
        "--passphrase-file",
        empty.to_str().unwrap(),
    ])
    .assert_error(2, Some("usage"));
}

#[test]
fn help_and_version_exit_0() {
    let env = Env::new();
    let out = env.run(&["--help"]);
    assert_eq!(out.code, 0);
    for word in [
        "init",
        "unlock",
        "profile",
        "daemon",
        "completions",
        "--json",
        "--no-autostart",
    ] {
        assert!(out.stdout.contains(word), "{word}: {out:?}");
    }
    let out = env.run(&["--version"]);
    assert_eq!(out.code, 0);
    assert!(out.stdout.contains(env!("CARGO_PKG_VERSION")), "{out:?}");
}

#[test]
fn completions_for_each_shell() {
    let env = Env::new();
    for (shell, marker) in [
        ("bash", "complete"),
        ("zsh", "#compdef pvault"),
        ("fish", "complete -c pvault"),
    ] {
        let out = env.run(&["completions", shell]);
        assert_eq!(out.code, 0, "{shell}: {out:?}");
        assert!(
            out.stdout.contains(marker),
            "{shell}: {}",
            &out.stdout[..out.stdout.len().min(200)]
        );
        assert!(
            out.stdout.contains("profile") && out.stdout.contains("restore"),
            "{shell}"
        );
    }
    assert!(!env.socket.exists(), "completions need no daemon");
}
