//! A simulated disk: synced writes survive a crash, buffered writes may not — and, under
//! the storage faults of the nemesis, a disk that fails, lies, tears, corrupts and fills.

use crate::nemesis::DiskFault;
use dsys_node::{Damage, DetRng, Durability, Storage};
use std::collections::BTreeMap;

/// The chance that one entry reads back corrupted while `corrupt-read` is on.
const CORRUPT_READ_CHANCE: f64 = 0.2;

/// One node's stable storage with an OS write buffer in front of it.
///
/// A buffered write sits in the buffer; a synced write flushes the whole buffer in order
/// and then itself (fsync semantics). A crash empties the buffer: on a healthy disk all
/// of it is lost, so what survives is a prefix of the writes in the order the node made
/// them. Every stored entry carries a checksum of the value the node meant to write, so
/// a torn or corrupted entry is noticed when it is read back at boot.
///
/// The storage faults change this, each while it is on:
/// - `fsync-fail`: a synced write fails, and the buffer it would have flushed is dropped
///   (Linux marks the pages clean after a failed writeback: a retried fsync "succeeds");
/// - `fsync-lie`: a synced write reports success but stays in the buffer;
/// - `torn-write`: at a crash, the last write in the buffer (or the one in flight)
///   reaches the disk cut short, if it makes a new entry (an append); a write over an
///   existing entry is an atomic replacement — write a new file, fsync, rename, as
///   careful stores write their metadata — and is lost whole;
/// - `lose-unsynced`: at a crash, each buffered write survives or not on its own, so the
///   survivors need not be a prefix;
/// - `corrupt-read`: entries read back at boot may come back with a flipped bit;
/// - `disk-full`: every write fails;
/// - `slow-disk`: synced writes take time (the world holds the node's later effects
///   until the write completes; see [`SimStore::begin_in_flight`]).
#[derive(Clone, Debug, Default)]
pub struct SimStore {
    durable: BTreeMap<Vec<u8>, Sealed>,
    buffered: Vec<(Vec<u8>, Option<Vec<u8>>)>,
    /// A synced write the disk is still busy with (slow disks only).
    in_flight: Option<(Vec<u8>, Option<Vec<u8>>)>,
    faults: Vec<DiskFault>,
    stats: DiskStats,
}

/// A stored value framed as a storage engine frames a record: the length and checksum
/// of what the node meant to write, then the bytes that reached the disk.
#[derive(Clone, Debug)]
struct Sealed {
    len: usize,
    checksum: u64,
    bytes: Vec<u8>,
}

impl Sealed {
    fn whole(bytes: Vec<u8>) -> Self {
        Sealed {
            len: bytes.len(),
            checksum: checksum(&bytes),
            bytes,
        }
    }

    /// How the bytes read back fail their frame, if they do.
    fn damage(&self, bytes: &[u8]) -> Option<Damage> {
        if bytes.len() < self.len {
            Some(Damage::Torn)
        } else if checksum(bytes) != self.checksum {
            Some(Damage::Corrupt)
        } else {
            None
        }
    }
}

/// FNV-1a over the bytes and their length, the record checksum of the simulated disk.
fn checksum(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes.iter().chain(&(bytes.len() as u64).to_be_bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// What the storage faults did to one disk, counted over the run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DiskStats {
    /// Buffered (or in-flight) writes lost to crashes.
    pub lost_on_crash: u64,
    /// Writes the disk refused (`fsync-fail`, `disk-full`).
    pub failed_writes: u64,
    /// Synced writes reported durable that were not (`fsync-lie`).
    pub lied_syncs: u64,
    /// Writes that reached the disk cut short (`torn-write`).
    pub torn_writes: u64,
    /// Entries read back corrupted at boot (`corrupt-read`).
    pub corrupted_reads: u64,
    /// Synced writes that took time (`slow-disk`).
    pub slow_writes: u64,
}

impl DiskStats {
    /// Add another disk's counts.
    pub fn add(&mut self, other: &DiskStats) {
        self.lost_on_crash += other.lost_on_crash;
        self.failed_writes += other.failed_writes;
        self.lied_syncs += other.lied_syncs;
        self.torn_writes += other.torn_writes;
        self.corrupted_reads += other.corrupted_reads;
        self.slow_writes += other.slow_writes;
    }
}

/// The disk refused a write.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum WriteFailed {
    /// fsync returned an error (EIO).
    Fsync,
    /// No space left (ENOSPC).
    Full,
}

impl SimStore {
    /// Apply one write with the given durability.
    pub fn write(
        &mut self,
        key: Vec<u8>,
        value: Option<Vec<u8>>,
        durability: Durability,
    ) -> Result<(), WriteFailed> {
        if self.has(DiskFault::DiskFull) && value.is_some() {
            self.stats.failed_writes += 1;
            return Err(WriteFailed::Full);
        }
        match durability {
            Durability::Buffered => self.buffered.push((key, value)),
            Durability::Synced => return self.sync(key, value),
        }
        Ok(())
    }

