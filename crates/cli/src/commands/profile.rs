//! `pvault profile …`: profiles and their snapshot history. Snapshot selectors (a sequence
//! number, an id, or an id prefix of at least 6 hex digits) are passed to the daemon as typed.

use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use pvault_model::{ProfileInfo, SnapshotInfo, StateDiff};
use pvault_protocol::{
    ExportFormat, MAX_MESSAGE_BYTES, ProfileCreate, ProfileDelete, ProfileDiff, ProfileExport,
    ProfileHealthShow, ProfileHistory, ProfileImport, ProfileList, ProfileRename, ProfileRestore,
    ProfileShow,
};
use serde_json::{Value, json};

use super::Ctx;
use super::diff_view::{render_diff, render_state_diff};
use crate::cli::{ExportFormatArg, ProfileCmd};
use crate::exit::{CliError, CliResult};
use crate::output::{Table, format_size, format_time, plural, short_id, write_stdout};

/// Dispatches `profile …`.
pub async fn run(ctx: &Ctx, cmd: ProfileCmd) -> CliResult {
    match cmd {
        ProfileCmd::Create { name, description } => create(ctx, name, description).await,
        ProfileCmd::List => list(ctx).await,
        ProfileCmd::Show { name } => show(ctx, name).await,
        ProfileCmd::Rename { name, new_name } => rename(ctx, name, new_name).await,
        ProfileCmd::Delete { name } => delete(ctx, name).await,
        ProfileCmd::Import {
            name,
            browser: b,
            file,
        } => match (b.from_browser, file) {
            (Some(from), _) => super::import_browser::run(ctx, name, from, b).await,
            (None, Some(file)) => import(ctx, name, &file).await,
            (None, None) => Err(CliError::usage(
                "give a storageState FILE or --from-browser BROWSER",
            )),
        },
        ProfileCmd::Export {
            name,
            snapshot,
            format,
            output,
        } => export(ctx, name, snapshot, format, output.as_deref()).await,
        ProfileCmd::History { name } => history(ctx, name).await,
        ProfileCmd::Diff { name, from, to } => diff(ctx, name, from, to).await,
        ProfileCmd::Restore { name, snapshot } => restore(ctx, name, snapshot).await,
        ProfileCmd::Link { name, remote } => super::remote::link(ctx, name, remote).await,
        ProfileCmd::Pull { name, remote } => super::remote::pull(ctx, name, remote).await,
        ProfileCmd::Health(cmd) => super::health::run(ctx, cmd).await,
        ProfileCmd::Check { name, timeout } => super::health::check(ctx, name, timeout).await,
        ProfileCmd::Accept { name, snapshot } => super::health::accept(ctx, name, snapshot).await,
    }
}

/// `profile create NAME [--description D]`.
async fn create(ctx: &Ctx, name: String, description: Option<String>) -> CliResult {
    let res = ctx
        .call1(&ProfileCreate {
            name,
            description,
            settings: None,
        })
        .await?;
    if ctx.out.json {
        return ctx.out.json(&res);
    }
    ctx.out
        .line(format!("created profile {}", res.profile.name))
}

