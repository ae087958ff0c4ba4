//! `airelays service`: the systemd user unit as `install --no-enable` writes it
//! (`systemd-analyze verify`, mode, carried and refused variables), idempotent
//! install and complete uninstall, the one-line error without a service manager,
//! and — where this machine can run a user systemd instance — install, running
//! under systemd, `/healthz`, stop and uninstall for real.
//!
//! Every command here runs with its own `XDG_RUNTIME_DIR` and a session bus
//! address that leads nowhere, so no test ever reaches the developer's own
//! service manager.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::harness::relay::test_client;
use crate::harness::{
    BIN, Sandbox, eventually, json_of, mode, schema_errors, status_schema, stderr, stdout,
};

/// A sandbox whose commands see no service manager (see the module doc).
fn isolated(mut sb: Sandbox) -> Sandbox {
    let run = sb.dir.path().join("run");
    std::fs::create_dir_all(&run).unwrap();
    #[cfg(unix)]
    std::fs::set_permissions(&run, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let bus = format!("unix:path={}", run.join("no-bus").display());
    sb.set_env("XDG_RUNTIME_DIR", &run.display().to_string())
        .set_env("DBUS_SESSION_BUS_ADDRESS", &bus);
    sb
}

fn unit_file(sb: &Sandbox) -> PathBuf {
    sb.home().join(".config/systemd/user/airelays.service")
}

/// Whether a CI run must have what this test needs (.ci/run installs it).
fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Says loudly that a check could not run here; in CI that is a failure.
fn not_verified(what: &str, why: &str) {
    assert!(!in_ci(), "{what} must run in CI, but {why}");
    eprintln!("NOT VERIFIED on this machine: {what}: {why}");
}

#[test]
fn the_unit_passes_systemd_analyze_verify_and_carries_no_token() {
    let mut sb = isolated(Sandbox::new());
    sb.set_env(
        "AIRELAYS_BEARER_TOKEN",
        "env-token-secret-0123456789abcdefghijkl",
    )
    .set_env("AIRELAYS_PORT", "9123")
    .set_env("HTTPS_PROXY", "http://proxy.test:3128")
    .set_env("ALL_PROXY", "http://me:hunter2@proxy.test:3128");
    let config = sb.dir.path().join("my config.toml");
    let config_arg = config.display().to_string();
    let out = sb.run(&["service", "install", "--no-enable", "--config", &config_arg]);
    assert!(out.status.success(), "{}", stderr(&out));
    let unit = unit_file(&sb);
    assert!(
        stdout(&out).contains(&format!("Wrote {}", unit.display())),
        "{}",
        stdout(&out)
    );
    let warnings = stderr(&out);
    assert!(
        warnings.contains("AIRELAYS_BEARER_TOKEN is not carried"),
        "{warnings}"
    );
    assert!(warnings.contains("ALL_PROXY is not carried"), "{warnings}");
    assert!(!warnings.contains("env-token-secret") && !warnings.contains("hunter2"));

    let text = std::fs::read_to_string(&unit).unwrap();
    assert_eq!(mode(&unit), 0o600);
    let bin = Path::new(BIN).canonicalize().unwrap();
    let exec = format!(
        "ExecStart={} serve --log-file --config \"{config_arg}\"\n",
        bin.display()
    );
    assert!(text.contains(&exec), "{text}");
    assert!(
        text.contains("Environment=\"AIRELAYS_PORT=9123\"\n"),
        "{text}"
    );
    assert!(text.contains("Environment=\"HTTPS_PROXY=http://proxy.test:3128\"\n"));
    assert!(
        text.contains("AIRELAYS_CREDENTIAL_STORE=file"),
        "the sandbox's store is carried"
    );
    for secret in ["env-token-secret", "AIRELAYS_BEARER_TOKEN", "hunter2"] {
        assert!(!text.contains(secret), "the unit holds {secret}:\n{text}");
    }
    for absent in [
        "ProtectSystem",
        "ProtectHome",
        "PrivateTmp",
        "PrivateDevices",
    ] {
        assert!(!text.contains(absent), "{absent}");
    }

    let run = sb.dir.path().join("run");
    let verify = Command::new("systemd-analyze")
        .args(["--user", "verify"])
        .arg(&unit)
        .env("XDG_RUNTIME_DIR", &run)
        .env("HOME", sb.home())
        .output();
    match verify {
        Ok(v) => {
            // Unknown keys and bad values are only warnings: any output is a failure.
            assert!(
                v.status.success() && v.stderr.is_empty() && v.stdout.is_empty(),
                "systemd-analyze verify:\n{}{}",
                stdout(&v),
                stderr(&v)
            );
        }
        Err(e) => not_verified("systemd-analyze verify of the unit", &format!("{e}")),
    }
}

#[tokio::test]
async fn install_twice_leaves_one_unit_and_uninstall_leaves_nothing() {
    let sb = isolated(Sandbox::new());
    let dir = sb.home().join(".config/systemd/user");
    let before = sb.status_json().await;
    assert_eq!(before["service"]["installed"], false);
    assert_eq!(
        before["service"]["file"],
        unit_file(&sb).display().to_string()
    );
    let first = sb.run(&["service", "install", "--no-enable", "--json"]);
    assert!(first.status.success(), "{}", stderr(&first));
    let written = std::fs::read(unit_file(&sb)).unwrap();
    let second = json_of(&sb.run(&["service", "install", "--no-enable", "--json"]));
    assert_eq!(second["enabled"], false);
    assert_eq!(second["file"], unit_file(&sb).display().to_string());
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["airelays.service"], "one unit, no temp files");
    assert_eq!(std::fs::read(unit_file(&sb)).unwrap(), written, "same unit");

    let status = sb.status_json().await;
    assert_eq!(status["service"]["installed"], true);
    let errors = schema_errors(&status_schema(), &status);
    assert!(errors.is_empty(), "{errors:?}");
    let human = stdout(&sb.run(&["status"]));
    assert!(
        human.contains("Service:") && human.contains("installed ("),
        "{human}"
    );

    // A unit enabled earlier (by a manager that is gone now): its link goes too.
    let wants = dir.join("default.target.wants");
    std::fs::create_dir_all(&wants).unwrap();
    std::os::unix::fs::symlink(unit_file(&sb), wants.join("airelays.service")).unwrap();
    let out = sb.run(&["service", "uninstall"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("Removed"), "{}", stdout(&out));
    assert!(!unit_file(&sb).exists());
    assert_eq!(std::fs::read_dir(&wants).unwrap().count(), 0);
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        1,
        "only the emptied wants dir"
    );
    assert_eq!(sb.status_json().await["service"]["installed"], false);
    let again = sb.run(&["service", "uninstall"]);
    assert!(again.status.success() && stdout(&again).contains("Nothing to remove"));
}

