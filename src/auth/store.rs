//! Where credentials live (docs/auth.md): the OS keychain or a 0600 file.
//!
//! The commit point is always one atomically written local file, so a crash leaves
//! the old set or the new set, never a mix:
//!
//! - **file store**: `<data_dir>/auth.json` holds metadata and the tokens.
//! - **keychain store**: the tokens (compact JSON) are split into chunks of at most
//!   [`CHUNK_BYTES`] (Windows allows 2,560 bytes per secret) saved as entries of
//!   service `airelays`, user `credentials.<generation>.<i>` (for an account other
//!   than `default`, the generation starts with its name: docs/auth.md); *then*
//!   `<data_dir>/credentials.json` (metadata, generation, chunk count, SHA-256 of the
//!   secret blob) is written — that is the commit; *then* the previous generation's
//!   entries are deleted. Loading verifies the digest. The generation is random, so
//!   two data directories on one machine never share entries.
//!
//! Writing one store removes credentials from the other. Every keychain call runs on
//! its own thread under a timeout: a locked or interactive keyring can delay a call
//! but never hang the relay. (A plain thread rather than `spawn_blocking`, so that an
//! abandoned call cannot hold up the runtime's shutdown.)

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::credentials::{Credentials, Tokens};
use crate::config::{CredentialStoreKind, Paths};
use crate::fsio;

mod journal;
mod keychain;

use journal::Generation;
use keychain::OsKeychain;
use keychain::off_thread;
pub use keychain::{KeychainError, SecretBackend};

/// Keychain service name of every entry airelays writes.
pub(crate) const SERVICE: &str = "airelays";
/// Largest secret stored in one keychain entry.
pub(crate) const CHUNK_BYTES: usize = 2000;
/// How long the one-time keychain probe may take.
pub(crate) const PROBE_TIMEOUT: Duration = Duration::from_secs(3);
/// How long one keychain operation (all chunks of a set) may take.
pub(crate) const KEYCHAIN_TIMEOUT: Duration = Duration::from_secs(10);

const FORMAT_VERSION: u32 = 1;
/// Where a credential set is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreKind {
    /// In the OS keychain, indexed by `credentials.json`.
    Keychain,
    /// In `auth.json` (mode 0600).
    File,
}

impl StoreKind {
    /// `keychain` or `file`, as config and status spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            StoreKind::Keychain => "keychain",
            StoreKind::File => "file",
        }
    }
}

/// A permanent refresh failure, recorded so every process sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshErrorRecord {
    /// The issuer's error code (`refresh_token_expired`, …).
    pub code: Option<String>,
    /// The sentence shown to the user.
    pub message: String,
    /// When it happened (RFC 3339).
    pub at: String,
}

/// The non-secret facts kept next to (or with) the tokens.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct CredentialMeta {
    /// The ChatGPT account id.
    pub(crate) account_id: Option<String>,
    /// The signed-in email.
    pub(crate) email: Option<String>,
    /// The ChatGPT plan.
    pub(crate) plan: Option<String>,
    /// The ChatGPT user id.
    pub(crate) user_id: Option<String>,
    /// RFC 3339.
    pub(crate) access_expires_at: Option<String>,
    /// RFC 3339.
    pub(crate) last_refresh: Option<String>,
    /// RFC 3339; decides between the two files if a crash left both behind.
    pub(crate) saved_at: Option<String>,
    /// A permanent refresh failure recorded for this set.
    pub refresh_error: Option<RefreshErrorRecord>,
}

impl CredentialMeta {
    fn of(creds: &Credentials, refresh_error: Option<RefreshErrorRecord>) -> CredentialMeta {
        CredentialMeta {
            account_id: creds.account_id.clone(),
            email: creds.email.clone(),
            plan: creds.plan.clone(),
            user_id: creds.user_id.clone(),
            access_expires_at: creds.access_expires_at.map(|t| t.to_string()),
            last_refresh: Some(creds.last_refresh.to_string()),
            saved_at: Some(jiff::Timestamp::now().to_string()),
            refresh_error,
        }
    }

    fn credentials(&self, tokens: Tokens) -> Credentials {
        let parse = |s: &Option<String>| s.as_deref().and_then(|s| s.parse().ok());
        Credentials {
            tokens,
            account_id: self.account_id.clone(),
            email: self.email.clone(),
            plan: self.plan.clone(),
            user_id: self.user_id.clone(),
            access_expires_at: parse(&self.access_expires_at),
            last_refresh: parse(&self.last_refresh).unwrap_or(jiff::Timestamp::UNIX_EPOCH),
        }
    }

