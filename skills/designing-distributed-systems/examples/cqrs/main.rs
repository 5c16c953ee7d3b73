//! CQRS: orders written as events, read from a model kept by a projection; the events
//! also leave through an outbox to a bus, where a consumer takes each once.
//!
//! ```sh
//! cargo run -p dsys-tx --example orders_cqrs                 # SQLite, a fresh file
//! cargo run -p dsys-tx --example orders_cqrs -- --postgres   # PostgreSQL
//! ```
//!
//! Each command appends its event and enqueues its message in one transaction. The
//! projection applies events with its checkpoint in the same transaction as the read
//! model. One event arrives malformed: it is retried, parked, and replayed after the
//! projection is fixed. The read model is then rebuilt beside the live one and swapped
//! in. The relay publishes the outbox in order per order; the relay runs twice over a
//! lost acknowledgement, and the consumer's inbox drops the copy.

// Where the store lives and how the examples run and test (shared by the examples).
#[path = "../support/mod.rs"]
mod support;

use dsys_tx::{
    Database, Expected, Inbox, MemoryBus, Message, NewEvent, Outbox, Projection, ProjectionError,
    Projector, RecordedEvent, Relay, RetryPolicy, Sql, StoreError, StreamAppend, Value,
    projection::Target,
};
use std::error::Error;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

type Result<T> = std::result::Result<T, Box<dyn Error + Send + Sync>>;

/// Orders by status, with their totals.
struct OrdersView {
    /// Whether the projection has learnt to read amounts with a currency sign (the fix).
    lenient: AtomicBool,
}

impl OrdersView {
    fn amount(&self, data: &[u8]) -> std::result::Result<i64, ProjectionError> {
        let text = String::from_utf8_lossy(data);
        let text = if self.lenient.load(Ordering::Relaxed) {
            text.trim_start_matches('$')
        } else {
            &text
        };
        text.parse()
            .map_err(|_| ProjectionError::Apply(format!("amount {text:?} is not a number")))
    }
}

impl Projection for OrdersView {
    fn name(&self) -> &str {
        "orders_view"
    }

    fn create(
        &self,
        sql: &mut dyn Sql,
        target: &Target,
    ) -> std::result::Result<(), ProjectionError> {
        sql.batch(&format!(
            "CREATE TABLE IF NOT EXISTS {} (
                 id TEXT PRIMARY KEY, status TEXT NOT NULL, total BIGINT NOT NULL)",
            target.table("orders")
        ))?;
        Ok(())
    }

    fn apply(
        &self,
        sql: &mut dyn Sql,
        target: &Target,
        event: &RecordedEvent,
    ) -> std::result::Result<(), ProjectionError> {
        let t = target.table("orders");
        let id = Value::Text(&event.stream);
        match event.event.kind.as_str() {
            "OrderPlaced" => {
                let total = self.amount(&event.event.data)?;
                sql.execute(
                    &format!("INSERT INTO {t} (id, status, total) VALUES ($1, 'placed', $2)"),
                    &[id, Value::Int(total)],
                )?;
            }
            "OrderShipped" => {
                sql.execute(
                    &format!("UPDATE {t} SET status = 'shipped' WHERE id = $1"),
                    &[id],
                )?;
            }
            "OrderCancelled" => {
                sql.execute(
                    &format!("UPDATE {t} SET status = 'cancelled' WHERE id = $1"),
                    &[id],
                )?;
            }
            _ => {}
        }
        Ok(())
    }

    fn drop(&self, sql: &mut dyn Sql, target: &Target) -> std::result::Result<(), ProjectionError> {
        sql.batch(&format!("DROP TABLE {}", target.table("orders")))?;
        Ok(())
    }
}

/// A command: append `kind` to the order's stream and enqueue its message, together.
fn command(db: &impl Database, order: &str, kind: &str, data: &str, id: u128) -> Result<()> {
    db.transact(|sql| {
        let event = [NewEvent::new(id, kind, data)];
        let expected = if kind == "OrderPlaced" {
            Expected::NoStream
        } else {
            Expected::StreamExists
        };
        sql.append_all(&[StreamAppend::new(order, expected, &event)])?;
        Outbox::enqueue(sql, &Message::new(id, "orders", order, kind), 0)?;
        Ok::<_, StoreError>(())
    })?;
    Ok(())
}