/// `profile list`: every page, as one list.
async fn list(ctx: &Ctx) -> CliResult {
    let client = ctx.client().await?;
    let mut profiles: Vec<ProfileInfo> = Vec::new();
    let total = loop {
        let page = ctx
            .call(
                &client,
                &ProfileList {
                    offset: profiles.len() as u64,
                    limit: None,
                },
            )
            .await?;
        let got = page.profiles.len();
        profiles.extend(page.profiles);
        if got == 0 || profiles.len() as u64 >= page.total {
            break page.total;
        }
    };
    // The offline expiry warning, for the profiles that define what to look for.
    let mut expiring = std::collections::HashMap::new();
    for p in profiles.iter().filter(|p| p.health.is_some()) {
        let res = ctx
            .call(&client, &ProfileHealthShow { name: p.id.clone() })
            .await?;
        if !res.expiring.is_empty() {
            expiring.insert(p.id.clone(), res.expiring);
        }
    }
    if ctx.out.json {
        let mut list = serde_json::to_value(&profiles).unwrap_or_default();
        if let Some(items) = list.as_array_mut() {
            for item in items {
                if let Some(e) = item["id"].as_str().and_then(|id| expiring.get(id)) {
                    item["expiring"] = serde_json::to_value(e).unwrap_or_default();
                }
            }
        }
        return ctx.out.json(&json!({"profiles": list, "total": total}));
    }
    if profiles.is_empty() {
        return ctx.out.line(
            "no profiles yet: `pvault profile create NAME` or `pvault profile import NAME FILE`",
        );
    }
    let mut t = Table::new(&[
        "NAME",
        "SNAPSHOTS",
        "COOKIES",
        "ORIGINS",
        "UPDATED",
        "HEALTH",
        "DESCRIPTION",
    ]);
    for p in &profiles {
        let (cookies, origins) = match &p.latest {
            Some(s) => (s.cookie_count.to_string(), s.origin_count.to_string()),
            None => ("-".into(), "-".into()),
        };
        t.row(vec![
            p.name.clone(),
            p.snapshot_count.to_string(),
            cookies,
            origins,
            format_time(p.updated_at),
            match expiring.get(&p.id).and_then(|e| e.first()) {
                Some(e) => format!(
                    "{} ({} expires soon)",
                    super::health::profile_health(p),
                    e.expectation
                ),
                None => super::health::profile_health(p),
            },
            p.description.clone().unwrap_or_default(),
        ]);
    }
    write_stdout(t.render().as_bytes())
}

/// `profile show NAME`.
async fn show(ctx: &Ctx, name: String) -> CliResult {
    let res = ctx.call1(&ProfileShow { name: name.clone() }).await?;
    // The offline expiry warning needs the current snapshot: asked only when a definition
    // names what to look for.
    let expiring = match &res.profile.health {
        Some(_) => ctx.call1(&ProfileHealthShow { name }).await?.expiring,
        None => Vec::new(),
    };
    if ctx.out.json {
        let mut v = serde_json::to_value(&res).unwrap_or_default();
        if res.profile.health.is_some() {
            v["expiring"] = serde_json::to_value(&expiring).unwrap_or_default();
        }
        return ctx.out.json(&v);
    }
    let mut text = describe(&res.profile);
    for l in super::health::expiry_lines(&expiring) {
        text.push('\n');
        text.push_str(&l);
    }
    ctx.out.line(text)
}

/// A profile as `key: value` lines for people.
fn describe(p: &ProfileInfo) -> String {
    let mut l = vec![
        format!("name:        {}", p.name),
        format!("id:          {}", p.id),
    ];
    if let Some(d) = &p.description {
        l.push(format!("description: {d}"));
    }
    l.push(format!("created:     {}", format_time(p.created_at)));
    l.push(format!("updated:     {}", format_time(p.updated_at)));
    if let Some(t) = p.last_used_at {
        l.push(format!("last used:   {}", format_time(t)));
    }
    if p.health.is_some() {
        l.push(format!(
            "health:      {}",
            super::health::status_line(p.health_result.as_ref())
        ));
        if let Some(r) = &p.health_result {
            l.extend(super::health::evidence(r));
        }
    }
    if let (Some(c), Some(latest)) = (p.current, &p.latest) {
        l.push(format!(
            "current:     #{c} (the newest, #{}, is marked logged_out: `pvault profile accept {} {}` makes it current)",
            latest.seq, p.name, latest.seq
        ));
    }
    match &p.latest {
        Some(s) => {
            l.push(format!(
                "snapshots:   {} (newest #{}, {}, {})",
                p.snapshot_count,
                s.seq,
                format_time(s.created_at),
                s.kind.as_str()
            ));
            l.push(format!(
                "cookies:     {} in {}{}",
                plural(s.cookie_count, "cookie"),
                plural(p.cookie_domains.len() as u64, "domain"),
                list_suffix(&p.cookie_domains)
            ));
            l.push(format!(
                "storage:     {} in {}{}",
                plural(s.local_storage_key_count, "key"),
                plural(s.origin_count, "origin"),
                list_suffix(&p.origins)
            ));
        }
        None => l.push("snapshots:   0 (import one with `pvault profile import`)".to_owned()),
    }
    let st = &p.settings;
    let mut settings = Vec::new();
    if let Some(v) = &st.proxy {
        settings.push(format!("proxy={v}"));
    }
    if let Some(v) = &st.viewport {
        settings.push(format!("viewport={}x{}", v.width, v.height));
    }
    if let Some(v) = &st.user_agent {
        settings.push(format!("user-agent={v}"));
    }
    if let Some(v) = &st.locale {
        settings.push(format!("locale={v}"));
    }
    if !settings.is_empty() {
        l.push(format!("settings:    {}", settings.join(", ")));
    }
    l.join("\n")
}

