//! Upstream events → one final Response object, for non-streaming clients.
//!
//! The upstream always streams. The final object comes from the terminal event
//! (`response.completed` or `response.incomplete`); when that event carries no
//! `output`, the output is rebuilt from the `response.output_item.done` items.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::{event_type, failure_of};

/// What one event means for the assembly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AssemblerStep {
    /// Keep feeding events.
    Continue,
    /// `response.completed` arrived; call [`ResponseAssembler::into_response`].
    Completed,
    /// `response.failed` or an `error` event: answer with an error.
    Failed {
        /// The upstream error code, if any.
        code: Option<String>,
        /// The upstream error message.
        message: String,
    },
    /// `response.incomplete`; the partial response is still available.
    Incomplete {
        /// `incomplete_details.reason` (e.g. `max_output_tokens`).
        reason: Option<String>,
    },
}

/// Collects upstream events into the final Response object.
#[derive(Debug, Default)]
pub struct ResponseAssembler {
    /// Finished output items by `output_index`.
    items: BTreeMap<u64, Value>,
    /// Finished output items that carried no `output_index`, in arrival order.
    unindexed: Vec<Value>,
    /// The latest `response` snapshot (created / in_progress / terminal).
    response: Option<Value>,
    /// A terminal event was seen; later events are ignored.
    finished: bool,
}

impl ResponseAssembler {
    /// An assembler that has seen no event.
    pub fn new() -> Self {
        ResponseAssembler::default()
    }

    /// Feeds one upstream event (the parsed `data:` JSON).
    pub fn on_event(&mut self, event: &Value) -> AssemblerStep {
        if self.finished {
            return AssemblerStep::Continue;
        }
        let Some(kind) = event_type(event) else {
            return AssemblerStep::Continue;
        };
        match kind {
            "response.output_item.done" => {
                if let Some(item) = event.get("item").filter(|i| i.is_object()) {
                    let index = event.get("output_index").and_then(Value::as_u64);
                    self.keep_item(index, item.clone());
                }
                AssemblerStep::Continue
            }
            "response.created" | "response.in_progress" => {
                self.snapshot(event);
                AssemblerStep::Continue
            }
            "response.completed" => {
                self.snapshot(event);
                self.finished = true;
                AssemblerStep::Completed
            }
            "response.incomplete" => {
                self.snapshot(event);
                self.finished = true;
                AssemblerStep::Incomplete {
                    reason: incomplete_reason(event),
                }
            }
            _ => match failure_of(event) {
                Some(failure) => {
                    self.finished = true;
                    AssemblerStep::Failed {
                        code: failure.code,
                        message: failure.message,
                    }
                }
                None => AssemblerStep::Continue,
            },
        }
    }

    /// [`ResponseAssembler::on_event`] for an event the caller owns: a finished
    /// item and the terminal event's Response object are moved in, not copied.
    pub fn on_owned(&mut self, mut event: Value) -> AssemblerStep {
        if self.finished {
            return AssemblerStep::Continue;
        }
        match event_type(&event) {
            Some("response.output_item.done") => {
                let index = event.get("output_index").and_then(Value::as_u64);
                if let Some(item) = event.get_mut("item").filter(|i| i.is_object()) {
                    self.keep_item(index, item.take());
                }
                AssemblerStep::Continue
            }
            Some(kind @ ("response.completed" | "response.incomplete")) => {
                let step = if kind == "response.completed" {
                    AssemblerStep::Completed
                } else {
                    AssemblerStep::Incomplete {
                        reason: incomplete_reason(&event),
                    }
                };
                if let Some(response) = event.get_mut("response").filter(|r| r.is_object()) {
                    self.response = Some(response.take());
                }
                self.finished = true;
                step
            }
            _ => self.on_event(&event),
        }
    }

    fn keep_item(&mut self, index: Option<u64>, item: Value) {
        match index {
            Some(index) => {
                self.items.insert(index, item);
            }
            None => self.unindexed.push(item),
        }
    }

    fn snapshot(&mut self, event: &Value) {
        if let Some(response) = event.get("response").filter(|r| r.is_object()) {
            self.response = Some(response.clone());
        }
    }

    /// The final Response object, with `output` rebuilt from the finished items when
    /// the terminal event carried none.
    pub fn into_response(self) -> Value {
        let mut response = match self.response {
            Some(Value::Object(response)) => response,
            _ => {
                let mut response = Map::new();
                response.insert("object".to_owned(), Value::from("response"));
                response
            }
        };
        let has_output = matches!(response.get("output"), Some(Value::Array(o)) if !o.is_empty());
        if !has_output {
            let mut output: Vec<Value> = self.items.into_values().collect();
            output.extend(self.unindexed);
            response.insert("output".to_owned(), Value::Array(output));
        }
        Value::Object(response)
    }
}

