//! Vault-level commands: `init`, `unlock`, `lock`, `status`, `passwd`, `verify`, `backup`.

use std::path::Path;

use pvault_protocol::{
    Credential, ErrorCode, FindingRecord, Status, StatusResponse, VaultBackup, VaultInit,
    VaultLock, VaultPasswd, VaultUnlock, VaultVerify, VaultVerifyResponse, VerifyFinding,
};
use serde_json::json;

use super::Ctx;
use crate::cli::{CredentialArgs, InitArgs, PasswdArgs};
use crate::connect;
use crate::credentials;
use crate::exit::{CliError, CliResult};
use crate::output::{format_size, plural};

/// `pvault init`: creates the vault and leaves it unlocked.
pub async fn init(ctx: &Ctx, args: &InitArgs) -> CliResult {
    let a = &args.credential;
    let client = ctx.client().await?;
    let cred = match credentials::from_files(a.passphrase_file.as_deref(), a.keyfile.as_deref())? {
        Some(c) => c,
        None => {
            // Ask the daemon first, so nobody types a new passphrase twice for nothing.
            let st = ctx.call(&client, &Status {}).await?;
            if st.vault_exists {
                return Err(exists(&st));
            }
            Credential::Passphrase(credentials::prompt(
                "new passphrase",
                true,
                "--passphrase-file F or --keyfile F",
            )?)
        }
    };
    crate::strength::check_new(&cred, args.allow_weak_passphrase)?;
    let res = {
        let _spin = ctx.out.spinner("creating the vault (deriving keys)");
        ctx.call(&client, &VaultInit { credential: cred }).await
    };
    let res = match res {
        Err(e) if e.kind == crate::exit::Kind::Remote(ErrorCode::Conflict) => {
            let st = ctx.call(&client, &Status {}).await?;
            return Err(exists(&st));
        }
        r => r?,
    };
    if ctx.out.json {
        return ctx.out.json(&res);
    }
    ctx.out.line(format!(
        "created the vault {} (unlocked)",
        res.vault_path.display()
    ))
}

/// The `conflict` error of `init` when a vault is already there.
fn exists(st: &StatusResponse) -> CliError {
    CliError::remote(
        ErrorCode::Conflict,
        format!(
            "a vault already exists at {}: use `pvault unlock`, or set PVAULT_HOME to create another",
            st.vault_path.display()
        ),
    )
}

/// `pvault unlock`.
pub async fn unlock(ctx: &Ctx, a: &CredentialArgs) -> CliResult {
    let client = ctx.client().await?;
    let cred = match credentials::from_files(a.passphrase_file.as_deref(), a.keyfile.as_deref())? {
        Some(c) => c,
        None => {
            let st = ctx.call(&client, &Status {}).await?;
            if !st.vault_exists {
                return Err(no_vault(&st));
            }
            Credential::Passphrase(credentials::prompt(
                "passphrase",
                false,
                "--passphrase-file F or --keyfile F",
            )?)
        }
    };
    let res = {
        let _spin = ctx.out.spinner("unlocking (deriving keys)");
        ctx.call(&client, &VaultUnlock { credential: cred }).await
    };
    let res = match res {
        Err(e) if e.kind == crate::exit::Kind::Remote(ErrorCode::NotFound) => {
            let st = ctx.call(&client, &Status {}).await?;
            return Err(no_vault(&st));
        }
        r => r?,
    };
    if ctx.out.json {
        return ctx.out.json(&res);
    }
    ctx.out.line(format!(
        "unlocked (locks itself after {} idle)",
        format_duration(res.auto_lock_secs)
    ))
}

/// The `not_found` error when there is no vault yet.
fn no_vault(st: &StatusResponse) -> CliError {
    CliError::remote(
        ErrorCode::NotFound,
        format!(
            "there is no vault at {}: create one with `pvault init`",
            st.vault_path.display()
        ),
    )
}

