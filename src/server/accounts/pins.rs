//! `accounts.pin`: rules that keep a client on one account, by User-Agent or by
//! the listener the request came in on.

use http::HeaderMap;

use crate::config::{Config, PinMatch, PinRule};
use crate::server::listener::Listener;

tokio::task_local! {
    /// The listener the request being answered came in on (set by the router).
    pub(crate) static LISTENER: Listener;
}

/// The parsed `accounts.pin` rules.
pub(crate) struct Pins(Vec<PinRule>);

impl Pins {
    /// The rules of `config` (checked when the config was loaded; a rule that does
    /// not parse is left out).
    pub(crate) fn new(config: &Config) -> Pins {
        Pins(config.accounts.pin_rules().unwrap_or_default())
    }

    /// The account the first matching rule names.
    pub(crate) fn account_for(&self, headers: &HeaderMap) -> Option<&str> {
        if self.0.is_empty() {
            return None;
        }
        let agent = headers
            .get(http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_ascii_lowercase)
            .unwrap_or_default();
        let listener = LISTENER.try_with(|l| *l).ok();
        self.0
            .iter()
            .find(|r| match &r.matches {
                PinMatch::UserAgent(text) => agent.contains(text.as_str()),
                PinMatch::Listener(name) => {
                    let which = if name == "ollama" {
                        Listener::Ollama
                    } else {
                        Listener::Main
                    };
                    listener == Some(which)
                }
            })
            .map(|r| r.account.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pins(rules: &[&str]) -> Pins {
        let paths = crate::config::Paths {
            config_file: "/c/config.toml".into(),
            data_dir: "/d".into(),
        };
        let mut config = Config::defaults(&paths);
        config.accounts.pin = rules.iter().map(|r| r.to_string()).collect();
        Pins::new(&config)
    }

    #[tokio::test]
    async fn rules_match_the_user_agent_or_the_listener() {
        let p = pins(&["ua:claude-cli=work", "listener:ollama=home"]);
        let mut h = HeaderMap::new();
        assert_eq!(p.account_for(&h), None, "outside a request: no listener");
        h.insert(http::header::USER_AGENT, "Claude-CLI/2.1".parse().unwrap());
        assert_eq!(p.account_for(&h), Some("work"));
        let plain = HeaderMap::new();
        let on = |which| LISTENER.scope(which, async { p.account_for(&plain).map(str::to_owned) });
        assert_eq!(on(Listener::Ollama).await.as_deref(), Some("home"));
        assert_eq!(on(Listener::Main).await, None);
        assert_eq!(pins(&[]).account_for(&h), None);
    }
}
