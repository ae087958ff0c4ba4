//! `airelays-bench`: measures what airelays adds on top of the upstream, side by side with
//! the mock upstream reached directly (the physical limit), nginx in front of the mock (one
//! plain proxy hop), optionally an older airelays build (`--baseline`), and AIRelays 0.22;
//! then cross-checks the latency figures with `wrk`.
//!
//! Everything runs on 127.0.0.1: the mock (`airelays-mock`) as its own process, nginx
//! (Debian's, with a generated config), the release relay (and the baseline), and AIRelays
//! 0.22 from a virtualenv. Every loop is bounded in count and time; every server is stopped
//! on every way out, Ctrl-C included. Prints a markdown report and writes it, with the raw
//! figures as JSON, to `bench/out/`. See `docs/benchmarks.md`.
//!
//! Modules: `procs` (the servers' processes, /proc figures), `nginx` (its config and
//! process), `client` (one keep-alive connection), `run` (targets, interleaved rounds),
//! `payload` (request bodies), `stats` (percentiles), `report` (tables and JSON), `versus`
//! (the nginx comparison tables and targets), `wrk` (the cross-check), `stored` (issue 16).

mod client;
mod nginx;
mod payload;
mod procs;
mod report;
mod run;
mod setups;
mod stats;
mod stored;
mod versus;
mod wrk;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::Value;

use procs::{Launcher, Proc, Scratch};
use run::{Measure, Target, interleaved};

const USAGE: &str = "usage: airelays-bench [--quick] [--no-python] [--no-wrk] [--relay PATH]
                      [--baseline PATH] [--mock PATH] [--python PATH] [--nginx PATH]
                      [--wrk PATH] [--out DIR] [--only latency|throughput|large|stored|setups|wrk]

  --quick        a smoke run: fewer rounds and requests (figures are rough)
  --no-python    skip AIRelays 0.22
  --no-wrk       skip the wrk cross-check
  --relay PATH   the airelays binary (default: next to this one)
  --baseline PATH  a second airelays binary (an older build), measured in the same
                 interleaved rounds as \"airelays (baseline)\"; scripts/bench --baseline-rev
                 REV builds one from a git revision
  --mock PATH    the airelays-mock binary (default: next to this one)
  --python PATH  AIRelays 0.22's `airelays` script (default: bench/.venv/bin/airelays)
  --nginx PATH   the nginx binary, measured beside the relays in the latency workload and
                 the wrk cross-check (default: nginx on PATH or in /usr/sbin)
  --wrk PATH     the wrk binary (default: wrk on PATH)
  --out DIR      where to write the report (default: bench/out); nginx's config and
                 logs go to DIR/nginx, wrk's scripts and log to DIR/wrk
  --only NAME    run one workload only (for profiling): latency, throughput, large,
                 stored (stored against unstored /v1/responses on airelays), setups
                 (airelays with three accounts and with its tokenizer loaded), or wrk
                 (the wrk cross-check alone)";

pub struct Args {
    pub quick: bool,
    pub python: Option<PathBuf>,
    pub relay: PathBuf,
    /// A second airelays binary to compare against (`--baseline`).
    pub baseline: Option<PathBuf>,
    pub mock: PathBuf,
    /// nginx (`--nginx`); found on the PATH when not given.
    pub nginx: Option<PathBuf>,
    /// wrk (`--wrk`); found on the PATH when not given.
    pub wrk: Option<PathBuf>,
    /// Run the wrk cross-check (not with `--no-wrk`).
    pub cross_check: bool,
    pub out: PathBuf,
    pub only: Option<String>,
}

