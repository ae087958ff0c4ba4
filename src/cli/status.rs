//! `airelays status`: the local status report (docs/status-json.md), human or JSON.

use clap::Args;

use super::output::{Section, yes_no};
use super::{CliResult, Context, Style, print_json};
use crate::status::{
    self, LimitsStatus, RelayTokenStatus, StatusDocument, StatusInputs, UploadsStatus,
    UpstreamStatus, UsageSnapshot,
};
use crate::upstream::usage::local_time;

#[derive(Debug, Args)]
pub(crate) struct StatusArgs {
    /// Print one JSON object (schema: docs/status-json.md)
    #[arg(long)]
    pub(crate) json: bool,
}

/// Gathers the status document for this machine (no network).
pub(crate) fn gather(ctx: &Context) -> StatusDocument {
    let inputs = StatusInputs {
        upstream: crate::auth::local_status(&ctx.paths, &ctx.config),
        uploads: crate::files::summary_on_disk(&ctx.paths.uploads_dir()),
        live_server: None,
        state: if ctx.config.state.enabled {
            crate::state::stats_on_disk(&ctx.paths.data_dir)
        } else {
            Ok(crate::state::Stats::default())
        },
    };
    let mut doc = status::collect(&ctx.paths, &ctx.config, &ctx.env, inputs);
    doc.set_accounts(
        ctx.config.accounts.strategy.as_str(),
        crate::auth::accounts::local_statuses(&ctx.paths, &ctx.config),
    );
    doc
}

/// Prints the status document, human or `--json`.
pub(crate) fn run(ctx: &Context, args: &StatusArgs) -> CliResult {
    let doc = gather(ctx);
    if args.json {
        return print_json(&doc);
    }
    out!("{}", render(&doc, &Style::stdout()));
    Ok(())
}

fn opt(v: &Option<String>) -> String {
    v.clone().unwrap_or_else(|| "—".into())
}

/// The human status report: a headline, then one section per subsystem.
pub(crate) fn render(doc: &StatusDocument, style: &Style) -> String {
    let ready = if doc.ready {
        style.green("ready")
    } else {
        style.yellow("not ready")
    };
    let mut out = format!("airelays {} — {}\n\n", doc.version, ready);
    out.push_str(&relay_section(doc).render(style));
    out.push('\n');
    out.push_str(&token_section(&doc.relay_token, style).render(style));
    out.push('\n');
    out.push_str(&upstream_section(&doc.upstream, style).render(style));
    out.push('\n');
    if let Some(usage) = &doc.usage {
        out.push_str(&usage_section(usage).render(style));
        out.push('\n');
    }
    out.push_str(&limits_section(&doc.limits).render(style));
    out.push('\n');
    out.push_str(&uploads_section(&doc.uploads).render(style));
    out.push('\n');
    out.push_str(&state_section(&doc.state).render(style));
    if let Some(accounts) = &doc.accounts {
        out.push('\n');
        out.push_str(&accounts_section(doc, accounts).render(style));
    }
    if !doc.next_steps.is_empty() {
        out.push('\n');
        out.push_str(&format!(
            "Next: {}\n",
            doc.next_steps
                .iter()
                .map(|s| format!("`{s}`"))
                .collect::<Vec<_>>()
                .join(", then ")
        ));
    }
    out
}

/// The signed-in accounts (shown only with two or more).
fn accounts_section(doc: &StatusDocument, accounts: &[status::AccountStatus]) -> Section {
    let title = format!(
        "Accounts ({})",
        doc.account_strategy.as_deref().unwrap_or("ordered")
    );
    accounts.iter().fold(Section::new(&title), |section, a| {
        let mut line = format!(
            "{} — {} ({})",
            a.upstream.state.as_str(),
            opt(&a.upstream.email),
            opt(&a.upstream.plan)
        );
        if let (Some(why), Some(secs)) = (&a.benched, a.benched_for_seconds) {
            line.push_str(&format!(", benched ({why}) for {secs} s"));
        }
        if !a.pooled {
            line.push_str(", not pooled");
        }
        section.row(&a.name, line)
    })
}

/// Whether the relay runs, where, and which config and data directory it uses.
fn relay_section(doc: &StatusDocument) -> Section {
    let server = if doc.server.running {
        format!(
            "running (pid {}) since {}",
            doc.server.pid.map(|p| p.to_string()).unwrap_or_default(),
            opt(&doc.server.started_at)
        )
    } else {
        "not running".into()
    };
    let mut section = Section::new("Relay")
        .row("State:", server)
        .row("Base URL:", doc.server.base_url.clone());
    if let Some(url) = &doc.server.ollama.url {
        let token = if doc.server.ollama.require_token {
            "with the relay token"
        } else {
            "/api/* without a token"
        };
        section = section.row("Ollama:", format!("{url} ({token})"));
    }
    section
        .row(
            "Config:",
            format!(
                "{}{}",
                doc.config.path,
                if doc.config.exists {
                    ""
                } else {
                    " (not created; defaults in use)"
                }
            ),
        )
        .row("Data dir:", doc.data_dir.clone())
        .row(
            "Service:",
            match (&doc.service.file, doc.service.installed) {
                (Some(file), true) => format!("installed ({file}; `airelays service status`)"),
                _ => "not installed (`airelays service install` starts it at login)".into(),
            },
        )
}

