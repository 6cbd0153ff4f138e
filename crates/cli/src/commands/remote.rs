//! `pvault remote …`, `profile link` and `profile pull`: remote stores on PostgreSQL that see
//! only ciphertext. The role's password comes from `PGPASSWORD`, the libpq password file, or
//! a prompt; it is sent to the daemon (which keeps it only sealed) and never printed.

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use pvault_protocol::{
    Credential, ProfileLink, ProfilePull, RemoteAdd, RemoteExportKey, RemoteList, RemoteRemove,
    RemoteStatus, RemoteSummary, Secret, TeamKeyFile,
};

use super::Ctx;
use crate::cli::CredentialArgs;
use crate::credentials;
use crate::exit::{CliError, CliResult};
use crate::output::{Table, plural};

/// `remote …`.
#[derive(Debug, Subcommand)]
pub enum RemoteCmd {
    /// Add a remote store (a postgres:// URL without a password). An empty database becomes
    /// a new store with a new team key; an existing store needs --key-file.
    Add(AddArgs),
    /// List remotes.
    #[command(alias = "ls")]
    List,
    /// Forget a remote and its links (local profiles and the store stay).
    #[command(alias = "rm")]
    Remove {
        /// Remote name.
        name: String,
        /// Also when local saves wait to be pushed (they stay in the local history).
        #[arg(long)]
        force: bool,
    },
    /// Reachability, schema version, leases held and saves waiting to be pushed.
    Status {
        /// Remote name.
        name: String,
    },
    /// Write the team key, sealed with a passphrase or key file, to FILE (0600), for
    /// `remote add … --key-file FILE` on another machine.
    ExportKey {
        /// Remote name.
        name: String,
        /// Destination file.
        #[arg(long, short = 'o', value_name = "FILE")]
        output: PathBuf,
        /// What seals the export (prompted for a passphrase when neither is given).
        #[command(flatten)]
        protector: CredentialArgs,
    },
}

/// `remote add`.
#[derive(Debug, Args)]
pub struct AddArgs {
    /// Local name of the remote ([A-Za-z0-9._-], at most 64).
    pub name: String,
    /// postgres://ROLE@HOST[:PORT]/DB[?sslmode=verify-full] (no password in it).
    pub url: String,
    /// Join an existing store with its exported team key.
    #[arg(long, value_name = "FILE")]
    pub key_file: Option<PathBuf>,
    /// What opens the key file (prompted for a passphrase when neither is given).
    #[command(flatten)]
    pub protector: CredentialArgs,
    /// Lease time of --save sessions, seconds (5 to 3600) [default: 60].
    #[arg(long, value_name = "SECS")]
    pub lease_ttl: Option<u64>,
}

/// Dispatches `remote …`.
pub async fn run(ctx: &Ctx, cmd: RemoteCmd) -> CliResult {
    match cmd {
        RemoteCmd::Add(a) => add(ctx, a).await,
        RemoteCmd::List => list(ctx).await,
        RemoteCmd::Remove { name, force } => {
            let res = ctx
                .call1(&RemoteRemove {
                    name: name.clone(),
                    force,
                })
                .await?;
            if ctx.out.json {
                return ctx.out.json(&res);
            }
            ctx.out.line(format!("removed remote {name}"))
        }
        RemoteCmd::Status { name } => status(ctx, name).await,
        RemoteCmd::ExportKey {
            name,
            output,
            protector,
        } => export_key(ctx, name, &output, &protector).await,
    }
}

/// The role's password: `PGPASSWORD`, then the password file libpq would use, then a prompt
/// (only on a terminal; without one, none is sent and the server decides).
fn password(url: &str) -> CliResult<Option<Secret>> {
    if let Some(p) = std::env::var_os("PGPASSWORD").filter(|p| !p.is_empty()) {
        let p = p
            .into_string()
            .map_err(|_| CliError::usage("PGPASSWORD is not UTF-8"))?;
        return Ok(Some(Secret::new(p)));
    }
    // A URL pvault refuses is the daemon's to name (`invalid_argument`): send no password.
    let Ok(target) = pvault_remote::Target::parse(url) else {
        return Ok(None);
    };
    if let Some(p) = target.passfile_password() {
        return Ok(Some(Secret::new(p.as_str())));
    }
    if !std::io::stdin().is_terminal() {
        return Ok(None);
    }
    let p = zeroize::Zeroizing::new(
        rpassword::prompt_password(format!(
            "Password for role {} on {}: ",
            target.role(),
            target.host_port()
        ))
        .map_err(|e| CliError::other(format!("cannot read the password: {e}")))?,
    );
    Ok((!p.is_empty()).then(|| Secret::new(p.as_str())))
}

/// The secret of `--passphrase-file`/`--keyfile`, or a prompt.
fn protector(a: &CredentialArgs, what: &str, confirm: bool) -> CliResult<Credential> {
    match credentials::from_files(a.passphrase_file.as_deref(), a.keyfile.as_deref())? {
        Some(c) => Ok(c),
        None => Ok(Credential::Passphrase(credentials::prompt(
            what,
            confirm,
            "--passphrase-file F or --keyfile F",
        )?)),
    }
}

