//! The systemd user unit (`~/.config/systemd/user/airelays.service`): a pure
//! function of the [`ServiceSpec`], checked against a golden file and by
//! `systemd-analyze verify` (tests/it/service.rs).
//!
//! Restarts: `Restart=on-failure`, except exit 75 (another relay holds the data
//! directory), and at most 5 starts in 5 minutes, so a bad config does not restart
//! forever. Hardening: only directives that work in a user unit without user
//! namespaces; `ProtectSystem`, `ProtectHome`, `PrivateTmp` and `PrivateDevices`
//! fail where unprivileged namespaces are restricted, so they are left out.
//! `AF_UNIX` stays allowed for the session bus and the keychain behind it.

use super::spec::ServiceSpec;

/// The unit's name.
pub(crate) const UNIT_NAME: &str = "airelays.service";

/// The unit file's text.
pub(crate) fn render(spec: &ServiceSpec) -> String {
    let mut exec = vec![exec_word(&spec.program.display().to_string())];
    exec.extend(spec.args.iter().map(|a| exec_word(a)));
    let mut out = String::from(
        "# Written by `airelays service install`; `airelays service uninstall` removes it.\n\
         [Unit]\n\
         Description=airelays: the ChatGPT subscription relay\n\
         StartLimitIntervalSec=300\n\
         StartLimitBurst=5\n\
         \n\
         [Service]\n\
         Type=simple\n",
    );
    out.push_str(&format!("ExecStart={}\n", exec.join(" ")));
    for (name, value) in &spec.env {
        out.push_str(&format!(
            "Environment={}\n",
            quoted(&format!("{name}={value}"))
        ));
    }
    out.push_str(
        "Restart=on-failure\n\
         RestartSec=5\n\
         RestartPreventExitStatus=75\n\
         NoNewPrivileges=yes\n\
         UMask=0077\n\
         LockPersonality=yes\n\
         RestrictSUIDSGID=yes\n\
         RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6\n\
         \n\
         [Install]\n\
         WantedBy=default.target\n",
    );
    out
}

/// One word of `ExecStart=`: `$` and `%` escaped (no variable or specifier
/// expansion), quoted when it holds a blank, a quote or a backslash.
fn exec_word(word: &str) -> String {
    let word = word.replace('$', "$$");
    let plain = !word.is_empty()
        && !word
            .chars()
            .any(|c| c.is_whitespace() || matches!(c, '"' | '\'' | '\\' | ';' | '%'));
    if plain { word } else { quoted(&word) }
}

/// A double-quoted systemd string: `\` and `"` escaped, `%` doubled.
fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '%' => out.push_str("%%"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// What an installed unit runs: its `ExecStart=` words (program first) and its
/// `Environment=` variables, read back from the text [`render`] wrote.
pub(crate) fn parse(text: &str) -> (Vec<String>, Vec<(String, String)>) {
    let mut words = Vec::new();
    let mut env = Vec::new();
    for line in text.lines() {
        if let Some(exec) = line.strip_prefix("ExecStart=") {
            words = split_words(exec);
        } else if let Some(value) = line.strip_prefix("Environment=") {
            let pair = unquote(value).replace("%%", "%");
            if let Some((k, v)) = pair.split_once('=') {
                env.push((k.to_string(), v.to_string()));
            }
        }
    }
    (words, env)
}

/// `ExecStart=` split into words: quotes and escapes undone, `$$` and `%%` single.
fn split_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let Some(&first) = chars.peek() else { break };
        let mut word = String::new();
        if first == '"' {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => word.extend(chars.next()),
                    '"' => break,
                    c => word.push(c),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                word.push(c);
            }
        }
        words.push(word.replace("$$", "$").replace("%%", "%"));
    }
    words
}

/// A [`quoted`] string's content (a bare one as it is).
fn unquote(s: &str) -> String {
    let Some(inner) = s.strip_prefix('"').and_then(|s| s.strip_suffix('"')) else {
        return s.to_string();
    };
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            out.extend(chars.next());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn awkward_words_are_quoted_and_escaped() {
        assert_eq!(exec_word("serve"), "serve");
        assert_eq!(exec_word("/home/a b/x"), "\"/home/a b/x\"");
        assert_eq!(exec_word("50%$HOME"), "\"50%%$$HOME\"");
        assert_eq!(exec_word("a\"b\\c"), "\"a\\\"b\\\\c\"");
        assert_eq!(exec_word(""), "\"\"");
    }

    #[test]
    fn a_rendered_unit_reads_back() {
        let spec = ServiceSpec::new(
            "/opt/my bin/airelays".into(),
            Some("/c/50%$HOME \"q\".toml".into()),
            None,
            vec![
                ("AIRELAYS_PORT".into(), "9000".into()),
                ("AIRELAYS_EXTRA_MODELS".into(), "a%b,\"c\"\\d,$$e".into()),
            ],
            "/d/logs".into(),
        );
        let (words, env) = parse(&render(&spec));
        let mut want = vec![spec.program.display().to_string()];
        want.extend(spec.args.iter().cloned());
        assert_eq!(words, want);
        assert_eq!(env, spec.env);
    }
}