fn parse_args() -> Result<Args, String> {
    let here = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(PathBuf::from))
        .unwrap_or_default();
    let mut args = Args {
        quick: false,
        python: Some(PathBuf::from("bench/.venv/bin/airelays")),
        relay: here.join("airelays"),
        baseline: None,
        mock: here.join("airelays-mock"),
        nginx: None,
        wrk: None,
        cross_check: true,
        out: PathBuf::from("bench/out"),
        only: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = || it.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--quick" => args.quick = true,
            "--no-python" => args.python = None,
            "--no-wrk" => args.cross_check = false,
            "--nginx" => args.nginx = Some(value()?.into()),
            "--wrk" => args.wrk = Some(value()?.into()),
            "--relay" => args.relay = value()?.into(),
            "--baseline" => args.baseline = Some(value()?.into()),
            "--mock" => args.mock = value()?.into(),
            "--python" => args.python = Some(value()?.into()),
            "--out" => args.out = value()?.into(),
            "--only" => {
                let v = value()?;
                if !["latency", "throughput", "large", "stored", "setups", "wrk"]
                    .contains(&v.as_str())
                {
                    return Err(format!("--only: unknown workload {v:?}"));
                }
                args.only = Some(v);
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(args)
}

/// Counts and bounds of one run.
struct Plan {
    latency: Vec<(usize, usize, usize)>,
    throughput_rounds: usize,
    large_rounds: usize,
    large_per_round: usize,
    streams: usize,
    stall_secs: u64,
    soak_warm: usize,
    soak: usize,
    python_soak: usize,
    starts: usize,
    python_starts: usize,
    status_runs: usize,
    /// Stored against unstored `/v1/responses`: (concurrency, rounds, per worker).
    stored: Vec<(usize, usize, usize)>,
    /// One account against three: (concurrency, rounds, per worker).
    setups: Vec<(usize, usize, usize)>,
    wrk: wrk::Plan,
}

impl Plan {
    fn new(quick: bool) -> Plan {
        if quick {
            Plan {
                latency: vec![(1, 10, 20), (16, 6, 4), (64, 3, 2)],
                throughput_rounds: 2,
                large_rounds: 2,
                large_per_round: 3,
                streams: 256,
                stall_secs: 2,
                soak_warm: 500,
                soak: 2_000,
                python_soak: 1_000,
                starts: 3,
                python_starts: 1,
                status_runs: 5,
                stored: vec![(1, 6, 20), (16, 4, 4)],
                setups: vec![(1, 4, 10), (16, 4, 4)],
                wrk: wrk::Plan {
                    concurrency: vec![1, 16, 64],
                    rounds: 1,
                    seconds: 1,
                },
            }
        } else {
            // (concurrency, rounds, requests per worker per round)
            Plan {
                latency: vec![(1, 40, 50), (16, 30, 8), (64, 15, 4)],
                throughput_rounds: 20,
                large_rounds: 8,
                large_per_round: 5,
                streams: 256,
                stall_secs: 3,
                soak_warm: 1_000,
                soak: 10_000,
                python_soak: 10_000,
                starts: 10,
                python_starts: 3,
                status_runs: 15,
                stored: vec![(1, 30, 50), (16, 40, 8)],
                setups: vec![(1, 20, 50), (16, 20, 8)],
                // 3 targets (4 with a baseline, which gets the same load as airelays) × 3
                // concurrencies × 3 rounds × 3 s: about 85 s (110 s).
                wrk: wrk::Plan {
                    concurrency: vec![1, 16, 64],
                    rounds: 3,
                    seconds: 3,
                },
            }
        }
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("airelays-bench: {e}\n\n{USAGE}");
            std::process::exit(2);
        }
    };
    // On a signal the bench's future is dropped, and with it every server it started
    // (each handle stops its process when dropped): nothing is left running.
    let code = tokio::select! {
        result = bench(args) => match result {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("airelays-bench: {e}");
                1
            }
        },
        signal = interrupted() => {
            eprintln!("airelays-bench: {signal}; the servers are stopped");
            130
        }
    };
    std::process::exit(code);
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM; never when the handlers cannot be installed.
async fn interrupted() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = int.recv() => "interrupted",
        _ = term.recv() => "terminated",
    }
}

fn phase(name: &str) {
    eprintln!("== {name}");
}

/// One relay under test (airelays, the baseline build, AIRelays 0.22) and how to restart it.
pub struct Relay {
    /// Its column in the report.
    pub label: &'static str,
    /// Its key in the JSON report.
    pub key: &'static str,
    launcher: Launcher,
    binary: Option<PathBuf>,
    proc: Option<Proc>,
}

/// Per relay, what is measured outside the interleaved workloads.
pub struct RelayFigures {
    pub label: &'static str,
    pub key: &'static str,
    pub idle_start_kib: u64,
    pub idle_after_kib: u64,
    pub status: stats::Samples,
    /// `serve` → first `/healthz` with an empty state store (a fresh data dir).
    pub start: stats::Samples,
    /// The same with the state store the workloads left.
    pub start_full: stats::Samples,
    /// Size of its release binary (none for AIRelays 0.22).
    pub binary_bytes: Option<u64>,
}