/// `: a, b, c` (at most 5 shown), or nothing for an empty list.
fn list_suffix(items: &[String]) -> String {
    if items.is_empty() {
        return String::new();
    }
    let shown: Vec<&str> = items.iter().take(5).map(String::as_str).collect();
    let more = if items.len() > 5 {
        format!(", … ({} more)", items.len() - 5)
    } else {
        String::new()
    };
    format!(": {}{more}", shown.join(", "))
}

/// `profile rename NAME NEW`.
async fn rename(ctx: &Ctx, name: String, new_name: String) -> CliResult {
    let res = ctx
        .call1(&ProfileRename {
            name: name.clone(),
            new_name,
        })
        .await?;
    if ctx.out.json {
        return ctx.out.json(&res);
    }
    ctx.out
        .line(format!("renamed {name} to {}", res.profile.name))
}

/// `profile delete NAME`.
async fn delete(ctx: &Ctx, name: String) -> CliResult {
    ctx.call1(&ProfileDelete { name: name.clone() }).await?;
    if ctx.out.json {
        return ctx.out.json(&json!({"deleted": name}));
    }
    ctx.out
        .line(format!("deleted profile {name} and its history"))
}

/// `profile import NAME FILE|-`: the CLI reads and parses the file (so a bad file fails here,
/// with its path in the message) and sends the JSON.
async fn import(ctx: &Ctx, name: String, file: &Path) -> CliResult {
    let state = read_state(file)?;
    let res = {
        let client = ctx.client().await?;
        let _spin = ctx.out.spinner("importing");
        ctx.call(
            &client,
            &ProfileImport {
                name,
                state,
                create: true,
            },
        )
        .await?
    };
    if ctx.out.json {
        return ctx.out.json(&res);
    }
    let s = &res.snapshot;
    ctx.out.line(format!(
        "imported into {}{} as snapshot #{}: {}, {} in {}",
        res.profile.name,
        if res.created { " (new profile)" } else { "" },
        s.seq,
        plural(s.cookie_count, "cookie"),
        plural(s.local_storage_key_count, "localStorage key"),
        plural(s.origin_count, "origin")
    ))
}

/// `1 cookie`, `2 cookies`.
/// Reads a storageState file (`-` = stdin) into JSON, refusing what the daemon would refuse
/// anyway (too large, not an object) before sending it.
fn read_state(file: &Path) -> CliResult<Value> {
    let name = if file.as_os_str() == "-" {
        "stdin".to_owned()
    } else {
        file.display().to_string()
    };
    let mut buf = Vec::new();
    // Read one byte past the limit to tell "at the limit" from "over it" without reading an
    // unbounded stream into memory.
    let limit = MAX_MESSAGE_BYTES as u64 + 1;
    let res = if file.as_os_str() == "-" {
        std::io::stdin().lock().take(limit).read_to_end(&mut buf)
    } else {
        std::fs::File::open(file).and_then(|f| f.take(limit).read_to_end(&mut buf))
    };
    res.map_err(|e| CliError::usage(format!("cannot read {name}: {e}")))?;
    if buf.len() > MAX_MESSAGE_BYTES {
        return Err(CliError::other(format!(
            "{name} is larger than the protocol's {} limit",
            format_size(MAX_MESSAGE_BYTES as u64)
        )));
    }
    let v: Value = serde_json::from_slice(&buf).map_err(|e| {
        CliError::usage(format!(
            "{name} is not JSON ({e}): expected a Playwright storageState file"
        ))
    })?;
    if !v.is_object() {
        return Err(CliError::usage(format!(
            "{name} is not a Playwright storageState: expected an object {{\"cookies\": [...], \"origins\": [...]}}"
        )));
    }
    Ok(v)
}

