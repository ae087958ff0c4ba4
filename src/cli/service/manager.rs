//! The user's service manager: systemd (`systemctl --user`) on Linux, launchd
//! (`launchctl … gui/<uid>`) on macOS, the Task Scheduler (`schtasks`, else the
//! `HKCU\…\Run` key through `reg`) on Windows. Chosen at run time from the OS, and
//! compiled everywhere, so all three are type-checked and linted on every build;
//! only the Linux one is exercised by the tests (tests/it/service.rs).

use std::path::Path;

use super::runner::{self, ACTION_TIMEOUT, QUERY_TIMEOUT, Ran};
use super::{plist, task, unit};

/// A service manager.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Manager {
    /// systemd's user instance.
    Systemd,
    /// launchd's per-user (GUI) domain.
    Launchd,
    /// The Windows Task Scheduler.
    TaskScheduler,
}

/// What the manager says about the service.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ServiceState {
    /// Whether the relay process runs under the manager.
    pub(crate) running: bool,
    /// The manager's own words (`active (running)`, `inactive (dead)`, …).
    pub(crate) state: String,
    /// The relay's process id, when the manager says it.
    pub(crate) pid: Option<u32>,
}

/// The registry key of the Windows fallback.
const RUN_KEY: &str = r"HKCU\Software\Microsoft\Windows\CurrentVersion\Run";

impl Manager {
    /// This OS's manager.
    pub(crate) fn current() -> Manager {
        if cfg!(target_os = "macos") {
            Manager::Launchd
        } else if cfg!(windows) {
            Manager::TaskScheduler
        } else {
            Manager::Systemd
        }
    }

