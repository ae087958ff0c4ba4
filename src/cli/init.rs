//! `airelays init`: config file, data directory and relay token.

use clap::Args;
use serde_json::json;

use super::{CliError, CliResult, Context, Style, print_json};
use crate::{config, fsio, token};

#[derive(Debug, Args)]
pub(crate) struct InitArgs {
    /// Configure the relay without a bearer token (loopback only)
    #[arg(long)]
    pub(crate) no_auth: bool,
    /// Overwrite an existing config file
    #[arg(long)]
    pub(crate) force: bool,
    /// Print the relay token even if it already existed
    #[arg(long)]
    pub(crate) show_token: bool,
    /// Print one JSON object
    #[arg(long)]
    pub(crate) json: bool,
}

/// Creates the data directory, the config file (unless it exists) and the relay
/// token (unless auth is off or the environment supplies one), then reports.
pub(crate) fn run(ctx: &Context, args: &InitArgs) -> CliResult {
    let paths = &ctx.paths;
    let data_dir_created = !paths.data_dir.exists();
    fsio::ensure_private_dir(&paths.data_dir)?;
    let config_written = write_config(ctx, args)?;

    let auth_required = ctx.config.security.require_bearer_auth && !args.no_auth;
    let token = if auth_required {
        Some(relay_token(ctx, args)?)
    } else {
        None
    };
    let outcome = Outcome {
        data_dir_created,
        config_written,
        auth_required,
        token,
    };
    if args.json {
        return print_json(&outcome.to_json(ctx));
    }
    outcome.print(ctx);
    Ok(())
}

/// What `init` did.
struct Outcome {
    data_dir_created: bool,
    config_written: bool,
    auth_required: bool,
    token: Option<InitToken>,
}

/// The relay token `init` found or made.
struct InitToken {
    token: token::RelayToken,
    created: bool,
    /// `env` or `file`.
    source: &'static str,
    /// Print the token itself: it is new, or `--show-token` asked for it.
    reveal: bool,
}

/// Writes the commented example config unless one exists (or `--force`); returns
/// whether it wrote.
fn write_config(ctx: &Context, args: &InitArgs) -> Result<bool, CliError> {
    let paths = &ctx.paths;
    if paths.config_file.exists() && !args.force {
        return Ok(false);
    }
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
    Ok(true)
}

/// The token from the environment, else the token file (created if missing).
fn relay_token(ctx: &Context, args: &InitArgs) -> Result<InitToken, CliError> {
    let token_file = &ctx.config.security.bearer_token_file;
    let (token, created, source) = match token::load(token_file, &ctx.env)? {
        Some((t, token::TokenSource::Env)) => (t, false, "env"),
        _ => {
            let (t, created) = token::ensure(token_file)?;
            (t, created, "file")
        }
    };
    Ok(InitToken {
        token,
        created,
        source,
        reveal: created || args.show_token,
    })
}

impl Outcome {
    /// The `--json` report.
    fn to_json(&self, ctx: &Context) -> serde_json::Value {
        let paths = &ctx.paths;
        let token_file = &ctx.config.security.bearer_token_file;
        let token_json = self.token.as_ref().map(|t| {
            let mut v = json!({
                "source": t.source,
                "file": token_file.display().to_string(),
                "created": t.created,
                "fingerprint": t.token.fingerprint(),
            });
            if t.reveal {
                v["token"] = json!(t.token.expose());
            }
            v
        });
        json!({
            "config": {
                "path": paths.config_file.display().to_string(),
                "created": self.config_written,
            },
            "data_dir": {"path": paths.data_dir.display().to_string(), "created": self.data_dir_created},
            "relay_token": token_json,
            "auth_required": self.auth_required,
            "next_steps": NEXT_STEPS,
        })
    }

    /// The human report.
    fn print(&self, ctx: &Context) {
        let paths = &ctx.paths;
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
            state(self.config_written)
        );
        outln!(
            "Data dir     {} ({})",
            paths.data_dir.display(),
            state(self.data_dir_created)
        );
        match &self.token {
            Some(t) if t.source == "env" => {
                outln!(
                    "Relay token  from AIRELAYS_BEARER_TOKEN (fingerprint {})",
                    t.token.fingerprint()
                );
            }
            Some(t) => {
                outln!(
                    "Relay token  {} ({}, fingerprint {})",
                    ctx.config.security.bearer_token_file.display(),
                    state(t.created),
                    t.token.fingerprint()
                );
                if t.reveal {
                    outln!();
                    outln!("  {}", style.bold(t.token.expose()));
                    outln!(
                        "  Clients send it as: Authorization: Bearer <token> (e.g. OPENAI_API_KEY)."
                    );
                    if t.created {
                        outln!("  It is shown once; `airelays token show` prints it again.");
                    }
                }
            }
            None => outln!("Relay token  none (bearer auth disabled; loopback only)"),
        }
        outln!();
        outln!("Next: `airelays login`, then `airelays serve`.");
    }
}

/// The commands to run after `init`.
const NEXT_STEPS: [&str; 2] = ["airelays login", "airelays serve"];
