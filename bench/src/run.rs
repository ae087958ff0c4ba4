//! Targets and the interleaved runner: every workload is sent to each target in small
//! rounds whose order rotates, so machine noise lands on all of them alike.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper::header::{HeaderName, HeaderValue};

use crate::client::{Call, Conn, Timing};
use crate::payload::Work;
use crate::procs;
use crate::stats::Samples;

/// Who answers: the mock straight (the physical limit), nginx in front of it (one plain
/// proxy hop), airelays, an older airelays build (the baseline), or AIRelays 0.22.
pub struct Target {
    pub label: &'static str,
    pub addr: SocketAddr,
    /// The server process whose CPU and memory are read.
    pub pid: u32,
    /// Talks the upstream protocol (the mock itself, or nginx forwarding to it).
    pub direct: bool,
    /// Its CPU is that of `pid` and its children (nginx: the master and its workers).
    pub cpu_with_children: bool,
    pub auth: Vec<(HeaderName, HeaderValue)>,
    /// May lack routes the current relay has (an older build, AIRelays 0.22): a 404 in
    /// [`check`] skips the workload for it instead of failing the run.
    pub optional_routes: bool,
    /// Client paths this target answered 404 to; their workloads skip it ("n/a").
    pub missing: Vec<&'static str>,
    pool: Vec<Conn>,
}

impl Target {
    pub fn new(label: &'static str, addr: SocketAddr, pid: u32, direct: bool) -> Target {
        Target {
            label,
            addr,
            pid,
            direct,
            cpu_with_children: false,
            auth: Vec::new(),
            optional_routes: false,
            missing: Vec::new(),
            pool: Vec::new(),
        }
    }

    /// Marks the target as possibly lacking newer routes (see `optional_routes`).
    pub fn with_optional_routes(mut self) -> Target {
        self.optional_routes = true;
        self
    }

    /// Counts the CPU of the process's children too (see `cpu_with_children`).
    pub fn with_children_cpu(mut self) -> Target {
        self.cpu_with_children = true;
        self
    }

    /// CPU time of the server process so far (with its children when asked).
    pub fn cpu(&self) -> Duration {
        if self.cpu_with_children {
            procs::tree_cpu_time(self.pid)
        } else {
            procs::cpu_time(self.pid)
        }
    }

    /// Whether the target serves `work` (false after a 404 in [`check`]).
    pub fn serves(&self, work: &Work) -> bool {
        self.direct || !self.missing.contains(&work.client_path)
    }

    pub fn with_header(mut self, name: &'static str, value: &str) -> Target {
        self.auth.push((
            HeaderName::from_static(name),
            HeaderValue::from_str(value).expect("header value"),
        ));
        self
    }

    pub fn call(&self, work: &Work) -> Call {
        let mut call = if self.direct {
            Call::post_json("/backend-api/codex/responses", work.upstream_body.clone())
        } else {
            Call::post_json(work.client_path, work.client_body.clone())
        };
        call.headers.extend(self.auth.iter().cloned());
        call
    }

    async fn take(&mut self, n: usize) -> Result<Vec<Conn>, String> {
        while self.pool.len() < n {
            self.pool.push(Conn::open(self.addr).await?);
        }
        Ok(self.pool.drain(..n).collect())
    }

    /// Closes pooled connections beyond `keep`.
    pub fn trim_pool(&mut self, keep: usize) {
        self.pool.truncate(keep);
    }
}

/// What one target did over a workload.
#[derive(Default, Clone, Debug)]
pub struct Measure {
    pub ttfb: Samples,
    pub total: Samples,
    pub bytes: usize,
    /// CPU time of the target's server process while its segments ran.
    pub cpu: Duration,
    /// Wall time of its segments, from the first request sent to the last answer read.
    pub wall: Duration,
    pub errors: usize,
    pub first_error: Option<String>,
}

impl Measure {
    fn add(&mut self, t: &Timing) {
        self.ttfb.push(t.ttfb);
        self.total.push(t.total);
        self.bytes += t.bytes;
    }