    /// The manager's name as the output shows it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Manager::Systemd => "systemd (user)",
            Manager::Launchd => "launchd (gui domain)",
            Manager::TaskScheduler => "Task Scheduler",
        }
    }

    /// Whether the manager answers: `Err` says, in words, why not.
    pub(crate) fn probe(self) -> Result<(), String> {
        match self {
            Manager::Systemd => {
                // Any question the manager must answer itself (`is-system-running`
                // answers "offline" without asking it where /run/systemd/system is missing).
                let ran = systemctl(&["show-environment"], QUERY_TIMEOUT)?;
                ok_or_why(&ran, "systemd's user instance does not answer")
            }
            Manager::Launchd => {
                let ran = runner::run("launchctl", &["print", &gui_domain()?], QUERY_TIMEOUT)?;
                ok_or_why(&ran, "launchd's GUI domain does not answer")
            }
            Manager::TaskScheduler => {
                let ran = runner::run("schtasks", &["/Query", "/FO", "CSV", "/NH"], QUERY_TIMEOUT)?;
                ok_or_why(&ran, "the Task Scheduler does not answer")
            }
        }
    }

    /// Registers and starts the service whose file was just written to `file`.
    /// Returns a note on how it was registered.
    pub(crate) fn enable(self, file: &Path, run_entry: &str) -> Result<String, String> {
        match self {
            Manager::Systemd => {
                action(systemctl(&["daemon-reload"], ACTION_TIMEOUT)?)?;
                action(systemctl(&["enable", unit::UNIT_NAME], ACTION_TIMEOUT)?)?;
                // restart, not start: a second install applies the new unit.
                action(systemctl(&["restart", unit::UNIT_NAME], ACTION_TIMEOUT)?)?;
                Ok(format!(
                    "enabled and started with `systemctl --user` ({})",
                    unit::UNIT_NAME
                ))
            }
            Manager::Launchd => {
                let domain = gui_domain()?;
                // Unloaded first, so a second install loads the new plist.
                let _ = launchctl(&["bootout", &format!("{domain}/{}", plist::LABEL)]);
                let path = file.display().to_string();
                action(launchctl(&["bootstrap", &domain, &path])?)?;
                Ok(format!("loaded with `launchctl bootstrap {domain}`"))
            }
            Manager::TaskScheduler => {
                let path = file.display().to_string();
                let create = ["/Create", "/TN", task::TASK_NAME, "/XML", &path, "/F"];
                match runner::run("schtasks", &create, ACTION_TIMEOUT).and_then(action) {
                    Ok(()) => {
                        let _ = runner::run(
                            "schtasks",
                            &["/Run", "/TN", task::TASK_NAME],
                            ACTION_TIMEOUT,
                        );
                        Ok("registered as the scheduled task `airelays` (at your logon) and started".into())
                    }
                    Err(why) => {
                        let add = [
                            "add",
                            RUN_KEY,
                            "/v",
                            task::RUN_VALUE,
                            "/t",
                            "REG_SZ",
                            "/d",
                            run_entry,
                            "/f",
                        ];
                        action(runner::run("reg", &add, ACTION_TIMEOUT)?)?;
                        Ok(format!(
                            "no scheduled task could be registered ({why}); added `{}` to {RUN_KEY} instead: it starts at your next logon",
                            task::RUN_VALUE
                        ))
                    }
                }
            }
        }
    }

    /// Stops and unregisters the service (best effort: what is not registered is
    /// not an error).
    pub(crate) fn disable(self) {
        match self {
            Manager::Systemd => {
                let _ = systemctl(&["disable", "--now", unit::UNIT_NAME], ACTION_TIMEOUT);
            }
            Manager::Launchd => {
                if let Ok(domain) = gui_domain() {
                    let _ = launchctl(&["bootout", &format!("{domain}/{}", plist::LABEL)]);
                }
            }
            Manager::TaskScheduler => {
                let _ = runner::run(
                    "schtasks",
                    &["/End", "/TN", task::TASK_NAME],
                    ACTION_TIMEOUT,
                );
                let _ = runner::run(
                    "schtasks",
                    &["/Delete", "/TN", task::TASK_NAME, "/F"],
                    ACTION_TIMEOUT,
                );
                let _ = runner::run(
                    "reg",
                    &["delete", RUN_KEY, "/v", task::RUN_VALUE, "/f"],
                    ACTION_TIMEOUT,
                );
            }
        }
    }

    /// Reloads the manager's view after the file is gone.
    pub(crate) fn forget(self) {
        if self == Manager::Systemd {
            let _ = systemctl(&["daemon-reload"], ACTION_TIMEOUT);
        }
    }

    /// Starts (`start = true`) or stops the installed service.
    pub(crate) fn start_stop(self, start: bool) -> Result<(), String> {
        match self {
            Manager::Systemd => {
                let verb = if start { "start" } else { "stop" };
                action(systemctl(&[verb, unit::UNIT_NAME], ACTION_TIMEOUT)?)
            }
            Manager::Launchd => {
                let target = format!("{}/{}", gui_domain()?, plist::LABEL);
                let args: &[&str] = if start {
                    &["kickstart", &target]
                } else {
                    &["kill", "SIGTERM", &target]
                };
                action(launchctl(args)?)
            }
            Manager::TaskScheduler => {
                let verb = if start { "/Run" } else { "/End" };
                action(runner::run(
                    "schtasks",
                    &[verb, "/TN", task::TASK_NAME],
                    ACTION_TIMEOUT,
                )?)
            }
        }
    }

    /// What the manager says about the service, within the 2 s query timeout.
    pub(crate) fn query(self) -> Result<ServiceState, String> {
        match self {
            Manager::Systemd => {
                let props = "--property=ActiveState,SubState,MainPID";
                let ran = systemctl(&["show", unit::UNIT_NAME, props], QUERY_TIMEOUT)?;
                ok_or_why(&ran, "systemd's user instance does not answer")?;
                Ok(parse_systemd_show(&ran.stdout))
            }
            Manager::Launchd => {
                let target = format!("{}/{}", gui_domain()?, plist::LABEL);
                let ran = runner::run("launchctl", &["print", &target], QUERY_TIMEOUT)?;
                if !ran.ok {
                    return Ok(ServiceState {
                        state: "not loaded".into(),
                        ..Default::default()
                    });
                }
                Ok(parse_launchctl_print(&ran.stdout))
            }
            Manager::TaskScheduler => {
                let args = ["/Query", "/TN", task::TASK_NAME, "/FO", "CSV", "/NH"];
                let ran = runner::run("schtasks", &args, QUERY_TIMEOUT)?;
                let state = ran
                    .stdout
                    .trim()
                    .rsplit(',')
                    .next()
                    .unwrap_or("")
                    .trim_matches('"');
                Ok(ServiceState {
                    running: state.eq_ignore_ascii_case("Running"),
                    state: if ran.ok {
                        state.to_string()
                    } else {
                        "not registered".into()
                    },
                    pid: None,
                })
            }
        }
    }

    /// Whether the service's environment has a session bus (the keychain on Linux
    /// is reached through it); `None` when the manager cannot say.
    pub(crate) fn has_session_bus(self) -> Option<bool> {
        match self {
            Manager::Systemd => {
                let ran = systemctl(&["show-environment"], QUERY_TIMEOUT).ok()?;
                ran.ok.then(|| {
                    ran.stdout
                        .lines()
                        .any(|l| l.starts_with("DBUS_SESSION_BUS_ADDRESS="))
                })
            }
            // A LaunchAgent and a logon task run in the user's session, with its keychain.
            Manager::Launchd | Manager::TaskScheduler => Some(true),
        }
    }
}

