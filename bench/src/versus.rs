//! Against nginx (issue 20): per concurrency, direct, nginx and each relay side by side —
//! p50 and p99 of the whole streamed answer, what each adds to direct, requests per
//! second, server CPU per request — and the ratios of the targets. The same table
//! is drawn from the bench's own generator and from `wrk` (the cross-check).

use std::fmt::Write as _;

use serde_json::{Value, json};

use crate::run::Measure;

/// The label of the mock reached directly.
pub const DIRECT: &str = "direct";
/// The relay the targets are about.
pub const AIRELAYS: &str = "airelays";

/// What one target did at one concurrency, from either generator (ms; NaN when unknown).
#[derive(Clone, Debug)]
pub struct Figures {
    /// Median time of the whole answer.
    pub p50_ms: f64,
    /// 99th percentile of the time of the whole answer.
    pub p99_ms: f64,
    /// Answers per second.
    pub req_per_s: f64,
    /// Server CPU per request, µs (nginx: master and workers).
    pub cpu_us: f64,
    /// Body bytes per answer (the bench's generator only).
    pub bytes_per_answer: Option<f64>,
    /// Answers measured.
    pub requests: usize,
    /// Failed requests (wrk: non-2xx/3xx answers and socket errors).
    pub errors: usize,
}

impl Figures {
    /// The total time of the streamed answer, from the bench's own generator.
    pub fn of(m: &Measure) -> Figures {
        let n = m.total.len();
        Figures {
            p50_ms: m.total.p50(),
            p99_ms: m.total.p99(),
            req_per_s: m.req_per_s(),
            cpu_us: m.cpu_per_request_ms() * 1000.0,
            bytes_per_answer: (n > 0).then(|| m.bytes as f64 / n as f64),
            requests: n,
            errors: m.errors,
        }
    }
}

/// Per concurrency, the targets in column order: direct, nginx, then the relays.
pub type Rows = Vec<(usize, Vec<(&'static str, Figures)>)>;

/// A relay against nginx at one concurrency (the targets read these).
#[derive(Debug)]
pub struct Ratios {
    /// Concurrent connections.
    pub concurrency: usize,
    /// The relay's label.
    pub relay: &'static str,
    /// Added p50 of the relay and of nginx, ms over direct.
    pub added_p50: (f64, f64),
    /// p99 of the relay ÷ p99 of nginx.
    pub p99: f64,
    /// req/s of the relay ÷ req/s of nginx.
    pub req_per_s: f64,
}

impl Ratios {
    /// Relay added p50 ÷ nginx added p50; NaN when nginx added nothing measurable.
    pub fn added_p50_ratio(&self) -> f64 {
        let (relay, nginx) = self.added_p50;
        if nginx > 0.0 { relay / nginx } else { f64::NAN }
    }
}

fn find<'a>(cells: &'a [(&'static str, Figures)], label: &str) -> Option<&'a Figures> {
    cells.iter().find(|(l, _)| *l == label).map(|(_, f)| f)
}

/// The ratios of every relay (each target other than direct and nginx) to nginx.
pub fn ratios(rows: &Rows) -> Vec<Ratios> {
    let mut out = Vec::new();
    for (c, cells) in rows {
        let (Some(d), Some(n)) = (find(cells, DIRECT), find(cells, crate::nginx::LABEL)) else {
            continue;
        };
        for (label, r) in cells
            .iter()
            .filter(|(l, _)| *l != DIRECT && *l != crate::nginx::LABEL)
        {
            out.push(Ratios {
                concurrency: *c,
                relay: label,
                added_p50: (r.p50_ms - d.p50_ms, n.p50_ms - d.p50_ms),
                p99: r.p99_ms / n.p99_ms,
                req_per_s: r.req_per_s / n.req_per_s,
            });
        }
    }
    out
}

fn ms(v: f64) -> String {
    if v.is_nan() {
        "–".into()
    } else if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
    }
}

fn signed_ms(v: f64) -> String {
    if v.is_nan() {
        "–".into()
    } else {
        format!("{}{}", if v >= 0.0 { "+" } else { "" }, ms(v))
    }
}

fn times(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.2}×")
    } else {
        "–".into()
    }
}

fn whole(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.0}")
    } else {
        "–".into()
    }
}

