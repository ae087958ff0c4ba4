//! `airelays init`: config file, data directory and relay token.

use clap::Args;
use serde_json::json;

use super::{CliResult, Context, Style, print_json};
use crate::{config, fsio, token};

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Configure the relay without a bearer token (loopback only)
    #[arg(long)]
    pub no_auth: bool,
    /// Overwrite an existing config file
    #[arg(long)]
    pub force: bool,
    /// Print the relay token even if it already existed
    #[arg(long)]
    pub show_token: bool,
    /// Print one JSON object
    #[arg(long)]
    pub json: bool,
}

pub fn run(ctx: &Context, args: &InitArgs) -> CliResult {
    let paths = &ctx.paths;
    let data_dir_created = !paths.data_dir.exists();
    fsio::ensure_private_dir(&paths.data_dir)?;

    let config_exists = paths.config_file.exists();
    let write_config = !config_exists || args.force;
    if write_config {
        if let Some(dir) = paths.config_file.parent() {
            fsio::ensure_private_dir(dir)?;
        }
        let mut text = config::commented_example();
        if args.no_auth {
            text = text.replacen(
                "# require_bearer_auth = true",
                "require_bearer_auth = false",
                1,
            );
        }
        fsio::write_private_atomic(&paths.config_file, text.as_bytes())?;
    }

    let auth_required = ctx.config.security.require_bearer_auth && !args.no_auth;
    let token_file = &ctx.config.security.bearer_token_file;
    let token = if auth_required {
        match token::load(token_file, &ctx.env)? {
            Some((t, token::TokenSource::Env)) => Some((t, false, "env")),
            _ => {
                let (t, created) = token::ensure(token_file)?;
                Some((t, created, "file"))
            }
        }
    } else {
        None
    };
    let reveal = token
        .as_ref()
        .is_some_and(|(_, created, _)| *created || args.show_token);

    let next = ["airelays login", "airelays serve"];

    if args.json {
        let token_json = token.as_ref().map(|(t, created, source)| {
            let mut v = json!({
                "source": source,
                "file": token_file.display().to_string(),
                "created": created,
                "fingerprint": t.fingerprint(),
            });
            if reveal {
                v["token"] = json!(t.expose());
            }
            v
        });
        return print_json(&json!({
            "config": {
                "path": paths.config_file.display().to_string(),
                "created": write_config,
            },
            "data_dir": {"path": paths.data_dir.display().to_string(), "created": data_dir_created},
            "relay_token": token_json,
            "auth_required": auth_required,
            "next_steps": next,
        }));
    }

    let style = Style::stdout();
    let state = |created: bool| {
        if created {
            style.green("created")
        } else {
            "exists".into()
        }
    };
    outln!(
        "Config       {} ({})",
        paths.config_file.display(),
        state(write_config)
    );
    outln!(
        "Data dir     {} ({})",
        paths.data_dir.display(),
        state(data_dir_created)
    );
    match &token {
        Some((t, created, "env")) => {
            let _ = created;
            outln!(
                "Relay token  from AIRELAYS_BEARER_TOKEN (fingerprint {})",
                t.fingerprint()
            );
        }
        Some((t, created, _)) => {
            outln!(
                "Relay token  {} ({}, fingerprint {})",
                token_file.display(),
                state(*created),
                t.fingerprint()
            );
            if reveal {
                outln!();
                outln!("  {}", style.bold(t.expose()));
                outln!(
                    "  Clients send it as: Authorization: Bearer <token> (e.g. OPENAI_API_KEY)."
                );
                if *created {
                    outln!("  It is shown once; `airelays token show` prints it again.");
                }
            }
        }
        None => outln!("Relay token  none (bearer auth disabled; loopback only)"),
    }
    outln!();
    outln!("Next: `airelays login`, then `airelays serve`.");
    Ok(())
}
