//! Stopping every thread, and the picture of the process taken once they all hold still.

use super::phase::{AfterStop, Phase};
use super::Engine;
use crate::procinfo::tasks;
use crate::tracer::event::{EventKind, ProcessState, Snapshot};
use crate::tracer::ptrace as pt;
use crate::tracer::thread::{StopCause, ThreadState, Tid, TraceeState};
use std::time::Duration;

impl Engine {
    /// Interrupts every running thread. `by` is the thread whose own stop started it; `then`
    /// what to do once every thread has reported.
    pub(super) fn begin_all_stop(&mut self, by: Option<Tid>, then: AfterStop) {
        if matches!(
            self.phase,
            Phase::Killing | Phase::Exited { .. } | Phase::Finished { .. }
        ) {
            return;
        }
        self.expect_reports = true;
        // A stepping thread too: a step into a blocking system call may not end for hours.
        // A listening one too: its job-control stop may end with a SIGCONT at any moment.
        let to_stop = self.tracees.tids_where(|t| {
            matches!(
                t.state,
                TraceeState::Running | TraceeState::Stepping | TraceeState::Listening
            )
        });
        for tid in to_stop {
            let Some(old) = self.tracees.get(tid).map(|t| t.state.view()) else {
                continue;
            };
            match pt::interrupt(tid) {
                Ok(()) => {
                    if let Some(t) = self.tracees.get_mut(tid) {
                        t.state = TraceeState::Stopping;
                        t.cause = None;
                    }
                    self.transition(
                        tid,
                        old,
                        ThreadState::Stopping,
                        None,
                        "PTRACE_INTERRUPT sent (all-stop)",
                    );
                }
                Err(_) => {
                    // Dying: its exit status is on the way and it will not stop.
                    if let Some(t) = self.tracees.get_mut(tid) {
                        t.state = TraceeState::Exiting;
                    }
                }
            }
        }
        self.phase = match std::mem::replace(&mut self.phase, Phase::Running) {
            Phase::Running => Phase::AllStopping { by, then },
            Phase::Stepping { tid } => Phase::AllStopping {
                by: Some(tid),
                then,
            },
            // A detach asked for earlier still stands.
            Phase::AllStopping { by: first, then: t } => Phase::AllStopping {
                by: first.or(by),
                then: t.merge(then),
            },
            // The continue is cut short: the threads stepping over were interrupted with the
            // rest, and the first of them that did not end with its step stopped the world.
            Phase::SteppingOver { over, by: left } => Phase::AllStopping {
                by: self.interrupted_step_over(&over).or(left).or(by),
                then,
            },
            Phase::Stopped { by: first } => Phase::Stopped { by: first.or(by) },
            over @ (Phase::Killing | Phase::Exited { .. } | Phase::Finished { .. }) => over,
        };
        self.watch_stragglers();
    }

    /// Every thread has reported: take our bytes out and read the registers that changed.
    /// False when a queued trap had to be let through first: the all-stop goes on until it is
    /// reported.
    pub(super) fn picture_ready(&mut self) -> bool {
        if let Err(e) = self.remove_breakpoints() {
            self.note(
                None,
                format!("could not restore every breakpoint byte: {e}"),
            );
        }
        let watched = self.disarm_all();
        let tids = self.tracees.tids_where(|t| t.is_live());
        // Only threads that ran since their registers were read need a GETREGS: after a
        // single step that is one thread, not all of them.
        for tid in &tids {
            if self.tracees.get(*tid).is_some_and(|t| t.regs.is_none()) {
                // A thread that stopped in an out-of-line slot goes back to the original code.
                let regs = pt::getregs(*tid).ok().map(|r| self.bring_back(*tid, r));
                if let Some(t) = self.tracees.get_mut(*tid) {
                    t.regs = regs;
                }
            }
        }
        if self.kick_pending_traps(&tids, &watched) {
            return false;
        }
        // Every thread has stopped: the next all-stop (a stepping command's next leg, say)
        // watches its own stragglers.
        self.stragglers = None;
        true
    }

    /// The thread the published stop is named after: the one that began it, unless that was
    /// a thread's birth or end and another thread's breakpoint, watchpoint or signal came with
    /// the same stop (a newborn armed with a watchpoint can trip it while the world stops for
    /// its own birth): that is what the user will want named.
    fn stopper(&self) -> Option<Tid> {
        let by = self.phase.stopped_by();
        let cause = |tid: Tid| self.tracees.get(tid).and_then(|t| t.cause);
        let thread_event = matches!(
            by.and_then(cause),
            Some(StopCause::ThreadCreated { .. } | StopCause::ThreadExiting { .. })
        );
        if !thread_event {
            return by;
        }
        let hit = self.tracees.tids_where(|t| {
            matches!(
                t.cause,
                Some(
                    StopCause::Breakpoint { .. }
                        | StopCause::Watchpoint { .. }
                        | StopCause::Signal { .. }
                )
            )
        });
        hit.first().copied().or(by)
    }