/// The label of the baseline build's column.
pub const BASELINE: &str = "airelays (baseline)";
/// The label of AIRelays 0.22's column.
pub const PYTHON: &str = "AIRelays 0.22";

async fn start_relays(
    args: &Args,
    scratch: &Scratch,
    mock: &procs::Mock,
) -> Result<Vec<Relay>, String> {
    let python = match &args.python {
        Some(p) if p.exists() => Some(p.clone()),
        Some(p) => {
            eprintln!(
                "AIRelays 0.22 not found at {} (scripts/bench installs it); measuring without it",
                p.display()
            );
            None
        }
        None => None,
    };
    let mut relays = Vec::new();
    let ours = [
        ("airelays", "airelays", Some(&args.relay)),
        (BASELINE, "baseline", args.baseline.as_ref()),
    ];
    for (label, key, binary) in ours {
        let Some(binary) = binary else { continue };
        let launcher = procs::prepare_relay(label, binary, &scratch.0.join(key), mock).await?;
        relays.push(Relay {
            label,
            key,
            launcher,
            binary: Some(binary.clone()),
            proc: None,
        });
    }
    if let Some(p) = &python {
        let launcher = procs::prepare_python(p, &scratch.0.join("python"), mock).await?;
        relays.push(Relay {
            label: PYTHON,
            key: "python",
            launcher,
            binary: None,
            proc: None,
        });
    }
    for r in relays.iter_mut() {
        r.proc = Some(r.launcher.start().await?.0);
    }
    Ok(relays)
}

fn rss(relay: &Relay) -> u64 {
    relay.proc.as_ref().map(|p| p.memory_kib().0).unwrap_or(0)
}

