//! `airelays state clear|check`: the local state store (docs/architecture.md,
//! "The state store") from the command line.

use clap::Subcommand;
use serde_json::json;

use super::token::JsonFlag;
use super::{CliError, CliResult, Context, print_json};

#[derive(Debug, Subcommand)]
pub(crate) enum StateCommand {
    /// Delete every stored response and conversation (a running relay keeps serving)
    #[command(after_help = "Example:\n  airelays state clear")]
    Clear(JsonFlag),
    /// Run a full integrity check of the state database
    #[command(after_help = "Example:\n  airelays state check")]
    Check(JsonFlag),
}

/// `airelays state clear` / `check`.
pub(crate) fn run(ctx: &Context, cmd: &StateCommand) -> CliResult {
    let data_dir = &ctx.paths.data_dir;
    let path = data_dir.join(crate::state::FILE_NAME);
    match cmd {
        StateCommand::Clear(flags) => {
            crate::state::clear_on_disk(data_dir).map_err(CliError::new)?;
            if flags.json {
                return print_json(&json!({"cleared": true, "path": path.display().to_string()}));
            }
            outln!(
                "Deleted every stored response and conversation in {}.",
                path.display()
            );
            Ok(())
        }
        StateCommand::Check(flags) => {
            let result = crate::state::check_on_disk(data_dir);
            if flags.json {
                print_json(
                    &json!({"ok": result.is_ok(), "path": path.display().to_string(), "error": result.as_ref().err()}),
                )?;
            } else if result.is_ok() && !path.exists() {
                outln!("{}: does not exist yet (nothing stored)", path.display());
            } else if result.is_ok() {
                outln!("{}: ok (integrity check passed)", path.display());
            }
            result.map_err(CliError::new)
        }
    }
}
