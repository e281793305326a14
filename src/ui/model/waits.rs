//! Why each thread is hung: what the analysis worker said it waits on (the WAITS column), the
//! deadlocks (the banner), and the facts the next analysis needs: the raw kernel view from the
//! last reading taken while the process ran, and the off-CPU times read just before a stop.
//!
//! A wait is told at a stop. While the process runs again, a wait (and a deadlock) is kept
//! only as long as each live /proc reading still shows the thread in the same call at the
//! same place (`hung::call_key`); a deadlocked thread never leaves, so its banner stays.

use crate::analysis::gather::PreStop;
use crate::procinfo::ThreadKernelView;
use crate::tracer::thread::Tid;
use crate::ui::hung::{call_key, DeadlockView, WaitCell, WaitsView};
use crate::ui::inspect::is_our_stop;
use crate::ui::model::Status;
use std::collections::{BTreeMap, BTreeSet};

/// Most deadlock lines the banner takes; the rest are in the log.
pub const BANNER_MAX: usize = 3;

/// Where the analysis of the current stop stands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Told {
    /// Nothing asked for this stop (running, or no stop yet).
    #[default]
    Idle,
    /// Asked; the worker is on it.
    Working,
    /// The answer for this stop is in.
    Done,
}

#[derive(Clone, Debug, Default)]
pub struct WaitsModel {
    /// Each thread as the last reading taken while it ran showed it: what the analysis is fed.
    pub before: BTreeMap<Tid, ThreadKernelView>,
    /// Read just before the user's stop; taken by the analysis of that stop.
    pub prestop: PreStop,
    /// A pre-stop reading is on its way (the stop waits for it).
    pub prestop_asked: bool,
    /// Bumped at every all-stop and resume: answers for an older stop are dropped.
    pub gen: u64,
    pub told: Told,
    pub cells: BTreeMap<Tid, WaitCell>,
    pub deadlocks: Vec<DeadlockView>,
    /// "5 threads: 4 mutex, 1 signal-wait; 2 deadlocks (4 threads)".
    pub summary: Option<String>,
    /// The process runs: waits are checked against each live reading.
    pub running: bool,
    /// The status line as the stop left it: the answer's summary replaces it only if no key
    /// has said something since.
    pub status_at_stop: Option<Status>,
}

impl WaitsModel {
    /// A /proc reading. Our own `t` stop says nothing about a thread; the view from before is
    /// kept for it (as the threads table does). While running, waits that ended are dropped;
    /// returns the deadlocks that no longer hold, for the log.
    pub fn apply_kernel(&mut self, views: &[ThreadKernelView]) -> Vec<String> {
        if views.is_empty() {
            return Vec::new();
        }
        let mut old = std::mem::take(&mut self.before);
        for v in views {
            let keep = if is_our_stop(v.state) {
                old.remove(&v.tid)
            } else {
                Some(v.clone())
            };
            if let Some(k) = keep {
                self.before.insert(v.tid, k);
            }
        }
        if !self.running {
            return Vec::new();
        }
        let still: BTreeSet<Tid> = self
            .cells
            .iter()
            .filter(|(tid, cell)| {
                views
                    .iter()
                    .find(|v| v.tid == **tid)
                    .is_some_and(|v| holds(cell, v))
            })
            .map(|(tid, _)| *tid)
            .collect();
        self.cells.retain(|tid, _| still.contains(tid));
        let (kept, ended): (Vec<DeadlockView>, Vec<DeadlockView>) =
            std::mem::take(&mut self.deadlocks)
                .into_iter()
                .partition(|d| d.tids.iter().all(|t| still.contains(t)));
        self.deadlocks = kept;
        ended
            .into_iter()
            .map(|d| format!("no longer holds: {}", d.text))
            .collect()
    }

    /// Every thread stopped: a new stop, whose answer is on its way once asked.
    pub fn stopped(&mut self) {
        self.gen += 1;
        self.running = false;
        self.told = Told::Idle;
    }

    pub fn resumed(&mut self) {
        self.gen += 1;
        self.running = true;
        self.told = Told::Idle;
        // Off-CPU times are true only for the stop they were read before.
        self.prestop = PreStop::default();
    }

    /// The worker's answer. Returns whether it is for this stop (older ones are dropped).
    pub fn apply(&mut self, v: WaitsView) -> bool {
        if v.gen != self.gen {
            return false;
        }
        self.cells = v.cells;
        self.deadlocks = v.deadlocks;
        self.summary = Some(v.summary);
        self.told = Told::Done;
        true
    }

    pub fn cell(&self, tid: Tid) -> Option<&WaitCell> {
        self.cells.get(&tid)
    }

    /// Whether the thread is in one of the deadlocks on screen.
    pub fn deadlocked(&self, tid: Tid) -> bool {
        self.deadlocks.iter().any(|d| d.tids.contains(&tid))
    }