    fn saved_at(&self) -> jiff::Timestamp {
        self.saved_at
            .as_deref()
            .and_then(|s| s.parse().ok())
            .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
    }
}

/// `auth.json`.
#[derive(Serialize, Deserialize)]
struct FileDoc {
    version: u32,
    store: StoreKind,
    #[serde(flatten)]
    meta: CredentialMeta,
    tokens: Tokens,
}

/// `credentials.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct IndexDoc {
    version: u32,
    store: StoreKind,
    generation: String,
    chunks: u32,
    sha256: String,
    #[serde(flatten)]
    meta: CredentialMeta,
}

/// Only the metadata of either file (what `status` reads; tokens are skipped).
#[derive(Deserialize)]
struct MetaDoc {
    store: StoreKind,
    #[serde(flatten)]
    meta: CredentialMeta,
}

/// A credential set as loaded.
#[derive(Debug, Clone)]
pub struct Stored {
    /// The credential set.
    pub credentials: Credentials,
    /// The store it came from.
    pub kind: StoreKind,
    /// A recorded permanent refresh failure.
    pub(crate) refresh_error: Option<RefreshErrorRecord>,
}

/// A credential-store failure, phrased with the next step.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// A local file could not be read, written or removed.
    #[error("cannot {action} {path}: {reason}")]
    Io {
        /// What was being done (`read`, `write`, …).
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error, one line.
        reason: String,
    },
    /// No keychain works here (or it did not answer in time).
    #[error(
        "the OS keychain is not usable ({0}) — set auth.credential_store = \"file\" (or AIRELAYS_CREDENTIAL_STORE=file) to keep the credentials in a 0600 file instead"
    )]
    KeychainUnusable(String),
    /// A keychain call failed.
    #[error("the OS keychain failed: {0}")]
    Keychain(String),
    /// The stored set is damaged or incomplete.
    #[error("the stored ChatGPT credentials are unreadable ({0}) — run `airelays login` again")]
    Corrupt(String),
}

fn io_error(action: &'static str, path: &Path, e: std::io::Error) -> StoreError {
    StoreError::Io {
        action,
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

/// Splits `blob` into chunks of at most `max` bytes, on character boundaries.
pub(crate) fn split_chunks(blob: &str, max: usize) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = blob;
    while !rest.is_empty() {
        let mut end = rest.len().min(max.max(4));
        while !rest.is_char_boundary(end) {
            end -= 1;
        }
        let (head, tail) = rest.split_at(end);
        out.push(head);
        rest = tail;
    }
    out
}

/// A new random generation; for an account other than `default`, prefixed with its
/// name, so its keychain entries are named per account (`credentials.work.<hex>.<i>`).
fn new_generation(paths: &Paths) -> String {
    let hex = format!("{:016x}", rand::random::<u64>());
    match crate::auth::accounts::name_of(paths) {
        Some(name) => format!("{name}.{hex}"),
        None => hex,
    }
}

fn entry_user(generation: &str, i: u32) -> String {
    format!("credentials.{generation}.{i}")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Where a new login will be stored, and the warning to print when `auto` fell back.
#[derive(Debug, Clone)]
pub(crate) struct StoreChoice {
    /// The store to use.
    pub(crate) kind: StoreKind,
    /// The warning line when `auto` fell back to the file.
    pub(crate) warning: Option<String>,
}

/// The credential store of one data directory.
pub struct CredentialStore {
    paths: Paths,
    preference: CredentialStoreKind,
    backend: Arc<dyn SecretBackend>,
    probe: tokio::sync::OnceCell<Result<(), String>>,
}

impl std::fmt::Debug for CredentialStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialStore")
            .field("data_dir", &self.paths.data_dir)
            .field("preference", &self.preference)
            .finish()
    }
}

impl CredentialStore {
    /// The store for `paths`, using the OS keychain.
    pub fn new(paths: Paths, preference: CredentialStoreKind) -> CredentialStore {
        CredentialStore::with_backend(paths, preference, Arc::new(OsKeychain))
    }

    /// The store for `paths` with another secret backend (tests).
    pub fn with_backend(
        paths: Paths,
        preference: CredentialStoreKind,
        backend: Arc<dyn SecretBackend>,
    ) -> CredentialStore {
        CredentialStore {
            paths,
            preference,
            backend,
            probe: tokio::sync::OnceCell::new(),
        }
    }