/// The relay token: required or not, present or missing, and its fingerprint.
fn token_section(t: &RelayTokenStatus, style: &Style) -> Section {
    let token_line = if !t.required {
        "not required (bearer auth disabled)".to_string()
    } else if t.present {
        format!(
            "present ({}, fingerprint {})",
            t.source,
            opt(&t.fingerprint)
        )
    } else {
        style.yellow("missing")
    };
    let mut sec = Section::new("Relay token").row("Relay token:", token_line);
    if !t.file.is_empty() {
        sec = sec.row("File:", t.file.clone());
    }
    sec
}

/// The upstream sign-in and its non-secret account facts.
fn upstream_section(u: &UpstreamStatus, style: &Style) -> Section {
    let mut sec = Section::new("Upstream session")
        .row("Ready:", yes_no(style, u.state.is_ready()))
        .row("State:", u.state.to_string());
    if let Some(detail) = &u.detail {
        sec = sec.row("Detail:", detail.clone());
    }
    if u.email.is_some() {
        sec = sec
            .row("Email:", opt(&u.email))
            .row("Plan:", opt(&u.plan))
            .row("Account id:", opt(&u.account_id))
            .row("Last refresh:", opt(&u.last_refresh))
            .row("Access expires:", opt(&u.access_expires_at));
    }
    sec.row("Credential store:", opt(&u.credential_store))
}

/// The plan's usage: one bar per window with the percent used and the local reset
/// time, and how old the figures are.
fn usage_section(usage: &UsageSnapshot) -> Section {
    let age = usage
        .observed_at
        .parse::<jiff::Timestamp>()
        .ok()
        .map(|t| {
            jiff::Timestamp::now()
                .as_second()
                .saturating_sub(t.as_second())
        })
        .map_or(String::new(), |s| format!(" ({} ago)", ago(s)));
    let source = if usage.source == "poll" {
        "usage endpoint"
    } else {
        "answer headers"
    };
    let mut sec = Section::new("Plan usage").row(
        "Observed:",
        format!("{}{age}, from the {source}", local_time(&usage.observed_at)),
    );
    if let Some(plan) = &usage.plan {
        sec = sec.row("Plan:", plan.clone());
    }
    for w in &usage.windows {
        let name = match &w.limit_name {
            Some(limit) => format!("{} {limit}:", w.id),
            None => format!("{}:", w.id),
        };
        let resets = w
            .resets_at
            .as_deref()
            .map_or("reset time unknown".into(), |t| {
                format!("resets {}", local_time(t))
            });
        sec = sec.row(
            &name,
            format!(
                "{} {:>5.1}% used, {resets}",
                bar(w.used_percent),
                w.used_percent
            ),
        );
    }
    if let Some(e) = &usage.poll_error {
        sec = sec.row("Last poll:", format!("failed: {e}"));
    }
    sec
}

/// `[#######.............]`: 20 cells, one per 5%.
fn bar(percent: f64) -> String {
    let filled = ((percent.clamp(0.0, 100.0) / 5.0).round()) as usize;
    format!("[{}{}]", "#".repeat(filled), ".".repeat(20 - filled))
}

/// `42 s`, `5 min`, `3 h`, `2 d`.
fn ago(seconds: i64) -> String {
    match seconds.max(0) {
        s if s < 60 => format!("{s} s"),
        s if s < 3_600 => format!("{} min", s / 60),
        s if s < 86_400 => format!("{} h", s / 3_600),
        s => format!("{} d", s / 86_400),
    }
}

/// The per-IP rate, concurrency and failed-auth limits.
fn limits_section(l: &LimitsStatus) -> Section {
    Section::new("Limits")
        .row(
            "Rate:",
            format!(
                "{}/min per IP, burst {}",
                l.rate_limit_per_minute, l.rate_limit_burst
            ),
        )
        .row(
            "Concurrency:",
            format!("{} per IP", l.concurrent_requests_per_ip),
        )
        .row(
            "Failed-auth ban:",
            format!(
                "{} failures in {} s block for {} s",
                l.failed_auth_max_attempts,
                l.failed_auth_window_seconds,
                l.failed_auth_block_seconds
            ),
        )
}

/// Stored uploads and their limits.
fn state_section(st: &crate::status::StateStatus) -> Section {
    let section = Section::new("Stored responses and conversations");
    if !st.enabled {
        return section.row("Store:", "off (state.enabled = false)".to_string());
    }
    let section = section.row("Database:", st.path.clone());
    if let Some(e) = &st.error {
        return section.row("Unavailable:", e.clone());
    }
    section
        .row(
            "Stored:",
            format!(
                "{} responses, {} conversations ({} items), {} bytes",
                st.responses, st.conversations, st.items, st.bytes
            ),
        )
        .row(
            "Limits:",
            format!(
                "{} bytes, {} days (state.max_bytes, state.retention_days)",
                st.max_bytes, st.retention_days
            ),
        )
}

fn uploads_section(up: &UploadsStatus) -> Section {
    Section::new("Uploads")
        .row("Stored:", format!("{} files, {} bytes", up.files, up.bytes))
        .row(
            "Limits:",
            format!(
                "{} bytes per file, {} bytes in all",
                up.max_upload_bytes, up.max_total_upload_bytes
            ),
        )
}
