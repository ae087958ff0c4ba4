//! Reading JWT claims without verifying signatures (docs/upstream.md, JWT claims): the tokens
//! come straight from the issuer over TLS, and we only need display facts (email,
//! plan), the account id for the `ChatGPT-Account-ID` header, and the access-token
//! expiry. Garbage in gives `None`s out, never a panic.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

const AUTH_NAMESPACE: &str = "https://api.openai.com/auth";
const PROFILE_NAMESPACE: &str = "https://api.openai.com/profile";

/// The facts airelays reads from an id token.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdClaims {
    /// Top-level `email`, else the profile namespace's.
    pub email: Option<String>,
    /// `chatgpt_account_id`: the `ChatGPT-Account-ID` header.
    pub account_id: Option<String>,
    /// `chatgpt_plan_type`, lower-cased.
    pub plan: Option<String>,
    /// `chatgpt_user_id`, else `user_id`.
    pub user_id: Option<String>,
}

/// Decodes the payload (middle segment) of a JWT as a JSON object.
pub fn payload(jwt: &str) -> Option<serde_json::Map<String, Value>> {
    let mut parts = jwt.split('.');
    let (_header, body) = (parts.next()?, parts.next()?);
    parts.next()?;
    // Tolerate padded or standard-alphabet encodings some issuers emit.
    let cleaned: String = body
        .trim_end_matches('=')
        .chars()
        .map(|c| match c {
            '+' => '-',
            '/' => '_',
            c => c,
        })
        .collect();
    let bytes = URL_SAFE_NO_PAD.decode(cleaned).ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

fn non_empty_str(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
}

/// Email (top-level, else the profile namespace), account id, plan and user id.
pub fn id_claims(jwt: &str) -> IdClaims {
    let Some(map) = payload(jwt) else {
        return IdClaims::default();
    };
    let auth = map.get(AUTH_NAMESPACE).and_then(Value::as_object);
    let profile = map.get(PROFILE_NAMESPACE).and_then(Value::as_object);
    let from_auth = |key: &str| non_empty_str(auth.and_then(|a| a.get(key)));
    IdClaims {
        email: non_empty_str(map.get("email"))
            .or_else(|| non_empty_str(profile.and_then(|p| p.get("email")))),
        account_id: from_auth("chatgpt_account_id"),
        plan: from_auth("chatgpt_plan_type").map(|p| p.to_ascii_lowercase()),
        user_id: from_auth("chatgpt_user_id").or_else(|| from_auth("user_id")),
    }
}

/// The `exp` claim as a timestamp (seconds since the epoch; fractional values allowed).
pub fn expiry(jwt: &str) -> Option<jiff::Timestamp> {
    let exp = payload(jwt)?.get("exp")?.as_f64()?;
    if !exp.is_finite() {
        return None;
    }
    jiff::Timestamp::from_second(exp.floor() as i64).ok()
}

#[cfg(test)]
pub(crate) fn make_jwt(payload: &Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let body = URL_SAFE_NO_PAD.encode(payload.to_string());
    format!("{header}.{body}.sig")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_the_spec_claims() {
        let jwt = make_jwt(&json!({
            "email": "user@example.com",
            "exp": 1761003600,
            "https://api.openai.com/auth": {
                "chatgpt_account_id": "acc-1",
                "chatgpt_plan_type": "Plus",
                "chatgpt_user_id": "user-abc",
                "user_id": "other"
            }
        }));
        let c = id_claims(&jwt);
        assert_eq!(c.email.as_deref(), Some("user@example.com"));
        assert_eq!(c.account_id.as_deref(), Some("acc-1"));
        assert_eq!(c.plan.as_deref(), Some("plus"));
        assert_eq!(c.user_id.as_deref(), Some("user-abc"));
        assert_eq!(expiry(&jwt).unwrap().as_second(), 1761003600);
    }

    #[test]
    fn email_falls_back_to_the_profile_namespace_and_user_id_to_user_id() {
        let jwt = make_jwt(&json!({
            "https://api.openai.com/profile": {"email": "p@example.com"},
            "https://api.openai.com/auth": {"user_id": "u-2"}
        }));
        let c = id_claims(&jwt);
        assert_eq!(c.email.as_deref(), Some("p@example.com"));
        assert_eq!(c.user_id.as_deref(), Some("u-2"));
        assert_eq!(c.account_id, None);
        assert_eq!(expiry(&jwt), None);
    }

    #[test]
    fn garbage_gives_nothing_and_never_panics() {
        for bad in [
            "",
            ".",
            "..",
            "a.b.c",
            "a.b",
            "a.!!!.c",
            "a.e30.c.d",
            "x.WzFd.y",   // payload is an array
            "x.bnVsbA.y", // payload is null
            "é.é.é",
        ] {
            assert_eq!(id_claims(bad), IdClaims::default(), "{bad}");
            assert_eq!(expiry(bad), None, "{bad}");
        }
        let weird = make_jwt(&json!({"exp": "soon", "email": 5,
            "https://api.openai.com/auth": "not an object"}));
        assert_eq!(id_claims(&weird), IdClaims::default());
        assert_eq!(expiry(&weird), None);
        let huge = make_jwt(&json!({"exp": 1e300}));
        assert_eq!(expiry(&huge), None);
        let fractional = make_jwt(&json!({"exp": 1761003600.7}));
        assert_eq!(expiry(&fractional).unwrap().as_second(), 1761003600);
    }

    #[test]
    fn padded_and_standard_alphabet_payloads_decode() {
        let body = base64::engine::general_purpose::STANDARD.encode(r#"{"email":"a@b.c"}"#);
        let jwt = format!("h.{body}.s");
        assert_eq!(id_claims(&jwt).email.as_deref(), Some("a@b.c"));
    }
}
