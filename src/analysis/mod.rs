//! "Why is it hung?": what each thread waits on, who holds the locks, which waits form
//! deadlocks, and which threads share a stack.
//!
//! - `waits`: one thread's wait, decided from the kernel view, its top frames and lock memory;
//! - `locks`: glibc's mutex and rwlock layouts and the kernel's PI futex word;
//! - `graph`: the wait-for graph, its cycles (deadlocks) and chains to a root holder;
//! - `groups`: identical stacks collapsed; `ranges`: tid lists as ranges;
//! - `describe`: a wait in words; `render` and `json`: the dump's sections;
//! - `facts`: the input as plain data; `gather`: reading it (through `procinfo`, the tracer's
//!   memory reader and the symbolizer), each fact at the moment it is true.
//!
//! Everything but `gather` is pure and unit-tested on fixed facts.

pub mod describe;
pub mod facts;
pub mod gather;
pub mod graph;
pub mod groups;
pub mod json;
pub mod locks;
pub mod ranges;
pub mod render;
pub mod waits;

use crate::tracer::Tid;
use facts::{ProcessFacts, ThreadInput};
use gather::Stopped;
use graph::{Chains, Graph};
use groups::Group;
use std::collections::BTreeMap;
use waits::{LockKind, Owner, ThreadWait};

/// A cycle of threads each waiting for a lock the next one holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deadlock {
    /// In wait order: each waits for the next, the last for the first.
    pub tids: Vec<Tid>,
    /// The lock each of them waits for, in the same order.
    pub locks: Vec<u64>,
}

/// The whole answer for one process.
#[derive(Clone, Debug)]
pub struct Analysis {
    pub waits: BTreeMap<Tid, ThreadWait>,
    pub graph: Graph,
    pub chains: Chains,
    pub deadlocks: Vec<Deadlock>,
    pub groups: Vec<Group>,
    pub facts: ProcessFacts,
}

/// Each thread's wait, from what was read before and during the stop.
pub fn classify_all(threads: &[ThreadInput], stopped: &Stopped) -> Vec<ThreadWait> {
    threads
        .iter()
        .map(|t| waits::classify(t, &stopped.mem, stopped.refused.get(&t.tid).copied()))
        .collect()
}

/// Whether a wait makes an edge waiter -> holder: a lock with a recorded holder that is a
/// live thread here, for a wait still in progress at the stop.
fn edge(w: &ThreadWait, facts: &ProcessFacts) -> Option<Tid> {
    let l = w.wait.lock()?;
    if !w.confirmed || !matches!(l.kind, LockKind::Mutex | LockKind::Rwlock | LockKind::Join) {
        return None;
    }
    if l.refused && !l.identified {
        return None;
    }
    match l.owner {
        Owner::Thread(o) if facts.live.contains(&o) => Some(o),
        _ => None,
    }
}

/// The graph, its deadlocks and chains, and the stack groups.
pub fn build(threads: &[ThreadInput], waits: Vec<ThreadWait>, facts: ProcessFacts) -> Analysis {
    let mut graph = Graph::new();
    for w in &waits {
        if let Some(holder) = edge(w, &facts) {
            graph.add(w.tid, holder);
        }
    }
    let chains = graph.chains();
    let waits: BTreeMap<Tid, ThreadWait> = waits.into_iter().map(|w| (w.tid, w)).collect();
    let deadlocks = chains
        .cycles
        .iter()
        .map(|c| Deadlock {
            tids: c.clone(),
            locks: c
                .iter()
                .map(|t| waits.get(t).and_then(|w| w.wait.lock()).map_or(0, |l| l.addr))
                .collect(),
        })
        .collect();
    let pcs: Vec<(Tid, Vec<u64>)> = threads
        .iter()
        .map(|t| (t.tid, t.frames.iter().map(|f| f.pc).collect()))
        .collect();
    let groups = groups::group(pcs.iter().map(|(t, p)| (*t, p.as_slice())));
    Analysis {
        waits,
        graph,
        chains,
        deadlocks,
        groups,
        facts,
    }
}

impl Analysis {
    /// Threads in some deadlock.
    pub fn in_deadlock(&self) -> usize {
        self.deadlocks.iter().map(|d| d.tids.len()).sum()
    }

    /// How many threads wait in each way, most first (running first of all).
    pub fn counts(&self) -> Vec<(&'static str, usize)> {
        let mut by: BTreeMap<&'static str, usize> = BTreeMap::new();
        for w in self.waits.values() {
            *by.entry(w.wait.kind()).or_default() += 1;
        }
        let mut v: Vec<(&'static str, usize)> = by.into_iter().collect();
        v.sort_by(|a, b| {
            (b.0 == "running")
                .cmp(&(a.0 == "running"))
                .then(b.1.cmp(&a.1))
                .then(a.0.cmp(b.0))
        });
        v
    }
}