    fn sync(&mut self, key: Vec<u8>, value: Option<Vec<u8>>) -> Result<(), WriteFailed> {
        if self.has(DiskFault::FsyncFail) {
            self.stats.failed_writes += 1;
            self.buffered.clear();
            return Err(WriteFailed::Fsync);
        }
        if self.has(DiskFault::FsyncLie) {
            self.stats.lied_syncs += 1;
            self.buffered.push((key, value));
            return Ok(());
        }
        for (k, v) in std::mem::take(&mut self.buffered) {
            self.put(k, v);
        }
        self.put(key, value);
        Ok(())
    }

    fn put(&mut self, key: Vec<u8>, value: Option<Vec<u8>>) {
        match value {
            Some(bytes) => {
                self.durable.insert(key, Sealed::whole(bytes));
            }
            None => {
                self.durable.remove(&key);
            }
        }
    }

    /// Whether `fault` is on for this disk.
    pub fn has(&self, fault: DiskFault) -> bool {
        self.faults.contains(&fault)
    }

    /// Turn a storage fault on (idempotent).
    pub fn set_fault(&mut self, fault: DiskFault) {
        if !self.has(fault) {
            self.faults.push(fault);
        }
    }

    /// Turn a storage fault off.
    pub fn clear_fault(&mut self, fault: DiskFault) {
        self.faults.retain(|f| *f != fault);
    }

    /// The slow-disk fault in force, if any.
    pub fn slow(&self) -> Option<DiskFault> {
        self.faults
            .iter()
            .copied()
            .find(|f| matches!(f, DiskFault::SlowDisk(_)))
    }

    /// The storage faults on, in the order they came.
    pub fn faults(&self) -> &[DiskFault] {
        &self.faults
    }

    /// A synced write the disk will take time over: held until
    /// [`SimStore::finish_in_flight`], torn or lost if the node crashes first.
    pub fn begin_in_flight(&mut self, key: Vec<u8>, value: Option<Vec<u8>>) {
        self.stats.slow_writes += 1;
        self.in_flight = Some((key, value));
    }

    /// Whether a synced write is in flight.
    pub fn busy(&self) -> bool {
        self.in_flight.is_some()
    }

    /// The in-flight write completes, as a synced write made now would.
    pub fn finish_in_flight(&mut self) -> Result<(), WriteFailed> {
        match self.in_flight.take() {
            Some((key, value)) => self.sync(key, value),
            None => Ok(()),
        }
    }

    /// The node crashed (power lost): what reaches the disk depends on the faults on.
    pub fn crash(&mut self, rng: &mut DetRng) {
        let mut pending = std::mem::take(&mut self.buffered);
        pending.extend(self.in_flight.take());
        let total = pending.len() as u64;
        let mut survived = 0;
        if self.has(DiskFault::LoseUnsynced) {
            for (key, value) in std::mem::take(&mut pending) {
                if rng.chance(0.5) {
                    survived += 1;
                    self.put(key, value);
                }
            }
        }
        if self.has(DiskFault::TornWrite)
            && let Some((key, Some(bytes))) = pending.pop()
            && !bytes.is_empty()
            && !self.durable.contains_key(&key)
        {
            // Cut short: a prefix reaches the disk under the frame of the whole.
            let kept = rng.below(bytes.len() as u64) as usize;
            self.stats.torn_writes += 1;
            let mut sealed = Sealed::whole(bytes);
            sealed.bytes.truncate(kept);
            self.durable.insert(key, sealed);
        }
        self.stats.lost_on_crash += total - survived;
    }

    /// What a node booting now reads: entries whose checksum fails (torn, or read back
    /// corrupted under `corrupt-read`) are listed as damaged, not handed over.
    pub fn read_at_boot(&mut self, rng: &mut DetRng) -> Storage {
        let corrupt = self.has(DiskFault::CorruptRead);
        let mut view = Storage::new();
        for (key, sealed) in &self.durable {
            let mut bytes = sealed.bytes.clone();
            if corrupt && !bytes.is_empty() && rng.chance(CORRUPT_READ_CHANCE) {
                let bit = rng.below(bytes.len() as u64 * 8);
                bytes[(bit / 8) as usize] ^= 1 << (bit % 8);
                self.stats.corrupted_reads += 1;
            }
            match sealed.damage(&bytes) {
                None => view.apply(key.clone(), Some(bytes)),
                Some(damage) => view.mark_damaged(key.clone(), damage),
            }
        }
        view
    }

    /// What a booting node would find on a healthy read, for tests and tools.
    pub fn durable(&self) -> Storage {
        let mut view = Storage::new();
        for (key, sealed) in &self.durable {
            match sealed.damage(&sealed.bytes) {
                None => view.apply(key.clone(), Some(sealed.bytes.clone())),
                Some(damage) => view.mark_damaged(key.clone(), damage),
            }
        }
        view
    }

    /// Writes not yet synced.
    pub fn buffered_len(&self) -> usize {
        self.buffered.len()
    }

    /// What the storage faults did to this disk so far.
    pub fn stats(&self) -> DiskStats {
        self.stats
    }
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
