//! The sagas' checks: steps called once each, retried under a new key only after a
//! definite no, compensated newest first, handed to an operator, resumed after a
//! restart, and safe with two orchestrators.

use super::*;

/// Answers from a script per (step, action), `Done` once the script runs out; applies each
/// idempotency key once, as a participant must, and counts effects.
#[derive(Debug, Default)]
struct Scripted {
    script: BTreeMap<(String, Action), VecDeque<Outcome>>,
    /// Keys seen, with the first answer.
    answered: BTreeMap<String, Outcome>,
    /// Calls in order: (step, action, key).
    calls: Vec<(String, Action, String)>,
    /// Effects applied per (saga, step, action).
    effects: BTreeMap<(String, String, Action), u32>,
}

impl Scripted {
    fn then(&mut self, step: &str, action: Action, outcomes: &[Outcome]) {
        self.script
            .entry((step.to_string(), action))
            .or_default()
            .extend(outcomes.iter().cloned());
    }
}

impl Participants for Scripted {
    fn call(&mut self, call: &Call<'_>) -> Outcome {
        self.calls
            .push((call.step.to_string(), call.action, call.key.clone()));
        if let Some(first) = self.answered.get(&call.key) {
            // A repeat: the first answer, unless that was unclear — then it did apply.
            return match first {
                Outcome::Unknown(_) => Outcome::Done(None),
                other => other.clone(),
            };
        }
        let outcome = self
            .script
            .get_mut(&(call.step.to_string(), call.action))
            .and_then(VecDeque::pop_front)
            .unwrap_or(Outcome::Done(None));
        if !matches!(outcome, Outcome::Failed(_)) {
            // Done, or unclear: an unclear answer here is an effect whose reply was lost.
            *self
                .effects
                .entry((call.saga.to_string(), call.step.to_string(), call.action))
                .or_default() += 1;
        }
        self.answered.insert(call.key.clone(), outcome.clone());
        outcome
    }
}

fn order_saga(retry: RetryPolicy, compensation: RetryPolicy) -> Orchestrator {
    let step = |name: &str| Step::new(name).retry(retry).compensation(compensation);
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
        .expect("define")
}

fn start(db: &impl Database, sagas: &Orchestrator, id: &str, now_ms: u64) {
    let started = db
        .transact(|sql| sagas.start(sql, id, "order", b"cart", now_ms))
        .expect("start");
    assert!(started);
}

fn notes(db: &impl Database, id: &str) -> Vec<String> {
    Orchestrator::history(db, id)
        .expect("history")
        .into_iter()
        .map(|t| t.note)
        .collect()
}

/// The happy path: each step once, under attempt 1, then completed.
pub fn a_saga_completes_calling_each_step_once(db: &impl Database) {
    let sagas = order_saga(RetryPolicy::immediate(3), RetryPolicy::immediate(3));
    start(db, &sagas, "o1", 0);
    let mut p = Scripted::default();
    let saga = sagas.advance(db, &mut p, "o1", 0).expect("advance");
    assert_eq!(saga.status, Status::Completed);
    let keys: Vec<&str> = p.calls.iter().map(|c| c.2.as_str()).collect();
    assert_eq!(
        keys,
        [
            "o1/create-order/1",
            "o1/reserve-inventory/1",
            "o1/charge-payment/1",
            "o1/send-confirmation/1"
        ]
    );
    let history = Orchestrator::history(db, "o1").expect("history");
    assert_eq!(history.first().map(|t| t.status), Some(Status::Running));
    assert_eq!(history.last().map(|t| t.status), Some(Status::Completed));
    assert!(
        Orchestrator::due(db, u64::MAX >> 2, 10)
            .expect("due")
            .is_empty()
    );
    // Advancing a finished saga does nothing.
    assert_eq!(sagas.advance(db, &mut p, "o1", 1).expect("advance"), saga);
}

