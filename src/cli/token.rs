//! `airelays token show|rotate`.

use clap::{Args, Subcommand};
use serde_json::json;

use super::{CliError, CliResult, Context, Style, print_json};
use crate::token::{self, RelayToken, TokenSource};

#[derive(Debug, Subcommand)]
pub(crate) enum TokenCommand {
    /// Print the relay token and the header clients send
    #[command(
        after_help = "Example:\n  airelays token show\n  export OPENAI_API_KEY=$(airelays token show --json | jq -r .token)"
    )]
    Show(JsonFlag),
    /// Replace the relay token; a running relay accepts only the new one within 1 s
    #[command(after_help = "Example:\n  airelays token rotate")]
    Rotate(JsonFlag),
}

#[derive(Debug, Args)]
pub(crate) struct JsonFlag {
    /// Print one JSON object
    #[arg(long)]
    pub(crate) json: bool,
}

/// `airelays token show` / `rotate`.
pub(crate) fn run(ctx: &Context, cmd: &TokenCommand) -> CliResult {
    let file = &ctx.config.security.bearer_token_file;
    match cmd {
        TokenCommand::Show(flags) => {
            let Some((t, source)) = token::load(file, &ctx.env)? else {
                return Err(CliError::new(format!(
                    "no relay token at {} — run `airelays init` to create one",
                    file.display()
                )));
            };
            print_token(&t, &source, false, flags.json)
        }
        TokenCommand::Rotate(flags) => {
            let t = token::rotate(file, &ctx.env)?;
            print_token(&t, &TokenSource::File(file.clone()), true, flags.json)
        }
    }
}

fn print_token(t: &RelayToken, source: &TokenSource, rotated: bool, json: bool) -> CliResult {
    let header = format!("Authorization: Bearer {}", t.expose());
    if json {
        let file = match source {
            TokenSource::File(p) => Some(p.display().to_string()),
            TokenSource::Env => None,
        };
        let mut v = json!({
            "token": t.expose(),
            "fingerprint": t.fingerprint(),
            "source": source.label(),
            "file": file,
            "header": header,
        });
        if rotated {
            v["rotated"] = json!(true);
        }
        return print_json(&v);
    }
    let style = Style::stdout();
    if rotated {
        outln!(
            "{}",
            style.green("New relay token (the old one stops working within a second):")
        );
    }
    outln!("{}", t.expose());
    outln!(
        "{}",
        style.dim(&format!(
            "fingerprint {}  ·  send it as: {header}",
            t.fingerprint()
        ))
    );
    Ok(())
}
