//! One strategy's run: the database, the cache node, the readers and writers, and the
//! incidents, as events on a virtual-time queue; the history they leave, judged.

use super::{Row, Setup, Strategy};
use dsys_check::history::Positions;
use dsys_check::read::from_recorded;
use dsys_check::{Budget, CHECK_MEMORY_BYTES};
use dsys_history::{EventType, EventValue};
use dsys_node::{DetRng, Instant, Op, StreamId};
use dsys_sim::dist::LatencyDist;
use dsys_sim::history::RunHistory;
use dsys_sim::queue::EventQueue;
use dsys_sim::zipf::Zipf;
use std::collections::BTreeMap;

const MS: u64 = 1_000_000;
const SECOND: u64 = 1_000 * MS;
/// A cache operation.
const CACHE_NS: u64 = MS / 2;
/// The incidents (see the module above).
const STALLS: (u64, u64) = (10 * SECOND, 20 * SECOND);
const STALL_NS: u64 = 500 * MS;
const STALL_SHARE: f64 = 0.05;
const RESTART_AT: u64 = 30 * SECOND;
const LOST_DELETES: (u64, u64) = (40 * SECOND, 50 * SECOND);
const LOST_SHARE: f64 = 0.1;
/// Write-behind flushes this often.
const FLUSH_EVERY: u64 = SECOND;

/// A cached value: what, since when, from which database write, and whether a reload
/// of it is under way.
#[derive(Clone, Copy, Debug)]
struct Cached {
    value: Option<u64>,
    written: u64,
    /// The database's apply sequence of the write it holds (0: read, not written).
    applied: u64,
    /// How long the load that filled it took (XFetch's delta).
    recompute: u64,
    refreshing: bool,
}

#[derive(Debug)]
enum Event {
    ReadArrives,
    WriteArrives,
    /// A reader's lookup reaches the cache.
    Lookup {
        key: u64,
        reader: u64,
    },
    /// A load's database read completes.
    DbRead {
        key: u64,
        reader: Option<u64>,
        lease: Option<u64>,
        /// When the load started, and the generation it started under.
        started: (u64, u64),
    },
    /// A load's fill reaches the cache.
    Fill {
        key: u64,
        value: Option<u64>,
        reader: Option<u64>,
        lease: Option<u64>,
        started: (u64, u64),
    },
    /// A write reaches the database.
    DbWrite {
        key: u64,
        value: u64,
        writer: u64,
    },
    /// A write's delete reaches the cache.
    Invalidate {
        key: u64,
        writer: u64,
    },
    /// A write-through's set reaches the cache.
    Set {
        key: u64,
        value: u64,
        applied: u64,
        writer: u64,
    },
    /// A write-behind write reaches the cache.
    Buffer {
        key: u64,
        value: u64,
        writer: u64,
    },
    Flush,
    FlushLands {
        batch: Vec<(u64, u64)>,
    },
    Restart,
}

struct World {
    strategy: Strategy,
    setup: Setup,
    end: u64,
    queue: EventQueue<Event>,
    arrivals: DetRng,
    latencies: DetRng,
    incidents: DetRng,
    keys: Zipf,
    database: LatencyDist,
    db: Vec<Option<u64>>,
    /// Database writes applied so far: a write-through set carries its write's number,
    /// so a set never replaces a newer one.
    applied: u64,
    cache: BTreeMap<u64, Cached>,
    /// Per key, the lease generation (bumped by every delete or set).
    generation: Vec<u64>,
    /// Guarded strategies: the readers waiting on each load in flight, by key and the
    /// lease generation it was started under (a reader that comes after a delete does
    /// not join a load that started before it: that load read the old value).
    flights: BTreeMap<(u64, u64), Vec<u64>>,
    /// Loads in flight by key and the generation they started under: several at once
    /// for one generation are a stampede (they all read the same version).
    loads_in_flight: BTreeMap<(u64, u64), u64>,
    largest_stampede: u64,
    /// Write-behind: writes acknowledged, not yet sent to the database (coalesced per key).
    buffer: BTreeMap<u64, u64>,
    /// Write-behind: writes sent to the database, not yet applied there.
    flushing: BTreeMap<u64, u64>,
    acknowledged_behind: Vec<(u64, u64)>,
    history: RunHistory,
    next_process: u64,
    next_value: u64,
    reads: u64,
    hits: u64,
    db_reads: u64,
}

