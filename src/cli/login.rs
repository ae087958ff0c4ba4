//! `airelays login` and `airelays logout`.

use std::io::Write;
use std::time::Duration;

use clap::Args;
use serde_json::json;

use super::{CliError, CliResult, Context, print_json};
use crate::auth::browser::PendingBrowserLogin;
use crate::auth::issuer::Issuer;
use crate::auth::{CredentialStore, Credentials, StoreKind, device};
use crate::fsio::{self, FileLock};

#[derive(Debug, Args)]
pub(crate) struct LoginArgs {
    /// Use the device-code flow (for remote or headless machines)
    #[arg(long)]
    pub(crate) device: bool,
    /// Print the sign-in URL instead of opening a browser
    #[arg(long, conflicts_with = "device")]
    pub(crate) no_browser: bool,
    /// Give up after this many seconds [default: auth.login_timeout_seconds]
    #[arg(long, value_name = "SECS")]
    pub(crate) timeout: Option<u64>,
    /// Sign in this account (a-z, 0-9, _ and -; up to 32) [default: default]
    #[arg(long, value_name = "NAME")]
    pub(crate) account: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct LogoutArgs {
    /// Print one JSON object: {"revoked", "deleted", "store"}
    #[arg(long)]
    pub(crate) json: bool,
    /// Sign out this account [default: default]
    #[arg(long, value_name = "NAME")]
    pub(crate) account: Option<String>,
}

fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| CliError::new(format!("cannot start the async runtime: {e}")))
}

/// Runs `future` and shuts the runtime down without waiting on stray blocking work.
pub(crate) fn block_on<F: std::future::Future<Output = CliResult>>(future: F) -> CliResult {
    let rt = runtime()?;
    let result = rt.block_on(future);
    rt.shutdown_timeout(Duration::from_millis(500));
    result
}

/// No browser can be opened here: an SSH session, or Linux without a display.
fn headless(env: &dyn Fn(&str) -> Option<String>) -> bool {
    let set = |name: &str| env(name).is_some_and(|v| !v.trim().is_empty());
    if set("SSH_CONNECTION") || set("SSH_TTY") {
        return true;
    }
    cfg!(target_os = "linux") && !set("DISPLAY") && !set("WAYLAND_DISPLAY")
}

/// `airelays login`: the browser (or device-code) sign-in, then storing the credentials.
pub(crate) fn run_login(ctx: Context, args: &LoginArgs) -> CliResult {
    block_on(login(ctx, args))
}

async fn take_refresh_lock(ctx: &Context) -> Result<FileLock, CliError> {
    let dir = ctx.paths.data_dir.clone();
    let path = ctx.paths.refresh_lock_file();
    tokio::task::spawn_blocking(move || {
        fsio::ensure_private_dir(&dir)?;
        FileLock::acquire(&path)
    })
    .await
    .map_err(|e| CliError::new(format!("cannot take the refresh lock: {e}")))?
    .map_err(|e| {
        CliError::new(format!(
            "cannot take the refresh lock {}: {e}",
            ctx.paths.refresh_lock_file().display()
        ))
    })
}

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

async fn login(ctx: Context, args: &LoginArgs) -> CliResult {
    let http = crate::http::client(&ctx.config.upstream)?;
    let issuer = Issuer::new(http, &ctx.config.upstream);
    let store = CredentialStore::new(ctx.paths.clone(), ctx.config.auth.credential_store);
    // Decide the store first, so an unusable forced keychain fails before the user
    // goes through a sign-in.
    let choice = store.choose().await?;
    if let Some(warning) = &choice.warning {
        eprintln!("{warning}");
    }
    let timeout_secs = args
        .timeout
        .unwrap_or(ctx.config.auth.login_timeout_seconds);
    let timeout = Duration::from_secs(timeout_secs);
    let print_only = args.no_browser || !ctx.config.auth.open_browser;
    let use_device = args.device || (!print_only && headless(&ctx.env));

    let tokens = if use_device {
        let code = device::request_code(&issuer).await?;
        say("To sign in to ChatGPT, open this page in a browser on any device:");
        say(&format!("  {}", issuer.device_verification_url()));
        say("and enter this code (it expires in 15 minutes):");
        say(&format!("  {}", code.user_code));
        say("Device codes are a common phishing target. Never share this code.");
        say(&format!("Waiting for approval (up to {timeout_secs} s)…"));
        device::complete(&issuer, &code, timeout).await?
    } else {
        let (pending, outcome) =
            PendingBrowserLogin::start(&issuer, ctx.config.auth.callback_port).await?;
        let url = pending.url().to_string();
        say("Sign in to ChatGPT with this URL:");
        say(&url);
        if !print_only {
            match open::that_detached(&url) {
                Ok(()) => say("(opened in your browser; if nothing appeared, open the URL above)"),
                Err(e) => say(&format!(
                    "(could not open a browser: {e}; open the URL above yourself)"
                )),
            }
        }
        say(&format!(
            "Waiting for the sign-in (up to {timeout_secs} s). On a remote machine use `airelays login --device` instead."
        ));
        pending.finish(outcome, timeout).await?
    };

    let creds = Credentials::from_tokens(tokens, jiff::Timestamp::now());
    if let Some(line) = account_change(&ctx, &creds) {
        say(&line);
    }
    {
        // A relay refreshing at this moment must not overwrite the new login.
        let _lock = take_refresh_lock(&ctx).await?;
        store.save(&creds, choice.kind).await?;
    }
    let or_unknown = |v: &Option<String>| v.clone().unwrap_or_else(|| "unknown".into());
    say(&format!(
        "Signed in to ChatGPT as {} (plan {}, account {}).",
        or_unknown(&creds.email),
        or_unknown(&creds.plan),
        or_unknown(&creds.account_id)
    ));
    say(&match choice.kind {
        StoreKind::Keychain => format!(
            "Credentials stored in the OS keychain (service \"airelays\"; index {}).",
            ctx.paths.credentials_index_file().display()
        ),
        StoreKind::File => format!(
            "Credentials stored in {} (mode 0600).",
            ctx.paths.auth_file().display()
        ),
    });
    say("Next: `airelays serve` (a running relay picks up this login by itself).");
    Ok(())
}

