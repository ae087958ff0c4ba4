//! The relay token: the bearer secret local clients present to airelays (docs/security.md).
//!
//! - 32 bytes from the OS CSPRNG, base64url without padding (43 characters);
//! - stored 0600 in `security.bearer_token_file`, replaced atomically on rotation;
//! - `AIRELAYS_BEARER_TOKEN` overrides the file (rotation is then impossible);
//! - shown to humans and logs only as a fingerprint (first 12 hex digits of SHA-256).
//!
//! [`TokenVerifier`] is what the server uses: it compares presented tokens in
//! constant time against the current one, and a watcher notices a rotation by
//! checking the file's metadata at most twice a second — never a read per request.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::fsio;

/// The variable that sets the relay token itself.
pub(crate) const TOKEN_ENV: &str = "AIRELAYS_BEARER_TOKEN";

/// A relay token. `Debug` never prints the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct RelayToken(String);

impl std::fmt::Debug for RelayToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RelayToken({})", self.fingerprint())
    }
}

impl RelayToken {
    /// A fresh token from the OS CSPRNG.
    pub fn generate() -> RelayToken {
        let bytes: [u8; 32] = rand::random();
        RelayToken(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// Wraps a token given by the user (env or file); surrounding whitespace is ignored.
    pub(crate) fn from_user(s: &str) -> Option<RelayToken> {
        let t = s.trim();
        (!t.is_empty() && t.bytes().all(|b| b.is_ascii_graphic()))
            .then(|| RelayToken(t.to_string()))
    }

    /// The token itself, for the one place that shows it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// SHA-256 of the token.
    pub(crate) fn digest(&self) -> [u8; 32] {
        Sha256::digest(self.0.as_bytes()).into()
    }

    /// First 12 hex digits of SHA-256 of the token.
    pub(crate) fn fingerprint(&self) -> String {
        fingerprint_of(self.0.as_bytes())
    }
}

/// First 12 hex digits of SHA-256 of `secret`.
pub(crate) fn fingerprint_of(secret: &[u8]) -> String {
    let digest = Sha256::digest(secret);
    digest[..6].iter().map(|b| format!("{b:02x}")).collect()
}

/// Where the effective token comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    /// `AIRELAYS_BEARER_TOKEN`.
    Env,
    /// The token file at this path.
    File(PathBuf),
}

impl TokenSource {
    /// `env` or `file`, as status spells it.
    pub(crate) fn label(&self) -> &'static str {
        match self {
            TokenSource::Env => "env",
            TokenSource::File(_) => "file",
        }
    }
}

/// Failure to use the relay token; always phrased with the next step.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TokenError {
    #[error("cannot read the relay token file {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("cannot write the relay token file {path}: {source}")]
    Write { path: PathBuf, source: io::Error },
    #[error(
        "the relay token file {0} is empty or contains invalid characters — run `airelays token rotate` to replace it"
    )]
    Corrupt(PathBuf),
    #[error(
        "the relay token from AIRELAYS_BEARER_TOKEN is {0} characters; at least 32 are required — set a longer one (`openssl rand -base64 32`) or unset it to use the generated token file"
    )]
    EnvTooShort(usize),
    #[error(
        "the relay token in {path} is {len} characters; at least 32 are required — run `airelays token rotate` to replace it"
    )]
    FileTooShort { path: PathBuf, len: usize },
    #[error(
        "the relay token comes from AIRELAYS_BEARER_TOKEN, so it cannot be rotated here — change the variable instead, or unset it to use the token file"
    )]
    FromEnv,
}

/// The shortest relay token `serve` accepts. A correct token is served even from a
/// banned address, so the token's length is what bounds guessing (docs/security.md).
pub(crate) const MIN_TOKEN_CHARS: usize = 32;

/// Refuses a relay token shorter than [`MIN_TOKEN_CHARS`], naming where it came from
/// (`serve` calls this before it binds).
pub(crate) fn require_strong(token: &RelayToken, source: &TokenSource) -> Result<(), TokenError> {
    let len = token.expose().chars().count();
    if len >= MIN_TOKEN_CHARS {
        return Ok(());
    }
    Err(match source {
        TokenSource::Env => TokenError::EnvTooShort(len),
        TokenSource::File(path) => TokenError::FileTooShort {
            path: path.clone(),
            len,
        },
    })
}