/// A definite failure moves the attempt (a new key); an unclear answer retries the same
/// key; a retry waits as the backoff says.
pub fn a_step_is_retried_under_a_new_key_only_after_a_definite_failure(db: &impl Database) {
    let sagas = order_saga(
        RetryPolicy::new(4, Duration::from_millis(100), Duration::from_secs(1)),
        RetryPolicy::immediate(3),
    );
    start(db, &sagas, "o2", 0);
    let mut p = Scripted::default();
    p.then(
        "reserve-inventory",
        Action::Do,
        &[
            Outcome::Failed("out of stock".into()),
            Outcome::Unknown("timeout".into()),
        ],
    );
    let waiting = sagas.advance(db, &mut p, "o2", 0).expect("advance");
    assert_eq!(
        (waiting.status, waiting.step, waiting.wake_ms),
        (Status::Running, 1, 100)
    );
    assert_eq!(
        Orchestrator::due(db, 99, 10).expect("due"),
        Vec::<String>::new()
    );
    assert_eq!(Orchestrator::due(db, 100, 10).expect("due"), ["o2"]);
    let waiting = sagas.advance(db, &mut p, "o2", 100).expect("advance");
    assert_eq!(waiting.wake_ms, 300, "the second wait is twice the first");
    let done = sagas.advance(db, &mut p, "o2", 300).expect("advance");
    assert_eq!(done.status, Status::Completed);
    let reserve: Vec<&str> = p
        .calls
        .iter()
        .filter(|c| c.0 == "reserve-inventory")
        .map(|c| c.2.as_str())
        .collect();
    assert_eq!(
        reserve,
        [
            "o2/reserve-inventory/1",
            "o2/reserve-inventory/2",
            "o2/reserve-inventory/2"
        ]
    );
    assert_eq!(
        p.effects[&("o2".into(), "reserve-inventory".into(), Action::Do)],
        1,
        "applied once"
    );
}

/// A step failing every try starts the compensations, newest first: the failed step too
/// if its last answer was unclear, not if it was a definite no.
pub fn a_failed_saga_compensates_in_reverse_order(db: &impl Database) {
    let sagas = order_saga(RetryPolicy::immediate(2), RetryPolicy::immediate(3));
    for (id, last) in [
        ("definite", Outcome::Failed("declined".into())),
        ("unclear", Outcome::Unknown("timeout".into())),
    ] {
        start(db, &sagas, id, 0);
        let mut p = Scripted::default();
        p.then(
            "charge-payment",
            Action::Do,
            &[Outcome::Failed("declined".into()), last],
        );
        p.then(
            "reserve-inventory",
            Action::Undo,
            &[Outcome::Unknown("lost".into())],
        );
        let saga = sagas.advance(db, &mut p, id, 0).expect("advance");
        assert_eq!(saga.status, Status::Compensated, "{id}");
        let undone: Vec<&str> = p
            .calls
            .iter()
            .filter(|c| c.1 == Action::Undo)
            .map(|c| c.2.as_str())
            .collect();
        let mut expected = vec![];
        if id == "unclear" {
            expected.push(format!("{id}/charge-payment/undo/1"));
        }
        expected.extend([
            format!("{id}/reserve-inventory/undo/1"),
            format!("{id}/reserve-inventory/undo/1"),
            format!("{id}/create-order/undo/1"),
        ]);
        assert_eq!(undone, expected, "{id}");
        assert!(p.calls.iter().all(|c| c.0 != "send-confirmation"));
        let statuses: BTreeSet<Status> = Orchestrator::history(db, id)
            .expect("history")
            .into_iter()
            .map(|t| t.status)
            .collect();
        assert!(!statuses.contains(&Status::Completed), "never both");
    }
}

