//! Human output: short, aligned, coloured only on a terminal and never when
//! `NO_COLOR` is set.

use std::io::IsTerminal;

#[derive(Debug, Clone, Copy)]
pub(crate) struct Style {
    color: bool,
}

impl Style {
    fn detect(is_tty: bool) -> Style {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Style {
            color: is_tty && !no_color,
        }
    }

    /// Colours for stdout: on when it is a terminal and `NO_COLOR` is unset.
    pub(crate) fn stdout() -> Style {
        Style::detect(std::io::stdout().is_terminal())
    }
    /// Colours for stderr: on when it is a terminal and `NO_COLOR` is unset.
    pub(crate) fn stderr() -> Style {
        Style::detect(std::io::stderr().is_terminal())
    }
    /// Whether colours are on.
    pub(crate) fn enabled(&self) -> bool {
        self.color
    }
    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
    /// `t` in bold.
    pub(crate) fn bold(&self, t: &str) -> String {
        self.paint("1", t)
    }
    /// `t` in red.
    pub(crate) fn red(&self, t: &str) -> String {
        self.paint("31", t)
    }
    /// `t` in green.
    pub(crate) fn green(&self, t: &str) -> String {
        self.paint("32", t)
    }
    /// `t` in yellow.
    pub(crate) fn yellow(&self, t: &str) -> String {
        self.paint("33", t)
    }
    /// `t` dimmed.
    pub(crate) fn dim(&self, t: &str) -> String {
        self.paint("2", t)
    }
}

/// A block of aligned `label: value` lines under a heading.
pub(crate) struct Section {
    title: String,
    rows: Vec<(String, String)>,
}

impl Section {
    /// An empty section titled `title`.
    pub(crate) fn new(title: &str) -> Section {
        Section {
            title: title.to_string(),
            rows: Vec::new(),
        }
    }
    /// Adds a `label: value` row.
    pub(crate) fn row(mut self, label: &str, value: impl Into<String>) -> Section {
        self.rows.push((label.to_string(), value.into()));
        self
    }
    /// The title and rows, labels aligned.
    pub(crate) fn render(&self, style: &Style) -> String {
        let width = self.rows.iter().map(|(l, _)| l.len()).max().unwrap_or(0);
        let mut out = format!("{}\n", style.bold(&self.title));
        for (label, value) in &self.rows {
            out.push_str(&format!("  {label:<width$}  {value}\n"));
        }
        out
    }
}

/// `yes` in green or `no` in yellow.
pub(crate) fn yes_no(style: &Style, v: bool) -> String {
    if v {
        style.green("yes")
    } else {
        style.yellow("no")
    }
}
