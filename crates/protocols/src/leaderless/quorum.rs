//! Coordinating a request: ask the key's home replicas, gather `R` answers or `W`
//! acknowledgements (a compare-and-set does both, read then write), answer the client,
//! and give up at the deadline.

use super::*;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Stage {
    /// Gathering `R` answers (a read, or the read half of a compare-and-set).
    Read,
    /// Gathering `W` acknowledgements.
    Write,
}

/// A request this node coordinates.
#[derive(Debug)]
pub(super) struct Pending {
    pub(super) request: Request,
    pub(super) stage: Stage,
    /// Who was asked in this stage, and for which home replica (itself, or the home a
    /// fallback stands in for).
    pub(super) asked: Vec<(NodeId, NodeId)>,
    /// Home replicas (or their stand-ins) that answered in this stage.
    pub(super) answered_for: BTreeSet<NodeId>,
    /// Read stage: each responder's versions; their merge.
    pub(super) replies: Vec<(NodeId, Siblings)>,
    pub(super) merged: Siblings,
    /// Write stage: what is written.
    pub(super) write: Siblings,
    /// The client has its answer; the entry stays only to repair late responders.
    pub(super) done: bool,
}

impl Pending {
    /// The home replica `node` was asked for in this stage (itself, or the home a
    /// fallback stands in for).
    pub(super) fn asked_for(&self, node: NodeId) -> Option<NodeId> {
        self.asked
            .iter()
            .rev()
            .find(|(target, _)| *target == node)
            .map(|(_, home)| *home)
    }
}

impl LeaderlessNode {
    pub(super) fn request_timer(tag: u64, deadline: bool) -> TimerId {
        FIRST_REQUEST_TIMER + 2 * tag + u64::from(deadline)
    }

    /// Send this stage's message to `target` on behalf of home replica `home` — or carry
    /// it out at once when the target is this node.
    pub(super) fn ask(
        &mut self,
        ctx: &mut Context<'_, Msg>,
        tag: u64,
        target: NodeId,
        home: NodeId,
    ) {
        let Some(p) = self.pending.get_mut(&tag) else {
            return;
        };
        p.asked.push((target, home));
        let key = p.request.op.key();
        let hint = (target != home).then_some(home);
        match p.stage {
            Stage::Write => {
                let siblings = p.write.clone();
                if self.put(ctx, tag, key, target, home, siblings) {
                    self.on_put_ack(ctx, tag, target);
                }
            }
            Stage::Read => {
                if target == self.id {
                    let siblings = self.lookup(key, hint);
                    self.on_get_reply(ctx, tag, target, siblings);
                } else {
                    ctx.send(target, Msg::Get { tag, key, hint });
                }
            }
        }
    }

    /// Start a stage: ask every home replica, arm the fallback and deadline timers.
    pub(super) fn start_stage(&mut self, ctx: &mut Context<'_, Msg>, tag: u64, stage: Stage) {
        let Some(p) = self.pending.get_mut(&tag) else {
            return;
        };
        p.stage = stage;
        p.asked.clear();
        p.answered_for.clear();
        let key = p.request.op.key();
        let mut homes = self.homes(key);
        // This node last: answering itself may complete the stage, and every other home
        // replica must still be sent the write (or asked, for read repair).
        homes.sort_by_key(|h| *h == self.id);
        if self.config.sloppy_quorum {
            ctx.set_timer(Self::request_timer(tag, false), self.config.fallback_after);
        }
        ctx.set_timer(Self::request_timer(tag, true), self.config.request_timeout);
        for home in homes {
            self.ask(ctx, tag, home, home);
        }
    }

    pub(super) fn new_version(
        &mut self,
        ctx: &mut Context<'_, Msg>,
        value: u64,
        seen: &Siblings,
    ) -> Siblings {
        let stamp = self.hlc.now(ctx.now());
        let clock = match self.mode() {
            VersionMode::Timestamp => Default::default(),
            VersionMode::VectorClock => {
                self.counter += 1;
                ctx.persist(
                    COUNTER_KEY.to_vec(),
                    self.counter.to_be_bytes().to_vec(),
                    Durability::Synced,
                );
                let mut clock = seen.clock();
                clock.raise(self.id, self.counter);
                clock
            }
        };
        let mut write = Siblings::default();
        write.insert(
            Version {
                value,
                stamp,
                writer: self.id,
                clock,
            },
            self.mode(),
        );
        write
    }

    pub(super) fn on_put_ack(&mut self, ctx: &mut Context<'_, Msg>, tag: u64, from: NodeId) {
        let Some(p) = self.pending.get_mut(&tag) else {
            return;
        };
        if p.stage != Stage::Write || p.done {
            return;
        }
        let Some(home) = p.asked_for(from) else {
            return;
        };
        p.answered_for.insert(home);
        if p.answered_for.len() >= self.config.write_quorum {
            let response = match p.request.op {
                Op::Cas { .. } => Response::CasOk,
                _ => Response::WriteOk,
            };
            let id = p.request.id;
            self.finish(ctx, tag);
            ctx.reply(id, response);
        }
    }

