//! `POST /v1/files`: a multipart body streamed to disk.
//!
//! The `file` part is written to a temp file chunk by chunk; each chunk is accounted
//! for (per-file limit, then total quota) before it is written, so a limit fails the
//! upload as soon as it is crossed and the rest of the body is never read. The
//! `purpose` part may come before (Python SDK) or after (Node SDK) the file; the upload
//! is committed once the whole body has been parsed.

use std::fs;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use tokio::io::AsyncWriteExt;

use super::store::PendingUpload;
use super::{DEFAULT_PURPOSE, FileError, FileObject, FileStore, PURPOSES, media};

/// Longest `purpose` value read; every valid one is far shorter.
const MAX_PURPOSE_BYTES: usize = 64;
/// What a multipart body may carry besides the file's bytes: boundaries, part headers,
/// `purpose`, fields the relay ignores.
const MULTIPART_OVERHEAD_BYTES: u64 = 1024 * 1024;
/// Longest stored file name, in bytes.
const MAX_FILENAME_BYTES: usize = 255;

/// The `file` part, fully written to its temp file, not yet committed.
struct ReceivedFile {
    file: fs::File,
    pending: PendingUpload,
    filename: String,
    content_type: String,
}

impl FileStore {
    /// Streams a multipart body (`file` and `purpose` parts in either order) to disk,
    /// enforcing the per-file and total quota while bytes arrive. On any failure — a
    /// limit, a malformed body, a body stream error, or this future being dropped —
    /// nothing is left on disk and no quota stays reserved.
    ///
    /// `content_type` is the request's `Content-Type` header.
    pub async fn upload<S, E>(&self, content_type: &str, body: S) -> Result<FileObject, FileError>
    where
        S: Stream<Item = Result<Bytes, E>> + Send + Unpin + 'static,
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let boundary = multer::parse_boundary(content_type).map_err(|_| {
            FileError::bad_request(
                format!(
                    "POST /v1/files expects a multipart/form-data body (Content-Type: multipart/form-data; boundary=…) with a `file` part and a `purpose` part; got Content-Type {:?}.",
                    content_type.chars().take(100).collect::<String>()
                ),
                None,
            )
        })?;
        let body = OneChunkPerPoll::new(body).map(|chunk| chunk.map_err(Into::into));
        // The file is limited chunk by chunk below; this bounds what multer itself may
        // buffer or skip (part headers, other fields).
        let max_upload_bytes = self.upload_limits().max_upload_bytes;
        let whole_body = max_upload_bytes.saturating_add(MULTIPART_OVERHEAD_BYTES);
        let constraints = multer::Constraints::new()
            .size_limit(multer::SizeLimit::new().whole_stream(whole_body));
        let mut multipart = multer::Multipart::with_constraints(body, boundary, constraints);

        let mut received: Option<ReceivedFile> = None;
        let mut purpose: Option<String> = None;
        while let Some(mut field) = multipart
            .next_field()
            .await
            .map_err(|e| multipart_error(e, max_upload_bytes))?
        {
            match field.name() {
                Some("file") => {
                    if received.is_some() {
                        return Err(FileError::bad_request(
                            "The upload has more than one `file` part. Upload one file per request.",
                            Some("file"),
                        ));
                    }
                    received = Some(self.receive_file(&mut field, max_upload_bytes).await?);
                }
                Some("purpose") => purpose = read_purpose(&mut field, max_upload_bytes).await?,
                // Other form fields are ignored (multer skips their content).
                _ => {}
            }
        }

