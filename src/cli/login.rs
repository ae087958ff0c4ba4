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

/// The credential source the relay uses (until sign-in lands: none).
pub fn credential_provider(
    _ctx: &Context,
    _http: reqwest::Client,
) -> std::sync::Arc<dyn crate::server::credentials::CredentialProvider> {
    std::sync::Arc::new(NoLogin)
}

struct NoLogin;

impl crate::server::credentials::CredentialProvider for NoLogin {
    fn access(
        &self,
    ) -> futures_util::future::BoxFuture<
        '_,
        Result<crate::server::credentials::Access, crate::server::error::ApiError>,
    > {
        Box::pin(async { Err(crate::server::error::ApiError::auth_missing()) })
    }
    fn after_unauthorized<'a>(
        &'a self,
        _rejected: &'a crate::server::credentials::Access,
    ) -> futures_util::future::BoxFuture<
        'a,
        Result<crate::server::credentials::Access, crate::server::error::ApiError>,
    > {
        Box::pin(async { Err(crate::server::error::ApiError::auth_missing()) })
    }
    fn status(&self) -> crate::status::UpstreamStatus {
        crate::status::UpstreamStatus::missing()
    }
}
