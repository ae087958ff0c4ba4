//! The figures issue 20 asks for beside the main ones: airelays with several
//! accounts signed in (start-up, idle RSS, added latency against one account in
//! the same interleaved rounds) and with its tokenizer loaded (idle RSS before
//! and after the first `/v1/messages/count_tokens`). Each set-up gets a fresh
//! home and data dir, so the state store is empty.

use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use serde_json::{Value, json};

use crate::client::{Call, Conn};
use crate::procs::{Launcher, Mock, prepare_relay};
use crate::run::{Measure, Target, interleaved};
use crate::stats::Samples;

/// Accounts signed in for the several-accounts set-up.
pub const ACCOUNTS: [&str; 3] = ["default", "second", "third"];

/// What the set-ups measured.
pub struct Setups {
    /// `serve` → first `/healthz`: one account, then [`ACCOUNTS`].
    pub start: [Samples; 2],
    /// RSS right after start, KiB: one account, then [`ACCOUNTS`].
    pub idle_kib: [u64; 2],
    /// Per concurrency: one account, then [`ACCOUNTS`].
    pub latency: Vec<(usize, Measure, Measure)>,
    /// RSS of the one-account relay, idle, before and after its tokenizer loaded (KiB).
    pub tokenizer_kib: (u64, u64),
    /// The slow streams on the one-account relay just started: how many, and RSS
    /// before and at the peak (KiB).
    pub streams: (usize, u64, u64),
}

/// Measures the set-ups with `binary` in homes under `scratch`: `starts` starts each,
/// then `(concurrency, rounds, per worker)` of the pong request, interleaved.
pub async fn measure(
    binary: &Path,
    scratch: &Path,
    mock: &Mock,
    starts: usize,
    plan: &[(usize, usize, usize)],
    (streams, stall_secs): (usize, u64),
) -> Result<Setups, String> {
    let one = prepare_relay("airelays", binary, &scratch.join("setup-one"), mock).await?;
    let many = prepare_relay("airelays", binary, &scratch.join("setup-many"), mock).await?;
    for name in &ACCOUNTS[1..] {
        many.run(&["login", "--device", "--account", name]).await?;
    }
    let mut start = [Samples::default(), Samples::default()];
    for _ in 0..starts {
        for (i, l) in [&one, &many].into_iter().enumerate() {
            let (p, took) = l.start().await?;
            p.stop(Duration::from_secs(10)).await;
            start[i].push(took);
        }
    }
    let (p_one, _) = one.start().await?;
    let (p_many, _) = many.start().await?;
    // As for the main figure: the servers answered /healthz and nothing else.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let idle_kib = [p_one.memory_kib().0, p_many.memory_kib().0];
    let accounts = signed_in(&many, p_many.addr).await?;
    if accounts != ACCOUNTS.len() {
        return Err(format!(
            "the several-accounts relay lists {accounts} accounts, not {}",
            ACCOUNTS.len()
        ));
    }
    let target = |l: &Launcher, addr, pid, label| {
        Target::new(label, addr, pid, false)
            .with_header("authorization", &format!("Bearer {}", l.token))
    };
    let mut targets = vec![
        target(&one, p_one.addr, p_one.pid, "one account"),
        target(&many, p_many.addr, p_many.pid, "three accounts"),
    ];
    let pong = crate::payload::responses("Say pong.");
    crate::run::check(&mut targets, &pong, "pong").await?;
    // The slow streams first, on a relay that has answered one request: what they
    // cost alone, without the heap the other workloads leave behind.
    let slow = crate::payload::responses(&format!("Say pong. FAULT:stall:{stall_secs}"));
    let s = crate::slow_streams(&mut targets[0], &slow, streams).await?;
    targets[0].trim_pool(16);
    let streams = (streams, s.before_kib, s.peak_kib);
    interleaved(&mut targets, &pong, 4, 25, 2, Duration::from_secs(60)).await?;
    let mut latency = Vec::new();
    for &(c, rounds, per) in plan {
        let mut m = interleaved(
            &mut targets,
            &pong,
            c,
            per,
            rounds,
            Duration::from_secs(120),
        )
        .await?
        .into_iter();
        let (a, b) = (m.next().unwrap_or_default(), m.next().unwrap_or_default());
        if a.errors + b.errors > 0 {
            return Err(format!(
                "set-ups: errors {:?} {:?}",
                a.first_error, b.first_error
            ));
        }
        latency.push((c, a, b));
    }
    drop(targets);
    p_many.stop(Duration::from_secs(10)).await;
    let tokenizer_kib = tokenizer(&one, &p_one).await?;
    p_one.stop(Duration::from_secs(10)).await;
    Ok(Setups {
        start,
        idle_kib,
        latency,
        tokenizer_kib,
        streams,
    })
}

