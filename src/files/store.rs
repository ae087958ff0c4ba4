//! The crash-safe file store.
//!
//! Layout under the store directory (all directories 0700, all files 0600):
//! - `objects/<id>` — the bytes of a stored file;
//! - `meta/<id>.json` — its metadata (`StoredMeta`);
//! - `tmp/<random>.part` — uploads in progress.
//!
//! The metadata file is the commit point: a file exists iff `meta/<id>.json` parses and
//! `objects/<id>` is a regular file of the recorded size. An upload writes and fsyncs
//! its bytes in `tmp/`, renames them to `objects/<id>` (fsync the directory), then
//! writes the metadata atomically. A delete removes the metadata first. Whatever a
//! crash leaves half-done, [`FileStore::open`] removes: every temp file, every object
//! without metadata, every metadata file without a matching object.
//!
//! After `open`, the in-memory index answers `get`, `list` and `summary`; only `read`
//! (and so inlining) touches file contents.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use rand::Rng;

use super::list::{self, ListPage, ListQuery};
use super::{FileError, FileObject, UploadLimits, is_valid_id};
use crate::fsio;

/// The local file store. Cheap to clone; clones share one index and quota.
#[derive(Clone)]
pub struct FileStore {
    inner: Arc<Inner>,
}

struct Inner {
    dirs: Dirs,
    limits: UploadLimits,
    index: Mutex<Index>,
}

struct Dirs {
    objects: PathBuf,
    meta: PathBuf,
    tmp: PathBuf,
}

impl Dirs {
    fn new(root: &Path) -> Dirs {
        Dirs {
            objects: root.join("objects"),
            meta: root.join("meta"),
            tmp: root.join("tmp"),
        }
    }

    /// `id` must have passed [`is_valid_id`].
    fn object(&self, id: &str) -> PathBuf {
        self.objects.join(id)
    }

    /// `id` must have passed [`is_valid_id`].
    fn meta_file(&self, id: &str) -> PathBuf {
        self.meta.join(format!("{id}.json"))
    }
}

/// Committed files ordered by (created_at, id), and the bytes they and the uploads in
/// flight take against the total quota.
#[derive(Default)]
pub(super) struct Index {
    pub(super) by_time: BTreeMap<(i64, String), FileObject>,
    created_at: HashMap<String, i64>,
    stored_bytes: u64,
    in_flight_bytes: u64,
}

impl Index {
    fn insert(&mut self, obj: FileObject) {
        self.stored_bytes = self.stored_bytes.saturating_add(obj.bytes);
        self.created_at.insert(obj.id.clone(), obj.created_at);
        self.by_time.insert((obj.created_at, obj.id.clone()), obj);
    }

    fn remove(&mut self, id: &str) -> Option<FileObject> {
        let created_at = self.created_at.remove(id)?;
        let obj = self.by_time.remove(&(created_at, id.to_string()))?;
        self.stored_bytes = self.stored_bytes.saturating_sub(obj.bytes);
        Some(obj)
    }

    fn get(&self, id: &str) -> Option<&FileObject> {
        let created_at = *self.created_at.get(id)?;
        self.by_time.get(&(created_at, id.to_string()))
    }

    pub(super) fn key_of(&self, id: &str) -> Option<(i64, String)> {
        self.created_at.get(id).map(|c| (*c, id.to_string()))
    }
}

/// The content of `meta/<id>.json`.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct StoredMeta {
    id: String,
    bytes: u64,
    created_at: i64,
    filename: String,
    purpose: String,
    content_type: String,
}

impl StoredMeta {
    fn of(obj: &FileObject) -> StoredMeta {
        StoredMeta {
            id: obj.id.clone(),
            bytes: obj.bytes,
            created_at: obj.created_at,
            filename: obj.filename.clone(),
            purpose: obj.purpose.clone(),
            content_type: obj.content_type.clone(),
        }
    }

