//! The command line, as clap derive types. One enum variant per command; the `session …` and
//! `run` argument types live next to their code in `commands/session.rs` and `commands/run.rs`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// `pvault`: keep browser profiles (cookies, localStorage) in an encrypted vault served by
/// `pvaultd`.
#[derive(Debug, Parser)]
#[command(name = "pvault", version, about, propagate_version = true)]
pub struct Cli {
    /// Options that apply to every command.
    #[command(flatten)]
    pub global: GlobalOpts,
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Flags accepted before (or after) any subcommand.
#[derive(Debug, Clone, Args)]
pub struct GlobalOpts {
    /// Print machine-readable JSON on stdout (errors too, as {"error":{"code","message"}}).
    #[arg(long, global = true)]
    pub json: bool,
    /// The daemon's socket [default: $XDG_RUNTIME_DIR/pvault/pvaultd.sock].
    #[arg(long, global = true, env = "PVAULT_SOCKET", value_name = "PATH")]
    pub socket: Option<PathBuf>,
    /// Never start pvaultd; fail with exit code 69 when it does not answer.
    #[arg(long, global = true, env = "PVAULT_NO_AUTOSTART", value_parser = clap::builder::FalseyValueParser::new())]
    pub no_autostart: bool,
}

/// Every top-level command.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create the vault and leave it unlocked.
    Init(InitArgs),
    /// Unlock the vault.
    Unlock(CredentialArgs),
    /// Lock the vault (the daemon forgets the keys).
    Lock,
    /// Show the daemon's and the vault's state.
    Status,
    /// Change the passphrase (or set the key file).
    Passwd(PasswdArgs),
    /// Authenticate every record of the vault.
    Verify,
    /// Write an (encrypted) copy of the vault to FILE.
    Backup {
        /// Destination; must not exist.
        file: PathBuf,
    },
    /// Start or stop the daemon.
    #[command(subcommand)]
    Daemon(DaemonCmd),
    /// Manage profiles and their snapshot history.
    #[command(subcommand)]
    Profile(ProfileCmd),
    /// Share profiles through remote stores on PostgreSQL (end-to-end encrypted).
    #[command(subcommand)]
    Remote(crate::commands::remote::RemoteCmd),
    /// Run browser sessions (Chromium over CDP) with a profile loaded.
    #[command(subcommand)]
    Session(crate::commands::session::SessionCmd),
    /// Run CMD with a browser session: PVAULT_CDP_URL and PVAULT_SESSION_ID in its
    /// environment; the session ends (saving with --save) when CMD exits, and pvault exits
    /// with CMD's exit code.
    Run(crate::commands::run::RunArgs),
    /// Write the man pages into DIR (packaging/generate.sh uses it).
    #[command(hide = true)]
    Man {
        /// Output directory (created if missing).
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
    },
    /// Print a shell completion script.
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
}

/// Where the secret that opens the vault comes from. Neither: prompt on the terminal.
#[derive(Debug, Clone, Args)]
#[group(multiple = false)]
pub struct CredentialArgs {
    /// Read the passphrase from F (one trailing newline is stripped; `-` = stdin).
    #[arg(long, value_name = "F")]
    pub passphrase_file: Option<PathBuf>,
    /// Use the raw bytes of key file F (at least 32 bytes).
    #[arg(long, value_name = "F")]
    pub keyfile: Option<PathBuf>,
}

/// `init`: the new vault's secret.
#[derive(Debug, Clone, Args)]
pub struct InitArgs {
    #[command(flatten)]
    pub credential: CredentialArgs,
    /// Accept a passphrase that is very easy to guess (refused otherwise; a weak one only
    /// gets a warning).
    #[arg(long)]
    pub allow_weak_passphrase: bool,
}

/// `passwd`: the old secret and the new one; each is prompted for when not given.
#[derive(Debug, Clone, Args)]
pub struct PasswdArgs {
    /// File holding the current passphrase.
    #[arg(long, value_name = "OLD", conflicts_with = "keyfile")]
    pub passphrase_file: Option<PathBuf>,
    /// The current key file (instead of the current passphrase).
    #[arg(long, value_name = "OLD")]
    pub keyfile: Option<PathBuf>,
    /// File holding the new passphrase.
    #[arg(long, value_name = "NEW", conflicts_with = "new_keyfile")]
    pub new_passphrase_file: Option<PathBuf>,
    /// Add or replace the key-file slot with this key file instead.
    #[arg(long, value_name = "NEW")]
    pub new_keyfile: Option<PathBuf>,
    /// Accept a new passphrase that is very easy to guess (refused otherwise; a weak one only
    /// gets a warning).
    #[arg(long)]
    pub allow_weak_passphrase: bool,
}

/// `daemon …`.
#[derive(Debug, Subcommand)]
pub enum DaemonCmd {
    /// Start pvaultd in the background (no-op if it already answers).
    Start,
    /// Ask pvaultd to shut down and wait until it has.
    Stop,
}