/// How many accounts `/v1/relay/status` lists.
async fn signed_in(l: &Launcher, addr: std::net::SocketAddr) -> Result<usize, String> {
    let status = get_json(l, addr, "/v1/relay/status").await?;
    Ok(status["accounts"].as_array().map_or(1, Vec::len))
}

async fn get_json(l: &Launcher, addr: std::net::SocketAddr, path: &str) -> Result<Value, String> {
    let mut call = Call::get(path);
    authorize(&mut call, l)?;
    let mut conn = Conn::open(addr).await?;
    let (_, body) = conn.exchange(&call, true).await?;
    serde_json::from_slice(&body).map_err(|e| format!("{path}: {e}"))
}

fn authorize(call: &mut Call, l: &Launcher) -> Result<(), String> {
    call.headers.push((
        hyper::header::AUTHORIZATION,
        hyper::header::HeaderValue::from_str(&format!("Bearer {}", l.token))
            .map_err(|e| e.to_string())?,
    ));
    Ok(())
}

/// RSS before and after the first token count, which loads the tokenizer.
async fn tokenizer(l: &Launcher, p: &crate::procs::Proc) -> Result<(u64, u64), String> {
    let before = p.memory_kib().0;
    let body = json!({
        "model": crate::payload::MODEL,
        "messages": [{"role": "user", "content": "How many tokens is this?"}],
    });
    let mut call = Call::post_json("/v1/messages/count_tokens", Bytes::from(body.to_string()));
    authorize(&mut call, l)?;
    let mut conn = Conn::open(p.addr).await?;
    let (_, answer) = conn.exchange(&call, true).await?;
    let counted: Value =
        serde_json::from_slice(&answer).map_err(|e| format!("count_tokens: {e}"))?;
    if counted["input_tokens"].as_u64().is_none_or(|n| n == 0) {
        return Err(format!("count_tokens answered {counted}"));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    Ok((before, p.memory_kib().0))
}

/// The markdown section and the JSON of the set-ups.
pub fn render(s: &Setups) -> (String, Value) {
    let mib = |k: u64| k as f64 / 1024.0;
    let mut md = format!(
        "\n#### Other set-ups (issue 20): {} accounts, a loaded tokenizer (fresh data dirs, empty state store)\n\n| | one account | {} accounts |\n|---|---|---|\n",
        ACCOUNTS.len(),
        ACCOUNTS.len()
    );
    md.push_str(&format!(
        "| start to first `/healthz`, median (ms) | {:.3} | {:.3} |\n",
        s.start[0].p50(),
        s.start[1].p50()
    ));
    md.push_str(&format!(
        "| idle RSS just started (MiB) | {:.1} | {:.1} |\n",
        mib(s.idle_kib[0]),
        mib(s.idle_kib[1])
    ));
    let mut rows = Vec::new();
    for (c, a, b) in &s.latency {
        let (pa, pb) = (a.total.p50(), b.total.p50());
        md.push_str(&format!(
            "| p50 of a streamed `/v1/responses` at concurrency {c} (ms) | {pa:.3} | {pb:.3} ({:+.3}) |\n",
            pb - pa
        ));
        md.push_str(&format!(
            "| relay CPU per request at concurrency {c} (µs) | {:.0} | {:.0} |\n",
            a.cpu_per_request_ms() * 1e3,
            b.cpu_per_request_ms() * 1e3
        ));
        rows.push(
            json!({"concurrency": c, "one_p50_ms": pa, "many_p50_ms": pb,
            "one_cpu_us": a.cpu_per_request_ms() * 1e3, "many_cpu_us": b.cpu_per_request_ms() * 1e3}),
        );
    }
    let (n, before, peak) = s.streams;
    md.push_str(&format!(
        "\n{n} concurrent slow streams on the one-account relay just started (before any other workload): RSS {:.1} MiB before, {:.1} MiB at the peak.\n",
        mib(before),
        mib(peak)
    ));
    let streams = json!({"streams": n, "before_kib": before, "peak_kib": peak});
    let (before, after) = s.tokenizer_kib;
    md.push_str(&format!(
        "\nTokenizer: idle RSS of the one-account relay {:.1} MiB before its first `count_tokens`, {:.1} MiB after (+{:.1} MiB).\n",
        mib(before),
        mib(after),
        mib(after.saturating_sub(before))
    ));
    let json = json!({
        "accounts": ACCOUNTS.len(),
        "start_ms": [s.start[0].p50(), s.start[1].p50()],
        "idle_kib": s.idle_kib,
        "latency": rows,
        "tokenizer_kib": [before, after],
        "fresh_streams": streams,
    });
    (md, json)
}