fn query(db: &impl Database, target: &Target) -> Result<Vec<String>> {
    let rows = db.transact(|sql| {
        sql.query(
            &format!(
                "SELECT id, status, total FROM {} ORDER BY id",
                target.table("orders")
            ),
            &[],
        )
    })?;
    rows.iter()
        .map(|r| Ok(format!("{} {} {}", r.text(0)?, r.text(1)?, r.int(2)?)))
        .collect()
}

fn orders_cqrs<D: Database>(db: &D, out: &mut impl Write) -> Result<()> {
    command(db, "order-1", "OrderPlaced", "120", 1)?;
    command(db, "order-2", "OrderPlaced", "$80", 2)?;
    command(db, "order-3", "OrderPlaced", "45", 3)?;
    command(db, "order-1", "OrderShipped", "", 4)?;
    command(db, "order-3", "OrderCancelled", "", 5)?;

    let view = OrdersView {
        lenient: AtomicBool::new(false),
    };
    let projector = Projector::new(
        &view,
        RetryPolicy::new(3, Duration::from_millis(1), Duration::from_millis(4)),
    );
    let progress = projector.run(db, &mut std::thread::sleep)?;
    writeln!(
        out,
        "projected {} events, parked {}",
        progress.applied, progress.parked
    )?;
    for p in projector.parked(db)? {
        writeln!(
            out,
            "  parked position {} after {} tries: {}",
            p.position, p.attempts, p.error
        )?;
    }
    let live = Target::active(db, "orders_view")?;
    writeln!(
        out,
        "read model (generation {}): {:?}",
        live.generation,
        query(db, &live)?
    )?;

    view.lenient.store(true, Ordering::Relaxed);
    let replayed = projector.replay_parked(db)?;
    writeln!(
        out,
        "fixed and replayed: {} applied, {} still parked",
        replayed.applied, replayed.still_parked
    )?;
    writeln!(out, "read model: {:?}", query(db, &live)?)?;

    let rebuilt = projector.rebuild(db, &mut std::thread::sleep)?;
    writeln!(
        out,
        "rebuilt beside it and swapped: generation {} {:?}",
        rebuilt.generation,
        query(db, &rebuilt)?
    )?;

    // The outbox: the relay publishes; its record of one pass is lost (it dies before
    // recording), so the next relay publishes that pass again once the lease runs out.
    let mut bus = MemoryBus::new();
    let relay = Relay::new("relay-a", Duration::from_secs(10), RetryPolicy::default()).batch(2);
    for c in relay.claim(db, 0)? {
        dsys_tx::Publisher::publish(&mut bus, &c.message)?;
    }
    writeln!(
        out,
        "relay-a published a batch and died before recording it"
    )?;
    let relay_b = Relay::new("relay-b", Duration::from_secs(10), RetryPolicy::default());
    let mut passes = 0;
    while Relay::lag(db, 10_000)?.pending > 0 {
        relay_b.relay(db, &mut bus, 10_000)?;
        passes += 1;
    }
    let published = bus.read("orders", 0, 100);
    writeln!(
        out,
        "relay-b delivered the rest in {passes} passes; the bus holds {} messages",
        published.len()
    )?;

    // The consumer takes each message once, however often it arrives.
    let mut taken = Vec::new();
    for m in &published {
        let first = db.transact(|sql| Inbox::receive(sql, "shipping", m.id, 0))?;
        if first {
            taken.push(format!("{}:{}", m.key, String::from_utf8_lossy(&m.payload)));
        }
    }
    writeln!(out, "shipping took {} messages: {:?}", taken.len(), taken)?;
    Ok(())
}

fn main() {
    run_example!("orders_cqrs", orders_cqrs);
}

test_example!("orders_cqrs", orders_cqrs, |out: &str| {
    for line in [
        "projected 4 events, parked 1",
        "fixed and replayed: 1 applied, 0 still parked",
        r#"read model: ["order-1 shipped 120", "order-2 placed 80", "order-3 cancelled 45"]"#,
        r#"generation 2 ["order-1 shipped 120", "order-2 placed 80", "order-3 cancelled 45"]"#,
        "the bus holds 7 messages",
        "shipping took 5 messages",
    ] {
        assert!(out.contains(line), "{line:?} missing from:\n{out}");
    }
});
