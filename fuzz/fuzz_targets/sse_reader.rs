//! The upstream SSE reader: any bytes, split at any points, give the same events as
//! the whole input at once; nothing panics; raw bytes cover what was parsed.
#![no_main]

use airelays::upstream::sse::{SseEvent, SseReader};
use libfuzzer_sys::fuzz_target;

fn read_all(chunks: &[&[u8]]) -> Vec<SseEvent> {
    let mut reader = SseReader::new();
    let mut out = Vec::new();
    for chunk in chunks {
        reader.push(chunk);
        while let Some(ev) = reader
            .next_event()
            .expect("inputs here are far below the cap")
        {
            out.push(ev);
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    // The first byte picks a chunk size (1..=64), the rest is the stream.
    let Some((&size, stream)) = data.split_first() else {
        return;
    };
    let size = usize::from(size % 64) + 1;
    let whole = read_all(&[stream]);
    let chunks: Vec<&[u8]> = stream.chunks(size).collect();
    let split = read_all(&chunks);
    assert_eq!(whole.len(), split.len(), "event count depends on chunking");
    for (a, b) in whole.iter().zip(&split) {
        assert_eq!(a.event, b.event);
        assert_eq!(a.data, b.data);
    }
    let raw_total: usize = whole.iter().map(|e| e.raw.len()).sum();
    assert!(raw_total <= stream.len());
    for e in &whole {
        assert!(e.data.len() <= e.raw.len());
        let _ = e.event_type();
    }
});
