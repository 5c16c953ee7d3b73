//! What is known about well-known databases: their PACELC class, under which
//! configuration, and on whose authority.
//!
//! PACELC (Abadi, 2012): if there is a Partition, does the system choose Availability or
//! Consistency; Else (no partition), Latency or Consistency.

use serde::Serialize;
use std::fmt;

/// A PACELC class.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Pacelc {
    /// Available under partition, low latency otherwise.
    #[serde(rename = "PA/EL")]
    PaEl,
    /// Available under partition, consistent otherwise.
    #[serde(rename = "PA/EC")]
    PaEc,
    /// Consistent under partition, low latency otherwise.
    #[serde(rename = "PC/EL")]
    PcEl,
    /// Consistent under partition and otherwise.
    #[serde(rename = "PC/EC")]
    PcEc,
}

impl fmt::Display for Pacelc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Pacelc::PaEl => "PA/EL",
            Pacelc::PaEc => "PA/EC",
            Pacelc::PcEl => "PC/EL",
            Pacelc::PcEc => "PC/EC",
        })
    }
}

/// One database in one configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Classified {
    /// The system.
    pub system: &'static str,
    /// The configuration the class holds for.
    pub configuration: &'static str,
    /// Its class.
    pub class: Pacelc,
    /// The source.
    pub source: &'static str,
}

const ABADI: &str = "D. Abadi, Consistency Tradeoffs in Modern Distributed Database System Design, IEEE Computer 45(2), 2012";
const COSMOS: &str = "Microsoft, Consistency levels in Azure Cosmos DB (learn.microsoft.com/azure/cosmos-db/consistency-levels); class read off its description of the level";
const DYNAMODB: &str =
    "AWS, Amazon DynamoDB Developer Guide, Read consistency; class read off its description";

/// The knowledge base, in a fixed order.
pub const PACELC: &[Classified] = &[
    Classified {
        system: "Dynamo",
        configuration: "as described in the 2007 paper: sloppy quorums, hinted handoff",
        class: Pacelc::PaEl,
        source: ABADI,
    },
    Classified {
        system: "Cassandra",
        configuration: "default consistency levels",
        class: Pacelc::PaEl,
        source: ABADI,
    },
    Classified {
        system: "Riak",
        configuration: "default quorums with sloppy quorum",
        class: Pacelc::PaEl,
        source: ABADI,
    },
    Classified {
        system: "Amazon DynamoDB",
        configuration: "eventually consistent reads (the default)",
        class: Pacelc::PaEl,
        source: DYNAMODB,
    },
    Classified {
        system: "Amazon DynamoDB",
        configuration: "strongly consistent reads",
        class: Pacelc::PcEc,
        source: DYNAMODB,
    },
    Classified {
        system: "MongoDB",
        configuration: "replica set, reads and writes at the primary",
        class: Pacelc::PaEc,
        source: ABADI,
    },
    Classified {
        system: "Yahoo! PNUTS",
        configuration: "per-record timeline consistency, master per record",
        class: Pacelc::PcEl,
        source: ABADI,
    },
    Classified {
        system: "VoltDB / H-Store",
        configuration: "synchronous replication",
        class: Pacelc::PcEc,
        source: ABADI,
    },
    Classified {
        system: "Google Megastore",
        configuration: "Paxos per entity group",
        class: Pacelc::PcEc,
        source: ABADI,
    },
    Classified {
        system: "Google Spanner",
        configuration: "Paxos groups, TrueTime commit wait",
        class: Pacelc::PcEc,
        source: "J. Corbett et al., Spanner: Google's Globally-Distributed Database, OSDI 2012",
    },
    Classified {
        system: "Azure Cosmos DB",
        configuration: "strong",
        class: Pacelc::PcEc,
        source: COSMOS,
    },
    Classified {
        system: "Azure Cosmos DB",
        configuration: "bounded staleness",
        class: Pacelc::PcEl,
        source: COSMOS,
    },
    Classified {
        system: "Azure Cosmos DB",
        configuration: "session",
        class: Pacelc::PaEl,
        source: COSMOS,
    },
    Classified {
        system: "Azure Cosmos DB",
        configuration: "consistent prefix",
        class: Pacelc::PaEl,
        source: COSMOS,
    },
    Classified {
        system: "Azure Cosmos DB",
        configuration: "eventual",
        class: Pacelc::PaEl,
        source: COSMOS,
    },
    Classified {
        system: "etcd",
        configuration: "Raft, linearizable reads (the default)",
        class: Pacelc::PcEc,
        source: "etcd documentation, API guarantees (etcd.io/docs/v3.5/learning/api_guarantees)",
    },
    Classified {
        system: "ZooKeeper",
        configuration: "Zab; reads served by the server a client is connected to",
        class: Pacelc::PcEl,
        source: "Apache ZooKeeper Programmer's Guide, Consistency Guarantees",
    },
    Classified {
        system: "PostgreSQL",
        configuration: "one primary, synchronous standby (synchronous_standby_names), reads at the primary",
        class: Pacelc::PcEc,
        source: "PostgreSQL documentation, High Availability: Synchronous Replication",
    },
    Classified {
        system: "CockroachDB",
        configuration: "Raft per range, serializable transactions",
        class: Pacelc::PcEc,
        source: "Cockroach Labs, CockroachDB architecture overview (cockroachlabs.com/docs)",
    },
];

/// The systems in `class`, one line each ("Cassandra (default consistency levels)").
pub fn examples(class: Pacelc) -> Vec<String> {
    PACELC
        .iter()
        .filter(|c| c.class == class)
        .map(|c| format!("{} ({})", c.system, c.configuration))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_class_has_examples_and_every_entry_a_source() {
        for class in [Pacelc::PaEl, Pacelc::PcEl, Pacelc::PcEc, Pacelc::PaEc] {
            assert!(!examples(class).is_empty(), "{class}");
        }
        assert!(PACELC.iter().all(|c| !c.source.is_empty()));
        assert!(examples(Pacelc::PaEc)[0].starts_with("MongoDB"));
    }
}