async fn bench(args: Args) -> Result<(), String> {
    let plan = Plan::new(args.quick);
    let wants = |name: &str| args.only.as_deref().is_none_or(|o| o == name);
    let scratch = Scratch::new();
    let run_started = Instant::now();
    for bin in [Some(&args.relay), Some(&args.mock), args.baseline.as_ref()]
        .into_iter()
        .flatten()
    {
        if !bin.exists() {
            return Err(format!(
                "{} is missing; build with `cargo build --release --workspace` or run scripts/bench",
                bin.display()
            ));
        }
    }

    let cross_check = args.cross_check && wants("wrk");
    // Both looked up before anything starts, so a missing one fails the run at once.
    let wrk_program = cross_check
        .then(|| {
            procs::program(
                args.wrk.as_ref(),
                "wrk",
                "Debian: apt-get install wrk; scripts/bench installs it; or pass --no-wrk",
            )
        })
        .transpose()?;
    let nginx_program = (wants("latency") || cross_check)
        .then(|| {
            procs::program(
                args.nginx.as_ref(),
                "nginx",
                "Debian: apt-get install nginx-light; scripts/bench installs it",
            )
        })
        .transpose()?;
    phase("starting the mock and the relays");
    let mock = procs::start_mock(&args.mock).await?;
    let mut relays = start_relays(&args, &scratch, &mock).await?;
    // RSS right after start: the servers answered /healthz and nothing else.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let idle_start: Vec<u64> = relays.iter().map(rss).collect();
    let nginx = match &nginx_program {
        Some(program) => {
            phase("starting nginx in front of the mock");
            Some(nginx::start(program, &args.out.join("nginx"), mock.proc.addr).await?)
        }
        None => None,
    };

    let mut targets = vec![upstream_target(
        versus::DIRECT,
        mock.proc.addr,
        mock.proc.pid,
        &mock,
    )];
    for r in &relays {
        let proc = r.proc.as_ref().ok_or("relay not started")?;
        let mut t = Target::new(r.label, proc.addr, proc.pid, false)
            .with_header("authorization", &format!("Bearer {}", r.launcher.token));
        if r.label != "airelays" {
            t = t.with_optional_routes();
        }
        targets.push(t);
    }

    // 1. Added latency, nginx beside the relays (it leaves after the wrk cross-check).
    let pong = payload::responses("Say pong.");
    if let Some(n) = &nginx {
        targets.push(upstream_target(nginx::LABEL, n.addr, n.pid, &mock).with_children_cpu());
    }
    run::check(&mut targets, &pong, "pong").await?;
    if let (Some(n), Some(t)) = (&nginx, targets.last()) {
        let bytes = nginx::check_stream(&targets[0], t, &pong).await?;
        eprintln!(
            "  nginx ({} workers) passes the mock's stream on whole: {bytes} bytes, the same events",
            n.workers().len()
        );
    }
    phase("warm-up");
    interleaved(&mut targets, &pong, 4, 25, 2, Duration::from_secs(60)).await?;
    let mut latency = Vec::new();
    for &(c, rounds, per) in plan.latency.iter().filter(|_| wants("latency")) {
        phase(&format!("added latency, concurrency {c}"));
        let m = interleaved(
            &mut targets,
            &pong,
            c,
            per,
            rounds,
            Duration::from_secs(240),
        )
        .await?;
        latency.push((c, m));
    }
    let mut wrk_rows = Vec::new();
    if let Some(program) = &wrk_program {
        let endpoints: Vec<wrk::Endpoint> =
            [versus::DIRECT, nginx::LABEL, versus::AIRELAYS, BASELINE]
                .iter()
                .filter_map(|l| targets.iter().find(|t| t.label == *l))
                .map(|t| wrk::Endpoint::of(t, &pong))
                .collect();
        wrk_rows = wrk::cross_check(program, &args.out.join("wrk"), &endpoints, &plan.wrk).await?;
    }
    // Stopped now: the other workloads do not use it.
    let nginx_latency = take_out(&mut targets, &mut latency, nginx::LABEL);
    drop(nginx);
    for t in targets.iter_mut() {
        t.trim_pool(16);
    }
    let mut stored_results = None;
    if wants("stored") {
        let ours = targets
            .iter()
            .find(|t| t.label == "airelays")
            .ok_or("no airelays target")?;
        let token = &relays[0].launcher.token;
        stored_results = Some(stored::compare(ours.addr, ours.pid, token, &plan.stored).await?);
    }

    // 2. Streaming throughput, 1 MB answers.
    let long = format!("LONG:{}", 1_000_000);
    let mut throughput = Vec::new();
    for (route, work) in [
        ("/v1/responses", payload::responses(&long)),
        ("/v1/chat/completions", payload::chat_stream(&long)),
        ("/v1/completions", payload::completions_stream(&long)),
        ("/v1/messages", payload::messages_stream(&long)),
        ("/api/chat", payload::ollama_stream(&long)),
    ]
    .into_iter()
    .filter(|_| wants("throughput"))
    {
        phase(&format!("streaming throughput, {route}"));
        run::check(&mut targets, &work, "The quick brown fox").await?;
        let m = interleaved(
            &mut targets,
            &work,
            1,
            1,
            plan.throughput_rounds,
            Duration::from_secs(240),
        )
        .await?;
        throughput.push((route, m));
    }

    // 3. Large requests.
    let large = payload::large_chat(2_000_000);
    let mut large_m = Vec::new();
    if wants("large") {
        phase("large requests: 2 MB chat history, 24 tools, non-streaming");
        run::check(&mut targets, &large, "pong").await?;
        large_m = interleaved(
            &mut targets,
            &large,
            1,
            plan.large_per_round,
            plan.large_rounds,
            Duration::from_secs(300),
        )
        .await?;
    }
    let full = args.only.is_none();

    // 4. Memory under 256 concurrent slow streams, then over a soak.
    let mut streams = Vec::new();
    let slow = payload::responses(&format!("Say pong. FAULT:stall:{}", plan.stall_secs));
    for t in targets.iter_mut().filter(|t| !t.direct) {
        phase(&format!(
            "{} concurrent slow streams: {}",
            plan.streams, t.label
        ));
        streams.push((t.label, slow_streams(t, &slow, plan.streams).await?));
        t.trim_pool(16);
    }
    let mut soaks = Vec::new();
    for t in targets.iter_mut().filter(|t| full && !t.direct) {
        let n = if t.label == PYTHON {
            plan.python_soak
        } else {
            plan.soak
        };
        phase(&format!("{n} requests: {}", t.label));
        soaks.push((t.label, soak(t, &pong, plan.soak_warm, n).await?));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle_after: Vec<u64> = relays.iter().map(rss).collect();

    // 5. Start-up and status, the relays taking turns.
    phase("status --json");
    let counts = |r: &Relay, n: usize, py: usize| match (full, r.label == PYTHON) {
        (false, _) => 0,
        (true, true) => py,
        (true, false) => n,
    };
    let status_counts: Vec<usize> = relays
        .iter()
        .map(|r| counts(r, plan.status_runs, plan.python_starts.max(3)))
        .collect();
    let status = turns(&relays, &status_counts, Turn::Status).await?;
    drop(targets);
    for r in relays.iter_mut() {
        if let Some(p) = r.proc.take() {
            p.stop(Duration::from_secs(10)).await;
        }
    }
    phase("start-up: serve → first /healthz, state store as the workloads left it");
    let start_counts: Vec<usize> = relays
        .iter()
        .map(|r| counts(r, plan.starts, plan.python_starts))
        .collect();
    let start_full = turns(&relays, &start_counts, Turn::Start).await?;
    phase("start-up: serve → first /healthz, fresh data dir (empty state store)");
    let fresh = fresh_launchers(&relays, &scratch.0, &mock).await?;
    let start = turns(&fresh, &start_counts, Turn::Start).await?;
    let mut setups_result = None;
    if full || wants("setups") {
        phase("other set-ups: three accounts, a loaded tokenizer");
        setups_result = Some(
            setups::measure(
                &args.relay,
                &scratch.0,
                &mock,
                plan.starts,
                &plan.setups,
                (plan.streams, plan.stall_secs),
            )
            .await?,
        );
    }
    mock.proc.stop(Duration::from_secs(5)).await;

    let figures = relays
        .iter()
        .zip(idle_start.iter().zip(idle_after.iter()))
        .zip(status.into_iter().zip(start.into_iter().zip(start_full)))
        .map(
            |((r, (&idle_start_kib, &idle_after_kib)), (status, (start, start_full)))| {
                RelayFigures {
                    label: r.label,
                    key: r.key,
                    idle_start_kib,
                    idle_after_kib,
                    status,
                    start,
                    start_full,
                    binary_bytes: r
                        .binary
                        .as_ref()
                        .and_then(|b| std::fs::metadata(b).ok())
                        .map(|m| m.len()),
                }
            },
        )
        .collect();
    let report = report::Report {
        quick: args.quick,
        full,
        relays: figures,
        latency,
        nginx: nginx_latency,
        wrk: wrk_rows,
        throughput,
        large: large_m,
        large_bytes: large.client_body.len(),
        streams,
        soaks,
        duration: run_started.elapsed(),
    };
    let (mut markdown, mut json) = report.render();
    if let Some(stored_results) = &stored_results {
        let (md, rows) = stored::render(stored_results);
        markdown.push_str(&md);
        json["stored_vs_unstored"] = rows;
    }
    if let Some(setups_result) = &setups_result {
        let (md, rows) = setups::render(setups_result);
        markdown.push_str(&md);
        json["setups"] = rows;
    }
    println!("{markdown}");
    write_out(&args.out, &markdown, &json)?;
    drop(scratch);
    Ok(())
}

/// Takes the target labelled `label` out of `targets`, and its measure out of every latency
/// row; empty when there is no such target.
fn take_out(
    targets: &mut Vec<Target>,
    latency: &mut [(usize, Vec<Measure>)],
    label: &str,
) -> Vec<Measure> {
    let Some(i) = targets.iter().position(|t| t.label == label) else {
        return Vec::new();
    };
    targets.remove(i);
    latency.iter_mut().map(|(_, ms)| ms.remove(i)).collect()
}

/// A target that talks the upstream protocol with the mock's credentials: the mock itself,
/// or nginx in front of it.
fn upstream_target(
    label: &'static str,
    addr: std::net::SocketAddr,
    pid: u32,
    mock: &procs::Mock,
) -> Target {
    Target::new(label, addr, pid, true)
        .with_header("authorization", &format!("Bearer {}", mock.access_token))
        .with_header("chatgpt-account-id", &mock.account_id)
}

/// The relays again, each with a fresh home and data dir (nothing stored yet).
async fn fresh_launchers(
    relays: &[Relay],
    scratch: &std::path::Path,
    mock: &procs::Mock,
) -> Result<Vec<Relay>, String> {
    let mut fresh = Vec::new();
    for r in relays {
        let launcher = match &r.binary {
            Some(b) => {
                procs::prepare_relay(r.label, b, &scratch.join(format!("{}-fresh", r.key)), mock)
                    .await?
            }
            None => r.launcher.clone(),
        };
        fresh.push(Relay {
            label: r.label,
            key: r.key,
            launcher,
            binary: r.binary.clone(),
            proc: None,
        });
    }
    Ok(fresh)
}

/// What [`turns`] times.
#[derive(Clone, Copy)]
enum Turn {
    /// The wall time of `status --json`.
    Status,
    /// From spawning `serve` to its first `/healthz` answer (then stopped).
    Start,
}

/// Times `what` `counts[i]` times for relay `i`, the relays taking turns round by round (so
/// noise lands on all of them alike).
async fn turns(
    relays: &[Relay],
    counts: &[usize],
    what: Turn,
) -> Result<Vec<stats::Samples>, String> {
    let mut out = vec![stats::Samples::default(); relays.len()];
    let rounds = counts.iter().copied().max().unwrap_or(0);
    for round in 0..rounds {
        for (i, r) in relays.iter().enumerate() {
            if round >= counts[i] {
                continue;
            }
            let took = match what {
                Turn::Status => r.launcher.run(&["status", "--json"]).await?.0,
                Turn::Start => {
                    let (p, took): (Proc, Duration) = r.launcher.start().await?;
                    p.stop(Duration::from_secs(10)).await;
                    took
                }
            };
            out[i].push(took);
        }
    }
    Ok(out)
}

fn write_out(dir: &PathBuf, markdown: &str, json: &Value) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let text = serde_json::to_string_pretty(json).unwrap_or_default();
    for (name, body) in [
        (format!("run-{secs}.json"), text.as_str()),
        ("latest.json".to_owned(), text.as_str()),
        ("latest.md".to_owned(), markdown),
    ] {
        std::fs::write(dir.join(&name), body).map_err(|e| format!("{name}: {e}"))?;
    }
    eprintln!("wrote {}/latest.md and latest.json", dir.display());
    Ok(())
}

