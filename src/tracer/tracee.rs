//! The engine's record of each traced thread, and the table of them all.
//!
//! A `Tracee` holds what the engine knows about one thread between two reports: where it is
//! (`TraceeState`, moved by `thread::decide`), why it last stopped, a signal it holds, its
//! registers while they are valid. `Tracees` keeps them by tid, in tid order, and answers the
//! questions the engine asks of all of them ("which threads are ...", "has every live thread
//! stopped") in one place.

use super::debugregs::DebugState;
use super::event::ThreadInfo;
use super::thread::{StopCause, Tid, TraceeState};
use crate::regs::Registers;
use std::collections::BTreeMap;
use std::time::Instant;

pub(crate) struct Tracee {
    /// /proc comm: untrusted text from the target.
    pub name: String,
    pub state: TraceeState,
    pub cause: Option<StopCause>,
    /// A signal held in a signal-delivery-stop, delivered when the thread is resumed.
    pub held_signal: Option<i32>,
    /// A PTRACE_SINGLESTEP was issued and its trap has not been seen: it may still arrive, in
    /// any state, even after an interrupt ended the step and the thread was resumed (see
    /// `StopFacts::stepping`). Not a state of its own: it outlives the step.
    pub step_trap_due: bool,
    /// Registers as of the thread's last stop; None once it has run since (`ran`).
    pub regs: Option<Registers>,
    /// The breakpoint this thread was put back on after its hit there was handled (rewound
    /// after the int3 ran, or brought back from the start of its out-of-line slot), until it
    /// runs again. Only such a thread is stepped over the breakpoint at a continue: one that
    /// was merely stopped with its rip there has not run the int3 yet, and must, or its hit
    /// would go unseen.
    pub handled_hit: Option<u64>,
    /// When ptscope first saw the thread: young threads still rename themselves.
    pub seen_at: Instant,
    /// The name was read when the thread was old enough not to rename itself any more.
    pub name_final: bool,
    /// The name was read since the thread began to run (a clone starts with its parent's).
    pub name_read: bool,
    /// What ptscope last wrote into its debug registers.
    pub debug: DebugState,
    /// Its ptrace options may include PTRACE_O_TRACEEXIT (`pt::thread_options`): as set at
    /// its seize, or inherited from the parent that cloned it; true when not known.
    pub exit_stops: bool,
    /// It sits in the signal-delivery-stop of its step-over's SIGTRAP, to be resumed with
    /// signal 0 (which drops it) by the continue that follows at once (`stops.rs`,
    /// `hold_step_trap`); settled into an event-stop instead if the world comes to rest
    /// (`phase.rs`, `settle_held_traps`).
    pub trap_held: bool,
}

impl Tracee {
    pub fn new(name: String, state: TraceeState) -> Self {
        Tracee {
            name,
            state,
            cause: None,
            held_signal: None,
            step_trap_due: false,
            regs: None,
            handled_hit: None,
            seen_at: Instant::now(),
            name_final: false,
            name_read: false,
            debug: DebugState::Untouched,
            exit_stops: true,
            trap_held: false,
        }
    }

    /// Threads the engine still drives: not dying on their own, not a zombie leader.
    pub fn is_live(&self) -> bool {
        self.state.is_live()
    }

    /// It was resumed: what was read at its last stop no longer holds.
    pub fn ran(&mut self) {
        self.regs = None;
        self.handled_hit = None;
        self.trap_held = false;
    }

    /// Live and at rest: it will not run until the tracer resumes it.
    pub fn is_settled(&self) -> bool {
        self.is_live() && self.state.view().is_settled()
    }

    /// What front ends see of this thread.
    pub fn info(&self, tid: Tid) -> ThreadInfo {
        let state = self.state.view();
        ThreadInfo {
            tid,
            name: self.name.clone(),
            state,
            cause: self.cause,
            regs: if self.is_settled() { self.regs } else { None },
            pending_signal: self.held_signal,
            zombie: self.state == TraceeState::Zombie,
        }
    }
}

/// Every thread the engine knows of, by tid.
#[derive(Default)]
pub(crate) struct Tracees {
    by_tid: BTreeMap<Tid, Tracee>,
}

impl Tracees {
    pub fn get(&self, tid: Tid) -> Option<&Tracee> {
        self.by_tid.get(&tid)
    }

    pub fn get_mut(&mut self, tid: Tid) -> Option<&mut Tracee> {
        self.by_tid.get_mut(&tid)
    }

