//! The read paths: read-index (confirm leadership with a majority, then answer at the
//! noted commit index) and the lease that lets a leader skip the confirmation.

use super::{Msg, RaftNode, ReadPath, Role};
use dsys_node::{Context, Duration, Op, Request, RequestId};

/// A read waiting for its leadership confirmation and for the state machine to catch up.
#[derive(Clone, Copy, Debug)]
pub(super) struct PendingRead {
    pub(super) request: RequestId,
    pub(super) op: Op,
    /// The commit index when the read arrived: it must be applied first.
    pub(super) read_index: u64,
    /// The heartbeat round a majority must acknowledge.
    pub(super) round: u64,
}

impl RaftNode {
    /// Answer the reads whose round a majority acknowledged and whose index is applied.
    pub(super) fn serve_reads(&mut self, ctx: &mut Context<'_, Msg>) {
        let (Some(confirmed), applied) = (self.confirmed_round(), self.applied) else {
            return;
        };
        let Role::Leader(l) = &mut self.role else {
            return;
        };
        let (ready, waiting): (Vec<PendingRead>, Vec<PendingRead>) = l
            .reads
            .iter()
            .partition(|r| r.round <= confirmed && r.read_index <= applied);
        l.reads = waiting;
        for read in ready {
            self.stats.read_index_reads += 1;
            let (response, _) = self.state.data.decide(read.op);
            ctx.reply(read.request, response);
        }
    }

    /// The latest heartbeat round a majority of voters acknowledged, if this node leads.
    pub(super) fn confirmed_round(&self) -> Option<u64> {
        let Role::Leader(l) = &self.role else {
            return None;
        };
        Some(self.quorum_value(&l.acked_round, l.round))
    }

    /// Extend the lease from the latest round a majority acknowledged.
    pub(super) fn extend_lease(&mut self) {
        let (Some(confirmed), lease) = (self.confirmed_round(), self.lease()) else {
            return;
        };
        let Role::Leader(l) = &mut self.role else {
            return;
        };
        if l.handed_over {
            return;
        }
        if let Some(&sent) = l.round_sent.get(&confirmed) {
            l.lease_until = l.lease_until.max(sent.saturating_add(lease));
        }
        l.round_sent = l.round_sent.split_off(&confirmed);
    }

    pub(super) fn lease(&self) -> Duration {
        let nanos = dsys_node::duration_nanos(self.config.election_timeout);
        Duration::from_nanos(nanos / 1000 * self.config.lease_permille)
    }

    pub(super) fn on_read(&mut self, ctx: &mut Context<'_, Msg>, request: Request) {
        let Role::Leader(l) = &mut self.role else {
            return;
        };
        let read_index = self.commit.max(l.noop_index);
        if self.config.reads == ReadPath::Lease
            && ctx.now() < l.lease_until
            && self.applied >= read_index
        {
            self.stats.lease_reads += 1;
            let (response, _) = self.state.data.decide(request.op);
            ctx.reply(request.id, response);
            return;
        }
        l.reads.push(PendingRead {
            request: request.id,
            op: request.op,
            read_index,
            round: l.round + 1,
        });
        self.broadcast(ctx);
        if self.n == 1 {
            self.serve_reads(ctx);
        }
    }
}
