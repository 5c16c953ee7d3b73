//! Event sourcing: a bank account whose state is the sum of its events.
//!
//! ```sh
//! cargo run -p dsys-tx --example bank_account                 # SQLite, a fresh file
//! cargo run -p dsys-tx --example bank_account -- --postgres   # PostgreSQL
//! ```
//!
//! Two tellers withdraw from one account at once: both read balance 100 at the same
//! version; the store takes the first append and refuses the second (`WrongVersion`),
//! whose teller reloads, sees 30 left, and refuses the customer. A deposit sent twice
//! (a retry after a lost answer) is stored once. A snapshot saves replaying the stream.

// Where the store lives and how the examples run and test (shared by the examples).
#[path = "../support/mod.rs"]
mod support;

use dsys_tx::{
    Database, EventStore, Expected, NewEvent, RecordedEvent, Snapshot, SnapshotStore, StoreError,
};
use std::error::Error;
use std::io::Write;

type Result<T> = std::result::Result<T, Box<dyn Error + Send + Sync>>;

/// The account, as its events left it.
#[derive(Debug, Default)]
struct Account {
    balance: i64,
    /// The version of its last event: what a writer expects when it appends.
    version: Option<u64>,
}

/// The state schema of the snapshots (bump it when `Account` changes shape).
const SNAPSHOT_SCHEMA: u32 = 1;

impl Account {
    fn apply(&mut self, event: &RecordedEvent) -> Result<()> {
        let amount: i64 = std::str::from_utf8(&event.event.data)?.parse()?;
        match event.event.kind.as_str() {
            "Opened" | "Deposited" => self.balance += amount,
            "Withdrawn" => self.balance -= amount,
            other => return Err(format!("unknown event {other}").into()),
        }
        self.version = Some(event.version);
        Ok(())
    }

    /// The latest snapshot, then the events after it.
    fn load(db: &(impl SnapshotStore + EventStore), id: &str) -> Result<Account> {
        let mut account = Account::default();
        if let Some(s) = db.load_snapshot(id, SNAPSHOT_SCHEMA)? {
            account.balance = std::str::from_utf8(&s.data)?.parse()?;
            account.version = Some(s.version);
        }
        loop {
            let from = account.version.map_or(0, |v| v + 1);
            let events = db.read_stream(id, from, 100)?;
            if events.is_empty() {
                return Ok(account);
            }
            for e in &events {
                account.apply(e)?;
            }
        }
    }
}

/// Withdraw `amount` if the balance allows, retrying when another writer got there
/// first: `Ok(false)` if refused.
fn withdraw(
    db: &(impl SnapshotStore + EventStore),
    id: &str,
    amount: i64,
    event: u128,
) -> Result<bool> {
    loop {
        let account = Account::load(db, id)?;
        if account.balance < amount {
            return Ok(false);
        }
        let expected = account.version.map_or(Expected::NoStream, Expected::Exact);
        let withdrawn = [NewEvent::new(event, "Withdrawn", amount.to_string())];
        match db.append(id, expected, &withdrawn) {
            Ok(_) => return Ok(true),
            // Another teller appended since we loaded: load again and decide again.
            Err(StoreError::WrongVersion { .. }) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

fn bank_account<D: Database + SnapshotStore>(db: &D, out: &mut impl Write) -> Result<()> {
    let id = "account-42";
    db.append(id, Expected::NoStream, &[NewEvent::new(1, "Opened", "0")])?;
    let deposit = [NewEvent::new(2, "Deposited", "100")];
    let first = db.append(id, Expected::Exact(0), &deposit)?;
    // The teller's answer was lost; it sends the same deposit again.
    let again = db.append(id, Expected::Exact(0), &deposit)?;
    writeln!(
        out,
        "deposit of 100 sent twice: stored once (position {} both times: {})",
        first.first_position,
        first == again
    )?;

    // Two tellers withdraw 70 at once.
    let results: Vec<bool> = std::thread::scope(|s| {
        let tellers: Vec<_> = [10u128, 11]
            .into_iter()
            .map(|event| s.spawn(move || withdraw(db, id, 70, event)))
            .collect();
        tellers
            .into_iter()
            .map(|t| {
                t.join()
                    .map_err(|_| "a teller panicked")?
                    .map_err(|e| e.to_string())
            })
            .collect::<std::result::Result<_, String>>()
    })?;
    let paid = results.iter().filter(|&&ok| ok).count();
    writeln!(
        out,
        "two tellers withdraw 70 at once: {paid} paid, {} refused for lack of funds",
        results.len() - paid
    )?;

    let account = Account::load(db, id)?;
    let version = account.version.ok_or("no events")?;
    db.save_snapshot(&Snapshot {
        stream: id.to_string(),
        version,
        schema: SNAPSHOT_SCHEMA,
        data: account.balance.to_string().into_bytes(),
    })?;
    db.append(
        id,
        Expected::Exact(version),
        &[NewEvent::new(12, "Deposited", "5")],
    )?;
    let account = Account::load(db, id)?;
    writeln!(
        out,
        "snapshot at version {version}, then one more deposit of 5"
    )?;
    writeln!(
        out,
        "balance {} at version {:?}",
        account.balance, account.version
    )?;
    writeln!(out, "the stream:")?;
    for e in db.read_stream(id, 0, 100)? {
        writeln!(
            out,
            "  v{} @{} {} {}",
            e.version,
            e.position,
            e.event.kind,
            String::from_utf8_lossy(&e.event.data)
        )?;
    }
    Ok(())
}

fn main() {
    run_example!("bank_account", bank_account);
}

test_example!("bank_account", bank_account, |out: &str| {
    assert!(
        out.contains("stored once (position 2 both times: true)"),
        "{out}"
    );
    assert!(out.contains("1 paid, 1 refused"), "{out}");
    assert!(out.contains("balance 35 at version Some(3)"), "{out}");
});
