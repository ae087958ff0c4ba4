//! `airelays completions <shell>`: the same scripts that are committed under
//! `completions/` (a test keeps them in sync).
//!
//! clap generates them from the one definition of the flags; bash, zsh and fish
//! then get one addition clap cannot express: the values of `--account` (`login`,
//! `logout`) and the name of `accounts remove` complete to the signed-in accounts,
//! which the scripts ask the hidden `airelays accounts --names` for (local
//! metadata only, the default data directory: a `--data-dir` typed on the same
//! line is not followed). PowerShell and Elvish complete the flag, not its value.

use clap::{Args, CommandFactory};
use clap_complete::Shell;

use super::{Cli, CliResult};

#[derive(Debug, Args)]
pub(crate) struct CompletionsArgs {
    /// Shell to generate for
    #[arg(value_enum)]
    pub(crate) shell: Shell,
}

/// The command the scripts run to list the account names.
const NAMES: &str = "airelays accounts --names 2>/dev/null";

/// The completion script for a shell.
pub(crate) fn render(shell: Shell) -> Vec<u8> {
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, "airelays", &mut out);
    let script = String::from_utf8_lossy(&out).into_owned();
    with_account_names(shell, script).into_bytes()
}

/// `script` with the account names completed where the shell allows it. Each
/// edit replaces text clap generates; a test fails if clap's output changes so
/// that an edit no longer applies.
fn with_account_names(shell: Shell, script: String) -> String {
    match shell {
        Shell::Bash => bash(script),
        Shell::Zsh => zsh(script),
        Shell::Fish => fish(script),
        _ => script,
    }
}

fn bash(script: String) -> String {
    let names = format!("COMPREPLY=($(compgen -W \"$({NAMES})\" -- \"${{cur}}\"))");
    let script = script.replace(
        "--account)\n                    COMPREPLY=($(compgen -f \"${cur}\"))",
        &format!("--account)\n                    {names}"),
    );
    // `accounts remove NAME`: the name at its position, the options after a `-`.
    let block = "airelays__subcmd__accounts__subcmd__remove)\n";
    let position = "            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then\n";
    let Some(start) = script.find(block) else {
        return script;
    };
    let Some(at) = script[start..].find(position).map(|i| start + i) else {
        return script;
    };
    let names_first = format!(
        "            if [[ ${{cur}} != -* && ${{COMP_CWORD}} -eq 3 ]] ; then\n                {names}\n                return 0\n            fi\n"
    );
    let mut out = script;
    out.insert_str(at, &names_first);
    out
}

fn zsh(script: String) -> String {
    let function = format!(
        "(( $+functions[_airelays_account_names] )) ||\n_airelays_account_names() {{\n    local -a names; names=(${{(f)\"$({NAMES})\"}})\n    _describe -t accounts 'account' names\n}}\n\n"
    );
    let script = script
        .replace("]:NAME:_default' \\", "]:NAME:_airelays_account_names' \\")
        .replace(
            "':name -- The account to remove:_default' \\",
            "':name -- The account to remove:_airelays_account_names' \\",
        );
    match script.find("if [ \"$funcstack[1]\" = \"_airelays\" ]; then") {
        Some(at) => {
            let mut out = script;
            out.insert_str(at, &function);
            out
        }
        None => script,
    }
}

fn fish(script: String) -> String {
    let values = format!(" -f -a \"({NAMES})\"");
    let mut out = String::with_capacity(script.len() + 256);
    for line in script.lines() {
        out.push_str(line);
        if line.contains(" -l account ") && line.ends_with(" -r") {
            out.push_str(&values);
        }
        out.push('\n');
    }
    out.push_str(&format!(
        "complete -c airelays -n \"__fish_airelays_using_subcommand accounts; and __fish_seen_subcommand_from remove\"{values}\n"
    ));
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
    fn account_names_complete_in_bash_zsh_and_fish() {
        let text = |shell| String::from_utf8(render(shell)).unwrap();
        // `login --account`, `logout --account` and `accounts remove NAME`.
        assert_eq!(text(Shell::Bash).matches(NAMES).count(), 3);
        let zsh = text(Shell::Zsh);
        assert_eq!(zsh.matches(":_airelays_account_names'").count(), 3);
        assert_eq!(zsh.matches("_airelays_account_names() {").count(), 1);
        assert_eq!(text(Shell::Fish).matches(NAMES).count(), 3);
        for shell in [Shell::PowerShell, Shell::Elvish] {
            assert!(
                text(shell).contains("--account"),
                "{shell:?}: the flag itself"
            );
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