/// Run `strategy` on `setup`.
pub(super) fn run(setup: &Setup, strategy: Strategy) -> Row {
    let mut w = World::new(setup, strategy);
    w.queue.push(Instant::ZERO, Event::ReadArrives);
    if setup.writes > 0 {
        w.queue.push(Instant::ZERO, Event::WriteArrives);
    }
    if setup.incidents.restart {
        w.queue
            .push(Instant::from_nanos(RESTART_AT), Event::Restart);
    }
    if strategy.write_behind() {
        w.queue.push(Instant::from_nanos(FLUSH_EVERY), Event::Flush);
    }
    while let Some((at, event)) = w.queue.pop() {
        w.step(at.as_nanos(), event);
    }
    w.row()
}

impl World {
    fn new(setup: &Setup, strategy: Strategy) -> Self {
        let keys = setup.keys.max(1);
        let n = usize::try_from(keys).unwrap_or(usize::MAX);
        World {
            strategy,
            setup: *setup,
            end: u64::from(setup.seconds) * SECOND,
            queue: EventQueue::default(),
            arrivals: DetRng::derive(setup.seed, StreamId::Workload),
            latencies: DetRng::derive(setup.seed, StreamId::Network),
            incidents: DetRng::derive(setup.seed, StreamId::Nemesis),
            keys: Zipf::new(keys, 1.0),
            database: LatencyDist::Exponential { mean: 5.0 },
            db: vec![None; n],
            applied: 0,
            cache: BTreeMap::new(),
            generation: vec![0; n],
            flights: BTreeMap::new(),
            loads_in_flight: BTreeMap::new(),
            largest_stampede: 0,
            buffer: BTreeMap::new(),
            flushing: BTreeMap::new(),
            acknowledged_behind: Vec::new(),
            history: RunHistory::default(),
            next_process: 0,
            next_value: 1,
            reads: 0,
            hits: 0,
            db_reads: 0,
        }
    }

    fn at(nanos: u64) -> Instant {
        Instant::from_nanos(nanos)
    }

    /// A database operation's time: 5 ms plus an exponential 5 ms.
    fn database_ns(&mut self) -> u64 {
        5 * MS + self.database.sample_nanos(&mut self.latencies)
    }

    /// When the next of `rate` Poisson arrivals a second comes.
    fn next_arrival(&mut self, now: u64, rate: u32) -> u64 {
        let mean = 1_000.0 / f64::from(rate.max(1));
        now + LatencyDist::Exponential { mean }
            .sample_nanos(&mut self.arrivals)
            .max(1)
    }

    fn complete_read(&mut self, now: u64, reader: u64, key: u64, value: Option<u64>) {
        let op = Op::Read { key };
        self.history.complete(
            Self::at(now),
            reader,
            &op,
            EventType::Ok,
            value.map(EventValue::One),
            None,
            None,
        );
    }

    fn complete_write(&mut self, now: u64, writer: u64, key: u64, value: u64) {
        let op = Op::Write { key, value };
        self.history
            .complete(Self::at(now), writer, &op, EventType::Ok, None, None, None);
    }

    /// Start a load of `key` for `reader` (none: a background refresh).
    fn start_load(&mut self, now: u64, key: u64, reader: Option<u64>) {
        let k = key as usize;
        self.db_reads += 1;
        let started_under = self.generation[k];
        let loads = self
            .loads_in_flight
            .entry((key, started_under))
            .or_default();
        *loads += 1;
        self.largest_stampede = self.largest_stampede.max(*loads);
        let lease = self.strategy.guarded().then_some(started_under);
        let reader = match lease {
            Some(generation) => {
                self.flights
                    .insert((key, generation), reader.into_iter().collect());
                None
            }
            None => reader,
        };
        let done = now + CACHE_NS + self.database_ns();
        let event = Event::DbRead {
            key,
            reader,
            lease,
            started: (now, started_under),
        };
        self.queue.push(Self::at(done), event);
    }

