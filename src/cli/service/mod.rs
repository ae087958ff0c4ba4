//! `airelays service install|uninstall|status|start|stop`: the relay as the user's
//! service, started at login (README.md, "Run it as a service"). One file per
//! format: `unit.rs` (systemd), `plist.rs` (launchd), `task.rs` (Windows); what
//! they run is `spec.rs`, the managers that load them `manager.rs`.

mod manager;
mod plist;
mod report;
mod runner;
mod spec;
mod task;
mod unit;
mod view;

use std::path::Path;

use clap::{Args, Subcommand};
use serde_json::json;

use super::{CliError, CliResult, Context, Style, print_json};
use manager::Manager;
use spec::{Carried, ServiceSpec};

#[derive(Debug, Subcommand)]
pub(crate) enum ServiceCommand {
    /// Write the service file and start the relay at login (again: replaces it)
    #[command(
        after_help = "Examples:\n  airelays service install\n  airelays service install --no-enable   # write the file only\n  loginctl enable-linger \"$USER\"          # Linux: start at boot, before you log in"
    )]
    Install(InstallArgs),
    /// Stop the service and remove exactly what `install` wrote
    #[command(after_help = "Example:\n  airelays service uninstall")]
    Uninstall(JsonArgs),
    /// Whether the service is installed and running, where it logs, and the sign-in it sees
    #[command(after_help = "Example:\n  airelays service status --json | jq .running")]
    Status(JsonArgs),
    /// Start the installed service
    #[command(after_help = "Example:\n  airelays service start")]
    Start(JsonArgs),
    /// Stop the service until the next login (or `service start`)
    #[command(after_help = "Example:\n  airelays service stop")]
    Stop(JsonArgs),
}

#[derive(Debug, Args)]
pub(crate) struct InstallArgs {
    /// Write the service file only; do not register or start it
    #[arg(long)]
    pub(crate) no_enable: bool,
    /// Print one JSON object
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct JsonArgs {
    /// Print one JSON object
    #[arg(long)]
    pub(crate) json: bool,
}

/// The `--config` / `--data-dir` given on this command line: the service gets them too.
pub(crate) struct Given {
    pub(crate) config: bool,
    pub(crate) data_dir: bool,
}

/// `airelays service …`.
pub(crate) fn run(ctx: &Context, cmd: &ServiceCommand, given: &Given) -> CliResult {
    let file = crate::config::service_file(&ctx.env).ok_or_else(|| {
        CliError::new(
            "cannot tell your home directory, so not where the service file goes — set HOME",
        )
    })?;
    let manager = Manager::current();
    match cmd {
        ServiceCommand::Install(args) => install(ctx, &file, manager, given, args),
        ServiceCommand::Uninstall(args) => uninstall(&file, manager, args.json),
        ServiceCommand::Status(args) => report::status(ctx, &file, manager, args.json),
        ServiceCommand::Start(args) => start_stop(&file, manager, true, args.json),
        ServiceCommand::Stop(args) => start_stop(&file, manager, false, args.json),
    }
}

/// The one-line error where no service manager answers.
fn no_manager(manager: Manager, why: &str) -> CliError {
    CliError::new(format!(
        "no service manager here: {why} — run `airelays serve` in a terminal (or under your own supervisor) instead, or `airelays service install --no-enable` to only write the {} file",
        manager.name()
    ))
}

fn install(
    ctx: &Context,
    file: &Path,
    manager: Manager,
    given: &Given,
    args: &InstallArgs,
) -> CliResult {
    let program = std::env::current_exe()
        .and_then(|p| p.canonicalize())
        .map(without_verbatim_prefix)
        .map_err(|e| CliError::new(format!("cannot tell where this airelays binary is: {e}")))?;
    let mut carried = spec::carry(
        std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?))),
    );
    if manager == Manager::TaskScheduler {
        not_cmd_safe(&mut carried);
    }
    let spec = ServiceSpec::new(
        program,
        given.config.then(|| ctx.paths.config_file.clone()),
        given.data_dir.then(|| ctx.paths.data_dir.clone()),
        carried.env.clone(),
        ctx.paths.logs_dir(),
    );
    if !args.no_enable {
        manager.probe().map_err(|why| no_manager(manager, &why))?;
    }
    let bytes = match manager {
        Manager::Systemd => unit::render(&spec).into_bytes(),
        Manager::Launchd => plist::render(&spec).into_bytes(),
        Manager::TaskScheduler => {
            let sid = manager::windows_user_sid().map_err(CliError::new)?;
            utf16(&task::render(&spec, &sid))
        }
    };
    write_service_file(file, &bytes)?;
    // launchd opens its log there before the relay runs; the relay would create it.
    crate::fsio::ensure_private_dir(&ctx.paths.logs_dir()).map_err(|e| {
        CliError::new(format!(
            "cannot create {}: {e}",
            ctx.paths.logs_dir().display()
        ))
    })?;
    let enabled = if args.no_enable {
        None
    } else {
        Some(
            manager
                .enable(file, &task::run_entry(&spec))
                .map_err(|why| {
                    CliError::new(format!(
                        "wrote {} but could not start it: {why} — see `airelays service status`",
                        file.display()
                    ))
                })?,
        )
    };
    report_install(ctx, file, manager, &spec, &carried, enabled, args.json)
}