    fn into_object(self) -> FileObject {
        new_file_object(
            self.id,
            self.bytes,
            self.created_at,
            self.filename,
            self.purpose,
            self.content_type,
        )
    }
}

fn new_file_object(
    id: String,
    bytes: u64,
    created_at: i64,
    filename: String,
    purpose: String,
    content_type: String,
) -> FileObject {
    FileObject {
        id,
        object: "file",
        bytes,
        created_at,
        filename,
        purpose,
        status: "processed",
        status_details: None,
        expires_at: None,
        content_type,
    }
}

impl FileStore {
    /// Opens (creating 0700) the store dir, removes leftovers of interrupted uploads and
    /// deletes, and rebuilds the in-memory index from metadata files only (never reads
    /// file contents).
    pub fn open(dir: &Path, limits: UploadLimits) -> io::Result<FileStore> {
        let dirs = Dirs::new(dir);
        fsio::ensure_private_dir(dir)?;
        for d in [&dirs.objects, &dirs.meta, &dirs.tmp] {
            fsio::ensure_private_dir(d)?;
        }

        for entry in fs::read_dir(&dirs.tmp)? {
            remove_entry(&entry?.path())?;
        }

        let mut index = Index::default();
        for entry in fs::read_dir(&dirs.meta)? {
            let path = entry?.path();
            let id = meta_file_id(&path);
            let valid = match &id {
                Some(id) => load_committed(&dirs, id)?,
                None => None,
            };
            match valid {
                Some(obj) => index.insert(obj),
                None => {
                    // Not a commit: a temp file of an interrupted metadata write, or
                    // metadata whose object is missing, truncated or unreadable.
                    remove_entry(&path)?;
                    if let Some(id) = id {
                        fsio::remove_if_exists(&dirs.object(&id))?;
                    }
                }
            }
        }
        fsio::sync_dir(&dirs.meta)?;

        for entry in fs::read_dir(&dirs.objects)? {
            let entry = entry?;
            let name = entry.file_name();
            let committed = name
                .to_str()
                .is_some_and(|n| index.created_at.contains_key(n));
            if !committed {
                remove_entry(&entry.path())?;
            }
        }
        fsio::sync_dir(&dirs.objects)?;

        Ok(FileStore {
            inner: Arc::new(Inner {
                dirs,
                limits,
                index: Mutex::new(index),
            }),
        })
    }

    /// The limits this store enforces.
    pub(crate) fn upload_limits(&self) -> UploadLimits {
        self.inner.limits
    }

    /// The metadata of a stored file.
    pub(crate) fn get(&self, id: &str) -> Result<FileObject, FileError> {
        if !is_valid_id(id) {
            return Err(not_found(id));
        }
        self.inner
            .lock()
            .get(id)
            .cloned()
            .ok_or_else(|| not_found(id))
    }

    /// A page of stored files, OpenAI style.
    pub(crate) fn list(&self, q: &ListQuery) -> Result<ListPage, FileError> {
        list::page(&self.inner.lock(), q)
    }

    /// The metadata and the content of a stored file.
    pub async fn read(&self, id: &str) -> Result<(FileObject, Bytes), FileError> {
        let obj = self.get(id)?;
        let path = self.inner.dirs.object(&obj.id);
        let content = tokio::task::spawn_blocking(move || fsio::read_private(&path))
            .await
            .map_err(|e| FileError::Io(io::Error::other(e)))??;
        let Some(content) = content else {
            // Deleted between the index lookup and the read.
            return Err(not_found(id));
        };
        if content.len() as u64 != obj.bytes {
            return Err(FileError::Io(io::Error::other(format!(
                "stored file {} has {} bytes on disk but {} were uploaded; delete it and upload it again",
                obj.id,
                content.len(),
                obj.bytes
            ))));
        }
        Ok((obj, Bytes::from(content)))
    }