    fn step(&mut self, now: u64, event: Event) {
        match event {
            Event::ReadArrives => {
                let next = self.next_arrival(now, self.setup.reads);
                if next < self.end {
                    self.queue.push(Self::at(next), Event::ReadArrives);
                }
                let key = self.keys.sample(&mut self.arrivals);
                let reader = self.next_process;
                self.next_process += 1;
                self.history
                    .invoke(Self::at(now), reader, &Op::Read { key });
                self.queue
                    .push(Self::at(now + CACHE_NS), Event::Lookup { key, reader });
            }
            Event::WriteArrives => {
                let next = self.next_arrival(now, self.setup.writes);
                if next < self.end {
                    self.queue.push(Self::at(next), Event::WriteArrives);
                }
                let key = self.keys.sample(&mut self.arrivals);
                let (writer, value) = (self.next_process, self.next_value);
                self.next_process += 1;
                self.next_value += 1;
                self.history
                    .invoke(Self::at(now), writer, &Op::Write { key, value });
                let event = match self.strategy.write_behind() {
                    true => (now + CACHE_NS, Event::Buffer { key, value, writer }),
                    false => (
                        now + self.database_ns(),
                        Event::DbWrite { key, value, writer },
                    ),
                };
                self.queue.push(Self::at(event.0), event.1);
            }
            Event::Lookup { key, reader } => self.lookup(now, key, reader),
            Event::DbRead {
                key,
                reader,
                lease,
                started,
            } => {
                let value = self.db[key as usize];
                let stalled = self.setup.incidents.stalls
                    && (STALLS.0..STALLS.1).contains(&now)
                    && self.incidents.chance(STALL_SHARE);
                let fill = now + CACHE_NS + if stalled { STALL_NS } else { 0 };
                let event = Event::Fill {
                    key,
                    value,
                    reader,
                    lease,
                    started,
                };
                self.queue.push(Self::at(fill), event);
            }
            Event::Fill {
                key,
                value,
                reader,
                lease,
                started,
            } => {
                let k = key as usize;
                if let Some(loads) = self.loads_in_flight.get_mut(&(key, started.1)) {
                    *loads -= 1;
                    if *loads == 0 {
                        self.loads_in_flight.remove(&(key, started.1));
                    }
                }
                let recompute = now - started.0;
                let admitted = lease.is_none_or(|g| g == self.generation[k]);
                if admitted && self.strategy.caches() {
                    let entry = Cached {
                        value,
                        written: now,
                        applied: 0,
                        recompute,
                        refreshing: false,
                    };
                    self.cache.insert(key, entry);
                }
                let waiting = match lease {
                    Some(generation) => self.flights.remove(&(key, generation)).unwrap_or_default(),
                    None => reader.into_iter().collect(),
                };
                for r in waiting {
                    self.complete_read(now, r, key, value);
                }
            }
            Event::DbWrite { key, value, writer } => {
                let k = key as usize;
                self.applied += 1;
                self.db[k] = Some(value);
                let then = now + CACHE_NS;
                match self.strategy {
                    s if s.deletes_on_write() => {
                        self.queue
                            .push(Self::at(then), Event::Invalidate { key, writer });
                    }
                    Strategy::WriteThrough => {
                        let applied = self.applied;
                        self.queue.push(
                            Self::at(then),
                            Event::Set {
                                key,
                                value,
                                applied,
                                writer,
                            },
                        );
                    }
                    _ => self.complete_write(now, writer, key, value),
                }
            }
            Event::Invalidate { key, writer } => {
                let lost = self.setup.incidents.lost_deletes
                    && (LOST_DELETES.0..LOST_DELETES.1).contains(&now)
                    && self.incidents.chance(LOST_SHARE);
                if !lost {
                    self.generation[key as usize] += 1;
                    self.cache.remove(&key);
                }
                let value = self.db[key as usize].unwrap_or(0);
                self.complete_write(now, writer, key, value);
            }
            Event::Set {
                key,
                value,
                applied,
                writer,
            } => {
                self.generation[key as usize] += 1;
                let newer = self.cache.get(&key).is_none_or(|c| c.applied < applied);
                if newer {
                    let entry = Cached {
                        value: Some(value),
                        written: now,
                        applied,
                        recompute: 0,
                        refreshing: false,
                    };
                    self.cache.insert(key, entry);
                }
                self.complete_write(now, writer, key, value);
            }
            Event::Buffer { key, value, writer } => {
                let entry = Cached {
                    value: Some(value),
                    written: now,
                    applied: 0,
                    recompute: 0,
                    refreshing: false,
                };
                self.cache.insert(key, entry);
                self.generation[key as usize] += 1;
                self.buffer.insert(key, value);
                self.acknowledged_behind.push((key, value));
                self.complete_write(now, writer, key, value);
            }
            Event::Flush => {
                // Flushes go on past the end until the buffer is drained (a shutdown).
                if now < self.end || !self.buffer.is_empty() {
                    self.queue.push(Self::at(now + FLUSH_EVERY), Event::Flush);
                }
                let batch: Vec<(u64, u64)> = std::mem::take(&mut self.buffer).into_iter().collect();
                self.flushing.extend(batch.iter().copied());
                if !batch.is_empty() {
                    let lands = now + self.database_ns();
                    self.queue
                        .push(Self::at(lands), Event::FlushLands { batch });
                }
            }
            Event::FlushLands { batch } => {
                for (key, value) in batch {
                    if self.flushing.get(&key) == Some(&value) {
                        self.flushing.remove(&key);
                    }
                    self.db[key as usize] = Some(value);
                }
            }
            Event::Restart => {
                self.cache.clear();
                if self.strategy == Strategy::WriteBehind {
                    self.buffer.clear();
                }
            }
        }
    }

