use super::*;
use crate::dist::LatencyDist;

fn rng() -> DetRng {
    DetRng::from_seed(7)
}

fn buffered(s: &mut SimStore, key: &[u8], value: u8) {
    s.write(key.to_vec(), Some(vec![value; 16]), Durability::Buffered)
        .unwrap();
}

fn synced(s: &mut SimStore, key: &[u8], value: u8) -> Result<(), WriteFailed> {
    s.write(key.to_vec(), Some(vec![value; 16]), Durability::Synced)
}

#[test]
fn crash_keeps_synced_and_loses_buffered() {
    let mut s = SimStore::default();
    buffered(&mut s, b"a", 1);
    synced(&mut s, b"b", 2).unwrap(); // flushes a too
    buffered(&mut s, b"c", 3);
    s.crash(&mut rng());
    let d = s.durable();
    assert_eq!(d.get(b"a"), Some(&[1u8; 16][..]));
    assert_eq!(d.get(b"b"), Some(&[2u8; 16][..]));
    assert_eq!(d.get(b"c"), None);
    assert_eq!(s.stats().lost_on_crash, 1);
}

#[test]
fn a_synced_delete_flushes_earlier_writes_first() {
    let mut s = SimStore::default();
    buffered(&mut s, b"a", 1);
    s.write(b"a".to_vec(), None, Durability::Synced).unwrap();
    assert_eq!(s.durable().get(b"a"), None);
    assert_eq!(s.buffered_len(), 0);
}

#[test]
fn a_failed_fsync_drops_what_it_would_have_flushed() {
    let mut s = SimStore::default();
    s.set_fault(DiskFault::FsyncFail);
    buffered(&mut s, b"a", 1);
    assert_eq!(synced(&mut s, b"b", 2), Err(WriteFailed::Fsync));
    s.clear_fault(DiskFault::FsyncFail);
    // A later fsync "succeeds", but the dropped pages are not written again.
    synced(&mut s, b"c", 3).unwrap();
    let d = s.durable();
    assert_eq!((d.get(b"a"), d.get(b"b")), (None, None));
    assert!(d.get(b"c").is_some());
    assert_eq!(s.stats().failed_writes, 1);
}

#[test]
fn a_lying_fsync_is_lost_at_the_next_crash() {
    let mut s = SimStore::default();
    s.set_fault(DiskFault::FsyncLie);
    synced(&mut s, b"a", 1).unwrap();
    assert_eq!(
        s.durable().get(b"a"),
        None,
        "not on disk while the lie lasts"
    );
    s.crash(&mut rng());
    assert_eq!(s.durable().get(b"a"), None);
    assert_eq!(s.stats().lied_syncs, 1);
    assert_eq!(s.stats().lost_on_crash, 1);
}

#[test]
fn a_full_disk_refuses_writes_but_not_deletes() {
    let mut s = SimStore::default();
    synced(&mut s, b"a", 1).unwrap();
    s.set_fault(DiskFault::DiskFull);
    assert_eq!(synced(&mut s, b"b", 2), Err(WriteFailed::Full));
    assert_eq!(
        s.write(b"c".to_vec(), Some(vec![3]), Durability::Buffered),
        Err(WriteFailed::Full)
    );
    s.write(b"a".to_vec(), None, Durability::Synced).unwrap();
    assert!(s.durable().is_empty());
}

#[test]
fn a_torn_write_is_damaged_not_data() {
    let mut s = SimStore::default();
    s.set_fault(DiskFault::TornWrite);
    synced(&mut s, b"a", 1).unwrap();
    buffered(&mut s, b"b", 2);
    s.crash(&mut rng());
    let d = s.durable();
    assert!(d.get(b"a").is_some());
    assert_eq!(d.get(b"b"), None);
    assert_eq!(
        d.damaged().collect::<Vec<_>>(),
        vec![(&b"b"[..], Damage::Torn)]
    );
    assert_eq!(s.stats().torn_writes, 1);
}

#[test]
fn an_overwrite_is_replaced_whole_or_not_at_all() {
    let mut s = SimStore::default();
    synced(&mut s, b"a", 1).unwrap();
    s.set_fault(DiskFault::TornWrite);
    buffered(&mut s, b"a", 2);
    s.crash(&mut rng());
    assert_eq!(s.durable().get(b"a"), Some(&[1u8; 16][..]));
    assert_eq!(s.stats().torn_writes, 0);
}

#[test]
fn lost_unsynced_writes_need_not_be_a_prefix() {
    // Over a few seeds, some crash keeps a later write and loses an earlier one.
    let holes = (0..20).any(|seed| {
        let mut s = SimStore::default();
        s.set_fault(DiskFault::LoseUnsynced);
        for (i, key) in [b"a", b"b", b"c", b"d"].iter().enumerate() {
            buffered(&mut s, *key, i as u8);
        }
        s.crash(&mut DetRng::from_seed(seed));
        let d = s.durable();
        let kept: Vec<bool> = [b"a", b"b", b"c", b"d"]
            .iter()
            .map(|k| d.get(*k).is_some())
            .collect();
        kept.windows(2).any(|w| !w[0] && w[1])
    });
    assert!(holes);
}

#[test]
fn corrupted_reads_fail_their_checksums_and_leave_the_disk_alone() {
    let mut s = SimStore::default();
    for i in 0..50u8 {
        synced(&mut s, &[i], i).unwrap();
    }
    s.set_fault(DiskFault::CorruptRead);
    let view = s.read_at_boot(&mut rng());
    assert!(view.damaged().all(|(_, d)| d == Damage::Corrupt));
    let damaged = view.damaged_len();
    assert!(damaged > 0 && damaged < 50, "{damaged}");
    assert_eq!(view.len() + damaged, 50);
    assert_eq!(s.stats().corrupted_reads, damaged as u64);
    s.clear_fault(DiskFault::CorruptRead);
    assert_eq!(s.read_at_boot(&mut rng()).len(), 50, "a transient fault");
}

#[test]
fn an_in_flight_write_lands_when_it_finishes_and_tears_in_a_crash() {
    let mut s = SimStore::default();
    s.set_fault(DiskFault::SlowDisk(LatencyDist::Constant { ms: 5.0 }));
    assert!(s.slow().is_some());
    s.begin_in_flight(b"a".to_vec(), Some(vec![1; 8]));
    assert!(s.busy());
    s.finish_in_flight().unwrap();
    assert!(s.durable().get(b"a").is_some());
    s.set_fault(DiskFault::TornWrite);
    s.begin_in_flight(b"b".to_vec(), Some(vec![2; 8]));
    s.crash(&mut rng());
    assert_eq!(
        s.durable().damaged().collect::<Vec<_>>(),
        vec![(&b"b"[..], Damage::Torn)]
    );
    assert!(!s.busy());
}