/// Reads the token file; `Ok(None)` if it does not exist.
pub(crate) fn read_file(path: &Path) -> Result<Option<RelayToken>, TokenError> {
    let bytes = fsio::read_private(path).map_err(|source| TokenError::Read {
        path: path.into(),
        source,
    })?;
    match bytes {
        None => Ok(None),
        Some(b) => {
            let text = String::from_utf8(b).map_err(|_| TokenError::Corrupt(path.into()))?;
            RelayToken::from_user(&text)
                .map(Some)
                .ok_or_else(|| TokenError::Corrupt(path.into()))
        }
    }
}

/// The effective token: `AIRELAYS_BEARER_TOKEN` if set, else the file.
pub(crate) fn load(
    file: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<(RelayToken, TokenSource)>, TokenError> {
    if let Some(t) = env(TOKEN_ENV).as_deref().and_then(RelayToken::from_user) {
        return Ok(Some((t, TokenSource::Env)));
    }
    Ok(read_file(file)?.map(|t| (t, TokenSource::File(file.to_path_buf()))))
}

/// Creates the token file if missing. Returns the token and whether it was created.
pub(crate) fn ensure(file: &Path) -> Result<(RelayToken, bool), TokenError> {
    if let Some(t) = read_file(file)? {
        return Ok((t, false));
    }
    let token = RelayToken::generate();
    write(file, &token)?;
    Ok((token, true))
}

/// Replaces the token file with a new token.
pub(crate) fn rotate(
    file: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<RelayToken, TokenError> {
    if env(TOKEN_ENV)
        .as_deref()
        .and_then(RelayToken::from_user)
        .is_some()
    {
        return Err(TokenError::FromEnv);
    }
    let token = RelayToken::generate();
    write(file, &token)?;
    Ok(token)
}

fn write(file: &Path, token: &RelayToken) -> Result<(), TokenError> {
    let err = |source| TokenError::Write {
        path: file.into(),
        source,
    };
    // A directory we create is private; one that exists (a custom `bearer_token_file`
    // in a shared directory) is not ours to chmod — the file itself is 0600.
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
        fsio::create_dir_if_missing(dir).map_err(err)?;
    }
    let mut contents = token.expose().as_bytes().to_vec();
    contents.push(b'\n');
    fsio::write_private_atomic(file, &contents).map_err(err)
}

/// Why a presented `Authorization` header was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    /// No `Authorization` header at all.
    Missing,
    /// A header that is not `Bearer <token>`.
    WrongScheme,
    /// A bearer token that is not the current relay token.
    Invalid,
}

/// Checks presented tokens against the current relay token, and follows rotations.
#[derive(Clone)]
pub struct TokenVerifier {
    inner: Arc<VerifierState>,
}

struct VerifierState {
    digest: RwLock<Option<[u8; 32]>>,
    fingerprint: RwLock<Option<String>>,
    source: Option<TokenSource>,
    file_stamp: RwLock<Option<FileStamp>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct FileStamp {
    modified: Option<SystemTime>,
    len: u64,
    #[cfg(unix)]
    inode: u64,
}

fn stamp(path: &Path) -> Option<FileStamp> {
    let meta = std::fs::metadata(path).ok()?;
    Some(FileStamp {
        modified: meta.modified().ok(),
        len: meta.len(),
        #[cfg(unix)]
        inode: std::os::unix::fs::MetadataExt::ino(&meta),
    })
}

impl TokenVerifier {
    /// A verifier for `token` (`None`: every token is refused).
    pub fn new(token: Option<(RelayToken, TokenSource)>) -> TokenVerifier {
        let (digest, fingerprint, source, file_stamp) = match token {
            Some((t, source)) => {
                let file_stamp = match &source {
                    TokenSource::File(p) => stamp(p),
                    TokenSource::Env => None,
                };
                (
                    Some(t.digest()),
                    Some(t.fingerprint()),
                    Some(source),
                    file_stamp,
                )
            }
            None => (None, None, None, None),
        };
        TokenVerifier {
            inner: Arc::new(VerifierState {
                digest: RwLock::new(digest),
                fingerprint: RwLock::new(fingerprint),
                source,
                file_stamp: RwLock::new(file_stamp),
            }),
        }
    }

    /// Checks an `Authorization` header value in constant time: both sides are
    /// hashed first, so neither the content nor the length of the real token leaks
    /// through timing.
    pub fn check(&self, header: Option<&[u8]>) -> Result<(), AuthFailure> {
        let header = header.ok_or(AuthFailure::Missing)?;
        let presented = bearer_value(header).ok_or(AuthFailure::WrongScheme)?;
        self.verify(presented)
    }

