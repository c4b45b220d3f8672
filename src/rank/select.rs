//! Selection of the smallest distances from a precomputed array.
//!
//! A pass over the array is a load, a compare with a cut-off and a rarely taken branch. The
//! cut-off comes from an evenly spaced sample when the array is large enough to sample, and
//! from a bounded max-heap of the best `count` seen otherwise (or when the sample misjudged).
//! (A histogram of the distances was tried first: at 384 dimensions most distances fall into a
//! few dozen bins, and the increments of one bin in flight at once made it as slow as
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
    let kept = below_sampled_cutoff(distances, max, count)
        .unwrap_or_else(|| by_heap(distances, max, count));
    let full = kept.len() == count;
    let mut picked: Vec<u32> = match (ties, kept.iter().max().map(|&k| distance(k))) {
        (Ties::All, Some(cut)) if full => distances
            .iter()
            .enumerate()
            .filter(|&(_, &d)| d <= cut)
            .map(|(i, _)| i as u32)
            .collect(),
        _ => kept.into_iter().map(|key| key as u32).collect(),
    };
    picked.sort_unstable();
    picked
}

/// (distance, position) packed into one `u64`, so that a comparison is one instruction and
/// orders as the pair does.
fn key(d: u32, i: usize) -> u64 {
    (u64::from(d) << 32) | i as u64
}

fn distance(key: u64) -> u32 {
    (key >> 32) as u32
}

/// Distances sampled to estimate the cut-off; arrays shorter than four samples' worth take the
/// heap.
const SAMPLE: usize = 1024;

/// The `count` smallest keys, found by collecting every distance at or below a cut-off read
/// from an evenly spaced sample, then selecting among those few. `None` when the array is too
/// small for a sample to say much, or when the estimate admitted fewer than `count` (the data
/// was ordered against the sample), so the caller falls back to the heap.
///
/// The heap pays a sift-down whenever a position displaces its worst kept, about
/// `count · ln(n / count)` times; at 10,000 binary distances and a pool of 320 that was a
/// tenth of a search. This pays one `select_nth_unstable` over a few times `count` keys.
fn below_sampled_cutoff(distances: &[u32], max: u32, count: usize) -> Option<Vec<u64>> {
    let n = distances.len();
    if n < 4 * SAMPLE || count.saturating_mul(16) > n {
        return None;
    }
    let step = n / SAMPLE;
    // `u64` like the keys, so one `select_nth_unstable` is compiled, not two (2.7 KB of
    // `.wasm`).
    let mut sample: Vec<u64> = (0..SAMPLE)
        .map(|j| distances[j * step])
        .filter(|&d| d <= max)
        .map(u64::from)
        .collect();
    // Twice the sample entries expected among the `count` smallest, plus a margin for small
    // `count`, so a sample that happens to run light still admits `count`.
    let rank = (count as u64 * 2 * SAMPLE as u64).div_ceil(n as u64) as usize + 16;
    if rank >= sample.len() {
        return None;
    }
    let (_, &mut cut, _) = sample.select_nth_unstable(rank);
    let cut = cut as u32;
    let mut keys = Vec::with_capacity(rank * step * 2);
    for (i, &d) in distances.iter().enumerate() {
        if d <= cut {
            keys.push(key(d, i));
        }
    }
    if keys.len() < count {
        return None;
    }
    keys.select_nth_unstable(count - 1);
    keys.truncate(count);
    Some(keys)
}

/// The `count` smallest keys (fewer when fewer are eligible) by one pass with a bounded
/// max-heap: the root is the worst kept, and a later position with the same distance never
/// displaces it, which is the `FirstPositions` order.
fn by_heap(distances: &[u32], max: u32, count: usize) -> Vec<u64> {
    let mut heap = BinaryHeap::with_capacity(count);
    // Admit `d < bound`; until the heap is full that is every eligible distance.
    let mut bound = max.saturating_add(1);
    for (i, &d) in distances.iter().enumerate() {
        if d >= bound {
            continue;
        }
        if heap.len() < count {
            heap.push(key(d, i));
            if heap.len() == count {
                bound = heap.peek().map_or(bound, |&worst| distance(worst));
            }
        } else {
            if let Some(mut worst) = heap.peek_mut() {
                *worst = key(d, i);
            }
            bound = heap.peek().map_or(bound, |&worst| distance(worst));
        }
    }
    heap.into_vec()
}
