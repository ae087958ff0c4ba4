//! `airelays service status`: installed or not, running or not (the manager asked
//! within 2 s), where the logs are, and the credential store and sign-in as the
//! service sees them.

use std::path::Path;

use serde_json::json;

use super::manager::{Manager, ServiceState};
use crate::cli::output::{Section, yes_no};
use crate::cli::{CliResult, Context, Style, print_json};
use crate::config::CredentialStoreKind;

/// What the service's environment means for the credential store, when it matters.
pub(super) fn keychain_note(
    manager: Manager,
    session_bus: Option<bool>,
    configured: CredentialStoreKind,
    in_use: Option<&str>,
) -> Option<String> {
    if manager != Manager::Systemd || session_bus != Some(false) {
        return None;
    }
    // The file store needs no bus; `auto` with the credentials in the file uses it.
    if configured == CredentialStoreKind::File
        || (configured == CredentialStoreKind::Auto && in_use == Some("file"))
    {
        return None;
    }
    let stored = in_use.map_or(String::new(), |s| {
        format!(" (the credentials are in the {s} store)")
    });
    Some(format!(
        "the service has no session bus, so it cannot reach the keychain{stored}: set auth.credential_store = \"file\" (AIRELAYS_CREDENTIAL_STORE=file) and run `airelays login` again, or start the service from a desktop session"
    ))
}

/// Everything `service status` reports.
struct Report {
    installed: bool,
    file: String,
    manager: Manager,
    reachable: Result<(), String>,
    state: Option<Result<ServiceState, String>>,
    session_bus: Option<bool>,
    /// `service` when read from the installed file, else `this shell`.
    seen_by: &'static str,
    data_dir: String,
    upstream: crate::status::UpstreamStatus,
    configured: CredentialStoreKind,
    notes: Vec<String>,
    log: String,
}

impl Report {
    fn gather(ctx: &Context, file: &Path, manager: Manager) -> Report {
        let installed = file.exists();
        let reachable = manager.probe();
        let state = match (&reachable, installed) {
            (Ok(()), true) => Some(manager.query()),
            _ => None,
        };
        let session_bus = reachable
            .as_ref()
            .ok()
            .and_then(|()| manager.has_session_bus());
        let mut notes = Vec::new();
        let (paths, config, seen_by) = match super::view::read(file, manager) {
            Some(Ok((paths, config))) => (paths, config, "service"),
            Some(Err(e)) => {
                notes.push(format!(
                    "the service's configuration does not load, so it cannot start: {e}"
                ));
                (ctx.paths.clone(), ctx.config.clone(), "this shell")
            }
            None => (ctx.paths.clone(), ctx.config.clone(), "this shell"),
        };
        let upstream = crate::auth::local_status(&paths, &config);
        let configured = config.auth.credential_store;
        let in_use = upstream.credential_store.as_deref();
        notes.extend(keychain_note(manager, session_bus, configured, in_use));
        let log = paths
            .logs_dir()
            .join(crate::server::log_file::LOG_FILE_NAME);
        Report {
            installed,
            file: file.display().to_string(),
            manager,
            reachable,
            state,
            session_bus,
            seen_by,
            data_dir: paths.data_dir.display().to_string(),
            upstream,
            configured,
            notes,
            log: log.display().to_string(),
        }
    }

    fn running(&self) -> bool {
        matches!(&self.state, Some(Ok(s)) if s.running)
    }

    fn json(&self) -> serde_json::Value {
        let (state, pid) = match &self.state {
            Some(Ok(s)) => (Some(s.state.clone()), s.pid),
            _ => (None, None),
        };
        json!({
            "installed": self.installed,
            "file": self.file,
            "manager": self.manager.name(),
            "manager_error": self.reachable.as_ref().err(),
            "running": self.running(),
            "state": state,
            "pid": pid,
            "log_file": self.log,
            "session_bus": self.session_bus,
            "seen_by": self.seen_by,
            "data_dir": self.data_dir,
            "credential_store": {
                "configured": self.configured.as_str(),
                "in_use": self.upstream.credential_store,
            },
            "upstream_state": self.upstream.state,
            "email": self.upstream.email,
            "notes": self.notes,
        })
    }

    fn human(&self, style: &Style) -> String {
        let manager = match &self.reachable {
            Ok(()) => self.manager.name().to_string(),
            Err(why) => style.yellow(&format!("{} — {why}", self.manager.name())),
        };
        let state = match &self.state {
            Some(Ok(s)) => match s.pid {
                Some(pid) => format!("{} (pid {pid})", s.state),
                None => s.state.clone(),
            },
            Some(Err(why)) => style.yellow(why),
            None if !self.installed => "not installed — `airelays service install`".into(),
            None => "unknown (the manager does not answer)".into(),
        };
        let stored = self.upstream.credential_store.as_deref();
        let mut section = Section::new("Service")
            .row("Installed:", yes_no(style, self.installed))
            .row("File:", self.file.clone())
            .row("Manager:", manager)
            .row("Running:", yes_no(style, self.running()))
            .row("State:", state)
            .row("Log file:", format!("{} (`airelays logs -f`)", self.log))
            .row("Seen by:", format!("{} (the sign-in below)", self.seen_by))
            .row("Data dir:", self.data_dir.clone())
            .row(
                "Credentials:",
                format!(
                    "{} (configured: {})",
                    stored.unwrap_or("none stored"),
                    self.configured.as_str()
                ),
            )
            .row("Sign-in:", self.upstream.state.to_string());
        if let Some(bus) = self.session_bus {
            section = section.row("Session bus:", if bus { "yes" } else { "no" });
        }
        for note in &self.notes {
            section = section.row("Note:", style.yellow(note));
        }
        section.render(style)
    }
}

/// Prints the service's status, human or `--json`. Always exits 0, like `status`.
pub(super) fn status(ctx: &Context, file: &Path, manager: Manager, json: bool) -> CliResult {
    let report = Report::gather(ctx, file, manager);
    if json {
        return print_json(&report.json());
    }
    out!("{}", report.human(&Style::stdout()));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_session_bus_means_no_keychain_unless_the_file_store_is_used() {
        let note = keychain_note(
            Manager::Systemd,
            Some(false),
            CredentialStoreKind::Auto,
            Some("keychain"),
        )
        .expect("a note");
        assert!(note.contains("cannot reach the keychain"), "{note}");
        assert!(note.contains("keychain store"), "{note}");
        for (bus, store) in [
            (Some(true), CredentialStoreKind::Auto),
            (None, CredentialStoreKind::Keychain),
            (Some(false), CredentialStoreKind::File),
        ] {
            assert_eq!(keychain_note(Manager::Systemd, bus, store, None), None);
        }
        let auto = CredentialStoreKind::Auto;
        assert_eq!(
            keychain_note(Manager::Systemd, Some(false), auto, Some("file")),
            None
        );
        assert!(keychain_note(Manager::Systemd, Some(false), auto, None).is_some());
    }
}
