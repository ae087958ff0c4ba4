//! `airelays login` and `airelays logout`.

use clap::Args;

use super::{CliError, CliResult, Context};

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// Use the device-code flow (for remote or headless machines)
    #[arg(long)]
    pub device: bool,
    /// Print the sign-in URL instead of opening a browser
    #[arg(long)]
    pub no_browser: bool,
    /// Give up after this many seconds [default: auth.login_timeout_seconds]
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<u64>,
}

#[derive(Debug, Args)]
pub struct LogoutArgs {
    /// Print one JSON object
    #[arg(long)]
    pub json: bool,
}

pub fn run_login(_ctx: Context, _args: &LoginArgs) -> CliResult {
    Err(CliError::new(
        "ChatGPT sign-in is not built yet in this version: the OAuth login flows and credential store are missing",
    ))
}

pub fn run_logout(_ctx: &Context, _args: &LogoutArgs) -> CliResult {
    Err(CliError::new(
        "ChatGPT sign-out is not built yet in this version: the credential store is missing",
    ))
}
