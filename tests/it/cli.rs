//! The command line driven as a user would: the real binary, an isolated HOME.

use crate::harness::*;

#[test]
fn init_twice_creates_the_token_once_and_never_reprints_it() {
    let sb = Sandbox::new();
    let first = sb.run(&["init", "--json"]);
    assert!(first.status.success(), "{}", stderr(&first));
    let j = json_of(&first);
    let token = j["relay_token"]["token"]
        .as_str()
        .expect("new token printed")
        .to_string();
    assert_eq!(token.len(), 43);
    assert_eq!(j["relay_token"]["created"], true);
    assert_eq!(j["config"]["created"], true);

    let second = sb.run(&["init"]);
    assert!(second.status.success(), "{}", stderr(&second));
    let out = stdout(&second) + &stderr(&second);
    assert!(
        !out.contains(&token),
        "token re-printed on second init:\n{out}"
    );
    assert!(out.contains("exists"), "{out}");

    let second_json = json_of(&sb.run(&["init", "--json"]));
    assert_eq!(second_json["relay_token"]["created"], false);
    assert!(second_json["relay_token"].get("token").is_none());
    assert_eq!(
        second_json["relay_token"]["fingerprint"],
        j["relay_token"]["fingerprint"]
    );

    // --show-token reveals the same token on demand.
    let shown = json_of(&sb.run(&["init", "--show-token", "--json"]));
    assert_eq!(shown["relay_token"]["token"], token.as_str());
    let show = json_of(&sb.run(&["token", "show", "--json"]));
    assert_eq!(show["token"], token.as_str());
    assert_eq!(show["header"], format!("Authorization: Bearer {token}"));
}

#[cfg(unix)]
#[test]
fn files_and_directories_are_private() {
    let sb = Sandbox::new();
    assert!(sb.run(&["init"]).status.success());
    let data = sb.data_dir();
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&data.join("relay-token")), 0o600);
    assert_eq!(mode(&sb.config_file()), 0o600);
    assert_eq!(mode(sb.config_file().parent().unwrap()), 0o700);
}

#[test]
fn token_rotate_changes_the_fingerprint() {
    let sb = Sandbox::new();
    let init = json_of(&sb.run(&["init", "--json"]));
    let before = init["relay_token"]["fingerprint"]
        .as_str()
        .unwrap()
        .to_string();
    let rotated = sb.run(&["token", "rotate", "--json"]);
    assert!(rotated.status.success(), "{}", stderr(&rotated));
    let r = json_of(&rotated);
    assert_eq!(r["rotated"], true);
    assert_ne!(r["fingerprint"].as_str().unwrap(), before);
    let status = json_of(&sb.run(&["status", "--json"]));
    assert_eq!(status["relay_token"]["fingerprint"], r["fingerprint"]);
    assert_ne!(r["token"], init["relay_token"]["token"]);
}

#[test]
fn env_token_overrides_the_file_and_cannot_be_rotated() {
    let mut sb = Sandbox::new();
    assert!(sb.run(&["init"]).status.success());
    sb.set_env("AIRELAYS_BEARER_TOKEN", "a-token-from-the-environment");
    let show = json_of(&sb.run(&["token", "show", "--json"]));
    assert_eq!(show["source"], "env");
    assert_eq!(show["token"], "a-token-from-the-environment");
    let rotate = sb.run(&["token", "rotate"]);
    assert_eq!(rotate.status.code(), Some(1));
    assert!(
        stderr(&rotate).contains("AIRELAYS_BEARER_TOKEN"),
        "{}",
        stderr(&rotate)
    );
    let status = json_of(&sb.run(&["status", "--json"]));
    assert_eq!(status["relay_token"]["source"], "env");
    assert!(!stdout(&sb.run(&["status", "--json"])).contains("a-token-from-the-environment"));
}

#[test]
fn status_json_matches_the_documented_schema_and_holds_no_secret() {
    let sb = Sandbox::new();
    let before = sb.run(&["status", "--json"]);
    assert!(before.status.success());
    let doc = json_of(&before);
    assert_eq!(schema_errors(&status_schema(), &doc), Vec::<String>::new());
    assert_eq!(doc["ready"], false);
    assert_eq!(doc["relay_token"]["present"], false);
    assert_eq!(doc["upstream"]["state"], "missing");

    let init = json_of(&sb.run(&["init", "--json"]));
    let token = init["relay_token"]["token"].as_str().unwrap().to_string();
    let after = sb.run(&["status", "--json"]);
    let doc = json_of(&after);
    assert_eq!(schema_errors(&status_schema(), &doc), Vec::<String>::new());
    assert_eq!(doc["relay_token"]["present"], true);
    assert_eq!(doc["relay_token"]["source"], "file");
    assert_eq!(doc["config"]["exists"], true);
    assert_eq!(doc["server"]["running"], false);
    assert_eq!(doc["server"]["base_url"], "http://127.0.0.1:8080/v1");
    assert_eq!(doc["limits"]["rate_limit_per_minute"], 120);
    assert!(
        doc["next_steps"]
            .as_array()
            .unwrap()
            .contains(&"airelays login".into())
    );
    let human = sb.run(&["status"]);
    assert!(human.status.success());
    for text in [
        stdout(&after),
        stdout(&human),
        stderr(&after),
        stderr(&human),
    ] {
        assert!(!text.contains(&token), "secret leaked into status output");
    }
    assert!(
        stdout(&human).contains("Relay token:"),
        "{}",
        stdout(&human)
    );
    assert!(
        stdout(&human).contains("Upstream session"),
        "{}",
        stdout(&human)
    );
}

