//! Device-code login (docs/upstream.md, device-code login): request a user code, show the
//! verification URL and the code, poll until approved (403/404 mean "pending"),
//! then exchange the code with the server-made PKCE verifier.

use std::time::{Duration, Instant};

use super::LoginError;
use super::credentials::Tokens;
use super::issuer::{DeviceCode, DevicePoll, Issuer, IssuerError};

/// The shortest pause between polls, even when the server says `"0"`.
pub(crate) const MIN_POLL_INTERVAL: Duration = Duration::from_millis(100);

/// Requests a device code; a 404 means the server has no device-code login.
pub(crate) async fn request_code(issuer: &Issuer) -> Result<DeviceCode, LoginError> {
    issuer.device_usercode().await.map_err(|e| match e {
        IssuerError::Status { status: 404, .. } => LoginError::DeviceNotEnabled,
        other => LoginError::Issuer(other),
    })
}

/// Polls until the code is approved (or `timeout` passes), then exchanges it.
pub(crate) async fn complete(
    issuer: &Issuer,
    code: &DeviceCode,
    timeout: Duration,
) -> Result<Tokens, LoginError> {
    let started = Instant::now();
    let interval = Duration::from_secs(code.interval).max(MIN_POLL_INTERVAL);
    loop {
        match issuer.device_poll(code).await? {
            DevicePoll::Approved {
                authorization_code,
                code_verifier,
            } => {
                return Ok(issuer
                    .exchange_code(
                        &authorization_code,
                        &code_verifier,
                        &issuer.device_redirect_uri(),
                    )
                    .await?);
            }
            DevicePoll::Pending => {
                let elapsed = started.elapsed();
                if elapsed >= timeout {
                    return Err(LoginError::DeviceTimeout(timeout.as_secs()));
                }
                tokio::time::sleep(interval.min(timeout - elapsed)).await;
            }
        }
    }
}
