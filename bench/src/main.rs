//! `airelays-bench`: measures what airelays adds on top of the upstream, side by side with
//! the mock upstream reached directly (the physical limit) and with AIRelays 0.22.
//!
//! Everything runs on 127.0.0.1: the mock (`airelays-mock`) as its own process, the
//! release relay, and AIRelays 0.22 from a virtualenv. Every loop is bounded in count and
//! time. Prints a markdown report and writes it, with the raw figures as JSON, to
//! `bench/out/`. See `docs/benchmarks.md`.

mod client;
mod payload;
mod procs;
mod report;
mod run;
mod stats;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use procs::{Launcher, Proc, Scratch};
use run::{Measure, Target, interleaved};

const USAGE: &str = "usage: airelays-bench [--quick] [--no-python] [--relay PATH] [--mock PATH]
                      [--python PATH] [--out DIR] [--only latency|throughput|large]

  --quick        a smoke run: fewer rounds and requests (figures are rough)
  --no-python    skip AIRelays 0.22
  --relay PATH   the airelays binary (default: next to this one)
  --mock PATH    the airelays-mock binary (default: next to this one)
  --python PATH  AIRelays 0.22's `airelays` script (default: bench/.venv/bin/airelays)
  --out DIR      where to write the report (default: bench/out)
  --only NAME    run one workload only (for profiling): latency, throughput or large";

pub struct Args {
    pub quick: bool,
    pub python: Option<PathBuf>,
    pub relay: PathBuf,
    pub mock: PathBuf,
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
        mock: here.join("airelays-mock"),
        out: PathBuf::from("bench/out"),
        only: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = || it.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--quick" => args.quick = true,
            "--no-python" => args.python = None,
            "--relay" => args.relay = value()?.into(),
            "--mock" => args.mock = value()?.into(),
            "--python" => args.python = Some(value()?.into()),
            "--out" => args.out = value()?.into(),
            "--only" => {
                let v = value()?;
                if !["latency", "throughput", "large"].contains(&v.as_str()) {
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
            }
        } else {
            // (concurrency, rounds, requests per worker per round)
            Plan {
                latency: vec![(1, 40, 50), (16, 30, 8), (64, 15, 4)],
                throughput_rounds: 6,
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
    let code = match bench(args).await {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("airelays-bench: {e}");
            1
        }
    };
    std::process::exit(code);
}

fn phase(name: &str) {
    eprintln!("== {name}");
}

async fn bench(args: Args) -> Result<(), String> {
    let plan = Plan::new(args.quick);
    let wants = |name: &str| args.only.as_deref().is_none_or(|o| o == name);
    let scratch = Scratch::new();
    let run_started = Instant::now();
    for bin in [&args.relay, &args.mock] {
        if !bin.exists() {
            return Err(format!(
                "{} is missing; build with `cargo build --release --workspace` or run scripts/bench",
                bin.display()
            ));
        }
    }
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

    phase("starting the mock, airelays and AIRelays 0.22");
    let mock = procs::start_mock(&args.mock).await?;
    let relay_launcher = procs::prepare_relay(&args.relay, &scratch.0.join("relay"), &mock).await?;
    let (relay, _) = relay_launcher.start().await?;
    let py_launcher = match &python {
        Some(p) => Some(procs::prepare_python(p, &scratch.0.join("python"), &mock).await?),
        None => None,
    };
    let py = match &py_launcher {
        Some(l) => Some(l.start().await?),
        None => None,
    };
    let mut results = json!({});
    // RSS right after start: both servers answered /healthz and nothing else.
    tokio::time::sleep(Duration::from_millis(300)).await;
    results["memory"]["idle_start_kib"] = json!({
        "airelays": relay.memory_kib().0,
        "python": py.as_ref().map(|(p, _)| p.memory_kib().0),
    });

    let mut targets = vec![
        Target::new("direct", mock.proc.addr, mock.proc.pid, true)
            .with_header("authorization", &format!("Bearer {}", mock.access_token))
            .with_header("chatgpt-account-id", &mock.account_id),
        Target::new("airelays", relay.addr, relay.pid, false)
            .with_header("authorization", &format!("Bearer {}", relay_launcher.token)),
    ];
    if let (Some((p, _)), Some(l)) = (&py, &py_launcher) {
        targets.push(
            Target::new("AIRelays 0.22", p.addr, p.pid, false)
                .with_header("authorization", &format!("Bearer {}", l.token)),
        );
    }

    // 1. Added latency.
    let pong = payload::responses("Say pong.");
    run::check(&mut targets, &pong, "pong").await?;
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
    for t in targets.iter_mut() {
        t.trim_pool(16);
    }

    // 2. Streaming throughput, 1 MB answers.
    let long = format!("LONG:{}", 1_000_000);
    let mut throughput = Vec::new();
    for (route, work) in [
        ("/v1/responses", payload::responses(&long)),
        ("/v1/chat/completions", payload::chat_stream(&long)),
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
        let n = if t.label == "airelays" {
            plan.soak
        } else {
            plan.python_soak
        };
        phase(&format!("{n} requests: {}", t.label));
        soaks.push((t.label, soak(t, &pong, plan.soak_warm, n).await?));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    results["memory"]["idle_after_kib"] = json!({
        "airelays": relay.memory_kib().0,
        "python": py.as_ref().map(|(p, _)| p.memory_kib().0),
    });

    // 5. Start-up and status.
    phase("status --json");
    let (status_runs, py_status_runs) = if full {
        (plan.status_runs, plan.python_starts.max(3))
    } else {
        (0, 0)
    };
    let status_relay = time_runs(&relay_launcher, &["status", "--json"], status_runs).await?;
    let status_py = match &py_launcher {
        Some(l) => Some(time_runs(l, &["status", "--json"], py_status_runs).await?),
        None => None,
    };
    drop(targets);
    relay.stop(Duration::from_secs(10)).await;
    if let Some((p, _)) = py {
        p.stop(Duration::from_secs(10)).await;
    }
    phase("start-up: serve → first /healthz");
    let start_relay = time_starts(&relay_launcher, if full { plan.starts } else { 0 }).await?;
    let start_py = match &py_launcher {
        Some(l) if full => Some(time_starts(l, plan.python_starts).await?),
        _ => None,
    };
    let binary_bytes = std::fs::metadata(&args.relay).map(|m| m.len()).unwrap_or(0);
    mock.proc.stop(Duration::from_secs(5)).await;

    let report = report::Report {
        quick: args.quick,
        full,
        python: python.is_some(),
        latency,
        throughput,
        large: large_m,
        large_bytes: large.client_body.len(),
        streams,
        soaks,
        status_relay,
        status_py,
        start_relay,
        start_py,
        binary_bytes,
        results,
        duration: run_started.elapsed(),
    };
    let (markdown, json) = report.render();
    println!("{markdown}");
    write_out(&args.out, &markdown, &json)?;
    drop(scratch);
    Ok(())
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

async fn time_runs(l: &Launcher, args: &[&str], n: usize) -> Result<stats::Samples, String> {
    let mut s = stats::Samples::default();
    for _ in 0..n {
        let (took, _) = l.run(args).await?;
        s.push(took);
    }
    Ok(s)
}

async fn time_starts(l: &Launcher, n: usize) -> Result<stats::Samples, String> {
    let mut s = stats::Samples::default();
    for _ in 0..n {
        let (p, took): (Proc, Duration) = l.start().await?;
        s.push(took);
        p.stop(Duration::from_secs(10)).await;
    }
    Ok(s)
}
