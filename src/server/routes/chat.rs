//! `POST /v1/chat/completions`, translated to and from the Responses backend
//! (spec §6.2–§6.3).

use std::sync::Arc;

use http::{Request, StatusCode};
use hyper::body::Incoming;

use super::streaming::{self, Mode};
use super::{Answer, finish_request, json_response, read_body, relayed_headers, translate_options};
use crate::server::AppState;
use crate::server::guard::Pass;
use crate::server::relay;
use crate::translate::chat_request;
use crate::translate::chat_response::{ChatContext, completion_from_response};
use crate::translate::chat_stream::ChatStreamTranslator;

fn completion_id() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let suffix: String = (0..29)
        .map(|_| ALPHABET[rand::random_range(0..ALPHABET.len())] as char)
        .collect();
    format!("chatcmpl-{suffix}")
}

pub async fn create(state: &Arc<AppState>, req: Request<Incoming>, pass: Pass) -> Answer {
    let (parts, body) = req.into_parts();
    let bytes = read_body(state, &parts.headers, body).await?;
    let (prepared, info) = chat_request::prepare(&bytes, &translate_options(state))?;
    drop(bytes);
    let client_stream = prepared.client_stream;
    let (upstream_body, model, ignored) = finish_request(state, prepared).await?;
    let ctx = ChatContext {
        id: completion_id(),
        created: jiff::Timestamp::now().as_second(),
        model: model.clone(),
        include_usage: info.include_usage,
        reasoning_output: state.config.chat.reasoning_output
            == crate::config::ReasoningOutput::ReasoningContent,
    };
    let mut open = relay::open(state, upstream_body, &parts.headers).await?;
    let upstream_headers = std::mem::take(&mut open.headers);

    let mut resp = if client_stream {
        streaming::respond(
            state,
            open,
            Mode::Chat(Box::new(ChatStreamTranslator::new(ctx))),
            pass,
        )
    } else {
        let response = streaming::assemble(open).await?;
        drop(pass);
        json_response(StatusCode::OK, &completion_from_response(&response, &ctx))
    };
    relayed_headers(&mut resp, &upstream_headers, ignored, &model);
    Ok(resp)
}