#[test]
fn malformed_config_exits_1_naming_the_key_and_file() {
    let sb = Sandbox::new();
    let cfg = sb.config_file();
    std::fs::create_dir_all(cfg.parent().unwrap()).unwrap();
    std::fs::write(&cfg, "[server]\nport = \"eighty\"\n").unwrap();
    let out = sb.run(&["status"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.starts_with("error: "), "{err}");
    assert!(
        err.contains("`server.port`") && err.contains("config.toml"),
        "{err}"
    );
    assert!(err.contains("an integer from 0 to 65535"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");

    std::fs::write(&cfg, "[security]\nrequire_bearer_atuh = false\n").unwrap();
    let err = stderr(&sb.run(&["status"]));
    assert!(
        err.contains("unknown key `security.require_bearer_atuh`"),
        "{err}"
    );
    assert!(
        err.contains("require_bearer_auth"),
        "lists allowed keys: {err}"
    );
}

#[test]
fn bad_env_value_exits_1_naming_the_variable() {
    let mut sb = Sandbox::new();
    sb.set_env("AIRELAYS_RATE_LIMIT_PER_MINUTE", "lots");
    let out = sb.run(&["status", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("AIRELAYS_RATE_LIMIT_PER_MINUTE"), "{err}");
    assert!(err.contains("security.rate_limit_per_minute"), "{err}");
    assert!(out.stdout.is_empty());
}

#[test]
fn config_and_data_dir_flags_and_env_are_honoured() {
    let mut sb = Sandbox::new();
    let custom_data = sb.dir.path().join("elsewhere/data");
    let custom_cfg = sb.dir.path().join("elsewhere/airelays.toml");
    let out = sb.run(&[
        "init",
        "--json",
        "--data-dir",
        custom_data.to_str().unwrap(),
        "--config",
        custom_cfg.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(custom_data.join("relay-token").is_file());
    assert!(custom_cfg.is_file());
    // Global options are accepted after the subcommand and from the environment.
    sb.set_env("AIRELAYS_DATA_DIR", custom_data.to_str().unwrap());
    sb.set_env("AIRELAYS_CONFIG", custom_cfg.to_str().unwrap());
    sb.set_env("AIRELAYS_PORT", "9191");
    let doc = json_of(&sb.run(&["status", "--json"]));
    assert_eq!(doc["data_dir"], custom_data.to_str().unwrap());
    assert_eq!(doc["relay_token"]["present"], true);
    assert_eq!(doc["server"]["port"], 9191);
}

#[test]
fn usage_errors_exit_2() {
    let sb = Sandbox::new();
    for args in [
        vec!["frobnicate"],
        vec!["status", "--jsn"],
        vec!["token"],
        vec!["completions", "tcsh"],
        vec![],
    ] {
        let out = sb.run(&args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "args {args:?}: {}",
            stderr(&out)
        );
    }
}

#[test]
fn every_subcommand_has_help_with_an_example() {
    let sb = Sandbox::new();
    for sub in [
        "init",
        "login",
        "logout",
        "serve",
        "status",
        "doctor",
        "completions",
    ] {
        let out = sb.run(&[sub, "--help"]);
        assert!(out.status.success());
        assert!(
            stdout(&out).contains("Example"),
            "{sub} --help lacks an example"
        );
    }
    for sub in ["show", "rotate"] {
        let out = sb.run(&["token", sub, "--help"]);
        assert!(
            stdout(&out).contains("Example"),
            "token {sub} --help lacks an example"
        );
    }
}

#[test]
fn completions_command_prints_the_committed_scripts() {
    let sb = Sandbox::new();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("completions");
    for (shell, file) in [
        ("bash", "airelays.bash"),
        ("zsh", "_airelays"),
        ("fish", "airelays.fish"),
        ("powershell", "_airelays.ps1"),
        ("elvish", "airelays.elv"),
    ] {
        let out = sb.run(&["completions", shell]);
        assert!(out.status.success());
        assert_eq!(
            out.stdout,
            std::fs::read(root.join(file)).unwrap(),
            "{shell}"
        );
    }
}

#[test]
fn a_closed_stdout_is_not_a_panic() {
    let sb = Sandbox::new();
    assert!(sb.run(&["init"]).status.success());
    for args in [&["status", "--json"][..], &["status"], &["token", "show"]] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = sb
            .cmd(&[])
            .args(args)
            .stdout(writer)
            .stderr(std::process::Stdio::piped())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
    }
}
