//! The threads table: a row per live thread with ptscope's view (state, stop cause,
//! registers) beside the kernel's (/proc, read while the process runs), the selection and
//! scroll position, and the names of the PCs on screen.

use super::names::PcNames;
use crate::procinfo::ThreadKernelView;
use crate::regs::Registers;
use crate::text::sanitize;
use crate::tracer::event::{Snapshot, ThreadInfo, Transition};
use crate::tracer::thread::{StopCause, ThreadState, Tid};
use crate::ui::inspect::{is_our_stop, KernelRow};
use std::collections::btree_map::Entry;
use std::collections::BTreeMap;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ThreadRow {
    pub tid: Tid,
    /// Already sanitised.
    pub name: String,
    pub state: ThreadState,
    pub cause: Option<StopCause>,
    /// As of the last stop; kept while the thread runs so the pane still has something to show.
    pub regs: Option<Registers>,
    /// As of the stop before that, to highlight what changed.
    pub prev_regs: Option<Registers>,
    pub pending_signal: Option<i32>,
    pub zombie: bool,
}

impl ThreadRow {
    pub fn new(tid: Tid) -> Self {
        ThreadRow {
            tid,
            name: String::new(),
            state: ThreadState::Running,
            cause: None,
            regs: None,
            prev_regs: None,
            pending_signal: None,
            zombie: false,
        }
    }

    /// New registers move the current ones to `prev_regs` only when they differ, so fetching the
    /// same stop twice keeps the highlight of what the last run changed.
    pub fn set_regs(&mut self, regs: Registers) {
        if self.regs != Some(regs) {
            self.prev_regs = self.regs.take();
            self.regs = Some(regs);
        }
    }

