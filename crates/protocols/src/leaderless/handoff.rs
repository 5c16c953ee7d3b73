//! Sloppy quorums and hinted handoff: a fallback stands in for a silent home replica,
//! keeps what it took as a hint, and hands it home when the home answers again.

use super::*;

pub(super) fn hint_key(home: NodeId, key: Key) -> Vec<u8> {
    let mut k = HINT_PREFIX.to_vec();
    k.extend_from_slice(&home.0.to_be_bytes());
    k.extend_from_slice(&key.to_be_bytes());
    k
}

impl LeaderlessNode {
    pub(super) fn store_hint(
        &mut self,
        ctx: &mut Context<'_, Msg>,
        home: NodeId,
        key: Key,
        siblings: &Siblings,
    ) {
        if siblings.is_empty() {
            return;
        }
        let mode = self.mode();
        let entry = self.hints.entry((home, key)).or_default();
        if entry.merge(siblings, mode) {
            self.stats.hints_stored += 1;
            ctx.persist(hint_key(home, key), entry.encode(), Durability::Synced);
        }
    }

    /// Sloppy quorum: stand a fallback in for each home replica that has not answered.
    pub(super) fn borrow_fallbacks(&mut self, ctx: &mut Context<'_, Msg>, tag: u64) {
        let Some(p) = self.pending.get(&tag) else {
            return;
        };
        if p.done {
            return;
        }
        let key = p.request.op.key();
        let list = ring::preference_list(self.ring.as_ref(), key);
        let homes = &list[..self.config.replicas.min(list.len())];
        let silent: Vec<NodeId> = homes
            .iter()
            .copied()
            .filter(|h| !p.answered_for.contains(h))
            .collect();
        let mut fallbacks = list[homes.len()..]
            .iter()
            .copied()
            .filter(|f| p.asked.iter().all(|(t, _)| t != f));
        let mut borrowed = Vec::new();
        for home in silent {
            let Some(fallback) = fallbacks.next() else {
                break;
            };
            borrowed.push((fallback, home));
        }
        let more_left = fallbacks.next().is_some();
        borrowed.sort_by_key(|(fallback, _)| *fallback == self.id);
        for (fallback, home) in borrowed {
            self.ask(ctx, tag, fallback, home);
        }
        if more_left && self.pending.contains_key(&tag) {
            ctx.set_timer(Self::request_timer(tag, false), self.config.fallback_after);
        }
    }

    pub(super) fn hand_off(&self, ctx: &mut Context<'_, Msg>) {
        for ((home, key), siblings) in &self.hints {
            ctx.send(
                *home,
                Msg::Handoff {
                    key: *key,
                    siblings: siblings.clone(),
                },
            );
        }
    }
}
