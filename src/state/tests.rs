//! Unit tests of the store: read-your-writes through [`Pending`], deletion that
//! keeps a chain whole, eviction of whole chains, conversation turns.

use serde_json::{Value, json};

use super::evict::{delete_response, enforce, exists};
use super::pending::{Answer, Parts, Pending, Record};
use super::writer::write_record;
use super::{Settings, StateError, conversations, now_ms, responses, schema};

fn record(id: &str, previous: Option<&str>, root: &str, text: &str, ms: i64) -> Record {
    let input = vec![
        json!({"type": "message", "id": format!("msg_in_{id}"), "role": "user", "content": [{"type": "input_text", "text": text}]}),
    ];
    let output = vec![
        json!({"type": "message", "id": format!("msg_out_{id}"), "role": "assistant", "content": [{"type": "output_text", "text": "pong"}]}),
    ];
    Record {
        seq: 0,
        id: id.into(),
        keep: true,
        previous: previous.map(String::from),
        root: root.into(),
        conversation: None,
        created_ms: ms,
        model: "m".into(),
        status: "completed".into(),
        input,
        answer: Answer::parsed(Parts {
            output,
            object: json!({"id": id, "object": "response"}),
        }),
        bytes: 200 + text.len() as u64,
    }
}

fn texts(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|i| i["content"][0]["text"].as_str().unwrap_or("").to_owned())
        .collect()
}

fn db() -> (tempfile::TempDir, rusqlite::Connection) {
    let dir = tempfile::tempdir().unwrap();
    let (conn, _) = schema::open(&dir.path().join("state.sqlite3")).unwrap();
    (dir, conn)
}

#[test]
fn a_chain_reads_written_and_queued_links_and_a_deleted_link_keeps_it_whole() {
    let (_dir, mut conn) = db();
    let now = now_ms();
    write_record(&mut conn, &record("r1", None, "r1", "one", now)).unwrap();
    write_record(&mut conn, &record("r2", Some("r1"), "r1", "two", now)).unwrap();
    let pending = Pending::default();
    pending.push(record("r3", Some("r2"), "r1", "three", now), u64::MAX);
    let chain = responses::chain(&conn, &pending, "r3", u64::MAX).unwrap();
    assert_eq!(
        texts(&chain.items),
        ["one", "pong", "two", "pong", "three", "pong"]
    );
    assert_eq!(chain.root, "r1");
    assert!(matches!(
        responses::chain(&conn, &pending, "r3", 100),
        Err(StateError::TooLarge(_))
    ));

    // Deletes run on the writer after what was queued before them.
    write_record(&mut conn, &record("r3", Some("r2"), "r1", "three", now)).unwrap();
    delete_response(&mut conn, "r2").unwrap();
    assert!(matches!(
        responses::get(&conn, &pending, "r2"),
        Err(StateError::NotFound)
    ));
    assert!(matches!(
        responses::chain(&conn, &Pending::default(), "r2", u64::MAX),
        Err(StateError::NotFound)
    ));
    assert!(exists(&conn, "r2"), "kept for its successor");
    let chain = responses::chain(&conn, &pending, "r3", u64::MAX).unwrap();
    assert_eq!(chain.items.len(), 6);
    assert!(matches!(
        delete_response(&mut conn, "r2"),
        Err(StateError::NotFound)
    ));

    // The last successor goes: the deleted links above it go too.
    delete_response(&mut conn, "r1").unwrap();
    delete_response(&mut conn, "r3").unwrap();
    assert!(!exists(&conn, "r3") && !exists(&conn, "r2") && !exists(&conn, "r1"));
    let left: i64 = conn
        .query_row("SELECT count(*) FROM response_items", [], |r| r.get(0))
        .unwrap();
    assert_eq!(left, 0);
}

