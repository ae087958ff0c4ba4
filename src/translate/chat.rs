//! The Chat Completions dialect (`POST /v1/chat/completions`): requests through
//! [`chat_request`], streamed answers through [`ChatStreamTranslator`], and a
//! non-streamed answer through [`completion_from_response`].

use serde_json::Value;

use super::chat_request::{self, ChatRequestInfo};
use super::chat_response::{ChatContext, completion_from_response};
use super::chat_stream::ChatStreamTranslator;
use super::dialect::{AnswerContext, Dialect, Prepared, id_suffix};
use super::{TranslateError, TranslateOptions};

/// The Chat Completions API.
#[derive(Debug)]
pub(crate) struct Chat {
    info: ChatRequestInfo,
    reasoning_output: bool,
}

impl Chat {
    fn context(&self, answer: &AnswerContext) -> ChatContext {
        ChatContext {
            id: format!("chatcmpl-{}", id_suffix(&answer.nonce, 29)),
            created: answer.created,
            model: answer.model.clone(),
            include_usage: self.info.include_usage,
            reasoning_output: self.reasoning_output,
        }
    }
}

impl Dialect for Chat {
    type Stream = ChatStreamTranslator;
    type Context = ();

    fn prepare(body: &[u8], opts: &TranslateOptions<'_>) -> Result<Prepared<Self>, TranslateError> {
        let (upstream, info) = chat_request::prepare(body, opts)?;
        Ok(Prepared {
            upstream,
            dialect: Chat {
                info,
                reasoning_output: opts.reasoning_summaries,
            },
        })
    }

    fn stream(self, answer: &AnswerContext) -> ChatStreamTranslator {
        ChatStreamTranslator::new(self.context(answer))
    }

    fn finish(self, response: Value, answer: &AnswerContext) -> Value {
        completion_from_response(&response, &self.context(answer))
    }
}
