//! The sealed local state of a vault's remotes (`remote-format.md` 8): the file format only;
//! the daemon owns its contents (remotes, team keys, links).

use zeroize::Zeroizing;

use crate::crypto::{self, Id, Key};
use crate::error::Result;

/// The label of the local-state key, derived from the vault's master key, and of its AAD.
pub const LOCAL_STATE_LABEL: &str = "pvault/remote/v1/local-state";
/// The file's first bytes.
pub const LOCAL_STATE_MAGIC: &[u8] = b"pvault-remotes\n";
/// The file's name in the vault directory.
pub const LOCAL_STATE_FILE: &str = "remotes.seal";

fn aad(vault_id: &Id) -> Vec<u8> {
    let mut a = LOCAL_STATE_LABEL.as_bytes().to_vec();
    a.push(0);
    a.extend_from_slice(vault_id);
    a
}

/// `magic ‖ vault_id ‖ seal(LK, AAD, plaintext)`.
pub fn seal_local_state(lk: &Key, vault_id: &Id, plaintext: &[u8]) -> Result<Vec<u8>> {
    let mut out = LOCAL_STATE_MAGIC.to_vec();
    out.extend_from_slice(vault_id);
    out.extend_from_slice(&crypto::seal(lk, &aad(vault_id), plaintext)?);
    Ok(out)
}

/// The plaintext of a local-state file, or `None` when it is not one, belongs to another
/// vault, or does not open under `lk`.
pub fn open_local_state(lk: &Key, vault_id: &Id, file: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    let rest = file.strip_prefix(LOCAL_STATE_MAGIC)?;
    let (id, sealed) = rest.split_at_checked(16)?;
    if id != vault_id {
        return None;
    }
    crypto::open(lk, &aad(vault_id), sealed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_only_for_its_vault_and_key() {
        let lk = Key::from_slice(&[7; 32]).unwrap();
        let other = Key::from_slice(&[8; 32]).unwrap();
        let f = seal_local_state(&lk, &[1; 16], b"{}").unwrap();
        assert!(f.starts_with(LOCAL_STATE_MAGIC));
        assert_eq!(&*open_local_state(&lk, &[1; 16], &f).unwrap(), b"{}");
        assert!(open_local_state(&other, &[1; 16], &f).is_none());
        assert!(open_local_state(&lk, &[2; 16], &f).is_none());
        let mut edited = f.clone();
        *edited.last_mut().unwrap() ^= 1;
        assert!(open_local_state(&lk, &[1; 16], &edited).is_none());
    }
}