#[test]
fn a_written_response_counts_the_bytes_of_its_json_text() {
    let (_dir, mut conn) = db();
    let r = record("r1", None, "r1", "counted", now_ms());
    write_record(&mut conn, &r).unwrap();
    let stored: i64 = conn
        .query_row("SELECT bytes FROM responses WHERE id = 'r1'", [], |row| {
            row.get(0)
        })
        .unwrap();
    let text: i64 = conn
        .query_row(
            "SELECT (SELECT length(object) FROM responses WHERE id = 'r1')
                  + (SELECT sum(length(item)) FROM response_items)",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(stored, text);
    assert_eq!(stored as u64, r.stored_bytes());
}

#[test]
fn eviction_takes_whole_chains_oldest_newest_turn_first() {
    let (_dir, mut conn) = db();
    let now = now_ms();
    // Chain a: newest turn 1 s ago; chain b: older start, but newest turn now.
    write_record(&mut conn, &record("b1", None, "b1", "b one", now - 5000)).unwrap();
    write_record(&mut conn, &record("a1", None, "a1", "a one", now - 3000)).unwrap();
    write_record(
        &mut conn,
        &record("a2", Some("a1"), "a1", "a two", now - 1000),
    )
    .unwrap();
    write_record(&mut conn, &record("b2", Some("b1"), "b1", "b two", now)).unwrap();
    let total = super::evict::total_bytes(&conn).unwrap();
    let settings = Settings {
        max_bytes: total - 1,
        retention_days: 30,
    };
    enforce(&mut conn, &settings).unwrap();
    assert!(
        !exists(&conn, "a1") && !exists(&conn, "a2"),
        "chain a went whole"
    );
    assert!(exists(&conn, "b1") && exists(&conn, "b2"));

    // Retention: a chain whose newest turn is older than the cutoff goes.
    write_record(
        &mut conn,
        &record("old", None, "old", "old", now - 40 * 86_400_000),
    )
    .unwrap();
    let settings = Settings {
        max_bytes: u64::MAX,
        retention_days: 30,
    };
    enforce(&mut conn, &settings).unwrap();
    assert!(!exists(&conn, "old") && exists(&conn, "b2"));
}

#[test]
fn a_conversation_turn_is_appended_with_its_response_and_read_before_it_is_written() {
    let (_dir, mut conn) = db();
    let conv = conversations::create(
        &mut conn,
        &serde_json::Map::new(),
        &[json!({"role": "user", "content": "seed"})],
    )
    .unwrap();
    let id = conv["id"].as_str().unwrap().to_owned();
    let mut r = record("r1", None, "r1", "hello", now_ms());
    r.conversation = Some(id.clone());
    let pending = Pending::default();
    let queued = pending.push(r, u64::MAX).unwrap();
    let prefix = conversations::prefix(&conn, &pending, &id, u64::MAX).unwrap();
    assert_eq!(texts(&prefix), ["seed", "hello", "pong"]);
    write_record(&mut conn, &queued).unwrap();
    // Written but still queued: not counted twice.
    let prefix = conversations::prefix(&conn, &pending, &id, u64::MAX).unwrap();
    assert_eq!(prefix.len(), 3);
    pending.remove(queued.seq);
    assert_eq!(
        conversations::prefix(&conn, &pending, &id, u64::MAX)
            .unwrap()
            .len(),
        3
    );
}

#[test]
fn a_batch_commits_together_and_drops_a_failing_response_alone() {
    use std::sync::{Arc, Mutex};
    let (_dir, mut conn) = db();
    let now = now_ms();
    let shared = super::writer::Shared {
        pending: Arc::new(Pending::default()),
        counters: Arc::new(super::Counters::default()),
        stats: Arc::new(Mutex::new(super::Stats::default())),
    };
    write_record(&mut conn, &record("dup", None, "dup", "first", now)).unwrap();
    let batch: Vec<Arc<Record>> = [
        record("b1", None, "b1", "one", now),
        record("dup", None, "dup", "again", now),
        record("b2", Some("b1"), "b1", "two", now),
    ]
    .into_iter()
    .map(|r| shared.pending.push(r, u64::MAX).unwrap())
    .collect();
    let written = super::writer::write_batch(&mut conn, &batch, &shared);
    assert!(written > 0);
    assert!(exists(&conn, "b1") && exists(&conn, "b2"));
    let counters = &shared.counters;
    use std::sync::atomic::Ordering::Relaxed;
    assert_eq!(
        (
            counters.written.load(Relaxed),
            counters.dropped.load(Relaxed)
        ),
        (2, 1)
    );
    assert_eq!(shared.pending.len(), 0, "every response left the queue");
    let chain = responses::chain(&conn, &shared.pending, "b2", u64::MAX).unwrap();
    assert_eq!(texts(&chain.items), ["one", "pong", "two", "pong"]);
}
