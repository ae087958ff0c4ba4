//! `GET /v1/models` and `GET /v1/models/{id}`.

use std::sync::Arc;

use http::StatusCode;

use super::{Answer, fetch_catalogue, json_response};
use crate::server::AppState;
use crate::server::error::ApiError;
use crate::upstream::models::{Resolution, model_object};

pub(crate) async fn list(state: &Arc<AppState>) -> Answer {
    let list = state.models.list(|| fetch_catalogue(state)).await?;
    Ok(json_response(StatusCode::OK, &list))
}

pub(crate) async fn get(state: &Arc<AppState>, id: &str) -> Answer {
    let id = percent_encoding::percent_decode_str(id).decode_utf8_lossy();
    match state.models.resolve(&id, || fetch_catalogue(state)).await {
        Resolution::Known(found) | Resolution::Unverified(found) => Ok(json_response(
            StatusCode::OK,
            &model_object(&found, state.models.created()),
        )),
        Resolution::Unknown { suggestions } => Err(ApiError::model_not_found(&id, &suggestions)),
    }
}