    fn fail(&mut self, e: String) {
        self.errors += 1;
        if self.first_error.is_none() {
            self.first_error = Some(e);
        }
    }

    /// CPU milliseconds per successful request.
    pub fn cpu_per_request_ms(&self) -> f64 {
        self.cpu.as_secs_f64() * 1000.0 / self.total.len().max(1) as f64
    }

    /// Successful requests per second of wall time over its segments (closed loop: each
    /// worker sends its next request when the previous answer has ended).
    pub fn req_per_s(&self) -> f64 {
        if self.wall.is_zero() {
            return f64::NAN;
        }
        self.total.len() as f64 / self.wall.as_secs_f64()
    }
}

/// `concurrency` workers, each sending `per_worker` requests back to back on its own
/// keep-alive connection.
pub async fn segment(
    target: &mut Target,
    call: &Call,
    concurrency: usize,
    per_worker: usize,
    into: &mut Measure,
) -> Result<(), String> {
    let conns = target.take(concurrency).await?;
    let call = Arc::new(call.clone());
    let cpu_before = target.cpu();
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(concurrency);
    for mut conn in conns {
        let call = Arc::clone(&call);
        tasks.push(tokio::spawn(async move {
            let mut out = Vec::with_capacity(per_worker);
            for _ in 0..per_worker {
                out.push(conn.exchange(&call, false).await.map(|(t, _)| t));
            }
            (conn, out)
        }));
    }
    for task in tasks {
        let (conn, results) = task.await.map_err(|e| e.to_string())?;
        target.pool.push(conn);
        for r in results {
            match r {
                Ok(t) => into.add(&t),
                Err(e) => into.fail(e),
            }
        }
    }
    into.wall += started.elapsed();
    into.cpu += target.cpu().saturating_sub(cpu_before);
    Ok(())
}

/// Runs `work` on every target in `rounds` rounds, rotating the order each round, and
/// stops early (keeping what it has) when `budget` is spent. A target that does not serve
/// `work` is left out; its measure stays empty.
pub async fn interleaved(
    targets: &mut [Target],
    work: &Work,
    concurrency: usize,
    per_worker: usize,
    rounds: usize,
    budget: Duration,
) -> Result<Vec<Measure>, String> {
    let started = Instant::now();
    let calls: Vec<Call> = targets.iter().map(|t| t.call(work)).collect();
    let mut measures = vec![Measure::default(); targets.len()];
    for round in 0..rounds {
        for k in 0..targets.len() {
            let i = (round + k) % targets.len();
            if !targets[i].serves(work) {
                continue;
            }
            segment(
                &mut targets[i],
                &calls[i],
                concurrency,
                per_worker,
                &mut measures[i],
            )
            .await?;
        }
        if started.elapsed() > budget {
            eprintln!(
                "  (time budget of {budget:?} spent after {} of {rounds} rounds)",
                round + 1
            );
            break;
        }
    }
    Ok(measures)
}

/// Checks that every target answers `work` (and how), before measuring it. A target with
/// `optional_routes` that answers 404 is marked as not serving the workload's path.
pub async fn check(targets: &mut [Target], work: &Work, expect: &str) -> Result<(), String> {
    for t in targets.iter_mut().filter(|t| t.serves(work)) {
        let call = t.call(work);
        let mut conns = t.take(1).await?;
        let result = conns[0].exchange(&call, true).await;
        t.pool.append(&mut conns);
        let body = match result {
            Ok((_, body)) => body,
            Err(e) if t.optional_routes && !t.direct && e.contains("HTTP 404") => {
                eprintln!("  {} answers 404 to {}: n/a", t.label, work.client_path);
                t.missing.push(work.client_path);
                continue;
            }
            Err(e) => return Err(format!("{}: {e}", t.label)),
        };
        let text = String::from_utf8_lossy(&body);
        if !text.contains(expect) {
            return Err(format!(
                "{}: the answer does not contain {expect:?}: {}",
                t.label,
                &text[..text.len().min(300)]
            ));
        }
    }
    Ok(())
}
