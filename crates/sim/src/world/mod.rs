//! The simulated world: a discrete-event loop over nodes, network, clients and nemesis.
//!
//! Events are ordered by (virtual time, sequence number). Randomness comes only from
//! streams derived from the run seed: network, nemesis, one per client (workload) and one
//! per node. Every processed input is folded into the trace hash.

mod clients;
mod faults;
mod nodes;

use crate::clock::NodeClock;
use crate::config::{ConfigError, SimConfig};
use crate::history::RunHistory;
use crate::nemesis::{FaultAction, Generator, NemesisSource, TimedFault};
use crate::network::Network;
use crate::outcome::{InvariantsOutcome, RunOutcome, RunStats};
use crate::queue::EventQueue;
use crate::store::SimStore;
use crate::trace::TraceHasher;
use crate::workload::KvWorkload;
use clients::Client;
use dsys_node::{
    DetRng, Duration, Effect, Instant, Monitor, Node, NodeId, Request, RequestId, Response,
    StreamId, TimerId,
};
use std::collections::{BTreeMap, VecDeque};

/// Something that will happen at a point in virtual time.
#[derive(Debug)]
enum Event<M> {
    /// A message reaches `to`.
    Deliver { from: NodeId, to: NodeId, msg: M },
    /// A node's timer fires (ignored if it was cancelled or re-armed: `token` differs).
    Timer {
        node: NodeId,
        timer: TimerId,
        token: u64,
    },
    /// A client request from a client beside `home` reaches a node.
    RequestArrives {
        home: NodeId,
        node: NodeId,
        request: Request,
    },
    /// A node's reply reaches its client.
    ReplyArrives {
        client: usize,
        request: RequestId,
        response: Response,
        node: NodeId,
    },
    /// A client gives up waiting.
    ClientTimeout { client: usize, request: RequestId },
    /// A client finished thinking and issues its next operation.
    ClientReady { client: usize },
    /// The nemesis acts (ignored once faults have stopped: `token` differs).
    Nemesis { token: u64, action: FaultAction },
    /// A node's disk finished its in-flight synced write (ignored if the node crashed
    /// since: `epoch` differs).
    DiskDone { node: NodeId, epoch: u64 },
    /// Compare replica digests during the final heal phase.
    ConvergenceProbe,
}

/// An input for one node.
#[derive(Debug)]
enum NodeInput<M> {
    Start,
    Message { from: NodeId, msg: M },
    Timer { timer: TimerId, token: u64 },
    Request(Request),
}

struct NodeSlot<N: Node> {
    /// `None` while crashed.
    state: Option<N>,
    paused: bool,
    /// Inputs that arrived while paused, in arrival order.
    backlog: Vec<NodeInput<N::Message>>,
    clock: NodeClock,
    store: SimStore,
    /// Effects waiting for the disk's in-flight synced write, in order.
    disk_queue: VecDeque<Effect<N::Message>>,
    /// Bumped at each crash, so a completion of a write the crash cut off is ignored.
    disk_epoch: u64,
    /// Down because of its disk (a failed write, a refused boot): the disk's heal boots it
    /// again; a node some other fault keeps down it leaves alone.
    down_by_disk: bool,
    rng: DetRng,
    timers: BTreeMap<TimerId, u64>,
    next_timer_token: u64,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Phase {
    /// Clients run and the nemesis injects faults.
    Workload,
    /// Faults stopped and everything healed at `since`; waiting for convergence.
    Healing { since: Instant },
    /// Each client reads its share of the keys once; `outstanding` reads remain.
    FinalReads { outstanding: u64 },
    /// Finished.
    Done,
}

/// Progress of a run, for progress bars.
#[derive(Clone, Copy, Debug)]
pub struct Progress {
    /// Events processed.
    pub events: u64,
    /// Client operations completed.
    pub ops_completed: u64,
    /// Client operations in the workload.
    pub ops_total: u64,
    /// Current virtual time.
    pub now: Instant,
}

/// How often (in events) [`World::run_with_progress`] reports progress.
pub const PROGRESS_EVERY_EVENTS: u64 = 1 << 16;

/// A simulated cluster of `N` nodes with clients and a nemesis.
pub struct World<N: Node> {
    config: SimConfig,
    node_config: N::Config,
    now: Instant,
    queue: EventQueue<Event<N::Message>>,
    nodes: Vec<NodeSlot<N>>,
    clients: Vec<Client>,
    workload: KvWorkload,
    network: Network,
    net_rng: DetRng,
    /// Torn lengths, corrupted bits and slow-write latencies of every disk.
    disk_rng: DetRng,
    nemesis: NemesisSource,
    effective_nemesis: String,
    /// Tags pending nemesis events; bumped when faults stop so pending ones are ignored.
    nemesis_token: u64,
    realised: Vec<TimedFault>,
    /// The node the last `crash-leader` took down, for its restart.
    crashed_leader: Option<NodeId>,
    history: RunHistory,
    trace: TraceHasher,
    stats: RunStats,
    effects: Vec<Effect<N::Message>>,
    phase: Phase,
    ops_issued: u64,
    ops_completed: u64,
    faults_stopped_at: Option<Instant>,
    converged: bool,
    time_to_converge: Option<Duration>,
    /// Protocol counters of node incarnations that crashed, kept so nothing is lost.
    crashed_metrics: BTreeMap<&'static str, u64>,
    /// The protocol's cluster-wide invariant monitor, if it has one.
    monitor: Option<Box<dyn Monitor<N>>>,
    /// The first invariant the monitor saw broken; the run stops there.
    violation: Option<String>,
}

impl<N: Node> std::fmt::Debug for World<N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("World")
            .field("now", &self.now)
            .field("nodes", &self.nodes.len())
            .field("queue", &self.queue)
            .field("phase", &self.phase)
            .finish_non_exhaustive()
    }
}