/// `C:\x` for Windows' `\\?\C:\x` (what `canonicalize` gives there), which not
/// every program a task starts accepts.
fn without_verbatim_prefix(path: std::path::PathBuf) -> std::path::PathBuf {
    match path.to_str().and_then(|p| p.strip_prefix(r"\\?\")) {
        Some(rest) if !rest.starts_with("UNC\\") => std::path::PathBuf::from(rest),
        _ => path,
    }
}

/// On Windows, values `cmd.exe` cannot set are not carried either.
fn not_cmd_safe(carried: &mut Carried) {
    let (keep, drop): (Vec<_>, Vec<_>) =
        carried.env.drain(..).partition(|(_, v)| task::cmd_safe(v));
    carried.env = keep;
    for (name, _) in drop {
        carried.warnings.push(format!(
            "{name} is not carried: its value holds a character a scheduled task's command line cannot pass (\" % ^ & | < > !) — set it in the config file instead"
        ));
    }
}

fn write_service_file(file: &Path, bytes: &[u8]) -> CliResult {
    let dir = file.parent().unwrap_or(Path::new("."));
    crate::fsio::create_dir_if_missing(dir)
        .and_then(|()| crate::fsio::write_private_atomic(file, bytes))
        .map_err(|e| CliError::new(format!("cannot write {}: {e}", file.display())))
}

/// The task XML as the Task Scheduler reads it: UTF-16 LE with a byte order mark.
fn utf16(text: &str) -> Vec<u8> {
    let mut out = vec![0xFF, 0xFE];
    out.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    out
}

fn report_install(
    ctx: &Context,
    file: &Path,
    manager: Manager,
    spec: &ServiceSpec,
    carried: &Carried,
    enabled: Option<String>,
    json: bool,
) -> CliResult {
    let log = ctx
        .paths
        .logs_dir()
        .join(crate::server::log_file::LOG_FILE_NAME);
    let names: Vec<&str> = carried.env.iter().map(|(k, _)| k.as_str()).collect();
    let style = Style::stderr();
    let keychain = enabled.as_ref().and_then(|_| {
        let stored = crate::auth::local_status(&ctx.paths, &ctx.config).credential_store;
        let configured = ctx.config.auth.credential_store;
        report::keychain_note(
            manager,
            manager.has_session_bus(),
            configured,
            stored.as_deref(),
        )
    });
    for w in carried.warnings.iter().chain(&keychain) {
        eprintln!("{} {w}", style.yellow("warning:"));
    }
    if json {
        return print_json(&json!({
            "file": file.display().to_string(),
            "manager": manager.name(),
            "program": spec.program.display().to_string(),
            "args": spec.args,
            "carried": names,
            "not_carried": carried.warnings,
            "enabled": enabled.is_some(),
            "log_file": log.display().to_string(),
        }));
    }
    outln!("Wrote {} (0600)", file.display());
    outln!(
        "  Runs:     {} {}",
        spec.program.display(),
        spec.args.join(" ")
    );
    if !names.is_empty() {
        outln!("  Carries:  {}", names.join(", "));
    }
    outln!("  Logs:     {} (`airelays logs -f`)", log.display());
    match enabled {
        Some(note) => outln!("  Service:  {note}"),
        None => outln!("  Service:  not registered (--no-enable); `airelays service install` does"),
    }
    if manager == Manager::Systemd {
        outln!("  At boot:  `loginctl enable-linger \"$USER\"` starts it before you log in");
    }
    Ok(())
}

fn uninstall(file: &Path, manager: Manager, json: bool) -> CliResult {
    let existed = file.exists();
    let reachable = manager.probe().is_ok();
    if reachable {
        manager.disable();
    }
    crate::fsio::remove_if_exists(file)
        .map_err(|e| CliError::new(format!("cannot remove {}: {e}", file.display())))?;
    // What `systemctl enable` linked, when no manager was there to disable it.
    let wants = file
        .parent()
        .map(|d| d.join("default.target.wants").join(unit::UNIT_NAME));
    if let Some(link) = wants.filter(|l| l.symlink_metadata().is_ok_and(|m| m.is_symlink())) {
        let _ = std::fs::remove_file(link);
    }
    if reachable {
        manager.forget();
    }
    if json {
        return print_json(&json!({
            "file": file.display().to_string(),
            "removed": existed,
            "manager_reached": reachable,
        }));
    }
    if existed {
        outln!("Removed {}", file.display());
    } else {
        outln!("Nothing to remove: {} does not exist", file.display());
    }
    Ok(())
}

fn start_stop(file: &Path, manager: Manager, start: bool, json: bool) -> CliResult {
    if !file.exists() {
        return Err(CliError::new(format!(
            "the service is not installed ({} does not exist) — run `airelays service install`",
            file.display()
        )));
    }
    manager.probe().map_err(|why| no_manager(manager, &why))?;
    manager
        .start_stop(start)
        .map_err(|why| CliError::new(format!("{why} — see `airelays service status`")))?;
    let word = if start { "started" } else { "stopped" };
    if json {
        return print_json(&json!({ "file": file.display().to_string(), word: true }));
    }
    outln!("Service {word} ({})", manager.name());
    Ok(())
}

#[cfg(test)]
mod tests;
