//! Runs a service manager's command (`systemctl`, `launchctl`, `schtasks`, …) with a
//! deadline: a manager that hangs (a stuck bus) costs the user seconds, not the
//! command. Output is drained while waiting, so a chatty command never blocks.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long a query of the manager may take (`service status`).
pub(crate) const QUERY_TIMEOUT: Duration = Duration::from_secs(2);

/// How long an action may take (enable, start, stop, bootstrap, register).
pub(crate) const ACTION_TIMEOUT: Duration = Duration::from_secs(20);

/// What a finished command printed.
#[derive(Debug)]
pub(crate) struct Ran {
    /// Whether it exited 0.
    pub(crate) ok: bool,
    /// Its stdout, lossy UTF-8.
    pub(crate) stdout: String,
    /// Its stderr, lossy UTF-8, trimmed.
    pub(crate) stderr: String,
}

impl Ran {
    /// The first line of stderr (or stdout), for a one-line error.
    pub(crate) fn why(&self) -> String {
        let text = if self.stderr.is_empty() {
            self.stdout.trim()
        } else {
            &self.stderr
        };
        text.lines()
            .next()
            .unwrap_or("no output")
            .trim()
            .to_string()
    }
}

/// Runs `program args…` to completion within `timeout`. `Err` says why it did not
/// run or did not finish (not found, timed out), in words.
pub(crate) fn run(program: &str, args: &[&str], timeout: Duration) -> Result<Ran, String> {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => format!("`{program}` is not installed"),
            _ => format!("cannot run `{program}`: {e}"),
        })?;
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut bytes);
            }
            String::from_utf8_lossy(&bytes).into_owned()
        })
    };
    let out = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let err = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "`{program} {}` did not answer within {} s",
                    args.join(" "),
                    timeout.as_secs()
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => return Err(format!("cannot wait for `{program}`: {e}")),
        }
    };
    Ok(Ran {
        ok: status.success(),
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default().trim().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn output_is_read_and_a_hang_is_cut_short() {
        let ran = run(
            "sh",
            &["-c", "echo out; echo err >&2; exit 3"],
            ACTION_TIMEOUT,
        )
        .unwrap();
        assert_eq!((ran.ok, ran.stdout.as_str()), (false, "out\n"));
        assert_eq!(ran.why(), "err");
        let err = run("sleep", &["30"], Duration::from_millis(100)).unwrap_err();
        assert!(err.contains("did not answer"), "{err}");
        let err = run("airelays-no-such-program", &[], QUERY_TIMEOUT).unwrap_err();
        assert!(err.contains("not installed"), "{err}");
    }
}