/// Memory of one relay while `n` streams stall upstream at once.
pub struct StreamsResult {
    pub before_kib: u64,
    pub peak_kib: u64,
    pub after_kib: u64,
    pub measure: Measure,
}

async fn slow_streams(
    target: &mut Target,
    work: &payload::Work,
    n: usize,
) -> Result<StreamsResult, String> {
    let before_kib = procs::memory_kib(target.pid).0;
    let pid = target.pid;
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop = std::sync::Arc::clone(&done);
    let sampler = tokio::spawn(async move {
        let mut peak = 0;
        // Bounded: at most 60 s of samples, every 10 ms, until the streams are over.
        for _ in 0..6000 {
            peak = peak.max(procs::memory_kib(pid).0);
            if stop.load(std::sync::atomic::Ordering::Relaxed) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        peak
    });
    let mut measure = Measure::default();
    let call = target.call(work);
    let result = run::segment(target, &call, n, 1, &mut measure).await;
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let peak_kib = sampler.await.unwrap_or(0);
    result?;
    Ok(StreamsResult {
        before_kib,
        peak_kib,
        after_kib: procs::memory_kib(pid).0,
        measure,
    })
}

/// RSS before and after a long run of small requests at concurrency 16.
pub struct SoakResult {
    pub requests: usize,
    pub warm_kib: u64,
    pub end_kib: u64,
    pub measure: Measure,
}

async fn soak(
    target: &mut Target,
    work: &payload::Work,
    warm: usize,
    n: usize,
) -> Result<SoakResult, String> {
    let call = target.call(work);
    let mut warm_m = Measure::default();
    run::segment(target, &call, 16, warm.div_ceil(16), &mut warm_m).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let warm_kib = procs::memory_kib(target.pid).0;
    let mut measure = Measure::default();
    run::segment(target, &call, 16, n.div_ceil(16), &mut measure).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    Ok(SoakResult {
        requests: measure.total.len() + measure.errors,
        warm_kib,
        end_kib: procs::memory_kib(target.pid).0,
        measure,
    })
}