    /// Tries the keychain once per process (set, get, delete a probe entry).
    pub(crate) async fn probe_keychain(&self) -> Result<(), String> {
        self.probe
            .get_or_init(|| async {
                let backend = Arc::clone(&self.backend);
                let user = format!("probe.{:016x}", rand::random::<u64>());
                let outcome = off_thread(PROBE_TIMEOUT, move || {
                    backend.set(&user, "probe")?;
                    let read = backend.get(&user);
                    let deleted = backend.delete(&user);
                    match read? {
                        Some(v) if v == "probe" => deleted,
                        _ => Err(KeychainError {
                            unusable: true,
                            message: "a probe entry could not be read back".into(),
                        }),
                    }
                })
                .await;
                match outcome {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(e)) | Err(e) => Err(e.message),
                }
            })
            .await
            .clone()
    }

    /// Decides where a new login is stored (`auth.credential_store`).
    pub(crate) async fn choose(&self) -> Result<StoreChoice, StoreError> {
        match self.preference {
            CredentialStoreKind::File => Ok(StoreChoice {
                kind: StoreKind::File,
                warning: None,
            }),
            CredentialStoreKind::Keychain => match self.probe_keychain().await {
                Ok(()) => Ok(StoreChoice {
                    kind: StoreKind::Keychain,
                    warning: None,
                }),
                Err(reason) => Err(StoreError::KeychainUnusable(reason)),
            },
            CredentialStoreKind::Auto => match self.probe_keychain().await {
                Ok(()) => Ok(StoreChoice {
                    kind: StoreKind::Keychain,
                    warning: None,
                }),
                Err(reason) => Ok(StoreChoice {
                    kind: StoreKind::File,
                    warning: Some(format!(
                        "warning: no usable OS keychain ({reason}); storing ChatGPT credentials in {} (mode 0600) instead — set auth.credential_store = \"file\" to choose this without the warning",
                        self.paths.auth_file().display()
                    )),
                }),
            },
        }
    }

    /// Loads the stored credentials, or `None` when nobody is signed in.
    pub async fn load(&self) -> Result<Option<Stored>, StoreError> {
        match current_kind(&self.paths)? {
            None => Ok(None),
            Some(StoreKind::File) => {
                let path = self.paths.auth_file();
                let Some(bytes) =
                    fsio::read_private(&path).map_err(|e| io_error("read", &path, e))?
                else {
                    return Ok(None);
                };
                let doc: FileDoc = serde_json::from_slice(&bytes)
                    .map_err(|_| StoreError::Corrupt(format!("{} is not valid", path.display())))?;
                Ok(Some(Stored {
                    credentials: doc.meta.credentials(doc.tokens),
                    kind: StoreKind::File,
                    refresh_error: doc.meta.refresh_error,
                }))
            }
            Some(StoreKind::Keychain) => {
                let Some(index) = read_index(&self.paths)? else {
                    return Ok(None);
                };
                let tokens = self.read_chunks(&index).await?;
                Ok(Some(Stored {
                    credentials: index.meta.credentials(tokens),
                    kind: StoreKind::Keychain,
                    refresh_error: index.meta.refresh_error,
                }))
            }
        }
    }

    async fn read_chunks(&self, index: &IndexDoc) -> Result<Tokens, StoreError> {
        let backend = Arc::clone(&self.backend);
        let users: Vec<String> = (0..index.chunks)
            .map(|i| entry_user(&index.generation, i))
            .collect();
        let parts = off_thread(KEYCHAIN_TIMEOUT, move || {
            users
                .iter()
                .map(|u| backend.get(u))
                .collect::<Result<Vec<_>, _>>()
        })
        .await
        .and_then(|r| r)
        .map_err(|e| StoreError::Keychain(e.message))?;
        let mut blob = String::new();
        for part in parts {
            match part {
                Some(p) => blob.push_str(&p),
                None => {
                    return Err(StoreError::Corrupt(
                        "entries are missing from the OS keychain".into(),
                    ));
                }
            }
        }
        if hex(&Sha256::digest(blob.as_bytes())) != index.sha256 {
            return Err(StoreError::Corrupt(
                "the keychain entries do not match credentials.json".into(),
            ));
        }
        serde_json::from_str(&blob)
            .map_err(|_| StoreError::Corrupt("the keychain entries are not valid".into()))
    }

    /// Stores `creds` in `kind`, then removes any credentials from the other store. The
    /// caller holds `refresh.lock`; keychain entries of saves that never committed are
    /// deleted first (see [`CredentialStore::clean_orphans`]).
    pub async fn save(&self, creds: &Credentials, kind: StoreKind) -> Result<(), StoreError> {
        let dir = &self.paths.data_dir;
        fsio::ensure_private_dir(dir).map_err(|e| io_error("create", dir, e))?;
        self.clean_orphans().await;
        let meta = CredentialMeta::of(creds, None);
        let old_index = read_index(&self.paths).ok().flatten();
        match kind {
            StoreKind::File => {
                if let Some(old) = &old_index {
                    self.write_journal(&[Generation::of(old)])?;
                }
                self.write_file_doc(&FileDoc {
                    version: FORMAT_VERSION,
                    store: StoreKind::File,
                    meta,
                    tokens: creds.tokens.clone(),
                })?;
                if old_index.is_some() {
                    let path = self.paths.credentials_index_file();
                    fsio::remove_if_exists(&path).map_err(|e| io_error("remove", &path, e))?;
                    self.clean_orphans().await;
                }
                Ok(())
            }
            StoreKind::Keychain => self.save_keychain(creds, meta, old_index).await,
        }
    }

    /// Writes a keychain generation, commits it with `credentials.json`, then deletes the
    /// previous generation and any fallback `auth.json`.
    async fn save_keychain(
        &self,
        creds: &Credentials,
        meta: CredentialMeta,
        old_index: Option<IndexDoc>,
    ) -> Result<(), StoreError> {
        let blob = serde_json::to_string(&creds.tokens)
            .map_err(|e| StoreError::Keychain(e.to_string()))?;
        let chunks: Vec<String> = split_chunks(&blob, CHUNK_BYTES)
            .into_iter()
            .map(String::from)
            .collect();
        let index = IndexDoc {
            version: FORMAT_VERSION,
            store: StoreKind::Keychain,
            generation: new_generation(&self.paths),
            chunks: chunks.len() as u32,
            sha256: hex(&Sha256::digest(blob.as_bytes())),
            meta,
        };
        // The journal names every generation this save may leave behind: the new one
        // until the index commits it, the old one after.
        let mut journal: Vec<Generation> = old_index.iter().map(Generation::of).collect();
        journal.push(Generation::of(&index));
        self.write_journal(&journal)?;
        if let Err(e) = self.write_chunks(&index.generation, chunks).await {
            self.clean_orphans().await;
            return Err(e);
        }
        self.write_index(&index)?;
        self.clean_orphans().await;
        let auth = self.paths.auth_file();
        fsio::remove_if_exists(&auth).map_err(|e| io_error("remove", &auth, e))?;
        Ok(())
    }

    async fn write_chunks(&self, generation: &str, chunks: Vec<String>) -> Result<(), StoreError> {
        let backend = Arc::clone(&self.backend);
        let generation = generation.to_string();
        let written = off_thread(KEYCHAIN_TIMEOUT, move || {
            for (i, chunk) in chunks.iter().enumerate() {
                backend.set(&entry_user(&generation, i as u32), chunk)?;
            }
            Ok(())
        })
        .await
        .and_then(|r| r);
        written.map_err(|e| {
            if e.unusable {
                StoreError::KeychainUnusable(e.message)
            } else {
                StoreError::Keychain(e.message)
            }
        })
    }

    /// Writes `creds` to `auth.json` only, leaving the keychain as it is: the 0600 copy
    /// `auto` keeps while keychain saves fail. The next keychain save deletes it.
    pub(crate) async fn save_fallback_file(&self, creds: &Credentials) -> Result<(), StoreError> {
        let dir = &self.paths.data_dir;
        fsio::ensure_private_dir(dir).map_err(|e| io_error("create", dir, e))?;
        self.write_file_doc(&FileDoc {
            version: FORMAT_VERSION,
            store: StoreKind::File,
            meta: CredentialMeta::of(creds, None),
            tokens: creds.tokens.clone(),
        })
    }

    /// Records a permanent refresh failure in the metadata of the current store, if it
    /// still holds the credentials whose refresh token failed.
    pub(crate) async fn record_refresh_error(
        &self,
        failed_refresh_token: &[u8; 32],
        record: RefreshErrorRecord,
    ) -> Result<(), StoreError> {
        let Some(stored) = self.load().await? else {
            return Ok(());
        };
        if stored.credentials.tokens.refresh_token.digest() != *failed_refresh_token {
            return Ok(());
        }
        match stored.kind {
            StoreKind::File => {
                let mut meta = CredentialMeta::of(&stored.credentials, Some(record));
                meta.saved_at = read_meta(&self.paths).and_then(|(_, m)| m.saved_at);
                self.write_file_doc(&FileDoc {
                    version: FORMAT_VERSION,
                    store: StoreKind::File,
                    meta,
                    tokens: stored.credentials.tokens,
                })
            }
            StoreKind::Keychain => {
                let Some(mut index) = read_index(&self.paths)? else {
                    return Ok(());
                };
                index.meta.refresh_error = Some(record);
                self.write_index(&index)
            }
        }
    }

    /// Deletes the stored credentials from both stores; returns where they were.
    pub async fn delete(&self) -> Result<Option<StoreKind>, StoreError> {
        let mut found = None;
        let auth = self.paths.auth_file();
        if auth.exists() {
            fsio::remove_if_exists(&auth).map_err(|e| io_error("remove", &auth, e))?;
            found = Some(StoreKind::File);
        }
        let index_path = self.paths.credentials_index_file();
        if index_path.exists() {
            self.clean_orphans().await;
            if let Some(index) = read_index(&self.paths).ok().flatten() {
                self.write_journal(&[Generation::of(&index)])?;
            }
            fsio::remove_if_exists(&index_path).map_err(|e| io_error("remove", &index_path, e))?;
            self.clean_orphans().await;
            found = Some(StoreKind::Keychain);
        }
        if found.is_some() {
            let _ = fsio::sync_dir(&self.paths.data_dir);
        }
        Ok(found)
    }

    fn write_file_doc(&self, doc: &FileDoc) -> Result<(), StoreError> {
        let path = self.paths.auth_file();
        let bytes = serde_json::to_vec_pretty(doc).map_err(|e| StoreError::Io {
            action: "encode",
            path: path.clone(),
            reason: e.to_string(),
        })?;
        fsio::write_private_atomic(&path, &bytes).map_err(|e| io_error("write", &path, e))
    }

    fn write_index(&self, index: &IndexDoc) -> Result<(), StoreError> {
        let path = self.paths.credentials_index_file();
        let bytes = serde_json::to_vec_pretty(index).map_err(|e| StoreError::Io {
            action: "encode",
            path: path.clone(),
            reason: e.to_string(),
        })?;
        fsio::write_private_atomic(&path, &bytes).map_err(|e| io_error("write", &path, e))
    }
}

