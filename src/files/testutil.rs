//! Helpers for the file store's tests: hand-built multipart bodies fed as streams of
//! small chunks, and views of the store directory.

use std::io;
use std::path::Path;

use bytes::Bytes;

use super::{FileObject, FileStore, UploadLimits};

pub(crate) const BOUNDARY: &str = "c9b0a1b2c3d4e5f6";
pub(crate) const MULTIPART: &str = "multipart/form-data; boundary=c9b0a1b2c3d4e5f6";

/// One part of a multipart body.
pub(crate) enum Part<'a> {
    Field(&'a str, &'a str),
    File {
        filename: &'a str,
        content_type: Option<&'a str>,
        data: &'a [u8],
    },
}

pub(crate) fn multipart_body(parts: &[Part<'_>]) -> Vec<u8> {
    let mut out = Vec::new();
    for part in parts {
        out.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
        match part {
            Part::Field(name, value) => {
                out.extend_from_slice(
                    format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}")
                        .as_bytes(),
                );
            }
            Part::File {
                filename,
                content_type,
                data,
            } => {
                out.extend_from_slice(
                    format!(
                        "Content-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n"
                    )
                    .as_bytes(),
                );
                if let Some(ct) = content_type {
                    out.extend_from_slice(format!("Content-Type: {ct}\r\n").as_bytes());
                }
                out.extend_from_slice(b"\r\n");
                out.extend_from_slice(data);
            }
        }
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    out
}

/// The Python SDK's shape: `purpose` first, then `file`.
pub(crate) fn python_body(
    filename: &str,
    content_type: &str,
    data: &[u8],
    purpose: &str,
) -> Vec<u8> {
    multipart_body(&[
        Part::Field("purpose", purpose),
        Part::File {
            filename,
            content_type: Some(content_type),
            data,
        },
    ])
}

/// The Node SDK's shape: `file` first as `application/octet-stream`, then `purpose`.
pub(crate) fn node_body(filename: &str, data: &[u8], purpose: &str) -> Vec<u8> {
    multipart_body(&[
        Part::File {
            filename,
            content_type: Some("application/octet-stream"),
            data,
        },
        Part::Field("purpose", purpose),
    ])
}

pub(crate) type ChunkStream =
    futures_util::stream::Iter<std::vec::IntoIter<Result<Bytes, io::Error>>>;

/// `body` as a stream of `size`-byte chunks.
pub(crate) fn chunked(body: &[u8], size: usize) -> ChunkStream {
    let chunks: Vec<Result<Bytes, io::Error>> = body
        .chunks(size.max(1))
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    futures_util::stream::iter(chunks)
}

pub(crate) fn limits(max_upload_bytes: u64, max_total_upload_bytes: u64) -> UploadLimits {
    UploadLimits {
        max_upload_bytes,
        max_total_upload_bytes,
    }
}

/// Uploads `data` the Python way in small chunks.
pub(crate) async fn put(
    store: &FileStore,
    filename: &str,
    content_type: &str,
    data: &[u8],
) -> FileObject {
    put_with(
        store,
        python_body(filename, content_type, data, "user_data"),
    )
    .await
}

pub(crate) async fn put_with(store: &FileStore, body: Vec<u8>) -> FileObject {
    let chunk = if body.len() > 4096 { 8192 } else { 7 };
    store
        .upload(MULTIPART, chunked(&body, chunk))
        .await
        .expect("upload")
}

/// Names of the entries in `dir/sub`, sorted.
pub(crate) fn names(dir: &Path, sub: &str) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(dir.join(sub))
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// Asserts no upload is in progress or left behind: `tmp/` is empty, every object has
/// metadata and vice versa, no quota is held by uploads in flight.
pub(crate) fn assert_settled(store: &FileStore, dir: &Path) {
    assert!(names(dir, "tmp").is_empty(), "tmp: {:?}", names(dir, "tmp"));
    let objects = names(dir, "objects");
    let metas: Vec<String> = names(dir, "meta")
        .into_iter()
        .map(|m| m.trim_end_matches(".json").to_string())
        .collect();
    assert_eq!(objects, metas, "objects and metadata disagree");
    assert_eq!(store.summary().0 as usize, objects.len());
    assert_eq!(store.in_flight_bytes(), 0, "quota leaked");
}

pub(crate) fn assert_send<T: Send>(t: T) -> T {
    t
}
