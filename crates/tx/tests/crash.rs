//! Crash tests: a real process, killed with SIGKILL at every point where it persists
//! something, then restarted until the work is done; after that, every guarantee holds.
//!
//! The child (this test binary, run again on the ignored test `child`) plays a small
//! shop on SQLite files in one directory:
//! - `service.db`: the order service — for each order, one transaction appends
//!   `OrderPlaced`, enqueues an outbox message and starts the order saga; a plain append
//!   notes each order (the store's group-commit path); an orders read model is
//!   projected; the relay publishes the outbox; the orchestrator drives the sagas.
//! - `participants.db`: the services the saga calls, each effect recorded once per
//!   idempotency key (some answers are lost, some payments declined).
//! - `consumer.db`: the receiver of the outbox messages, behind an inbox.
//!
//! Every transaction commit and every append is a persistence point, counted before and
//! after it; the child told to stop at point N prints it and waits to be killed. The
//! parent kills it there, restarts it (the same program, which resumes the work) until
//! a run finishes, then checks: every saga completed or compensated (never both, none
//! stuck), each participant effect applied at most once and compensations matching,
//! every outbox message delivered and taken once, the read model equal to a rebuild
//! from scratch, every noted order stored once.

#![allow(clippy::unwrap_used)] // tests and their helpers may panic

use dsys_tx::{
    Appended, Database, EventStore, Expected, Inbox, Message, NewEvent, Orchestrator, Outbox,
    Participants, Projection, ProjectionError, Projector, PublishError, Publisher, RecordedEvent,
    Relay, RetryPolicy, SagaDefinition, Sql, SqliteStore, StoreError, StreamAppend, Value,
    projection::Target,
    saga::{Action, Call, Outcome, Status, Step},
};
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Orders per run.
const ORDERS: u64 = 6;

// ---------------------------------------------------------------- the child's world

/// Persistence points passed so far in this process.
static POINTS: AtomicU64 = AtomicU64::new(0);

/// Count a persistence point; at the one the parent named, say so and wait for SIGKILL.
fn point() {
    let n = POINTS.fetch_add(1, Ordering::SeqCst) + 1;
    let stop_at = std::env::var("DSYS_CRASH_AT")
        .ok()
        .and_then(|v| v.parse::<u64>().ok());
    if stop_at == Some(n) {
        // On a line of its own: the test harness may have begun one.
        println!("\ncrash-point {n}");
        std::io::stdout().flush().unwrap();
        loop {
            std::thread::park();
        }
    }
}

/// A store whose every commit and append is a persistence point, before and after.
struct Crashing<'a, S>(&'a S);

impl<S: Database> EventStore for Crashing<'_, S> {
    fn append_all(&self, appends: &[StreamAppend<'_>]) -> Result<Vec<Appended>, StoreError> {
        point();
        let done = self.0.append_all(appends);
        point();
        done
    }

    fn read_stream(
        &self,
        s: &str,
        from: u64,
        max: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.0.read_stream(s, from, max)
    }

    fn read_all(&self, from: u64, max: usize) -> Result<Vec<RecordedEvent>, StoreError> {
        self.0.read_all(from, max)
    }

    fn stream_version(&self, stream: &str) -> Result<Option<u64>, StoreError> {
        self.0.stream_version(stream)
    }
}

impl<S: Database> Database for Crashing<'_, S> {
    fn dialect(&self) -> dsys_tx::Dialect {
        self.0.dialect()
    }

    fn transact<T, E: From<StoreError>>(
        &self,
        work: impl FnOnce(&mut dyn Sql) -> Result<T, E>,
    ) -> Result<T, E> {
        let done = self.0.transact(|sql| {
            let done = work(sql)?;
            // Written, not committed: a kill here must leave none of it.
            point();
            Ok(done)
        });
        point();
        done
    }
}

/// Where a run keeps its three databases.
#[derive(Clone, Debug)]
enum Place {
    /// SQLite files in this directory.
    Files(PathBuf),
    /// Schemas `PREFIX_service`, `PREFIX_participants`, `PREFIX_consumer` on the
    /// PostgreSQL server these parameters name.
    Postgres { server: String, prefix: String },
}

