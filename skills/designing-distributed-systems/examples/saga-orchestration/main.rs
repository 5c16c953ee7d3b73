//! An order saga: create the order, reserve inventory, charge the payment, send the
//! confirmation; when a step fails every try, undo the ones done, newest first.
//!
//! ```sh
//! cargo run -p dsys-tx --example order_saga                 # SQLite, a fresh file
//! cargo run -p dsys-tx --example order_saga -- --postgres   # PostgreSQL
//! ```
//!
//! Four orders: one goes through; one is over the card's limit (declined twice, then
//! compensated); one has its payment's answer lost (tried again under the same key:
//! charged once); one is declined while the warehouse is offline, so releasing its stock
//! fails every try, waits for an operator, and is retried once the warehouse is back.

// Where the store lives and how the examples run and test (shared by the examples).
#[path = "../support/mod.rs"]
mod support;

use dsys_tx::{
    Database, Orchestrator, Participants, RetryPolicy, SagaDefinition,
    saga::{Action, Call, Outcome, Step},
};
use std::collections::BTreeMap;
use std::error::Error;
use std::io::Write;

type Result<T> = std::result::Result<T, Box<dyn Error + Send + Sync>>;

/// The services the saga calls, in process: each applies a key once and answers a
/// repeat as the first time.
#[derive(Debug, Default)]
struct Shop {
    stock: i64,
    card_limit: i64,
    warehouse_online: bool,
    /// Payments whose first answer gets lost on the way back.
    lose_answer_of: Vec<String>,
    answers: BTreeMap<String, Outcome>,
    charged: BTreeMap<String, i64>,
    emails: Vec<String>,
}

/// An order's data: "quantity,amount".
fn order_data(data: &[u8]) -> (i64, i64) {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.split(',').map(|p| p.parse().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0))
}

impl Participants for Shop {
    fn call(&mut self, call: &Call<'_>) -> Outcome {
        if let Some(first) = self.answers.get(&call.key) {
            return first.clone();
        }
        let (quantity, amount) = order_data(call.data);
        let outcome = match (call.step, call.action) {
            ("reserve-inventory", Action::Do) if self.stock < quantity => {
                Outcome::Failed("out of stock".into())
            }
            ("reserve-inventory", Action::Do) => {
                self.stock -= quantity;
                Outcome::Done(None)
            }
            ("reserve-inventory", Action::Undo) if !self.warehouse_online => {
                // Not recorded: the call never got through.
                return Outcome::Failed("warehouse offline".into());
            }
            ("reserve-inventory", Action::Undo) => {
                self.stock += quantity;
                Outcome::Done(None)
            }
            ("charge-payment", Action::Do) if amount > self.card_limit => {
                Outcome::Failed("card declined".into())
            }
            ("charge-payment", Action::Do) => {
                *self.charged.entry(call.saga.to_string()).or_default() += amount;
                Outcome::Done(None)
            }
            ("charge-payment", Action::Undo) => {
                self.charged.remove(call.saga);
                Outcome::Done(None)
            }
            ("send-confirmation", Action::Do) => {
                self.emails.push(format!("{}: confirmed", call.saga));
                Outcome::Done(None)
            }
            _ => Outcome::Done(None),
        };
        self.answers.insert(call.key.clone(), outcome.clone());
        if call.step == "charge-payment" {
            if let Some(i) = self.lose_answer_of.iter().position(|s| s == call.saga) {
                self.lose_answer_of.remove(i);
                return Outcome::Unknown("the payment service timed out".into());
            }
        }
        outcome
    }
}

fn order_saga<D: Database>(db: &D, out: &mut impl Write) -> Result<()> {
    let step = |name: &str| {
        Step::new(name)
            .retry(RetryPolicy::immediate(2))
            .compensation(RetryPolicy::immediate(3))
    };
    let sagas = Orchestrator::new().define(SagaDefinition::new(
        "order",
        vec![
            step("create-order"),
            step("reserve-inventory"),
            step("charge-payment"),
            step("send-confirmation").without_compensation(),
        ],
    ))?;
    let mut shop = Shop {
        stock: 10,
        card_limit: 500,
        warehouse_online: true,
        lose_answer_of: vec!["order-3".into()],
        ..Shop::default()
    };
    let orders = [
        ("order-1", "2,120"),
        ("order-2", "1,900"),
        ("order-3", "3,80"),
        ("order-4", "1,700"),
    ];
    for (id, data) in orders {
        // The saga starts in the transaction that accepts the order.
        db.transact(|sql| sagas.start(sql, id, "order", data.as_bytes(), 0))?;
        shop.warehouse_online = id != "order-4";
        let saga = sagas.advance(db, &mut shop, id, 0)?;
        writeln!(out, "{id} ({data}): {}", saga.status)?;
    }

    writeln!(out, "the warehouse is back; an operator retries order-4")?;
    shop.warehouse_online = true;
    sagas.retry(db, "order-4", 1)?;
    let saga = sagas.advance(db, &mut shop, "order-4", 1)?;
    writeln!(out, "order-4: {}", saga.status)?;

    for (id, _) in orders {
        writeln!(out, "{id} history:")?;
        for t in Orchestrator::history(db, id)? {
            writeln!(out, "  {:>2} {:<18} {}", t.version, t.status.name(), t.note)?;
        }
    }
    writeln!(out, "stock left: {} of 10", shop.stock)?;
    writeln!(out, "charged: {:?}", shop.charged)?;
    writeln!(out, "emails: {:?}", shop.emails)?;
    Ok(())
}

fn main() {
    run_example!("order_saga", order_saga);
}

test_example!("order_saga", order_saga, |out: &str| {
    for line in [
        "order-1 (2,120): completed",
        "order-2 (1,900): compensated",
        "order-3 (3,80): completed",
        "order-4 (1,700): needs-intervention",
        "order-4: compensated",
        "stock left: 5 of 10",
        r#"charged: {"order-1": 120, "order-3": 80}"#,
    ] {
        assert!(out.contains(line), "{line:?} missing from:\n{out}");
    }
});
