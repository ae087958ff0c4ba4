//! The macOS LaunchAgent (`~/Library/LaunchAgents/airelays.plist`), loaded with
//! `launchctl bootstrap gui/<uid>`: a pure function of the [`ServiceSpec`], checked
//! against a golden file and parsed as a property list in the tests.
//!
//! `KeepAlive` restarts the relay only when it crashes: an exit with an error (a
//! bad config, exit 75 when another relay holds the data directory) is not
//! retried, which is launchd's form of systemd's start limit. launchd writes the
//! relay's stdout and stderr (the banner, an error before logging starts) to
//! `logs/launchd.log`; the log itself is the rotating `logs/airelays.log`.

use super::spec::ServiceSpec;

/// The LaunchAgent's label (and the plist's file name without `.plist`).
pub(crate) const LABEL: &str = "airelays";

/// The property list's text (XML).
pub(crate) fn render(spec: &ServiceSpec) -> String {
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n\
         <!-- Written by `airelays service install`; `airelays service uninstall` removes it. -->\n\
         <plist version=\"1.0\">\n\
         <dict>\n",
    );
    key_string(&mut out, 1, "Label", LABEL);
    out.push_str("\t<key>ProgramArguments</key>\n\t<array>\n");
    string(&mut out, 2, &spec.program.display().to_string());
    for a in &spec.args {
        string(&mut out, 2, a);
    }
    out.push_str("\t</array>\n");
    if !spec.env.is_empty() {
        out.push_str("\t<key>EnvironmentVariables</key>\n\t<dict>\n");
        for (name, value) in &spec.env {
            key_string(&mut out, 2, name, value);
        }
        out.push_str("\t</dict>\n");
    }
    out.push_str(
        "\t<key>RunAtLoad</key>\n\t<true/>\n\
         \t<key>KeepAlive</key>\n\t<dict>\n\t\t<key>Crashed</key>\n\t\t<true/>\n\t</dict>\n\
         \t<key>ThrottleInterval</key>\n\t<integer>10</integer>\n\
         \t<key>ProcessType</key>\n\t<string>Background</string>\n\
         \t<key>Umask</key>\n\t<integer>63</integer>\n",
    );
    let log = spec.logs_dir.join("launchd.log").display().to_string();
    key_string(&mut out, 1, "StandardOutPath", &log);
    key_string(&mut out, 1, "StandardErrorPath", &log);
    out.push_str("</dict>\n</plist>\n");
    out
}

fn key_string(out: &mut String, depth: usize, key: &str, value: &str) {
    out.push_str(&format!("{}<key>{}</key>\n", "\t".repeat(depth), xml(key)));
    string(out, depth, value);
}

fn string(out: &mut String, depth: usize, value: &str) {
    out.push_str(&format!(
        "{}<string>{}</string>\n",
        "\t".repeat(depth),
        xml(value)
    ));
}

/// Text escaped for XML content.
pub(crate) fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// What an installed LaunchAgent runs: its `ProgramArguments` and its
/// `EnvironmentVariables`, read back from the text [`render`] wrote (one element a
/// line, as it writes them).
pub(crate) fn parse(text: &str) -> (Vec<String>, Vec<(String, String)>) {
    let mut words = Vec::new();
    let mut env = Vec::new();
    let mut section = "";
    let mut pending_key: Option<String> = None;
    for line in text.lines().map(str::trim) {
        let inner = |tag: &str| {
            line.strip_prefix(&format!("<{tag}>"))?
                .strip_suffix(&format!("</{tag}>"))
                .map(unescape)
        };
        match line {
            "<key>ProgramArguments</key>" => section = "args",
            "<key>EnvironmentVariables</key>" => section = "env",
            "</array>" | "</dict>" => section = "",
            _ => match (section, inner("key"), inner("string")) {
                ("args", _, Some(word)) => words.push(word),
                ("env", Some(key), _) => pending_key = Some(key),
                ("env", _, Some(value)) => env.extend(pending_key.take().map(|k| (k, value))),
                _ => {}
            },
        }
    }
    (words, env)
}

/// XML content back to text (the five entities [`xml`] writes).
fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rendered_plist_reads_back() {
        let spec = ServiceSpec::new(
            "/Applications/my bin/airelays".into(),
            None,
            Some("/Users/a&b/<data>".into()),
            vec![("HTTPS_PROXY".into(), "http://p:1/?a=1&b='2'".into())],
            "/d/logs".into(),
        );
        let (words, env) = parse(&render(&spec));
        let mut want = vec![spec.program.display().to_string()];
        want.extend(spec.args.iter().cloned());
        assert_eq!(words, want);
        assert_eq!(env, spec.env);
    }
}
