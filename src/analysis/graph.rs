//! The wait-for graph: an edge from each thread blocked on a lock to the thread recorded as
//! holding it. A thread waits on one thing at a time, so every node has at most one edge out,
//! and following edges from any thread either ends at a thread that is not waiting for a
//! lock (the root of its chain) or comes back to a thread already seen: a cycle, which is a
//! deadlock. Only recorded owners make edges, so a cycle reported here is one the locks'
//! own memory proves; a long chain of waiters on one holder is never reported as one.

use crate::tracer::Tid;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Graph {
    /// waiter -> holder. A thread relocking a lock it holds has an edge to itself.
    edges: BTreeMap<Tid, Tid>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chains {
    /// Each cycle once, starting at its lowest tid, in edge order (each waits for the next,
    /// the last for the first). Sorted by that first tid.
    pub cycles: Vec<Vec<Tid>>,
    /// For each holder at the end of a chain (not itself waiting on a lock held by a thread
    /// here), every thread that waits for it directly or through others, in tid order.
    pub roots: BTreeMap<Tid, Vec<Tid>>,
}

impl Graph {
    pub fn new() -> Graph {
        Graph::default()
    }

    pub fn add(&mut self, waiter: Tid, holder: Tid) {
        self.edges.insert(waiter, holder);
    }

    pub fn holder_of(&self, waiter: Tid) -> Option<Tid> {
        self.edges.get(&waiter).copied()
    }

    /// The threads waiting directly for `holder`, in tid order.
    pub fn waiters_of(&self, holder: Tid) -> Vec<Tid> {
        self.edges
            .iter()
            .filter(|(w, h)| **h == holder && **w != holder)
            .map(|(w, _)| *w)
            .collect()
    }

    /// Cycles and chain roots, in one walk per node (linear: every node is finished once).
    pub fn chains(&self) -> Chains {
        #[derive(Clone, Copy, PartialEq)]
        enum Mark {
            OnPath,
            Done,
        }
        let mut mark: BTreeMap<Tid, Mark> = BTreeMap::new();
        // Where each finished node's chain ends: Some(root), or None for a node in or leading
        // into a cycle.
        let mut end: BTreeMap<Tid, Option<Tid>> = BTreeMap::new();
        let mut cycles = Vec::new();
        for &start in self.edges.keys() {
            if mark.contains_key(&start) {
                continue;
            }
            let mut path = Vec::new();
            let mut at = start;
            let outcome = loop {
                match mark.get(&at) {
                    Some(Mark::Done) => break end[&at],
                    Some(Mark::OnPath) => {
                        let from = path.iter().position(|&t| t == at).unwrap_or(0);
                        let mut cycle: Vec<Tid> = path[from..].to_vec();
                        let low = (0..cycle.len()).min_by_key(|&i| cycle[i]).unwrap_or(0);
                        cycle.rotate_left(low);
                        cycles.push(cycle);
                        break None;
                    }
                    None => {}
                }
                mark.insert(at, Mark::OnPath);
                path.push(at);
                match self.edges.get(&at) {
                    Some(&next) => at = next,
                    // `at` waits for no lock held here: the chain's root.
                    None => break Some(at),
                }
            };
            for t in path {
                mark.insert(t, Mark::Done);
                end.insert(t, outcome);
            }
        }
        let mut roots: BTreeMap<Tid, Vec<Tid>> = BTreeMap::new();
        for (&t, e) in &end {
            if let Some(root) = e {
                if *root != t {
                    roots.entry(*root).or_default().push(t);
                }
            }
        }
        cycles.sort();
        Chains { cycles, roots }
    }

    /// The threads that lead into `cycle` without being in it (waiting for one of its members,
    /// directly or through others).
    pub fn feeding(&self, cycle: &[Tid]) -> Vec<Tid> {
        let members: BTreeSet<Tid> = cycle.iter().copied().collect();
        let mut out = Vec::new();
        for &w in self.edges.keys() {
            if members.contains(&w) {
                continue;
            }
            let mut at = w;
            let mut steps = 0;
            while let Some(&next) = self.edges.get(&at) {
                if members.contains(&next) {
                    out.push(w);
                    break;
                }
                at = next;
                steps += 1;
                if steps > self.edges.len() {
                    break;
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(edges: &[(Tid, Tid)]) -> Graph {
        let mut g = Graph::new();
        for &(w, h) in edges {
            g.add(w, h);
        }
        g
    }

    #[test]
    fn a_three_thread_cycle_is_one_deadlock() {
        let g = graph(&[(102, 103), (103, 101), (101, 102)]);
        let c = g.chains();
        assert_eq!(c.cycles, vec![vec![101, 102, 103]]);
        assert!(c.roots.is_empty());
    }

    #[test]
    fn a_chain_on_one_holder_is_not_a_deadlock() {
        // 11, 12, 13 wait for 10; 14 waits for 13; 10 waits for nothing here.
        let g = graph(&[(11, 10), (12, 10), (13, 10), (14, 13)]);
        let c = g.chains();
        assert!(c.cycles.is_empty());
        assert_eq!(c.roots, BTreeMap::from([(10, vec![11, 12, 13, 14])]));
        assert_eq!(g.waiters_of(10), vec![11, 12, 13]);
        assert_eq!(g.waiters_of(13), vec![14]);
    }

    #[test]
    fn relocking_a_held_lock_is_a_cycle_of_one() {
        let g = graph(&[(7, 7), (8, 7)]);
        let c = g.chains();
        assert_eq!(c.cycles, vec![vec![7]]);
        assert!(c.roots.is_empty(), "{:?}", c.roots);
        assert_eq!(g.feeding(&[7]), vec![8]);
        assert!(g.waiters_of(7) == vec![8]);
    }

    #[test]
    fn two_cycles_and_a_tail_into_one_of_them() {
        let g = graph(&[
            (1, 2),
            (2, 1),
            (5, 6),
            (6, 7),
            (7, 5),
            (9, 5),
            (10, 9),
            (20, 21),
        ]);
        let c = g.chains();
        assert_eq!(c.cycles, vec![vec![1, 2], vec![5, 6, 7]]);
        assert_eq!(c.roots, BTreeMap::from([(21, vec![20])]));
        assert_eq!(g.feeding(&[5, 6, 7]), vec![9, 10]);
        assert!(g.feeding(&[1, 2]).is_empty());
    }

    #[test]
    fn no_edges_no_answers() {
        let c = Graph::new().chains();
        assert!(c.cycles.is_empty() && c.roots.is_empty());
    }
}
