//! Threads that do not answer an all-stop's interrupt. After a moment the engine asks /proc
//! why (`tracer::cannot_stop`): a vfork parent is let be at once, any other thread after a
//! second; the all-stop then completes without them, so a front end gets its picture (and
//! its commands) within about a second instead of waiting for a wait that may never end.
//!
//! Such a thread keeps our interrupt queued: when its wait ends it stops before running any
//! user instruction, and is then held with the others, or let run if they run. It cannot be
//! PTRACE_DETACHed while it is not stopped (ESRCH); when the tracer thread exits, the kernel
//! detaches every tracee it still has (exit_ptrace), clearing the queued interrupt, so it
//! ends untraced and running either way.

use super::phase::Phase;
use super::Engine;
use crate::procinfo::ProcReader;
use crate::tracer::cannot_stop;
use crate::tracer::ptrace as pt;
use crate::tracer::thread::{StopCause, ThreadState, Tid, TraceeState};
use std::time::{Duration, Instant};

/// A few threads still on their way this long after the interrupts are worth a look at once
/// (the rest of the process is held still meanwhile): a vfork parent is let be within
/// milliseconds. A healthy thread reports in microseconds.
const EARLY_LOOK: Duration = Duration::from_millis(2);
const EARLY_LOOK_MAX: usize = 16;
/// Many threads still on their way: a big all-stop on a busy machine. Looked at only after
/// this, so that a healthy all-stop of a thousand threads costs no /proc reads.
const FIRST_LOOK: Duration = Duration::from_millis(100);
/// How often the stragglers are looked at again.
const LOOK_EVERY: Duration = Duration::from_millis(50);
/// After this, every thread still on its way is let be, whatever /proc says.
const GIVE_UP: Duration = Duration::from_secs(1);

/// When the all-stop in progress began, and when its stragglers are next looked at.
#[derive(Clone, Copy, Debug)]
pub(super) struct StragglerWatch {
    began: Instant,
    next_look: Instant,
}

impl StragglerWatch {
    pub(super) fn new() -> Self {
        let began = Instant::now();
        StragglerWatch {
            began,
            next_look: began + EARLY_LOOK,
        }
    }
}

impl Engine {
    /// Arms the watch when an all-stop begins (kept when one is already under way).
    pub(super) fn watch_stragglers(&mut self) {
        if matches!(self.phase, Phase::AllStopping { .. }) && self.stragglers.is_none() {
            self.stragglers = Some(StragglerWatch::new());
        }
    }

    /// How long poll(2) may sleep: until the next look while an all-stop waits for threads,
    /// for ever otherwise (an idle tracer costs nothing).
    pub(super) fn poll_timeout_ms(&self) -> i32 {
        match (&self.stragglers, &self.phase) {
            (Some(w), Phase::AllStopping { .. }) => {
                let left = w.next_look.saturating_duration_since(Instant::now());
                left.as_millis().clamp(1, i32::MAX as u128) as i32
            }
            _ => -1,
        }
    }

    /// Lets be, with the reason /proc gives, every thread still on its way to the all-stop
    /// that cannot get there: vfork parents once the first look is due, all of them once the
    /// all-stop has waited `GIVE_UP`.
    pub(super) fn look_at_stragglers(&mut self) {
        if !matches!(self.phase, Phase::AllStopping { .. }) {
            self.stragglers = None;
            return;
        }
        let Some(w) = self.stragglers else { return };
        let now = Instant::now();
        if now < w.next_look {
            return;
        }
        let give_up = now >= w.began + GIVE_UP;
        let waiting = self.tracees.tids_where(|t| t.is_live() && !t.is_settled());
        if waiting.len() > EARLY_LOOK_MAX && now < w.began + FIRST_LOOK {
            self.stragglers = Some(StragglerWatch {
                next_look: w.began + FIRST_LOOK,
                ..w
            });
            return;
        }
        let mut reader = ProcReader::new();
        for tid in waiting {
            let Some(why) = cannot_stop::look(&mut reader, self.pid, tid, give_up) else {
                continue;
            };
            let Some(t) = self.tracees.get_mut(tid) else {
                continue;
            };
            let old = t.state.view();
            t.state = TraceeState::CannotStop { why };
            t.cause = Some(StopCause::CannotStop { why });
            t.ran();
            self.transition(
                tid,
                old,
                ThreadState::CannotStop,
                None,
                "interrupt not answered: the all-stop goes on without it",
            );
            self.note(
                Some(tid),
                format!(
                    "thread {tid} cannot stop ({why}); it stops when that wait ends, and is \
                     let go untraced if ptscope leaves first"
                ),
            );
        }
        self.stragglers = Some(StragglerWatch {
            next_look: now + LOOK_EVERY,
            ..w
        });
    }

    /// A thread that could not stop has stopped after all (its report was handled as that of
    /// a stopping thread): held with the others, with its registers, or let run with them.
    pub(super) fn stopped_at_last(&mut self, tid: Tid) {
        let running = matches!(self.phase, Phase::Running);
        let Some(t) = self.tracees.get_mut(tid) else {
            return;
        };
        if t.state != TraceeState::Stopped {
            return;
        }
        if running {
            // It missed the arming of the continue that runs the others.
            self.arm_and_run(tid, "stopped at last while the others run: resumed");
            return;
        }
        t.regs = pt::getregs(tid).ok();
        // At rest with the others: nothing of ours may stay armed in its debug registers (it
        // may have run armed since before the all-stop began).
        self.disarm(tid);
        self.note(
            Some(tid),
            format!("thread {tid} stopped at last: held with the others"),
        );
    }
}