    /// Lines the deadlock banner takes above the threads pane.
    pub fn banner_lines(&self) -> u16 {
        self.deadlocks.len().min(BANNER_MAX) as u16
    }

    /// Whether any thread has a wait to show (the WAITS column is drawn only then).
    pub fn any(&self) -> bool {
        !self.cells.is_empty()
    }
}

/// A wait holds while the live view shows the thread in the same call at the same place.
fn holds(cell: &WaitCell, live: &ThreadKernelView) -> bool {
    match cell.call {
        Some(key) => call_key(live) == Some(key),
        // Told without a system call (running, a zombie): nothing to check it against.
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::procinfo::SyscallState;

    fn view(tid: Tid, state: char, syscall: &str) -> ThreadKernelView {
        ThreadKernelView {
            tid,
            comm: String::new(),
            state,
            wchan: None,
            syscall: SyscallState::parse(syscall),
            cpu_ms: 0,
        }
    }

    const LOCK_A: &str = "202 0x5000 0x80 0x2 0x0 0x0 0x0 0x7ffd0000 0x7f0000001000";
    const LOCK_B: &str = "202 0x6000 0x80 0x2 0x0 0x0 0x0 0x7ffd0000 0x7f0000001000";

    fn told(gen: u64) -> WaitsView {
        let cell = |text: &str, s: &str| WaitCell {
            text: text.into(),
            kind: "mutex",
            call: call_key(&view(0, 'S', s)),
        };
        WaitsView {
            gen,
            cells: [
                (1, cell("mutex 0x6000 held by 2", LOCK_B)),
                (2, cell("mutex 0x5000 held by 1", LOCK_A)),
                (3, cell("mutex 0x5000 held by 1", LOCK_A)),
            ]
            .into(),
            deadlocks: vec![DeadlockView {
                tids: vec![1, 2],
                text: "DEADLOCK: 1 -> 2 -> 1 (mutex 0x6000, 0x5000)".into(),
            }],
            summary: "3 threads: 3 mutex; 1 deadlock (2 threads)".into(),
            restarted: BTreeMap::new(),
        }
    }

    #[test]
    fn answers_for_an_older_stop_are_dropped() {
        let mut w = WaitsModel::default();
        w.stopped();
        assert!(!w.apply(told(w.gen + 1)));
        assert!(w.cells.is_empty());
        assert!(w.apply(told(w.gen)));
        assert_eq!(w.told, Told::Done);
        assert!(w.deadlocked(1) && w.deadlocked(2) && !w.deadlocked(3));
        assert_eq!(w.banner_lines(), 1);
    }

    #[test]
    fn while_running_a_wait_lasts_as_long_as_the_live_view_shows_it() {
        let mut w = WaitsModel::default();
        w.stopped();
        w.apply(told(w.gen));
        w.resumed();
        // The cycle's threads are still in their futex; thread 3 got its lock and went on.
        let live = [
            view(1, 'S', LOCK_B),
            view(2, 'S', LOCK_A),
            view(3, 'R', "running"),
        ];
        assert!(w.apply_kernel(&live).is_empty());
        assert!(w.cell(1).is_some() && w.cell(2).is_some());
        assert!(w.cell(3).is_none(), "its wait is over");
        assert_eq!(w.deadlocks.len(), 1, "a deadlock stays while it holds");
        // A thread of the cycle leaves (a timed lock gave up): the deadlock is over.
        let ended = w.apply_kernel(&[view(1, 'S', LOCK_B), view(2, 'R', "running")]);
        assert_eq!(
            ended,
            vec!["no longer holds: DEADLOCK: 1 -> 2 -> 1 (mutex 0x6000, 0x5000)"]
        );
        assert!(w.deadlocks.is_empty());
    }

    #[test]
    fn the_view_fed_to_the_analysis_is_never_our_own_stop() {
        let mut w = WaitsModel::default();
        w.apply_kernel(&[view(1, 'S', LOCK_A), view(2, 'R', "running")]);
        w.apply_kernel(&[
            view(1, 't', "-1 0x7ffd0000 0x7f0000001000"),
            view(2, 't', "-1 0x1 0x2"),
        ]);
        assert_eq!(w.before[&1].state, 'S', "kept from before our stop");
        assert_eq!(w.before[&2].state, 'R');
        w.apply_kernel(&[view(1, 't', "-1 0x1 0x2"), view(5, 'S', LOCK_A)]);
        assert!(!w.before.contains_key(&2), "gone from the process");
        assert!(w.before.contains_key(&5));
    }

    #[test]
    fn stopping_keeps_the_last_answer_until_the_new_one() {
        let mut w = WaitsModel::default();
        w.stopped();
        w.apply(told(w.gen));
        w.resumed();
        assert_eq!(w.prestop, PreStop::default());
        w.stopped();
        assert_eq!(w.told, Told::Idle);
        assert_eq!(w.deadlocks.len(), 1, "the banner does not flicker off");
    }
}
