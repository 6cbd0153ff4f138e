//! Reading the secret that opens the vault: a passphrase file, a key file, or a prompt on the
//! terminal. The contents (never the path) are sent to the daemon, which never opens a path a
//! client names.

use std::io::{IsTerminal, Read};
use std::path::Path;

use pvault_protocol::{Credential, Secret, SecretBytes};
use zeroize::Zeroizing;

use crate::exit::{CliError, CliResult};

/// Reads a passphrase file (`-` = stdin): UTF-8, exactly one trailing newline (`\n` or
/// `\r\n`) removed, nothing else trimmed, so a passphrase may begin or end with spaces.
pub fn read_passphrase_file(path: &Path) -> CliResult<Secret> {
    let bytes = read_secret_file(path, "passphrase file")?;
    let mut text = String::from_utf8(bytes.to_vec()).map_err(|_| {
        CliError::usage(format!(
            "the passphrase file {} is not UTF-8 text: use --keyfile for binary secrets",
            path.display()
        ))
    })?;
    if text.ends_with('\n') {
        text.pop();
        if text.ends_with('\r') {
            text.pop();
        }
    }
    if text.is_empty() {
        text.clear();
        return Err(CliError::usage(format!(
            "the passphrase file {} is empty",
            path.display()
        )));
    }
    // `Secret::new` takes ownership; the String's buffer is wiped when the Secret drops.
    Ok(Secret::new(text))
}

/// Reads a key file's raw bytes (`-` = stdin).
pub fn read_keyfile(path: &Path) -> CliResult<SecretBytes> {
    let bytes = read_secret_file(path, "key file")?;
    Ok(SecretBytes::new(bytes.to_vec()))
}

/// Reads a whole file into a buffer that is wiped on drop.
fn read_secret_file(path: &Path, what: &str) -> CliResult<Zeroizing<Vec<u8>>> {
    let mut buf = Zeroizing::new(Vec::new());
    let res = if path.as_os_str() == "-" {
        std::io::stdin().read_to_end(&mut buf)
    } else {
        std::fs::File::open(path).and_then(|mut f| f.read_to_end(&mut buf))
    };
    res.map_err(|e| CliError::usage(format!("cannot read the {what} {}: {e}", path.display())))?;
    Ok(buf)
}

/// The credential from `--passphrase-file` / `--keyfile`, or `None` when neither was given.
pub fn from_files(
    passphrase_file: Option<&Path>,
    keyfile: Option<&Path>,
) -> CliResult<Option<Credential>> {
    match (passphrase_file, keyfile) {
        (Some(p), _) => Ok(Some(Credential::Passphrase(read_passphrase_file(p)?))),
        (None, Some(k)) => Ok(Some(Credential::KeyFile(read_keyfile(k)?))),
        (None, None) => Ok(None),
    }
}

/// Prompts for a passphrase on the terminal; `confirm` asks a second time and requires both
/// to match (for a new passphrase). Refuses when stdin is not a terminal, since a script
/// waiting on a hidden prompt would hang.
pub fn prompt(what: &str, confirm: bool, hint_flags: &str) -> CliResult<Secret> {
    if !std::io::stdin().is_terminal() {
        return Err(CliError::usage(format!(
            "no terminal to ask for the {what}: give {hint_flags}"
        )));
    }
    let first = Zeroizing::new(
        rpassword::prompt_password(format!("{}: ", capitalize(what))).map_err(|e| {
            CliError::other(format!("cannot read the {what} from the terminal: {e}"))
        })?,
    );
    if first.is_empty() {
        return Err(CliError::usage(format!("the {what} must not be empty")));
    }
    if confirm {
        let second = Zeroizing::new(
            rpassword::prompt_password(format!("Repeat the {what}: ")).map_err(|e| {
                CliError::other(format!("cannot read the {what} from the terminal: {e}"))
            })?,
        );
        if *first != *second {
            return Err(CliError::usage(format!(
                "the two {what}s differ: nothing was changed"
            )));
        }
    }
    Ok(Secret::new(first.as_str()))
}

/// `passphrase` → `Passphrase`.
fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(content: &[u8]) -> tempfile::NamedTempFile {
        use std::io::Write;
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(content).unwrap();
        f
    }

    #[test]
    fn passphrase_file_strips_exactly_one_newline() {
        for (content, want) in [
            (&b"secret\n"[..], "secret"),
            (b"secret\r\n", "secret"),
            (b"secret\n\n", "secret\n"),
            (b" spaced secret ", " spaced secret "),
            (b"secret", "secret"),
        ] {
            let f = write(content);
            assert_eq!(read_passphrase_file(f.path()).unwrap().expose(), want);
        }
    }

    #[test]
    fn empty_or_binary_passphrase_files_are_usage_errors() {
        for content in [&b"\n"[..], b"", b"\xff\xfe"] {
            let f = write(content);
            assert_eq!(read_passphrase_file(f.path()).unwrap_err().exit_code(), 2);
        }
    }

    #[test]
    fn keyfile_is_raw_bytes() {
        let f = write(b"\x00\x01\n");
        assert_eq!(read_keyfile(f.path()).unwrap().expose(), b"\x00\x01\n");
    }
}
