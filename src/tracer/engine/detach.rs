//! Every way of letting go of the process: detach at rest, the last resort when nobody will ask
//! (handle gone, panic), and killing a program we launched.

use super::phase::Phase;
use super::Engine;
use crate::tracer::event::EventKind;
use crate::tracer::ptrace as pt;
use crate::tracer::thread::{ThreadState, TraceeState};

impl Engine {
    /// Detaches every thread; the world is stopped, so every one of them is in a ptrace-stop.
    pub(super) fn detach_all(&mut self) {
        if let Err(e) = self.remove_breakpoints() {
            self.note(None, format!("detach: could not restore every byte: {e}"));
        }
        for tid in self.tracees.tids_where(|t| t.is_live()) {
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
        self.phase = Phase::Finished { exit: None };
        let _ = self.remove_breakpoints();
        if self.launched {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(self.pid),
                nix::sys::signal::SIGKILL,
            );
            return;
        }
        for (tid, t) in self.tracees.live() {
            if t.is_settled() {
                let _ = pt::detach(tid, t.held_signal.unwrap_or(0));
            }
        }
    }
}
