//! Driving nodes: inputs in, effects out; crash, restart, pause and resume.

use super::{Event, NodeInput, Phase, World};
use crate::nemesis::DiskFault;
use crate::network::Route;
use crate::store::WriteFailed;
use dsys_node::{AfterFailedWrite, Context, Durability, Duration, Effect, Node, NodeId};
use std::hash::{Hash, Hasher};

/// Tags folded into the trace hash before each kind of input.
mod tag {
    pub const START: u8 = 1;
    pub const MESSAGE: u8 = 2;
    pub const TIMER: u8 = 3;
    pub const REQUEST: u8 = 4;
    pub const REFUSED_BOOT: u8 = 5;
}

impl<N: Node> World<N> {
    /// Hand `input` to `node`: dropped if it is down, queued if it is paused.
    pub(super) fn node_input(&mut self, node: NodeId, input: NodeInput<N::Message>) {
        let slot = &mut self.nodes[node.index()];
        if slot.state.is_none() {
            if matches!(input, NodeInput::Message { .. }) {
                self.stats.dropped_down += 1;
            }
            return;
        }
        if slot.paused {
            slot.backlog.push(input);
            return;
        }
        self.run_input(node, input);
    }

    /// Run one input through a live, unpaused node and carry out its effects.
    fn run_input(&mut self, node: NodeId, input: NodeInput<N::Message>) {
        let now = self.now;
        let slot = &mut self.nodes[node.index()];
        let Some(state) = slot.state.as_mut() else {
            return;
        };
        if let NodeInput::Timer { timer, token } = &input {
            if slot.timers.get(timer) != Some(token) {
                return; // cancelled or re-armed since: a stale firing is not an input
            }
            slot.timers.remove(timer);
        }
        let mut effects = std::mem::take(&mut self.effects);
        let local_now = slot.clock.local_now(now);
        let trace = &mut self.trace;
        trace.write_u64(now.as_nanos());
        trace.write_u32(node.0);
        let mut ctx = Context::new(node, local_now, &mut slot.rng, &mut effects);
        match input {
            NodeInput::Start => {
                trace.write_u8(tag::START);
                state.on_start(&mut ctx);
            }
            NodeInput::Message { from, msg } => {
                trace.write_u8(tag::MESSAGE);
                trace.write_u32(from.0);
                msg.hash(trace);
                self.stats.messages_delivered += 1;
                state.on_message(&mut ctx, from, msg);
            }
            NodeInput::Timer { timer, .. } => {
                trace.write_u8(tag::TIMER);
                trace.write_u64(timer);
                self.stats.timers_fired += 1;
                state.on_timer(&mut ctx, timer);
            }
            NodeInput::Request(request) => {
                trace.write_u8(tag::REQUEST);
                request.hash(trace);
                state.on_request(&mut ctx, request);
            }
        }
        self.apply_effects(node, &mut effects);
        self.effects = effects;
        self.monitor_step(node);
        if !self.nodes[node.index()].store.busy() {
            self.monitor_caught_up(node);
        }
    }

    /// Tell the monitor `node`'s storage has caught up with its state.
    fn monitor_caught_up(&mut self, node: NodeId) {
        if let Some(monitor) = self.monitor.as_mut()
            && self.nodes[node.index()].state.is_some()
        {
            monitor.on_caught_up(self.now, node);
        }
    }

    /// Let the protocol's monitor look at `node` after its step; a broken invariant ends
    /// the run.
    fn monitor_step(&mut self, node: NodeId) {
        let (Some(monitor), Some(state)) = (
            self.monitor.as_mut(),
            self.nodes[node.index()].state.as_ref(),
        ) else {
            return;
        };
        if let Err(broken) = monitor.after_step(self.now, node, state)
            && self.violation.is_none()
        {
            self.violation = Some(format!("at {}, after a step of {node}: {broken}", self.now));
            if !self.config.keep_going {
                self.phase = Phase::Done;
            }
        }
    }

    /// Carry out a step's effects in order. Behind a synced write the disk is still busy
    /// with (a slow disk), later effects wait in the node's disk queue: write-ahead means
    /// nothing after a synced write happens before it is durable.
    fn apply_effects(&mut self, node: NodeId, effects: &mut Vec<Effect<N::Message>>) {
        for effect in effects.drain(..) {
            let slot = &mut self.nodes[node.index()];
            if slot.state.is_none() {
                break; // crashed by a failed write: the rest never happens
            }
            if slot.store.busy() {
                slot.disk_queue.push_back(effect);
                continue;
            }
            self.apply_effect(node, effect);
        }
    }

    fn apply_effect(&mut self, node: NodeId, effect: Effect<N::Message>) {
        match effect {
            Effect::Send { to, msg } => self.send(node, to, msg),
            Effect::SetTimer { timer, after } => {
                let slot = &mut self.nodes[node.index()];
                slot.next_timer_token += 1;
                let token = slot.next_timer_token;
                slot.timers.insert(timer, token);
                let at = self.now + Duration::from_nanos(slot.clock.true_delay(after));
                self.queue.push(at, Event::Timer { node, timer, token });
            }
            Effect::CancelTimer { timer } => {
                self.nodes[node.index()].timers.remove(&timer);
            }
            Effect::Reply { request, response } => self.send_reply(node, request, response),
            Effect::Persist {
                key,
                value,
                durability,
            } => {
                let slot = &mut self.nodes[node.index()];
                if let (Durability::Synced, Some(DiskFault::SlowDisk(dist))) =
                    (durability, slot.store.slow())
                {
                    let took = dist.sample_nanos(&mut self.disk_rng);
                    slot.store.begin_in_flight(key, value);
                    let epoch = slot.disk_epoch;
                    self.queue.push(
                        self.now + Duration::from_nanos(took),
                        Event::DiskDone { node, epoch },
                    );
                    return;
                }
                let written = slot.store.write(key, value, durability);
                self.after_write(node, written);
            }
        }
    }

