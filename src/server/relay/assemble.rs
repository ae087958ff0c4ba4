//! Non-streamed answers: the rest of an open stream read into the final
//! Response object, which the dialect then turns into its own answer.

use serde_json::Value;

use super::failure::{map_failure, map_upstream_error};
use super::open::OpenStream;
use crate::server::error::ApiError;
use crate::translate::responses_response::{AssemblerStep, ResponseAssembler};
use crate::upstream::UpstreamError;

/// Reads a whole upstream answer into the final Response object. An incomplete
/// response is still an answer; a failed one is an error.
pub(crate) async fn assemble(mut open: OpenStream) -> Result<Value, ApiError> {
    let mut assembler = ResponseAssembler::new();
    loop {
        let event = match open.next_event().await {
            Ok(Some(event)) => event,
            Ok(None) | Err(UpstreamError::Body(_)) => return Err(ApiError::incomplete_stream()),
            Err(e) => return Err(map_upstream_error(e)),
        };
        open.observe(&event);
        let Some(value) = event.json() else { continue };
        match assembler.on_event(value) {
            AssemblerStep::Continue => {}
            AssemblerStep::Completed | AssemblerStep::Incomplete { .. } => break,
            AssemblerStep::Failed { code, message } => {
                open.rest.release();
                return Err(map_failure(code.as_deref(), &message));
            }
        }
    }
    open.rest.release();
    Ok(assembler.into_response())
}
