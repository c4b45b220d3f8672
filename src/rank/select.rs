//! Selection of the smallest distances from a precomputed array.
//!
//! A bounded max-heap keeps the best `count` seen; every other position costs one comparison
//! with the heap's worst, so the pass over the array is a load, a compare and a rarely taken
//! branch. (A histogram of the distances was tried first: at 384 dimensions most distances fall
//! into a few dozen bins, and the increments of one bin in flight at once made it as slow as
//! computing the distances.)

use std::collections::BinaryHeap;

/// What to do with positions whose distance equals the cut-off (the `count`-th smallest).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ties {
    /// Take the earliest positions only, so exactly `count` are returned when that many are
    /// eligible: the set a `(distance, position)` sort would put first.
    FirstPositions,
    /// Take every position at the cut-off, for callers that break ties by something else and
    /// then truncate.
    All,
}

/// Positions of the `count` smallest distances, in position order. Distances above `max` are
/// never selected (callers mark excluded rows with `u32::MAX`). Fewer than `count` positions
/// come back only when fewer are eligible; with [`Ties::All`] more may, all tied at the cut-off.
pub fn smallest(distances: &[u32], max: u32, count: usize, ties: Ties) -> Vec<u32> {
    if count == 0 {
        return Vec::new();
    }
    // Max-heap on (distance, position): the root is the worst kept, and a later position with
    // the same distance never displaces it, which is the `FirstPositions` order.
    let mut heap = BinaryHeap::with_capacity(count);
    // Admit `d < bound`; until the heap is full that is every eligible distance.
    let mut bound = max.saturating_add(1);
    for (i, &d) in distances.iter().enumerate() {
        if d >= bound {
            continue;
        }
        if heap.len() < count {
            heap.push((d, i as u32));
            if heap.len() == count {
                bound = heap.peek().map_or(bound, |&(worst, _)| worst);
            }
        } else {
            if let Some(mut worst) = heap.peek_mut() {
                *worst = (d, i as u32);
            }
            bound = heap.peek().map_or(bound, |&(worst, _)| worst);
        }
    }
    let full = heap.len() == count;
    let mut picked: Vec<u32> = match (ties, heap.peek()) {
        (Ties::All, Some(&(cut, _))) if full => distances
            .iter()
            .enumerate()
            .filter(|&(_, &d)| d <= cut)
            .map(|(i, _)| i as u32)
            .collect(),
        _ => heap.into_iter().map(|(_, i)| i).collect(),
    };
    picked.sort_unstable();
    picked
}
