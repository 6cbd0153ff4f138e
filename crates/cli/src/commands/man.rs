//! `pvault man --dir DIR` (hidden): writes the man pages from the clap definitions, so
//! `packaging/generate.sh` never lets them drift from the code. `pvault.1` for the top level
//! and `pvault-<command>[-<subcommand>].1` for every visible command.

use std::path::Path;

use clap::CommandFactory;

use crate::cli::Cli;
use crate::exit::{CliError, CliResult};

/// Writes every page into `dir` (created if missing).
pub fn run(dir: &Path) -> CliResult {
    std::fs::create_dir_all(dir)
        .map_err(|e| CliError::other(format!("cannot create {}: {e}", dir.display())))?;
    let mut cmd = Cli::command();
    cmd.build();
    write_pages(&cmd, "pvault", dir)
}

/// Writes the page of `cmd` as `name.1`, then those of its visible subcommands.
fn write_pages(cmd: &clap::Command, name: &str, dir: &Path) -> CliResult {
    // clap names are `&'static str` without its `string` feature; this process writes a
    // few dozen pages and exits.
    let title: &'static str = Box::leak(name.to_owned().into_boxed_str());
    let page_cmd = cmd.clone().name(title).bin_name(name.replace('-', " "));
    let mut text = Vec::new();
    clap_mangen::Man::new(page_cmd)
        .render(&mut text)
        .map_err(|e| CliError::other(format!("cannot render the man page {name}.1: {e}")))?;
    let path = dir.join(format!("{name}.1"));
    std::fs::write(&path, text)
        .map_err(|e| CliError::other(format!("cannot write {}: {e}", path.display())))?;
    for sub in cmd.get_subcommands() {
        if sub.is_hide_set() || sub.get_name() == "help" {
            continue;
        }
        write_pages(sub, &format!("{name}-{}", sub.get_name()), dir)?;
    }
    Ok(())
}