    /// Deletes a stored file: metadata first (the commit point), then the bytes.
    pub async fn delete(&self, id: &str) -> Result<(), FileError> {
        self.get(id)?;
        let inner = Arc::clone(&self.inner);
        let id = id.to_string();
        // The whole deletion runs on the blocking pool, so a caller that goes away
        // cannot leave the index disagreeing with the disk.
        tokio::task::spawn_blocking(move || {
            fsio::remove_if_exists(&inner.dirs.meta_file(&id))?;
            // Without its metadata the file no longer exists, whatever happens next.
            let removed = inner.lock().remove(&id);
            let synced = fsio::sync_dir(&inner.dirs.meta);
            // An object left behind here has no metadata and is removed by the next open.
            let _ = fsio::remove_if_exists(&inner.dirs.object(&id));
            synced?;
            removed.map(|_| ()).ok_or_else(|| not_found(&id))
        })
        .await
        .map_err(|e| FileError::Io(io::Error::other(e)))?
    }

    /// (files, bytes) stored now.
    pub fn summary(&self) -> (u64, u64) {
        let index = self.inner.lock();
        (index.by_time.len() as u64, index.stored_bytes)
    }

    /// Starts an upload: a new private temp file in `tmp/` and an empty quota
    /// reservation. Dropping the returned [`PendingUpload`] undoes both.
    pub(super) fn begin_upload(&self) -> io::Result<(fs::File, PendingUpload)> {
        let name = format!("{:032x}.part", rand::random::<u128>());
        let path = self.inner.dirs.tmp.join(name);
        let file = fsio::create_private(&path)?;
        let pending = PendingUpload {
            inner: Arc::clone(&self.inner),
            path,
            reserved: 0,
            committed: false,
        };
        Ok((file, pending))
    }

    #[cfg(test)]
    pub(super) fn in_flight_bytes(&self) -> u64 {
        self.inner.lock().in_flight_bytes
    }
}

impl std::fmt::Debug for FileStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (files, bytes) = self.summary();
        f.debug_struct("FileStore")
            .field("objects", &self.inner.dirs.objects)
            .field("files", &files)
            .field("bytes", &bytes)
            .finish()
    }
}

impl Inner {
    /// The index lock; a panic elsewhere while holding it leaves consistent data
    /// (every mutation is a few infallible steps), so poisoning is ignored.
    fn lock(&self) -> MutexGuard<'_, Index> {
        self.index.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn new_id(&self) -> String {
        loop {
            let suffix: String = rand::rng()
                .sample_iter(rand::distr::Alphanumeric)
                .take(24)
                .map(char::from)
                .collect();
            let id = format!("file-{suffix}");
            let taken = self.lock().created_at.contains_key(&id)
                || fs::symlink_metadata(self.dirs.object(&id)).is_ok();
            if !taken {
                return id;
            }
        }
    }
}

/// An upload not yet committed: its bytes at `path` and the quota they hold. Dropped
/// before [`PendingUpload::commit`] succeeds — error, client gone, future dropped — it
/// deletes the bytes and releases the quota.
pub(super) struct PendingUpload {
    inner: Arc<Inner>,
    path: PathBuf,
    reserved: u64,
    committed: bool,
}

impl PendingUpload {
    /// Accounts for `n` more bytes before they are written: the per-file limit, then
    /// the total quota (committed files plus every upload in flight).
    pub(super) fn grow(&mut self, n: u64) -> Result<(), FileError> {
        let limits = self.inner.limits;
        let new_len = self.reserved.saturating_add(n);
        if new_len > limits.max_upload_bytes {
            return Err(FileError::TooLarge {
                limit: limits.max_upload_bytes,
            });
        }
        let mut index = self.inner.lock();
        let total = index
            .stored_bytes
            .saturating_add(index.in_flight_bytes)
            .saturating_add(n);
        if total > limits.max_total_upload_bytes {
            return Err(FileError::QuotaExceeded {
                limit: limits.max_total_upload_bytes,
                used: index.stored_bytes,
            });
        }
        index.in_flight_bytes += n;
        self.reserved = new_len;
        Ok(())
    }

