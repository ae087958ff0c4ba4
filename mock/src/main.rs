//! `airelays-mock`: the mock upstream as a standalone process, for benchmarks, real-client
//! tests and manual tries. Binds 127.0.0.1 only, prints one JSON line with its URLs, and serves
//! until SIGINT or SIGTERM.

use std::process::ExitCode;
use std::time::Duration;

use airelays_mock::{MockConfig, MockUpstream};
use serde_json::json;

const USAGE: &str = "usage: airelays-mock [--port P] [--access-token-lifetime SECS] [--seed-tokens]

Serves a mock OpenAI issuer and ChatGPT Codex backend on 127.0.0.1.
Prints one JSON line on start: {\"issuer_url\",\"backend_url\",\"port\"[,\"tokens\"]}.

  --port P                     port to bind (default 0: pick a free one)
  --access-token-lifetime SECS lifetime of issued access tokens (default 864000)
  --seed-tokens                also mint credentials and print them under \"tokens\"";

struct Args {
    config: MockConfig,
    seed_tokens: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut config = MockConfig::default();
    let mut seed_tokens = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |flag: &str| args.next().ok_or(format!("{flag} needs a value"));
        match arg.as_str() {
            "--port" => {
                let v = value("--port")?;
                config.port = v
                    .parse()
                    .map_err(|_| format!("--port: {v:?} is not a port number"))?;
            }
            "--access-token-lifetime" => {
                let v = value("--access-token-lifetime")?;
                let secs: u64 = v.parse().map_err(|_| {
                    format!("--access-token-lifetime: {v:?} is not a number of seconds")
                })?;
                config.access_token_lifetime = Duration::from_secs(secs);
            }
            "--seed-tokens" => seed_tokens = true,
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(Args {
        config,
        seed_tokens,
    })
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(problem) => {
            eprintln!("airelays-mock: {problem}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let port = args.config.port;
    let mock = match MockUpstream::start(args.config).await {
        Ok(mock) => mock,
        Err(e) => {
            eprintln!("airelays-mock: cannot bind 127.0.0.1:{port}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut line = json!({
        "issuer_url": mock.issuer_url(),
        "backend_url": mock.backend_url(),
        "port": mock.addr().port(),
    });
    if args.seed_tokens {
        line["tokens"] = json!(mock.state().issue_tokens());
    }
    println!("{line}");
    wait_for_signal().await;
    mock.shutdown().await;
    ExitCode::SUCCESS
}
