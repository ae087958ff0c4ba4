//! `POST /v1/files`: a multipart body streamed to disk.
//!
//! The `file` part is written to a temp file chunk by chunk; each chunk is accounted
//! for (per-file limit, then total quota) before it is written, so a limit fails the
//! upload as soon as it is crossed and the rest of the body is never read. The
//! `purpose` part may come before (Python SDK) or after (Node SDK) the file; the upload
//! is committed once the whole body has been parsed.

use std::fs;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use tokio::io::AsyncWriteExt;

use super::store::PendingUpload;
use super::{DEFAULT_PURPOSE, FileError, FileObject, FileStore, PURPOSES, media};

/// Longest `purpose` value read; every valid one is far shorter.
const MAX_PURPOSE_BYTES: usize = 64;
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
        let body = body.map(|chunk| chunk.map_err(Into::into));
        let mut multipart = multer::Multipart::new(body, boundary);

        let mut received: Option<ReceivedFile> = None;
        let mut purpose: Option<String> = None;
        while let Some(mut field) = multipart.next_field().await.map_err(multipart_error)? {
            match field.name() {
                Some("file") => {
                    if received.is_some() {
                        return Err(FileError::bad_request(
                            "The upload has more than one `file` part. Upload one file per request.",
                            Some("file"),
                        ));
                    }
                    received = Some(self.receive_file(&mut field).await?);
                }
                Some("purpose") => purpose = read_purpose(&mut field).await?,
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
    async fn receive_file(&self, field: &mut multer::Field<'_>) -> Result<ReceivedFile, FileError> {
        let filename = clean_filename(field.file_name());
        let declared = field.content_type().map(|m| m.as_ref().to_string());
        let content_type = media::upload_content_type(declared.as_deref(), &filename);

        let (file, mut pending) = self.begin_upload()?;
        let mut out = tokio::fs::File::from_std(file);
        while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
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

/// The `purpose` part: one of [`PURPOSES`]; empty counts as absent.
async fn read_purpose(field: &mut multer::Field<'_>) -> Result<Option<String>, FileError> {
    let mut raw = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
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

fn multipart_error(e: multer::Error) -> FileError {
    match e {
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