const DATABASES: [&str; 3] = ["service", "participants", "consumer"];

impl Place {
    /// Tell a child where its databases are.
    fn pass_to(&self, child: &mut Command) {
        match self {
            Place::Files(dir) => child.env("DSYS_CRASH_DIR", dir),
            Place::Postgres { server, prefix } => child
                .env("DSYS_CRASH_PG", server)
                .env("DSYS_CRASH_PG_PREFIX", prefix),
        };
    }

    /// Where the parent said (in the child).
    fn from_env() -> Place {
        match std::env::var("DSYS_CRASH_PG") {
            Ok(server) => Place::Postgres {
                server,
                prefix: std::env::var("DSYS_CRASH_PG_PREFIX").unwrap(),
            },
            Err(_) => Place::Files(PathBuf::from(std::env::var("DSYS_CRASH_DIR").unwrap())),
        }
    }

    /// Run `f` on the three databases, whichever backend they are on.
    fn run(&self, f: impl Job) {
        match self {
            Place::Files(dir) => {
                let [s, p, c] = DATABASES
                    .map(|name| SqliteStore::open(dir.join(format!("{name}.db"))).unwrap());
                f.on(&s, &p, &c)
            }
            Place::Postgres { server, prefix } => {
                let [s, p, c] = DATABASES.map(|name| {
                    let schema = format!("options='-c search_path={prefix}_{name}'");
                    dsys_tx::PostgresStore::open(&format!("{server} {schema}")).unwrap()
                });
                f.on(&s, &p, &c)
            }
        }
    }
}

/// Something done on the three databases of a [`Place`], on either backend.
trait Job {
    fn on<D: Database>(self, service: &D, participants: &D, consumer: &D);
}

/// The orders read model: events per order stream and kind.
struct Orders;

impl Projection for Orders {
    fn name(&self) -> &str {
        "orders"
    }

    fn create(&self, sql: &mut dyn Sql, target: &Target) -> Result<(), ProjectionError> {
        sql.batch(&format!(
            "CREATE TABLE IF NOT EXISTS {} (
                 stream TEXT NOT NULL, kind TEXT NOT NULL, n BIGINT NOT NULL,
                 PRIMARY KEY (stream, kind))",
            target.table("orders")
        ))?;
        Ok(())
    }

    fn apply(
        &self,
        sql: &mut dyn Sql,
        target: &Target,
        event: &RecordedEvent,
    ) -> Result<(), ProjectionError> {
        let t = target.table("orders");
        sql.execute(
            &format!(
                "INSERT INTO {t} (stream, kind, n) VALUES ($1, $2, 1)
                 ON CONFLICT (stream, kind) DO UPDATE SET n = {t}.n + 1"
            ),
            &[Value::Text(&event.stream), Value::Text(&event.event.kind)],
        )?;
        Ok(())
    }

    fn drop(&self, sql: &mut dyn Sql, target: &Target) -> Result<(), ProjectionError> {
        sql.batch(&format!("DROP TABLE {}", target.table("orders")))?;
        Ok(())
    }
}

fn order_saga() -> Orchestrator {
    let step = |name: &str| {
        Step::new(name)
            .retry(RetryPolicy::immediate(2))
            .compensation(RetryPolicy::immediate(5))
            .timeout(Duration::from_secs(3_600))
    };
    Orchestrator::new()
        .define(SagaDefinition::new(
            "order",
            vec![
                step("create-order"),
                step("reserve-inventory"),
                step("charge-payment"),
                step("send-confirmation").without_compensation(),
            ],
        ))
        .unwrap()
}

const PARTICIPANT_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS answers (key TEXT PRIMARY KEY, outcome TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS effects (
    saga TEXT NOT NULL, step TEXT NOT NULL, action TEXT NOT NULL, key TEXT NOT NULL);
";

/// The services the saga calls, keeping their effects in their own database. Payments of
/// every third order are declined; the first answer of every second reservation is lost
/// (applied, but the caller hears nothing).
struct Services<'a, D> {
    db: &'a Crashing<'a, D>,
}