#[test]
fn without_a_user_bus_install_says_so_in_one_line() {
    let sb = isolated(Sandbox::new());
    for args in [&["service", "install"][..], &["service", "start"][..]] {
        if args[1] == "start" {
            assert!(
                sb.run(&["service", "install", "--no-enable"])
                    .status
                    .success()
            );
        }
        let out = sb.run(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stdout(&out));
        let err = stderr(&out);
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(err.starts_with("error: no service manager here:"), "{err}");
        assert!(
            err.contains("`airelays serve`") && err.contains("--no-enable"),
            "{err}"
        );
    }
    // `install` checked before writing: the file there is the --no-enable one.
    let status = json_of(&sb.run(&["service", "status", "--json"]));
    assert_eq!(status["installed"], true);
    assert_eq!(status["running"], false);
    assert!(status["manager_error"].is_string(), "{status}");
    assert!(
        status["log_file"]
            .as_str()
            .unwrap()
            .ends_with("logs/airelays.log")
    );
    assert_eq!(status["credential_store"]["configured"], "file");
    let human = stdout(&sb.run(&["service", "status"]));
    assert!(
        human.contains("Installed:") && human.contains("Log file:"),
        "{human}"
    );
    assert!(sb.run(&["service", "uninstall"]).status.success());
    let out = sb.run(&["service", "stop"]);
    assert!(stderr(&out).contains("not installed"), "{}", stderr(&out));
}

