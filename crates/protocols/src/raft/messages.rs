//! What `raft` nodes send each other.

use super::{Entry, Snapshot};
use std::sync::Arc;

/// Messages of `raft`.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum RaftMessage {
    /// Could I win an election for `term`? (The sender's own term is not raised.)
    PreVote {
        /// The term the sender would stand in.
        term: u64,
        /// Index of the sender's last entry.
        last_index: u64,
        /// Term of the sender's last entry.
        last_term: u64,
    },
    /// The answer to a [`RaftMessage::PreVote`].
    PreVoteReply {
        /// The term asked about.
        term: u64,
        /// Whether the sender would vote.
        granted: bool,
        /// The sender's own term: a pre-candidate behind it catches up, else it would
        /// keep asking for a term the others have passed and never be granted one.
        current: u64,
    },
    /// Vote for me in `term`.
    Vote {
        /// The candidate's term.
        term: u64,
        /// Index of the candidate's last entry.
        last_index: u64,
        /// Term of the candidate's last entry.
        last_term: u64,
        /// The leader handed over to the candidate ([`RaftMessage::TimeoutNow`]): vote
        /// even though a leader was heard from recently.
        transfer: bool,
    },
    /// The answer to a [`RaftMessage::Vote`].
    VoteReply {
        /// The voter's term.
        term: u64,
        /// Whether the vote is granted.
        granted: bool,
    },
    /// Leader to follower: entries after `prev_index`, and the leader's commit index.
    Append(AppendEntries),
    /// Leader to a follower that needs entries the leader has compacted: its snapshot.
    InstallSnapshot {
        /// The leader's term.
        term: u64,
        /// The snapshot (shared: it is not copied per send).
        snapshot: Arc<Snapshot>,
        /// The leader's heartbeat round, echoed back as for an append.
        round: u64,
    },
    /// A leader that a membership change removed hands over: stand for election now,
    /// without a pre-vote.
    TimeoutNow {
        /// The leader's term.
        term: u64,
    },
    /// The answer to a [`RaftMessage::Append`].
    AppendReply {
        /// The follower's term.
        term: u64,
        /// Whether the entries were taken.
        success: bool,
        /// On success, the follower's last index matching the leader's log; on failure,
        /// the index the leader should send from next.
        index: u64,
        /// The round being answered.
        round: u64,
    },
}

/// The body of [`RaftMessage::Append`] (a heartbeat when `entries` is empty).
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct AppendEntries {
    /// The leader's term.
    pub term: u64,
    /// Index just before the first entry.
    pub prev_index: u64,
    /// Term of that entry.
    pub prev_term: u64,
    /// The entries.
    pub entries: Vec<Entry>,
    /// The leader's commit index.
    pub commit: u64,
    /// The leader's heartbeat round, echoed back (read-index and lease confirmation).
    pub round: u64,
}
