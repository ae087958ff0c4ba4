//! The three service files against their golden files (`tests/golden/`; regenerate
//! with `AIRELAYS_UPDATE_GOLDEN=1 cargo test --lib service`), the plist parsed as a
//! property list, and the relay token kept out of every one.

use std::path::{Path, PathBuf};

use super::spec::{self, ServiceSpec};
use super::{plist, task, unit};

fn golden_spec() -> ServiceSpec {
    let env = spec::carry(
        [
            ("AIRELAYS_PORT", "9000"),
            ("AIRELAYS_EXTRA_MODELS", "gpt-5.5-100%,my \"model\""),
            ("HTTPS_PROXY", "http://proxy.corp:3128"),
            ("AIRELAYS_BEARER_TOKEN", "golden-secret-token-0123456789"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string())),
    )
    .env;
    ServiceSpec::new(
        PathBuf::from("/home/dev/.cargo/bin/airelays"),
        Some(PathBuf::from("/home/dev/relay config/config.toml")),
        Some(PathBuf::from("/home/dev/.local/share/airelays")),
        env,
        PathBuf::from("/home/dev/.local/share/airelays/logs"),
    )
}

fn windows_spec() -> ServiceSpec {
    let mut spec = golden_spec();
    spec.program = PathBuf::from(r"C:\Users\Dev User\.cargo\bin\airelays.exe");
    spec.args = vec!["serve".into(), "--log-file".into()];
    spec
}

/// The files and what each should hold.
fn rendered() -> Vec<(&'static str, String)> {
    vec![
        ("airelays.service", unit::render(&golden_spec())),
        ("airelays.plist", plist::render(&golden_spec())),
        (
            "airelays-task.xml",
            task::render(
                &windows_spec(),
                "S-1-5-21-1004336348-1177238915-682003330-1001",
            ),
        ),
        (
            "airelays-run-entry.txt",
            task::run_entry(&windows_spec()) + "\n",
        ),
    ]
}

#[test]
fn service_files_match_their_golden_files() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let update = std::env::var_os("AIRELAYS_UPDATE_GOLDEN").is_some();
    for (name, want) in rendered() {
        let path = dir.join(name);
        if update {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &want).unwrap();
        }
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            have == want,
            "{} differs from what airelays writes — check the change, then regenerate with `AIRELAYS_UPDATE_GOLDEN=1 cargo test --lib service`\n{want}",
            path.display()
        );
    }
}

#[test]
fn the_relay_token_is_in_no_service_file() {
    for (name, text) in rendered() {
        assert!(!text.contains("golden-secret"), "{name} holds the token");
        assert!(!text.contains("AIRELAYS_BEARER_TOKEN"), "{name}");
    }
}

#[test]
fn the_plist_is_a_property_list_launchd_can_read() {
    let text = plist::render(&golden_spec());
    let value = ::plist::Value::from_reader_xml(text.as_bytes()).expect("a valid plist");
    let dict = value.as_dictionary().expect("a dictionary");
    assert_eq!(dict["Label"].as_string(), Some(plist::LABEL));
    let args: Vec<&str> = dict["ProgramArguments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_string().unwrap())
        .collect();
    assert_eq!(
        args,
        [
            "/home/dev/.cargo/bin/airelays",
            "serve",
            "--log-file",
            "--config",
            "/home/dev/relay config/config.toml",
            "--data-dir",
            "/home/dev/.local/share/airelays"
        ]
    );
    let env = dict["EnvironmentVariables"].as_dictionary().unwrap();
    assert_eq!(
        env["AIRELAYS_EXTRA_MODELS"].as_string(),
        Some("gpt-5.5-100%,my \"model\"")
    );
    assert_eq!(dict["RunAtLoad"].as_boolean(), Some(true));
    let keep_alive = dict["KeepAlive"].as_dictionary().unwrap();
    assert_eq!(keep_alive["Crashed"].as_boolean(), Some(true));
    assert_eq!(dict["Umask"].as_signed_integer(), Some(0o077));
}

#[test]
fn the_task_starts_at_this_users_logon_only() {
    let text = task::render(&windows_spec(), "S-1-5-21-1-2-3-1001");
    let trigger = text
        .split("<LogonTrigger>")
        .nth(1)
        .and_then(|t| t.split("</LogonTrigger>").next())
        .unwrap();
    assert!(
        trigger.contains("<UserId>S-1-5-21-1-2-3-1001</UserId>"),
        "{trigger}"
    );
    assert!(text.contains("<RunLevel>LeastPrivilege</RunLevel>"));
    assert!(text.contains("<Command>C:\\Windows\\System32\\conhost.exe</Command>"));
    assert!(text.contains("--headless"));
}

#[test]
fn the_verbatim_prefix_is_dropped_but_not_from_unc_paths() {
    let p = |s: &str| super::without_verbatim_prefix(PathBuf::from(s));
    assert_eq!(
        p(r"\\?\C:\bin\airelays.exe"),
        PathBuf::from(r"C:\bin\airelays.exe")
    );
    assert_eq!(p(r"\\?\UNC\srv\x"), PathBuf::from(r"\\?\UNC\srv\x"));
    assert_eq!(p("/usr/bin/airelays"), PathBuf::from("/usr/bin/airelays"));
}
