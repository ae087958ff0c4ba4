//! The markdown tables and the JSON written after a run. Every table has one column group
//! per relay (airelays, the baseline build when given, AIRelays 0.22 when present), in the
//! order of the measures after *direct*; the nginx comparison and the wrk cross-check are
//! drawn by `versus`.

use std::fmt::Write as _;
use std::time::Duration;

use serde_json::{Value, json};

use crate::run::Measure;
use crate::stats::Samples;
use crate::versus::{self, Figures};
use crate::{BASELINE, PYTHON, RelayFigures, SoakResult, StreamsResult};

pub struct Report {
    pub quick: bool,
    /// Memory and start-up were measured (not an `--only` run).
    pub full: bool,
    /// The relays, in the order of the measures after direct.
    pub relays: Vec<RelayFigures>,
    /// Per concurrency: direct, then one measure per relay.
    pub latency: Vec<(usize, Vec<Measure>)>,
    /// nginx's measure at each concurrency of `latency` (empty when it was not measured).
    pub nginx: Vec<Measure>,
    /// The wrk cross-check (empty when skipped).
    pub wrk: versus::Rows,
    pub throughput: Vec<(&'static str, Vec<Measure>)>,
    pub large: Vec<Measure>,
    pub large_bytes: usize,
    pub streams: Vec<(&'static str, StreamsResult)>,
    pub soaks: Vec<(&'static str, SoakResult)>,
    pub duration: Duration,
}

/// A table row: its name and how to read its figure from a measure.
type Row = (&'static str, fn(&Measure) -> f64);

/// The acceptance and target lines: name, figure, met.
type Targets = Vec<(String, String, bool)>;

const NA: &str = "n/a";

fn fmt_ms(v: f64) -> String {
    if v.is_nan() {
        "–".to_owned()
    } else if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
    }
}

fn ratio(a: f64, b: f64) -> String {
    if a.is_nan() || b.is_nan() || b == 0.0 {
        "–".to_owned()
    } else {
        format!("{:.2}×", a / b)
    }
}

/// `a` relative to `b` as a signed percentage.
fn rel(a: f64, b: f64) -> String {
    if a.is_nan() || b.is_nan() || b == 0.0 {
        "–".to_owned()
    } else {
        format!("{:+.0}%", 100.0 * (a / b - 1.0))
    }
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn check(ok: bool) -> &'static str {
    if ok { "met" } else { "**missed**" }
}

fn errors(m: &Measure) -> String {
    match &m.first_error {
        None => String::new(),
        Some(e) => format!(" ({} errors, first: {e})", m.errors),
    }
}

/// Whether the target was measured on this workload (a target lacking the route is not).
fn served(m: &Measure) -> bool {
    !m.total.is_empty() || m.errors > 0
}

/// Throughput of the answer text in MB/s (10^6 bytes), from the median request time.
fn mbps(m: &Measure) -> f64 {
    1.0 / (m.total.p50() / 1000.0)
}

/// `| a | b |` over cells.
fn cells(v: &[String]) -> String {
    v.iter().map(|c| format!(" {c} |")).collect()
}

impl Report {
    /// Index of the measure of the relay labelled `label` (direct is 0).
    fn col(&self, label: &str) -> Option<usize> {
        self.relays
            .iter()
            .position(|r| r.label == label)
            .map(|i| i + 1)
    }

    fn labels(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.relays.iter().map(|r| r.label)
    }

    pub fn render(&self) -> (String, Value) {
        let mut md = String::new();
        let mut targets: Targets = Vec::new();
        let mut j = json!({"targets_measured": self.labels().collect::<Vec<_>>()});
        self.latency_table(&mut md, &mut targets, &mut j);
        self.nginx_tables(&mut md, &mut targets, &mut j);
        self.throughput_table(&mut md, &mut targets, &mut j);
        self.large_table(&mut md, &mut targets, &mut j);
        if self.full {
            self.memory_table(&mut md, &mut targets, &mut j);
            self.startup_table(&mut md, &mut targets, &mut j);
        }
        let _ = writeln!(md, "\n### Targets\n\n| target | figure | |\n|---|---|---|");
        for (name, figure, ok) in &targets {
            let _ = writeln!(md, "| {name} | {figure} | {} |", check(*ok));
        }
        j["targets"] = json!(
            targets
                .iter()
                .map(|(n, f, ok)| json!({"target": n, "figure": f, "met": ok}))
                .collect::<Vec<_>>()
        );
        let _ = writeln!(
            md,
            "\nRun took {:.0} s{}.",
            self.duration.as_secs_f64(),
            if self.quick {
                " (--quick: a smoke run, figures are rough)"
            } else {
                ""
            }
        );
        j["quick"] = json!(self.quick);
        j["duration_s"] = json!(self.duration.as_secs_f64());
        (md, j)
    }

    fn latency_table(&self, md: &mut String, targets: &mut Targets, j: &mut Value) {
        if self.latency.is_empty() {
            return;
        }
        let (base, py) = (self.col(BASELINE), self.col(PYTHON));
        let _ = writeln!(
            md,
            "### Added latency — streamed `/v1/responses` (answer \"pong\"), ms\n"
        );
        let mut head: Vec<String> = vec!["conc.".into(), "metric".into(), "direct".into()];
        for l in self.labels() {
            head.extend([l.to_owned(), "added".into(), "×direct".into()]);
        }
        if base.is_some() {
            head.push("airelays added vs baseline added".into());
        }
        if py.is_some() {
            head.push("AIRelays added ÷ airelays added".into());
        }
        let _ = writeln!(md, "|{}\n|{}", cells(&head), "---|".repeat(head.len()));
        let rows: [Row; 4] = [
            ("TTFB p50", |m| m.ttfb.p50()),
            ("TTFB p99", |m| m.ttfb.p99()),
            ("total p50", |m| m.total.p50()),
            ("total p99", |m| m.total.p99()),
        ];
        let mut jl = Vec::new();
        for (c, ms) in &self.latency {
            for (name, f) in rows {
                let d = f(&ms[0]);
                let mut line = vec![c.to_string(), name.to_owned(), fmt_ms(d)];
                for m in &ms[1..] {
                    let v = f(m);
                    line.extend([fmt_ms(v), fmt_ms(v - d), ratio(v, d)]);
                }
                let added = |i: usize| f(&ms[i]) - d;
                if let Some(b) = base {
                    line.push(rel(added(1), added(b)));
                }
                if let Some(p) = py {
                    line.push(ratio(added(p), added(1)));
                }
                let _ = writeln!(md, "|{}", cells(&line));
                if name.ends_with("p50")
                    && (*c == 1 || *c == 16)
                    && let Some(b) = base
                {
                    let (new, old) = (added(1), added(b));
                    targets.push((
                        format!("acceptance: added {name} within 10% of the baseline's, c={c}"),
                        format!("{} vs {} ms ({})", fmt_ms(new), fmt_ms(old), rel(new, old)),
                        new <= old * 1.10,
                    ));
                }
            }
            let i = jl.len();
            jl.push(json!({
                "concurrency": c,
                "targets": ms.iter().map(measure_json).collect::<Vec<_>>(),
                "nginx": self.nginx.get(i).map(measure_json),
            }));
            self.latency_targets(*c, ms, targets);
        }
        j["latency"] = json!(jl);
        let per_target = |f: &dyn Fn(&Measure) -> String| {
            self.latency
                .iter()
                .map(|(c, ms)| {
                    let v: Vec<String> = ms.iter().map(f).collect();
                    format!("c={c}: {}", v.join(" / "))
                })
                .collect::<Vec<_>>()
                .join("; ")
        };
        let _ = writeln!(
            md,
            "\nServer CPU per request, µs (mock for direct; then {}): {}.",
            self.labels().collect::<Vec<_>>().join(", "),
            per_target(&|m| format!("{:.0}", m.cpu_per_request_ms() * 1000.0))
        );
        let _ = writeln!(
            md,
            "Samples per target: {}.\n",
            per_target(&|m| format!("{}{}", m.total.len(), errors(m)))
        );
    }

    /// The latency workload beside nginx (from the bench's generator; its targets), then
    /// the same from wrk.
    fn nginx_tables(&self, md: &mut String, targets: &mut Targets, j: &mut Value) {
        let rows: versus::Rows = self
            .latency
            .iter()
            .zip(&self.nginx)
            .map(|((c, ms), n)| {
                let mut cells = vec![(versus::DIRECT, Figures::of(&ms[0]))];
                cells.push((crate::nginx::LABEL, Figures::of(n)));
                cells.extend(
                    self.labels()
                        .zip(&ms[1..])
                        .map(|(l, m)| (l, Figures::of(m))),
                );
                (*c, cells)
            })
            .collect();
        if !rows.is_empty() {
            versus::table(
                md,
                "Against nginx — the same streamed `/v1/responses`, the bench's generator",
                &rows,
            );
            let _ = writeln!(
                md,
                "\np50 and p99 of the whole answer; added = minus direct. req/s: answers per \
                 second of the target's segments (closed loop). Server CPU: utime + stime \
                 from /proc in clock ticks (10 ms) over the segments, nginx's master and \
                 workers together; coarse over a short run.\n"
            );
            targets.extend(versus::targets(&rows));
            j["versus_nginx"] = versus::json(&rows);
        }
        if !self.wrk.is_empty() {
            versus::table(
                md,
                "Cross-check with wrk — the same request, medians over the rounds",
                &self.wrk,
            );
            let _ = writeln!(
                md,
                "\nwrk: `-t` min(2, connections), `-c` connections, a fixed duration per run; \
                 p50/p99 from its latency histogram, req/s = requests ÷ duration, server CPU \
                 over its runs. No target line is read from this table.\n"
            );
            j["wrk"] = versus::json(&self.wrk);
        }
    }

    /// The absolute latency targets of airelays (column 1) and the ratio to AIRelays 0.22.
    fn latency_targets(&self, c: usize, ms: &[Measure], targets: &mut Targets) {
        let (d, r) = (&ms[0], &ms[1]);
        let a50 = r.total.p50() - d.total.p50();
        let worst50 = (r.ttfb.p50() - d.ttfb.p50()).max(a50);
        let worst99 = (r.ttfb.p99() - d.ttfb.p99()).max(r.total.p99() - d.total.p99());
        match c {
            1 => targets.push((
                "added latency p50 ≤ 0.3 ms at concurrency 1".into(),
                format!("{} ms", fmt_ms(worst50)),
                worst50 <= 0.3,
            )),
            16 => {
                targets.push((
                    "added latency p50 ≤ 1 ms at concurrency 16".into(),
                    format!("{} ms", fmt_ms(worst50)),
                    worst50 <= 1.0,
                ));
                targets.push((
                    "added latency p99 ≤ 2 ms at concurrency 16".into(),
                    format!("{} ms", fmt_ms(worst99)),
                    worst99 <= 2.0,
                ));
            }
            _ => {}
        }
        if (c == 1 || c == 16)
            && let Some(p) = self.col(PYTHON)
        {
            let p50 = ms[p].total.p50() - d.total.p50();
            let factor = p50 / a50.max(1e-9);
            targets.push((
                format!("≥ 10× less added latency than AIRelays 0.22 at concurrency {c}"),
                format!(
                    "{factor:.0}× (total p50: {} vs {} ms)",
                    fmt_ms(a50),
                    fmt_ms(p50)
                ),
                factor >= 10.0,
            ));
        }
    }

    fn throughput_table(&self, md: &mut String, targets: &mut Targets, j: &mut Value) {
        if self.throughput.is_empty() {
            return;
        }
        let base = self.col(BASELINE);
        let _ = writeln!(
            md,
            "### Streaming throughput — 1 MB answer in 100-byte deltas (concurrency 1)\n"
        );
        let mut head: Vec<String> = vec!["route".into(), "direct MB/s".into()];
        for l in self.labels() {
            head.extend([format!("{l} MB/s"), "% of direct".into()]);
        }
        if base.is_some() {
            head.push("airelays − baseline (points)".into());
        }
        head.push(format!(
            "median time direct / {} (ms)",
            self.labels().collect::<Vec<_>>().join(" / ")
        ));
        let _ = writeln!(md, "|{}\n|{}", cells(&head), "---|".repeat(head.len()));
        let mut jt = Vec::new();
        let mut of_direct: Vec<(&str, f64)> = Vec::new();
        for (route, ms) in &self.throughput {
            let d = mbps(&ms[0]);
            let pct = |m: &Measure| served(m).then(|| 100.0 * mbps(m) / d);
            let mut line = vec![format!("`{route}`"), format!("{d:.1}")];
            for m in &ms[1..] {
                match pct(m) {
                    Some(p) => line.extend([format!("{:.1}", mbps(m)), format!("{p:.0}%")]),
                    None => line.extend([NA.into(), NA.into()]),
                }
            }
            let (new, old) = (pct(&ms[1]), base.and_then(|b| pct(&ms[b])));
            if base.is_some() {
                line.push(match (new, old) {
                    (Some(n), Some(o)) => format!("{:+.1}", n - o),
                    _ => NA.into(),
                });
            }
            let times: Vec<String> = ms
                .iter()
                .map(|m| {
                    if served(m) {
                        fmt_ms(m.total.p50())
                    } else {
                        NA.into()
                    }
                })
                .collect();
            line.push(times.join(" / "));
            let errs: String = ms[1..].iter().map(errors).collect();
            let _ = writeln!(md, "|{}{errs}", cells(&line));
            let r = new.unwrap_or(f64::NAN);
            of_direct.push((route, r));
            targets.push((
                format!("streaming throughput ≥ 90% of direct, `{route}`"),
                format!("{r:.0}%"),
                r >= 90.0,
            ));
            if let (Some(n), Some(o)) = (new, old) {
                targets.push((
                    format!("acceptance: streaming within 3 points of the baseline, `{route}`"),
                    format!("{n:.1}% vs {o:.1}% of direct ({:+.1} points)", n - o),
                    n >= o - 3.0,
                ));
            }
            jt.push(json!({
                "route": route,
                "mb_per_s": ms.iter().map(|m| served(m).then(|| mbps(m))).collect::<Vec<_>>(),
                "targets": ms.iter().map(measure_json).collect::<Vec<_>>(),
            }));
        }
        j["throughput"] = json!(jt);
        Self::dialect_targets(&of_direct, targets);
    }

    /// Streams that re-encode the chat stream's events in another grammar: within 10
    /// points of the chat stream's share of direct.
    fn dialect_targets(of_direct: &[(&str, f64)], targets: &mut Targets) {
        let share = |route: &str| of_direct.iter().find(|(r, _)| *r == route).map(|(_, p)| *p);
        let Some(chat) = share("/v1/chat/completions") else {
            return;
        };
        for route in ["/v1/messages", "/api/chat"] {
            if let Some(p) = share(route) {
                targets.push((
                    format!("`{route}` stream within 10 points of the chat stream"),
                    format!("{p:.0}% vs {chat:.0}% of direct ({:+.0} points)", p - chat),
                    p >= chat - 10.0,
                ));
            }
        }
    }

    fn large_table(&self, md: &mut String, targets: &mut Targets, j: &mut Value) {
        let l = &self.large;
        if l.len() < 2 {
            return;
        }
        let _ = writeln!(
            md,
            "\n### Large request — {:.2} MB chat history, 24 tools, non-streaming `/v1/chat/completions`\n",
            self.large_bytes as f64 / 1e6
        );
        let mut head: Vec<String> = vec![String::new(), "direct (mock, Responses form)".into()];
        for lb in self.labels() {
            head.extend([lb.to_owned(), "added".into(), "×direct".into()]);
        }
        let _ = writeln!(md, "|{}\n|{}", cells(&head), "---|".repeat(head.len()));
        let rows: [Row; 3] = [
            ("time p50 (ms)", |m| m.total.p50()),
            ("time p99 (ms)", |m| m.total.p99()),
            ("server CPU per request (ms)", |m| m.cpu_per_request_ms()),
        ];
        for (name, f) in rows {
            let d = f(&l[0]);
            let mut line = vec![name.to_owned(), fmt_ms(d)];
            for m in &l[1..] {
                let v = f(m);
                line.extend([fmt_ms(v), fmt_ms(v - d), ratio(v, d)]);
            }
            let _ = writeln!(md, "|{}", cells(&line));
        }
        let large_added = l[1].total.p50() - l[0].total.p50();
        targets.push((
            "2 MB chat request ≤ 10 ms added p50".into(),
            format!("{} ms", fmt_ms(large_added)),
            large_added <= 10.0,
        ));
        let _ = writeln!(
            md,
            "\nServer CPU is the CPU time of the answering process (the mock for direct, the \
             relay for the others) over its segments, per request. Samples: {}.\n",
            l.iter()
                .map(|m| format!("{}{}", m.total.len(), errors(m)))
                .collect::<Vec<_>>()
                .join(" / ")
        );
        j["large"] = json!({"bytes": self.large_bytes,
            "targets": l.iter().map(measure_json).collect::<Vec<_>>()});
    }

    /// A row with one cell per relay.
    fn row(&self, md: &mut String, name: &str, cell: impl Fn(&RelayFigures) -> String) {
        let v: Vec<String> = self.relays.iter().map(cell).collect();
        let _ = writeln!(md, "| {name} |{}", cells(&v));
    }

    fn header(&self, md: &mut String) {
        let labels: Vec<String> = self.labels().map(str::to_owned).collect();
        let _ = writeln!(
            md,
            "| |{}\n|---|{}",
            cells(&labels),
            "---|".repeat(labels.len())
        );
    }

    fn memory_table(&self, md: &mut String, targets: &mut Targets, j: &mut Value) {
        let _ = writeln!(md, "### Memory (RSS, MiB)\n");
        self.header(md);
        let k = |v: Option<u64>| v.map(|k| format!("{:.1}", mib(k))).unwrap_or("–".into());
        let s = |who: &str| self.streams.iter().find(|(l, _)| *l == who).map(|(_, s)| s);
        let so = |who: &str| self.soaks.iter().find(|(l, _)| *l == who).map(|(_, s)| s);
        self.row(md, "idle, just started", |r| k(Some(r.idle_start_kib)));
        let n_streams = s("airelays")
            .map(|s| s.measure.total.len() + s.measure.errors)
            .unwrap_or(0);
        self.row(
            md,
            &format!("peak during {n_streams} concurrent slow streams"),
            |r| k(s(r.label).map(|s| s.peak_kib)),
        );
        self.row(md, "right after those streams", |r| {
            k(s(r.label).map(|s| s.after_kib))
        });
        self.row(md, "before the soak (warmed up)", |r| {
            k(so(r.label).map(|s| s.warm_kib))
        });
        let counts: Vec<String> = self
            .labels()
            .map(|l| so(l).map(|s| s.requests).unwrap_or(0).to_string())
            .collect();
        self.row(
            md,
            &format!("after {} more requests", counts.join(" / ")),
            |r| k(so(r.label).map(|s| s.end_kib)),
        );
        let growth = |o: Option<&SoakResult>| {
            o.map(|s| 100.0 * (s.end_kib as f64 - s.warm_kib as f64) / s.warm_kib.max(1) as f64)
        };
        let g = |v: Option<f64>| v.map(|v| format!("{v:+.1}%")).unwrap_or("–".into());
        self.row(md, "change over the soak", |r| g(growth(so(r.label))));
        self.row(md, "idle after everything", |r| k(Some(r.idle_after_kib)));

        if let Some(ours) = self.relays.first() {
            targets.push((
                "RSS ≤ 15 MB idle (just started)".into(),
                format!("{:.1} MiB", mib(ours.idle_start_kib)),
                mib(ours.idle_start_kib) <= 15.0,
            ));
        }
        if let Some(s) = s("airelays") {
            targets.push((
                format!("RSS ≤ 80 MB with {n_streams} concurrent streams"),
                format!("{:.1} MiB{}", mib(s.peak_kib), errors(&s.measure)),
                mib(s.peak_kib) <= 80.0 && s.measure.errors == 0,
            ));
        }
        let ours = so("airelays");
        if let Some(gr) = growth(ours) {
            targets.push((
                format!(
                    "RSS flat (±5%) over {} requests",
                    ours.map(|s| s.requests).unwrap_or(0)
                ),
                format!("{gr:+.1}%"),
                gr.abs() <= 5.0,
            ));
        }
        j["memory"] = json!(
            self.relays
                .iter()
                .map(|r| json!({"target": r.label, "key": r.key,
                    "idle_start_kib": r.idle_start_kib, "idle_after_kib": r.idle_after_kib}))
                .collect::<Vec<_>>()
        );
        j["streams"] = json!(
            self.streams
                .iter()
                .map(|(l, s)| json!({"target": l,
            "before_kib": s.before_kib, "peak_kib": s.peak_kib, "after_kib": s.after_kib,
            "errors": s.measure.errors, "first_error": s.measure.first_error}))
                .collect::<Vec<_>>()
        );
        j["soak"] = json!(
            self.soaks
                .iter()
                .map(|(l, s)| json!({"target": l,
            "requests": s.requests, "warm_kib": s.warm_kib, "end_kib": s.end_kib,
            "errors": s.measure.errors, "total_p50_ms": s.measure.total.p50()}))
                .collect::<Vec<_>>()
        );
    }

    fn startup_table(&self, md: &mut String, targets: &mut Targets, j: &mut Value) {
        let _ = writeln!(md, "\n### Start-up and CLI\n");
        self.header(md);
        let st = |s: &Samples| {
            if s.is_empty() {
                return "–".to_owned();
            }
            format!(
                "{} ms (min {}, max {}, n={})",
                fmt_ms(s.p50()),
                fmt_ms(s.min()),
                fmt_ms(s.max()),
                s.len()
            )
        };
        self.row(
            md,
            "`serve` → first `/healthz` answer, empty state store (median)",
            |r| st(&r.start),
        );
        self.row(
            md,
            "the same, with the state store the workloads left (median)",
            |r| st(&r.start_full),
        );
        self.row(md, "`status --json` wall time (median)", |r| st(&r.status));
        let size = |r: &RelayFigures| match r.binary_bytes {
            Some(b) => format!("{:.2} MiB", b as f64 / 1048576.0),
            None => "(Python package + interpreter)".into(),
        };
        self.row(md, "release binary", size);
        if let Some(ours) = self.relays.first() {
            targets.push((
                "`serve` answers `/healthz` within 50 ms".into(),
                format!(
                    "{} ms median, {} ms max",
                    fmt_ms(ours.start.p50()),
                    fmt_ms(ours.start.max())
                ),
                ours.start.p50() <= 50.0,
            ));
            targets.push((
                "start to first `/healthz` ≤ 10 ms (empty state store)".into(),
                format!("{} ms median", fmt_ms(ours.start.p50())),
                ours.start.p50() <= 10.0,
            ));
            targets.push((
                "`status --json` under 20 ms".into(),
                format!("{} ms median", fmt_ms(ours.status.p50())),
                ours.status.p50() < 20.0,
            ));
            let bytes = ours.binary_bytes.unwrap_or(0);
            targets.push((
                "release binary under 15 MB".into(),
                size(ours),
                bytes < 15 * 1024 * 1024,
            ));
        }
        j["startup"] = json!(
            self.relays
                .iter()
                .map(|r| json!({"target": r.label, "key": r.key,
                    "serve_to_healthz_ms": r.start.0, "serve_to_healthz_full_store_ms": r.start_full.0, "status_json_ms": r.status.0,
                    "binary_bytes": r.binary_bytes}))
                .collect::<Vec<_>>()
        );
    }
}

fn measure_json(m: &Measure) -> Value {
    if !served(m) {
        return Value::Null;
    }
    json!({
        "n": m.total.len(),
        "errors": m.errors,
        "first_error": m.first_error,
        "ttfb_ms": {"p50": m.ttfb.p50(), "p99": m.ttfb.p99(), "mean": m.ttfb.mean()},
        "total_ms": {"p50": m.total.p50(), "p99": m.total.p99(), "mean": m.total.mean(),
            "min": m.total.min(), "max": m.total.max()},
        "bytes": m.bytes,
        "req_per_s": m.req_per_s(),
        "cpu_ms": m.cpu.as_secs_f64() * 1000.0,
        "cpu_per_request_ms": m.cpu_per_request_ms(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn measure(ms: &[f64]) -> Measure {
        Measure {
            ttfb: Samples(ms.to_vec()),
            total: Samples(ms.to_vec()),
            ..Measure::default()
        }
    }

    fn figures(label: &'static str, key: &'static str) -> RelayFigures {
        RelayFigures {
            label,
            key,
            idle_start_kib: 8192,
            idle_after_kib: 8192,
            status: Samples(vec![1.5]),
            start: Samples(vec![7.0]),
            start_full: Samples(vec![8.0]),
            binary_bytes: Some(10 << 20),
        }
    }

    fn report() -> Report {
        Report {
            quick: true,
            full: false,
            relays: vec![
                figures("airelays", "airelays"),
                figures(BASELINE, "baseline"),
            ],
            latency: vec![(1, vec![measure(&[1.0]), measure(&[1.2]), measure(&[1.19])])],
            nginx: Vec::new(),
            wrk: Vec::new(),
            throughput: vec![
                (
                    "/v1/responses",
                    vec![measure(&[40.0]), measure(&[50.0]), measure(&[48.0])],
                ),
                (
                    "/v1/completions",
                    vec![measure(&[40.0]), measure(&[60.0]), Measure::default()],
                ),
            ],
            large: Vec::new(),
            large_bytes: 0,
            streams: Vec::new(),
            soaks: Vec::new(),
            duration: Duration::from_secs(1),
        }
    }

    #[test]
    fn baseline_column_and_acceptance_lines() {
        let (md, j) = report().render();
        assert!(
            md.contains("| airelays (baseline) | added | ×direct |"),
            "{md}"
        );
        // 0.2 ms added against 0.19: +5%, within 10%.
        assert!(
            md.contains("acceptance: added total p50 within 10% of the baseline's, c=1 | 0.200 vs 0.190 ms (+5%) | met"),
            "{md}"
        );
        // 80% vs 83.3% of direct: -3.3 points, a miss.
        assert!(
            md.contains("| `/v1/responses` | 25.0 | 20.0 | 80% | 20.8 | 83% | -3.3 |"),
            "{md}"
        );
        assert!(
            md.contains("within 3 points of the baseline, `/v1/responses` | 80.0% vs 83.3% of direct (-3.3 points) | **missed**"),
            "{md}"
        );
        // The baseline lacks /v1/completions: n/a, and no acceptance line for it.
        assert!(
            md.contains("| `/v1/completions` | 25.0 | 16.7 | 67% | n/a | n/a | n/a |"),
            "{md}"
        );
        assert!(!md.contains("baseline, `/v1/completions`"), "{md}");
        assert_eq!(j["throughput"][1]["mb_per_s"][2], Value::Null);
    }

    #[test]
    fn python_column_beside_the_baseline() {
        let mut r = report();
        r.relays.push(figures(PYTHON, "python"));
        r.relays[2].binary_bytes = None;
        r.latency = vec![(
            1,
            vec![
                measure(&[1.0]),
                measure(&[1.2]),
                measure(&[1.2]),
                measure(&[5.0]),
            ],
        )];
        r.throughput.clear();
        r.full = true;
        let (md, j) = r.render();
        assert!(
            md.contains("| airelays added vs baseline added | AIRelays added ÷ airelays added |"),
            "{md}"
        );
        assert!(md.contains("| 1 | total p50 | 1.000 | 1.200 | 0.200 | 1.20× | 1.200 | 0.200 | 1.20× | 5.000 | 4.000 | 5.00× | +0% | 20.00× |"), "{md}");
        assert!(
            md.contains("| ≥ 10× less added latency than AIRelays 0.22 at concurrency 1 | 20×"),
            "{md}"
        );
        assert!(
            md.contains(
                "| release binary | 10.00 MiB | 10.00 MiB | (Python package + interpreter) |"
            ),
            "{md}"
        );
        assert_eq!(j["startup"][2]["key"], "python");
    }
}