    #[cfg(test)]
    pub fn contains(&self, tid: Tid) -> bool {
        self.by_tid.contains_key(&tid)
    }

    pub fn insert(&mut self, tid: Tid, t: Tracee) {
        self.by_tid.insert(tid, t);
    }

    /// Adds the thread unless it is already known.
    pub fn insert_new(&mut self, tid: Tid, make: impl FnOnce() -> Tracee) {
        self.by_tid.entry(tid).or_insert_with(make);
    }

    pub fn len(&self) -> usize {
        self.by_tid.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_tid.is_empty()
    }

    pub fn clear(&mut self) {
        self.by_tid.clear();
    }

    /// Forgets every thread but `tid` (after an exec, the only one left).
    pub fn keep_only(&mut self, tid: Tid) {
        self.by_tid.retain(|t, _| *t == tid);
    }

    /// Every thread in tid order.
    pub fn iter(&self) -> impl Iterator<Item = (Tid, &Tracee)> {
        self.by_tid.iter().map(|(tid, t)| (*tid, t))
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = (Tid, &mut Tracee)> {
        self.by_tid.iter_mut().map(|(tid, t)| (*tid, t))
    }

    /// The threads the engine still drives, in tid order.
    pub fn live(&self) -> impl Iterator<Item = (Tid, &Tracee)> {
        self.iter().filter(|(_, t)| t.is_live())
    }

    /// The tids of the threads `pick` chooses, in tid order: a list to act on while the table
    /// changes under the loop.
    pub fn tids_where(&self, pick: impl Fn(&Tracee) -> bool) -> Vec<Tid> {
        self.iter()
            .filter(|(_, t)| pick(t))
            .map(|(tid, _)| tid)
            .collect()
    }

    /// Every live thread is at rest: an all-stop is complete.
    pub fn all_settled(&self) -> bool {
        self.live().all(|(_, t)| t.is_settled())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tracer::ThreadState;

    fn table(states: &[(Tid, TraceeState)]) -> Tracees {
        let mut t = Tracees::default();
        for (tid, s) in states {
            t.insert(*tid, Tracee::new(format!("t{tid}"), *s));
        }
        t
    }

    #[test]
    fn tids_where_picks_in_tid_order() {
        let t = table(&[
            (30, TraceeState::Running),
            (10, TraceeState::Stepping),
            (20, TraceeState::Stopped),
            (40, TraceeState::Running),
        ]);
        let running = t.tids_where(|t| t.state == TraceeState::Running);
        assert_eq!(running, vec![30, 40]);
        assert_eq!(t.tids_where(|t| t.is_live()), vec![10, 20, 30, 40]);
    }

    #[test]
    fn all_settled_ignores_threads_that_die_on_their_own() {
        let mut t = table(&[
            (1, TraceeState::Zombie),
            (2, TraceeState::Stopped),
            (3, TraceeState::Released),
            (4, TraceeState::Exited),
            (5, TraceeState::Listening),
            (6, TraceeState::Exiting),
        ]);
        assert!(t.all_settled());
        assert_eq!(t.live().map(|(tid, _)| tid).collect::<Vec<_>>(), [2, 5, 6]);
        t.insert(7, Tracee::new("born".into(), TraceeState::Newborn));
        assert!(
            !t.all_settled(),
            "a newborn has not reported its first stop"
        );
    }

    #[test]
    fn info_shows_registers_only_at_rest_and_names_the_zombie() {
        let regs = Registers::default();
        let mut z = Tracee::new("leader".into(), TraceeState::Zombie);
        z.regs = Some(regs);
        let info = z.info(1);
        assert_eq!(
            (info.state, info.zombie, info.regs),
            (ThreadState::Exiting, true, None)
        );
        let mut s = Tracee::new("w".into(), TraceeState::Listening);
        s.regs = Some(regs);
        let info = s.info(2);
        assert_eq!(info.state, ThreadState::Stopped);
        assert!(info.regs.is_some() && !info.zombie);
        let mut r = Tracee::new("r".into(), TraceeState::Running);
        r.regs = Some(regs);
        assert_eq!(r.info(3).regs, None);
    }

    #[test]
    fn keep_only_leaves_the_execing_thread() {
        let mut t = table(&[(1, TraceeState::Stopped), (2, TraceeState::Running)]);
        t.keep_only(2);
        assert_eq!(t.len(), 1);
        assert!(t.contains(2) && !t.contains(1));
    }
}