/// A compensation failing every try needs an operator: retry, skip, abort.
pub fn a_failing_compensation_waits_for_an_operator(db: &impl Database) {
    let sagas = order_saga(RetryPolicy::immediate(1), RetryPolicy::immediate(2));
    let stuck = |id: &str, p: &mut Scripted| {
        start(db, &sagas, id, 0);
        p.then(
            "charge-payment",
            Action::Do,
            &[Outcome::Failed("declined".into())],
        );
        let refused = [
            Outcome::Failed("warehouse down".into()),
            Outcome::Failed("warehouse down".into()),
        ];
        p.then("reserve-inventory", Action::Undo, &refused);
        let saga = sagas.advance(db, p, id, 0).expect("advance");
        assert_eq!((saga.status, saga.step), (Status::NeedsIntervention, 1));
        assert!(
            saga.error
                .as_deref()
                .is_some_and(|e| e.contains("warehouse"))
        );
        assert!(
            Orchestrator::due(db, 10, 10).expect("due").is_empty(),
            "not due"
        );
        assert_eq!(sagas.advance(db, p, id, 5).expect("advance"), saga, "stays");
    };

    let mut p = Scripted::default();
    stuck("retried", &mut p);
    let retried = sagas.retry(db, "retried", 1).expect("retry");
    assert_eq!(retried.status, Status::Compensating);
    let done = sagas.advance(db, &mut p, "retried", 1).expect("advance");
    assert_eq!(done.status, Status::Compensated);
    assert!(notes(db, "retried").iter().any(|n| n == "operator: retry"));

    let mut p = Scripted::default();
    stuck("skipped", &mut p);
    sagas.skip(db, "skipped", 1).expect("skip");
    let done = sagas.advance(db, &mut p, "skipped", 1).expect("advance");
    assert_eq!(done.status, Status::Compensated);
    let undo_reserve = p
        .calls
        .iter()
        .filter(|c| c.0 == "reserve-inventory" && c.1 == Action::Undo)
        .count();
    assert_eq!(undo_reserve, 2, "skipped, not called again");

    let mut p = Scripted::default();
    stuck("aborted", &mut p);
    let aborted = sagas.abort(db, "aborted", 1).expect("abort");
    assert_eq!(aborted.status, Status::Aborted);
    assert!(aborted.status.is_final());
    assert!(matches!(
        sagas.retry(db, "aborted", 2),
        Err(SagaError::NotInIntervention {
            status: Status::Aborted,
            ..
        })
    ));
    assert!(matches!(
        sagas.skip(db, "nobody", 2),
        Err(SagaError::NotFound(_))
    ));
}

/// A step's deadline is kept with the saga: after a restart (a new orchestrator), a saga
/// whose step ran out of time is due, and compensates it.
pub fn a_step_out_of_time_is_compensated_after_a_restart(db: &impl Database) {
    let define = || {
        Orchestrator::new()
            .define(SagaDefinition::new(
                "order",
                vec![
                    Step::new("create-order").retry(RetryPolicy::immediate(1)),
                    Step::new("reserve-inventory")
                        .timeout(Duration::from_millis(1_000))
                        .retry(RetryPolicy::new(
                            10,
                            Duration::from_millis(400),
                            Duration::from_millis(400),
                        )),
                ],
            ))
            .expect("define")
    };
    let before = define();
    start(db, &before, "late", 0);
    let mut p = Scripted::default();
    p.then(
        "reserve-inventory",
        Action::Do,
        &[
            Outcome::Failed("busy".into()),
            Outcome::Failed("busy".into()),
        ],
    );
    let waiting = before.advance(db, &mut p, "late", 0).expect("advance");
    assert_eq!((waiting.step, waiting.deadline_ms), (1, Some(1_000)));
    before.advance(db, &mut p, "late", 400).expect("advance");
    drop(before);

    let after = define();
    assert_eq!(Orchestrator::due(db, 1_000, 10).expect("due"), ["late"]);
    let saga = after.advance(db, &mut p, "late", 1_000).expect("advance");
    assert_eq!(saga.status, Status::Compensated);
    assert!(
        notes(db, "late")
            .iter()
            .any(|n| n.contains("ran out of time"))
    );
    let undone: Vec<&str> = p
        .calls
        .iter()
        .filter(|c| c.1 == Action::Undo)
        .map(|c| c.0.as_str())
        .collect();
    // The step's next try may already have been under way when time ran out: it is
    // undone too.
    assert_eq!(undone, ["reserve-inventory", "create-order"]);
}

