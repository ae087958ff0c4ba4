//! The configuration as the installed service sees it: the paths and settings that
//! follow from the arguments and variables written in its file, not from the shell
//! `service status` runs in (README.md, "Install and run as a service").

use std::path::{Path, PathBuf};

use super::manager::Manager;
use super::{plist, unit};
use crate::config::{Config, Paths};

/// The service's paths and configuration, from its installed file. `None` when the
/// file cannot be read back (absent, or a Windows task, whose variables live in a
/// command line); `Err` when the configuration it names does not load, so the
/// service would not start.
pub(super) fn read(file: &Path, manager: Manager) -> Option<Result<(Paths, Config), String>> {
    let text = std::fs::read_to_string(file).ok()?;
    let (words, env) = match manager {
        Manager::Systemd => unit::parse(&text),
        Manager::Launchd => plist::parse(&text),
        Manager::TaskScheduler => return None,
    };
    if words.is_empty() {
        return None;
    }
    let flag = |name: &str| {
        let at = words.iter().position(|w| w == name)?;
        words.get(at + 1).map(PathBuf::from)
    };
    let lookup = move |name: &str| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let loaded = Paths::resolve(
        flag("--config").as_deref(),
        flag("--data-dir").as_deref(),
        &lookup,
    )
    .and_then(|paths| Config::load(&paths, &lookup).map(|config| (paths, config)));
    Some(loaded.map_err(|e| e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::service::spec::ServiceSpec;

    #[test]
    fn the_service_sees_its_own_paths_and_variables() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let spec = ServiceSpec::new(
            "/bin/airelays".into(),
            Some(dir.path().join("none.toml")),
            Some(data.clone()),
            vec![("AIRELAYS_CREDENTIAL_STORE".into(), "file".into())],
            data.join("logs"),
        );
        let file = dir.path().join("airelays.service");
        std::fs::write(&file, unit::render(&spec)).unwrap();
        let (paths, config) = read(&file, Manager::Systemd).unwrap().unwrap();
        assert_eq!(paths.data_dir, data);
        assert_eq!(config.auth.credential_store.as_str(), "file");

        std::fs::write(dir.path().join("bad.toml"), "[server]\nport = \"x\"\n").unwrap();
        let spec = ServiceSpec::new(
            "/bin/airelays".into(),
            Some(dir.path().join("bad.toml")),
            None,
            vec![],
            data.join("logs"),
        );
        std::fs::write(&file, unit::render(&spec)).unwrap();
        let err = read(&file, Manager::Systemd).unwrap().unwrap_err();
        assert!(err.contains("server.port"), "{err}");
        assert!(read(&dir.path().join("absent"), Manager::Systemd).is_none());
    }
}
