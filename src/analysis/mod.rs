//! "Why is it hung?": what each thread waits on, who holds the locks, which waits form
//! deadlocks, and which threads share a stack.
//!
//! - `waits`: one thread's wait, decided from the kernel view, its top frames and lock memory;
//! - `locks`: glibc's mutex and rwlock layouts and the kernel's PI futex word;
//! - `graph`: the wait-for graph, its cycles (deadlocks) and chains to a root holder;
//! - `groups`: identical stacks collapsed; `ranges`: tid lists as ranges;
//! - `describe`: a wait in words; `render` and `json`: the dump's sections; `brief`: a wait
//!   in a few words, for the inspector's column;
//! - `restart`: what a thread in `restart_syscall()` (after any tracer's stop) is doing;
//! - `facts`: the input as plain data; `gather`: reading it (through `procinfo`, the tracer's
//!   memory reader and the symbolizer), each fact at the moment it is true.
//!
//! Everything but `gather` is pure and unit-tested on fixed facts.

pub mod brief;
pub mod describe;
pub mod facts;
pub mod gather;
pub mod graph;
pub mod groups;
pub mod json;
pub mod locks;
pub mod ranges;
pub mod render;
pub mod restart;
pub mod waits;

use crate::tracer::Tid;
use facts::{ProcessFacts, ThreadInput};
use gather::Stopped;
use graph::{Chains, Graph};
use groups::Group;
use std::collections::{BTreeMap, BTreeSet};
use waits::{LockKind, Owner, ThreadWait, Wait};

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

/// Each thread's wait, from what was read before and during the stop, with the mutex of each
/// refused PI locker named where the facts allow (`resolve_refused`).
pub fn classify_all(threads: &[ThreadInput], stopped: &Stopped) -> Vec<ThreadWait> {
    let mut waits: Vec<ThreadWait> = threads
        .iter()
        .map(|t| waits::classify(t, &stopped.mem))
        .collect();
    let live: BTreeSet<Tid> = threads.iter().map(|t| t.tid).collect();
    resolve_refused(&mut waits, &stopped.refused, &live);
    waits
}

/// Names the mutex a refused PI locker was locking. The kernel answers FUTEX_LOCK_PI with
/// EDEADLK when the lock's holder is the caller itself or waits, through a chain of PI locks,
/// for the caller; so of the PI mutexes found in the locker's registers and stack
/// (`waits::pi_candidates`), the one it was locking has such a holder. The candidates come in
/// tiers, nearest first; the first tier with any such mutex must have exactly one, else the
/// mutex stays unnamed.
pub fn resolve_refused(
    waits: &mut [ThreadWait],
    candidates: &BTreeMap<Tid, Vec<Vec<(u64, Tid)>>>,
    live: &BTreeSet<Tid>,
) {
    let mut g = Graph::new();
    for w in waits.iter() {
        if let Some(h) = edge(w, live) {
            g.add(w.tid, h);
        }
    }
    let steps = waits.len();
    let reaches = |from: Tid, to: Tid| {
        let mut at = from;
        for _ in 0..=steps {
            if at == to {
                return true;
            }
            match g.holder_of(at) {
                Some(next) => at = next,
                None => return false,
            }
        }
        false
    };
    for w in waits.iter_mut() {
        let Some(tiers) = candidates.get(&w.tid) else {
            continue;
        };
        let tid = w.tid;
        let Wait::Lock(l) = &mut w.wait else { continue };
        if !l.refused {
            continue;
        }
        for tier in tiers {
            let fits: BTreeSet<(u64, Tid)> = tier
                .iter()
                .copied()
                .filter(|&(_, holder)| live.contains(&holder) && reaches(holder, tid))
                .collect();
            if fits.is_empty() {
                continue;
            }
            if let [(addr, holder)] = fits.into_iter().collect::<Vec<_>>().as_slice() {
                l.addr = *addr;
                l.owner = Owner::Thread(*holder);
                l.identified = true;
            }
            break;
        }
    }
}

/// Whether a wait makes an edge waiter -> holder: a lock with a recorded holder that is a
/// live thread here, for a wait still in progress at the stop.
fn edge(w: &ThreadWait, live: &BTreeSet<Tid>) -> Option<Tid> {
    let l = w.wait.lock()?;
    if !w.confirmed || !matches!(l.kind, LockKind::Mutex | LockKind::Rwlock | LockKind::Join) {
        return None;
    }
    if l.refused && !l.identified {
        return None;
    }
    match l.owner {
        Owner::Thread(o) if live.contains(&o) => Some(o),
        _ => None,
    }
}

/// A condvar waiter sleeps on one of the condvar's two signal words (`__g_signals`, at 40 and
/// 44 of the 48-byte `pthread_cond_t`). When the word sits exactly there in a data symbol, the
/// symbol starts with the condvar: name the condvar, not the word.
fn condvar_bases(waits: &mut [ThreadWait], facts: &mut ProcessFacts) {
    for w in waits {
        let Wait::Lock(l) = &mut w.wait else { continue };
        if l.kind != LockKind::Condvar {
            continue;
        }
        let Some(sym) = facts.symbols.get(&l.futex).cloned() else {
            continue;
        };
        if locks::COND_SIGNAL_OFFSETS.contains(&sym.offset) {
            l.addr = l.futex - sym.offset;
            facts.symbols.insert(
                l.addr,
                facts::DataSymbol {
                    name: sym.name,
                    offset: 0,
                },
            );
        }
    }
}

