//! `airelays status`: the local report of spec §8, human or JSON.

use clap::Args;

use super::output::{Section, yes_no};
use super::{CliResult, Context, Style, print_json};
use crate::status::{self, StatusDocument, StatusInputs};

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Print one JSON object (schema: docs/status-json.md)
    #[arg(long)]
    pub json: bool,
}

/// Gathers the status document for this machine (no network).
pub fn gather(ctx: &Context) -> StatusDocument {
    let inputs = StatusInputs {
        upstream: crate::auth::local_status(&ctx.paths, &ctx.config),
        uploads: crate::files::summary_on_disk(&ctx.paths.uploads_dir()),
        live_server: None,
    };
    status::collect(&ctx.paths, &ctx.config, &ctx.env, inputs)
}

pub fn run(ctx: &Context, args: &StatusArgs) -> CliResult {
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

pub fn render(doc: &StatusDocument, style: &Style) -> String {
    let mut out = String::new();
    let ready = if doc.ready {
        style.green("ready")
    } else {
        style.yellow("not ready")
    };
    out.push_str(&format!("airelays {} — {}\n\n", doc.version, ready));

    let server = if doc.server.running {
        format!(
            "running (pid {}) since {}",
            doc.server.pid.map(|p| p.to_string()).unwrap_or_default(),
            opt(&doc.server.started_at)
        )
    } else {
        "not running".into()
    };
    out.push_str(
        &Section::new("Relay")
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
            .render(style),
    );
    out.push('\n');

    let t = &doc.relay_token;
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
    out.push_str(&sec.render(style));
    out.push('\n');

    let u = &doc.upstream;
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
    sec = sec.row("Credential store:", opt(&u.credential_store));
    out.push_str(&sec.render(style));
    out.push('\n');

    if let Some(usage) = &doc.usage {
        let mut sec = Section::new("Usage").row("Observed:", usage.observed_at.clone());
        for w in &usage.windows {
            sec = sec.row(
                &format!("{} min window:", w.window_minutes),
                format!("{:.1}% used, resets {}", w.used_percent, opt(&w.resets_at)),
            );
        }
        out.push_str(&sec.render(style));
        out.push('\n');
    }

    let l = &doc.limits;
    out.push_str(
        &Section::new("Limits")
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
            .render(style),
    );
    out.push('\n');
    let up = &doc.uploads;
    out.push_str(
        &Section::new("Uploads")
            .row("Stored:", format!("{} files, {} bytes", up.files, up.bytes))
            .row(
                "Limits:",
                format!(
                    "{} bytes per file, {} bytes in all",
                    up.max_upload_bytes, up.max_total_upload_bytes
                ),
            )
            .render(style),
    );
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
