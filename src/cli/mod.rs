//! The command line (README.md, "Commands"): clap definitions and dispatch. One file per
//! subcommand; each prints a short human form or, with `--json`, one documented
//! JSON object.

/// Like `print!`/`println!`, but a closed stdout (`airelays status | head -1`,
/// a closed terminal under `serve`) is not a panic: output is best effort.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout(), $($arg)*);
    }};
}

macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

mod accounts;
mod completions;
mod doctor;
mod init;
mod login;
mod logs;
mod man;
mod output;
mod serve;
mod service;
mod state;
mod status;
mod token;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::{Config, Paths};

pub(crate) use output::Style;

/// Use your ChatGPT subscription from any OpenAI-compatible tool on this machine.
#[derive(Debug, Parser)]
#[command(
    name = "airelays",
    version,
    about,
    after_help = "Quick start:\n  airelays init      # create the config and the relay token\n  airelays login     # sign in to ChatGPT\n  airelays serve     # serve http://127.0.0.1:8080/v1\n  airelays status    # what is ready, what to do next"
)]
pub(crate) struct Cli {
    /// Config file [env: AIRELAYS_CONFIG] [default: ~/.config/airelays/config.toml]
    #[arg(long, global = true, value_name = "PATH")]
    pub(crate) config: Option<PathBuf>,
    /// State directory [env: AIRELAYS_DATA_DIR] [default: ~/.local/share/airelays]
    #[arg(long, global = true, value_name = "PATH")]
    pub(crate) data_dir: Option<PathBuf>,
    /// More log output (-v debug, -vv trace); RUST_LOG also works
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub(crate) verbose: u8,
    /// Only errors
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub(crate) quiet: bool,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Write a config file and create the data directory and relay token if missing
    #[command(after_help = "Example:\n  airelays init\n  airelays init --show-token --json")]
    Init(init::InitArgs),
    /// Sign in to ChatGPT (browser, or device code with --device)
    #[command(
        after_help = "Examples:\n  airelays login\n  airelays login --device          # on a remote or headless machine\n  airelays login --no-browser      # print the URL, don't open a browser"
    )]
    Login(login::LoginArgs),
    /// Revoke and delete the stored ChatGPT credentials
    #[command(after_help = "Example:\n  airelays logout")]
    Logout(login::LogoutArgs),
    /// List the signed-in ChatGPT accounts, or remove one
    #[command(
        after_help = "Examples:\n  airelays login --account work    # add an account\n  airelays accounts --json\n  airelays accounts remove work"
    )]
    Accounts(accounts::AccountsArgs),
    /// Run the relay in the foreground until Ctrl-C
    #[command(
        after_help = "Examples:\n  airelays serve\n  airelays serve --port 0          # any free port; the banner shows it"
    )]
    Serve(serve::ServeArgs),
    /// Report what is configured, signed in and running (no secrets)
    #[command(after_help = "Examples:\n  airelays status\n  airelays status --json | jq .ready")]
    Status(status::StatusArgs),
    /// Check the set-up end to end: config, sign-in, upstream, relay, clients
    #[command(
        after_help = "Examples:\n  airelays doctor\n  airelays doctor --live           # also refresh, probe and call a tool upstream\n  airelays doctor --json | jq '.checks[] | select(.status != \"ok\")'"
    )]
    Doctor(doctor::DoctorArgs),
    /// Show or rotate the relay token clients must send
    #[command(subcommand)]
    Token(token::TokenCommand),
    /// Run the relay as your service, started at login (systemd, launchd, Task Scheduler)
    #[command(subcommand)]
    Service(service::ServiceCommand),
    /// Print or follow the relay's log file (or the traffic log)
    #[command(
        after_help = "Examples:\n  airelays logs\n  airelays logs -f            # follow, across rotations\n  airelays logs --traffic -n 20"
    )]
    Logs(logs::LogsArgs),
    /// Clear or check the local store of responses and conversations
    #[command(subcommand)]
    State(state::StateCommand),
    /// Print a shell completion script
    #[command(
        after_help = "Example:\n  airelays completions bash > ~/.local/share/bash-completion/completions/airelays"
    )]
    Completions(completions::CompletionsArgs),
}

/// A failure reported to the user as one line: what failed, then the next step.
#[derive(Debug)]
pub(crate) struct CliError {
    pub(crate) message: String,
    pub(crate) code: u8,
}

impl CliError {
    /// An error that exits with code 1.
    pub(crate) fn new(message: impl Into<String>) -> CliError {
        CliError {
            message: message.into(),
            code: 1,
        }
    }
    /// An error that exits with `code`.
    pub(crate) fn with_code(message: impl Into<String>, code: u8) -> CliError {
        CliError {
            message: message.into(),
            code,
        }
    }
}

