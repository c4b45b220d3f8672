//! Bounded top-k selection: O(N log k) time, O(k) memory, deterministic order.
//!
//! Results are ordered by score, highest first, then by a caller-supplied tie-break (the
//! collection uses the document id, ascending), so equal scores never produce an order that
//! depends on load order or on heap internals.

use std::cmp::Ordering;

/// A candidate: its score (a similarity, higher is better) and its row in the collection.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Scored {
    pub score: f32,
    pub row: u32,
}

/// Keeps the best `k` candidates seen. The root of the heap is the worst of them, so a new
/// candidate is compared with one value and rejected without touching the heap in the common case.
#[derive(Debug)]
pub struct TopK {
    k: usize,
    heap: Vec<Scored>,
}

impl TopK {
    pub fn new(k: usize) -> Self {
        Self {
            k,
            heap: Vec::with_capacity(k),
        }
    }

    /// True when a candidate with this score could enter (ties are decided in [`Self::push`]).
    #[inline(always)]
    pub fn admits(&self, score: f32) -> bool {
        self.heap.len() < self.k || score >= self.heap[0].score
    }

    /// The lowest score [`Self::admits`] lets in: the worst kept once `k` are kept, and minus
    /// infinity before.
    #[inline(always)]
    pub fn threshold(&self) -> f32 {
        if self.heap.len() < self.k {
            f32::NEG_INFINITY
        } else {
            self.heap
                .first()
                .map_or(f32::NEG_INFINITY, |worst| worst.score)
        }
    }

    /// Offers a candidate. `tie(a, b)` orders rows of equal score: `Less` means `a` ranks first.
    #[inline]
    pub fn push(&mut self, item: Scored, tie: &impl Fn(u32, u32) -> Ordering) {
        if self.k == 0 {
            return;
        }
        if self.heap.len() < self.k {
            self.heap.push(item);
            self.sift_up(self.heap.len() - 1, tie);
        } else if rank(&item, &self.heap[0], tie) == Ordering::Less {
            self.heap[0] = item;
            self.sift_down(0, tie);
        }
    }

    /// The kept candidates, best first.
    pub fn into_sorted(mut self, tie: &impl Fn(u32, u32) -> Ordering) -> Vec<Scored> {
        self.heap.sort_by(|a, b| rank(a, b, tie));
        self.heap
    }

    fn sift_up(&mut self, mut i: usize, tie: &impl Fn(u32, u32) -> Ordering) {
        while i > 0 {
            let parent = (i - 1) / 2;
            // The root must be the worst: move `i` up while it ranks after its parent.
            if rank(&self.heap[i], &self.heap[parent], tie) == Ordering::Greater {
                self.heap.swap(i, parent);
                i = parent;
            } else {
                break;
            }
        }
    }

    fn sift_down(&mut self, mut i: usize, tie: &impl Fn(u32, u32) -> Ordering) {
        let n = self.heap.len();
        loop {
            let mut worst = i;
            for child in [2 * i + 1, 2 * i + 2] {
                if child < n && rank(&self.heap[child], &self.heap[worst], tie) == Ordering::Greater
                {
                    worst = child;
                }
            }
            if worst == i {
                break;
            }
            self.heap.swap(i, worst);
            i = worst;
        }
    }
}

/// Result order: `Less` when `a` ranks before `b`.
#[inline]
fn rank(a: &Scored, b: &Scored, tie: &impl Fn(u32, u32) -> Ordering) -> Ordering {
    b.score.total_cmp(&a.score).then_with(|| tie(a.row, b.row))
}
