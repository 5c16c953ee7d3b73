//! The outbox relay publishing to a real NATS JetStream, started by `scripts/services.sh`
//! through `dsys-services`.

#![cfg(feature = "nats")]
#![allow(clippy::unwrap_used)] // tests and their helpers may panic

use dsys_services::{Kind, Server};
use dsys_tx::{
    Database, JetStream, Message, Outbox, Publisher, Relay, RetryPolicy, SqliteStore, StoreError,
};
use std::time::Duration;

fn store(name: &str) -> SqliteStore {
    let path = std::env::temp_dir().join(format!("dsys-nats-{}-{name}.db", std::process::id()));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    SqliteStore::open(path).unwrap()
}

fn connect(server: &Server) -> JetStream {
    JetStream::connect(&server.addr().to_string(), Duration::from_secs(5)).unwrap()
}

#[test]
fn the_relay_publishes_the_outbox_to_jetstream_in_order_and_a_resend_is_stored_once() {
    let Some(server) = Server::start(Kind::Nats) else {
        return;
    };
    let mut js = connect(&server);
    js.create_stream("ORDERS", &["orders.>"]).unwrap();
    js.create_stream("ORDERS", &["orders.>"]).unwrap(); // again, alike: kept

    let db = store("relay");
    let placed = Message::new(1, "orders.placed", "order-1", "placed");
    let messages = [
        placed.clone(),
        Message::new(2, "orders.placed", "order-2", "placed"),
        Message::new(3, "orders.shipped", "order-1", "shipped").caused_by(&placed),
    ];
    db.transact(|sql| {
        for m in &messages {
            Outbox::enqueue(sql, m, 0)?;
        }
        Ok::<_, StoreError>(())
    })
    .unwrap();
    let relay = Relay::new("relay", Duration::from_secs(30), RetryPolicy::immediate(3));
    let mut delivered = 0;
    while Relay::lag(&db, 0).unwrap().pending > 0 {
        delivered += relay.relay(&db, &mut js, 0).unwrap().delivered;
    }
    assert_eq!(delivered, 3);
    assert_eq!(js.stream_messages("ORDERS").unwrap(), 3);

    let stored: Vec<_> = (1..=3).map(|seq| js.get("ORDERS", seq).unwrap()).collect();
    let of_order_1: Vec<_> = stored
        .iter()
        .filter(|m| m.header("Dsys-Key") == Some("order-1"))
        .map(|m| m.data.as_slice())
        .collect();
    assert_eq!(
        of_order_1,
        [b"placed".as_slice(), b"shipped"],
        "in order per key"
    );
    let shipped = stored
        .iter()
        .find(|m| m.subject == "orders.shipped")
        .unwrap();
    assert_eq!(
        shipped.header("Nats-Msg-Id"),
        Some(format!("{:032x}", 3).as_str())
    );
    assert_eq!(
        shipped.header("Dsys-Correlation"),
        Some(format!("{:032x}", 1).as_str()),
        "the flow the placed order started"
    );
    assert_eq!(
        shipped.header("Dsys-Causation"),
        Some(format!("{:032x}", 1).as_str())
    );

    // A relay that died before recording publishes again: JetStream keeps one copy.
    js.publish(&messages[0]).unwrap();
    assert_eq!(js.stream_messages("ORDERS").unwrap(), 3);
}

#[test]
fn a_subject_without_a_stream_or_a_server_gone_is_a_retry_not_a_loss() {
    let Some(server) = Server::start(Kind::Nats) else {
        return;
    };
    let mut js = connect(&server);
    js.create_stream("ORDERS", &["orders.>"]).unwrap();
    let db = store("refused");
    db.transact(|sql| Outbox::enqueue(sql, &Message::new(9, "nowhere.x", "k", "lost?"), 0))
        .unwrap();
    let relay = Relay::new("relay", Duration::from_secs(30), RetryPolicy::immediate(5));
    let report = relay.relay(&db, &mut js, 0).unwrap();
    assert_eq!((report.delivered, report.retried), (0, 1));
    assert!(
        js.publish(&Message::new(10, "bad subject", "k", "x"))
            .is_err()
    );

    server.stop();
    let gone = js.publish(&Message::new(11, "orders.placed", "k", "x"));
    assert!(gone.is_err(), "a server gone is an error: {gone:?}");
    assert_eq!(
        Relay::lag(&db, 0).unwrap().pending,
        1,
        "still in the outbox"
    );
}
