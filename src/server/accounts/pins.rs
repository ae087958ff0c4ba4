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

    /// The rules that name an account not in `signed_in`: requests they match
    /// are refused until that account signs in.
    pub(crate) fn unknown<'s>(&'s self, signed_in: &[String]) -> Vec<&'s PinRule> {
        self.0
            .iter()
            .filter(|r| !signed_in.contains(&r.account))
            .collect()
    }

    /// The first rule that matches the request.
    pub(crate) fn rule_for(&self, headers: &HeaderMap) -> Option<&PinRule> {
        if self.0.is_empty() {
            return None;
        }
        let agent = headers
            .get(http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_ascii_lowercase)
            .unwrap_or_default();
        let listener = LISTENER.try_with(|l| *l).ok();
        self.0.iter().find(|r| match &r.matches {
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
        let account = |h: &HeaderMap| p.rule_for(h).map(|r| r.account.clone());
        let mut h = HeaderMap::new();
        assert_eq!(account(&h), None, "outside a request: no listener");
        h.insert(http::header::USER_AGENT, "Claude-CLI/2.1".parse().unwrap());
        assert_eq!(account(&h).as_deref(), Some("work"));
        assert_eq!(p.rule_for(&h).unwrap().text, "ua:claude-cli=work");
        let plain = HeaderMap::new();
        let on = |which| LISTENER.scope(which, async { account(&plain) });
        assert_eq!(on(Listener::Ollama).await.as_deref(), Some("home"));
        assert_eq!(on(Listener::Main).await, None);
        assert!(pins(&[]).rule_for(&h).is_none());
    }

    #[test]
    fn rules_naming_an_account_not_signed_in_are_found() {
        let p = pins(&["ua:claude-cli=work", "listener:ollama=home"]);
        let unknown = |names: &[&str]| -> Vec<String> {
            let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
            p.unknown(&names).iter().map(|r| r.text.clone()).collect()
        };
        assert_eq!(unknown(&["default", "work"]), ["listener:ollama=home"]);
        assert!(unknown(&["work", "home"]).is_empty());
        assert_eq!(unknown(&[]).len(), 2);
    }
}