#[test]
fn service_status_reads_the_settings_the_service_was_installed_with() {
    let sb = isolated(Sandbox::new());
    let elsewhere = sb.dir.path().join("elsewhere");
    let config = sb.dir.path().join("relay.toml");
    let (elsewhere_arg, config_arg) = (
        elsewhere.display().to_string(),
        config.display().to_string(),
    );
    let out = sb.run(&[
        "service",
        "install",
        "--no-enable",
        "--data-dir",
        &elsewhere_arg,
        "--config",
        &config_arg,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    // Asked from a shell with other settings, it answers for the service.
    let mut cmd = sb.cmd(&["service", "status", "--json"]);
    cmd.env("AIRELAYS_CREDENTIAL_STORE", "keychain");
    let status = json_of(&cmd.output().unwrap());
    assert_eq!(status["seen_by"], "service");
    assert_eq!(status["data_dir"], elsewhere_arg);
    assert_eq!(status["credential_store"]["configured"], "file");
    assert_eq!(
        status["log_file"],
        format!("{elsewhere_arg}/logs/airelays.log")
    );
    assert_eq!(status["notes"], serde_json::json!([]));
    // A config the service cannot load is said, with the key.
    std::fs::write(&config, "[server]\nport = \"eighty\"\n").unwrap();
    let status = json_of(&sb.run(&["service", "status", "--json"]));
    let notes = status["notes"].to_string();
    assert!(
        notes.contains("cannot start") && notes.contains("server.port"),
        "{notes}"
    );
}

#[test]
fn status_never_asks_the_manager_and_service_status_stops_waiting_for_it() {
    let mut sb = isolated(Sandbox::new());
    // A systemctl that records its calls and then hangs.
    let bin = sb.dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let calls = sb.dir.path().join("calls.log");
    let script = format!(
        "#!/bin/sh\necho \"$@\" >> '{}'\nexec sleep 60\n",
        calls.display()
    );
    std::fs::write(bin.join("systemctl"), script).unwrap();
    std::fs::set_permissions(
        bin.join("systemctl"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    sb.set_env("PATH", &path);
    assert!(
        sb.run(&["service", "install", "--no-enable"])
            .status
            .success()
    );
    let status = json_of(&sb.run(&["status", "--json"]));
    assert_eq!(status["service"]["installed"], true);
    assert!(!calls.exists(), "status ran systemctl");

    let out = sb.run(&["service", "status", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report = json_of(&out);
    let why = report["manager_error"].as_str().unwrap_or_default();
    assert!(why.contains("did not answer within 2 s"), "{report}");
    assert_eq!(report["installed"], true);
    assert_eq!(report["running"], false);
    let asked = std::fs::read_to_string(&calls).unwrap();
    assert_eq!(
        asked.trim(),
        "--user show-environment",
        "one question, given up on"
    );
}

/// A user systemd instance in a private mount namespace (where `/run/systemd/system`
/// exists, so systemd agrees to run as a user instance), with the sandbox's HOME
/// and runtime dir; killed and waited for when dropped.
struct UserSystemd {
    child: Child,
}

impl Drop for UserSystemd {
    /// SIGTERM first, so systemd stops the relay it runs; SIGKILL if it lingers.
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::time::Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Why a user systemd instance cannot run here, if it cannot.
fn user_systemd_blocker() -> Option<String> {
    let root = Command::new("id").arg("-u").output().ok()?;
    if String::from_utf8_lossy(&root.stdout).trim() != "0" {
        return Some("starting it in a private mount namespace needs root".into());
    }
    for tool in [
        "/lib/systemd/systemd",
        "/usr/bin/unshare",
        "/usr/bin/systemctl",
    ] {
        if !Path::new(tool).exists() {
            return Some(format!("{tool} is not installed"));
        }
    }
    None
}

fn start_user_systemd(sb: &Sandbox) -> Result<UserSystemd, String> {
    let log = std::fs::File::create(sb.dir.path().join("systemd.log")).unwrap();
    let script = "mount -t tmpfs tmpfs /run/systemd && mkdir /run/systemd/system && exec /lib/systemd/systemd --user";
    let child = Command::new("unshare")
        .args(["--mount", "sh", "-c", script])
        .env("HOME", sb.home())
        .env("XDG_CONFIG_HOME", sb.home().join(".config"))
        .env("XDG_RUNTIME_DIR", sb.dir.path().join("run"))
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .map_err(|e| format!("cannot start it: {e}"))?;
    Ok(UserSystemd { child })
}

#[tokio::test]
async fn under_a_user_systemd_instance_the_service_runs_and_answers() {
    if let Some(why) = user_systemd_blocker() {
        return not_verified("a user systemd instance running the service", &why);
    }
    let mut sb = isolated(Sandbox::mocked().await);
    // systemd runs in a mount namespace where /run/systemd/system exists; systemctl,
    // outside it, is told the same (else it would ignore `restart` as "offline").
    sb.set_env("AIRELAYS_PORT", "0")
        .set_env("SYSTEMD_OFFLINE", "0");
    sb.sign_in().await;
    let mut manager = start_user_systemd(&sb).unwrap();
    let up = eventually(Duration::from_secs(20), async || {
        json_of(&sb.run(&["service", "status", "--json"]))["manager_error"].is_null()
    })
    .await;
    if !up {
        let exited = manager.child.try_wait().ok().flatten();
        let log = std::fs::read_to_string(sb.dir.path().join("systemd.log")).unwrap_or_default();
        return not_verified(
            "a user systemd instance running the service",
            &format!("systemd --user did not come up ({exited:?}): {log}"),
        );
    }

    let out = sb.output(sb.cmd(&["service", "install"])).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("enabled and started"),
        "{}",
        stdout(&out)
    );
    let running = eventually(Duration::from_secs(20), async || {
        let s = json_of(&sb.output(sb.cmd(&["service", "status", "--json"])).await);
        s["running"] == true && sb.status_json().await["server"]["running"] == true
    })
    .await;
    let status = json_of(&sb.output(sb.cmd(&["service", "status", "--json"])).await);
    assert!(running, "{status}");
    assert!(status["pid"].is_u64(), "{status}");
    assert_eq!(status["upstream_state"], "ready");
    assert_eq!(status["seen_by"], "service");
    assert!(
        status["state"].as_str().unwrap().contains("running"),
        "{status}"
    );

    let port = sb.status_json().await["server"]["port"].as_u64().unwrap();
    let health: serde_json::Value = test_client()
        .get(format!("http://127.0.0.1:{port}/healthz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["ok"], true);
    // The service logs to the file, which `airelays logs` prints.
    let logged = eventually(Duration::from_secs(10), async || {
        stdout(&sb.output(sb.cmd(&["logs"])).await).contains("GET /healthz 200")
    })
    .await;
    assert!(logged, "{}", stdout(&sb.run(&["logs"])));

    let stop = sb.output(sb.cmd(&["service", "stop"])).await;
    assert!(stop.status.success(), "{}", stderr(&stop));
    let stopped = eventually(Duration::from_secs(20), async || {
        sb.status_json().await["server"]["running"] == false
    })
    .await;
    assert!(stopped);
    let out = sb.output(sb.cmd(&["service", "uninstall"])).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!unit_file(&sb).exists());
    let wants = sb
        .home()
        .join(".config/systemd/user/default.target.wants/airelays.service");
    assert!(wants.symlink_metadata().is_err(), "disabled: no link left");
    drop(manager);
}