        let Some(received) = received else {
            return Err(FileError::bad_request(
                "The upload has no `file` part. Send the file as a multipart/form-data part named `file` (with a filename), and a `purpose` part such as \"user_data\".",
                Some("file"),
            ));
        };
        let purpose = purpose.unwrap_or_else(|| DEFAULT_PURPOSE.to_string());
        let ReceivedFile {
            file,
            pending,
            filename,
            content_type,
        } = received;
        // Committing runs to completion on the blocking pool even if this future is
        // dropped, so the file is either fully stored and indexed or not at all.
        tokio::task::spawn_blocking(move || pending.commit(file, filename, purpose, content_type))
            .await
            .map_err(|e| FileError::Io(std::io::Error::other(e)))?
    }

    /// Writes the `file` part to a temp file, accounting for every chunk first.
    async fn receive_file(
        &self,
        field: &mut multer::Field<'_>,
        max_upload_bytes: u64,
    ) -> Result<ReceivedFile, FileError> {
        let filename = clean_filename(field.file_name());
        let declared = field.content_type().map(|m| m.as_ref().to_string());
        let content_type = media::upload_content_type(declared.as_deref(), &filename);

        let (file, mut pending) = self.begin_upload()?;
        let mut out = tokio::fs::File::from_std(file);
        while let Some(chunk) = field
            .chunk()
            .await
            .map_err(|e| multipart_error(e, max_upload_bytes))?
        {
            pending.grow(chunk.len() as u64)?;
            out.write_all(&chunk).await?;
        }
        out.flush().await?;
        let file = out.into_std().await;
        Ok(ReceivedFile {
            file,
            pending,
            filename,
            content_type,
        })
    }
}

/// Hands multer one chunk per poll. multer reads its input until it would block; with
/// a body that is always ready (a fast client on localhost, a slow disk) it would pull
/// the whole upload into memory ahead of the disk writes, and keep reading after a
/// limit has failed. Between two chunks this stream says "not yet" and wakes itself at
/// once, so multer holds at most one chunk (plus a boundary's worth) at a time.
struct OneChunkPerPoll<S> {
    inner: S,
    just_yielded: bool,
}

impl<S> OneChunkPerPoll<S> {
    fn new(inner: S) -> Self {
        OneChunkPerPoll {
            inner,
            just_yielded: false,
        }
    }
}

impl<S: Stream + Unpin> Stream for OneChunkPerPoll<S> {
    type Item = S::Item;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        if self.just_yielded {
            self.just_yielded = false;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let next = Pin::new(&mut self.inner).poll_next(cx);
        if matches!(next, Poll::Ready(Some(_))) {
            self.just_yielded = true;
        }
        next
    }
}

/// The `purpose` part: one of [`PURPOSES`]; empty counts as absent.
async fn read_purpose(
    field: &mut multer::Field<'_>,
    max_upload_bytes: u64,
) -> Result<Option<String>, FileError> {
    let mut raw = Vec::new();
    while let Some(chunk) = field
        .chunk()
        .await
        .map_err(|e| multipart_error(e, max_upload_bytes))?
    {
        raw.extend_from_slice(&chunk);
        if raw.len() > MAX_PURPOSE_BYTES {
            return Err(invalid_purpose(&String::from_utf8_lossy(&raw)));
        }
    }
    let value = String::from_utf8_lossy(&raw).trim().to_string();
    if value.is_empty() {
        Ok(None)
    } else if PURPOSES.contains(&value.as_str()) {
        Ok(Some(value))
    } else {
        Err(invalid_purpose(&value))
    }
}

fn invalid_purpose(value: &str) -> FileError {
    FileError::bad_request(
        format!(
            "Invalid `purpose` {:?}: use one of {} (\"user_data\" for files you reference in requests).",
            value.chars().take(MAX_PURPOSE_BYTES).collect::<String>(),
            PURPOSES.join(", ")
        ),
        Some("purpose"),
    )
}

fn multipart_error(e: multer::Error, max_upload_bytes: u64) -> FileError {
    match e {
        multer::Error::StreamSizeExceeded { .. } => FileError::TooLarge {
            limit: max_upload_bytes,
        },
        multer::Error::StreamReadFailed(cause) => FileError::bad_request(
            format!(
                "The upload body could not be read to the end ({cause}); nothing was stored. Send the upload again."
            ),
            None,
        ),
        other => FileError::bad_request(
            format!(
                "The upload is not a valid multipart/form-data body ({other}); nothing was stored. Send a `file` part and a `purpose` part as multipart/form-data."
            ),
            None,
        ),
    }
}