/// Definitions, starts and stored sagas that do not fit are refused with a reason.
pub fn saga_bad_input_is_refused(db: &impl Database) {
    assert!(matches!(
        Orchestrator::new().define(SagaDefinition::new("empty", vec![])),
        Err(SagaError::BadDefinition(_))
    ));
    assert!(matches!(
        Orchestrator::new().define(SagaDefinition::new(
            "twice",
            vec![Step::new("a"), Step::new("a")]
        )),
        Err(SagaError::BadDefinition(_))
    ));
    assert!(matches!(
        Orchestrator::new().define(SagaDefinition::new("slash", vec![Step::new("a/b")])),
        Err(SagaError::BadDefinition(_))
    ));
    let sagas = order_saga(RetryPolicy::immediate(1), RetryPolicy::immediate(1));
    let start_with =
        |id: &str, kind: &str, data: &[u8]| db.transact(|sql| sagas.start(sql, id, kind, data, 0));
    assert!(matches!(
        start_with("x", "refund", b""),
        Err(SagaError::UnknownKind(_))
    ));
    assert!(matches!(
        start_with("", "order", b""),
        Err(SagaError::BadDefinition(_))
    ));
    assert_eq!(start_with("x", "order", b"cart"), Ok(true));
    assert_eq!(
        start_with("x", "order", b"cart"),
        Ok(false),
        "the same start again"
    );
    assert!(matches!(
        start_with("x", "order", b"other"),
        Err(SagaError::Exists(_))
    ));
    db.transact(|sql| sql.execute("UPDATE sagas SET status = 'lost' WHERE id = 'x'", &[]))
        .expect("corrupt it");
    assert!(matches!(
        Orchestrator::load(db, "x"),
        Err(SagaError::Corrupt { .. })
    ));
    let mut p = Scripted::default();
    assert!(matches!(
        sagas.advance(db, &mut p, "x", 0),
        Err(SagaError::Corrupt { .. })
    ));
    assert!(p.calls.is_empty(), "nothing called for a corrupt saga");
    db.transact(|sql| {
        sql.execute(
            "UPDATE sagas SET status = 'running', step = 9 WHERE id = 'x'",
            &[],
        )
    })
    .expect("corrupt it");
    assert!(matches!(
        sagas.advance(db, &mut p, "x", 0),
        Err(SagaError::Corrupt { .. })
    ));
}

/// Two orchestrators advancing one saga at once: it completes once, and each step's
/// effect is applied once (the participant keeps its keys).
pub fn two_orchestrators_on_one_saga_apply_each_effect_once<D: Database + 'static>(db: Arc<D>) {
    let sagas = Arc::new(order_saga(
        RetryPolicy::immediate(3),
        RetryPolicy::immediate(3),
    ));
    let participant = Arc::new(Mutex::new(Scripted::default()));
    for i in 0..10 {
        start(db.as_ref(), &sagas, &format!("race-{i}"), 0);
    }
    /// Both orchestrators share one participant service.
    struct Shared(Arc<Mutex<Scripted>>);
    impl Participants for Shared {
        fn call(&mut self, call: &Call<'_>) -> Outcome {
            self.0.lock().expect("lock").call(call)
        }
    }
    let runners: Vec<_> = (0..2)
        .map(|_| {
            let (db, sagas, p) = (
                Arc::clone(&db),
                Arc::clone(&sagas),
                Arc::clone(&participant),
            );
            std::thread::spawn(move || {
                let mut shared = Shared(p);
                for i in 0..10 {
                    sagas
                        .advance(db.as_ref(), &mut shared, &format!("race-{i}"), 0)
                        .expect("advance");
                }
            })
        })
        .collect();
    for r in runners {
        r.join().expect("runner");
    }
    let p = participant.lock().expect("lock");
    for i in 0..10 {
        let id = format!("race-{i}");
        assert_eq!(
            Orchestrator::load(db.as_ref(), &id).expect("load").status,
            Status::Completed
        );
        let completions = Orchestrator::history(db.as_ref(), &id)
            .expect("history")
            .iter()
            .filter(|t| t.status == Status::Completed)
            .count();
        assert_eq!(completions, 1, "{id} completed once");
        for step in ["create-order", "reserve-inventory", "charge-payment"] {
            assert_eq!(
                p.effects[&(id.clone(), step.into(), Action::Do)],
                1,
                "{id} {step}"
            );
        }
    }
}