    /// Makes the upload a stored file (blocking I/O: call it on the blocking pool, where
    /// it runs to completion even if the caller goes away). `file` is the temp file,
    /// holding exactly the bytes accounted for with [`PendingUpload::grow`].
    pub(super) fn commit(
        mut self,
        file: fs::File,
        filename: String,
        purpose: String,
        content_type: String,
    ) -> Result<FileObject, FileError> {
        file.sync_all()?;
        drop(file);
        let inner = Arc::clone(&self.inner);
        let id = inner.new_id();
        let object = inner.dirs.object(&id);
        fs::rename(&self.path, &object)?;
        self.path = object;
        fsio::sync_dir(&inner.dirs.objects)?;

        let created_at = jiff::Timestamp::now().as_second();
        let obj = new_file_object(
            id,
            self.reserved,
            created_at,
            filename,
            purpose,
            content_type,
        );
        let meta = serde_json::to_vec_pretty(&StoredMeta::of(&obj)).map_err(io::Error::other)?;
        let meta_path = inner.dirs.meta_file(&obj.id);
        if let Err(e) = fsio::write_private_atomic(&meta_path, &meta) {
            // The rename may have happened without the directory sync; take it back so
            // the object (removed on drop) never has metadata pointing at nothing.
            let _ = fsio::remove_if_exists(&meta_path);
            return Err(e.into());
        }

        self.committed = true;
        let mut index = inner.lock();
        index.in_flight_bytes = index.in_flight_bytes.saturating_sub(self.reserved);
        self.reserved = 0;
        index.insert(obj.clone());
        Ok(obj)
    }
}

impl Drop for PendingUpload {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fsio::remove_if_exists(&self.path);
        }
        if self.reserved > 0 {
            let mut index = self.inner.lock();
            index.in_flight_bytes = index.in_flight_bytes.saturating_sub(self.reserved);
        }
    }
}

/// For `airelays status` (another process): count and bytes of the stored files, from
/// the metadata files and object sizes only. Never changes anything; unreadable
/// entries are not counted.
pub(crate) fn summary_on_disk(dir: &Path) -> (u64, u64) {
    let dirs = Dirs::new(dir);
    let Ok(entries) = fs::read_dir(&dirs.meta) else {
        return (0, 0);
    };
    let mut files = 0u64;
    let mut bytes = 0u64;
    for entry in entries.flatten() {
        let Some(id) = meta_file_id(&entry.path()) else {
            continue;
        };
        if let Ok(Some(obj)) = load_committed(&dirs, &id) {
            files += 1;
            bytes = bytes.saturating_add(obj.bytes);
        }
    }
    (files, bytes)
}

/// The id named by a `meta/<id>.json` path, if the name has that shape.
fn meta_file_id(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_str()?;
    let id = name.strip_suffix(".json")?;
    is_valid_id(id).then(|| id.to_string())
}

