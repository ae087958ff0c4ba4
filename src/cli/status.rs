//! `airelays status`: the local status report (docs/status-json.md), human or JSON.

use clap::Args;

use super::output::{Section, yes_no};
use super::{CliResult, Context, Style, print_json};
use crate::status::{
    self, LimitsStatus, RelayTokenStatus, StatusDocument, StatusInputs, UploadsStatus,
    UpstreamStatus, UsageSnapshot,
};

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
    status::collect(&ctx.paths, &ctx.config, &ctx.env, inputs)
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
    Section::new("Relay")
        .row("State:", server)
        .row("Base URL:", doc.server.base_url.clone())
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

/// The last usage snapshot, one row per window.
fn usage_section(usage: &UsageSnapshot) -> Section {
    let mut sec = Section::new("Usage").row("Observed:", usage.observed_at.clone());
    for w in &usage.windows {
        sec = sec.row(
            &format!("{} min window:", w.window_minutes),
            format!("{:.1}% used, resets {}", w.used_percent, opt(&w.resets_at)),
        );
    }
    sec
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
