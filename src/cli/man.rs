//! The man pages under `man/`, generated from the clap definitions with
//! `clap_mangen` (a dev-dependency: the pages are committed, not built at run
//! time). A test keeps them current; regenerate with
//! `AIRELAYS_UPDATE_MAN=1 cargo test --lib man_pages`. Install with
//! `install -Dm644 man/*.1 -t ~/.local/share/man/man1/`.

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use crate::cli::Cli;

    /// Every page: `airelays.1`, then one per subcommand (`airelays-service-install.1`).
    fn pages() -> Vec<(String, Vec<u8>)> {
        fn walk(cmd: clap::Command, out: &mut Vec<(String, Vec<u8>)>) {
            for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
                walk(sub.clone(), out);
            }
            let man = clap_mangen::Man::new(cmd);
            let mut page = Vec::new();
            man.render(&mut page).expect("render a man page");
            out.push((man.get_filename(), page));
        }
        let mut cmd = Cli::command().disable_help_subcommand(true);
        cmd.build();
        let mut out = Vec::new();
        walk(cmd, &mut out);
        out.sort();
        out
    }

    #[test]
    fn committed_man_pages_are_current() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("man");
        let pages = pages();
        if std::env::var_os("AIRELAYS_UPDATE_MAN").is_some() {
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            for (name, page) in &pages {
                std::fs::write(dir.join(name), page).unwrap();
            }
        }
        let stale = "regenerate with `AIRELAYS_UPDATE_MAN=1 cargo test --lib man_pages`";
        let mut committed: Vec<String> = std::fs::read_dir(&dir)
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        committed.sort();
        let names: Vec<String> = pages.iter().map(|(n, _)| n.clone()).collect();
        assert_eq!(committed, names, "man/ lists other pages — {stale}");
        for (name, page) in &pages {
            let have = std::fs::read(dir.join(name)).unwrap_or_default();
            assert!(&have == page, "man/{name} is stale — {stale}");
        }
        assert!(names.contains(&"airelays-service-install.1".to_string()));
    }
}
