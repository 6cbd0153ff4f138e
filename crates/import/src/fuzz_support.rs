//! Entry points for the fuzz target `fuzz/fuzz_targets/browser_import.rs`: the decoders that
//! read what a browser's files hold (a localStorage record, a cookie row's encrypted value and
//! columns). Not a stable API.

use zeroize::Zeroizing;

use crate::{cookies, crypto, local_storage};

/// Runs one localStorage record and one cookie row, both built from `data`, through the
/// decoders. Must never panic: these bytes come from files pvault does not own.
pub fn decode(data: &[u8]) {
    let (head, rest) = data.split_at(data.len().min(2));
    let key_len = head.iter().fold(0usize, |n, &b| n * 256 + b as usize);
    let (key, value) = rest.split_at(key_len.min(rest.len()));
    let _ = local_storage::record(key, value);
    cookie(data);
}

/// A cookie row whose columns and encrypted value come from `data`, decrypted with the fixed
/// `v10` keys and a fixed `v12` key, then turned into the CDP cookie.
fn cookie(data: &[u8]) {
    let mut fixed = [0u8; 10];
    let n = data.len().min(fixed.len());
    fixed[..n].copy_from_slice(&data[..n]);
    let body = &data[n..];
    let split = body.len() / 3;
    let row = cookies::Row {
        host_key: String::from_utf8_lossy(&body[..split]).into_owned(),
        name: "n".into(),
        value: Zeroizing::new(String::new()),
        encrypted: Zeroizing::new(body[split..].to_vec()),
        path: "/".into(),
        expires_utc: i64::from_le_bytes(fixed[..8].try_into().expect("8 bytes")),
        secure: fixed[8] & 1 != 0,
        http_only: fixed[8] & 2 != 0,
        persistent: fixed[8] & 4 != 0,
        priority: i64::from(fixed[9] & 3),
        samesite: i64::from(fixed[9] >> 2 & 7) - 1,
        source_scheme: i64::from(fixed[9] >> 5),
        source_port: i64::from(fixed[8]) - 1,
        top_frame_site_key: String::new(),
        cross_site_ancestor: fixed[8] & 8 != 0,
    };
    let version = 20 + i64::from(fixed[9] & 7);
    let (prefix, sealed) = row.encrypted.split_at(3.min(row.encrypted.len()));
    let plain = match prefix {
        b"v12" => crypto::decrypt_gcm(&crypto::gcm_key(b"fuzz"), sealed),
        _ => crypto::decrypt_cbc(&crypto::v10_key(), sealed),
    };
    let text = plain
        .as_deref()
        .and_then(|p| crypto::strip_host_digest(p, &row.host_key, version).ok())
        .and_then(|v| std::str::from_utf8(v).ok())
        .unwrap_or_default()
        .to_owned();
    let _ = cookies::to_cookie(&row, text);
    let _ = cookies::unix_seconds(row.expires_utc);
}

#[cfg(test)]
mod tests {
    /// An `expires_utc` of i64::MIN on a persistent cookie once overflowed the epoch shift.
    #[test]
    fn extreme_columns_and_short_inputs_do_not_panic() {
        let mut min_expiry = vec![0, 0, 0, 0, 0, 0, 0, 0x80, 4, 0xff];
        min_expiry.extend_from_slice(b"v10example.com0123456789abcdef");
        super::decode(&min_expiry);
        for data in [
            &[][..],
            &[0xff],
            &[0xff, 0xff, b'_'],
            b"\x00\x05_http\x00\x01",
        ] {
            super::decode(data);
        }
    }
}
