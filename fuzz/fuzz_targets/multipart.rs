//! `POST /v1/files` bodies: any bytes, in any chunking, are stored or refused with a
//! 4xx, never a panic; a refusal leaves nothing behind and a success is readable.
#![no_main]

use std::sync::OnceLock;

use airelays::files::{FileStore, UploadLimits};
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;

const CONTENT_TYPE: &str = "multipart/form-data; boundary=c9b0a1b2c3d4e5f6";

struct World {
    _dir: std::path::PathBuf,
    store: FileStore,
    rt: tokio::runtime::Runtime,
}

fn world() -> &'static World {
    static W: OnceLock<World> = OnceLock::new();
    W.get_or_init(|| {
        let dir =
            std::env::temp_dir().join(format!("airelays-fuzz-multipart-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = FileStore::open(
            &dir,
            UploadLimits {
                max_upload_bytes: 64 * 1024,
                max_total_upload_bytes: 256 * 1024,
            },
        )
        .expect("store");
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        World {
            _dir: dir,
            store,
            rt,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&size, body)) = data.split_first() else {
        return;
    };
    let size = usize::from(size % 32) + 1;
    let w = world();
    let chunks: Vec<Result<Bytes, std::io::Error>> = body
        .chunks(size)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    let stream = futures_util::stream::iter(chunks);
    let before = w.store.summary();
    let result = w.rt.block_on(w.store.upload(CONTENT_TYPE, stream));
    match result {
        Ok(obj) => {
            assert!(airelays::files::is_valid_id(&obj.id));
            assert!(
                !obj.filename.contains(['/', '\\']) && !obj.filename.chars().any(char::is_control)
            );
            let (_, bytes) =
                w.rt.block_on(w.store.read(&obj.id))
                    .expect("stored file is readable");
            assert_eq!(bytes.len() as u64, obj.bytes);
            w.rt.block_on(w.store.delete(&obj.id)).expect("delete");
        }
        Err(e) => {
            assert!((400..500).contains(&e.status()), "{e}");
        }
    }
    assert_eq!(w.store.summary(), before, "quota or files leaked");
});