/// The line `login` prints before it replaces a stored login of another account.
fn account_change(ctx: &Context, creds: &Credentials) -> Option<String> {
    let (_, old) = crate::auth::store::read_meta(&ctx.paths)?;
    let differs = |a: &Option<String>, b: &Option<String>| {
        a.as_deref()
            .zip(b.as_deref())
            .is_some_and(|(a, b)| !a.eq_ignore_ascii_case(b))
    };
    if !differs(&old.account_id, &creds.account_id) && !differs(&old.email, &creds.email) {
        return None;
    }
    let who = |email: &Option<String>, account: &Option<String>| {
        format!(
            "{} (account {})",
            email.as_deref().unwrap_or("an unknown email"),
            account.as_deref().unwrap_or("unknown")
        )
    };
    Some(format!(
        "Note: this sign-in is for another account: {} replaces the stored login of {}.",
        who(&creds.email, &creds.account_id),
        who(&old.email, &old.account_id)
    ))
}

/// `airelays logout`: forgets the stored ChatGPT credentials.
pub(crate) fn run_logout(ctx: &Context, args: &LogoutArgs) -> CliResult {
    block_on(logout(ctx, args))
}

pub(crate) async fn logout(ctx: &Context, args: &LogoutArgs) -> CliResult {
    let store = CredentialStore::new(ctx.paths.clone(), ctx.config.auth.credential_store);
    // Held from the load through the revoke and the delete: a relay refreshing meanwhile
    // would otherwise save a rotated set we neither revoke nor see (docs/auth.md).
    let _lock = take_refresh_lock(ctx).await?;
    let refresh_token = match store.load().await {
        Ok(stored) => stored.map(|s| s.credentials.tokens.refresh_token),
        Err(e) => {
            eprintln!("warning: {e}; deleting what is stored without revoking it");
            None
        }
    };
    let mut revoked = false;
    if let Some(token) = &refresh_token {
        let http = crate::http::client(&ctx.config.upstream)?;
        let issuer = Issuer::new(http, &ctx.config.upstream);
        match tokio::time::timeout(Duration::from_secs(10), issuer.revoke(token)).await {
            Ok(Ok(())) => revoked = true,
            Ok(Err(e)) => {
                eprintln!("warning: could not revoke the refresh token ({e}); deleting it anyway")
            }
            Err(_) => eprintln!(
                "warning: the sign-in server did not answer the revocation within 10 s; deleting the credentials anyway"
            ),
        }
    }
    let deleted = store.delete().await?;
    if args.json {
        return print_json(&json!({
            "revoked": revoked,
            "deleted": deleted.is_some(),
            "store": deleted.map(StoreKind::as_str),
        }));
    }
    match deleted {
        None => say("No ChatGPT credentials were stored; nothing to do."),
        Some(kind) => {
            let place = match kind {
                StoreKind::Keychain => "the OS keychain".to_string(),
                StoreKind::File => ctx.paths.auth_file().display().to_string(),
            };
            let revoke_note = if revoked {
                "revoked the refresh token and deleted"
            } else {
                "deleted"
            };
            say(&format!(
                "Signed out: {revoke_note} the ChatGPT credentials from {place}."
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn headless_detection() {
        assert!(headless(&env_of(&[
            ("SSH_CONNECTION", "1.2.3.4 5 6.7.8.9 22"),
            ("DISPLAY", ":0")
        ])));
        assert!(headless(&env_of(&[("SSH_TTY", "/dev/pts/1")])));
        if cfg!(target_os = "linux") {
            assert!(headless(&env_of(&[])));
            assert!(headless(&env_of(&[("DISPLAY", " ")])));
            assert!(!headless(&env_of(&[("DISPLAY", ":0")])));
            assert!(!headless(&env_of(&[("WAYLAND_DISPLAY", "wayland-0")])));
        }
    }
}
