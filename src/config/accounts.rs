//! `[accounts]`: how the relay routes over several signed-in ChatGPT accounts
//! (docs/architecture.md#accounts). Invisible with one account.

use super::ConfigError;

/// `accounts.strategy`: which usable account a request runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountStrategy {
    /// The first usable account in `accounts.order`.
    Ordered,
    /// The usable account with the lowest used percent of its longest usage window.
    Balanced,
}

impl AccountStrategy {
    /// The config spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            AccountStrategy::Ordered => "ordered",
            AccountStrategy::Balanced => "balanced",
        }
    }
}

/// What an `accounts.pin` rule matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PinMatch {
    /// `ua:<text>`: the request's User-Agent contains `<text>` (any case).
    UserAgent(String),
    /// `listener:<relay|ollama>`: the request came in on that listener.
    Listener(String),
}

/// One `accounts.pin` rule: `ua:<text>=<account>` or `listener:<name>=<account>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinRule {
    /// What the rule matches.
    pub matches: PinMatch,
    /// The account matching requests are pinned to.
    pub account: String,
    /// The rule as written, for messages that name it.
    pub text: String,
}

impl PinRule {
    /// Parses one rule; the error says the accepted form.
    pub fn parse(text: &str) -> Result<PinRule, ConfigError> {
        let bad = || {
            ConfigError(format!(
                "`accounts.pin` rule {text:?} is not `ua:<text>=<account>` or `listener:<relay|ollama>=<account>`"
            ))
        };
        let (what, account) = text.rsplit_once('=').ok_or_else(bad)?;
        let account = account.trim();
        crate::auth::accounts::validate_name(account)
            .map_err(|e| ConfigError(format!("`accounts.pin` rule {text:?}: {e}")))?;
        let matches = match what.trim().split_once(':').ok_or_else(bad)? {
            ("ua", t) if !t.trim().is_empty() => PinMatch::UserAgent(t.trim().to_ascii_lowercase()),
            ("listener", l @ ("relay" | "ollama")) => PinMatch::Listener(l.to_owned()),
            _ => return Err(bad()),
        };
        Ok(PinRule {
            matches,
            account: account.to_owned(),
            text: text.trim().to_owned(),
        })
    }
}

/// `[accounts]`: routing over several accounts.
#[derive(Debug, Clone, PartialEq)]
pub struct AccountsConfig {
    /// `accounts.strategy`.
    pub strategy: AccountStrategy,
    /// `accounts.order`: account names first in this order, then the others in the
    /// order they were added (empty: the order they were added).
    pub order: Vec<String>,
    /// `accounts.pool`: the accounts that take part in failover and balancing
    /// (empty: all).
    pub pool: Vec<String>,
    /// `accounts.pin`: rules that keep a client on one account.
    pub pin: Vec<String>,
    /// `accounts.cooldown_seconds`: how long a transient failure benches an account.
    pub cooldown_seconds: u64,
}

impl Default for AccountsConfig {
    fn default() -> Self {
        AccountsConfig {
            strategy: AccountStrategy::Ordered,
            order: Vec::new(),
            pool: Vec::new(),
            pin: Vec::new(),
            cooldown_seconds: 60,
        }
    }
}

impl AccountsConfig {
    /// The parsed `accounts.pin` rules.
    pub fn pin_rules(&self) -> Result<Vec<PinRule>, ConfigError> {
        self.pin.iter().map(|r| PinRule::parse(r)).collect()
    }

    /// Checks the account names and pin rules.
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        for (key, names) in [
            ("accounts.order", &self.order),
            ("accounts.pool", &self.pool),
        ] {
            for name in names {
                crate::auth::accounts::validate_name(name)
                    .map_err(|e| ConfigError(format!("`{key}`: {e}")))?;
            }
        }
        self.pin_rules().map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pin_rules_parse_or_say_the_form() {
        assert_eq!(
            PinRule::parse("ua:Claude-CLI=work").unwrap(),
            PinRule {
                matches: PinMatch::UserAgent("claude-cli".into()),
                account: "work".into(),
                text: "ua:Claude-CLI=work".into(),
            }
        );
        assert_eq!(
            PinRule::parse("listener:ollama=home").unwrap().matches,
            PinMatch::Listener("ollama".into())
        );
        for bad in [
            "work",
            "ua:=work",
            "listener:web=work",
            "ua:x=Work",
            "host:x=y",
        ] {
            let e = PinRule::parse(bad).unwrap_err().0;
            assert!(e.contains("accounts.pin"), "{e}");
        }
    }
}