fn read_index(paths: &Paths) -> Result<Option<IndexDoc>, StoreError> {
    let path = paths.credentials_index_file();
    let Some(bytes) = fsio::read_private(&path).map_err(|e| io_error("read", &path, e))? else {
        return Ok(None);
    };
    let doc: IndexDoc = serde_json::from_slice(&bytes)
        .map_err(|_| StoreError::Corrupt(format!("{} is not valid", path.display())))?;
    if doc.chunks == 0 || doc.chunks > 64 {
        return Err(StoreError::Corrupt(format!(
            "{} names {} keychain entries",
            path.display(),
            doc.chunks
        )));
    }
    Ok(Some(doc))
}

fn read_meta_file(path: &Path) -> Option<(StoreKind, CredentialMeta)> {
    let bytes = fsio::read_private(path).ok()??;
    let doc: MetaDoc = serde_json::from_slice(&bytes).ok()?;
    Some((doc.store, doc.meta))
}

/// Which store holds the current credentials, from the local files only. When a crash
/// left both files, the later save wins.
fn current_kind(paths: &Paths) -> Result<Option<StoreKind>, StoreError> {
    let file = paths.auth_file().exists();
    let index = paths.credentials_index_file().exists();
    Ok(match (file, index) {
        (false, false) => None,
        (true, false) => Some(StoreKind::File),
        (false, true) => Some(StoreKind::Keychain),
        (true, true) => read_meta(paths).map(|(kind, _)| kind),
    })
}