impl<D: Database> Participants for Services<'_, D> {
    fn call(&mut self, call: &Call<'_>) -> Outcome {
        let order: u64 = call.saga.trim_start_matches("order-").parse().unwrap();
        let action = match call.action {
            Action::Do => "do",
            Action::Undo => "undo",
        };
        let answer = self.db.transact(|sql| {
            if let Some(first) = sql.query_opt(
                "SELECT outcome FROM answers WHERE key = $1",
                &[Value::Text(&call.key)],
            )? {
                return Ok::<_, StoreError>((first.text(0)?, true));
            }
            let outcome = match (call.step, call.action) {
                ("charge-payment", Action::Do) if order % 3 == 0 => "failed",
                (_, Action::Undo) => {
                    // Undo only what was done; undoing nothing is fine.
                    let done = sql.query_opt(
                        "SELECT 1 FROM effects WHERE saga = $1 AND step = $2 AND action = 'do'",
                        &[Value::Text(call.saga), Value::Text(call.step)],
                    )?;
                    if done.is_some() {
                        record(sql, call, action)?;
                    }
                    "done"
                }
                _ => {
                    record(sql, call, action)?;
                    "done"
                }
            };
            sql.execute(
                "INSERT INTO answers (key, outcome) VALUES ($1, $2)",
                &[Value::Text(&call.key), Value::Text(outcome)],
            )?;
            Ok((outcome.to_string(), false))
        });
        match answer {
            Ok((o, _)) if o == "failed" => Outcome::Failed("declined".into()),
            Ok((_, false)) if call.step == "reserve-inventory" && order % 2 == 1 => {
                Outcome::Unknown("the answer was lost".into())
            }
            Ok(_) => Outcome::Done(None),
            Err(e) => Outcome::Unknown(e.to_string()),
        }
    }
}

fn record(sql: &mut dyn Sql, call: &Call<'_>, action: &str) -> Result<(), StoreError> {
    sql.execute(
        "INSERT INTO effects (saga, step, action, key) VALUES ($1, $2, $3, $4)",
        &[
            Value::Text(call.saga),
            Value::Text(call.step),
            Value::Text(action),
            Value::Text(&call.key),
        ],
    )?;
    Ok(())
}

/// The receiver of the outbox's messages: each taken once, through its inbox.
struct Consumer<'a, D> {
    db: &'a Crashing<'a, D>,
}

impl<D: Database> Publisher for Consumer<'_, D> {
    fn publish(&mut self, message: &Message) -> Result<(), PublishError> {
        self.db
            .transact(|sql| {
                if Inbox::receive(sql, "consumer", message.id, 0)? {
                    sql.execute(
                        "INSERT INTO received (id, key) VALUES ($1, $2)",
                        &[Value::Int(message.id as i64), Value::Text(&message.key)],
                    )?;
                }
                Ok::<_, StoreError>(())
            })
            .map_err(|e| PublishError::transient(e.to_string()))
    }
}

