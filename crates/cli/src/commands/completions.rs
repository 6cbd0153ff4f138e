//! `pvault completions SHELL`: a completion script generated from the clap definitions, so it
//! never drifts from the real command line.

use clap::CommandFactory;

use crate::cli::Cli;
use crate::exit::CliResult;
use crate::output::write_stdout;

/// Prints the completion script for `shell` on stdout.
pub fn run(shell: clap_complete::Shell) -> CliResult {
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "pvault", &mut buf);
    write_stdout(&buf)
}