/// `profile export NAME [--snapshot S] [--format F] [-o FILE]`: the document on stdout (with
/// or without `--json`: it is JSON either way), or written to FILE with mode 0600. What the
/// format left out is named on stderr. The document comes in chunks, so a snapshot larger
/// than one protocol message exports too.
async fn export(
    ctx: &Ctx,
    name: String,
    snapshot: Option<String>,
    format: ExportFormatArg,
    output: Option<&Path>,
) -> CliResult {
    let client = ctx.client().await?;
    let req = ProfileExport {
        name,
        snapshot,
        format: Some(match format {
            ExportFormatArg::Playwright => ExportFormat::Playwright,
            ExportFormatArg::Pvault => ExportFormat::Pvault,
        }),
        chunked: true,
    };
    let (res, doc) = client
        .call_chunked(&req)
        .await
        .map_err(|e| crate::connect::map_client_error(e, &ctx.target.socket))?;
    if res.state_bytes != Some(doc.len() as u64) {
        return Err(CliError::other(format!(
            "pvaultd announced {:?} bytes of export but sent {}; try again",
            res.state_bytes,
            doc.len()
        )));
    }
    for line in &res.left_out {
        eprintln!(
            "warning: left out of Playwright's format: {line}; use --format pvault to keep everything"
        );
    }
    let state: serde_json::Value = serde_json::from_slice(&doc)
        .map_err(|e| CliError::other(format!("pvaultd sent an export that is not JSON: {e}")))?;
    drop(doc);
    let mut text = serde_json::to_string_pretty(&state)
        .map_err(|e| CliError::other(format!("cannot encode the storageState: {e}")))?;
    text.push('\n');
    let Some(path) = output else {
        return write_stdout(text.as_bytes());
    };
    write_private(path, text.as_bytes())?;
    if ctx.out.json {
        return ctx
            .out
            .json(&json!({"path": crate::connect::absolute(path)?, "snapshot": res.snapshot, "left_out": res.left_out}));
    }
    ctx.out.line(format!(
        "wrote snapshot #{} to {}",
        res.snapshot.seq,
        path.display()
    ))
}

/// Writes `bytes` to `path` with mode 0600, atomically: a temporary file in the same
/// directory (created 0600, so the cookies are never readable by others, even briefly) is
/// synced and renamed over the target.
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> CliResult {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let file_name = path
        .file_name()
        .ok_or_else(|| CliError::usage(format!("{} is not a file name", path.display())))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(file_name);
    tmp_name.push(format!(".tmp-{}", std::process::id()));
    let tmp = dir.join(tmp_name);
    let fail = |e: std::io::Error| CliError::other(format!("cannot write {}: {e}", path.display()));
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        fail(e)
    })
}

