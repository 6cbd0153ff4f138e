//! `pvault profile import NAME --from-browser BROWSER …`: asks pvaultd to read the user's own
//! browser profile (`profile.import_browser`), and prints what it found per domain. The CLI
//! sends its own D-Bus session bus address, so the keyring of this login session is asked.

use pvault_protocol::{ProfileImportBrowser, ProfileImportBrowserResponse};

use super::Ctx;
use crate::cli::{BrowserArg, FromBrowserArgs};
use crate::exit::CliResult;
use crate::output::{Table, plural};

/// Runs the import (or the dry run) and prints its report.
pub async fn run(ctx: &Ctx, name: String, from: BrowserArg, a: FromBrowserArgs) -> CliResult {
    let user_data_dir = a
        .user_data_dir
        .as_deref()
        .map(crate::connect::absolute)
        .transpose()?
        .map(|p| p.display().to_string());
    let dbus_address = std::env::var("DBUS_SESSION_BUS_ADDRESS")
        .ok()
        .filter(|v| v.starts_with("unix:"));
    let req = ProfileImportBrowser {
        name,
        browser: from.as_str().to_owned(),
        browser_profile: a.browser_profile,
        user_data_dir,
        domains: a.domains,
        exclude_domains: a.exclude_domains,
        dry_run: a.dry_run,
        skip_undecryptable: a.skip_undecryptable,
        create: true,
        dbus_address,
    };
    let res = {
        let client = ctx.client().await?;
        let _spin = ctx
            .out
            .spinner(if a.dry_run { "reading" } else { "importing" });
        ctx.call(&client, &req).await?
    };
    if ctx.out.json {
        return ctx.out.json(&res);
    }
    print_report(ctx, &res)
}

fn print_report(ctx: &Ctx, res: &ProfileImportBrowserResponse) -> CliResult {
    let r = &res.report;
    let what = format!(
        "{}, {} in {}",
        plural(r.cookies, "cookie"),
        plural(r.local_storage_keys, "localStorage key"),
        plural(r.origins, "origin")
    );
    let from = format!(
        "{} profile {:?} ({})",
        r.browser, r.browser_profile, r.user_data_dir
    );
    match (&res.profile, &res.snapshot) {
        (Some(p), Some(s)) => ctx.out.line(format!(
            "imported {what} from {from} into {}{} as snapshot #{}",
            p.name,
            if res.created { " (new profile)" } else { "" },
            s.seq
        ))?,
        _ => {
            ctx.out.line(format!(
                "dry run: would import {what} from {from}; nothing written"
            ))?;
            let mut t = Table::new(&["DOMAIN", "COOKIES", "ORIGINS", "KEYS"]);
            for d in &r.domains {
                t.row(vec![
                    d.domain.clone(),
                    d.cookies.to_string(),
                    d.origins.to_string(),
                    d.local_storage_keys.to_string(),
                ]);
            }
            ctx.out.line(t.render().trim_end())?;
        }
    }
    let e = &r.encryption;
    ctx.out.line(format!(
        "values: {} in the clear, {} v10, {} v11, {} v12; keyring: {}",
        e.plain,
        e.v10,
        e.v11,
        e.v12,
        r.keyring.as_deref().unwrap_or("not needed")
    ))?;
    let mut skipped = Vec::new();
    if r.expired_skipped > 0 {
        skipped.push(format!("{} (expired)", plural(r.expired_skipped, "cookie")));
    }
    if r.filtered_cookies + r.filtered_origins > 0 {
        skipped.push(format!(
            "{} and {} (outside the domain filters)",
            plural(r.filtered_cookies, "cookie"),
            plural(r.filtered_origins, "origin")
        ));
    }
    if r.undecryptable_skipped > 0 {
        skipped.push(format!(
            "{} (did not decrypt)",
            plural(r.undecryptable_skipped, "cookie")
        ));
    }
    if !skipped.is_empty() {
        ctx.out.line(format!("left out: {}", skipped.join("; ")))?;
    }
    for line in &r.not_imported {
        eprintln!("note: not imported: {line}");
    }
    Ok(())
}
