//! Threads with identical stacks collapse into one group: 300 idle pool threads are one entry
//! with their count and tid ranges, and the stack printed once.

use crate::tracer::Tid;
use std::collections::HashMap;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Group {
    /// In tid order.
    pub tids: Vec<Tid>,
    /// The shared stack, as the program counters of its frames (innermost first); empty for
    /// threads whose stack was not walked.
    pub pcs: Vec<u64>,
}

/// Groups by the exact list of frame pcs. Largest group first; equal sizes by lowest tid.
pub fn group<'a>(stacks: impl IntoIterator<Item = (Tid, &'a [u64])>) -> Vec<Group> {
    let mut by_stack: HashMap<&'a [u64], Vec<Tid>> = HashMap::new();
    for (tid, pcs) in stacks {
        by_stack.entry(pcs).or_default().push(tid);
    }
    let mut out: Vec<Group> = by_stack
        .into_iter()
        .map(|(pcs, mut tids)| {
            tids.sort_unstable();
            Group {
                tids,
                pcs: pcs.to_vec(),
            }
        })
        .collect();
    out.sort_by(|a, b| {
        b.tids
            .len()
            .cmp(&a.tids.len())
            .then(a.tids.first().cmp(&b.tids.first()))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_stacks_collapse_largest_first() {
        let a: &[u64] = &[0x10, 0x20, 0x30];
        let b: &[u64] = &[0x10, 0x21, 0x30];
        let c: &[u64] = &[0x10];
        let g = group([(5, a), (3, b), (4, a), (9, c), (1, a), (2, b)]);
        assert_eq!(
            g,
            vec![
                Group {
                    tids: vec![1, 4, 5],
                    pcs: a.to_vec()
                },
                Group {
                    tids: vec![2, 3],
                    pcs: b.to_vec()
                },
                Group {
                    tids: vec![9],
                    pcs: c.to_vec()
                },
            ]
        );
    }

    #[test]
    fn same_size_groups_order_by_lowest_tid_and_a_prefix_is_a_different_stack() {
        let long: &[u64] = &[1, 2, 3];
        let short: &[u64] = &[1, 2];
        let g = group([(20, long), (10, short)]);
        assert_eq!(g[0].tids, vec![10]);
        assert_eq!(g[1].tids, vec![20]);
        assert!(group(std::iter::empty()).is_empty());
    }
}
