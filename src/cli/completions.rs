//! `airelays completions <shell>`: the same scripts that are committed under
//! `completions/` (a test keeps them in sync).

use clap::{Args, CommandFactory};
use clap_complete::Shell;

use super::{Cli, CliResult};

#[derive(Debug, Args)]
pub(crate) struct CompletionsArgs {
    /// Shell to generate for
    #[arg(value_enum)]
    pub(crate) shell: Shell,
}

/// The completion script for a shell.
pub(crate) fn render(shell: Shell) -> Vec<u8> {
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, "airelays", &mut out);
    out
}

/// Prints the completion script for the asked shell.
pub(crate) fn run(args: &CompletionsArgs) -> CliResult {
    use std::io::Write;
    std::io::stdout().write_all(&render(args.shell))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The file name under `completions/` for each shell.
    fn file_name(shell: Shell) -> &'static str {
        match shell {
            Shell::Bash => "airelays.bash",
            Shell::Zsh => "_airelays",
            Shell::Fish => "airelays.fish",
            Shell::PowerShell => "_airelays.ps1",
            Shell::Elvish => "airelays.elv",
            _ => "airelays.txt",
        }
    }

    #[test]
    fn committed_completions_are_current() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("completions");
        let update = std::env::var_os("AIRELAYS_UPDATE_COMPLETIONS").is_some();
        for shell in [
            Shell::Bash,
            Shell::Zsh,
            Shell::Fish,
            Shell::PowerShell,
            Shell::Elvish,
        ] {
            let path = dir.join(file_name(shell));
            let want = render(shell);
            if update {
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(&path, &want).unwrap();
            }
            let have = std::fs::read(&path).unwrap_or_default();
            assert!(
                have == want,
                "{} is stale — regenerate with `AIRELAYS_UPDATE_COMPLETIONS=1 cargo test --lib completions`",
                path.display()
            );
        }
    }
}
