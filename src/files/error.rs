//! The file store's error type. Each variant knows its HTTP status, OpenAI error type
//! and code; `Display` is the message for the user, saying what to do.

use std::io;

/// Why a file operation failed, with its HTTP status and OpenAI error shape.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// The file is larger than `uploads.max_upload_bytes` (413 `upload_too_large`).
    #[error(
        "The upload exceeds the per-file limit of {limit} bytes (uploads.max_upload_bytes). Upload a smaller file or raise the limit."
    )]
    TooLarge {
        /// The per-file limit.
        limit: u64,
    },
    /// Storing the file would exceed `uploads.max_total_upload_bytes`
    /// (413 `upload_quota_exceeded`). `used` is what stored files take now.
    #[error(
        "Storing this upload would exceed the total upload quota of {limit} bytes (uploads.max_total_upload_bytes); {used} bytes are already stored. Delete files you no longer need with DELETE /v1/files/{{id}} or raise the limit."
    )]
    QuotaExceeded {
        /// The total limit.
        limit: u64,
        /// The bytes stored now.
        used: u64,
    },
    /// No stored file has this id (404 on the `/v1/files/{id}` routes).
    #[error(
        "No file with id `{id}` is stored in this relay. Upload it first with POST /v1/files (purpose \"user_data\") and reference the returned id."
    )]
    NotFound {
        /// The id asked for.
        id: String,
    },
    /// A referenced file cannot be inlined: its type or size (422 `unsupported_file`).
    #[error("{message}")]
    Unsupported {
        /// What is wrong and what to do.
        message: String,
    },
    /// A malformed request (400).
    #[error("{message}")]
    BadRequest {
        /// What is wrong and what to do.
        message: String,
        /// The offending parameter or multipart field, if one.
        param: Option<String>,
    },
    /// The store's directory could not be read or written (500).
    #[error("The relay could not read or write its file store: {0}")]
    Io(#[from] io::Error),
}

impl FileError {
    /// The HTTP status this error is answered with.
    pub fn status(&self) -> u16 {
        match self {
            FileError::TooLarge { .. } | FileError::QuotaExceeded { .. } => 413,
            FileError::NotFound { .. } => 404,
            FileError::Unsupported { .. } => 422,
            FileError::BadRequest { .. } => 400,
            FileError::Io(_) => 500,
        }
    }

    /// The OpenAI error `code`, if the variant has one.
    pub(crate) fn code(&self) -> Option<&'static str> {
        match self {
            FileError::TooLarge { .. } => Some("upload_too_large"),
            FileError::QuotaExceeded { .. } => Some("upload_quota_exceeded"),
            FileError::Unsupported { .. } => Some("unsupported_file"),
            FileError::NotFound { .. } | FileError::BadRequest { .. } | FileError::Io(_) => None,
        }
    }

    /// The OpenAI error `type`.
    pub(crate) fn error_type(&self) -> &'static str {
        match self {
            FileError::Io(_) => "server_error",
            _ => "invalid_request_error",
        }
    }

    /// The OpenAI error `param`, if one.
    pub(crate) fn param(&self) -> Option<&str> {
        match self {
            FileError::TooLarge { .. } | FileError::QuotaExceeded { .. } => Some("file"),
            FileError::BadRequest { param, .. } => param.as_deref(),
            _ => None,
        }
    }

    /// A 400 about `param`.
    pub(crate) fn bad_request(message: impl Into<String>, param: Option<&str>) -> FileError {
        FileError::BadRequest {
            message: message.into(),
            param: param.map(String::from),
        }
    }

    /// A 422 `unsupported_file`.
    pub(crate) fn unsupported(message: impl Into<String>) -> FileError {
        FileError::Unsupported {
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_codes_and_messages() {
        let e = FileError::TooLarge { limit: 10 };
        assert_eq!((e.status(), e.code()), (413, Some("upload_too_large")));
        assert!(
            e.to_string()
                .contains("10 bytes (uploads.max_upload_bytes)")
        );
        let e = FileError::QuotaExceeded {
            limit: 20,
            used: 15,
        };
        assert_eq!((e.status(), e.code()), (413, Some("upload_quota_exceeded")));
        assert!(e.to_string().contains("uploads.max_total_upload_bytes"));
        assert!(e.to_string().contains("DELETE /v1/files/{id}"));
        let e = FileError::NotFound {
            id: "file-x".into(),
        };
        assert_eq!(e.status(), 404);
        assert!(e.to_string().contains("`file-x`") && e.to_string().contains("POST /v1/files"));
        let e = FileError::unsupported("no");
        assert_eq!((e.status(), e.code()), (422, Some("unsupported_file")));
        let e = FileError::bad_request("bad", Some("purpose"));
        assert_eq!((e.status(), e.param()), (400, Some("purpose")));
        assert_eq!(e.error_type(), "invalid_request_error");
        let e = FileError::Io(io::Error::other("disk"));
        assert_eq!((e.status(), e.error_type()), (500, "server_error"));
    }
}
