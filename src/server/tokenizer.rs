//! The tokenizer behind `POST /v1/messages/count_tokens`: OpenAI's `o200k_base`
//! (the encoding of the backend's GPT-5 models), through `tiktoken-rs`. Loaded on
//! the first count, not at start: it costs neither start-up time nor idle memory
//! (its cost once loaded is in docs/benchmarks.md). Callers run it on a blocking
//! thread, since the first call parses the encoding.

use std::sync::OnceLock;

use tiktoken_rs::CoreBPE;

static O200K: OnceLock<Option<CoreBPE>> = OnceLock::new();

/// The `o200k_base` token count of `text`; `None` if the encoding could not be
/// loaded (it ships inside the binary, so this does not happen in practice).
pub(crate) fn count(text: &str) -> Option<usize> {
    O200K
        .get_or_init(|| tiktoken_rs::o200k_base().ok())
        .as_ref()
        .map(|bpe| bpe.encode_ordinary(text).len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_o200k_tokens() {
        assert_eq!(count(""), Some(0));
        let hello = count("hello world").unwrap();
        assert!((1..=3).contains(&hello), "{hello}");
        let long = count(&"word ".repeat(1000)).unwrap();
        assert!((900..=1100).contains(&long), "{long}");
    }
}