/// A script must be in time order and name only nodes of the cluster.
fn validate_script(script: &[TimedFault], nodes: usize) -> Result<(), ConfigError> {
    let bad = |i: usize, reason: String| ConfigError::OutOfRange {
        field: "schedule",
        reason: format!("action {i}: {reason}"),
    };
    let mut previous = Instant::ZERO;
    for (i, fault) in script.iter().enumerate() {
        if fault.at < previous {
            return Err(bad(
                i,
                format!(
                    "at {} comes before the previous action at {previous}",
                    fault.at
                ),
            ));
        }
        previous = fault.at;
        let mut named: Vec<NodeId> = fault.action.node().into_iter().collect();
        if let FaultAction::Partition { blocked, .. } = &fault.action {
            named.extend(blocked.iter().flat_map(|&(a, b)| [a, b]));
        }
        if let Some(node) = named.into_iter().find(|n| n.index() >= nodes) {
            return Err(bad(
                i,
                format!(
                    "{} names {node}, outside the {nodes}-node cluster",
                    fault.action.name()
                ),
            ));
        }
    }
    Ok(())
}

impl<N: Node> World<N> {
    /// A world for `config` whose faults are drawn from the seed.
    pub fn new(config: SimConfig, node_config: N::Config) -> Result<Self, ConfigError> {
        config.validate()?;
        let rng = DetRng::derive(config.seed, StreamId::Nemesis);
        let region_of = config
            .network
            .regions
            .as_ref()
            .map_or(&[][..], |r| r.region_of.as_slice());
        let generator = Generator::with_regions(
            &config.nemesis,
            config.nodes,
            region_of,
            config.nemesis_timing,
            rng,
        );
        let effective = generator.effective_spec().to_string();
        Ok(Self::build(
            config,
            node_config,
            NemesisSource::Generated(generator),
            effective,
        ))
    }

    /// A world for `config` whose faults follow `script` (for example, the realised
    /// schedule of an earlier run) instead of being drawn.
    pub fn with_script(
        config: SimConfig,
        node_config: N::Config,
        script: Vec<TimedFault>,
    ) -> Result<Self, ConfigError> {
        config.validate()?;
        validate_script(&script, config.nodes)?;
        let effective = format!("script of {} actions", script.len());
        Ok(Self::build(
            config,
            node_config,
            NemesisSource::Scripted(script.into_iter()),
            effective,
        ))
    }

    fn build(
        config: SimConfig,
        node_config: N::Config,
        nemesis: NemesisSource,
        effective_nemesis: String,
    ) -> Self {
        let seed = config.seed;
        let nodes = (0..config.nodes as u32)
            .map(|i| NodeSlot {
                state: None,
                paused: false,
                backlog: Vec::new(),
                clock: NodeClock::default(),
                store: SimStore::default(),
                disk_queue: VecDeque::new(),
                disk_epoch: 0,
                down_by_disk: false,
                rng: DetRng::derive(seed, StreamId::Node(i)),
                timers: BTreeMap::new(),
                next_timer_token: 0,
            })
            .collect();
        let monitor = N::monitor(&node_config, config.nodes);
        let clients = (0..config.workload.clients)
            .map(|i| Client::new(i, config.client_home(i), seed))
            .collect();
        World {
            network: Network::new(config.nodes, &config.network),
            workload: KvWorkload::new(&config.workload),
            net_rng: DetRng::derive(seed, StreamId::Network),
            disk_rng: DetRng::derive(seed, StreamId::Disk),
            node_config,
            now: Instant::ZERO,
            queue: EventQueue::default(),
            nodes,
            clients,
            nemesis,
            effective_nemesis,
            nemesis_token: 0,
            realised: Vec::new(),
            crashed_leader: None,
            history: RunHistory::default(),
            trace: TraceHasher::new(),
            stats: RunStats::default(),
            effects: Vec::new(),
            phase: Phase::Workload,
            ops_issued: 0,
            ops_completed: 0,
            faults_stopped_at: None,
            converged: false,
            time_to_converge: None,
            crashed_metrics: BTreeMap::new(),
            monitor,
            violation: None,
            config,
        }
    }

