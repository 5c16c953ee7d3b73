//! A protocol's invariant monitor: called after every node step, a broken invariant stops
//! the run and is reported, and its measurements join the run's metrics.

#![allow(clippy::unwrap_used)] // tests and their helpers may panic

use dsys_node::{Context, Instant, Monitor, Node, NodeId, Request, Response, Storage, TimerId};
use dsys_sim::workload::WorkloadConfig;
use dsys_sim::{SimConfig, World};

/// Answers every request at once and counts the requests it served.
#[derive(Debug)]
struct Counter {
    served: u64,
}

#[derive(Clone, Copy, Debug)]
struct BreakAfter(u64);

impl Node for Counter {
    type Message = ();
    type Config = BreakAfter;
    fn boot(_: &BreakAfter, _: NodeId, _: usize, _: &Storage) -> Self {
        Counter { served: 0 }
    }
    fn on_start(&mut self, _: &mut Context<'_, ()>) {}
    fn on_message(&mut self, _: &mut Context<'_, ()>, _: NodeId, _: ()) {}
    fn on_timer(&mut self, _: &mut Context<'_, ()>, _: TimerId) {}
    fn on_request(&mut self, ctx: &mut Context<'_, ()>, r: Request) {
        self.served += 1;
        ctx.reply(r.id, Response::WriteOk);
    }
    fn monitor(config: &BreakAfter, _: usize) -> Option<Box<dyn Monitor<Self>>> {
        Some(Box::new(ServedAtMost {
            limit: config.0,
            steps: 0,
        }))
    }
}

/// "No node serves more than `limit` requests": a stand-in invariant.
#[derive(Debug)]
struct ServedAtMost {
    limit: u64,
    steps: u64,
}

impl Monitor<Counter> for ServedAtMost {
    fn after_step(&mut self, _: Instant, node: NodeId, state: &Counter) -> Result<(), String> {
        self.steps += 1;
        if state.served > self.limit {
            return Err(format!("{node} served {} requests", state.served));
        }
        Ok(())
    }
    fn metrics(&self, _: Instant) -> Vec<(&'static str, u64)> {
        vec![("monitored steps", self.steps)]
    }
    fn steps_checked(&self) -> u64 {
        self.steps
    }
}

fn config() -> SimConfig {
    SimConfig {
        nodes: 3,
        workload: WorkloadConfig {
            clients: 3,
            ops: 300,
            ..WorkloadConfig::default()
        },
        ..SimConfig::default()
    }
}

#[test]
fn an_invariant_that_holds_is_checked_after_every_step() {
    let outcome = World::<Counter>::new(config(), BreakAfter(u64::MAX))
        .unwrap()
        .run();
    let invariants = outcome.invariants.unwrap();
    assert_eq!(invariants.violation, None);
    assert_eq!(outcome.aborted, None);
    // Three boots plus one step per request served.
    assert!(invariants.steps_checked >= 3 + 300, "{invariants:?}");
    assert_eq!(
        outcome.protocol_metrics["monitored steps"],
        invariants.steps_checked
    );
}

#[test]
fn a_broken_invariant_stops_the_run_and_says_where() {
    let outcome = World::<Counter>::new(config(), BreakAfter(20))
        .unwrap()
        .run();
    let violation = outcome.invariants.unwrap().violation.unwrap();
    assert!(violation.contains("served 21 requests"), "{violation}");
    assert!(violation.contains("after a step of n"), "{violation}");
    let aborted = outcome.aborted.unwrap();
    assert!(
        aborted.starts_with("stopped at a broken invariant"),
        "{aborted}"
    );
    // The run stopped there: far fewer than the 300 operations completed.
    assert!(outcome.stats.ops_ok < 100, "{}", outcome.stats.ops_ok);
}

#[test]
fn a_run_that_keeps_going_reports_the_first_broken_invariant_and_finishes() {
    let mut keep_going = config();
    keep_going.keep_going = true;
    let outcome = World::<Counter>::new(keep_going, BreakAfter(20))
        .unwrap()
        .run();
    let violation = outcome.invariants.unwrap().violation.unwrap();
    assert!(violation.contains("served 21 requests"), "{violation}");
    assert_eq!(outcome.aborted, None);
    assert!(outcome.stats.ops_ok > 250, "{}", outcome.stats.ops_ok);
}

#[test]
fn protocols_without_a_monitor_report_none() {
    #[derive(Debug)]
    struct Plain;
    impl Node for Plain {
        type Message = ();
        type Config = ();
        fn boot(_: &(), _: NodeId, _: usize, _: &Storage) -> Self {
            Plain
        }
        fn on_start(&mut self, _: &mut Context<'_, ()>) {}
        fn on_message(&mut self, _: &mut Context<'_, ()>, _: NodeId, _: ()) {}
        fn on_timer(&mut self, _: &mut Context<'_, ()>, _: TimerId) {}
        fn on_request(&mut self, ctx: &mut Context<'_, ()>, r: Request) {
            ctx.reply(r.id, Response::WriteOk);
        }
    }
    let outcome = World::<Plain>::new(config(), ()).unwrap().run();
    assert!(outcome.invariants.is_none());
}
