//! Maglev hashing (Eisenbud et al., NSDI 2016): a lookup table of `M` entries (a prime
//! well above the node count) filled by the nodes taking turns, each along its own
//! permutation of the table. A lookup is one table read; every node holds `M / n`
//! entries give or take one, so balance is as good as the key sample allows; a change of
//! nodes moves slightly more keys than the minimum. Weights: a node takes turns in
//! proportion to its weight.

use crate::hash::{salted, scale};
use crate::placement::Placement;
use crate::{Nodes, PartitionError};

/// Table entries per node by default (the paper's advice: `M` at least 100 × nodes).
pub const ENTRIES_PER_NODE: u64 = 100;

/// The smallest table [`Maglev::new`] makes.
pub const MIN_TABLE: u64 = 65_537;

/// The largest table (entries are 4 bytes: 1 GiB).
pub const MAX_TABLE: u64 = crate::MAX_ENTRIES;

/// A Maglev lookup table.
#[derive(Clone, Debug)]
pub struct Maglev {
    nodes: Nodes,
    table: Vec<u32>,
}

fn is_prime(n: u64) -> bool {
    n >= 2 && (2..).take_while(|d| d * d <= n).all(|d| n % d != 0)
}

impl Maglev {
    /// A table of the smallest prime at least `max(65,537, 100 × nodes)` entries.
    pub fn new(nodes: Nodes) -> Result<Maglev, PartitionError> {
        let want = (nodes.len() as u64 * ENTRIES_PER_NODE).max(MIN_TABLE);
        let size = (want..).find(|&n| is_prime(n)).unwrap_or(want);
        Maglev::with_table(nodes, size)
    }

    /// A table of `size` entries: a prime, at least the number of nodes, at most 2^28.
    pub fn with_table(nodes: Nodes, size: u64) -> Result<Maglev, PartitionError> {
        if !is_prime(size) || size < nodes.len() as u64 || size > MAX_TABLE {
            return Err(PartitionError::OutOfRange {
                name: "Maglev table size",
                value: size,
                expected: "a prime, at least the number of nodes, at most 2^28",
            });
        }
        let n = nodes.len();
        // Each node's permutation: start at `offset`, step by `skip` (never 0, and
        // coprime with the prime size, so the walk visits every entry).
        let mut position: Vec<u64> = (0..n).map(|i| salted(nodes.id_hash(i), 1) % size).collect();
        let skip: Vec<u64> = (0..n)
            .map(|i| salted(nodes.id_hash(i), 2) % (size - 1) + 1)
            .collect();
        let weight: Vec<u64> = nodes.nodes().iter().map(|x| u64::from(x.weight)).collect();
        let heaviest = weight.iter().copied().max().unwrap_or(1);
        let mut table = vec![u32::MAX; size as usize];
        let mut filled = 0u64;
        'turns: for turn in 1u64.. {
            for i in 0..n {
                // A node of weight w takes w / heaviest of the turns, evenly spread.
                if (turn * weight[i]) / heaviest == ((turn - 1) * weight[i]) / heaviest {
                    continue;
                }
                while table[position[i] as usize] != u32::MAX {
                    position[i] = (position[i] + skip[i]) % size;
                }
                table[position[i] as usize] = i as u32;
                position[i] = (position[i] + skip[i]) % size;
                filled += 1;
                if filled == size {
                    break 'turns;
                }
            }
        }
        Ok(Maglev { nodes, table })
    }

    /// How many entries each node holds.
    pub fn entries(&self) -> Vec<u64> {
        let mut count = vec![0u64; self.nodes.len()];
        for &owner in &self.table {
            count[owner as usize] += 1;
        }
        count
    }
}

impl Placement for Maglev {
    fn name(&self) -> &'static str {
        "maglev"
    }

    fn nodes(&self) -> &Nodes {
        &self.nodes
    }

    fn locate(&self, key: u64) -> usize {
        self.table[scale(key, self.table.len() as u64) as usize] as usize
    }
}