/// `pvault lock`.
pub async fn lock(ctx: &Ctx) -> CliResult {
    ctx.call1(&VaultLock {}).await?;
    if ctx.out.json {
        return ctx.out.json(&json!({"locked": true}));
    }
    ctx.out.line("locked")
}

/// `pvault status`.
pub async fn status(ctx: &Ctx) -> CliResult {
    let st = ctx.call1(&Status {}).await?;
    // A socket-activated daemon may not know its path; the CLI knows where it connected.
    let socket = st
        .socket
        .clone()
        .unwrap_or_else(|| ctx.target.socket.clone());
    if ctx.out.json {
        let mut v = serde_json::to_value(&st)
            .map_err(|e| CliError::other(format!("cannot encode the status: {e}")))?;
        v["socket"] = json!(socket);
        v["cli_version"] = json!(env!("CARGO_PKG_VERSION"));
        return ctx.out.json(&v);
    }
    let vault = if !st.vault_exists {
        "none yet (create it with `pvault init`)".to_owned()
    } else if st.locked {
        format!("{} (locked)", st.vault_path.display())
    } else {
        let left = st
            .auto_lock_remaining_secs
            .map(|s| format!("; locks in {}", format_duration(s)))
            .unwrap_or_default();
        format!("{} (unlocked{left})", st.vault_path.display())
    };
    let mut lines = vec![
        format!(
            "pvaultd {} (pid {}, protocol {}.{}, up {})",
            st.version,
            st.pid,
            st.protocol.major,
            st.protocol.minor,
            format_duration(st.uptime_secs)
        ),
        format!("socket:   {}", socket.display()),
        format!("vault:    {vault}"),
    ];
    if let Some(n) = st.profile_count {
        lines.push(format!("profiles: {n}"));
    }
    lines.push(format!("sessions: {}", st.sessions));
    if let Some(err) = &st.config_error {
        lines.push(format!(
            "config:   the last edit of config.toml was rejected, the previous one is in force: {err}"
        ));
    }
    ctx.out.line(lines.join("\n"))
}

/// `pvault passwd`: old and new secrets from files, or prompted for.
pub async fn passwd(ctx: &Ctx, a: &PasswdArgs) -> CliResult {
    let hint = "--passphrase-file OLD and --new-passphrase-file NEW";
    let old = match credentials::from_files(a.passphrase_file.as_deref(), a.keyfile.as_deref())? {
        Some(c) => c,
        None => Credential::Passphrase(credentials::prompt("current passphrase", false, hint)?),
    };
    let new = match credentials::from_files(
        a.new_passphrase_file.as_deref(),
        a.new_keyfile.as_deref(),
    )? {
        Some(c) => c,
        None => Credential::Passphrase(credentials::prompt("new passphrase", true, hint)?),
    };
    crate::strength::check_new(&new, a.allow_weak_passphrase)?;
    let changed = match new {
        Credential::Passphrase(_) => "passphrase",
        Credential::KeyFile(_) => "keyfile",
    };
    {
        let client = ctx.client().await?;
        let _spin = ctx.out.spinner("re-wrapping the keys");
        ctx.call(&client, &VaultPasswd { old, new }).await?;
    }
    if ctx.out.json {
        return ctx.out.json(&json!({"changed": changed}));
    }
    ctx.out.line(match changed {
        "passphrase" => "passphrase changed",
        _ => "key file set",
    })
}

/// `pvault verify`: a failed verification prints its report and exits 1.
pub async fn verify(ctx: &Ctx) -> CliResult {
    let res = {
        let client = ctx.client().await?;
        let _spin = ctx.out.spinner("verifying every record");
        ctx.call(&client, &VaultVerify {}).await?
    };
    if ctx.out.json {
        ctx.out.json(&res)?;
    } else if res.ok {
        ctx.out.line(format!(
            "ok: {} authenticated",
            plural(res.records, "record")
        ))?;
    } else {
        ctx.out.line(report(&res))?;
    }
    if res.ok {
        Ok(())
    } else {
        Err(CliError::other(format!(
            "{} found (a record failed authentication, was edited, deleted, reordered or put \
             back, or the file went back to an older copy): the vault file is damaged or was \
             tampered with; restore a backup",
            plural(res.findings.len().max(res.failures.len()) as u64, "problem")
        ))
        .without_json())
    }
}