/// The graph, its deadlocks and chains, and the stack groups.
pub fn build(
    threads: &[ThreadInput],
    mut waits: Vec<ThreadWait>,
    mut facts: ProcessFacts,
) -> Analysis {
    condvar_bases(&mut waits, &mut facts);
    let mut graph = Graph::new();
    for w in &waits {
        if let Some(holder) = edge(w, &facts.live) {
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
                .map(|t| {
                    waits
                        .get(t)
                        .and_then(|w| w.wait.lock())
                        .map_or(0, |l| l.addr)
                })
                .collect(),
        })
        .collect();
    let pcs: Vec<(Tid, Vec<u64>)> = threads
        .iter()
        .map(|t| (t.tid, t.frames.iter().map(|f| f.pc).collect()))
        .collect();
    // No stack walked at all (--no-backtrace, or a process left running): no groups, rather
    // than one group of empty stacks.
    let groups = if pcs.iter().any(|(_, p)| !p.is_empty()) {
        groups::group(pcs.iter().map(|(t, p)| (*t, p.as_slice())))
    } else {
        Vec::new()
    };
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

#[cfg(test)]
mod tests {
    use super::*;
    use waits::LockWait;

    fn pi_wait(tid: Tid, addr: u64, owner: Owner, refused: bool) -> ThreadWait {
        ThreadWait {
            tid,
            wait: Wait::Lock(LockWait {
                kind: LockKind::Mutex,
                futex: addr,
                addr,
                owner,
                role: None,
                pi: true,
                owner_died: false,
                by: None,
                refused,
                identified: false,
            }),
            since_ms: None,
            at: None,
            confirmed: true,
        }
    }

    fn resolved(cands: &[(u64, Tid)]) -> Option<(u64, Owner)> {
        // 1 waits for 2, 2 waits for 3, 3 was refused its lock.
        let mut w = vec![
            pi_wait(1, 0x10, Owner::Thread(2), false),
            pi_wait(2, 0x20, Owner::Thread(3), false),
            pi_wait(3, 0x7ffd0000, Owner::Unknown, true),
        ];
        let live: BTreeSet<Tid> = [1, 2, 3].into();
        resolve_refused(&mut w, &BTreeMap::from([(3, vec![cands.to_vec()])]), &live);
        let l = w[2].wait.lock().unwrap();
        l.identified.then_some((l.addr, l.owner))
    }

    #[test]
    fn a_refused_lock_is_the_one_whose_holder_leads_back() {
        // 0xa is held by 1, whose chain reaches 3; 0xc's holder is not a thread here.
        assert_eq!(
            resolved(&[(0xa, 1), (0xc, 99)]),
            Some((0xa, Owner::Thread(1)))
        );
        // Relocking a PI mutex it holds itself also draws EDEADLK.
        assert_eq!(resolved(&[(0xb, 3)]), Some((0xb, Owner::Thread(3))));
        // Two that fit: no guess.
        assert_eq!(resolved(&[(0xa, 1), (0xb, 3)]), None);
        // None that fits (its holder waits for nobody here): not named.
        assert_eq!(resolved(&[(0xd, 4)]), None);
        assert_eq!(resolved(&[]), None);
    }

    #[test]
    fn the_nearest_tier_with_a_fit_decides() {
        let mut w = vec![
            pi_wait(1, 0x10, Owner::Thread(2), false),
            pi_wait(2, 0x7ffd0000, Owner::Unknown, true),
        ];
        let live: BTreeSet<Tid> = [1, 2].into();
        // Tier 1 holds only the mutex held by 1 (who waits for 2); tier 2 also has 2's own.
        let tiers = vec![vec![(0xa, 1), (0xe, 77)], vec![(0xa, 1), (0xb, 2)]];
        resolve_refused(&mut w, &BTreeMap::from([(2, tiers)]), &live);
        let l = w[1].wait.lock().unwrap();
        assert_eq!(
            (l.identified, l.addr, l.owner),
            (true, 0xa, Owner::Thread(1))
        );
    }

    #[test]
    fn only_confirmed_waits_on_live_holders_make_edges() {
        let live: BTreeSet<Tid> = [1, 2].into();
        let mut w = pi_wait(1, 0x10, Owner::Thread(2), false);
        assert_eq!(edge(&w, &live), Some(2));
        w.confirmed = false;
        assert_eq!(edge(&w, &live), None, "the wait may be over by the stop");
        let gone = pi_wait(1, 0x10, Owner::Thread(77), false);
        assert_eq!(edge(&gone, &live), None);
        let mut cv = pi_wait(1, 0x10, Owner::Thread(2), false);
        if let Wait::Lock(l) = &mut cv.wait {
            l.kind = LockKind::Condvar;
        }
        assert_eq!(edge(&cv, &live), None);
    }
}