/// The figures table under `title`, then the ratios table.
pub fn table(md: &mut String, title: &str, rows: &Rows) {
    let _ = writeln!(
        md,
        "### {title}\n\n| conc. | target | p50 (ms) | added p50 | p99 (ms) | added p99 | req/s | server CPU per request (µs) | body bytes per answer | requests |\n|---|---|---|---|---|---|---|---|---|---|"
    );
    for (c, cells) in rows {
        let d = find(cells, DIRECT);
        for (label, f) in cells {
            let added = |v: f64, of: fn(&Figures) -> f64| match d {
                Some(d) if *label != DIRECT => signed_ms(v - of(d)),
                _ => "–".into(),
            };
            let errors = if f.errors > 0 {
                format!(" ({} errors)", f.errors)
            } else {
                String::new()
            };
            let _ = writeln!(
                md,
                "| {c} | {label} | {} | {} | {} | {} | {} | {} | {} | {}{errors} |",
                ms(f.p50_ms),
                added(f.p50_ms, |d| d.p50_ms),
                ms(f.p99_ms),
                added(f.p99_ms, |d| d.p99_ms),
                whole(f.req_per_s),
                whole(f.cpu_us),
                f.bytes_per_answer.map(whole).unwrap_or("–".into()),
                f.requests,
            );
        }
    }
    let _ = writeln!(
        md,
        "\n| conc. | relay | added p50 ÷ nginx added p50 (target ≤ 1.5×) | p99 ÷ nginx p99 (target ≤ 2× at 16) | req/s ÷ nginx req/s (target ≥ 90% at 64) |\n|---|---|---|---|---|"
    );
    for r in ratios(rows) {
        let _ = writeln!(
            md,
            "| {} | {} | {} ({} vs {} ms) | {} | {} |",
            r.concurrency,
            r.relay,
            times(r.added_p50_ratio()),
            signed_ms(r.added_p50.0),
            signed_ms(r.added_p50.1),
            times(r.p99),
            if r.req_per_s.is_finite() {
                format!("{:.0}%", 100.0 * r.req_per_s)
            } else {
                "–".into()
            },
        );
    }
}

/// The target lines for airelays: name, figure, met. "Added p50 ≤ 1.5× nginx's" is
/// read without dividing (a relay that adds nothing meets it even when nginx adds nothing).
pub fn targets(rows: &Rows) -> Vec<(String, String, bool)> {
    let mut out = Vec::new();
    for r in ratios(rows).iter().filter(|r| r.relay == AIRELAYS) {
        let c = r.concurrency;
        let (relay, nginx) = r.added_p50;
        out.push((
            format!("added p50 ≤ 1.5× nginx's added p50 at concurrency {c}"),
            format!(
                "{} ({} vs {} ms)",
                times(r.added_p50_ratio()),
                signed_ms(relay),
                signed_ms(nginx)
            ),
            relay <= 1.5 * nginx,
        ));
        if c == 16 {
            out.push((
                "p99 ≤ 2× nginx's p99 at concurrency 16".into(),
                times(r.p99),
                r.p99 <= 2.0,
            ));
        }
        if c == 64 {
            out.push((
                "req/s ≥ 90% of nginx's at concurrency 64".into(),
                format!("{:.0}%", 100.0 * r.req_per_s),
                r.req_per_s >= 0.9,
            ));
        }
    }
    for (c, cells) in rows.iter().filter(|(c, _)| *c == 16) {
        if let (Some(a), Some(n)) = (find(cells, AIRELAYS), find(cells, crate::nginx::LABEL)) {
            out.push((
                format!("relay CPU per request ≤ 50 µs at concurrency {c}"),
                format!("{} µs (nginx: {} µs)", whole(a.cpu_us), whole(n.cpu_us)),
                a.cpu_us <= 50.0,
            ));
        }
    }
    out
}