    /// Run to the end.
    pub fn run(self) -> RunOutcome {
        self.run_with_progress(&mut |_| {})
    }

    /// Run to the end, calling `progress` every [`PROGRESS_EVERY_EVENTS`] events.
    pub fn run_with_progress(mut self, progress: &mut dyn FnMut(&Progress)) -> RunOutcome {
        self.start();
        let mut aborted = None;
        while self.phase != Phase::Done {
            let Some((at, event)) = self.queue.pop() else {
                break;
            };
            self.now = at;
            self.stats.events += 1;
            if self.stats.events > self.config.max_events {
                aborted = Some(format!(
                    "stopped after max_events = {} events",
                    self.config.max_events
                ));
                break;
            }
            if self.stats.events % PROGRESS_EVERY_EVENTS == 0 {
                progress(&Progress {
                    events: self.stats.events,
                    ops_completed: self.ops_completed,
                    ops_total: self.config.workload.ops,
                    now: self.now,
                });
            }
            self.handle(event);
        }
        self.finish(aborted)
    }

    fn start(&mut self) {
        for i in 0..self.nodes.len() {
            self.boot(NodeId(i as u32));
        }
        for c in 0..self.clients.len() {
            let think = self.clients[c].think(&self.config.workload.think);
            self.queue.push(
                self.now + Duration::from_nanos(think),
                Event::ClientReady { client: c },
            );
        }
        self.schedule_next_fault();
        if self.config.workload.ops == 0 {
            self.stop_faults();
        }
    }

    fn handle(&mut self, event: Event<N::Message>) {
        match event {
            Event::Deliver { from, to, msg } => {
                // Checked again on arrival: a partition that began while the message was
                // in flight drops it, as a firewall rule would.
                if self.network.is_blocked(from, to) {
                    self.stats.dropped_partition += 1;
                } else {
                    self.node_input(to, NodeInput::Message { from, msg });
                }
            }
            Event::Timer { node, timer, token } => {
                self.node_input(node, NodeInput::Timer { timer, token })
            }
            // A client sits beside its home node and shares its side of any partition;
            // like node messages, client messages are checked again on arrival.
            Event::RequestArrives {
                home,
                node,
                request,
            } => {
                if self.network.is_blocked(home, node) {
                    self.stats.client_messages_partitioned += 1;
                } else {
                    self.node_input(node, NodeInput::Request(request));
                }
            }
            Event::ReplyArrives {
                client,
                request,
                response,
                node,
            } => {
                self.on_reply(client, request, response, node);
            }
            Event::ClientTimeout { client, request } => self.on_client_timeout(client, request),
            Event::ClientReady { client } => self.on_client_ready(client),
            Event::Nemesis { token, action } => {
                if token == self.nemesis_token && self.phase == Phase::Workload {
                    self.apply_fault(action);
                    self.schedule_next_fault();
                }
            }
            Event::DiskDone { node, epoch } => self.disk_done(node, epoch),
            Event::ConvergenceProbe => self.probe_convergence(),
        }
    }

    fn finish(self, aborted: Option<String>) -> RunOutcome {
        let mut protocol_metrics = self.crashed_metrics;
        for slot in &self.nodes {
            for (name, value) in slot.state.as_ref().map(N::metrics).unwrap_or_default() {
                *protocol_metrics.entry(name).or_default() += value;
            }
        }
        let invariants = self.monitor.as_ref().map(|monitor| {
            protocol_metrics.extend(monitor.metrics(self.now));
            InvariantsOutcome {
                steps_checked: monitor.steps_checked(),
                violation: self.violation.clone(),
            }
        });
        let aborted = aborted.or_else(|| {
            self.violation
                .as_ref()
                .filter(|_| !self.config.keep_going)
                .map(|v| format!("stopped at a broken invariant: {v}"))
        });
        let mut stats = self.stats;
        for slot in &self.nodes {
            stats.disk.add(&slot.store.stats());
        }
        stats.lost_buffered_writes = stats.disk.lost_on_crash;
        RunOutcome {
            trace_hash: self.trace.digest(),
            history: self.history,
            realised_schedule: self.realised,
            effective_nemesis: self.effective_nemesis,
            stats,
            virtual_end: self.now,
            faults_stopped_at: self.faults_stopped_at,
            converged: self.converged,
            time_to_converge: self.time_to_converge,
            aborted,
            protocol_metrics,
            invariants,
        }
    }
}