    /// A write failed or succeeded; a failure crashes the node unless it says otherwise.
    fn after_write(&mut self, node: NodeId, written: Result<(), WriteFailed>) {
        if written.is_err() {
            let carry_on = self.nodes[node.index()]
                .state
                .as_ref()
                .is_some_and(|n| n.on_failed_write() == AfterFailedWrite::Continue);
            if !carry_on {
                self.stats.crashes_on_failed_writes += 1;
                self.crash(node);
                self.nodes[node.index()].down_by_disk = true;
            }
        }
    }

    /// The disk finished `node`'s in-flight synced write (unless the node crashed since,
    /// which `epoch` tells): carry out what waited behind it, up to the next one.
    pub(super) fn disk_done(&mut self, node: NodeId, epoch: u64) {
        let slot = &mut self.nodes[node.index()];
        if slot.disk_epoch != epoch || !slot.store.busy() {
            return;
        }
        let written = slot.store.finish_in_flight();
        self.after_write(node, written);
        loop {
            let slot = &mut self.nodes[node.index()];
            if slot.state.is_none() || slot.store.busy() {
                return;
            }
            let Some(effect) = slot.disk_queue.pop_front() else {
                self.monitor_caught_up(node);
                return;
            };
            self.apply_effect(node, effect);
        }
    }

    fn send(&mut self, from: NodeId, to: NodeId, msg: N::Message) {
        self.stats.messages_sent += 1;
        if to.index() >= self.nodes.len() {
            self.stats.dropped_down += 1;
            return;
        }
        match self.network.route(from, to, &mut self.net_rng) {
            Route::Partitioned => self.stats.dropped_partition += 1,
            Route::Lost => self.stats.dropped_loss += 1,
            Route::Deliver { first, duplicate } => {
                if let Some(second) = duplicate {
                    self.stats.duplicated += 1;
                    let copy = msg.clone();
                    self.queue.push(
                        self.now + Duration::from_nanos(second),
                        Event::Deliver {
                            from,
                            to,
                            msg: copy,
                        },
                    );
                }
                self.queue.push(
                    self.now + Duration::from_nanos(first),
                    Event::Deliver { from, to, msg },
                );
            }
        }
    }

    /// Build the node from its durable storage and start it — unless what it reads is
    /// damaged and the node refuses it: then it stays down until its next restart.
    pub(super) fn boot(&mut self, node: NodeId) -> bool {
        let n = self.nodes.len();
        let slot = &mut self.nodes[node.index()];
        let storage = slot.store.read_at_boot(&mut self.disk_rng);
        if let Err(reason) = N::check_storage(&self.node_config, &storage) {
            self.stats.refused_boots += 1;
            slot.down_by_disk = true;
            self.trace.write_u8(tag::REFUSED_BOOT);
            self.trace.write_u32(node.0);
            self.history.refused_boot(self.now, node, reason);
            return false;
        }
        slot.down_by_disk = false;
        slot.state = Some(N::boot(&self.node_config, node, n, &storage));
        slot.paused = false;
        self.run_input(node, NodeInput::Start);
        true
    }

    /// Crash `node`: memory, timers, queued inputs and buffered writes are lost.
    pub(super) fn crash(&mut self, node: NodeId) -> bool {
        let slot = &mut self.nodes[node.index()];
        let Some(state) = slot.state.take() else {
            return false;
        };
        for (name, value) in state.metrics() {
            *self.crashed_metrics.entry(name).or_default() += value;
        }
        slot.paused = false;
        slot.backlog.clear();
        slot.timers.clear();
        slot.disk_queue.clear();
        slot.disk_epoch += 1;
        slot.store.crash(&mut self.disk_rng);
        self.stats.crashes += 1;
        if let Some(monitor) = self.monitor.as_mut() {
            monitor.on_crash(self.now, node);
        }
        true
    }

    /// Boot `node` again if it is down.
    pub(super) fn restart(&mut self, node: NodeId) -> bool {
        if self.nodes[node.index()].state.is_some() {
            return false;
        }
        self.boot(node)
    }

    /// Stop `node` processing inputs; they queue until [`World::resume`].
    pub(super) fn pause(&mut self, node: NodeId) -> bool {
        let slot = &mut self.nodes[node.index()];
        if slot.state.is_none() || slot.paused {
            return false;
        }
        slot.paused = true;
        true
    }

    /// Let `node` process what queued while it was paused, in arrival order.
    pub(super) fn resume(&mut self, node: NodeId) -> bool {
        let slot = &mut self.nodes[node.index()];
        if !slot.paused {
            return false;
        }
        slot.paused = false;
        let backlog = std::mem::take(&mut slot.backlog);
        for input in backlog {
            // A queued input may crash nothing, but stay defensive: stop if the node
            // was crashed or paused again by an effect of an earlier input.
            let slot = &self.nodes[node.index()];
            if slot.state.is_none() || slot.paused {
                break;
            }
            self.run_input(node, input);
        }
        true
    }
}