/// `profile …`.
#[derive(Debug, Subcommand)]
pub enum ProfileCmd {
    /// Create an empty profile.
    Create {
        /// Profile name ([A-Za-z0-9._-], at most 255).
        name: String,
        /// Free-form description.
        #[arg(long, short = 'd')]
        description: Option<String>,
    },
    /// List profiles.
    #[command(alias = "ls")]
    List,
    /// Show one profile.
    Show {
        /// Profile name.
        name: String,
    },
    /// Rename a profile.
    Rename {
        /// Current name.
        name: String,
        /// New name.
        new_name: String,
    },
    /// Delete a profile and its whole history.
    #[command(alias = "rm")]
    Delete {
        /// Profile name.
        name: String,
    },
    /// Append a snapshot from a Playwright storageState file, or from your own browser with
    /// --from-browser (creates the profile if missing).
    Import {
        /// Profile name.
        name: String,
        /// storageState JSON file, or `-` for stdin.
        #[arg(
            required_unless_present = "from_browser",
            conflicts_with = "from_browser"
        )]
        file: Option<PathBuf>,
        /// Read cookies and localStorage from your own browser's profile instead.
        #[command(flatten)]
        browser: FromBrowserArgs,
    },
    /// Print a snapshot as Playwright storageState JSON (or pvault's own, which keeps everything).
    Export {
        /// Profile name.
        name: String,
        /// Snapshot id or sequence number [default: the newest].
        #[arg(long)]
        snapshot: Option<String>,
        /// `playwright`: Playwright's storageState; what it cannot hold (sessionStorage, some
        /// IndexedDB values and key generator positions) is left out and named on stderr.
        /// `pvault`: pvault's own JSON with everything; `pvault profile import` reads both.
        #[arg(long, value_enum, default_value_t = ExportFormatArg::Playwright)]
        format: ExportFormatArg,
        /// Write to FILE (mode 0600) instead of stdout.
        #[arg(long, short = 'o', value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// List a profile's snapshots, newest first.
    History {
        /// Profile name.
        name: String,
    },
    /// Show what changed between two snapshots [default: the two newest].
    Diff {
        /// Profile name.
        name: String,
        /// Older snapshot (id or sequence number).
        from: Option<String>,
        /// Newer snapshot [default: the newest].
        to: Option<String>,
    },
    /// Append a copy of an older snapshot, making it the newest.
    Restore {
        /// Profile name.
        name: String,
        /// Snapshot id or sequence number.
        snapshot: String,
    },
    /// Push a profile's history to a remote and link them: its sessions then load the
    /// remote's newest snapshot, and --save sessions take the remote's lease and push.
    Link {
        /// Profile name.
        name: String,
        /// Remote name.
        #[arg(long)]
        remote: String,
    },
    /// Copy a profile that exists only on a remote into the vault, linked.
    Pull {
        /// Profile name.
        name: String,
        /// Remote name.
        #[arg(long)]
        remote: String,
    },
    /// Define, show or clear the profile's login health check.
    #[command(subcommand)]
    Health(crate::commands::health::HealthCmd),
    /// Check the profile's login now: a headless read-only session of its current snapshot
    /// opens the health definition's page. Exit 0 healthy, 9 logged out, 8 when the browser
    /// or the network failed (a server that is down is not a logout).
    Check {
        /// Profile name.
        name: String,
        /// Wait up to SECS for the page and its selectors (1 to 300) [default: 30].
        #[arg(long, value_name = "SECS")]
        timeout: Option<u64>,
    },
    /// Make a snapshot the logout guard marked `logged_out` current, so the next session
    /// loads it [default: the newest snapshot].
    Accept {
        /// Profile name.
        name: String,
        /// Snapshot id or sequence number [default: the newest].
        snapshot: Option<String>,
    },
}

/// `profile import --from-browser …`.
#[derive(Debug, Clone, clap::Args)]
pub struct FromBrowserArgs {
    /// The browser to read (Linux): its user-data-dir is found in the usual places (native,
    /// Flatpak, Snap), its cookies decrypted (keyring over D-Bus when needed). It may be
    /// running: its files are copied, never written.
    #[arg(long, value_enum, value_name = "BROWSER")]
    pub from_browser: Option<BrowserArg>,
    /// The browser's profile directory (`Default`, `Profile 1`) or the name it shows
    /// [default: the only one; several are listed].
    #[arg(long, requires = "from_browser", value_name = "DIR_NAME")]
    pub browser_profile: Option<String>,
    /// The browser's user-data-dir, when not in a usual place.
    #[arg(long, requires = "from_browser", value_name = "PATH")]
    pub user_data_dir: Option<PathBuf>,
    /// Import only this registrable domain (a cookie for .example.com and the origin
    /// https://app.example.com belong to example.com); repeatable.
    #[arg(long = "domain", requires = "from_browser", value_name = "D")]
    pub domains: Vec<String>,
    /// Leave this registrable domain out; repeatable.
    #[arg(long = "exclude-domain", requires = "from_browser", value_name = "D")]
    pub exclude_domains: Vec<String>,
    /// Print what would be imported, per domain (counts only), and write nothing.
    #[arg(long, requires = "from_browser")]
    pub dry_run: bool,
    /// Import the rest when some cookie values do not decrypt (they are counted), instead
    /// of failing.
    #[arg(long, requires = "from_browser")]
    pub skip_undecryptable: bool,
}

/// `profile import --from-browser`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BrowserArg {
    /// Google Chrome.
    Chrome,
    /// Chromium.
    Chromium,
    /// Brave.
    Brave,
    /// Microsoft Edge.
    Edge,
    /// Vivaldi.
    Vivaldi,
}

impl BrowserArg {
    /// The protocol's name.
    pub fn as_str(self) -> &'static str {
        match self {
            BrowserArg::Chrome => "chrome",
            BrowserArg::Chromium => "chromium",
            BrowserArg::Brave => "brave",
            BrowserArg::Edge => "edge",
            BrowserArg::Vivaldi => "vivaldi",
        }
    }
}

/// `profile export --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormatArg {
    /// Playwright's storageState.
    Playwright,
    /// pvault's own JSON (`"pvault": 1`), with everything.
    Pvault,
}
