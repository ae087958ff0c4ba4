//! The local file store behind `/v1/files`, and the inlining of stored files into
//! requests (docs/architecture.md, "Files and inlining").
//!
//! The subscription backend stores no files, so the relay keeps uploads on disk and,
//! when a request references one by `file_id`, replaces the reference with the
//! content itself (an image data URL, the text, or a file data URL).
//!
//! - [`store`]: [`FileStore`] — the crash-safe on-disk layout, the in-memory index and
//!   the quota; `get`, `read`, `list`, `delete`.
//! - [`upload`]: `FileStore::upload`, streaming a multipart body to disk under the
//!   per-file and total limits.
//! - [`list`]: OpenAI-style pagination (`ListQuery`, `ListPage`).
//! - [`media`]: what a file is — content types from names, magic-byte sniffing.
//! - [`inline`]: [`inline_files`], rewriting a Responses request body.
//! - [`error`]: [`FileError`], with the HTTP status, code and a message that says what
//!   to do.
//!
//! Route glue: `POST /v1/files` → [`FileStore::upload`] with the request's
//! `Content-Type` and body stream; `GET /v1/files` → [`ListQuery::from_query_string`] then
//! [`FileStore::list`]; `GET /v1/files/{id}` → [`FileStore::get`];
//! `GET /v1/files/{id}/content` → [`FileStore::read`] (serve the bytes with
//! [`FileObject::content_type`]); `DELETE /v1/files/{id}` → [`FileStore::delete`] then
//! [`DeletedFile::new`]. Every error is a [`FileError`].

pub(crate) mod error;
pub(crate) mod inline;
pub(crate) mod list;
pub(crate) mod media;
pub(crate) mod store;
pub(crate) mod upload;

#[cfg(test)]
mod testutil;

pub use error::FileError;
pub(crate) use inline::inline_files;
pub(crate) use list::ListQuery;
pub use store::FileStore;
pub(crate) use store::summary_on_disk;

/// The configured upload limits (`uploads.max_upload_bytes`,
/// `uploads.max_total_upload_bytes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadLimits {
    /// The largest single upload, in bytes.
    pub max_upload_bytes: u64,
    /// The total bytes the store keeps.
    pub max_total_upload_bytes: u64,
}

impl From<&crate::config::UploadsConfig> for UploadLimits {
    fn from(c: &crate::config::UploadsConfig) -> Self {
        UploadLimits {
            max_upload_bytes: c.max_upload_bytes,
            max_total_upload_bytes: c.max_total_upload_bytes,
        }
    }
}

/// A stored file as the OpenAI API describes it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FileObject {
    /// `file-` followed by 24 random alphanumerics.
    pub id: String,
    /// Always `file`.
    pub object: &'static str,
    /// The stored size.
    pub bytes: u64,
    /// Unix seconds.
    pub created_at: i64,
    /// The name the client gave; metadata only, never a path.
    pub filename: String,
    /// The purpose the client gave (one of `PURPOSES`).
    pub purpose: String,
    /// Always `processed`: a stored file is ready at once.
    pub status: &'static str,
    /// Always `None`; kept for the OpenAI shape.
    pub status_details: Option<String>,
    /// Always `None`: stored files do not expire.
    pub expires_at: Option<i64>,
    /// The content type recorded at upload (served by `GET /v1/files/{id}/content`).
    #[serde(skip)]
    pub(crate) content_type: String,
}

/// The body of a successful `DELETE /v1/files/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub(crate) struct DeletedFile {
    pub(crate) id: String,
    pub(crate) object: &'static str,
    pub(crate) deleted: bool,
}

impl DeletedFile {
    pub(crate) fn new(id: &str) -> DeletedFile {
        DeletedFile {
            id: id.to_string(),
            object: "file",
            deleted: true,
        }
    }
}

/// The purposes OpenAI accepts for uploads; `assistants` when the client sends none.
pub(crate) const PURPOSES: &[&str] = &[
    "assistants",
    "user_data",
    "vision",
    "batch",
    "fine-tune",
    "evals",
];

pub(crate) const DEFAULT_PURPOSE: &str = "assistants";

/// Whether `id` has the shape of an id this store hands out: `file-` and 1 to 64 ASCII
/// alphanumerics. Checked before an id touches the file system, so an id can never
/// name a path outside the store.
pub fn is_valid_id(id: &str) -> bool {
    match id.strip_prefix("file-") {
        Some(rest) => {
            !rest.is_empty() && rest.len() <= 64 && rest.bytes().all(|b| b.is_ascii_alphanumeric())
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_validation_rejects_paths_and_odd_shapes() {
        assert!(is_valid_id("file-abc123XYZ"));
        assert!(is_valid_id(&format!("file-{}", "a".repeat(64))));
        for bad in [
            "",
            "file-",
            "../x",
            "file-../../etc",
            "file-a/b",
            "file-a.json",
            "file-ä",
            "FILE-abc",
            "abc",
            &format!("file-{}", "a".repeat(65)),
        ] {
            assert!(!is_valid_id(bad), "{bad:?}");
        }
    }

    #[test]
    fn file_object_serialises_like_openai() {
        let obj = FileObject {
            id: "file-abc".into(),
            object: "file",
            bytes: 12,
            created_at: 1_700_000_000,
            filename: "hello.txt".into(),
            purpose: "user_data".into(),
            status: "processed",
            status_details: None,
            expires_at: None,
            content_type: "text/plain".into(),
        };
        assert_eq!(
            serde_json::to_string(&obj).unwrap(),
            r#"{"id":"file-abc","object":"file","bytes":12,"created_at":1700000000,"filename":"hello.txt","purpose":"user_data","status":"processed","status_details":null,"expires_at":null}"#
        );
        assert_eq!(
            serde_json::to_string(&DeletedFile::new("file-abc")).unwrap(),
            r#"{"id":"file-abc","object":"file","deleted":true}"#
        );
    }
}
