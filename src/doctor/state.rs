//! `state_store`: the local store of responses and conversations
//! (docs/architecture.md, "The state store") passes SQLite's full integrity
//! check — the check the relay itself leaves out of its start-up.

use super::{Check, Probe, blocking};

const ID: &str = "state_store";

/// The full `integrity_check` of `<data_dir>/state.sqlite3`, on a blocking thread.
pub(super) async fn state_store(probe: &Probe) -> Check {
    if !probe.config.state.enabled {
        return Check::ok(ID, "off (state.enabled = false): nothing is stored");
    }
    let data_dir = probe.paths.data_dir.clone();
    let work = move || {
        let path = data_dir.join(crate::state::FILE_NAME);
        if !path.exists() {
            return Check::ok(ID, format!("{} does not exist yet", path.display()));
        }
        let checked = crate::state::check_on_disk(&data_dir)
            .and_then(|()| crate::state::stats_on_disk(&data_dir));
        match checked {
            Ok(stats) => Check::ok(
                ID,
                format!(
                    "{} passes its integrity check: {} responses, {} conversations, {} bytes",
                    path.display(),
                    stats.responses,
                    stats.conversations,
                    stats.bytes
                ),
            ),
            Err(e) => Check::fail(ID, format!("{} cannot be used", path.display()), e),
        }
    };
    match blocking(ID, work).await {
        Ok(check) | Err(check) => check,
    }
}
