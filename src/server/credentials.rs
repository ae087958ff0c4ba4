//! The seam between the relay and the ChatGPT credential session: the relay asks
//! for an access token, and for a fresh one after the backend answered 401.

use futures_util::future::BoxFuture;

use super::error::ApiError;
use crate::status::UpstreamStatus;

/// What the backend needs to authenticate a request.
#[derive(Clone, PartialEq, Eq)]
pub struct Access {
    pub token: String,
    pub account_id: String,
}

impl std::fmt::Debug for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Access")
            .field("account_id", &self.account_id)
            .finish_non_exhaustive()
    }
}

pub trait CredentialProvider: Send + Sync + 'static {
    /// A usable access token (refreshed first when it is about to expire).
    fn access(&self) -> BoxFuture<'_, Result<Access, ApiError>>;
    /// Called once after the backend rejected `rejected` with 401: reload the
    /// stored credentials, refresh if they are unchanged, and return the new ones.
    fn after_unauthorized<'a>(
        &'a self,
        rejected: &'a Access,
    ) -> BoxFuture<'a, Result<Access, ApiError>>;
    /// The sign-in state for status documents.
    fn status(&self) -> UpstreamStatus;
}
