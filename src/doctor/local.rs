//! Checks of this machine's own state: the config file, private modes of the data
//! directory and its secret files, the relay token, and proxy variables.

use std::path::PathBuf;

use super::{Check, Probe, blocking};
use crate::config::{Config, ConfigError, Paths};
use crate::token::{self, TokenSource};

/// `config`: the config file parses (a missing file means the defaults).
pub(super) async fn config_check(
    paths: &Paths,
    loaded: &Result<Config, ConfigError>,
    env: fn(&str) -> Option<String>,
) -> Check {
    let file = paths.config_file.clone();
    let outcome = match loaded {
        // Inside the relay the config was loaded at start: read the file again.
        Ok(_) => {
            let paths = paths.clone();
            match blocking("config", move || Config::load(&paths, &env)).await {
                Ok(r) => r.map(|_| ()),
                Err(check) => return check,
            }
        }
        Err(e) => Err(e.clone()),
    };
    match outcome {
        Err(e) => Check::fail(
            "config",
            format!("the config file does not load: {e}"),
            format!(
                "fix {} (every key is described in config.example.toml); the other checks use the defaults and the environment",
                file.display()
            ),
        ),
        Ok(()) if !file.exists() => Check::ok(
            "config",
            format!("no config file at {} (defaults in use)", file.display()),
        ),
        Ok(()) => Check::ok("config", format!("{} parses", file.display())),
    }
}

/// `private_files`: the data directory is 0700 and the secret files in it are 0600.
pub(super) async fn private_modes(probe: &Probe) -> Check {
    let paths = probe.paths.clone();
    let token_file = probe.config.security.bearer_token_file.clone();
    match blocking("private_files", move || modes(&paths, token_file)).await {
        Ok(check) | Err(check) => check,
    }
}

fn modes(paths: &Paths, token_file: PathBuf) -> Check {
    const ID: &str = "private_files";
    if !cfg!(unix) {
        return Check::ok(ID, "file modes are not checked on this system");
    }
    let dir = &paths.data_dir;
    let Some(dir_mode) = mode_of(dir) else {
        return Check::fail(
            ID,
            format!("the data directory {} does not exist", dir.display()),
            "run `airelays init`",
        );
    };
    let mut loose = Vec::new();
    if dir_mode & 0o077 != 0 {
        loose.push(format!("chmod 700 {}", dir.display()));
    }
    let files = [
        token_file,
        paths.auth_file(),
        paths.credentials_index_file(),
        paths.config_file.clone(),
    ];
    let mut checked = Vec::new();
    for file in files {
        if let Some(mode) = mode_of(&file) {
            checked.push(format!("{} {:o}", file.display(), mode));
            if mode & 0o077 != 0 {
                loose.push(format!("chmod 600 {}", file.display()));
            }
        }
    }
    if loose.is_empty() {
        Check::ok(
            ID,
            format!("{} is 0700 and its secret files are 0600", dir.display()),
        )
        .with_details(checked)
    } else {
        Check::fail(
            ID,
            format!("{} file(s) other users can read or enter", loose.len()),
            loose.join("; "),
        )
        .with_details(checked)
    }
}

/// The permission bits of `path`; `None` when it does not exist (or off Unix).
fn mode_of(path: &std::path::Path) -> Option<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::metadata(path)
            .ok()
            .map(|m| m.permissions().mode() & 0o777)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

/// `relay_token`: the token clients must send is present (and long enough), named by
/// its fingerprint only.
pub(super) async fn relay_token(probe: &Probe) -> Check {
    const ID: &str = "relay_token";
    let file = probe.config.security.bearer_token_file.clone();
    let env = probe.env;
    let required = probe.config.security.require_bearer_auth;
    let loaded = match blocking(ID, move || token::load(&file, &env)).await {
        Ok(r) => r,
        Err(check) => return check,
    };
    match loaded {
        Err(e) => Check::fail(
            ID,
            format!("the relay token cannot be used: {e}"),
            "run `airelays token rotate`",
        ),
        Ok(None) if !required => Check::warn(
            ID,
            "no relay token, and the relay does not require one (security.require_bearer_auth = false)",
            "any local program can use your subscription: run `airelays init` and turn security.require_bearer_auth back on",
        ),
        Ok(None) => Check::fail(
            ID,
            format!(
                "no relay token in {}",
                probe.config.security.bearer_token_file.display()
            ),
            "run `airelays init`",
        ),
        Ok(Some((t, source))) => {
            let from = match &source {
                TokenSource::Env => "AIRELAYS_BEARER_TOKEN".to_string(),
                TokenSource::File(p) => p.display().to_string(),
            };
            if let Err(e) = token::require_strong(&t, &source) {
                return Check::fail(
                    ID,
                    format!("the relay token is too short: {e}"),
                    "run `airelays token rotate`",
                );
            }
            Check::ok(
                ID,
                format!("present ({from}, fingerprint {})", t.fingerprint()),
            )
        }
    }
}