/// The whole job, from wherever the last run stopped; `epoch_ms` is this run's clock
/// (each run later than the last, so a dead run's leases have run out).
fn work<D: Database>(
    service: &Crashing<'_, D>,
    participants: &Crashing<'_, D>,
    consumer: &Crashing<'_, D>,
    epoch_ms: u64,
) {
    participants
        .0
        .transact(|sql| sql.batch(PARTICIPANT_SCHEMA))
        .unwrap();
    consumer
        .0
        .transact(|sql| {
            sql.batch("CREATE TABLE IF NOT EXISTS received (id BIGINT NOT NULL, key TEXT NOT NULL)")
        })
        .unwrap();
    let sagas = order_saga();

    for i in 0..ORDERS {
        let stream = format!("order-{i}");
        // Place the order: its event, its message and its saga, all or nothing.
        service
            .transact(|sql| {
                if sql
                    .query_opt("SELECT 1 FROM sagas WHERE id = $1", &[Value::Text(&stream)])?
                    .is_some()
                {
                    return Ok(());
                }
                let placed = [NewEvent::new(u128::from(i) + 1, "OrderPlaced", "cart")];
                sql.append_all(&[StreamAppend::new(&stream, Expected::NoStream, &placed)])?;
                let message = Message::new(u128::from(i) + 1, "orders", &stream, "placed");
                Outbox::enqueue(sql, &message, epoch_ms)?;
                sagas
                    .start(sql, &stream, "order", b"cart", epoch_ms)
                    .map_err(|e| StoreError::Storage(e.to_string()))?;
                Ok::<_, StoreError>(())
            })
            .unwrap();
        // A plain append, resent as is after a crash: stored once.
        let noted = [NewEvent::new(1_000 + u128::from(i), "OrderNoted", "note")];
        service
            .append(&format!("notes-{i}"), Expected::Any, &noted)
            .unwrap();
    }

    Projector::new(&Orders, RetryPolicy::immediate(3))
        .page(4)
        .run(service, &mut |_| {})
        .unwrap();

    let relay = Relay::new("relay", Duration::from_secs(30), RetryPolicy::immediate(10)).batch(4);
    let mut publisher = Consumer { db: consumer };
    while Relay::lag(service, epoch_ms).unwrap().pending > 0 {
        let pass = relay.relay(service, &mut publisher, epoch_ms).unwrap();
        // A pass that moves nothing while messages wait: leased to a run whose lease has
        // not run out (each run's clock must be past the last one's leases).
        assert!(
            pass.delivered + pass.retried + pass.dead > 0,
            "the relay is stuck"
        );
    }

    let mut services = Services { db: participants };
    while sagas.run_due(service, &mut services, epoch_ms).unwrap() > 0 {}
}

/// Entry point of the child process (run by the parent; ignored in a normal run).
#[test]
#[ignore = "run by the crash tests as their child process"]
fn child() {
    /// The job, each database's commits and appends counted.
    struct Work(u64);
    impl Job for Work {
        fn on<D: Database>(self, service: &D, participants: &D, consumer: &D) {
            work(
                &Crashing(service),
                &Crashing(participants),
                &Crashing(consumer),
                self.0,
            );
        }
    }
    let epoch: u64 = std::env::var("DSYS_CRASH_EPOCH").unwrap().parse().unwrap();
    Place::from_env().run(Work(epoch));
    println!("\npoints {}", POINTS.load(Ordering::SeqCst));
}

// ---------------------------------------------------------------- the parent

/// How a child run ended.
enum Ended {
    /// Killed at the point it was told.
    Killed,
    /// Finished the job, passing this many persistence points.
    Finished(u64),
}

/// The child, in `dir`, told to stop at point `at`, its clock at `epoch_ms`.
fn child_command(place: &Place, at: Option<u64>, epoch_ms: u64) -> Command {
    let mut child = Command::new(std::env::current_exe().unwrap());
    place.pass_to(&mut child);
    child
        .args(["child", "--exact", "--ignored", "--nocapture"])
        .arg("--test-threads=1")
        .env("DSYS_CRASH_EPOCH", epoch_ms.to_string())
        .env("DSYS_CRASH_AT", at.map_or(String::new(), |a| a.to_string()));
    child
}

/// Run the child in `dir`, to stop at point `at` (if it gets there).
fn run_child(place: &Place, at: Option<u64>, epoch_ms: u64) -> Ended {
    let mut child = child_command(place, at, epoch_ms)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    for line in stdout.lines() {
        let line = line.unwrap();
        if line.starts_with("crash-point ") {
            // SIGKILL: no destructor, no flush, no rollback but the database's own.
            child.kill().unwrap();
            child.wait().unwrap();
            return Ended::Killed;
        }
        if let Some(points) = line.strip_prefix("points ") {
            let status = child.wait().unwrap();
            assert!(
                status.success(),
                "the child failed after its work: {status}"
            );
            return Ended::Finished(points.parse().unwrap());
        }
    }
    let status = child.wait().unwrap();
    panic!("the child ended without finishing or reaching its crash point: {status}");
}

