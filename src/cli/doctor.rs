//! `airelays doctor`: runs the checks of `crate::doctor` and prints one line per check
//! as it finishes (a spinner while a network check waits, on a colour terminal only),
//! or with `--json` one object (docs/doctor-json.md). Exit status 1 when a check failed.

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use clap::Args;

use super::{CliError, CliResult, Style, print_json};
use crate::config::{Config, Paths};
use crate::doctor::{self, Check, CheckStatus, Options, Progress, Report};

#[derive(Debug, Args)]
pub(crate) struct DoctorArgs {
    /// Print one JSON object (schema: docs/doctor-json.md)
    #[arg(long)]
    pub(crate) json: bool,
    /// Also spend the refresh token and send a streamed probe and a tool call upstream
    #[arg(long)]
    pub(crate) live: bool,
    /// The model of the live probes [default: the listed *-mini model, else the first]
    #[arg(long, value_name = "MODEL", requires = "live")]
    pub(crate) model: Option<String>,
}

/// Runs the checks. The config is loaded here, so that a broken config file is a
/// failed check rather than an error before any check ran.
pub(crate) fn run(
    config_flag: Option<PathBuf>,
    data_dir_flag: Option<PathBuf>,
    args: &DoctorArgs,
) -> CliResult {
    let env: fn(&str) -> Option<String> = crate::config::process_env;
    let paths = Paths::resolve(config_flag.as_deref(), data_dir_flag.as_deref(), &env)?;
    let config = Config::load(&paths, &env);
    let options = Options {
        live: args.live,
        model: args.model.clone(),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| CliError::new(format!("cannot start the async runtime: {e}")))?;
    let style = Style::stdout();
    let mut printer = Printer::new(style, args.json);
    let checks = runtime.block_on(doctor::run_all(&paths, config, env, &options, &mut printer));
    runtime.shutdown_timeout(Duration::from_secs(1));
    let report = Report::of(checks);
    if args.json {
        print_json(&report)?;
    } else {
        outln!("{}", footer(&report, &style));
    }
    if report.ok {
        Ok(())
    } else {
        // The checks said what failed; no extra error line.
        Err(CliError::with_code(String::new(), 1))
    }
}

fn footer(report: &Report, style: &Style) -> String {
    let count = |s: CheckStatus| report.checks.iter().filter(|c| c.status == s).count();
    let (fails, warns) = (count(CheckStatus::Fail), count(CheckStatus::Warn));
    match (fails, warns) {
        (0, 0) => format!("\n{}", style.green("All checks passed.")),
        (0, w) => format!(
            "\n{}",
            style.yellow(&format!("No failures, {w} warning(s)."))
        ),
        (f, w) => format!(
            "\n{}",
            style.red(&format!("{f} check(s) failed, {w} warning(s)."))
        ),
    }
}

/// One line per check: status, id, finding; the next step indented below.
pub(crate) fn render(check: &Check, style: &Style) -> String {
    let status = match check.status {
        CheckStatus::Ok => style.green("ok  "),
        CheckStatus::Warn => style.yellow("warn"),
        CheckStatus::Fail => style.red("FAIL"),
    };
    let mut line = format!("{status}  {:<17}{}", check.id, check.summary);
    if let Some(hint) = &check.hint {
        line.push_str(&format!("\n      {} {hint}", style.dim("→")));
    }
    line
}

/// Prints checks as they finish; spins while a network check waits.
struct Printer {
    style: Style,
    json: bool,
    spinner: Option<(Arc<AtomicBool>, JoinHandle<()>)>,
}

impl Printer {
    fn new(style: Style, json: bool) -> Printer {
        Printer {
            style,
            json,
            spinner: None,
        }
    }

    fn stop_spinner(&mut self) {
        if let Some((stop, handle)) = self.spinner.take() {
            stop.store(true, Ordering::Relaxed);
            let _ = handle.join();
            out!("\r\x1b[2K");
        }
    }
}

impl Progress for Printer {
    fn started(&mut self, title: &str, slow: bool) {
        // A spinner only on a colour terminal: never in a pipe or with NO_COLOR.
        if self.json || !slow || !self.style.enabled() {
            return;
        }
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let title = title.to_string();
        let handle = std::thread::spawn(move || {
            const FRAMES: [char; 4] = ['|', '/', '-', '\\'];
            let mut i = 0;
            while !flag.load(Ordering::Relaxed) {
                out!("\r{} {title}…", FRAMES[i % FRAMES.len()]);
                let _ = std::io::stdout().flush();
                i += 1;
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        self.spinner = Some((stop, handle));
    }

    fn finished(&mut self, check: &Check) {
        self.stop_spinner();
        if !self.json {
            outln!("{}", render(check, &self.style));
            let _ = std::io::stdout().flush();
        }
    }
}

impl Drop for Printer {
    fn drop(&mut self) {
        self.stop_spinner();
    }
}
