//! Delta debugging (Zeller's ddmin, simplified): shrink a failing set of operations to a
//! 1-minimal one that still fails, within a time budget.

use crate::budget::Budget;

/// Remove chunks of `items` while `fails` still holds for the rest. An item for which
/// `pinned` holds is never removed; a removal is skipped unless `justified(rest, removed)`
/// (for example: no remaining read depends on a removed write). Returns the shrunk set
/// and whether shrinking finished before the budget ran out.
pub(crate) fn shrink<T: Clone>(
    mut items: Vec<T>,
    pinned: impl Fn(&T) -> bool,
    justified: impl Fn(&[T], &[&T]) -> bool,
    mut fails: impl FnMut(&[T]) -> bool,
    budget: &Budget,
) -> (Vec<T>, bool) {
    let mut chunks = 2;
    while items.len() > 1 {
        if budget.check_clock().is_err() {
            return (items, false);
        }
        let size = items.len().div_ceil(chunks);
        let mut reduced = false;
        for start in (0..items.len()).step_by(size.max(1)) {
            let in_chunk = |i: usize, item: &T| (start..start + size).contains(&i) && !pinned(item);
            let removed: Vec<&T> = items
                .iter()
                .enumerate()
                .filter(|&(i, x)| in_chunk(i, x))
                .map(|(_, x)| x)
                .collect();
            if removed.is_empty() {
                continue;
            }
            let rest: Vec<T> = items
                .iter()
                .enumerate()
                .filter(|&(i, x)| !in_chunk(i, x))
                .map(|(_, x)| x.clone())
                .collect();
            if !rest.is_empty() && justified(&rest, &removed) && fails(&rest) {
                items = rest;
                chunks = (chunks - 1).max(2);
                reduced = true;
                break;
            }
        }
        if !reduced {
            if chunks >= items.len() {
                break;
            }
            chunks = (chunks * 2).min(items.len());
        }
    }
    (items, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shrinks_to_the_items_that_matter() {
        // Fails while 3 and 7 are both present.
        let items: Vec<u32> = (0..20).collect();
        let (kept, minimal) = shrink(
            items,
            |_| false,
            |_, _| true,
            |xs| xs.contains(&3) && xs.contains(&7),
            &Budget::unlimited(),
        );
        assert_eq!(kept, vec![3, 7]);
        assert!(minimal);
        // Pinned items stay; unjustified removals are skipped.
        let (kept, _) = shrink(
            (0..10).collect::<Vec<u32>>(),
            |&x| x == 9,
            |rest, _| rest.contains(&5),
            |xs| xs.contains(&1),
            &Budget::unlimited(),
        );
        assert_eq!(kept, vec![1, 5, 9]);
    }
}
