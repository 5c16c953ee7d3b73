//! Closed-loop clients: invoke, wait for a reply or a timeout, think, repeat.

use super::{Event, Phase, World};
use crate::dist::{LatencyDist, millis_to_nanos};
use crate::nemesis::FaultAction;
use dsys_history::{EventType, EventValue};
use dsys_node::{
    DetRng, Duration, Instant, Key, Node, NodeId, Op, Request, RequestId, Response, StreamId, Value,
};
use std::collections::BTreeMap;
use std::hash::Hasher;

/// A client follows at most this many redirects for one operation, then gives up (fail).
const MAX_REDIRECTS: u32 = 3;

/// Trace-hash tags for client events.
const TAG_COMPLETE: u8 = 10;
const TAG_TIMEOUT: u8 = 11;

#[derive(Debug)]
struct Pending {
    request: Request,
    invoked: Instant,
    redirects: u32,
}

/// One closed-loop client, attached to a home node.
#[derive(Debug)]
pub(super) struct Client {
    /// The current process number (a new one after every timeout).
    process: u64,
    home: NodeId,
    /// Where reads and updates were last redirected to.
    read_hint: Option<NodeId>,
    update_hint: Option<NodeId>,
    seq: u64,
    pending: Option<Pending>,
    /// The latest value this client knows for each key (for compare-and-set).
    seen: BTreeMap<Key, Value>,
    rng: DetRng,
    /// The next key this client reads in the final-reads phase.
    final_key: u64,
}

impl Client {
    pub(super) fn new(index: usize, home: NodeId, seed: u64) -> Self {
        Client {
            process: index as u64,
            home,
            read_hint: None,
            update_hint: None,
            seq: 0,
            pending: None,
            seen: BTreeMap::new(),
            rng: DetRng::derive(seed, StreamId::Other(1 + index as u64)),
            final_key: index as u64,
        }
    }

    /// A think time drawn from the client's own stream, ns.
    pub(super) fn think(&mut self, dist: &LatencyDist) -> u64 {
        dist.sample_nanos(&mut self.rng)
    }

    fn target(&self, op: &Op) -> NodeId {
        let hint = if op.is_update() {
            self.update_hint
        } else {
            self.read_hint
        };
        hint.unwrap_or(self.home)
    }
}

impl<N: Node> World<N> {
    pub(super) fn on_client_ready(&mut self, c: usize) {
        if self.phase != Phase::Workload || self.ops_issued >= self.config.workload.ops {
            return;
        }
        self.ops_issued += 1;
        let client = &mut self.clients[c];
        let op = self.workload.next_op(&mut client.rng, &client.seen);
        self.invoke(c, op);
    }

    /// Send `op` on behalf of client `c` and arm its timeout.
    fn invoke(&mut self, c: usize, op: Op) {
        let client = &mut self.clients[c];
        client.seq += 1;
        let request = Request {
            id: RequestId {
                client: client.process,
                seq: client.seq,
            },
            op,
        };
        client.pending = Some(Pending {
            request,
            invoked: self.now,
            redirects: 0,
        });
        let target = client.target(&op);
        self.history.invoke(self.now, client.process, &op);
        self.send_request(c, target, request);
        let timeout = Duration::from_nanos(millis_to_nanos(self.config.workload.timeout_ms));
        self.queue.push(
            self.now + timeout,
            Event::ClientTimeout {
                client: c,
                request: request.id,
            },
        );
    }

    /// After the final heal: every key is read once, client `c` taking keys `c`, `c + C`,
    /// ... in turn, so lost writes can be judged from the history.
    pub(super) fn start_final_reads(&mut self) {
        let keys = self.config.workload.keys;
        if !self.config.workload.final_reads || keys == 0 {
            self.phase = Phase::Done;
            return;
        }
        self.phase = Phase::FinalReads { outstanding: keys };
        for c in 0..self.clients.len() {
            self.next_final_read(c);
        }
    }

    fn next_final_read(&mut self, c: usize) {
        let key = self.clients[c].final_key;
        if key < self.config.workload.keys {
            self.clients[c].final_key += self.clients.len() as u64;
            self.invoke(c, Op::Read { key });
        }
    }

    fn send_request(&mut self, c: usize, target: NodeId, request: Request) {
        let home = self.clients[c].home;
        if self.network.is_blocked(home, target) {
            self.stats.client_messages_partitioned += 1;
            return;
        }
        let latency = self
            .network
            .client_latency(c, home, target, &mut self.net_rng);
        self.queue.push(
            self.now + Duration::from_nanos(latency),
            Event::RequestArrives {
                home,
                node: target,
                request,
            },
        );
    }

    /// A node replied: route the reply back over the network to the client.
    pub(super) fn send_reply(&mut self, node: NodeId, request: RequestId, response: Response) {
        let clients = self.clients.len() as u64;
        let c = (request.client % clients) as usize;
        let home = self.clients[c].home;
        if self.network.is_blocked(node, home) {
            self.stats.client_messages_partitioned += 1;
            return;
        }
        let latency = self
            .network
            .client_latency(c, home, node, &mut self.net_rng);
        self.queue.push(
            self.now + Duration::from_nanos(latency),
            Event::ReplyArrives {
                client: c,
                request,
                response,
                node,
            },
        );
    }

