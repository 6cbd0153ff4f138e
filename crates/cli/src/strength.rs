//! How strong a new passphrase is, estimated with zxcvbn (dictionary words, names, keyboard
//! patterns, dates, repeats; not a character-class rule), and what `init` and `passwd` do
//! about it. The vault's whole point is protecting logins, so a passphrase an attacker with
//! the vault file could guess in about a million tries (zxcvbn score 0 or 1) is refused unless
//! the user insists (`--allow-weak-passphrase`); one guessed in about 10^8 tries (score 2) is
//! accepted with a warning. Key files are random bytes and are not estimated.

use pvault_protocol::Credential;

use crate::exit::{CliError, CliResult};

/// The flag that accepts a very weak passphrase anyway.
pub const ALLOW_FLAG: &str = "--allow-weak-passphrase";

/// zxcvbn's cost grows quickly with length; past this many characters a passphrase is strong
/// for any scoring that matters here, so only its start is estimated.
const MAX_ESTIMATED_CHARS: usize = 100;

/// What to do with a new passphrase.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Score 3 or 4: nothing to say.
    Strong,
    /// Score 2: accept, warn.
    Weak(String),
    /// Score 0 or 1: refuse unless insisted.
    TooWeak(String),
}

/// Estimates `passphrase`. The description never quotes the passphrase.
pub fn judge(passphrase: &str) -> Verdict {
    let head: String = passphrase.chars().take(MAX_ESTIMATED_CHARS).collect();
    let e = zxcvbn::zxcvbn(&head, &["pvault", "vault", "passphrase", "password"]);
    let score = u8::from(e.score());
    let mut why = format!(
        "zxcvbn score {score} of 4, about 10^{:.0} guesses",
        e.guesses_log10()
    );
    if let Some(w) = e.feedback().and_then(|f| f.warning()) {
        why.push_str(&format!(": {w}"));
    }
    match score {
        0 | 1 => Verdict::TooWeak(why),
        2 => Verdict::Weak(why),
        _ => Verdict::Strong,
    }
}

/// Applies the policy to a new credential: refuses a very weak passphrase unless
/// `allow_weak`, warns on stderr about a weak one. Key files pass.
pub fn check_new(cred: &Credential, allow_weak: bool) -> CliResult {
    let Credential::Passphrase(p) = cred else {
        return Ok(());
    };
    match judge(p.expose()) {
        Verdict::Strong => Ok(()),
        Verdict::Weak(why) => {
            eprintln!(
                "pvault: warning: this passphrase is weak ({why}); several unrelated words make a \
                 much stronger one"
            );
            Ok(())
        }
        Verdict::TooWeak(why) if allow_weak => {
            eprintln!("pvault: warning: using a very weak passphrase ({why}) as {ALLOW_FLAG} asks");
            Ok(())
        }
        Verdict::TooWeak(why) => Err(CliError::usage(format!(
            "this passphrase is too weak to protect your logins ({why}): choose a longer one, \
             e.g. four or more unrelated words, or pass {ALLOW_FLAG} if you insist"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::{Verdict, judge};

    #[test]
    fn short_and_common_passphrases_are_too_weak_and_long_ones_pass() {
        for p in ["abc12", "password1", "qwerty", "aaaaaaaa", "pvault2026"] {
            assert!(matches!(judge(p), Verdict::TooWeak(_)), "{p}");
        }
        for p in [
            "correct horse battery staple",
            "tangerine volcano whistle orbit",
        ] {
            assert_eq!(judge(p), Verdict::Strong, "{p}");
        }
    }

    #[test]
    fn the_verdict_never_quotes_the_passphrase() {
        if let Verdict::TooWeak(why) | Verdict::Weak(why) = judge("Summer2024") {
            assert!(!why.contains("Summer2024"), "{why}");
        }
    }
}
