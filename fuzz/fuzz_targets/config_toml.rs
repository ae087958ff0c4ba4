//! `Config::apply_toml` + `validate`: any text gives a config or an error naming the
//! problem, never a panic.
#![no_main]

use std::path::{Path, PathBuf};

use airelays::config::{Config, Paths};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let paths = Paths {
        config_file: PathBuf::from("/fuzz/config.toml"),
        data_dir: PathBuf::from("/fuzz/data"),
    };
    let mut config = Config::defaults(&paths);
    match config.apply_toml(text, Path::new("/fuzz/config.toml")) {
        Ok(()) => {
            let _ = config.validate();
            let _ = config.listens_on_loopback();
        }
        Err(e) => assert!(!e.0.is_empty()),
    }
});
