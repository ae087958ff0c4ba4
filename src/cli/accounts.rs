//! `airelays accounts`: the signed-in ChatGPT accounts from local metadata (never the
//! keychain, never the network), and `accounts remove NAME` (revoke and delete, as
//! `logout --account NAME`).

use clap::{Args, Subcommand};

use super::login::{LogoutArgs, block_on, logout};
use super::output::Section;
use super::{CliError, CliResult, Context, Style, print_json};
use crate::auth::accounts::{self, DEFAULT_ACCOUNT};

#[derive(Debug, Args)]
pub(crate) struct AccountsArgs {
    /// Print one JSON object: {"accounts": [...]}
    #[arg(long)]
    pub(crate) json: bool,
    /// Print only the names, one a line (the shell completions use it)
    #[arg(long, conflicts_with = "json")]
    pub(crate) names: bool,
    #[command(subcommand)]
    pub(crate) command: Option<AccountsCommand>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum AccountsCommand {
    /// Revoke and delete an account's credentials (as `logout --account NAME`)
    Remove {
        /// The account to remove
        name: String,
        /// Print one JSON object: {"revoked", "deleted", "store"}
        #[arg(long)]
        json: bool,
    },
}

/// Runs `accounts` or `accounts remove`.
pub(crate) fn run(ctx: &Context, args: &AccountsArgs) -> CliResult {
    match &args.command {
        Some(AccountsCommand::Remove { name, json }) => remove(ctx, name, *json),
        None if args.names => names(ctx),
        None => list(ctx, args.json),
    }
}

/// The signed-in accounts' names, one a line, from local metadata only (fast and
/// quiet: the shell completions run it on every Tab).
fn names(ctx: &Context) -> CliResult {
    for name in accounts::list(&ctx.paths) {
        outln!("{name}");
    }
    Ok(())
}

fn list(ctx: &Context, json: bool) -> CliResult {
    let entries =
        live_statuses(ctx).unwrap_or_else(|| accounts::local_statuses(&ctx.paths, &ctx.config));
    if json {
        return print_json(&serde_json::json!({ "accounts": entries }));
    }
    if entries.is_empty() {
        outln!("No ChatGPT account is signed in. Run `airelays login`.");
        return Ok(());
    }
    let style = Style::stdout();
    for e in &entries {
        let unknown = |v: &Option<String>| v.clone().unwrap_or_else(|| "unknown".into());
        let mut section = Section::new(&e.name)
            .row("email", unknown(&e.upstream.email))
            .row("plan", unknown(&e.upstream.plan))
            .row("state", e.upstream.state.as_str());
        if let (Some(why), Some(secs)) = (&e.benched, e.benched_for_seconds) {
            section = section.row("benched", format!("{why}, for {secs} s"));
        }
        if let Some(usage) = &e.usage {
            let windows: Vec<String> = usage
                .windows
                .iter()
                .map(|w| format!("{} {:.0}%", w.id, w.used_percent))
                .collect();
            section = section.row("usage", windows.join(", "));
        }
        if let Some(models) = &e.models {
            section = section.row("models", models.join(", "));
        }
        if let Some(detail) = e.last_error.as_ref().or(e.upstream.detail.as_ref()) {
            section = section.row("last error", detail.clone());
        }
        out!("{}", section.render(&style));
    }
    Ok(())
}

/// The accounts as the running relay sees them (benches, usage, models, last
/// errors), when a relay runs with two or more accounts and answers within 3 s.
fn live_statuses(ctx: &Context) -> Option<Vec<crate::status::AccountStatus>> {
    let relay = crate::status::running_relay(&ctx.paths)?;
    let (token, _) =
        crate::token::load(&ctx.config.security.bearer_token_file, &ctx.env).ok()??;
    let base = relay.base_url.trim_end_matches("/v1");
    let url = format!(
        "{}/v1/relay/status",
        base.replace("://0.0.0.0:", "://127.0.0.1:")
            .replace("://[::]:", "://[::1]:")
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .ok()?;
    crate::http::install_crypto_provider();
    let doc: serde_json::Value = rt.block_on(async {
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(std::time::Duration::from_secs(3))
            .build()
            .ok()?;
        let resp = client
            .get(&url)
            .bearer_auth(token.expose())
            .send()
            .await
            .ok()?;
        resp.json().await.ok()
    })?;
    serde_json::from_value(doc.get("accounts")?.clone()).ok()
}

fn remove(ctx: &Context, name: &str, json: bool) -> CliResult {
    accounts::validate_name(name).map_err(|e| CliError::with_code(e, 2))?;
    if !accounts::is_signed_in(&ctx.paths, name) {
        return Err(CliError::new(format!(
            "no account named {name:?} is signed in — `airelays accounts` lists them"
        )));
    }
    let account_ctx = Context {
        paths: accounts::account_paths(&ctx.paths, name),
        config: ctx.config.clone(),
        env: ctx.env,
    };
    let logout_args = LogoutArgs {
        json,
        account: Some(name.to_owned()),
    };
    block_on(async { logout(&account_ctx, &logout_args).await })?;
    if name != DEFAULT_ACCOUNT {
        // The credentials are gone; the directory (its lock file and saved usage)
        // goes too.
        let _ = std::fs::remove_file(account_ctx.paths.refresh_lock_file());
        let _ = std::fs::remove_file(account_ctx.paths.usage_file());
        let _ = std::fs::remove_dir(&account_ctx.paths.data_dir);
    }
    Ok(())
}