/// The proxy variables reqwest and most clients honour, upper and lower case.
const PROXY_VARS: &[&str] = &[
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
    "NO_PROXY",
    "no_proxy",
];

/// `proxy`: the proxy variables in effect (credentials in them hidden), and whether
/// clients would send their requests for the relay through the proxy.
pub(super) fn proxy(env: fn(&str) -> Option<String>) -> Check {
    const ID: &str = "proxy";
    let set: Vec<(&str, String)> = PROXY_VARS
        .iter()
        .filter_map(|k| env(k).filter(|v| !v.trim().is_empty()).map(|v| (*k, v)))
        .collect();
    if set.is_empty() {
        return Check::ok(ID, "no proxy variables set: direct connections");
    }
    let shown: Vec<String> = set
        .iter()
        .map(|(k, v)| format!("{k}={}", redact_userinfo(v)))
        .collect();
    let no_proxy: String = set
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("NO_PROXY"))
        .map(|(_, v)| v.to_ascii_lowercase())
        .collect::<Vec<_>>()
        .join(",");
    let proxies_http = set
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("HTTP_PROXY") || k.eq_ignore_ascii_case("ALL_PROXY"));
    let bypasses_loopback = no_proxy.split(',').any(|h| {
        let h = h.trim();
        h == "*" || h == "127.0.0.1" || h == "localhost" || h.starts_with("127.")
    });
    if proxies_http && !bypasses_loopback {
        return Check::warn(
            ID,
            format!(
                "{}: clients may send their requests for http://127.0.0.1 through the proxy",
                shown.join(", ")
            ),
            "add 127.0.0.1,localhost to NO_PROXY (and no_proxy)",
        );
    }
    Check::ok(
        ID,
        format!("{} (the upstream is reached through it)", shown.join(", ")),
    )
}

/// A proxy URL with any `user:password@` replaced by `***@`.
pub(super) fn redact_userinfo(value: &str) -> String {
    match (value.find("://"), value.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}***{}", &value[..scheme + 3], &value[at..])
        }
        (None, Some(at)) => format!("***{}", &value[at..]),
        _ => value.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_credentials_are_hidden() {
        assert_eq!(
            redact_userinfo("http://me:secret@proxy:3128"),
            "http://***@proxy:3128"
        );
        assert_eq!(redact_userinfo("http://proxy:3128"), "http://proxy:3128");
        assert_eq!(redact_userinfo("me:pw@proxy"), "***@proxy");
    }

    #[test]
    fn a_proxy_without_a_loopback_exception_is_a_warning() {
        fn env(k: &str) -> Option<String> {
            (k == "HTTP_PROXY").then(|| "http://u:p@proxy:3128".to_string())
        }
        let check = proxy(env);
        assert_eq!(check.status, super::super::CheckStatus::Warn);
        assert!(!check.summary.contains("u:p"), "{}", check.summary);
        fn env2(k: &str) -> Option<String> {
            match k {
                "HTTPS_PROXY" => Some("http://proxy:3128".into()),
                "ALL_PROXY" => Some("socks5://proxy:1080".into()),
                "NO_PROXY" => Some("localhost,127.0.0.1".into()),
                _ => None,
            }
        }
        assert_eq!(proxy(env2).status, super::super::CheckStatus::Ok);
        fn none(_: &str) -> Option<String> {
            None
        }
        assert_eq!(proxy(none).status, super::super::CheckStatus::Ok);
    }
}
