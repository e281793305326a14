//! Every way of letting go of the process: detach at rest, the last resort when nobody will ask
//! (handle gone, panic), and killing a program we launched.

use super::phase::{AfterStop, Phase};
use super::Engine;
use crate::tracer::event::EventKind;
use crate::tracer::ptrace as pt;
use crate::tracer::thread::{ThreadState, TraceeState};
use std::time::{Duration, Instant};

impl Engine {
    /// Detaches every thread; the world is stopped, so every one of them is in a ptrace-stop.
    pub(super) fn detach_all(&mut self) {
        if let Err(e) = self.remove_breakpoints() {
            self.note(None, format!("detach: could not restore every byte: {e}"));
        }
        for tid in self.tracees.tids_where(|t| t.is_live()) {
            // The kernel does not reliably clear debug registers at detach: nothing of ours
            // may fire once we are gone.
            self.clear_debugregs(tid);
            let Some(t) = self.tracees.get_mut(tid) else {
                continue;
            };
            let old = t.state.view();
            // From a signal-delivery-stop PTRACE_DETACH delivers the held signal; from an
            // event-stop the argument would be ignored, but then no signal is held.
            let sig = t.held_signal.take().unwrap_or(0);
            let detached = pt::detach(tid, sig).is_ok();
            t.state = TraceeState::Detached;
            let note = if !detached && old == ThreadState::CannotStop {
                // PTRACE_DETACH needs a stopped tracee. The kernel detaches every tracee of a
                // tracer thread that exits (exit_ptrace), which this one does next.
                "never stopped, so not detachable: let go when the tracer thread exits"
            } else if sig != 0 {
                "PTRACE_DETACH delivering the held signal"
            } else {
                "PTRACE_DETACH"
            };
            self.transition(tid, old, ThreadState::Detached, None, note);
        }
        self.phase = Phase::Finished { exit: None };
        self.answer_detached();
        self.emit(EventKind::Detached);
    }

    /// Only for a program we launched: our bytes out, then SIGKILL. Threads resting in
    /// ptrace-stops die at once; the leader's exit status ends the phase.
    pub(super) fn kill(&mut self) {
        let _ = self.remove_breakpoints();
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.pid),
            nix::sys::signal::SIGKILL,
        );
        self.phase = Phase::Killing;
    }

    /// The last resort when nobody will send a detach (handle gone, or unwinding from a panic):
    /// take our bytes out, which works on a running process, and detach what can be detached.
    /// When this thread exits, the kernel detaches the rest; a launched program is killed.
    pub(super) fn release_everything(&mut self) {
        if self.phase.is_over() {
            return;
        }
        if !self.launched && self.any_armed() {
            self.stop_to_disarm();
            if self.phase.is_over() {
                return;
            }
        }
        self.phase = Phase::Finished { exit: None };
        let _ = self.remove_breakpoints();
        if self.launched {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(self.pid),
                nix::sys::signal::SIGKILL,
            );
            return;
        }
        for tid in self.tracees.tids_where(|t| t.is_settled()) {
            self.clear_debugregs(tid);
            if let Some(t) = self.tracees.get(tid) {
                let _ = pt::detach(tid, t.held_signal.unwrap_or(0));
            }
        }
    }

    /// Debug registers, unlike our int3 bytes, can only be written while a thread is in a
    /// ptrace-stop, and the kernel leaves them armed when the tracer goes. Before letting go of
    /// a process that runs with our watchpoints armed, bring every thread to a stop (briefly,
    /// bounded: this is the way out), which disarms them all.
    fn stop_to_disarm(&mut self) {
        const BOUND: Duration = Duration::from_secs(2);
        if !matches!(self.phase, Phase::Stopped { .. }) {
            self.begin_all_stop(None, AfterStop::Rest);
        }
        let deadline = Instant::now() + BOUND;
        while !matches!(self.phase, Phase::Stopped { .. } | Phase::Finished { .. })
            && !self.phase.is_over()
            && Instant::now() < deadline
        {
            if self.reap() == 0 {
                std::thread::sleep(Duration::from_millis(1));
            }
            self.progress();
        }
    }
}
