//! Where the configuration file and the data directory live, and the files inside it.

use std::path::{Path, PathBuf};

use super::{ConfigError, non_empty};

/// Where configuration and state live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    /// The config file (it need not exist).
    pub config_file: PathBuf,
    /// The data directory: relay token, credentials index, uploads, logs.
    pub data_dir: PathBuf,
}

impl Paths {
    /// Resolves paths: flag > environment > platform default (`directories`).
    pub(crate) fn resolve(
        config_flag: Option<&Path>,
        data_dir_flag: Option<&Path>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Paths, ConfigError> {
        let project = directories::ProjectDirs::from("", "", "airelays");
        let config_file = match config_flag {
            Some(p) => p.to_path_buf(),
            None => match non_empty(env("AIRELAYS_CONFIG")) {
                Some(p) => PathBuf::from(p),
                None => project
                    .as_ref()
                    .map(|p| p.config_dir().join("config.toml"))
                    .ok_or_else(no_home)?,
            },
        };
        let data_dir = match data_dir_flag {
            Some(p) => p.to_path_buf(),
            None => match non_empty(env("AIRELAYS_DATA_DIR")) {
                Some(p) => PathBuf::from(p),
                None => project
                    .as_ref()
                    .map(|p| p.data_dir().to_path_buf())
                    .ok_or_else(no_home)?,
            },
        };
        Ok(Paths {
            config_file: absolute(config_file),
            data_dir: absolute(data_dir),
        })
    }

    /// The default relay token file.
    pub(crate) fn default_token_file(&self) -> PathBuf {
        self.data_dir.join("relay-token")
    }

    /// The lock a running relay holds.
    pub(crate) fn lock_file(&self) -> PathBuf {
        self.data_dir.join("relay.lock")
    }

    /// `relay.json`: what a running relay tells `status`.
    pub(crate) fn state_file(&self) -> PathBuf {
        self.data_dir.join("relay.json")
    }

    /// The last usage snapshot.
    pub(crate) fn usage_file(&self) -> PathBuf {
        self.data_dir.join("usage.json")
    }

    /// The credentials file of the `file` store.
    pub fn auth_file(&self) -> PathBuf {
        self.data_dir.join("auth.json")
    }

    /// The non-secret index of stored credentials.
    pub fn credentials_index_file(&self) -> PathBuf {
        self.data_dir.join("credentials.json")
    }

    /// The lock that serialises token refreshes across processes.
    pub(crate) fn refresh_lock_file(&self) -> PathBuf {
        self.data_dir.join("refresh.lock")
    }

    /// The local file store.
    pub(crate) fn uploads_dir(&self) -> PathBuf {
        self.data_dir.join("uploads")
    }

    /// The traffic log directory.
    pub(crate) fn logs_dir(&self) -> PathBuf {
        self.data_dir.join("logs")
    }
}

/// The file `airelays service install` writes for this user's service manager: the
/// systemd user unit on Linux (`$XDG_CONFIG_HOME/systemd/user/airelays.service`), the
/// LaunchAgent on macOS (`~/Library/LaunchAgents/airelays.plist`), the scheduled
/// task's XML on Windows (`<config dir>\\airelays-task.xml`). `None` without a home
/// directory. `airelays status` only checks whether it exists.
pub(crate) fn service_file(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    let base = directories::BaseDirs::new();
    let home = non_empty(env("HOME"))
        .map(PathBuf::from)
        .or_else(|| base.as_ref().map(|b| b.home_dir().to_path_buf()))?;
    if cfg!(target_os = "macos") {
        return Some(home.join("Library/LaunchAgents/airelays.plist"));
    }
    if cfg!(windows) {
        let project = directories::ProjectDirs::from("", "", "airelays")?;
        return Some(project.config_dir().join("airelays-task.xml"));
    }
    let config = non_empty(env("XDG_CONFIG_HOME"))
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .unwrap_or_else(|| home.join(".config"));
    Some(config.join("systemd/user/airelays.service"))
}

pub(super) fn absolute(p: PathBuf) -> PathBuf {
    if p.is_absolute() {
        p
    } else {
        std::env::current_dir().map(|d| d.join(&p)).unwrap_or(p)
    }
}

fn no_home() -> ConfigError {
    ConfigError(
        "cannot determine the home directory; set --config and --data-dir (or AIRELAYS_CONFIG and AIRELAYS_DATA_DIR)"
            .into(),
    )
}