fn fresh_dir(name: &str) -> Place {
    let dir = std::env::temp_dir().join(format!("dsys-crash-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    Place::Files(dir)
}

impl Place {
    /// Remove what the run left (the files; schemas go with their server).
    fn remove(self) {
        if let Place::Files(dir) = self {
            std::fs::remove_dir_all(dir).ok();
        }
    }
}

fn rows(db: &impl Database, sql: &str) -> Vec<Vec<String>> {
    db.transact(|s| s.query(sql, &[]))
        .unwrap()
        .iter()
        .map(|r| {
            (0..8)
                .map_while(|i| r.text(i).or_else(|_| r.int(i).map(|v| v.to_string())).ok())
                .collect()
        })
        .collect()
}

/// Every guarantee, checked on the databases a finished run left.
fn check(place: &Place, label: &str) {
    struct Check<'a>(&'a str);
    impl Job for Check<'_> {
        fn on<D: Database>(self, service: &D, participants: &D, consumer: &D) {
            check_on(service, participants, consumer, self.0);
        }
    }
    place.run(Check(label));
}

fn check_on<D: Database>(service: &D, participants: &D, consumer: &D, label: &str) {
    // Sagas: each completed or compensated, never both, none stuck.
    for i in 0..ORDERS {
        let id = format!("order-{i}");
        let saga = Orchestrator::load(service, &id).unwrap();
        let expected = if i % 3 == 0 {
            Status::Compensated
        } else {
            Status::Completed
        };
        assert_eq!(saga.status, expected, "{label}: {id}");
        let ends: Vec<Status> = Orchestrator::history(service, &id)
            .unwrap()
            .into_iter()
            .map(|t| t.status)
            .filter(|s| s.is_final())
            .collect();
        assert_eq!(ends, [expected], "{label}: {id} ended once");

        // Participant effects: at most once each; compensations match what was done.
        let effects = rows(
            participants,
            &format!(
                "SELECT step, action, count(*) FROM effects WHERE saga = '{id}'
                 GROUP BY step, action ORDER BY step, action"
            ),
        );
        for e in &effects {
            assert_eq!(e[2], "1", "{label}: {id} {} {} applied once", e[0], e[1]);
        }
        let done =
            |step: &str, action: &str| effects.iter().any(|e| e[0] == step && e[1] == action);
        let steps = [
            "create-order",
            "reserve-inventory",
            "charge-payment",
            "send-confirmation",
        ];
        if expected == Status::Completed {
            assert!(
                steps.iter().all(|s| done(s, "do")),
                "{label}: {id} {effects:?}"
            );
            assert!(
                !effects.iter().any(|e| e[1] == "undo"),
                "{label}: {id} {effects:?}"
            );
        } else {
            assert!(
                !done("charge-payment", "do"),
                "{label}: {id} declined, not charged"
            );
            assert!(!done("send-confirmation", "do"), "{label}: {id}");
            for s in &steps[..3] {
                assert_eq!(
                    done(s, "do"),
                    done(s, "undo"),
                    "{label}: {id} {s}: {effects:?}"
                );
            }
        }
    }

    // The outbox: every message delivered, and taken once.
    let lag = Relay::lag(service, u64::MAX >> 2).unwrap();
    assert_eq!((lag.pending, lag.dead), (0, 0), "{label}");
    let received = rows(
        consumer,
        "SELECT id, count(*) FROM received GROUP BY id ORDER BY id",
    );
    assert_eq!(received.len() as u64, ORDERS, "{label}: {received:?}");
    assert!(
        received.iter().all(|r| r[1] == "1"),
        "{label}: {received:?}"
    );

    // Appends: each noted order once; each placed order once.
    for i in 0..ORDERS {
        assert_eq!(
            service.stream_version(&format!("notes-{i}")).unwrap(),
            Some(0),
            "{label}"
        );
        assert_eq!(
            service.stream_version(&format!("order-{i}")).unwrap(),
            Some(0),
            "{label}"
        );
    }

    // The read model equals a rebuild from scratch, and counts every event.
    let projector = Projector::new(&Orders, RetryPolicy::immediate(1));
    projector.run(service, &mut |_| {}).unwrap();
    let dump = |target: &Target| {
        rows(
            service,
            &format!(
                "SELECT stream, kind, n FROM {} ORDER BY stream, kind",
                target.table("orders")
            ),
        )
    };
    let live = dump(&Target::active(service, "orders").unwrap());
    let rebuilt = dump(&projector.rebuild(service, &mut |_| {}).unwrap());
    assert_eq!(live, rebuilt, "{label}: the read model equals a rebuild");
    assert_eq!(live.len() as u64, 2 * ORDERS, "{label}: {live:?}");
}

