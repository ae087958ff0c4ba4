//! What a stored file is: content types guessed from names, image formats sniffed from
//! magic bytes, and which types count as text.

/// Image formats the model accepts, recognised by their first bytes.
pub(crate) fn sniff_image(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(b"\xff\xd8\xff") {
        Some("image/jpeg")
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some("image/gif")
    } else if bytes.len() >= 12 && bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

/// PDF, recognised by its header (uploads often arrive as `application/octet-stream`).
pub(crate) fn is_pdf(bytes: &[u8]) -> bool {
    bytes.starts_with(b"%PDF-")
}

/// The content type a file name suggests, for the extensions the relay cares about.
pub(crate) fn guess_from_name(filename: &str) -> Option<&'static str> {
    let lower = filename.to_ascii_lowercase();
    if TEXT_NAMES.contains(&lower.as_str()) {
        return Some("text/plain");
    }
    let (_, ext) = lower.rsplit_once('.')?;
    let mime = match ext {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "bmp" => "image/bmp",
        "tif" | "tiff" => "image/tiff",
        "heic" => "image/heic",
        "svg" => "image/svg+xml",
        "pdf" => "application/pdf",
        "txt" | "text" | "log" | "ini" | "cfg" | "conf" | "env" | "properties" | "rst" | "adoc"
        | "tex" | "diff" | "patch" | "gitignore" | "dockerfile" | "mk" => "text/plain",
        "md" | "markdown" => "text/markdown",
        "csv" => "text/csv",
        "tsv" => "text/tab-separated-values",
        "html" | "htm" => "text/html",
        "css" => "text/css",
        "js" | "mjs" | "cjs" | "jsx" => "text/javascript",
        "ts" | "tsx" | "mts" | "cts" => "text/x-typescript",
        "py" | "pyi" => "text/x-python",
        "rs" => "text/x-rust",
        "go" => "text/x-go",
        "java" => "text/x-java",
        "kt" | "kts" => "text/x-kotlin",
        "scala" => "text/x-scala",
        "c" | "h" => "text/x-c",
        "cc" | "cpp" | "cxx" | "hpp" | "hh" | "hxx" => "text/x-c++",
        "cs" => "text/x-csharp",
        "rb" => "text/x-ruby",
        "php" => "text/x-php",
        "swift" => "text/x-swift",
        "lua" => "text/x-lua",
        "pl" | "pm" => "text/x-perl",
        "r" => "text/x-r",
        "sql" => "application/sql",
        "sh" | "bash" | "zsh" | "fish" | "ps1" | "bat" => "text/x-shellscript",
        "json" => "application/json",
        "jsonl" | "ndjson" => "application/x-ndjson",
        "xml" => "application/xml",
        "yaml" | "yml" => "application/yaml",
        "toml" => "application/toml",
        "graphql" | "gql" => "application/graphql",
        _ => return None,
    };
    Some(mime)
}

/// Well-known file names without an extension that hold text.
const TEXT_NAMES: &[&str] = &[
    "readme",
    "license",
    "makefile",
    "dockerfile",
    "containerfile",
    "gemfile",
    "rakefile",
    "procfile",
    "changelog",
    "authors",
    "notice",
];

/// Whether a content type is text the model can read inline: `text/*`, JSON, XML, YAML,
/// TOML, CSV, scripts, SVG.
pub(crate) fn is_text_type(mime: &str) -> bool {
    let m = essence(mime);
    m.starts_with("text/")
        || m.ends_with("+json")
        || m.ends_with("+xml")
        || m.ends_with("+yaml")
        || matches!(
            m.as_str(),
            "application/json"
                | "application/x-ndjson"
                | "application/jsonl"
                | "application/xml"
                | "application/yaml"
                | "application/x-yaml"
                | "application/toml"
                | "application/csv"
                | "application/javascript"
                | "application/x-javascript"
                | "application/ecmascript"
                | "application/typescript"
                | "application/x-sh"
                | "application/x-shellscript"
                | "application/sql"
                | "application/graphql"
        )
}

/// Whether a content type claims a raster image (SVG is text, not an image here).
pub(crate) fn is_image_type(mime: &str) -> bool {
    let m = essence(mime);
    m.starts_with("image/") && !m.ends_with("+xml")
}

/// `text/plain; charset=utf-8` → `text/plain`, lower-cased.
pub(crate) fn essence(mime: &str) -> String {
    mime.split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// The content type to record for an upload: the client's, unless it is missing or the
/// generic `application/octet-stream` (the Node SDK sends that for everything), in
/// which case the file name's type when known.
pub(crate) fn upload_content_type(declared: Option<&str>, filename: &str) -> String {
    let declared = declared.map(essence).filter(|m| !m.is_empty());
    match declared {
        Some(m) if m != "application/octet-stream" => m,
        _ => guess_from_name(filename)
            .unwrap_or("application/octet-stream")
            .to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_the_four_image_formats() {
        assert_eq!(sniff_image(b"\x89PNG\r\n\x1a\n rest"), Some("image/png"));
        assert_eq!(sniff_image(b"\xff\xd8\xff\xe0 jfif"), Some("image/jpeg"));
        assert_eq!(sniff_image(b"GIF89a..."), Some("image/gif"));
        assert_eq!(sniff_image(b"GIF87a..."), Some("image/gif"));
        assert_eq!(sniff_image(b"RIFF\x10\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(sniff_image(b"RIFF\x10\0\0\0WAVEfmt "), None);
        assert_eq!(sniff_image(b"RIFF"), None);
        assert_eq!(sniff_image(b"not an image"), None);
        assert_eq!(sniff_image(b""), None);
    }

    #[test]
    fn content_types_from_names_and_declarations() {
        assert_eq!(guess_from_name("main.RS"), Some("text/x-rust"));
        assert_eq!(guess_from_name("photo.jpeg"), Some("image/jpeg"));
        assert_eq!(guess_from_name("Makefile"), Some("text/plain"));
        assert_eq!(guess_from_name("archive.zip"), None);
        assert_eq!(guess_from_name("noext"), None);
        assert_eq!(
            upload_content_type(Some("text/plain"), "x.bin"),
            "text/plain"
        );
        assert_eq!(
            upload_content_type(Some("application/octet-stream"), "notes.md"),
            "text/markdown"
        );
        assert_eq!(upload_content_type(None, "a.png"), "image/png");
        assert_eq!(
            upload_content_type(Some("application/octet-stream"), "blob"),
            "application/octet-stream"
        );
        assert_eq!(
            upload_content_type(Some("Text/Plain; charset=UTF-8"), "x"),
            "text/plain"
        );
    }

    #[test]
    fn text_and_image_types() {
        for t in [
            "text/plain",
            "application/json",
            "application/ld+json",
            "application/xml",
            "application/yaml",
            "image/svg+xml",
            "text/csv; charset=utf-8",
        ] {
            assert!(is_text_type(t), "{t}");
        }
        for t in ["application/pdf", "image/png", "application/octet-stream"] {
            assert!(!is_text_type(t), "{t}");
        }
        assert!(is_image_type("image/png"));
        assert!(!is_image_type("image/svg+xml"));
        assert!(!is_image_type("application/pdf"));
    }
}