/// `response.incomplete_details.reason` of a `response.incomplete` event.
fn incomplete_reason(event: &Value) -> Option<String> {
    event
        .pointer("/response/incomplete_details/reason")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::translate::fixtures;
    use serde_json::json;

    /// Assembles `transcript` with borrowed events and again with owned ones;
    /// both must give the same steps and the same response.
    fn assemble(transcript: &str) -> (Vec<AssemblerStep>, Value) {
        let mut assembler = ResponseAssembler::new();
        let steps: Vec<AssemblerStep> = fixtures::events(transcript)
            .iter()
            .map(|e| assembler.on_event(e))
            .collect();
        let borrowed = (steps, assembler.into_response());
        let mut assembler = ResponseAssembler::new();
        let steps = fixtures::events(transcript)
            .into_iter()
            .map(|e| assembler.on_owned(e))
            .collect();
        assert_eq!((steps, assembler.into_response()), borrowed);
        borrowed
    }

    #[test]
    fn completed_response_is_returned_as_is() {
        let (steps, response) = assemble(fixtures::SSE_TEXT_REASONING);
        assert_eq!(steps.last(), Some(&AssemblerStep::Completed));
        assert!(
            steps[..steps.len() - 1]
                .iter()
                .all(|s| *s == AssemblerStep::Continue)
        );
        let events = fixtures::events(fixtures::SSE_TEXT_REASONING);
        assert_eq!(
            Some(&response),
            events.last().and_then(|e| e.get("response"))
        );
    }

    #[test]
    fn output_is_rebuilt_from_done_items_when_missing() {
        let (steps, response) = assemble(fixtures::SSE_ONLY_DONE);
        assert_eq!(steps.last(), Some(&AssemblerStep::Completed));
        assert_eq!(response["id"], json!("resp_only"));
        assert_eq!(
            response["output"],
            json!([{"id":"msg_o","type":"message","role":"assistant","content":[{"type":"output_text","text":"pong"}]}])
        );
        assert_eq!(response["usage"]["total_tokens"], json!(0));
    }

    #[test]
    fn output_is_rebuilt_in_output_index_order_when_empty() {
        let mut assembler = ResponseAssembler::new();
        for event in [
            json!({"type":"response.output_item.done","output_index":1,"item":{"id":"b","type":"message"}}),
            json!({"type":"response.output_item.done","output_index":0,"item":{"id":"a","type":"reasoning"}}),
            json!({"type":"response.output_item.done","item":{"id":"c","type":"message"}}),
            json!({"type":"response.output_item.done","output_index":2}),
        ] {
            assert_eq!(assembler.on_event(&event), AssemblerStep::Continue);
        }
        let done = json!({"type":"response.completed","response":{"id":"r","output":[]}});
        assert_eq!(assembler.on_event(&done), AssemblerStep::Completed);
        let response = assembler.into_response();
        let ids: Vec<&str> = response["output"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|i| i["id"].as_str())
            .collect();
        assert_eq!(ids, ["a", "b", "c"]);
    }

    #[test]
    fn custom_tool_output_is_rebuilt() {
        let (_, response) = assemble(fixtures::SSE_CUSTOM_TOOL);
        assert_eq!(response["output"][1]["type"], json!("custom_tool_call"));
        assert_eq!(response["output"][0]["type"], json!("message"));
    }

    #[test]
    fn incomplete_reports_its_reason() {
        let (steps, response) = assemble(fixtures::SSE_INCOMPLETE);
        assert_eq!(
            steps.last(),
            Some(&AssemblerStep::Incomplete {
                reason: Some("max_output_tokens".to_owned())
            })
        );
        assert_eq!(response["status"], json!("incomplete"));
    }

    #[test]
    fn failures_report_code_and_message() {
        let (steps, _) = assemble(fixtures::SSE_FAILED);
        assert_eq!(
            steps.last(),
            Some(&AssemblerStep::Failed {
                code: Some("context_length_exceeded".to_owned()),
                message: "Your input exceeds the context window of this model. Please adjust your input and try again.".to_owned(),
            })
        );
        let (steps, _) = assemble(fixtures::SSE_ERROR_EVENT);
        assert!(matches!(
            steps.last(),
            Some(AssemblerStep::Failed { code: Some(code), .. }) if code == "rate_limit_exceeded"
        ));
    }

    #[test]
    fn events_after_the_end_are_ignored() {
        let mut assembler = ResponseAssembler::new();
        let done = json!({"type":"response.completed","response":{"id":"r","output":[{"id":"x"}]}});
        assert_eq!(assembler.on_event(&done), AssemblerStep::Completed);
        let late = json!({"type":"response.failed","response":{"error":{"message":"late"}}});
        assert_eq!(assembler.on_event(&late), AssemblerStep::Continue);
        assert_eq!(assembler.into_response()["output"], json!([{"id":"x"}]));
    }

    #[test]
    fn no_terminal_event_still_yields_an_object() {
        let assembler = ResponseAssembler::new();
        assert_eq!(
            assembler.into_response(),
            json!({"object":"response","output":[]})
        );
    }
}