/// The client's file name as metadata: the last path component, without control
/// characters, at most 255 bytes; `upload` when nothing is left.
fn clean_filename(raw: Option<&str>) -> String {
    let base = raw
        .unwrap_or_default()
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or_default();
    let cleaned: String = base.chars().filter(|c| !c.is_control()).collect();
    let cleaned = cleaned.trim();
    if cleaned.is_empty() {
        return "upload".to_string();
    }
    let cut = cleaned.floor_char_boundary(MAX_FILENAME_BYTES);
    cleaned[..cut].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::files::testutil::*;
    use std::pin::pin;

    fn open(dir: &std::path::Path, max: u64, total: u64) -> FileStore {
        FileStore::open(dir, limits(max, total)).unwrap()
    }

    #[tokio::test]
    async fn python_order_upload_is_stored_and_readable() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path(), 1024, 4096);
        let body = python_body("hello.txt", "text/plain", b"hello world\n", "user_data");
        let obj = store.upload(MULTIPART, chunked(&body, 3)).await.unwrap();
        assert!(
            obj.id.starts_with("file-") && obj.id.len() == 5 + 24,
            "{}",
            obj.id
        );
        assert!(obj.id[5..].bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_eq!(
            (
                obj.object,
                obj.bytes,
                obj.filename.as_str(),
                obj.purpose.as_str()
            ),
            ("file", 12, "hello.txt", "user_data")
        );
        assert_eq!(
            (obj.status, obj.content_type.as_str()),
            ("processed", "text/plain")
        );
        assert!(obj.created_at > 1_600_000_000);
        assert_eq!(store.get(&obj.id).unwrap(), obj);
        let (meta, content) = store.read(&obj.id).await.unwrap();
        assert_eq!((meta, &content[..]), (obj.clone(), &b"hello world\n"[..]));
        assert_eq!(store.summary(), (1, 12));
        assert_settled(&store, dir.path());
        #[cfg(unix)]
        {
            use crate::fsio::mode_of;
            for sub in ["", "objects", "meta", "tmp"] {
                assert_eq!(mode_of(&dir.path().join(sub)), Some(0o700), "{sub}");
            }
            assert_eq!(
                mode_of(&dir.path().join("objects").join(&obj.id)),
                Some(0o600)
            );
            let meta = dir.path().join("meta").join(format!("{}.json", obj.id));
            assert_eq!(mode_of(&meta), Some(0o600));
        }
    }

    #[tokio::test]
    async fn node_order_upload_gets_a_type_from_the_name() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path(), 1024, 4096);
        let body = node_body("notes.md", b"# Notes\n", "user_data");
        let obj = store.upload(MULTIPART, chunked(&body, 5)).await.unwrap();
        assert_eq!(
            (obj.filename.as_str(), obj.purpose.as_str(), obj.bytes),
            ("notes.md", "user_data", 8)
        );
        assert_eq!(obj.content_type, "text/markdown");
        let body = node_body("blob", b"\0\x01", "batch");
        let obj = store.upload(MULTIPART, chunked(&body, 1)).await.unwrap();
        assert_eq!(obj.content_type, "application/octet-stream");
        assert_eq!(obj.purpose, "batch");
        assert_settled(&store, dir.path());
    }

    #[tokio::test]
    async fn purpose_defaults_and_extra_fields_are_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path(), 1024, 4096);
        let body = multipart_body(&[
            Part::Field("expires_after[anchor]", "created_at"),
            Part::File {
                filename: "a.txt",
                content_type: None,
                data: b"abc",
            },
            Part::Field("note", "ignored"),
        ]);
        let obj = store.upload(MULTIPART, chunked(&body, 4)).await.unwrap();
        assert_eq!((obj.purpose.as_str(), obj.bytes), ("assistants", 3));
        assert_eq!(obj.content_type, "text/plain");
        for purpose in crate::files::PURPOSES {
            let obj = put_with(&store, python_body("x.txt", "text/plain", b"x", purpose)).await;
            assert_eq!(obj.purpose, *purpose);
        }
        assert_settled(&store, dir.path());
    }

    #[tokio::test]
    async fn bad_requests_name_the_param_and_leave_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path(), 1024, 4096);

        let body = python_body("a.txt", "text/plain", b"abc", "training");
        let e = store
            .upload(MULTIPART, chunked(&body, 4))
            .await
            .unwrap_err();
        assert_eq!((e.status(), e.param()), (400, Some("purpose")));
        assert!(e.to_string().contains("user_data"), "{e}");

        // Invalid purpose after the file was already streamed to tmp/.
        let body = node_body("a.txt", b"abc", "nope");
        let e = store
            .upload(MULTIPART, chunked(&body, 4))
            .await
            .unwrap_err();
        assert_eq!(e.param(), Some("purpose"));

        let body = multipart_body(&[Part::Field("purpose", "user_data")]);
        let e = store
            .upload(MULTIPART, chunked(&body, 4))
            .await
            .unwrap_err();
        assert_eq!((e.status(), e.param()), (400, Some("file")));

        let file = Part::File {
            filename: "a.txt",
            content_type: None,
            data: b"abc",
        };
        let file2 = Part::File {
            filename: "b.txt",
            content_type: None,
            data: b"def",
        };
        let body = multipart_body(&[file, file2]);
        let e = store
            .upload(MULTIPART, chunked(&body, 4))
            .await
            .unwrap_err();
        assert_eq!(e.param(), Some("file"));

        let e = store
            .upload("application/json", chunked(b"{}", 4))
            .await
            .unwrap_err();
        assert_eq!(e.status(), 400);
        assert!(e.to_string().contains("multipart/form-data"), "{e}");

        // A body cut off in the middle of the file part.
        let body = python_body("a.txt", "text/plain", &[b'z'; 300], "user_data");
        let e = store
            .upload(MULTIPART, chunked(&body[..body.len() - 60], 16))
            .await
            .unwrap_err();
        assert_eq!(e.status(), 400);
        assert!(e.to_string().contains("nothing was stored"), "{e}");

        let e = store
            .upload(MULTIPART, chunked(b"garbage", 4))
            .await
            .unwrap_err();
        assert_eq!(e.status(), 400);

        assert_eq!(store.summary(), (0, 0));
        assert_settled(&store, dir.path());
    }

    #[tokio::test]
    async fn exactly_at_the_limit_is_stored_one_byte_over_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path(), 100, 1000);
        let obj = put(&store, "a.bin", "application/octet-stream", &[7; 100]).await;
        assert_eq!(obj.bytes, 100);
        let before = store.summary();

        for (order, body) in [
            (
                "python",
                python_body("b.bin", "application/octet-stream", &[7; 101], "user_data"),
            ),
            ("node", node_body("b.bin", &[7; 101], "user_data")),
        ] {
            let e = store
                .upload(MULTIPART, chunked(&body, 10))
                .await
                .unwrap_err();
            assert!(
                matches!(e, FileError::TooLarge { limit: 100 }),
                "{order}: {e:?}"
            );
            assert_eq!(e.code(), Some("upload_too_large"));
            assert_eq!(store.summary(), before, "{order}");
            assert_settled(&store, dir.path());
        }
    }

    #[tokio::test]
    async fn too_large_fails_before_the_rest_of_the_body_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path(), 100, 1000);
        let body = python_body(
            "big.bin",
            "application/octet-stream",
            &[1; 500],
            "user_data",
        );
        // About 205 bytes of part headers, then the file. The stream panics if polled
        // past byte 400 (195 bytes of file): the upload must stop reading first.
        let head = chunked(&body[..400], 10);
        let tail =
            futures_util::stream::poll_fn(|_| -> Poll<Option<Result<Bytes, std::io::Error>>> {
                panic!("read past the per-file limit")
            });
        let e = store.upload(MULTIPART, head.chain(tail)).await.unwrap_err();
        assert!(matches!(e, FileError::TooLarge { .. }), "{e:?}");
        assert_settled(&store, dir.path());
    }

    #[tokio::test]
    async fn huge_ignored_fields_are_bounded_too() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path(), 100, 1000);
        let junk = "j".repeat(MULTIPART_OVERHEAD_BYTES as usize + 200);
        let body = multipart_body(&[
            Part::Field("junk", &junk),
            Part::File {
                filename: "a.txt",
                content_type: None,
                data: b"abc",
            },
        ]);
        let e = store
            .upload(MULTIPART, chunked(&body, 64 * 1024))
            .await
            .unwrap_err();
        assert!(matches!(e, FileError::TooLarge { limit: 100 }), "{e:?}");
        assert_settled(&store, dir.path());
    }

    #[tokio::test]
    async fn total_quota_counts_stored_files() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path(), 100, 250);
        let a = put(&store, "a.bin", "application/octet-stream", &[1; 100]).await;
        put(&store, "b.bin", "application/octet-stream", &[2; 100]).await;
        let body = python_body("c.bin", "application/octet-stream", &[3; 60], "user_data");
        let e = store
            .upload(MULTIPART, chunked(&body, 8))
            .await
            .unwrap_err();
        assert!(
            matches!(
                e,
                FileError::QuotaExceeded {
                    limit: 250,
                    used: 200
                }
            ),
            "{e:?}"
        );
        assert_eq!((e.status(), e.code()), (413, Some("upload_quota_exceeded")));
        assert_eq!(store.summary(), (2, 200));
        assert_settled(&store, dir.path());

        // Exactly filling the quota is fine; deleting frees room.
        put(&store, "c.bin", "application/octet-stream", &[3; 50]).await;
        assert_eq!(store.summary(), (3, 250));
        store.delete(&a.id).await.unwrap();
        put(&store, "d.bin", "application/octet-stream", &[4; 100]).await;
        assert_eq!(store.summary(), (3, 250));
        assert_settled(&store, dir.path());
    }

    #[tokio::test]
    async fn a_body_stream_error_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path(), 1000, 1000);
        let body = python_body("a.bin", "application/octet-stream", &[5; 500], "user_data");
        let failing =
            futures_util::stream::iter(vec![Err(std::io::Error::other("connection reset"))]);
        let stream = chunked(&body[..300], 16).chain(failing);
        let e = store.upload(MULTIPART, stream).await.unwrap_err();
        assert_eq!(e.status(), 400);
        assert!(e.to_string().contains("connection reset"), "{e}");
        assert_eq!(store.summary(), (0, 0));
        assert_settled(&store, dir.path());
    }

    #[tokio::test]
    async fn a_dropped_upload_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path(), 1000, 1000);
        let body = python_body("a.bin", "application/octet-stream", &[5; 500], "user_data");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let mut tx = Some(tx);
        // After 300 bytes the body stalls, and says so when asked for more.
        let stall = futures_util::stream::poll_fn(
            move |_| -> Poll<Option<Result<Bytes, std::io::Error>>> {
                if let Some(tx) = tx.take() {
                    let _ = tx.send(());
                }
                Poll::Pending
            },
        );
        let stream = chunked(&body[..300], 16).chain(stall);
        {
            let mut upload = pin!(assert_send(store.upload(MULTIPART, stream)));
            tokio::select! {
                r = &mut upload => panic!("upload finished: {r:?}"),
                _ = rx => {}
            }
            assert!(store.in_flight_bytes() > 0, "the upload was under way");
            assert_eq!(names(dir.path(), "tmp").len(), 1);
        }
        assert_eq!(store.summary(), (0, 0));
        assert_settled(&store, dir.path());
    }

    #[test]
    fn filenames_are_cleaned() {
        assert_eq!(clean_filename(Some("hello.txt")), "hello.txt");
        assert_eq!(clean_filename(Some("../../etc/passwd")), "passwd");
        assert_eq!(clean_filename(Some("C:\\Users\\me\\notes.md")), "notes.md");
        assert_eq!(clean_filename(Some("a\nb\u{0}.txt")), "ab.txt");
        assert_eq!(clean_filename(Some("dir/")), "upload");
        assert_eq!(clean_filename(None), "upload");
        let long = "é".repeat(200);
        let cleaned = clean_filename(Some(&long));
        assert!(cleaned.len() <= MAX_FILENAME_BYTES && cleaned.starts_with('é'));
    }
}
