//! The Windows scheduled task (and its fallback, an `HKCU\…\Run` entry): pure
//! functions of the [`ServiceSpec`], checked against golden files on every OS.
//!
//! The task starts at the current user's logon only (the trigger and the
//! principal name the user's SID), runs with the user's own rights
//! (`LeastPrivilege`, `InteractiveToken`: registering it needs no elevation), and
//! runs the relay under `conhost.exe --headless`, so no console window opens. A
//! task has no environment of its own, so carried variables are set by
//! `cmd.exe /d /c "set "K=V"&& …"` in front of the relay; values holding `"`, `%`,
//! `^`, `&`, `|`, `<`, `>` or `!` cannot be written that way and are not carried
//! ([`cmd_safe`]).

use super::plist::xml;
use super::spec::ServiceSpec;

/// The task's name (in the root folder of the Task Scheduler library).
pub(crate) const TASK_NAME: &str = "airelays";

/// The value name of the `HKCU\Software\Microsoft\Windows\CurrentVersion\Run`
/// fallback.
pub(crate) const RUN_VALUE: &str = "airelays";

/// `conhost.exe` in the system directory: `--headless` gives the relay a console
/// that is never shown.
const CONHOST: &str = r"C:\Windows\System32\conhost.exe";

/// Whether a variable's value can be set through `cmd.exe`'s `set "K=V"`.
pub(crate) fn cmd_safe(value: &str) -> bool {
    !value
        .chars()
        .any(|c| matches!(c, '"' | '%' | '^' | '&' | '|' | '<' | '>' | '!'))
}

/// The task's `<Command>` and `<Arguments>`.
fn command(spec: &ServiceSpec) -> (String, String) {
    let mut relay = vec![quote(&spec.program.display().to_string())];
    relay.extend(spec.args.iter().map(|a| quote(a)));
    let relay = relay.join(" ");
    let carried: Vec<String> = spec
        .env
        .iter()
        .filter(|(_, v)| cmd_safe(v))
        .map(|(k, v)| format!("set \"{k}={v}\"&& "))
        .collect();
    let args = if carried.is_empty() {
        format!("--headless {relay}")
    } else {
        format!(
            "--headless cmd.exe /d /s /c \"{}{relay}\"",
            carried.concat()
        )
    };
    (CONHOST.to_string(), args)
}

/// The command line of the `Run` entry (the fallback when no task can be registered).
pub(crate) fn run_entry(spec: &ServiceSpec) -> String {
    let (program, args) = command(spec);
    format!("{} {args}", quote(&program))
}

/// The task's XML (UTF-16 when written to disk, as the Task Scheduler expects).
/// `user_id` is the current user's SID (`S-1-5-21-…`).
pub(crate) fn render(spec: &ServiceSpec, user_id: &str) -> String {
    let (program, args) = command(spec);
    let user = xml(user_id);
    format!(
        r#"<?xml version="1.0" encoding="UTF-16"?>
<!-- Written by `airelays service install`; `airelays service uninstall` removes it. -->
<Task version="1.2" xmlns="http://schemas.microsoft.com/windows/2004/02/mit/task">
  <RegistrationInfo>
    <Description>airelays: the ChatGPT subscription relay</Description>
    <URI>\{TASK_NAME}</URI>
  </RegistrationInfo>
  <Triggers>
    <LogonTrigger>
      <Enabled>true</Enabled>
      <UserId>{user}</UserId>
    </LogonTrigger>
  </Triggers>
  <Principals>
    <Principal id="Author">
      <UserId>{user}</UserId>
      <LogonType>InteractiveToken</LogonType>
      <RunLevel>LeastPrivilege</RunLevel>
    </Principal>
  </Principals>
  <Settings>
    <MultipleInstancesPolicy>IgnoreNew</MultipleInstancesPolicy>
    <DisallowStartIfOnBatteries>false</DisallowStartIfOnBatteries>
    <StopIfGoingOnBatteries>false</StopIfGoingOnBatteries>
    <ExecutionTimeLimit>PT0S</ExecutionTimeLimit>
    <RestartOnFailure>
      <Interval>PT1M</Interval>
      <Count>3</Count>
    </RestartOnFailure>
    <Hidden>true</Hidden>
    <Enabled>true</Enabled>
  </Settings>
  <Actions Context="Author">
    <Exec>
      <Command>{}</Command>
      <Arguments>{}</Arguments>
    </Exec>
  </Actions>
</Task>
"#,
        xml(&program),
        xml(&args)
    )
}

/// One argument as `CommandLineToArgvW` reads it back: quoted when it holds a
/// blank or a quote, backslashes before a quote doubled.
fn quote(arg: &str) -> String {
    if !arg.is_empty() && !arg.chars().any(|c| c == ' ' || c == '\t' || c == '"') {
        return arg.to_string();
    }
    let mut out = String::from("\"");
    let mut backslashes = 0;
    for c in arg.chars() {
        match c {
            '\\' => backslashes += 1,
            '"' => {
                out.push_str(&"\\".repeat(backslashes * 2 + 1));
                out.push('"');
                backslashes = 0;
            }
            c => {
                out.push_str(&"\\".repeat(backslashes));
                out.push(c);
                backslashes = 0;
            }
        }
    }
    out.push_str(&"\\".repeat(backslashes * 2));
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_are_quoted_as_windows_reads_them() {
        assert_eq!(quote("serve"), "serve");
        assert_eq!(
            quote(r"C:\Program Files\a.exe"),
            r#""C:\Program Files\a.exe""#
        );
        assert_eq!(quote(r"C:\dir with space\"), r#""C:\dir with space\\""#);
        assert_eq!(quote(r#"a"b"#), r#""a\"b""#);
        assert_eq!(quote(""), r#""""#);
    }

    #[test]
    fn values_cmd_cannot_set_are_left_out() {
        assert!(cmd_safe("http://proxy:3128"));
        assert!(!cmd_safe("50%"));
        assert!(!cmd_safe("a&b"));
    }
}
