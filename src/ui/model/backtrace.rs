//! Stacks of the current stop, by thread, unwound by the symbol worker on demand: the selected
//! thread's, once per stop. A generation counter, bumped at every stop and resume, lets late
//! answers about an older stack be dropped.

use super::threads::ThreadRow;
use crate::tracer::thread::{ThreadState, Tid};
use crate::ui::inspect::{BacktraceView, UnwindAsk};
use std::collections::HashMap;

#[derive(Clone, Debug, Default)]
pub struct BacktraceModel {
    /// The stop generation.
    pub gen: u64,
    /// Backtraces of this stop (or, while running, of the last one), by thread.
    pub by_thread: HashMap<Tid, BacktraceView>,
    /// The unwind asked for last and not answered yet: (generation, thread).
    pub pending: Option<(u64, Tid)>,
    /// First frame shown.
    pub offset: usize,
    /// The frame `f` finishes (0: the innermost).
    pub selected: usize,
}

impl BacktraceModel {
    /// A new stop (or a resume): answers in flight describe an older stack.
    pub fn next_generation(&mut self) {
        self.gen += 1;
        self.pending = None;
    }

    /// The stacks of the last stop are no stacks of this one.
    pub fn forget(&mut self) {
        self.by_thread.clear();
    }

    pub fn get(&self, tid: Option<Tid>) -> Option<&BacktraceView> {
        self.by_thread.get(&tid?)
    }

    /// Whether `bt` describes the stack as it is now.
    pub fn is_current(&self, bt: &BacktraceView, stopped: bool) -> bool {
        bt.gen == self.gen && stopped
    }

    /// The unwind to ask for: the selected thread's stack, when the process holds still and
    /// it is neither known for this stop nor asked for already.
    pub fn want(&mut self, row: Option<&ThreadRow>, stopped: bool) -> Option<UnwindAsk> {
        let r = row.filter(|_| stopped)?;
        let regs = r.regs?;
        if matches!(r.state, ThreadState::Running | ThreadState::Stepping) {
            return None;
        }
        let tid = r.tid;
        let fresh = self.by_thread.get(&tid).is_some_and(|b| b.gen == self.gen);
        if fresh || self.pending == Some((self.gen, tid)) {
            return None;
        }
        self.pending = Some((self.gen, tid));
        Some(UnwindAsk {
            gen: self.gen,
            tid,
            regs,
        })
    }

    /// The worker's answer: kept when it is about this stop and the process still holds it.
    pub fn apply(&mut self, bt: BacktraceView, stopped: bool) {
        if self.pending == Some((bt.gen, bt.tid)) {
            self.pending = None;
        }
        if self.is_current(&bt, stopped) {
            self.by_thread.insert(bt.tid, bt);
        }
    }

    /// Moves the selected frame `by` frames in a stack of `frames`, scrolling a pane of `rows`
    /// lines so it stays in view.
    pub fn select(&mut self, by: isize, frames: usize, rows: usize) {
        let last = frames.saturating_sub(1) as isize;
        self.selected = (self.selected as isize)
            .saturating_add(by)
            .clamp(0, last.max(0)) as usize;
        let rows = rows.max(1);
        if self.selected < self.offset {
            self.offset = self.selected;
        } else if self.selected >= self.offset + rows {
            self.offset = self.selected + 1 - rows;
        }
    }

    /// Scrolls a stack of `frames` frames in a pane of `rows` lines.
    pub fn scroll(&mut self, by: isize, frames: usize, rows: usize) {
        let max = frames.saturating_sub(rows) as isize;
        self.offset = (self.offset as isize)
            .saturating_add(by)
            .clamp(0, max.max(0)) as usize;
    }
}

#[cfg(test)]
#[path = "backtrace_tests.rs"]
mod tests;
