//! The event log: every state change the tracer reported, newest last, in a ring so a thread
//! storm cannot eat memory; and how far the reader has scrolled back.

use crate::tracer::event::WatchHit;
use crate::tracer::status::RawStatus;
use crate::tracer::thread::{StopCause, ThreadState, Tid};
use std::collections::{BTreeSet, VecDeque};
use std::time::Duration;

/// Lines the event log keeps; older ones are dropped.
pub const LOG_CAPACITY: usize = 5000;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LogBody {
    Transition {
        old: ThreadState,
        new: ThreadState,
        cause: Option<StopCause>,
        status: Option<RawStatus>,
        note: &'static str,
    },
    /// Already sanitised.
    Text(String),
    /// A watchpoint hit, shown with the name of the PC it stopped at.
    Watch(WatchHit),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogLine {
    pub at: Duration,
    pub tid: Option<Tid>,
    pub body: LogBody,
}

#[derive(Clone, Debug, Default)]
pub struct LogModel {
    pub lines: VecDeque<LogLine>,
    /// Lines scrolled back from the newest; 0 follows new events.
    pub back: usize,
    /// Breakpoint addresses (and watchpoint hit PCs) the log mentions: they want a name.
    pub addrs: BTreeSet<u64>,
}

impl LogModel {
    pub fn push(&mut self, at: Duration, tid: Option<Tid>, body: LogBody) {
        if let LogBody::Transition {
            cause: Some(StopCause::Breakpoint { addr }),
            ..
        } = body
        {
            self.addrs.insert(addr);
        }
        if let LogBody::Watch(hit) = &body {
            self.addrs.insert(hit.pc);
        }
        if self.lines.len() == LOG_CAPACITY {
            self.lines.pop_front();
        }
        self.lines.push_back(LogLine { at, tid, body });
        if self.back > 0 {
            // Keep the lines the reader scrolled to in place while new ones arrive.
            self.back = (self.back + 1).min(self.lines.len().saturating_sub(1));
        }
    }

    /// Moves the view `by` lines towards the newest (negative: back in time), for a pane of
    /// `rows` lines.
    pub fn scroll(&mut self, by: isize, rows: usize) {
        let max = self.lines.len().saturating_sub(rows) as isize;
        self.back = (self.back as isize - by).clamp(0, max.max(0)) as usize;
    }

    /// The oldest lines.
    pub fn home(&mut self, rows: usize) {
        self.back = self.lines.len().saturating_sub(rows);
    }

    /// Follow new events again.
    pub fn end(&mut self) {
        self.back = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tracer::event::EventKind;
    use crate::ui::app::update;
    use crate::ui::fixtures::*;
    use crate::ui::focus::Focus;
    use crate::ui::msg::Msg;

    #[test]
    fn the_log_is_a_ring_and_scrolling_back_holds_still() {
        let mut m = demo_model();
        update(&mut m, Msg::Tracer(event(30, 3000, EventKind::Resumed)));
        for i in 0..LOG_CAPACITY + 10 {
            let k = EventKind::Note {
                tid: None,
                text: format!("line {i}"),
            };
            update(&mut m, Msg::Tracer(event(i as u64, i as u64, k)));
        }
        assert_eq!(m.log.lines.len(), LOG_CAPACITY);
        m.screen.focus = Focus::Log;
        update(&mut m, Msg::Up);
        update(&mut m, Msg::Up);
        assert_eq!(m.log.back, 2);
        update(
            &mut m,
            Msg::Tracer(event(
                1,
                1,
                EventKind::Note {
                    tid: None,
                    text: "new".into(),
                },
            )),
        );
        assert_eq!(m.log.back, 3, "the lines in view stay in view");
        update(&mut m, Msg::End);
        assert_eq!(m.log.back, 0);
    }

    fn note(log: &mut LogModel, i: usize) {
        let at = Duration::from_millis(i as u64);
        log.push(at, None, LogBody::Text(format!("line {i}")));
    }

    #[test]
    fn ring_and_scroll_window() {
        let mut log = LogModel::default();
        for i in 0..LOG_CAPACITY + 10 {
            note(&mut log, i);
        }
        assert_eq!(log.lines.len(), LOG_CAPACITY);
        assert_eq!(log.lines[0].body, LogBody::Text("line 10".into()));
        log.scroll(-1, 10);
        log.scroll(-1, 10);
        assert_eq!(log.back, 2);
        note(&mut log, 0);
        assert_eq!(log.back, 3, "the lines in view stay in view");
        log.home(10);
        assert_eq!(log.back, LOG_CAPACITY - 10);
        log.scroll(-5, 10);
        assert_eq!(
            log.back,
            LOG_CAPACITY - 10,
            "no further back than the oldest page"
        );
        log.end();
        assert_eq!(log.back, 0);
        log.scroll(3, 10);
        assert_eq!(log.back, 0, "nothing newer than the newest");
    }

    #[test]
    fn breakpoint_hits_are_remembered_for_naming() {
        let mut log = LogModel::default();
        let body = |cause| LogBody::Transition {
            old: ThreadState::Running,
            new: ThreadState::Stopping,
            cause,
            status: None,
            note: "",
        };
        log.push(
            Duration::ZERO,
            Some(1),
            body(Some(StopCause::Breakpoint { addr: 0x40_1136 })),
        );
        log.push(Duration::ZERO, Some(1), body(Some(StopCause::Stopped)));
        assert_eq!(
            log.addrs.iter().copied().collect::<Vec<_>>(),
            vec![0x40_1136]
        );
    }
}