/// The committed file `id`, or `None` when its metadata is not a regular file or does
/// not parse, or its object is missing, not a regular file, or of another size. Reads
/// metadata, never contents; other I/O errors (permissions…) are returned rather than
/// treated as garbage.
fn load_committed(dirs: &Dirs, id: &str) -> io::Result<Option<FileObject>> {
    let meta_file = dirs.meta_file(id);
    match fs::symlink_metadata(&meta_file) {
        Ok(m) if m.is_file() => {}
        Ok(_) => return Ok(None),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    }
    let Some(raw) = fsio::read_private(&meta_file)? else {
        return Ok(None);
    };
    let Ok(meta) = serde_json::from_slice::<StoredMeta>(&raw) else {
        return Ok(None);
    };
    if meta.id != id {
        return Ok(None);
    }
    match fs::symlink_metadata(dirs.object(id)) {
        Ok(m) if m.is_file() && m.len() == meta.bytes => Ok(Some(meta.into_object())),
        Ok(_) => Ok(None),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Removes a leftover file (or a directory someone put there).
fn remove_entry(path: &Path) -> io::Result<()> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fsio::remove_if_exists(path),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// A `NotFound` naming the id (cut short: it is echoed to the client).
fn not_found(id: &str) -> FileError {
    FileError::NotFound {
        id: id.chars().take(100).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::files::testutil::*;

    fn open(dir: &Path) -> FileStore {
        FileStore::open(dir, limits(1000, 10_000)).unwrap()
    }

    fn ids(page: &ListPage) -> Vec<String> {
        page.data.iter().map(|f| f.id.clone()).collect()
    }

    /// Every page of `q`, following `last_id` until `has_more` is false.
    fn walk(store: &FileStore, mut q: ListQuery) -> Vec<String> {
        let mut out = Vec::new();
        loop {
            let page = store.list(&q).unwrap();
            assert_eq!(page.object, "list");
            assert_eq!(page.first_id, page.data.first().map(|f| f.id.clone()));
            assert_eq!(page.last_id, page.data.last().map(|f| f.id.clone()));
            out.extend(ids(&page));
            if !page.has_more {
                return out;
            }
            assert!(!page.data.is_empty());
            q.after = page.last_id;
        }
    }

    #[tokio::test]
    async fn list_paginates_in_both_orders_and_filters_by_purpose() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        let mut uploaded = Vec::new();
        for i in 0..7 {
            let purpose = if i % 2 == 0 {
                "user_data"
            } else {
                "assistants"
            };
            let body = python_body(&format!("f{i}.txt"), "text/plain", b"x", purpose);
            uploaded.push(put_with(&store, body).await);
        }
        let all = store.list(&ListQuery::default()).unwrap();
        assert_eq!(all.data.len(), 7);
        assert!(!all.has_more);
        // Newest first by default: (created_at, id) descending.
        let mut keys: Vec<(i64, String)> = uploaded
            .iter()
            .map(|f| (f.created_at, f.id.clone()))
            .collect();
        keys.sort();
        let asc: Vec<String> = keys.into_iter().map(|(_, id)| id).collect();
        let desc: Vec<String> = asc.iter().rev().cloned().collect();
        assert_eq!(ids(&all), desc);

        for limit in [1, 2, 3, 7, 10] {
            let q = |order: &str| ListQuery {
                limit: Some(limit),
                order: Some(order.into()),
                ..ListQuery::default()
            };
            assert_eq!(walk(&store, q("asc")), asc, "asc limit {limit}");
            assert_eq!(walk(&store, q("desc")), desc, "desc limit {limit}");
        }

        let first = store
            .list(&ListQuery {
                limit: Some(3),
                order: Some("asc".into()),
                ..ListQuery::default()
            })
            .unwrap();
        assert!(first.has_more);
        assert_eq!(first.first_id.as_deref(), Some(asc[0].as_str()));
        assert_eq!(first.last_id.as_deref(), Some(asc[2].as_str()));

        let user_data: Vec<String> = asc
            .iter()
            .filter(|id| store.get(id).unwrap().purpose == "user_data")
            .cloned()
            .collect();
        assert_eq!(user_data.len(), 4);
        let q = ListQuery {
            limit: Some(3),
            order: Some("asc".into()),
            purpose: Some("user_data".into()),
            ..ListQuery::default()
        };
        assert_eq!(walk(&store, q), user_data);
        let none = store
            .list(&ListQuery {
                purpose: Some("batch".into()),
                ..ListQuery::default()
            })
            .unwrap();
        assert_eq!(
            serde_json::to_value(&none).unwrap(),
            serde_json::json!({"object":"list","data":[],"first_id":null,"last_id":null,"has_more":false})
        );

        let e = store
            .list(&ListQuery {
                after: Some("file-gone".into()),
                ..ListQuery::default()
            })
            .unwrap_err();
        assert_eq!((e.status(), e.param()), (400, Some("after")));
        let e = store
            .list(&ListQuery {
                limit: Some(0),
                ..ListQuery::default()
            })
            .unwrap_err();
        assert_eq!(e.param(), Some("limit"));
    }

    #[tokio::test]
    async fn list_page_serialises_like_openai() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        let obj = put(&store, "a.txt", "text/plain", b"abc").await;
        let page = store
            .list(&ListQuery::from_query_string("limit=1").unwrap())
            .unwrap();
        let json = serde_json::to_value(&page).unwrap();
        assert_eq!(json["object"], "list");
        assert_eq!(json["first_id"], obj.id.as_str());
        assert_eq!(json["last_id"], obj.id.as_str());
        assert_eq!(json["has_more"], false);
        assert_eq!(json["data"][0]["bytes"], 3);
        assert!(json["data"][0].get("content_type").is_none());
    }

    #[tokio::test]
    async fn get_read_delete() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        let a = put(&store, "a.txt", "text/plain", b"aaa").await;
        let b = put(&store, "b.txt", "text/plain", b"bbbb").await;
        assert_eq!(store.summary(), (2, 7));
        assert_eq!(store.get(&a.id).unwrap(), a);
        assert_eq!(&store.read(&b.id).await.unwrap().1[..], b"bbbb");

        assert_send(store.delete(&a.id)).await.unwrap();
        assert!(matches!(store.get(&a.id), Err(FileError::NotFound { .. })));
        assert!(matches!(
            store.read(&a.id).await,
            Err(FileError::NotFound { .. })
        ));
        let e = store.delete(&a.id).await.unwrap_err();
        assert_eq!(e.status(), 404);
        assert!(e.to_string().contains(&a.id));
        assert_eq!(store.summary(), (1, 4));
        assert_eq!(
            ids(&store.list(&ListQuery::default()).unwrap()),
            vec![b.id.clone()]
        );
        assert_settled(&store, dir.path());

        // A reopened store sees the same files.
        drop(store);
        let store = open(dir.path());
        assert_eq!(store.summary(), (1, 4));
        assert_eq!(store.get(&b.id).unwrap(), b);
        assert_eq!(&store.read(&b.id).await.unwrap().1[..], b"bbbb");
    }

    #[tokio::test]
    async fn traversal_and_malformed_ids_are_not_found() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        put(&store, "a.txt", "text/plain", b"a").await;
        std::fs::write(dir.path().join("secret"), b"x").unwrap();
        for id in [
            "../x",
            "file-../../etc",
            "file-../secret",
            "../secret",
            "/etc/passwd",
            "file-a/../../secret",
            "",
            "meta",
            "file-",
        ] {
            assert!(
                matches!(store.get(id), Err(FileError::NotFound { .. })),
                "{id}"
            );
            assert!(
                matches!(store.read(id).await, Err(FileError::NotFound { .. })),
                "{id}"
            );
            assert!(
                matches!(store.delete(id).await, Err(FileError::NotFound { .. })),
                "{id}"
            );
        }
        assert!(dir.path().join("secret").exists());
        assert_eq!(store.summary().0, 1);
    }

    fn meta_path(dir: &Path, id: &str) -> PathBuf {
        dir.join("meta").join(format!("{id}.json"))
    }

    #[tokio::test]
    async fn reopen_after_crashes_keeps_only_complete_files() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        let keep = put(&store, "keep.txt", "text/plain", b"keep me").await;
        let no_object = put(&store, "gone.txt", "text/plain", b"object lost").await;
        let wrong_size = put(&store, "short.txt", "text/plain", b"truncated later").await;
        let bad_meta = put(&store, "bad.txt", "text/plain", b"meta garbled").await;
        drop(store);
        let d = dir.path();

        // Crash mid-upload: a temp file.
        std::fs::write(d.join("tmp").join("0123abcd.part"), b"partial upload").unwrap();
        // Crash after the rename, before the metadata: an object without metadata.
        std::fs::write(
            d.join("objects").join("file-orphan0000000000000000"),
            b"orphan",
        )
        .unwrap();
        // Crash mid-delete (metadata durable, object not) and lost objects.
        std::fs::remove_file(d.join("objects").join(&no_object.id)).unwrap();
        // An object of another size than recorded.
        std::fs::write(d.join("objects").join(&wrong_size.id), b"trunc").unwrap();
        // Unparseable metadata, and a temp file of an interrupted metadata write.
        std::fs::write(meta_path(d, &bad_meta.id), b"{not json").unwrap();
        std::fs::write(d.join("meta").join(".file-x.json.tmp-00ff"), b"{").unwrap();
        // Junk that is not the store's.
        std::fs::write(d.join("objects").join("notes.txt"), b"?").unwrap();
        std::fs::create_dir(d.join("tmp").join("subdir")).unwrap();

        assert_eq!(
            summary_on_disk(d),
            (1, 7),
            "status counts only complete files"
        );

        let store = open(d);
        assert_eq!(store.summary(), (1, 7));
        assert_eq!(
            ids(&store.list(&ListQuery::default()).unwrap()),
            vec![keep.id.clone()]
        );
        assert_eq!(&store.read(&keep.id).await.unwrap().1[..], b"keep me");
        for gone in [&no_object, &wrong_size, &bad_meta] {
            assert!(store.get(&gone.id).is_err());
        }
        assert_eq!(names(d, "objects"), vec![keep.id.clone()]);
        assert_eq!(names(d, "meta"), vec![format!("{}.json", keep.id)]);
        assert_settled(&store, d);
        assert_eq!(summary_on_disk(d), (1, 7));

        // The quota is rebuilt from what is really stored.
        let tight = FileStore::open(d, limits(100, 10)).unwrap();
        let body = python_body("n.txt", "text/plain", b"1234", "user_data");
        let e = tight
            .upload(MULTIPART, chunked(&body, 3))
            .await
            .unwrap_err();
        assert!(
            matches!(e, FileError::QuotaExceeded { limit: 10, used: 7 }),
            "{e:?}"
        );
        let body = python_body("n.txt", "text/plain", b"123", "user_data");
        tight.upload(MULTIPART, chunked(&body, 3)).await.unwrap();
        assert_eq!(tight.summary(), (2, 10));
    }

    #[test]
    fn summary_on_disk_of_a_missing_store_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(summary_on_disk(&dir.path().join("nope")), (0, 0));
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn a_symlinked_object_is_not_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        let obj = put(&store, "a.txt", "text/plain", b"abc").await;
        drop(store);
        let outside = dir.path().join("outside");
        std::fs::write(&outside, b"xyz").unwrap();
        let object = dir.path().join("objects").join(&obj.id);
        std::fs::remove_file(&object).unwrap();
        std::os::unix::fs::symlink(&outside, &object).unwrap();
        let store = open(dir.path());
        assert_eq!(store.summary(), (0, 0));
        assert!(outside.exists());
        assert_settled(&store, dir.path());
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn odd_entries_in_meta_are_cleaned_not_fatal() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        let keep = put(&store, "keep.txt", "text/plain", b"keep").await;
        let linked = put(&store, "linked.txt", "text/plain", b"linked").await;
        drop(store);
        let d = dir.path();
        let elsewhere = d.join("elsewhere.json");
        std::fs::rename(meta_path(d, &linked.id), &elsewhere).unwrap();
        std::os::unix::fs::symlink(&elsewhere, meta_path(d, &linked.id)).unwrap();
        std::fs::create_dir(meta_path(d, "file-dir0000000000000000000")).unwrap();

        assert_eq!(summary_on_disk(d), (1, 4));
        let store = open(d);
        assert_eq!(store.summary(), (1, 4));
        assert!(store.get(&keep.id).is_ok() && store.get(&linked.id).is_err());
        assert!(elsewhere.exists(), "the link is removed, not its target");
        assert_settled(&store, d);
    }
}
