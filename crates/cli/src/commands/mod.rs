//! One module per command family; each command is one `async fn` taking the [`Ctx`].

mod completions;
mod daemon;
mod diff_view;
pub mod health;
mod import_browser;
mod man;
mod profile;
pub mod remote;
pub mod run;
pub mod session;
mod vault;

use pvault_protocol::Request;
use pvault_protocol::client::Client;

use crate::cli::{Command, GlobalOpts};
use crate::connect::{self, Target};
use crate::exit::CliResult;
use crate::output::Output;

/// What every command gets: the output mode and how to reach the daemon.
#[derive(Debug)]
pub struct Ctx {
    /// JSON or people.
    pub out: Output,
    /// Socket and autostart policy.
    pub target: Target,
}

impl Ctx {
    /// From the global flags.
    pub fn new(global: &GlobalOpts) -> CliResult<Ctx> {
        Ok(Ctx {
            out: Output { json: global.json },
            target: Target::new(global.socket.as_deref(), global.no_autostart)?,
        })
    }

    /// Connects (starting the daemon if allowed and needed).
    pub async fn client(&self) -> CliResult<Client> {
        connect::connect(&self.target, self.out).await
    }

    /// Sends one request, mapping errors to exit codes.
    pub async fn call<R: Request>(&self, client: &Client, req: &R) -> CliResult<R::Response> {
        client
            .call(req)
            .await
            .map_err(|e| connect::map_client_error(e, &self.target.socket))
    }

    /// Connects and sends one request.
    pub async fn call1<R: Request>(&self, req: &R) -> CliResult<R::Response> {
        let client = self.client().await?;
        self.call(&client, req).await
    }
}

/// Runs one command.
pub async fn run(cmd: Command, ctx: &Ctx) -> CliResult {
    match cmd {
        Command::Init(a) => vault::init(ctx, &a).await,
        Command::Unlock(a) => vault::unlock(ctx, &a).await,
        Command::Lock => vault::lock(ctx).await,
        Command::Status => vault::status(ctx).await,
        Command::Passwd(a) => vault::passwd(ctx, &a).await,
        Command::Verify => vault::verify(ctx).await,
        Command::Backup { file } => vault::backup(ctx, &file).await,
        Command::Daemon(d) => daemon::run(ctx, d).await,
        Command::Profile(p) => profile::run(ctx, p).await,
        Command::Remote(r) => remote::run(ctx, r).await,
        Command::Session(s) => session::run(ctx, s).await,
        Command::Run(a) => run::run(ctx, a).await,
        Command::Man { dir } => man::run(&dir),
        Command::Completions { shell } => completions::run(shell),
    }
}