    /// The world holds still and the picture is ready: publish it.
    pub(super) fn publish_stop(&mut self) {
        self.refresh_names(false);
        self.phase = Phase::Stopped { by: self.stopper() };
        let snap = self.snapshot();
        // A one-shot snapshot's copy, here on this thread: the detach follows in the same
        // round (its all-stop was begun with `AfterStop::Detach`), so the process is held
        // only for the copy itself.
        if let Some(job) = self.once.take() {
            job(&snap);
        }
        self.emit(EventKind::AllStopped(Box::new(snap)));
        self.just_published = true;
    }

    /// A thread interrupted right after it ran one of our int3 bytes may have its SIGTRAP still
    /// queued (the kernel checks for our interrupt before it dequeues signals). So may a
    /// thread whose single-step was ended by an interrupt inside a blocking system call: the
    /// step still reports at syscall exit, and that SIGTRAP waits in the queue. Left so, it
    /// would die of that SIGTRAP if ptscope were killed or detached. So may a thread that had
    /// our watchpoints armed (`watched`): a data watchpoint traps after the access, and our
    /// interrupt may have come first. Let such a thread take the signal now: the stale-trap,
    /// step-trap and watchpoint rules of `decide` turn it into a settle. Only a thread just
    /// past a breakpoint, with a step trap due or with watchpoints armed costs a /proc read.
    fn kick_pending_traps(&mut self, tids: &[Tid], watched: &[Tid]) -> bool {
        let mut kicked = false;
        for tid in tids {
            let Some(t) = self.tracees.get(*tid) else {
                continue;
            };
            if t.cause != Some(StopCause::Stopped) || t.state.view() != ThreadState::Stopped {
                continue;
            }
            let past_breakpoint = t
                .regs
                .is_some_and(|r| self.bps.contains(r.rip().wrapping_sub(1)));
            let may_trap = past_breakpoint || t.step_trap_due || watched.contains(tid);
            if !may_trap || !sigtrap_pending(self.pid, *tid) {
                continue;
            }
            if pt::cont(*tid, 0).is_ok() {
                if let Some(t) = self.tracees.get_mut(*tid) {
                    t.state = TraceeState::Stopping;
                    t.ran();
                }
                let note = if past_breakpoint {
                    "queued SIGTRAP of our int3: letting it be reported"
                } else if watched.contains(tid) {
                    "queued SIGTRAP of our watchpoint (or step): letting it be reported"
                } else {
                    "queued SIGTRAP of our interrupted step: letting it be reported"
                };
                self.transition(
                    *tid,
                    ThreadState::Stopped,
                    ThreadState::Stopping,
                    None,
                    note,
                );
                kicked = true;
            }
        }
        kicked
    }

    /// Threads usually name themselves just after they are born (pthread_setname_np), so the
    /// name read at birth is often the parent's. A young thread's name is read again at each
    /// all-stop until it has been read once at an age where renaming is over; `all` (an
    /// explicit snapshot) reads every name.
    pub(super) fn refresh_names(&mut self, all: bool) {
        const SETTLED_AGE: Duration = Duration::from_secs(2);
        let pid = self.pid;
        for (tid, t) in self.tracees.iter_mut() {
            if !t.is_live() || (!all && t.name_final) {
                continue;
            }
            let age = t.seen_at.elapsed();
            let name = tasks::thread_name(pid, tid);
            if !name.is_empty() {
                t.name = name;
            }
            t.name_final = age >= SETTLED_AGE;
            t.name_read = true;
        }
    }

    fn process_state(&self) -> ProcessState {
        if let Some(status) = self.phase.exit() {
            return ProcessState::Exited { status };
        }
        let any_live = |state: &[ThreadState]| {
            self.tracees
                .live()
                .any(|(_, t)| state.contains(&t.state.view()))
        };
        if any_live(&[ThreadState::Detached]) {
            return ProcessState::Detached;
        }
        if any_live(&[ThreadState::Stopping]) {
            return ProcessState::Stopping;
        }
        if any_live(&[ThreadState::Running, ThreadState::Stepping]) {
            return ProcessState::Running;
        }
        let group = self
            .tracees
            .live()
            .map(|(_, t)| t.cause)
            .try_fold(None, |acc, c| match (acc, c) {
                (None, Some(StopCause::GroupStop { sig })) => Some(Some(sig)),
                (Some(s), Some(StopCause::GroupStop { .. })) => Some(Some(s)),
                _ => None,
            });
        match group {
            Some(Some(sig)) => ProcessState::GroupStopped { sig },
            _ => ProcessState::Stopped,
        }
    }

    pub(super) fn snapshot(&self) -> Snapshot {
        Snapshot {
            pid: self.pid,
            state: self.process_state(),
            threads: self.tracees.iter().map(|(tid, t)| t.info(tid)).collect(),
            breakpoints: self.breakpoint_info(),
            watchpoints: self.watch.info(),
            stopped_by: self.phase.stopped_by(),
        }
    }
}

fn sigtrap_pending(pid: i32, tid: Tid) -> bool {
    tasks::pending_signals(pid, tid) & (1 << (libc::SIGTRAP - 1)) != 0
}