impl<E: std::error::Error> From<E> for CliError {
    fn from(e: E) -> CliError {
        CliError::new(e.to_string())
    }
}

/// What a command returns.
pub(crate) type CliResult = Result<(), CliError>;

/// What every command that touches state needs.
pub(crate) struct Context {
    pub(crate) paths: Paths,
    pub(crate) config: Config,
    pub(crate) env: fn(&str) -> Option<String>,
}

impl Context {
    fn load(cli: &Cli) -> Result<Context, CliError> {
        let env: fn(&str) -> Option<String> = crate::config::process_env;
        let paths = Paths::resolve(cli.config.as_deref(), cli.data_dir.as_deref(), &env)?;
        let config = Config::load(&paths, &env)?;
        Ok(Context { paths, config, env })
    }

    /// This context with the credential paths of account `name` (`None`: `default`);
    /// an invalid name is refused with the rule.
    pub(crate) fn for_account(self, name: Option<&str>) -> Result<Context, CliError> {
        let Some(name) = name else { return Ok(self) };
        crate::auth::accounts::validate_name(name).map_err(|e| CliError::with_code(e, 2))?;
        Ok(Context {
            paths: crate::auth::accounts::account_paths(&self.paths, name),
            ..self
        })
    }
}

/// Parses arguments, runs the command and returns the process exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // Flushes the queued log lines when `main` returns (waits at most ~1 s).
    let _log_guard = init_logging(&cli);
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // An empty message: the command already said what failed (`doctor`).
            if !e.message.is_empty() {
                let style = Style::stderr();
                eprintln!("{} {}", style.red("error:"), e.message);
            }
            ExitCode::from(e.code)
        }
    }
}

fn run(cli: Cli) -> CliResult {
    if let Command::Completions(args) = &cli.command {
        return completions::run(args);
    }
    if let Command::Doctor(args) = &cli.command {
        // Loads the config itself: a broken config file is a failed check.
        return doctor::run(cli.config.clone(), cli.data_dir.clone(), args);
    }
    let ctx = Context::load(&cli)?;
    let given = service::Given {
        config: cli.config.is_some(),
        data_dir: cli.data_dir.is_some(),
    };
    match cli.command {
        Command::Init(args) => init::run(&ctx, &args),
        Command::Login(args) => login::run_login(ctx.for_account(args.account.as_deref())?, &args),
        Command::Logout(args) => {
            login::run_logout(&ctx.for_account(args.account.as_deref())?, &args)
        }
        Command::Accounts(args) => accounts::run(&ctx, &args),
        Command::Serve(args) => serve::run(ctx, &args),
        Command::Status(args) => status::run(&ctx, &args),
        Command::Token(cmd) => token::run(&ctx, &cmd),
        Command::Service(cmd) => service::run(&ctx, &cmd, &given),
        Command::Logs(args) => logs::run(&ctx, &args),
        Command::State(cmd) => state::run(&ctx, &cmd),
        Command::Completions(_) | Command::Doctor(_) => unreachable!("handled above"),
    }
}

/// Logs go to stderr, or for `serve --log-file` to the rotating log file, through a
/// bounded, lossy queue (`server::log_writer`): a stalled reader drops lines, never
/// a request.
fn init_logging(cli: &Cli) -> Option<crate::server::log_writer::LogGuard> {
    use tracing_subscriber::EnvFilter;
    let default = if cli.quiet {
        "error"
    } else {
        match (cli.verbose, matches!(cli.command, Command::Serve(_))) {
            (0, true) => "info",
            (0, false) => "warn",
            (1, _) => "debug",
            _ => "trace",
        }
    };
    let filter = match std::env::var("RUST_LOG") {
        Ok(v) if !v.trim().is_empty() && cli.verbose == 0 && !cli.quiet => {
            EnvFilter::try_new(v).unwrap_or_else(|_| EnvFilter::new(default))
        }
        _ => EnvFilter::new(default),
    };
    let file = match &cli.command {
        Command::Serve(args) => serve::log_file(cli, args),
        _ => None,
    };
    let ansi = file.is_none() && Style::stderr().enabled();
    let (writer, guard) = match file {
        Some(file) => crate::server::log_writer::file(file),
        None => crate::server::log_writer::stderr(),
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(ansi)
        .with_target(false)
        .try_init()
        .ok()
        .map(|()| guard)
}

/// Prints a value as pretty JSON on stdout.
pub(crate) fn print_json<T: serde::Serialize>(value: &T) -> CliResult {
    let text = serde_json::to_string_pretty(value).map_err(|e| CliError::new(e.to_string()))?;
    outln!("{text}");
    Ok(())
}