    /// Checks an `x-api-key` header value (the token itself, no scheme), as
    /// Anthropic clients send it.
    pub(crate) fn check_key(&self, key: &[u8]) -> Result<(), AuthFailure> {
        match key.trim_ascii() {
            [] => Err(AuthFailure::Missing),
            presented => self.verify(presented),
        }
    }

    /// Compares a presented token with the current one in constant time.
    fn verify(&self, presented: &[u8]) -> Result<(), AuthFailure> {
        let presented_digest: [u8; 32] = Sha256::digest(presented).into();
        let current = *self.inner.digest.read().unwrap_or_else(|e| e.into_inner());
        match current {
            Some(d) if bool::from(d.ct_eq(&presented_digest)) => Ok(()),
            _ => Err(AuthFailure::Invalid),
        }
    }

    /// The fingerprint of the current token.
    pub(crate) fn fingerprint(&self) -> Option<String> {
        self.inner
            .fingerprint
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Re-reads the token file if its metadata changed. Returns true on a change.
    pub(crate) fn refresh_from_file(&self) -> bool {
        let Some(TokenSource::File(path)) = &self.inner.source else {
            return false;
        };
        let now = stamp(path);
        {
            let last = self
                .inner
                .file_stamp
                .read()
                .unwrap_or_else(|e| e.into_inner());
            if *last == now {
                return false;
            }
        }
        let token = match read_file(path) {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!("relay token file changed but could not be read: {e}");
                return false;
            }
        };
        *self
            .inner
            .file_stamp
            .write()
            .unwrap_or_else(|e| e.into_inner()) = now;
        if let Some(t) = &token
            && let Err(e) = require_strong(t, &TokenSource::File(path.clone()))
        {
            tracing::warn!("relay token file changed but the new token is refused: {e}");
            return false;
        }
        let (digest, fp) = match &token {
            Some(t) => (Some(t.digest()), Some(t.fingerprint())),
            None => (None, None),
        };
        let changed = {
            let mut d = self.inner.digest.write().unwrap_or_else(|e| e.into_inner());
            let changed = *d != digest;
            *d = digest;
            changed
        };
        *self
            .inner
            .fingerprint
            .write()
            .unwrap_or_else(|e| e.into_inner()) = fp.clone();
        if changed {
            match fp {
                Some(fp) => {
                    tracing::info!(fingerprint = %fp, "relay token rotated; only the new token is accepted")
                }
                None => tracing::warn!(
                    "relay token file removed; every request is refused until `airelays token rotate`"
                ),
            }
        }
        changed
    }

    /// Watches the token file for rotations until `shutdown` fires.
    pub(crate) fn spawn_watcher(
        &self,
        period: Duration,
        mut shutdown: crate::shutdown::Shutdown,
    ) -> tokio::task::JoinHandle<()> {
        let me = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = shutdown.fired() => return,
                }
                let verifier = me.clone();
                let _ = tokio::task::spawn_blocking(move || verifier.refresh_from_file()).await;
            }
        })
    }
}

