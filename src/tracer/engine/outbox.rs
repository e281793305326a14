//! Events on their way to the front ends: when they are sent.
//!
//! Each send that finds a front end parked on the channel wakes it: a futex call here, and on
//! a two-core machine the woken thread usually takes the CPU from the tracer at once (a
//! preemption and a switch back per send, most of the tracer's CPU per passed-on signal,
//! perf: `finish_task_switch`). A report that changes nothing a front end must act on (a
//! signal passed on, a thread born or gone while the process runs, a hit that did not stop
//! anything) is routine: it waits up to `HOLD` for company. Anything else goes out at once,
//! with everything held before it, in order. So a thousand passed-on signals a second cost
//! 25 wake-ups, and the event log shows each at most `HOLD` late (about a frame at 25 fps).

use super::Engine;
use crate::tracer::event::{Event, EventKind};
use crate::tracer::thread::ThreadState;
use std::time::Duration;

/// The longest a routine event waits before it is sent. 40 ms rather than 10: in the
/// benchmark's 1,000 passed-on signals a second the tracer's CPU per signal went from
/// 7.8-12.4 us to 5.9-6.9 us (three runs each, same hour), and a log line 40 ms late is
/// still no later than the next frame a person notices.
pub(super) const HOLD: Duration = Duration::from_millis(40);

/// Whether a front end can learn of `kind` a few milliseconds late without acting wrongly:
/// a report that left its thread running, or a thread's end while the process runs, a note,
/// a hit that stopped nothing. A stop, a reply, a write, the process's end are not.
fn routine(kind: &EventKind) -> bool {
    match kind {
        EventKind::Transition(t) => matches!(
            t.new,
            ThreadState::Running | ThreadState::Exiting | ThreadState::Exited
        ),
        EventKind::Note { .. } | EventKind::Logged(_) | EventKind::TraceHit(_) => true,
        _ => false,
    }
}

impl Engine {
    pub(super) fn emit(&mut self, kind: EventKind) {
        self.seq += 1;
        self.urgent |= !routine(&kind);
        self.outbox.push(Event {
            seq: self.seq,
            at: self.start.elapsed(),
            kind,
        });
    }

    /// Sends what was emitted, in order, now.
    pub(super) fn flush_events(&mut self) {
        for ev in self.outbox.drain(..) {
            let _ = self.events.send(ev);
        }
        self.urgent = false;
    }

    /// At the end of a round of work: sends what was emitted unless all of it is routine and
    /// has waited less than `HOLD`.
    pub(super) fn flush_due_events(&mut self) {
        let due = self
            .held_for()
            .is_some_and(|waited| self.urgent || waited >= HOLD);
        if due {
            self.flush_events();
        }
    }

    /// How long the tracer may sleep before held events are due (None: nothing is held).
    pub(super) fn hold_left(&self) -> Option<Duration> {
        self.held_for().map(|waited| HOLD.saturating_sub(waited))
    }

    /// When the oldest event in the outbox is due to be sent (None: the outbox is empty).
    /// The same instant at every call while that event waits, so a timer set for it once
    /// stays right.
    pub(super) fn hold_until(&self) -> Option<std::time::Instant> {
        let oldest = self.outbox.first()?;
        Some(self.start + oldest.at + HOLD)
    }

    /// How long the oldest event in the outbox has waited (None: the outbox is empty).
    fn held_for(&self) -> Option<Duration> {
        let oldest = self.outbox.first()?;
        Some(self.start.elapsed().saturating_sub(oldest.at))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tracer::event::Transition;

    fn transition(new: ThreadState) -> EventKind {
        EventKind::Transition(Transition {
            tid: 1,
            old: ThreadState::Running,
            new,
            cause: None,
            status: None,
            note: "",
        })
    }

    #[test]
    fn only_reports_that_leave_the_process_running_wait() {
        assert!(routine(&transition(ThreadState::Running)));
        assert!(routine(&transition(ThreadState::Exited)));
        assert!(!routine(&transition(ThreadState::Stopped)));
        assert!(!routine(&transition(ThreadState::Stopping)));
        assert!(!routine(&EventKind::Resumed));
        assert!(!routine(&EventKind::Detached));
    }
}