/// Run the job to the end, killed first at `crashes` (in turn, one per run).
fn crash_and_recover(place: &Place, crashes: &[u64]) -> u64 {
    let mut epoch = 0;
    for &at in crashes {
        epoch += 100_000;
        match run_child(place, Some(at), epoch) {
            Ended::Killed => {}
            Ended::Finished(_) => break,
        }
    }
    epoch += 100_000;
    match run_child(place, None, epoch) {
        Ended::Finished(points) => points,
        Ended::Killed => unreachable!("no crash point was set"),
    }
}

#[test]
fn killed_at_every_persistence_point_the_job_recovers_and_every_guarantee_holds() {
    let dir = fresh_dir("clean");
    let points = crash_and_recover(&dir, &[]);
    check(&dir, "no crash");
    assert!(points > 100, "the job passes {points} persistence points");
    for at in 1..=points {
        let dir = fresh_dir(&format!("at-{at}"));
        crash_and_recover(&dir, &[at]);
        check(&dir, &format!("killed at point {at} of {points}"));
        dir.remove();
    }
}

#[test]
fn killed_at_arbitrary_moments_inside_commits_the_job_still_ends_well() {
    // The points above fall between statements; a kill on a timer also lands inside
    // SQLite's own commit (mid-write, mid-fsync). Where exactly is up to the scheduler:
    // every outcome must pass.
    for (i, after_ms) in [4u64, 8, 12, 16, 20, 25, 30, 40, 60]
        .into_iter()
        .enumerate()
    {
        let dir = fresh_dir(&format!("timer-{i}"));
        let mut child = child_command(&dir, None, 0)
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(after_ms));
        child.kill().unwrap();
        child.wait().unwrap();
        crash_and_recover(&dir, &[]);
        check(&dir, &format!("killed after {after_ms} ms"));
        dir.remove();
    }
}

#[test]
fn killed_again_while_recovering_the_job_still_ends_well() {
    // A second kill during the recovery run, a little later each time.
    for (i, first) in [7u64, 40, 90, 150].into_iter().enumerate() {
        let dir = fresh_dir(&format!("twice-{i}"));
        crash_and_recover(&dir, &[first, first / 2 + 3, 11]);
        check(&dir, &format!("killed at {first}, then again twice"));
        dir.remove();
    }
}

/// Fresh schemas for a run on `server`, named after `name`.
fn fresh_schemas(server: &dsys_services::Server, name: &str) -> Place {
    let prefix = format!("crash_{name}");
    let mut admin = postgres::Client::connect(&server.postgres_params(), postgres::NoTls).unwrap();
    for db in DATABASES {
        admin
            .batch_execute(&format!(
                "DROP SCHEMA IF EXISTS {prefix}_{db} CASCADE; CREATE SCHEMA {prefix}_{db}"
            ))
            .unwrap();
    }
    Place::Postgres {
        server: server.postgres_params(),
        prefix,
    }
}

#[test]
fn on_postgres_killed_at_persistence_points_the_job_recovers_and_every_guarantee_holds() {
    use dsys_services::{Kind, Server};
    let Some(server) = Server::start(Kind::Postgres) else {
        return;
    };
    let clean = fresh_schemas(&server, "clean");
    let points = crash_and_recover(&clean, &[]);
    check(&clean, "postgres, no crash");
    // A connection's death rolls back its open transaction on the server, and a commit
    // acknowledged is durable there.
    for at in 1..=points {
        let place = fresh_schemas(&server, &format!("at{at}"));
        crash_and_recover(&place, &[at]);
        check(
            &place,
            &format!("postgres, killed at point {at} of {points}"),
        );
    }
}