/// Extracts the token from `Bearer <token>` (scheme case-insensitive).
fn bearer_value(header: &[u8]) -> Option<&[u8]> {
    let header = header.trim_ascii();
    if header.len() < 7 || !header[..6].eq_ignore_ascii_case(b"bearer") || header[6] != b' ' {
        return None;
    }
    let token = header[7..].trim_ascii();
    (!token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn generated_tokens_are_43_chars_base64url_and_unique() {
        let a = RelayToken::generate();
        let b = RelayToken::generate();
        assert_eq!(a.expose().len(), 43);
        assert!(
            a.expose()
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
        assert_ne!(a, b);
        assert_eq!(a.fingerprint().len(), 12);
        assert!(!format!("{a:?}").contains(a.expose()));
    }

    #[test]
    fn fingerprint_is_sha256_prefix() {
        // sha256("abc") = ba7816bf8f01cfea…
        assert_eq!(fingerprint_of(b"abc"), "ba7816bf8f01");
    }

    #[test]
    fn bearer_parsing() {
        assert_eq!(bearer_value(b"Bearer abc"), Some(&b"abc"[..]));
        assert_eq!(bearer_value(b"bearer abc"), Some(&b"abc"[..]));
        assert_eq!(bearer_value(b"BEARER   abc  "), Some(&b"abc"[..]));
        assert_eq!(bearer_value(b"abc"), None);
        assert_eq!(bearer_value(b"Basic abc"), None);
        assert_eq!(bearer_value(b"Bearer "), None);
        assert_eq!(bearer_value(b"Bearerabc"), None);
    }

    #[test]
    fn verifier_accepts_only_the_current_token() {
        let t = RelayToken::generate();
        let v = TokenVerifier::new(Some((t.clone(), TokenSource::Env)));
        let good = format!("Bearer {}", t.expose());
        assert_eq!(v.check(Some(good.as_bytes())), Ok(()));
        assert_eq!(v.check(None), Err(AuthFailure::Missing));
        assert_eq!(
            v.check(Some(t.expose().as_bytes())),
            Err(AuthFailure::WrongScheme)
        );
        assert_eq!(v.check(Some(b"Bearer nope")), Err(AuthFailure::Invalid));
        let none = TokenVerifier::new(None);
        assert_eq!(none.check(Some(good.as_bytes())), Err(AuthFailure::Invalid));
    }

    #[test]
    fn rotation_is_seen_through_metadata() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("data").join("relay-token");
        let (first, created) = ensure(&file).unwrap();
        assert!(created);
        let (again, created) = ensure(&file).unwrap();
        assert!(!created);
        assert_eq!(first, again);
        let v = TokenVerifier::new(Some((first.clone(), TokenSource::File(file.clone()))));
        assert!(!v.refresh_from_file(), "no change yet");
        let second = rotate(&file, &no_env).unwrap();
        assert!(v.refresh_from_file());
        assert_eq!(
            v.check(Some(format!("Bearer {}", first.expose()).as_bytes())),
            Err(AuthFailure::Invalid)
        );
        assert_eq!(
            v.check(Some(format!("Bearer {}", second.expose()).as_bytes())),
            Ok(())
        );
        assert_eq!(v.fingerprint(), Some(second.fingerprint()));
    }

    #[test]
    fn env_token_overrides_and_blocks_rotation() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("relay-token");
        ensure(&file).unwrap();
        let env = |k: &str| (k == TOKEN_ENV).then(|| "from-env-token".to_string());
        let (t, source) = load(&file, &env).unwrap().unwrap();
        assert_eq!(t.expose(), "from-env-token");
        assert_eq!(source, TokenSource::Env);
        assert!(matches!(rotate(&file, &env), Err(TokenError::FromEnv)));
    }

    #[test]
    fn short_tokens_are_refused_by_source() {
        let short = RelayToken::from_user(&"x".repeat(31)).unwrap();
        let ok = RelayToken::from_user(&"x".repeat(32)).unwrap();
        let file = TokenSource::File(PathBuf::from("/tmp/t"));
        assert!(require_strong(&ok, &TokenSource::Env).is_ok());
        assert!(require_strong(&RelayToken::generate(), &file).is_ok());
        let env = require_strong(&short, &TokenSource::Env)
            .unwrap_err()
            .to_string();
        assert!(
            env.contains("AIRELAYS_BEARER_TOKEN is 31 characters"),
            "{env}"
        );
        let from_file = require_strong(&short, &file).unwrap_err().to_string();
        assert!(from_file.contains("/tmp/t is 31 characters"), "{from_file}");
        assert!(!env.contains('\n') && !from_file.contains('\n'));
        assert!(
            !from_file.contains(short.expose()),
            "the token is never shown"
        );
    }

    #[test]
    fn a_short_token_written_into_the_file_is_not_adopted() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("relay-token");
        let (t, _) = ensure(&file).unwrap();
        let v = TokenVerifier::new(Some((t.clone(), TokenSource::File(file.clone()))));
        std::fs::write(&file, b"short-token\n").unwrap();
        assert!(!v.refresh_from_file());
        let good = format!("Bearer {}", t.expose());
        assert_eq!(v.check(Some(good.as_bytes())), Ok(()));
        assert_eq!(
            v.check(Some(b"Bearer short-token")),
            Err(AuthFailure::Invalid)
        );
    }

    #[test]
    fn corrupt_file_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("relay-token");
        std::fs::write(&file, b"  \n").unwrap();
        assert!(matches!(read_file(&file), Err(TokenError::Corrupt(_))));
    }
}