    pub(super) fn on_reply(&mut self, c: usize, id: RequestId, response: Response, node: NodeId) {
        if self.network.is_blocked(node, self.clients[c].home) {
            self.stats.client_messages_partitioned += 1;
            return;
        }
        let client = &mut self.clients[c];
        let Some(pending) = client.pending.as_mut() else {
            return; // late reply to an operation that already timed out
        };
        if pending.request.id != id {
            return;
        }
        let op = pending.request.op;
        let (kind, read, error) = match response {
            Response::Redirect { leader } => {
                if pending.redirects < MAX_REDIRECTS {
                    pending.redirects += 1;
                    let next =
                        leader.unwrap_or_else(|| NodeId((node.0 + 1) % self.nodes.len() as u32));
                    if op.is_update() {
                        client.update_hint = Some(next);
                    } else {
                        client.read_hint = Some(next);
                    }
                    let request = pending.request;
                    self.send_request(c, next, request);
                    return;
                }
                (EventType::Fail, None, Some("no-leader"))
            }
            Response::ReadOk(value) => {
                if let Some(v) = value {
                    client.seen.insert(op.key(), v);
                }
                (EventType::Ok, value.map(EventValue::One), None)
            }
            Response::ReadCount(n) => (EventType::Ok, Some(EventValue::count(n)), None),
            Response::ReadSet(elements) => {
                (EventType::Ok, Some(EventValue::Elements(elements)), None)
            }
            Response::ReadSiblings(values) => {
                // A compare-and-set can only expect a value the key holds alone.
                match values.as_slice() {
                    [only] => client.seen.insert(op.key(), *only),
                    _ => client.seen.remove(&op.key()),
                };
                (EventType::Ok, Some(EventValue::Elements(values)), None)
            }
            Response::UpdateOk => {
                // The set workload removes what its client last inserted.
                match op {
                    Op::Insert { element, .. } => client.seen.insert(op.key(), element),
                    _ => client.seen.remove(&op.key()),
                };
                (EventType::Ok, None, None)
            }
            Response::WriteOk | Response::CasOk => {
                if let Op::Write { value: v, .. } | Op::Cas { new: v, .. } = op {
                    client.seen.insert(op.key(), v);
                }
                (EventType::Ok, None, None)
            }
            Response::CasMismatch => {
                client.seen.remove(&op.key());
                (EventType::Fail, None, Some("cas-mismatch"))
            }
            Response::Unavailable => (EventType::Fail, None, Some("unavailable")),
            Response::Indeterminate => (EventType::Info, None, Some("indeterminate")),
        };
        self.complete(c, kind, read, Some(node), error);
    }

    pub(super) fn on_client_timeout(&mut self, c: usize, id: RequestId) {
        let client = &mut self.clients[c];
        if client.pending.as_ref().map(|p| p.request.id) != Some(id) {
            return;
        }
        self.complete(c, EventType::Info, None, None, Some("timeout"));
    }

    /// Jepsen's convention: a process whose operation ended indeterminate may still have
    /// it in flight, so the client continues as a fresh process; it also forgets where
    /// it was redirected, since that node may be the one that went quiet.
    fn start_new_process(&mut self, c: usize) {
        let clients = self.clients.len() as u64;
        let client = &mut self.clients[c];
        client.process += clients;
        client.read_hint = None;
        client.update_hint = None;
        client.seen.clear();
    }

    fn complete(
        &mut self,
        c: usize,
        kind: EventType,
        read: Option<EventValue<FaultAction>>,
        node: Option<NodeId>,
        error: Option<&'static str>,
    ) {
        let now = self.now;
        let client = &mut self.clients[c];
        let Some(pending) = client.pending.take() else {
            return;
        };
        let op = pending.request.op;
        let process = client.process;
        self.trace.write_u8(if kind == EventType::Info {
            TAG_TIMEOUT
        } else {
            TAG_COMPLETE
        });
        self.trace.write_u64(now.as_nanos());
        self.trace.write_u64(process);
        match &read {
            None => self.trace.write_u64(u64::MAX),
            Some(EventValue::One(v)) => self.trace.write_u64(*v),
            Some(other) => {
                if let Ok(json) = serde_json::to_vec(other) {
                    self.trace.write(&json);
                }
            }
        }
        self.history
            .complete(now, process, &op, kind, read, node, error);
        if kind == EventType::Info {
            // Before anything else is invoked: a final read that follows at once must
            // start under the new process, not the one whose operation is still open.
            self.start_new_process(c);
        }
        let client = &mut self.clients[c];
        if let Phase::FinalReads { outstanding } = self.phase {
            // Final reads are judged from the history; they are not workload operations.
            self.stats.final_reads += 1;
            self.phase = if outstanding <= 1 {
                Phase::Done
            } else {
                Phase::FinalReads {
                    outstanding: outstanding - 1,
                }
            };
            self.next_final_read(c);
            return;
        }
        let answered = kind == EventType::Ok || error == Some("cas-mismatch");
        if answered && self.stats.first_served.is_none() {
            self.stats.first_served = Some(now);
        }
        if self
            .stats
            .first_served
            .is_none_or(|at| pending.invoked < at)
        {
            self.stats.startup_ops += 1;
            self.stats.startup_answered += u64::from(answered);
        }
        match kind {
            EventType::Ok => {
                self.stats.ops_ok += 1;
                self.stats
                    .ok_latencies_ns
                    .push(now.as_nanos() - pending.invoked.as_nanos());
            }
            EventType::Fail => {
                self.stats.ops_fail += 1;
                if error != Some("cas-mismatch") {
                    self.stats.ops_refused += 1;
                }
            }
            _ => self.stats.ops_info += 1,
        }
        let think = client.think(&self.config.workload.think);
        self.ops_completed += 1;
        self.queue.push(
            now + Duration::from_nanos(think),
            Event::ClientReady { client: c },
        );
        if self.ops_completed >= self.config.workload.ops {
            self.stop_faults();
        }
    }
}
