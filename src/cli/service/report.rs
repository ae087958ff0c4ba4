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
fn keychain_note(
    manager: Manager,
    session_bus: Option<bool>,
    configured: CredentialStoreKind,
    in_use: Option<&str>,
) -> Option<String> {
    if manager != Manager::Systemd || session_bus != Some(false) {
        return None;
    }
    if configured == CredentialStoreKind::File {
        return None;
    }
    let stored = in_use.map_or(String::new(), |s| {
        format!(" (the credentials are in the {s} store)")
    });
    Some(format!(
        "the service has no session bus, so it cannot reach the keychain{stored}: set auth.credential_store = \"file\" (AIRELAYS_CREDENTIAL_STORE=file) and run `airelays login` again, or start the service from a desktop session"
    ))
}

/// Prints the service's status, human or `--json`. Always exits 0, like `status`.
pub(super) fn status(ctx: &Context, file: &Path, manager: Manager, json: bool) -> CliResult {
    let installed = file.exists();
    let reachable = manager.probe();
    let state: Option<Result<ServiceState, String>> = match (&reachable, installed) {
        (Ok(()), true) => Some(manager.query()),
        _ => None,
    };
    let session_bus = reachable
        .as_ref()
        .ok()
        .and_then(|()| manager.has_session_bus());
    let upstream = crate::auth::local_status(&ctx.paths, &ctx.config);
    let configured = ctx.config.auth.credential_store;
    let note = keychain_note(
        manager,
        session_bus,
        configured,
        upstream.credential_store.as_deref(),
    );
    let log = ctx
        .paths
        .logs_dir()
        .join(crate::server::log_file::LOG_FILE_NAME);
    let running = state
        .as_ref()
        .and_then(|s| s.as_ref().ok())
        .is_some_and(|s| s.running);
    if json {
        let (state_text, pid) = match &state {
            Some(Ok(s)) => (Some(s.state.clone()), s.pid),
            _ => (None, None),
        };
        return print_json(&json!({
            "installed": installed,
            "file": file.display().to_string(),
            "manager": manager.name(),
            "manager_error": reachable.as_ref().err(),
            "running": running,
            "state": state_text,
            "pid": pid,
            "log_file": log.display().to_string(),
            "session_bus": session_bus,
            "credential_store": {
                "configured": configured.as_str(),
                "in_use": upstream.credential_store,
            },
            "upstream_state": upstream.state,
            "email": upstream.email,
            "note": note,
        }));
    }
    let style = Style::stdout();
    let manager_row = match &reachable {
        Ok(()) => manager.name().to_string(),
        Err(why) => style.yellow(&format!("{} — {why}", manager.name())),
    };
    let state_row = match &state {
        Some(Ok(s)) => match s.pid {
            Some(pid) => format!("{} (pid {pid})", s.state),
            None => s.state.clone(),
        },
        Some(Err(why)) => style.yellow(why),
        None if !installed => "not installed — `airelays service install`".into(),
        None => "unknown (the manager does not answer)".into(),
    };
    let mut section = Section::new("Service")
        .row("Installed:", yes_no(&style, installed))
        .row("File:", file.display().to_string())
        .row("Manager:", manager_row)
        .row("Running:", yes_no(&style, running))
        .row("State:", state_row)
        .row(
            "Log file:",
            format!("{} (`airelays logs -f`)", log.display()),
        )
        .row(
            "Credentials:",
            format!(
                "{} (configured: {})",
                upstream
                    .credential_store
                    .as_deref()
                    .unwrap_or("none stored"),
                configured.as_str()
            ),
        )
        .row("Sign-in:", upstream.state.to_string());
    if let Some(bus) = session_bus {
        section = section.row("Session bus:", if bus { "yes" } else { "no" });
    }
    if let Some(note) = &note {
        section = section.row("Note:", style.yellow(note));
    }
    out!("{}", section.render(&style));
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
    }
}