/// The rows and ratios as JSON.
pub fn json(rows: &Rows) -> Value {
    let cells = |cells: &[(&str, Figures)]| -> Vec<Value> {
        cells
            .iter()
            .map(|(l, f)| {
                json!({"target": l, "p50_ms": f.p50_ms, "p99_ms": f.p99_ms,
                    "req_per_s": f.req_per_s, "cpu_per_request_us": f.cpu_us,
                    "bytes_per_answer": f.bytes_per_answer, "requests": f.requests,
                    "errors": f.errors})
            })
            .collect()
    };
    json!({
        "rows": rows.iter().map(|(c, cs)| json!({"concurrency": c, "targets": cells(cs)}))
            .collect::<Vec<_>>(),
        "ratios": ratios(rows).iter().map(|r| json!({
            "concurrency": r.concurrency, "relay": r.relay,
            "added_p50_ms": r.added_p50.0, "nginx_added_p50_ms": r.added_p50.1,
            "added_p50_ratio": r.added_p50_ratio(), "p99_ratio": r.p99,
            "req_per_s_ratio": r.req_per_s})).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(p50: f64, p99: f64, rps: f64, cpu: f64) -> Figures {
        Figures {
            p50_ms: p50,
            p99_ms: p99,
            req_per_s: rps,
            cpu_us: cpu,
            bytes_per_answer: Some(2955.0),
            requests: 100,
            errors: 0,
        }
    }

    fn rows() -> Rows {
        vec![
            (
                1,
                vec![
                    (DIRECT, f(0.1, 0.3, 7600.0, 95.0)),
                    ("nginx", f(0.2, 0.4, 5000.0, 60.0)),
                    (AIRELAYS, f(0.25, 0.7, 2650.0, 170.0)),
                ],
            ),
            (
                16,
                vec![
                    (DIRECT, f(1.0, 3.0, 14000.0, 90.0)),
                    ("nginx", f(1.6, 4.0, 9000.0, 40.0)),
                    (AIRELAYS, f(2.0, 9.0, 7000.0, 100.0)),
                ],
            ),
            (
                64,
                vec![
                    (DIRECT, f(5.0, 12.0, 10000.0, 80.0)),
                    ("nginx", f(5.8, 13.0, 9400.0, 30.0)),
                    (AIRELAYS, f(9.0, 22.0, 8500.0, 90.0)),
                ],
            ),
        ]
    }

    #[test]
    fn ratios_of_airelays_to_nginx() {
        let r = ratios(&rows());
        assert_eq!(r.len(), 3);
        assert!((r[0].added_p50_ratio() - 1.5).abs() < 1e-9, "{r:?}");
        assert!((r[1].p99 - 2.25).abs() < 1e-9);
        assert!((r[2].req_per_s - 8500.0 / 9400.0).abs() < 1e-9);
    }

    #[test]
    fn target_lines() {
        let t = targets(&rows());
        let line = |name: &str| t.iter().find(|(n, _, _)| n == name).unwrap().clone();
        // 0.15 vs 0.10 ms added: exactly 1.5×, met.
        let (_, fig, met) = line("added p50 ≤ 1.5× nginx's added p50 at concurrency 1");
        assert!(met, "{fig}");
        assert_eq!(fig, "1.50× (+0.150 vs +0.100 ms)");
        assert!(!line("added p50 ≤ 1.5× nginx's added p50 at concurrency 16").2);
        assert!(!line("p99 ≤ 2× nginx's p99 at concurrency 16").2);
        let (_, fig, met) = line("req/s ≥ 90% of nginx's at concurrency 64");
        assert_eq!((fig.as_str(), met), ("90%", true));
        let (_, fig, met) = line("relay CPU per request ≤ 50 µs at concurrency 16");
        assert_eq!((fig.as_str(), met), ("100 µs (nginx: 40 µs)", false));
    }

    #[test]
    fn table_shows_added_figures_and_ratios() {
        let mut md = String::new();
        table(&mut md, "Against nginx", &rows());
        assert!(
            md.contains("| 1 | nginx | 0.200 | +0.100 | 0.400 | +0.100 | 5000 | 60 | 2955 | 100 |"),
            "{md}"
        );
        assert!(md.contains("| 1 | direct | 0.100 | – |"), "{md}");
        assert!(
            md.contains("| 64 | airelays | 5.00× (+4.000 vs +0.800 ms) | 1.69× | 90% |"),
            "{md}"
        );
    }
}