/// `profile history NAME`.
async fn history(ctx: &Ctx, name: String) -> CliResult {
    let res = ctx.call1(&ProfileHistory { name }).await?;
    if ctx.out.json {
        return ctx.out.json(&res);
    }
    if res.snapshots.is_empty() {
        return ctx.out.line("no snapshots yet");
    }
    let mut t = Table::new(&[
        "SEQ", "ID", "CREATED", "KIND", "COOKIES", "ORIGINS", "KEYS", "SIZE", "MARK",
    ]);
    for s in &res.snapshots {
        t.row(vec![
            format!("#{}", s.seq),
            short_id(&s.id).to_owned(),
            format_time(s.created_at),
            s.kind.as_str().to_owned(),
            s.cookie_count.to_string(),
            s.origin_count.to_string(),
            s.local_storage_key_count.to_string(),
            format_size(s.size_bytes),
            if s.logged_out { "logged_out" } else { "" }.to_owned(),
        ]);
    }
    let mut text = t.render();
    if res.snapshots.iter().any(|s| s.logged_out) {
        text.push_str(
            "note: logged_out snapshots were kept by the logout guard but are not loaded by \
             sessions; `pvault profile accept NAME SEQ` makes one current\n",
        );
    }
    let seqs: Vec<u64> = res.snapshots.iter().map(|s| s.seq).collect();
    if let Some(missing) = missing_seqs(&seqs) {
        text.push_str(&format!(
            "note: no {missing}: snapshot numbers are never reused (restore and diff take them), \
             so the numbers of checkpoints replaced by their session's final save and of \
             snapshots dropped by retention stay unused\n"
        ));
    }
    write_stdout(text.as_bytes())
}

/// The snapshot numbers below the newest that the history lacks, as `#1-#2, #5`; `None` if
/// there is no gap. `seqs` in any order.
fn missing_seqs(seqs: &[u64]) -> Option<String> {
    let mut sorted = seqs.to_vec();
    sorted.sort_unstable();
    let mut ranges = Vec::new();
    let mut expect = 1;
    for &s in &sorted {
        if s > expect {
            ranges.push(if s - 1 == expect {
                format!("#{expect}")
            } else {
                format!("#{expect}-#{}", s - 1)
            });
        }
        expect = s + 1;
    }
    (!ranges.is_empty()).then(|| ranges.join(", "))
}

/// `profile diff NAME [FROM [TO]]`.
async fn diff(ctx: &Ctx, name: String, from: Option<String>, to: Option<String>) -> CliResult {
    let res = ctx.call1(&ProfileDiff { name, from, to }).await?;
    if ctx.out.json {
        return ctx.out.json(&res);
    }
    let mut s = format!(
        "from {}\nto   {}\n",
        snap_label(&res.from),
        snap_label(&res.to)
    );
    // The model's StateDiff when it parses; a generic rendering if a newer daemon sent more.
    let body = match serde_json::from_value::<StateDiff>(res.diff.clone()) {
        Ok(d) => render_state_diff(&d),
        Err(_) => render_diff(&res.diff, 0),
    };
    if body.is_empty() {
        s.push_str("no differences\n");
    } else {
        s.push_str(&body);
    }
    write_stdout(s.as_bytes())
}

/// `#3 1a2b3c4d (import, 2026-11-22 03:35:33)`.
fn snap_label(s: &SnapshotInfo) -> String {
    format!(
        "#{} {} ({}, {})",
        s.seq,
        short_id(&s.id),
        s.kind.as_str(),
        format_time(s.created_at)
    )
}

/// `profile restore NAME SNAPSHOT`.
async fn restore(ctx: &Ctx, name: String, snapshot: String) -> CliResult {
    let res = ctx
        .call1(&ProfileRestore {
            name: name.clone(),
            snapshot,
        })
        .await?;
    if ctx.out.json {
        return ctx.out.json(&res);
    }
    ctx.out.line(format!(
        "restored {name} to snapshot #{} (saved as #{})",
        res.restored_from.seq, res.snapshot.seq
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_files_are_0600_and_replace_the_target() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("state.json");
        std::fs::write(&p, "old").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_private(&p, b"new").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"new");
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temporary file left"
        );
    }

    #[test]
    fn gaps_in_snapshot_numbers_are_named() {
        assert_eq!(missing_seqs(&[3, 2, 1]), None);
        assert_eq!(missing_seqs(&[3]), Some("#1-#2".into()));
        assert_eq!(missing_seqs(&[6, 4, 1]), Some("#2-#3, #5".into()));
        assert_eq!(missing_seqs(&[]), None);
    }
}