/// A failed verification for people: the problems grouped by profile, each naming its
/// record (and snapshot), its kind and what is wrong. A daemon older than protocol 1.5 sends
/// only the lines, which are printed as they are.
fn report(res: &VaultVerifyResponse) -> String {
    let problems = res.findings.len().max(res.failures.len());
    let mut s = format!(
        "{} authenticated, {} FOUND:",
        plural(res.records, "record"),
        plural(problems as u64, "problem")
    );
    if res.findings.is_empty() {
        for f in &res.failures {
            s.push_str("\n  ");
            s.push_str(f);
        }
        return s;
    }
    let mut profiles: Vec<&str> = Vec::new();
    for f in &res.findings {
        if !profiles.contains(&f.profile.as_str()) {
            profiles.push(&f.profile);
        }
    }
    for p in profiles {
        s.push_str(&format!("\nprofile {p}"));
        for f in res.findings.iter().filter(|f| f.profile == p) {
            s.push_str("\n  ");
            s.push_str(&finding_line(f));
        }
    }
    s
}

/// One finding as `record[, seq N][, snapshot ID]: what is wrong [kind]`.
fn finding_line(f: &VerifyFinding) -> String {
    let record = match f.record {
        FindingRecord::WrappedDk => "data key",
        FindingRecord::Meta => "metadata",
        FindingRecord::NameHash => "name index",
        FindingRecord::SnapshotInfo => "snapshot info",
        FindingRecord::SnapshotBody => "snapshot content",
        FindingRecord::History => "history",
        FindingRecord::Other => "record",
    };
    let mut at = record.to_owned();
    if let Some(seq) = f.seq {
        at.push_str(&format!(", seq {seq}"));
    }
    if let Some(id) = &f.snapshot {
        at.push_str(&format!(", snapshot {id}"));
    }
    // The message starts with where it is (`profiles[…].meta: `, vault-format.md §11),
    // which the line has already said.
    let what = f
        .message
        .split_once(": ")
        .filter(|(place, _)| place.starts_with("profiles[") || place.starts_with("snapshots["))
        .map_or(f.message.as_str(), |(_, rest)| rest);
    let kind = serde_json::to_value(f.kind)
        .ok()
        .and_then(|k| k.as_str().map(str::to_owned))
        .unwrap_or_default();
    format!("{at}: {what} [{kind}]")
}

/// `pvault backup FILE`.
pub async fn backup(ctx: &Ctx, file: &Path) -> CliResult {
    let path = connect::absolute(file)?;
    let res = ctx.call1(&VaultBackup { path }).await?;
    if ctx.out.json {
        return ctx.out.json(&res);
    }
    ctx.out.line(format!(
        "wrote {} ({})",
        res.path.display(),
        format_size(res.size_bytes)
    ))
}

/// Seconds for people: `45s`, `12m 5s`, `1h`, `2d 3h`.
pub fn format_duration(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    let parts: Vec<String> = [(d, "d"), (h, "h"), (m, "m"), (s, "s")]
        .into_iter()
        .filter(|(n, _)| *n > 0)
        .take(2)
        .map(|(n, u)| format!("{n}{u}"))
        .collect();
    if parts.is_empty() {
        "0s".to_owned()
    } else {
        parts.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::format_duration;

    #[test]
    fn durations_show_the_two_largest_units() {
        assert_eq!(format_duration(0), "0s");
        assert_eq!(format_duration(45), "45s");
        assert_eq!(format_duration(3600), "1h");
        assert_eq!(format_duration(3725), "1h 2m");
        assert_eq!(format_duration(2 * 86_400 + 3 * 3600 + 7), "2d 3h");
    }
}
