//! Driving nodes: inputs in, effects out; crash, restart, pause and resume.

use super::{Event, NodeInput, Phase, World};
use crate::network::Route;
use dsys_node::{Context, Duration, Effect, Node, NodeId};
use std::hash::{Hash, Hasher};

/// Tags folded into the trace hash before each kind of input.
mod tag {
    pub const START: u8 = 1;
    pub const MESSAGE: u8 = 2;
    pub const TIMER: u8 = 3;
    pub const REQUEST: u8 = 4;
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
            self.phase = Phase::Done;
        }
    }

    fn apply_effects(&mut self, node: NodeId, effects: &mut Vec<Effect<N::Message>>) {
        for effect in effects.drain(..) {
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
                    self.nodes[node.index()].store.write(key, value, durability);
                }
            }
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

    /// Build the node from its durable storage and start it.
    pub(super) fn boot(&mut self, node: NodeId) {
        let n = self.nodes.len();
        let slot = &mut self.nodes[node.index()];
        slot.state = Some(N::boot(&self.node_config, node, n, slot.store.durable()));
        slot.paused = false;
        self.run_input(node, NodeInput::Start);
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
        slot.store.crash();
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
        self.boot(node);
        true
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
