//! The registry of signed-in ChatGPT accounts (docs/auth.md#accounts): their names,
//! where each one's credentials live, and the order they were added.
//!
//! The account named `default` is today's single login, with today's files and
//! keychain entries, unchanged. Every other account keeps the same store layout
//! (keychain with file fallback, chunking, the index as commit point, its own
//! `refresh.lock`) under `<data_dir>/accounts/<name>/`, so one account's refresh
//! never waits on another's.

use std::path::PathBuf;

use crate::config::Paths;

/// The account `airelays login` signs in without `--account`.
pub const DEFAULT_ACCOUNT: &str = "default";

/// The most characters an account name may have.
pub const MAX_NAME_LEN: usize = 32;

/// Why an account name was refused: the rule, for the user.
pub fn validate_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "invalid account name {name:?}: use 1 to {MAX_NAME_LEN} characters from a-z, 0-9, _ and -"
        ))
    }
}

/// The directory that holds the accounts other than `default`.
pub(crate) fn accounts_dir(paths: &Paths) -> PathBuf {
    paths.data_dir.join("accounts")
}

/// The paths of account `name`'s credentials: `paths` itself for `default`, else a
/// data directory of its own under [`accounts_dir`]. `name` must be valid.
pub fn account_paths(paths: &Paths, name: &str) -> Paths {
    if name == DEFAULT_ACCOUNT {
        return paths.clone();
    }
    Paths {
        config_file: paths.config_file.clone(),
        data_dir: accounts_dir(paths).join(name),
    }
}

/// The account whose credential paths `paths` are (`None` for `default`, that is
/// any data directory not under another's `accounts/`).
pub(crate) fn name_of(paths: &Paths) -> Option<String> {
    let dir = &paths.data_dir;
    let parent = dir.parent()?;
    if parent.file_name()? != "accounts" {
        return None;
    }
    let name = dir.file_name()?.to_str()?;
    (validate_name(name).is_ok() && name != DEFAULT_ACCOUNT).then(|| name.to_owned())
}

/// Whether account `name` has stored credentials (metadata only, no keychain).
pub(crate) fn is_signed_in(paths: &Paths, name: &str) -> bool {
    let p = account_paths(paths, name);
    p.auth_file().exists() || p.credentials_index_file().exists()
}

/// The signed-in accounts in the order they were added: `default` first (it is the
/// first login), then the others by the creation time of their directory (by name
/// where the file system does not tell). Blocking: file metadata only.
pub(crate) fn list(paths: &Paths) -> Vec<String> {
    let mut names = Vec::new();
    if is_signed_in(paths, DEFAULT_ACCOUNT) {
        names.push(DEFAULT_ACCOUNT.to_owned());
    }
    let Ok(dir) = std::fs::read_dir(accounts_dir(paths)) else {
        return names;
    };
    let mut others: Vec<(Option<std::time::SystemTime>, String)> = dir
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let valid = validate_name(&name).is_ok() && name != DEFAULT_ACCOUNT;
            (valid && is_signed_in(paths, &name))
                .then(|| (e.metadata().ok().and_then(|m| m.created().ok()), name))
        })
        .collect();
    others.sort();
    names.extend(others.into_iter().map(|(_, n)| n));
    names
}

/// Every signed-in account from local metadata only (no keychain, no network):
/// its sign-in state and its saved usage snapshot.
pub(crate) fn local_statuses(
    paths: &Paths,
    config: &crate::config::Config,
) -> Vec<crate::status::AccountStatus> {
    let pool = &config.accounts.pool;
    list(paths)
        .into_iter()
        .map(|name| {
            let p = account_paths(paths, &name);
            crate::status::AccountStatus {
                upstream: super::local_status(&p, config),
                pooled: pool.is_empty() || pool.contains(&name),
                benched: None,
                benched_for_seconds: None,
                usage: crate::status::read_usage(&p.usage_file()),
                last_error: None,
                models: None,
                name,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_rule() {
        for ok in ["default", "work", "a", "x_1-y", &"z".repeat(32)] {
            assert!(validate_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "Work", "a b", "../x", "é", &"z".repeat(33), "a/b", "."] {
            let e = validate_name(bad).unwrap_err();
            assert!(e.contains("a-z, 0-9, _ and -"), "{e}");
        }
    }

    #[test]
    fn default_keeps_todays_paths_and_others_get_their_own() {
        let paths = Paths {
            config_file: "/c/config.toml".into(),
            data_dir: "/d".into(),
        };
        assert_eq!(account_paths(&paths, DEFAULT_ACCOUNT), paths);
        let work = account_paths(&paths, "work");
        assert_eq!(
            work.auth_file(),
            PathBuf::from("/d/accounts/work/auth.json")
        );
        assert_eq!(
            work.refresh_lock_file(),
            PathBuf::from("/d/accounts/work/refresh.lock")
        );
    }

    #[tokio::test]
    async fn keychain_entries_are_named_per_account() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths {
            config_file: dir.path().join("config.toml"),
            data_dir: dir.path().join("data"),
        };
        let backend = std::sync::Arc::new(crate::auth::store::tests::MemoryKeychain::default());
        for name in [DEFAULT_ACCOUNT, "work"] {
            let store = crate::auth::CredentialStore::with_backend(
                account_paths(&paths, name),
                crate::config::CredentialStoreKind::Keychain,
                backend.clone(),
            );
            let creds = crate::auth::store::tests::sample_credentials(name, 10);
            store
                .save(&creds, crate::auth::StoreKind::Keychain)
                .await
                .unwrap();
            let loaded = store.load().await.unwrap().unwrap();
            assert_eq!(loaded.credentials.tokens.refresh_token.expose(), name);
        }
        let users: Vec<String> = backend.entries.lock().unwrap().keys().cloned().collect();
        assert!(
            users.iter().any(|u| u.starts_with("credentials.work.")),
            "{users:?}"
        );
        assert!(
            users
                .iter()
                .any(|u| u.split('.').count() == 3 && !u.contains("work")),
            "default keeps today's names: {users:?}"
        );
        assert_eq!(
            name_of(&account_paths(&paths, "work")).as_deref(),
            Some("work")
        );
        assert_eq!(name_of(&paths), None);
    }

    #[test]
    fn list_names_signed_in_accounts_default_first() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths {
            config_file: dir.path().join("config.toml"),
            data_dir: dir.path().join("data"),
        };
        assert!(list(&paths).is_empty());
        for name in ["work", "default", "Bad"] {
            let p = account_paths(&paths, name);
            std::fs::create_dir_all(&p.data_dir).unwrap();
            std::fs::write(p.auth_file(), "{}").unwrap();
        }
        std::fs::create_dir_all(accounts_dir(&paths).join("empty")).unwrap();
        assert_eq!(list(&paths), vec!["default", "work"]);
    }
}