/// The metadata of the current credentials (local files only: no keychain, no
/// network), with the store that holds them.
pub(crate) fn read_meta(paths: &Paths) -> Option<(StoreKind, CredentialMeta)> {
    let file = read_meta_file(&paths.auth_file()).map(|(_, m)| (StoreKind::File, m));
    let index =
        read_meta_file(&paths.credentials_index_file()).map(|(_, m)| (StoreKind::Keychain, m));
    match (file, index) {
        (Some(f), Some(i)) => Some(if i.1.saved_at() > f.1.saved_at() {
            i
        } else {
            f
        }),
        (f, i) => f.or(i),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::auth::claims::make_jwt;
    use crate::auth::credentials::Secret;
    use serde_json::json;
    use std::collections::HashMap;
    use std::sync::Mutex;

    /// An in-memory keychain for unit tests.
    #[derive(Default)]
    pub(crate) struct MemoryKeychain {
        pub entries: Mutex<HashMap<String, String>>,
        pub unusable: bool,
    }

    impl SecretBackend for MemoryKeychain {
        fn set(&self, user: &str, secret: &str) -> Result<(), KeychainError> {
            if self.unusable {
                return Err(KeychainError {
                    unusable: true,
                    message: "no keychain in this test".into(),
                });
            }
            assert!(secret.len() <= CHUNK_BYTES, "chunk too large");
            self.entries
                .lock()
                .unwrap()
                .insert(user.to_string(), secret.to_string());
            Ok(())
        }
        fn get(&self, user: &str) -> Result<Option<String>, KeychainError> {
            Ok(self.entries.lock().unwrap().get(user).cloned())
        }
        fn delete(&self, user: &str) -> Result<(), KeychainError> {
            self.entries.lock().unwrap().remove(user);
            Ok(())
        }
    }

    pub(crate) fn sample_credentials(refresh: &str, padding: usize) -> Credentials {
        let id = make_jwt(&json!({
            "email": "user@example.com",
            "pad": "x".repeat(padding),
            "https://api.openai.com/auth": {"chatgpt_account_id": "acc-1", "chatgpt_plan_type": "plus"}
        }));
        let access = make_jwt(&json!({"exp": 4_000_000_000u64, "pad": "é".repeat(padding / 2)}));
        Credentials::from_tokens(
            Tokens {
                id_token: Secret::new(id),
                access_token: Secret::new(access),
                refresh_token: Secret::new(refresh),
            },
            jiff::Timestamp::from_second(1_700_000_000).unwrap(),
        )
    }

    fn paths(dir: &Path) -> Paths {
        Paths {
            config_file: dir.join("config.toml"),
            data_dir: dir.join("data"),
        }
    }

    #[test]
    fn chunks_respect_the_limit_and_char_boundaries() {
        let text = "aé😀".repeat(1500);
        let chunks = split_chunks(&text, CHUNK_BYTES);
        assert!(chunks.len() > 1);
        assert!(
            chunks
                .iter()
                .all(|c| c.len() <= CHUNK_BYTES && !c.is_empty())
        );
        assert_eq!(chunks.concat(), text);
        assert!(split_chunks("", CHUNK_BYTES).is_empty());
        assert_eq!(split_chunks("abc", CHUNK_BYTES), vec!["abc"]);
    }

    #[tokio::test]
    async fn file_store_round_trip_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let store = CredentialStore::with_backend(
            paths(dir.path()),
            CredentialStoreKind::File,
            Arc::new(MemoryKeychain::default()),
        );
        assert!(store.load().await.unwrap().is_none());
        let creds = sample_credentials("rt_file", 10);
        assert_eq!(store.choose().await.unwrap().kind, StoreKind::File);
        store.save(&creds, StoreKind::File).await.unwrap();
        let loaded = store.load().await.unwrap().unwrap();
        assert_eq!(loaded.kind, StoreKind::File);
        assert_eq!(loaded.credentials, creds);
        #[cfg(unix)]
        {
            assert_eq!(fsio::mode_of(&store.paths.auth_file()), Some(0o600));
            assert_eq!(fsio::mode_of(&store.paths.data_dir), Some(0o700));
        }
        let (kind, meta) = read_meta(&store.paths).unwrap();
        assert_eq!(kind, StoreKind::File);
        assert_eq!(meta.email.as_deref(), Some("user@example.com"));
        assert_eq!(store.delete().await.unwrap(), Some(StoreKind::File));
        assert!(store.load().await.unwrap().is_none());
        assert_eq!(store.delete().await.unwrap(), None);
    }

    #[tokio::test]
    async fn keychain_store_chunks_verifies_and_replaces_generations() {
        let dir = tempfile::tempdir().unwrap();
        let backend = Arc::new(MemoryKeychain::default());
        let store = CredentialStore::with_backend(
            paths(dir.path()),
            CredentialStoreKind::Auto,
            backend.clone(),
        );
        assert_eq!(store.choose().await.unwrap().kind, StoreKind::Keychain);
        // Big tokens (real ones are ~2 KB each) force several chunks.
        let first = sample_credentials("rt_one", 3000);
        store.save(&first, StoreKind::Keychain).await.unwrap();
        let n = backend.entries.lock().unwrap().len();
        assert!(n >= 3, "expected several chunks, got {n}");
        let loaded = store.load().await.unwrap().unwrap();
        assert_eq!(loaded.kind, StoreKind::Keychain);
        assert_eq!(loaded.credentials, first);
        let index = std::fs::read_to_string(store.paths.credentials_index_file()).unwrap();
        assert!(!index.contains("rt_one"), "no secret in the index");

        let second = sample_credentials("rt_two", 10);
        store.save(&second, StoreKind::Keychain).await.unwrap();
        assert_eq!(store.load().await.unwrap().unwrap().credentials, second);
        assert_eq!(
            backend.entries.lock().unwrap().len(),
            1,
            "old generation deleted"
        );

        // Tampering with an entry is detected by the digest.
        for v in backend.entries.lock().unwrap().values_mut() {
            v.push(' ');
        }
        assert!(matches!(store.load().await, Err(StoreError::Corrupt(_))));

        // Moving to the file store removes the keychain copy, and back again.
        store.save(&first, StoreKind::File).await.unwrap();
        assert!(backend.entries.lock().unwrap().is_empty());
        assert!(!store.paths.credentials_index_file().exists());
        store.save(&second, StoreKind::Keychain).await.unwrap();
        assert!(!store.paths.auth_file().exists());
        assert_eq!(store.delete().await.unwrap(), Some(StoreKind::Keychain));
        assert!(backend.entries.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn unusable_keychain_falls_back_or_fails_by_preference() {
        let dir = tempfile::tempdir().unwrap();
        let backend = Arc::new(MemoryKeychain {
            unusable: true,
            ..Default::default()
        });
        let auto = CredentialStore::with_backend(
            paths(dir.path()),
            CredentialStoreKind::Auto,
            backend.clone(),
        );
        let choice = auto.choose().await.unwrap();
        assert_eq!(choice.kind, StoreKind::File);
        let warning = choice.warning.unwrap();
        assert!(!warning.contains('\n'));
        assert!(warning.contains("auth.json") && warning.contains("no keychain in this test"));
        let forced = CredentialStore::with_backend(
            paths(dir.path()),
            CredentialStoreKind::Keychain,
            backend,
        );
        let err = forced.choose().await.unwrap_err().to_string();
        assert!(err.contains("auth.credential_store = \"file\""), "{err}");
    }

    #[tokio::test]
    async fn refresh_errors_are_recorded_only_for_the_failed_set() {
        let dir = tempfile::tempdir().unwrap();
        let store = CredentialStore::with_backend(
            paths(dir.path()),
            CredentialStoreKind::File,
            Arc::new(MemoryKeychain::default()),
        );
        let creds = sample_credentials("rt_a", 10);
        store.save(&creds, StoreKind::File).await.unwrap();
        let record = RefreshErrorRecord {
            code: Some("refresh_token_expired".into()),
            message: "expired".into(),
            at: jiff::Timestamp::now().to_string(),
        };
        let other = Secret::new("rt_other").digest();
        store
            .record_refresh_error(&other, record.clone())
            .await
            .unwrap();
        assert!(store.load().await.unwrap().unwrap().refresh_error.is_none());
        let digest = creds.tokens.refresh_token.digest();
        store
            .record_refresh_error(&digest, record.clone())
            .await
            .unwrap();
        assert_eq!(
            store.load().await.unwrap().unwrap().refresh_error,
            Some(record)
        );
        store.save(&creds, StoreKind::File).await.unwrap();
        assert!(store.load().await.unwrap().unwrap().refresh_error.is_none());
    }

    /// A keychain that can die in the middle of a save and refuse deletes, to leave the
    /// leftovers a killed process would.
    #[derive(Default)]
    struct CrashingKeychain {
        inner: MemoryKeychain,
        sets_before_crash: Mutex<Option<usize>>,
        deletes_fail: std::sync::atomic::AtomicBool,
    }

    impl SecretBackend for CrashingKeychain {
        fn set(&self, user: &str, secret: &str) -> Result<(), KeychainError> {
            if let Some(n) = self.sets_before_crash.lock().unwrap().as_mut() {
                if *n == 0 {
                    return Err(KeychainError {
                        unusable: false,
                        message: "simulated crash".into(),
                    });
                }
                *n -= 1;
            }
            self.inner.set(user, secret)
        }
        fn get(&self, user: &str) -> Result<Option<String>, KeychainError> {
            self.inner.get(user)
        }
        fn delete(&self, user: &str) -> Result<(), KeychainError> {
            if self.deletes_fail.load(std::sync::atomic::Ordering::SeqCst) {
                return Err(KeychainError {
                    unusable: false,
                    message: "delete refused".into(),
                });
            }
            self.inner.delete(user)
        }
    }

    fn entry_generations(backend: &CrashingKeychain) -> std::collections::BTreeSet<String> {
        let entries = backend.inner.entries.lock().unwrap();
        entries
            .keys()
            .map(|k| k.split('.').nth(1).unwrap().to_string())
            .collect()
    }

    fn index_generation(store: &CredentialStore) -> String {
        read_index(&store.paths).unwrap().unwrap().generation
    }

    #[tokio::test]
    async fn uncommitted_keychain_writes_are_cleaned_on_the_next_start() {
        let dir = tempfile::tempdir().unwrap();
        let backend = Arc::new(CrashingKeychain::default());
        let store = CredentialStore::with_backend(
            paths(dir.path()),
            CredentialStoreKind::Keychain,
            backend.clone(),
        );
        let first = sample_credentials("rt_first", 3000);
        store.save(&first, StoreKind::Keychain).await.unwrap();
        // Dies after one chunk of the next set, with nothing able to clean up.
        backend
            .deletes_fail
            .store(true, std::sync::atomic::Ordering::SeqCst);
        *backend.sets_before_crash.lock().unwrap() = Some(1);
        let second = sample_credentials("rt_second", 3000);
        assert!(store.save(&second, StoreKind::Keychain).await.is_err());
        assert_eq!(
            entry_generations(&backend).len(),
            2,
            "a half-written set is left"
        );
        assert!(store.has_orphans());

        // The next start (a new process) deletes it; the committed set is untouched.
        backend
            .deletes_fail
            .store(false, std::sync::atomic::Ordering::SeqCst);
        *backend.sets_before_crash.lock().unwrap() = None;
        let restarted = CredentialStore::with_backend(
            paths(dir.path()),
            CredentialStoreKind::Keychain,
            backend.clone(),
        );
        restarted.clean_orphans().await;
        assert!(!restarted.has_orphans());
        assert_eq!(
            entry_generations(&backend).into_iter().collect::<Vec<_>>(),
            vec![index_generation(&restarted)]
        );
        assert_eq!(restarted.load().await.unwrap().unwrap().credentials, first);
    }

    #[tokio::test]
    async fn old_generations_left_after_a_commit_are_cleaned_on_save_and_logout() {
        let dir = tempfile::tempdir().unwrap();
        let backend = Arc::new(CrashingKeychain::default());
        let store = CredentialStore::with_backend(
            paths(dir.path()),
            CredentialStoreKind::Keychain,
            backend.clone(),
        );
        store
            .save(&sample_credentials("rt_a", 10), StoreKind::Keychain)
            .await
            .unwrap();
        backend
            .deletes_fail
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let b = sample_credentials("rt_b", 10);
        store.save(&b, StoreKind::Keychain).await.unwrap();
        let c = sample_credentials("rt_c", 10);
        store.save(&c, StoreKind::Keychain).await.unwrap();
        assert_eq!(entry_generations(&backend).len(), 3, "deletes were refused");
        assert_eq!(store.load().await.unwrap().unwrap().credentials, c);

        // The next save cleans every leftover generation, not only the last one.
        backend
            .deletes_fail
            .store(false, std::sync::atomic::Ordering::SeqCst);
        let d = sample_credentials("rt_d", 10);
        store.save(&d, StoreKind::Keychain).await.unwrap();
        assert_eq!(
            entry_generations(&backend).into_iter().collect::<Vec<_>>(),
            vec![index_generation(&store)]
        );
        assert!(!store.has_orphans());

        // Logout with refused deletes keeps the journal; the next one finishes the job.
        backend
            .deletes_fail
            .store(true, std::sync::atomic::Ordering::SeqCst);
        assert_eq!(store.delete().await.unwrap(), Some(StoreKind::Keychain));
        assert_eq!(entry_generations(&backend).len(), 1);
        backend
            .deletes_fail
            .store(false, std::sync::atomic::Ordering::SeqCst);
        assert_eq!(store.delete().await.unwrap(), None);
        store.clean_orphans().await;
        assert!(entry_generations(&backend).is_empty());
        assert!(!store.has_orphans());
    }

    /// The real OS keychain; runs only with `AIRELAYS_TEST_KEYCHAIN=1` and then must work.
    #[tokio::test]
    async fn os_keychain_round_trip_when_enabled() {
        if std::env::var("AIRELAYS_TEST_KEYCHAIN").as_deref() != Ok("1") {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let store = CredentialStore::new(paths(dir.path()), CredentialStoreKind::Keychain);
        store
            .probe_keychain()
            .await
            .expect("AIRELAYS_TEST_KEYCHAIN=1 but the OS keychain is not usable");
        let creds = sample_credentials("rt_os", 3000);
        store.save(&creds, StoreKind::Keychain).await.unwrap();
        assert_eq!(store.load().await.unwrap().unwrap().credentials, creds);
        assert_eq!(store.delete().await.unwrap(), Some(StoreKind::Keychain));
        assert!(store.load().await.unwrap().is_none());
    }
}