fn systemctl(args: &[&str], timeout: std::time::Duration) -> Result<Ran, String> {
    let mut all = vec!["--user"];
    all.extend_from_slice(args);
    runner::run("systemctl", &all, timeout)
}

fn launchctl(args: &[&str]) -> Result<Ran, String> {
    runner::run("launchctl", args, ACTION_TIMEOUT)
}

/// `gui/<uid>`, the current user's launchd domain.
fn gui_domain() -> Result<String, String> {
    let ran = runner::run("id", &["-u"], QUERY_TIMEOUT)?;
    let uid = ran.stdout.trim();
    if ran.ok && !uid.is_empty() && uid.chars().all(|c| c.is_ascii_digit()) {
        Ok(format!("gui/{uid}"))
    } else {
        Err(format!("cannot tell the user id ({})", ran.why()))
    }
}

fn action(ran: Ran) -> Result<(), String> {
    ok_or_why(&ran, "the service manager refused")
}

fn ok_or_why(ran: &Ran, what: &str) -> Result<(), String> {
    if ran.ok {
        Ok(())
    } else {
        Err(format!("{what}: {}", ran.why()))
    }
}

/// `systemctl show -p ActiveState,SubState,MainPID` output.
fn parse_systemd_show(text: &str) -> ServiceState {
    let get = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
            .unwrap_or("")
            .trim()
            .to_string()
    };
    let (active, sub) = (get("ActiveState"), get("SubState"));
    ServiceState {
        running: active == "active" && sub == "running",
        state: format!("{active} ({sub})"),
        pid: get("MainPID").parse().ok().filter(|p| *p != 0),
    }
}

/// `launchctl print gui/<uid>/airelays` output: `state = running`, `pid = 123`.
fn parse_launchctl_print(text: &str) -> ServiceState {
    let get = |key: &str| {
        text.lines().find_map(|l| {
            let (k, v) = l.trim().split_once(" = ")?;
            (k == key).then(|| v.trim().to_string())
        })
    };
    let state = get("state").unwrap_or_else(|| "unknown".into());
    ServiceState {
        running: state == "running",
        pid: get("pid").and_then(|p| p.parse().ok()),
        state,
    }
}

/// The current user's SID, for the task's trigger and principal (`whoami /user`).
pub(crate) fn windows_user_sid() -> Result<String, String> {
    let ran = runner::run("whoami", &["/user", "/fo", "csv", "/nh"], QUERY_TIMEOUT)?;
    ran.stdout
        .trim()
        .rsplit(',')
        .next()
        .map(|s| s.trim_matches('"').to_string())
        .filter(|s| ran.ok && s.starts_with("S-1-"))
        .ok_or_else(|| format!("cannot tell your Windows user id ({})", ran.why()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manager_outputs_are_read() {
        let s = parse_systemd_show("ActiveState=active\nSubState=running\nMainPID=42\n");
        assert_eq!(
            (s.running, s.pid, s.state.as_str()),
            (true, Some(42), "active (running)")
        );
        let s = parse_systemd_show("ActiveState=inactive\nSubState=dead\nMainPID=0\n");
        assert_eq!((s.running, s.pid), (false, None));
        let s = parse_launchctl_print("gui/501/airelays = {\n\tstate = running\n\tpid = 77\n}\n");
        assert_eq!((s.running, s.pid), (true, Some(77)));
    }
}