    fn apply_info(&mut self, t: &ThreadInfo) {
        self.name = sanitize(&t.name);
        self.state = t.state;
        self.cause = t.cause;
        self.pending_signal = t.pending_signal;
        self.zombie = t.zombie;
        if let Some(r) = t.regs {
            self.set_regs(r);
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct ThreadsModel {
    pub rows: BTreeMap<Tid, ThreadRow>,
    pub selected: Option<Tid>,
    /// First row shown; kept so scrolling up does not jump.
    pub offset: usize,
    /// The thread whose own stop stopped the others (marked `>`).
    pub stopped_by: Option<Tid>,
    /// The kernel's view of each thread, from the last reading taken while it ran.
    pub kernel: BTreeMap<Tid, KernelRow>,
    /// Function names of the PCs (and of the other addresses on screen).
    pub names: PcNames,
    /// Threads were born since the last snapshot, so their names (comm) are unknown.
    pub births_unnamed: bool,
}

impl ThreadsModel {
    pub fn selected_row(&self) -> Option<&ThreadRow> {
        self.rows.get(&self.selected?)
    }

    pub fn selected_index(&self) -> Option<usize> {
        let tid = self.selected?;
        self.rows
            .contains_key(&tid)
            .then(|| self.rows.range(..tid).count())
    }

    /// The PCs of the threads that have registers.
    pub fn pcs(&self) -> impl Iterator<Item = u64> + '_ {
        self.rows.values().filter_map(|r| r.regs.map(|g| g.rip()))
    }

    /// The first row to show in `rows` lines: the stored offset, moved just enough to show the
    /// selection. Births between frames may have shifted the selection's index.
    pub fn visible_offset(&self, rows: usize) -> usize {
        let rows = rows.max(1);
        let i = self.selected_index().unwrap_or(0);
        let mut off = self.offset;
        if i < off {
            off = i;
        } else if i >= off + rows {
            off = i + 1 - rows;
        }
        off.min(self.rows.len().saturating_sub(rows))
    }

    pub fn keep_selection_visible(&mut self, rows: usize) {
        self.offset = self.visible_offset(rows);
    }

    /// Moves the selection `by` rows, in a table showing `rows` of them.
    pub fn move_selection(&mut self, by: isize, rows: usize) {
        if self.rows.is_empty() {
            return;
        }
        let last = self.rows.len() - 1;
        let cur = self.selected_index().unwrap_or(0) as isize;
        let i = cur.saturating_add(by).clamp(0, last as isize) as usize;
        self.selected = self.rows.keys().nth(i).copied();
        self.keep_selection_visible(rows);
    }

    /// A selection always names a live thread: the one that stopped the process, else the
    /// first.
    fn ensure_selection(&mut self) {
        let valid = self.selected.is_some_and(|t| self.rows.contains_key(&t));
        if !valid {
            self.selected = self
                .stopped_by
                .filter(|t| self.rows.contains_key(t))
                .or_else(|| self.rows.keys().next().copied());
        }
    }

    /// Like a debugger switching to the thread that stopped: that is the one to read.
    pub fn select_stopper(&mut self, stopped_by: Option<Tid>) {
        if let Some(t) = stopped_by {
            self.selected = Some(t);
        }
    }

    /// The tracer's whole picture. Returns whether any thread's registers changed (a step
    /// moved one: its old stack is not its stack any more).
    pub fn apply_snapshot(&mut self, s: &Snapshot, rows: usize) -> bool {
        let regs_before: Vec<(Tid, Option<Registers>)> =
            self.rows.values().map(|r| (r.tid, r.regs)).collect();
        self.stopped_by = s.stopped_by;
        let mut old = std::mem::take(&mut self.rows);
        // Gone threads stay in the log, not the table: a process that churns threads would
        // otherwise fill it with the dead.
        for t in s.threads.iter().filter(|t| t.state != ThreadState::Exited) {
            let mut row = old.remove(&t.tid).unwrap_or_else(|| ThreadRow::new(t.tid));
            row.apply_info(t);
            self.rows.insert(t.tid, row);
        }
        self.births_unnamed = false;
        self.ensure_selection();
        self.keep_selection_visible(rows);
        let regs_after: Vec<(Tid, Option<Registers>)> =
            self.rows.values().map(|r| (r.tid, r.regs)).collect();
        regs_before != regs_after
    }

    /// One thread changed state: born, stopped, exited, exec'd.
    pub fn apply_transition(&mut self, t: &Transition) {
        let row = self.rows.entry(t.tid).or_insert_with(|| {
            self.births_unnamed = true;
            ThreadRow::new(t.tid)
        });
        row.state = t.new;
        if t.cause.is_some() {
            row.cause = t.cause;
        }
        if t.cause == Some(StopCause::Exec) {
            self.names.forget();
        }
        if t.new == ThreadState::Exited {
            self.rows.remove(&t.tid);
        }
        if let Some(StopCause::ThreadCreated { tid }) = t.cause {
            // A clone starts with its parent's name (comm); the next snapshot has the one
            // it gives itself. A thread that lives less than that shows its parent's, not
            // nothing. Its own first stop can have made its row already.
            let parent = self.rows.get(&t.tid).map(|r| r.name.clone());
            let row = match self.rows.entry(tid) {
                Entry::Vacant(e) => {
                    self.births_unnamed = true;
                    e.insert(ThreadRow::new(tid))
                }
                Entry::Occupied(e) => e.into_mut(),
            };
            if row.name.is_empty() {
                row.name = parent.unwrap_or_default();
            }
        }
        self.ensure_selection();
    }

    /// A /proc reading. One taken during our own stop says nothing about what a thread was
    /// doing, so the reading from before is kept for it.
    pub fn apply_kernel(&mut self, views: Vec<ThreadKernelView>) {
        if views.is_empty() {
            // Unreadable (the process is gone): keep the last picture.
            return;
        }
        let mut old = std::mem::take(&mut self.kernel);
        for v in &views {
            let row = if is_our_stop(v.state) {
                // Stopped by us: keep what it was doing before, if we ever saw it run.
                match old.remove(&v.tid) {
                    Some(r) => r,
                    None => continue,
                }
            } else {
                KernelRow::from_view(v)
            };
            self.kernel.insert(v.tid, row);
        }
    }
}

#[cfg(test)]
#[path = "threads_tests.rs"]
mod tests;
