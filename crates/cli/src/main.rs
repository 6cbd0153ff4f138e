//! `pvault`, the command-line client of `pvaultd`: parses the command line, reaches the daemon
//! (starting it when needed), sends requests from `pvault-protocol`, and prints tables for
//! people or stable JSON for scripts. Exit codes and `--json` shapes are part of its interface
//! (README "Exit codes", `crates/cli/JSON.md`).
//!
//! Layout: `cli` (clap types), `commands/*` (one fn per command), `connect` (socket, autostart),
//! `credentials` (passphrase and key files, prompts), `output` (JSON, tables, spinner),
//! `exit` (error → exit code).

mod cli;
mod commands;
mod connect;
mod credentials;
mod exit;
mod output;
mod strength;

use clap::Parser;

use crate::cli::Cli;
use crate::exit::CliError;

fn main() {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => usage_error(e),
    };
    let json = cli.global.json;
    let code = match run(cli) {
        Ok(()) => exit::OK,
        Err(e) => {
            report(&e, json);
            e.exit_code()
        }
    };
    std::process::exit(code);
}

fn run(cli: Cli) -> Result<(), CliError> {
    let ctx = commands::Ctx::new(&cli.global)?;
    // One thread: the CLI makes a few sequential requests; the client's reader task runs on
    // the same thread between them.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::other(format!("cannot start the async runtime: {e}")))?;
    rt.block_on(commands::run(cli.command, &ctx))
}

/// `pvault: <message>` (and the hint) on stderr; with `--json`, also `{"error":{…}}` on stdout.
fn report(e: &CliError, json: bool) {
    if json && e.json_object {
        let mut text = e.to_json().to_string();
        text.push('\n');
        let _ = output::write_stdout(text.as_bytes());
    }
    eprintln!("{}", e.report());
}

/// Help and version go to stdout with exit 0; real usage errors exit 2, in the same
/// `pvault: …` form as every other error (and as JSON when `--json` is on the line).
fn usage_error(e: clap::Error) -> ! {
    use clap::error::ErrorKind;
    let json = std::env::args_os().any(|a| a == "--json");
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => e.exit(),
        // `pvault profile` alone: people get the subcommand list (exit 2); scripts asking
        // for JSON get the error object like any other usage error.
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand if !json => e.exit(),
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            report(
                &CliError::usage("a subcommand is missing: see --help"),
                json,
            );
        }
        _ => {
            let rendered = e.render().to_string();
            let msg = rendered.trim_end();
            report(
                &CliError::usage(msg.strip_prefix("error: ").unwrap_or(msg)),
                json,
            );
        }
    }
    std::process::exit(exit::USAGE);
}
