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
}
