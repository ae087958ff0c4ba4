//! Stored against unstored `/v1/responses` (issue 16, `--only stored`): one airelays
//! process answers the same streamed request with `store` unset (the response is handed
//! to the state store's writer before its last event goes out) and with `store: false`,
//! in alternating segments on separate keep-alive connections, so the p50 difference is
//! what keeping a response adds on the request path. After each segment the bench
//! waits until the writer has written every queued response (it writes in the relay's
//! pauses), so a segment's writes are never done during the next one, and their CPU
//! counts for the segment that caused them.

use std::fmt::Write as _;

use bytes::Bytes;
use serde_json::{Value, json};

use crate::payload::Work;
use crate::run::{Measure, Target, segment};

/// The two workloads: `store: false` (as `payload::responses`) and the same without it.
fn works(prompt: &str) -> (Work, Work) {
    let unstored = crate::payload::responses(prompt);
    let mut body: Value = serde_json::from_slice(&unstored.client_body).expect("a JSON body");
    if let Some(o) = body.as_object_mut() {
        o.remove("store");
    }
    let stored = Work {
        client_path: unstored.client_path,
        client_body: Bytes::from(serde_json::to_vec(&body).expect("serialise")),
        upstream_body: unstored.upstream_body.clone(),
    };
    (unstored, stored)
}

/// Per concurrency: (concurrency, unstored, stored), and the relay's state counters
/// afterwards (`live.state` of `/v1/relay/status`: written, dropped, queued).
pub type Results = (Vec<(usize, Measure, Measure)>, Value);

/// Measures airelays at `addr` (process `pid`) with `token`, for each `(concurrency,
/// rounds, requests per worker per round)`.
pub async fn compare(
    addr: std::net::SocketAddr,
    pid: u32,
    token: &str,
    plan: &[(usize, usize, usize)],
) -> Result<Results, String> {
    let (unstored, stored) = works("Say pong.");
    let auth = format!("Bearer {token}");
    // One target, so stored and unstored requests go over the same connections:
    // which of the relay's worker threads a connection lands on would otherwise
    // differ between the two sets, and move a run's figures more than the store.
    let mut conns =
        Target::new("stored and unstored", addr, pid, false).with_header("authorization", &auth);
    let (call_a, call_b) = (conns.call(&unstored), conns.call(&stored));
    let mut out = Vec::new();
    for &(c, rounds, per) in plan {
        crate::phase(&format!(
            "stored against unstored /v1/responses, concurrency {c}"
        ));
        let (mut ma, mut mb) = (Measure::default(), Measure::default());
        // Warm-up, not counted.
        segment(&mut conns, &call_a, c, 4, &mut Measure::default()).await?;
        segment(&mut conns, &call_b, c, 4, &mut Measure::default()).await?;
        for round in 0..rounds {
            let order = if round % 2 == 0 {
                [false, true]
            } else {
                [true, false]
            };
            for stored in order {
                let (call, into) = if stored {
                    (&call_b, &mut mb)
                } else {
                    (&call_a, &mut ma)
                };
                segment(&mut conns, call, c, per, into).await?;
                // The writes of the segment, done in the pause after it, count for it.
                let cpu = crate::procs::cpu_time(pid);
                settle(addr, &auth).await?;
                into.cpu += crate::procs::cpu_time(pid).saturating_sub(cpu);
            }
        }
        if ma.errors + mb.errors > 0 {
            return Err(format!(
                "stored/unstored errors: {:?} {:?}",
                ma.first_error, mb.first_error
            ));
        }
        out.push((c, ma, mb));
    }
    let counters = state_counters(addr, &auth).await?;
    Ok((out, counters))
}

/// Waits (at most 10 s) until the relay's writer has written every queued response,
/// so the writes of a stored segment, done in the relay's pauses, are not done
/// during the next segment (docs/benchmarks.md).
async fn settle(addr: std::net::SocketAddr, auth: &str) -> Result<(), String> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let counters = state_counters(addr, auth).await?;
        if counters["queued"].as_u64() == Some(0) {
            return Ok(());
        }
        if std::time::Instant::now() >= deadline {
            return Err(format!(
                "the state writer did not drain in 10 s: {counters}"
            ));
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// `live.state` of the relay's `/v1/relay/status`: a stored response the writer had
/// to drop (queue full) would make the stored figures look better than they are.
async fn state_counters(addr: std::net::SocketAddr, auth: &str) -> Result<Value, String> {
    let mut call = crate::client::Call::get("/v1/relay/status");
    call.headers.push((
        hyper::header::AUTHORIZATION,
        hyper::header::HeaderValue::from_str(auth).map_err(|e| e.to_string())?,
    ));
    let mut conn = crate::client::Conn::open(addr).await?;
    let (_, body) = conn.exchange(&call, true).await?;
    let status: Value = serde_json::from_slice(&body).map_err(|e| format!("relay status: {e}"))?;
    Ok(status["live"]["state"].clone())
}

/// The markdown table and the JSON of [`compare`]'s results.
pub fn render((results, counters): &Results) -> (String, Value) {
    let mut md = String::from(
        "\n#### Stored against unstored `/v1/responses` (issue 16), ms\n\n| concurrency | unstored p50 | stored p50 | stored − unstored p50 | unstored p99 | stored p99 | relay CPU µs/req unstored | stored | requests each |\n|---|---|---|---|---|---|---|---|---|\n",
    );
    let mut rows = Vec::new();
    for (c, a, b) in results {
        let (pa, pb) = (a.total.p50(), b.total.p50());
        // Each includes the pause after its segment, where the writer writes.
        let (cpu_a, cpu_b) = (a.cpu_per_request_ms() * 1e3, b.cpu_per_request_ms() * 1e3);
        let _ = writeln!(
            md,
            "| {c} | {pa:.3} | {pb:.3} | {:+.3} | {:.3} | {:.3} | {:.1} | {:.1} | {} |",
            pb - pa,
            a.total.p99(),
            b.total.p99(),
            cpu_a,
            cpu_b,
            a.total.len().min(b.total.len())
        );
        rows.push(json!({"concurrency": c, "unstored_p50_ms": pa, "stored_p50_ms": pb, "added_p50_ms": pb - pa,
            "unstored_cpu_us": cpu_a, "stored_cpu_us": cpu_b}));
    }
    let _ = writeln!(
        md,
        "\nState store afterwards: {} written, {} dropped (must be 0), {} queued.",
        counters["written"], counters["dropped"], counters["queued"]
    );
    (md, json!({"rows": rows, "state": counters}))
}