async fn add(ctx: &Ctx, a: AddArgs) -> CliResult {
    let key_file = match &a.key_file {
        Some(path) => {
            let document = std::fs::read_to_string(path).map_err(|e| {
                CliError::usage(format!("cannot read the key file {}: {e}", path.display()))
            })?;
            Some(TeamKeyFile {
                document,
                protector: protector(&a.protector, "key file passphrase", false)?,
            })
        }
        None => None,
    };
    let password = password(&a.url)?;
    let res = {
        let _spin = ctx.out.spinner("connecting to the remote");
        ctx.call1(&RemoteAdd {
            name: a.name,
            url: a.url,
            password,
            key_file,
            lease_ttl_secs: a.lease_ttl,
        })
        .await?
    };
    if ctx.out.json {
        return ctx.out.json(&res);
    }
    let how = if res.created {
        "created a new store there; export its team key for other machines with `pvault remote export-key`"
    } else {
        "joined its store"
    };
    ctx.out
        .line(format!("added remote {} ({how})", res.remote.name))
}

fn table(remotes: &[RemoteSummary]) -> String {
    let mut t = Table::new(&["NAME", "URL", "LINKED", "PENDING", "LEASE"]);
    for r in remotes {
        t.row(vec![
            r.name.clone(),
            r.url.clone(),
            r.linked.to_string(),
            r.pending.to_string(),
            format!("{} s", r.lease_ttl_secs),
        ]);
    }
    t.render()
}

async fn list(ctx: &Ctx) -> CliResult {
    let res = ctx.call1(&RemoteList {}).await?;
    if ctx.out.json {
        return ctx.out.json(&res);
    }
    if res.remotes.is_empty() {
        return ctx
            .out
            .line("no remotes: `pvault remote add NAME postgres://ROLE@HOST/DB`");
    }
    ctx.out.line(table(&res.remotes))
}

async fn status(ctx: &Ctx, name: String) -> CliResult {
    let res = ctx.call1(&RemoteStatus { name }).await?;
    if ctx.out.json {
        return ctx.out.json(&res);
    }
    let mut lines = vec![table(std::slice::from_ref(&res.remote))];
    match (&res.error, res.reachable) {
        (Some(e), _) => lines.push(format!("unreachable: {}", e.message)),
        (None, _) => lines.push(format!(
            "reachable: schema version {}, {}",
            res.schema_version.unwrap_or_default(),
            plural(res.profiles.unwrap_or_default(), "profile")
        )),
    }
    for l in &res.leases {
        lines.push(format!(
            "lease: {} held by {} (session {}) for {} s more",
            l.profile,
            l.host.as_deref().unwrap_or("?"),
            l.session.as_deref().unwrap_or("-"),
            l.expires_in_ms.div_ceil(1000)
        ));
    }
    for p in &res.pending {
        lines.push(format!(
            "{}: {} snapshot {}",
            p.state, p.profile, p.snapshot
        ));
    }
    ctx.out.line(lines.join("\n"))
}

async fn export_key(ctx: &Ctx, name: String, output: &Path, a: &CredentialArgs) -> CliResult {
    if output.exists() {
        return Err(CliError::usage(format!(
            "{} exists already: choose a new file",
            output.display()
        )));
    }
    let protector = protector(a, "passphrase for the key file", true)?;
    let res = ctx.call1(&RemoteExportKey { name, protector }).await?;
    super::profile::write_private(output, res.document.as_bytes())?;
    if ctx.out.json {
        return ctx.out.json(&serde_json::json!({ "file": output }));
    }
    ctx.out.line(format!(
        "wrote the team key to {} (sealed; give it to the other machine with its passphrase or key file)",
        output.display()
    ))
}

/// `profile link PROFILE --remote NAME`.
pub async fn link(ctx: &Ctx, name: String, remote: String) -> CliResult {
    let res = {
        let _spin = ctx.out.spinner("pushing the history");
        ctx.call1(&ProfileLink { name, remote }).await?
    };
    if ctx.out.json {
        return ctx.out.json(&res);
    }
    ctx.out.line(format!(
        "linked profile {} to remote {} ({} pushed)",
        res.profile.name,
        res.remote,
        plural(res.snapshots, "snapshot")
    ))
}

/// `profile pull NAME --remote R`.
pub async fn pull(ctx: &Ctx, name: String, remote: String) -> CliResult {
    let res = {
        let _spin = ctx.out.spinner("pulling the history");
        ctx.call1(&ProfilePull { name, remote }).await?
    };
    if ctx.out.json {
        return ctx.out.json(&res);
    }
    ctx.out.line(format!(
        "pulled profile {} from remote {} ({})",
        res.profile.name,
        res.remote,
        plural(res.snapshots, "snapshot")
    ))
}
