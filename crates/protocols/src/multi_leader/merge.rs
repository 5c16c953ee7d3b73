//! What a node does with updates: applying one (its own or a peer's) under the chosen
//! conflict resolution — last writer wins, siblings, or a CRDT merge — and deciding
//! what a client operation writes.

use super::*;

impl MultiLeaderNode {
    /// Fold one update into its key's state.
    pub(super) fn apply(&mut self, u: &Update) {
        let plain = match &u.payload {
            Payload::CounterComponent { up, down } => {
                if let State::Counter(c) = self
                    .current
                    .entry(u.key)
                    .or_insert_with(|| State::Counter(PnCounter::default()))
                {
                    c.merge_component(u.origin, (*up, *down));
                }
                return;
            }
            Payload::SetAdd { element, dot } => {
                if let State::Set(s) = self
                    .current
                    .entry(u.key)
                    .or_insert_with(|| State::Set(OrSet::default()))
                {
                    s.apply_add(*element, (u.origin, *dot));
                }
                return;
            }
            Payload::SetRemove { dots } => {
                if let State::Set(s) = self
                    .current
                    .entry(u.key)
                    .or_insert_with(|| State::Set(OrSet::default()))
                {
                    s.apply_remove(dots);
                }
                return;
            }
            Payload::Value(value) if self.config.conflict == Conflict::Siblings => {
                if let State::Siblings(r) = self
                    .current
                    .entry(u.key)
                    .or_insert_with(|| State::Siblings(MvRegister::default()))
                {
                    let version = Version {
                        value: *value,
                        stamp: u.stamp,
                        writer: u.origin,
                        clock: u.seen.clone(),
                    };
                    r.0.insert(version, VersionMode::VectorClock);
                }
                return;
            }
            Payload::Value(v) => Plain::Register(*v),
            Payload::Count(n) => Plain::Count(*n),
            Payload::Elements(es) => Plain::Elements(es.clone()),
        };
        let incoming = Current {
            value: plain,
            stamp: u.stamp,
            origin: u.origin,
            seen: u.seen.clone(),
        };
        let Some(State::Lww(cur)) = self.current.get_mut(&u.key) else {
            self.current.insert(u.key, State::Lww(incoming));
            return;
        };
        let incoming_wins = match u.seen.compare(&cur.seen) {
            Causality::After => true,
            Causality::Before | Causality::Equal => false,
            Causality::Concurrent => {
                let wins = (u.stamp, u.origin) > (cur.stamp, cur.origin);
                // Count each dropped write once: at the node that accepted it.
                if wins && cur.origin == self.id {
                    self.lost += 1;
                }
                wins
            }
        };
        let mut seen = cur.seen.clone();
        seen.merge(&u.seen);
        if incoming_wins {
            *cur = Current { seen, ..incoming };
        } else {
            cur.seen = seen;
        }
    }

    /// The update a client operation makes, and the answer it gets; `None` for reads.
    pub(super) fn decide(&self, op: Op) -> (Response, Option<Payload>) {
        let state = self.current.get(&op.key());
        match (self.config.data, op) {
            (DataKind::Register, _) if self.config.conflict == Conflict::Siblings => {
                let values = match state {
                    Some(State::Siblings(r)) => r.0.values(),
                    _ => Vec::new(),
                };
                match op {
                    Op::Read { .. } => (Response::ReadSiblings(values), None),
                    Op::Write { value, .. } => (Response::WriteOk, Some(Payload::Value(value))),
                    // Only a key holding `expected` alone matches; the write then
                    // supersedes it.
                    Op::Cas { expected, new, .. } if values == [expected] => {
                        (Response::CasOk, Some(Payload::Value(new)))
                    }
                    Op::Cas { .. } => (Response::CasMismatch, None),
                    Op::Increment { .. } | Op::Insert { .. } | Op::Remove { .. } => {
                        (Response::Unavailable, None)
                    }
                }
            }
            (DataKind::Register, _) => {
                let value = match state {
                    Some(State::Lww(Current {
                        value: Plain::Register(v),
                        ..
                    })) => Some(*v),
                    _ => None,
                };
                let (response, write) = crate::kv::decide(op, value);
                (response, write.map(|(_, v)| Payload::Value(v)))
            }
            (DataKind::Counter | DataKind::GrowOnlyCounter, Op::Read { .. }) => {
                (Response::ReadCount(counter_value(state)), None)
            }
            // A G-counter only grows: a decrement is refused and changes nothing.
            (DataKind::GrowOnlyCounter, Op::Increment { delta, .. }) if delta < 0 => {
                (Response::Unavailable, None)
            }
            (DataKind::Counter | DataKind::GrowOnlyCounter, Op::Increment { delta, .. }) => {
                let payload = match self.config.conflict {
                    Conflict::Lww | Conflict::Siblings => {
                        Payload::Count(counter_value(state).saturating_add(delta))
                    }
                    Conflict::Crdt => {
                        // Only this node's own component changes; ship it whole.
                        let (mut up, mut down) = match state {
                            Some(State::Counter(c)) => c.component(self.id),
                            _ => (0, 0),
                        };
                        if delta >= 0 {
                            up += delta.unsigned_abs();
                        } else {
                            down += delta.unsigned_abs();
                        }
                        Payload::CounterComponent { up, down }
                    }
                };
                (Response::UpdateOk, Some(payload))
            }
            (DataKind::Set, Op::Read { .. }) => (Response::ReadSet(set_elements(state)), None),
            (DataKind::Set, Op::Insert { element, .. }) => {
                let payload = match self.config.conflict {
                    Conflict::Lww | Conflict::Siblings => {
                        let mut es = set_elements(state);
                        if let Err(at) = es.binary_search(&element) {
                            es.insert(at, element);
                        }
                        Payload::Elements(es)
                    }
                    Conflict::Crdt => {
                        let next = match state {
                            Some(State::Set(s)) => s.next_dot(self.id),
                            _ => OrSet::<Value>::default().next_dot(self.id),
                        };
                        Payload::SetAdd {
                            element,
                            dot: next.1,
                        }
                    }
                };
                (Response::UpdateOk, Some(payload))
            }
            (DataKind::Set, Op::Remove { element, .. }) => {
                let payload = match self.config.conflict {
                    Conflict::Lww | Conflict::Siblings => {
                        let mut es = set_elements(state);
                        es.retain(|e| *e != element);
                        Payload::Elements(es)
                    }
                    Conflict::Crdt => Payload::SetRemove {
                        dots: match state {
                            Some(State::Set(s)) => s.observed(&element),
                            _ => Vec::new(),
                        },
                    },
                };
                (Response::UpdateOk, Some(payload))
            }
            // An operation of another workload: refused, nothing changes.
            _ => (Response::Unavailable, None),
        }
    }
}

pub(super) fn counter_value(state: Option<&State>) -> i64 {
    match state {
        Some(State::Counter(c)) => c.value(),
        Some(State::Lww(Current {
            value: Plain::Count(n),
            ..
        })) => *n,
        _ => 0,
    }
}

pub(super) fn set_elements(state: Option<&State>) -> Vec<Value> {
    match state {
        Some(State::Set(s)) => s.elements().into_iter().collect(),
        Some(State::Lww(Current {
            value: Plain::Elements(es),
            ..
        })) => es.clone(),
        _ => Vec::new(),
    }
}
