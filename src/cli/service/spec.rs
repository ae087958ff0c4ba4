//! What a service runs, independent of the OS: the program, its arguments and the
//! environment carried from the shell that ran `service install` (README.md,
//! "Run it as a service"). Pure: the three generators (`unit.rs`, `plist.rs`,
//! `task.rs`) turn a [`ServiceSpec`] into their format.

use std::path::PathBuf;

use crate::http::PROXY_VARS;

/// The variable that holds the relay token itself: never written into a file.
const TOKEN_VAR: &str = "AIRELAYS_BEARER_TOKEN";

/// What the service runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ServiceSpec {
    /// The absolute path of the `airelays` binary.
    pub(crate) program: PathBuf,
    /// `serve --log-file`, then `--config`/`--data-dir` when given.
    pub(crate) args: Vec<String>,
    /// The carried variables, sorted by name.
    pub(crate) env: Vec<(String, String)>,
    /// The data directory's `logs/` (launchd writes the early stderr there).
    pub(crate) logs_dir: PathBuf,
}

impl ServiceSpec {
    /// The spec for `program` with the `--config`/`--data-dir` given on the command
    /// line (already absolute) and the carried environment.
    pub(crate) fn new(
        program: PathBuf,
        config: Option<PathBuf>,
        data_dir: Option<PathBuf>,
        env: Vec<(String, String)>,
        logs_dir: PathBuf,
    ) -> ServiceSpec {
        let mut args = vec!["serve".to_string(), "--log-file".to_string()];
        for (flag, path) in [("--config", config), ("--data-dir", data_dir)] {
            if let Some(p) = path {
                args.push(flag.to_string());
                args.push(p.display().to_string());
            }
        }
        ServiceSpec {
            program,
            args,
            env,
            logs_dir,
        }
    }
}

/// The variables of `vars` a service gets, and one warning line per variable it
/// does not get (and why).
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Carried {
    /// Carried into the service, sorted by name.
    pub(crate) env: Vec<(String, String)>,
    /// What was not carried, one sentence each.
    pub(crate) warnings: Vec<String>,
}

/// Sorts the process's variables into carried and not carried: the `AIRELAYS_*`
/// settings (never `AIRELAYS_BEARER_TOKEN`) and the proxy variables are carried;
/// anything else under `AIRELAYS_`, a value a service file cannot hold (a line
/// break, a control character) and a proxy URL with a password are not.
pub(crate) fn carry(vars: impl IntoIterator<Item = (String, String)>) -> Carried {
    let settings: Vec<&str> = crate::config::setting_env_vars().collect();
    let mut out = Carried::default();
    for (name, value) in vars {
        if value.trim().is_empty() {
            continue;
        }
        let is_setting = settings.contains(&name.as_str());
        let is_proxy = PROXY_VARS.contains(&name.as_str());
        if name == TOKEN_VAR {
            out.warnings.push(format!(
                "{TOKEN_VAR} is not carried: a token is never written into a service file — the service uses the token file (`airelays token show` prints it)"
            ));
        } else if name.starts_with("AIRELAYS_") && !is_setting {
            out.warnings.push(format!(
                "{name} is not carried: it is not an airelays setting"
            ));
        } else if !(is_setting || is_proxy) {
            continue;
        } else if value.chars().any(char::is_control) {
            out.warnings.push(format!(
                "{name} is not carried: its value holds a line break or a control character — set it in the config file instead"
            ));
        } else if is_proxy && has_password(&value) {
            out.warnings.push(format!(
                "{name} is not carried: the proxy URL holds a password, which is never written into a service file — set it in the service manager's environment yourself"
            ));
        } else {
            out.env.push((name, value));
        }
    }
    out.env.sort();
    out.warnings.sort();
    out
}

/// Whether a proxy URL carries a password (`http://user:pass@proxy:3128`).
fn has_password(value: &str) -> bool {
    match url::Url::parse(value) {
        Ok(u) => u.password().is_some(),
        // Not a URL (a bare `host:port`): no credentials unless an `@` says so.
        Err(_) => value.contains('@'),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn settings_and_proxies_are_carried_the_token_never() {
        let c = carry(vars(&[
            ("AIRELAYS_PORT", "9000"),
            ("AIRELAYS_BEARER_TOKEN", "tok-secret"),
            ("AIRELAYS_DATA_DIR", "/srv/relay"),
            ("AIRELAYS_SOMETHING", "x"),
            ("HTTPS_PROXY", "http://proxy:3128"),
            ("https_proxy", "http://me:pw@proxy:3128"),
            ("NO_PROXY", "localhost"),
            ("PATH", "/usr/bin"),
            ("AIRELAYS_HOST", ""),
        ]));
        assert_eq!(
            c.env,
            vars(&[
                ("AIRELAYS_DATA_DIR", "/srv/relay"),
                ("AIRELAYS_PORT", "9000"),
                ("HTTPS_PROXY", "http://proxy:3128"),
                ("NO_PROXY", "localhost"),
            ])
        );
        assert_eq!(c.warnings.len(), 3, "{:?}", c.warnings);
        let all = c.warnings.join("\n");
        assert!(
            all.contains("AIRELAYS_BEARER_TOKEN is not carried"),
            "{all}"
        );
        assert!(all.contains("AIRELAYS_SOMETHING is not carried"), "{all}");
        assert!(all.contains("https_proxy is not carried"), "{all}");
        assert!(!all.contains("tok-secret") && !all.contains("pw@"), "{all}");
    }

    #[test]
    fn values_a_file_cannot_hold_are_refused() {
        let c = carry(vars(&[("AIRELAYS_EXTRA_MODELS", "a\nb")]));
        assert!(c.env.is_empty());
        assert!(c.warnings[0].contains("line break"), "{:?}", c.warnings);
    }

    #[test]
    fn the_arguments_name_the_paths_given() {
        let spec = ServiceSpec::new(
            "/bin/airelays".into(),
            Some("/c/config.toml".into()),
            None,
            vec![],
            "/d/logs".into(),
        );
        assert_eq!(
            spec.args,
            ["serve", "--log-file", "--config", "/c/config.toml"]
        );
    }
}