    pub(super) fn on_get_reply(
        &mut self,
        ctx: &mut Context<'_, Msg>,
        tag: u64,
        from: NodeId,
        siblings: Siblings,
    ) {
        let mode = self.mode();
        let Some(p) = self.pending.get_mut(&tag) else {
            return;
        };
        if p.stage != Stage::Read {
            return;
        }
        let Some(home) = p.asked_for(from) else {
            return;
        };
        if p.done {
            // A late answer: repair it if it is behind what the client was given.
            if self.config.read_repair && p.merged != siblings {
                let (key, merged) = (p.request.op.key(), p.merged.clone());
                self.repair(ctx, key, from, home, merged);
            }
            return;
        }
        p.answered_for.insert(home);
        p.merged.merge(&siblings, mode);
        p.replies.push((from, siblings));
        if p.answered_for.len() < self.config.read_quorum {
            return;
        }
        let (request, merged) = (p.request, p.merged.clone());
        if self.config.read_repair {
            let stale: Vec<(NodeId, NodeId)> = p
                .replies
                .iter()
                .filter(|(_, s)| *s != merged)
                .filter_map(|(n, _)| Some((*n, p.asked_for(*n)?)))
                .collect();
            for (node, home) in stale {
                self.repair(ctx, request.op.key(), node, home, merged.clone());
            }
        }
        match request.op {
            Op::Read { .. } => {
                if let Some(p) = self.pending.get_mut(&tag) {
                    p.done = true; // kept until the deadline, to repair late answers
                }
                let values = merged.values();
                if values.len() > 1 {
                    self.stats.reads_with_siblings += 1;
                }
                let response = match mode {
                    VersionMode::Timestamp => Response::ReadOk(values.first().copied()),
                    VersionMode::VectorClock => Response::ReadSiblings(values),
                };
                ctx.reply(request.id, response);
            }
            Op::Cas { expected, new, .. } => {
                // It succeeds only on a key holding `expected` alone; the write then
                // supersedes every version the read found.
                if merged.values() == [expected] {
                    self.write_after_read(ctx, tag, new, &merged);
                } else {
                    self.finish(ctx, tag);
                    ctx.reply(request.id, Response::CasMismatch);
                }
            }
            // Vector-clock mode: the write supersedes every version its read found.
            Op::Write { value, .. } => self.write_after_read(ctx, tag, value, &merged),
            Op::Increment { .. } | Op::Insert { .. } | Op::Remove { .. } => {}
        }
    }

    /// Second stage of a read-then-write: write `value` over the versions `read` found.
    pub(super) fn write_after_read(
        &mut self,
        ctx: &mut Context<'_, Msg>,
        tag: u64,
        value: Value,
        read: &Siblings,
    ) {
        let write = self.new_version(ctx, value, read);
        if let Some(p) = self.pending.get_mut(&tag) {
            p.write = write;
        }
        self.start_stage(ctx, tag, Stage::Write);
    }

    /// Have `target` keep `siblings` of `key` for home replica `home` (itself, or the home
    /// it stands in for): at once if `target` is this node (returns true), else by a
    /// `Put` tagged `tag` (0: no acknowledgement wanted).
    pub(super) fn put(
        &mut self,
        ctx: &mut Context<'_, Msg>,
        tag: u64,
        key: Key,
        target: NodeId,
        home: NodeId,
        siblings: Siblings,
    ) -> bool {
        let hint = (target != home).then_some(home);
        if target != self.id {
            ctx.send(
                target,
                Msg::Put {
                    tag,
                    key,
                    siblings,
                    hint,
                },
            );
            return false;
        }
        match hint {
            None => {
                self.store(ctx, key, &siblings);
            }
            Some(home) => self.store_hint(ctx, home, key, &siblings),
        }
        true
    }

    pub(super) fn finish(&mut self, ctx: &mut Context<'_, Msg>, tag: u64) {
        self.pending.remove(&tag);
        ctx.cancel_timer(Self::request_timer(tag, false));
        ctx.cancel_timer(Self::request_timer(tag, true));
    }

    pub(super) fn on_deadline(&mut self, ctx: &mut Context<'_, Msg>, tag: u64) {
        let Some(p) = self.pending.get(&tag) else {
            return;
        };
        let (id, done, stage) = (p.request.id, p.done, p.stage);
        self.finish(ctx, tag);
        if !done {
            let response = match stage {
                // Nothing was written: the operation definitely did not happen.
                Stage::Read => Response::Unavailable,
                // Some replicas may hold the write: it may surface later.
                Stage::Write => Response::Indeterminate,
            };
            ctx.reply(id, response);
        }
    }
}
