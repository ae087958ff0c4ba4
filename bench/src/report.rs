//! The markdown tables and the JSON written after a run.

use std::fmt::Write as _;
use std::time::Duration;

use serde_json::{Value, json};

use crate::run::Measure;
use crate::stats::Samples;
use crate::{SoakResult, StreamsResult};

pub struct Report {
    pub quick: bool,
    /// Memory and start-up were measured (not an `--only` run).
    pub full: bool,
    pub python: bool,
    /// Per concurrency: direct, airelays, [AIRelays 0.22].
    pub latency: Vec<(usize, Vec<Measure>)>,
    pub throughput: Vec<(&'static str, Vec<Measure>)>,
    pub large: Vec<Measure>,
    pub large_bytes: usize,
    pub streams: Vec<(&'static str, StreamsResult)>,
    pub soaks: Vec<(&'static str, SoakResult)>,
    pub status_relay: Samples,
    pub status_py: Option<Samples>,
    pub start_relay: Samples,
    pub start_py: Option<Samples>,
    pub binary_bytes: u64,
    pub results: Value,
    pub duration: Duration,
}

/// A table row: its name and how to read its figure from a measure.
type Row = (&'static str, fn(&Measure) -> f64);

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

/// (p50 added, p99 added) of total time and of time to first byte, relay `i` vs direct.
fn added(ms: &[Measure], i: usize) -> Option<[f64; 4]> {
    let (d, r) = (ms.first()?, ms.get(i)?);
    Some([
        r.ttfb.p50() - d.ttfb.p50(),
        r.ttfb.p99() - d.ttfb.p99(),
        r.total.p50() - d.total.p50(),
        r.total.p99() - d.total.p99(),
    ])
}

/// Throughput of the answer text in MB/s (10^6 bytes), from the median request time.
fn mbps(m: &Measure) -> f64 {
    1.0 / (m.total.p50() / 1000.0)
}

impl Report {
    pub fn render(&self) -> (String, Value) {
        let mut md = String::new();
        let mut targets: Vec<(String, String, bool)> = Vec::new();
        let mut j = self.results.clone();
        let py = self.python;

        let _ = writeln!(
            md,
            "### Added latency — streamed `/v1/responses` (answer \"pong\"), ms\n"
        );
        let _ = writeln!(
            md,
            "| conc. | metric | direct | airelays | added | ×direct |{}",
            if py {
                " AIRelays 0.22 | added | ×direct | AIRelays added ÷ airelays added |"
            } else {
                ""
            }
        );
        let _ = writeln!(
            md,
            "|---|---|---|---|---|---|{}",
            if py { "---|---|---|---|" } else { "" }
        );
        let mut jl = Vec::new();
        for (c, ms) in &self.latency {
            let rows: [Row; 4] = [
                ("TTFB p50", |m| m.ttfb.p50()),
                ("TTFB p99", |m| m.ttfb.p99()),
                ("total p50", |m| m.total.p50()),
                ("total p99", |m| m.total.p99()),
            ];
            for (name, f) in rows {
                let d = f(&ms[0]);
                let r = f(&ms[1]);
                let mut line = format!(
                    "| {c} | {name} | {} | {} | {} | {} |",
                    fmt_ms(d),
                    fmt_ms(r),
                    fmt_ms(r - d),
                    ratio(r, d)
                );
                if let Some(p) = ms.get(2) {
                    let pv = f(p);
                    let _ = write!(
                        line,
                        " {} | {} | {} | {} |",
                        fmt_ms(pv),
                        fmt_ms(pv - d),
                        ratio(pv, d),
                        ratio(pv - d, r - d)
                    );
                }
                let _ = writeln!(md, "{line}");
            }
            let counts: Vec<String> = ms
                .iter()
                .map(|m| format!("{}{}", m.total.len(), errors(m)))
                .collect();
            jl.push(json!({
                "concurrency": c,
                "samples": counts,
                "targets": ms.iter().map(measure_json).collect::<Vec<_>>(),
            }));
            if let Some([t50, t99, a50, a99]) = added(ms, 1) {
                let worst50 = t50.max(a50);
                let worst99 = t99.max(a99);
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
                if (*c == 1 || *c == 16)
                    && let Some([_, _, p50, _]) = added(ms, 2)
                {
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
        }
        j["latency"] = json!(jl);
        let _ = writeln!(
            md,
            "\nServer CPU per request, µs (mock for direct): {}.",
            self.latency
                .iter()
                .map(|(c, ms)| format!(
                    "c={c}: {}",
                    ms.iter()
                        .map(|m| format!("{:.0}", m.cpu_per_request_ms() * 1000.0))
                        .collect::<Vec<_>>()
                        .join(" / ")
                ))
                .collect::<Vec<_>>()
                .join("; ")
        );
        let _ = writeln!(
            md,
            "Samples per target: {}.\n",
            self.latency
                .iter()
                .map(|(c, ms)| format!(
                    "c={c}: {}",
                    ms.iter()
                        .map(|m| format!("{}{}", m.total.len(), errors(m)))
                        .collect::<Vec<_>>()
                        .join(" / ")
                ))
                .collect::<Vec<_>>()
                .join("; ")
        );

        let _ = writeln!(
            md,
            "### Streaming throughput — 1 MB answer in 100-byte deltas (concurrency 1)\n"
        );
        let _ = writeln!(
            md,
            "| route | direct MB/s | airelays MB/s | % of direct | median time direct / airelays (ms) |{}",
            if py {
                " AIRelays 0.22 MB/s | % of direct |"
            } else {
                ""
            }
        );
        let _ = writeln!(
            md,
            "|---|---|---|---|---|{}",
            if py { "---|---|" } else { "" }
        );
        let mut jt = Vec::new();
        for (route, ms) in &self.throughput {
            let (d, r) = (mbps(&ms[0]), mbps(&ms[1]));
            let mut line = format!(
                "| `{route}` | {d:.1} | {r:.1} | {:.0}% | {} / {} |",
                100.0 * r / d,
                fmt_ms(ms[0].total.p50()),
                fmt_ms(ms[1].total.p50())
            );
            if let Some(p) = ms.get(2) {
                let pv = mbps(p);
                let _ = write!(line, " {pv:.2} | {:.0}% |", 100.0 * pv / d);
            }
            let _ = writeln!(md, "{line}{}", errors(&ms[1]));
            targets.push((
                format!("streaming throughput ≥ 90% of direct, `{route}`"),
                format!("{:.0}%", 100.0 * r / d),
                r / d >= 0.9,
            ));
            jt.push(
                json!({"route": route, "mb_per_s": ms.iter().map(mbps).collect::<Vec<_>>(),
                "targets": ms.iter().map(measure_json).collect::<Vec<_>>()}),
            );
        }
        j["throughput"] = json!(jt);

        if self.large.len() > 1 {
            let _ = writeln!(
                md,
                "\n### Large request — {:.2} MB chat history, 24 tools, non-streaming `/v1/chat/completions`\n",
                self.large_bytes as f64 / 1e6
            );
            let _ = writeln!(
                md,
                "| | direct (mock, Responses form) | airelays | added | ×direct |{}",
                if py {
                    " AIRelays 0.22 | added | ×direct |"
                } else {
                    ""
                }
            );
            let _ = writeln!(
                md,
                "|---|---|---|---|---|{}",
                if py { "---|---|---|" } else { "" }
            );
            let l = &self.large;
            let rows: [Row; 3] = [
                ("time p50 (ms)", |m| m.total.p50()),
                ("time p99 (ms)", |m| m.total.p99()),
                ("server CPU per request (ms)", |m| m.cpu_per_request_ms()),
            ];
            for (name, f) in rows {
                let d = f(&l[0]);
                let r = f(&l[1]);
                let mut line = format!(
                    "| {name} | {} | {} | {} | {} |",
                    fmt_ms(d),
                    fmt_ms(r),
                    fmt_ms(r - d),
                    ratio(r, d)
                );
                if let Some(p) = l.get(2) {
                    let pv = f(p);
                    let _ = write!(
                        line,
                        " {} | {} | {} |",
                        fmt_ms(pv),
                        fmt_ms(pv - d),
                        ratio(pv, d)
                    );
                }
                let _ = writeln!(md, "{line}");
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

        if self.full {
            let _ = writeln!(md, "### Memory (RSS, MiB)\n");
            let _ = writeln!(
                md,
                "| | airelays |{}\n|---|---|{}",
                if py { " AIRelays 0.22 |" } else { "" },
                if py { "---|" } else { "" }
            );
            let idle = |key: &str, who: &str| {
                self.results["memory"][key][who]
                    .as_u64()
                    .map(|k| format!("{:.1}", mib(k)))
                    .unwrap_or_else(|| "–".into())
            };
            let row = |name: &str, a: String, b: String| {
                if py {
                    format!("| {name} | {a} | {b} |")
                } else {
                    format!("| {name} | {a} |")
                }
            };
            let _ = writeln!(
                md,
                "{}",
                row(
                    "idle, just started",
                    idle("idle_start_kib", "airelays"),
                    idle("idle_start_kib", "python")
                )
            );
            let s = |who: &str| self.streams.iter().find(|(l, _)| *l == who).map(|(_, s)| s);
            let k = |v: Option<u64>| v.map(|k| format!("{:.1}", mib(k))).unwrap_or("–".into());
            let (sr, sp) = (s("airelays"), s("AIRelays 0.22"));
            let n_streams = sr
                .map(|s| s.measure.total.len() + s.measure.errors)
                .unwrap_or(0);
            let _ = writeln!(
                md,
                "{}",
                row(
                    &format!("peak during {n_streams} concurrent slow streams"),
                    k(sr.map(|s| s.peak_kib)),
                    k(sp.map(|s| s.peak_kib))
                )
            );
            let _ = writeln!(
                md,
                "{}",
                row(
                    "right after those streams",
                    k(sr.map(|s| s.after_kib)),
                    k(sp.map(|s| s.after_kib))
                )
            );
            let so = |who: &str| self.soaks.iter().find(|(l, _)| *l == who).map(|(_, s)| s);
            let (or, op) = (so("airelays"), so("AIRelays 0.22"));
            let _ = writeln!(
                md,
                "{}",
                row(
                    "before the soak (warmed up)",
                    k(or.map(|s| s.warm_kib)),
                    k(op.map(|s| s.warm_kib))
                )
            );
            let n = |o: Option<&SoakResult>| o.map(|s| s.requests).unwrap_or(0);
            let _ = writeln!(
                md,
                "{}",
                row(
                    &format!("after {} / {} more requests", n(or), n(op)),
                    k(or.map(|s| s.end_kib)),
                    k(op.map(|s| s.end_kib))
                )
            );
            let growth = |o: Option<&SoakResult>| {
                o.map(|s| 100.0 * (s.end_kib as f64 - s.warm_kib as f64) / s.warm_kib.max(1) as f64)
            };
            let g = |v: Option<f64>| v.map(|v| format!("{v:+.1}%")).unwrap_or("–".into());
            let _ = writeln!(
                md,
                "{}",
                row("change over the soak", g(growth(or)), g(growth(op)))
            );
            let _ = writeln!(
                md,
                "{}",
                row(
                    "idle after everything",
                    idle("idle_after_kib", "airelays"),
                    idle("idle_after_kib", "python")
                )
            );
            let idle_start = self.results["memory"]["idle_start_kib"]["airelays"]
                .as_u64()
                .unwrap_or(0);
            targets.push((
                "RSS ≤ 15 MB idle (just started)".into(),
                format!("{:.1} MiB", mib(idle_start)),
                mib(idle_start) <= 15.0,
            ));
            if let Some(s) = sr {
                targets.push((
                    format!("RSS ≤ 80 MB with {n_streams} concurrent streams"),
                    format!("{:.1} MiB{}", mib(s.peak_kib), errors(&s.measure)),
                    mib(s.peak_kib) <= 80.0 && s.measure.errors == 0,
                ));
            }
            if let Some(gr) = growth(or) {
                targets.push((
                    format!("RSS flat (±5%) over {} requests", n(or)),
                    format!("{gr:+.1}%"),
                    gr.abs() <= 5.0,
                ));
            }
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

            let _ = writeln!(md, "\n### Start-up and CLI\n");
            let _ = writeln!(
                md,
                "| | airelays |{}\n|---|---|{}",
                if py { " AIRelays 0.22 |" } else { "" },
                if py { "---|" } else { "" }
            );
            let st = |s: &Samples| {
                format!(
                    "{} ms (min {}, max {}, n={})",
                    fmt_ms(s.p50()),
                    fmt_ms(s.min()),
                    fmt_ms(s.max()),
                    s.len()
                )
            };
            let opt = |s: &Option<Samples>| s.as_ref().map(st).unwrap_or("–".into());
            let _ = writeln!(
                md,
                "{}",
                row(
                    "`serve` → first `/healthz` answer (median)",
                    st(&self.start_relay),
                    opt(&self.start_py)
                )
            );
            let _ = writeln!(
                md,
                "{}",
                row(
                    "`status --json` wall time (median)",
                    st(&self.status_relay),
                    opt(&self.status_py)
                )
            );
            let _ = writeln!(
                md,
                "{}",
                row(
                    "release binary",
                    format!("{:.2} MiB", self.binary_bytes as f64 / 1048576.0),
                    "(Python package + interpreter)".into()
                )
            );
            targets.push((
                "`serve` answers `/healthz` within 50 ms".into(),
                format!(
                    "{} ms median, {} ms max",
                    fmt_ms(self.start_relay.p50()),
                    fmt_ms(self.start_relay.max())
                ),
                self.start_relay.p50() <= 50.0,
            ));
            targets.push((
                "`status --json` under 20 ms".into(),
                format!("{} ms median", fmt_ms(self.status_relay.p50())),
                self.status_relay.p50() < 20.0,
            ));
            targets.push((
                "release binary under 15 MB".into(),
                format!("{:.2} MiB", self.binary_bytes as f64 / 1048576.0),
                self.binary_bytes < 15 * 1024 * 1024,
            ));
            j["startup"] = json!({
                "serve_to_healthz_ms": self.start_relay.0,
                "python_serve_to_healthz_ms": self.start_py.as_ref().map(|s| s.0.clone()),
                "status_json_ms": self.status_relay.0,
                "python_status_json_ms": self.status_py.as_ref().map(|s| s.0.clone()),
                "binary_bytes": self.binary_bytes,
            });
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
}

fn measure_json(m: &Measure) -> Value {
    json!({
        "n": m.total.len(),
        "errors": m.errors,
        "first_error": m.first_error,
        "ttfb_ms": {"p50": m.ttfb.p50(), "p99": m.ttfb.p99(), "mean": m.ttfb.mean()},
        "total_ms": {"p50": m.total.p50(), "p99": m.total.p99(), "mean": m.total.mean(),
            "min": m.total.min(), "max": m.total.max()},
        "bytes": m.bytes,
        "cpu_ms": m.cpu.as_secs_f64() * 1000.0,
        "cpu_per_request_ms": m.cpu_per_request_ms(),
    })
}