    fn lookup(&mut self, now: u64, key: u64, reader: u64) {
        self.reads += 1;
        if !self.strategy.caches() {
            // No cache: the lookup is the trip to the database.
            self.start_load(now, key, Some(reader));
            return;
        }
        let ttl = self.setup.ttl_ms * MS;
        let fresh = self
            .cache
            .get(&key)
            .copied()
            .filter(|c| now < c.written + ttl);
        // Write-behind: a write not yet in the database is the value, cached or not.
        let dirty = self.buffer.get(&key).or(self.flushing.get(&key)).copied();
        if let Some(value) = dirty.filter(|_| fresh.is_none()) {
            self.hits += 1;
            return self.complete_read(now, reader, key, Some(value));
        }
        let Some(entry) = fresh else {
            return self.miss(now, key, reader);
        };
        let due = match self.strategy {
            Strategy::RefreshAhead => now >= entry.written + ttl / 5 * 4,
            Strategy::Xfetch => {
                let u = 1.0 - self.incidents.unit_f64();
                let ahead = entry.recompute as f64 * -u.ln();
                now as f64 + ahead >= (entry.written + ttl) as f64
            }
            _ => false,
        };
        let in_flight = self
            .flights
            .contains_key(&(key, self.generation[key as usize]));
        if due && !entry.refreshing && !in_flight {
            if let Some(c) = self.cache.get_mut(&key) {
                c.refreshing = true;
            }
            if self.strategy == Strategy::Xfetch {
                // XFetch: this reader recomputes, and gets the new value.
                return self.start_load(now, key, Some(reader));
            }
            self.start_load(now, key, None);
        }
        self.hits += 1;
        self.complete_read(now, reader, key, entry.value);
    }

    fn miss(&mut self, now: u64, key: u64, reader: u64) {
        let generation = self.generation[key as usize];
        if self.strategy.guarded()
            && let Some(waiting) = self.flights.get_mut(&(key, generation))
        {
            waiting.push(reader);
            return;
        }
        self.start_load(now, key, Some(reader));
    }

    fn row(self) -> Row {
        let lost = self
            .acknowledged_behind
            .iter()
            .filter(|(k, v)| self.db[*k as usize].is_none_or(|d| d < *v))
            .count() as u64;
        let judged = from_recorded(self.history.events(), Positions::Events)
            .map_err(|e| e.to_string())
            .map(|h| {
                let mut budget = Budget::new(None, CHECK_MEMORY_BYTES);
                dsys_check::session::check(&h, "no-stale-reads", &mut budget)
            });
        let (counts, first) = match judged {
            Ok(r) => (r.counts, r.witness.map(|w| w.explanation)),
            Err(e) => (
                BTreeMap::new(),
                Some(format!("the history could not be judged: {e}")),
            ),
        };
        let get = |name: &str| counts.get(name).copied().unwrap_or(0);
        Row {
            strategy: self.strategy,
            reads: self.reads,
            hit_ratio: if self.reads == 0 {
                0.0
            } else {
                self.hits as f64 / self.reads as f64
            },
            database_reads_per_s: self.db_reads as f64 / f64::from(self.setup.seconds.max(1)),
            stale_reads: get("stale reads"),
            max_versions_behind: get("k-staleness max"),
            max_stale_ms: get("t-visibility max us") / 1_000,
            largest_stampede: self.largest_stampede,
            writes_lost: lost,
            first_stale_read: first,
        }
    }
}
