//! Our breakpoints and hardware watchpoints as the tracer last reported them, and the row
//! selected for `d`: the breakpoints first, then the watchpoints. The tracer knows addresses;
//! a `b FILE:LINE` whose line has code in several places is one breakpoint of several
//! locations here, and is listed and deleted as one.

use crate::tracer::event::{BreakpointInfo, WatchHit, WatchpointInfo};
use crate::tracer::thread::Tid;
use crate::tracer::RuleInfo;

/// `b FILE:LINE`: one breakpoint at every address of a line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineBreakpoint {
    /// `steps.rs:34`, already sanitised.
    pub label: String,
    pub addrs: Vec<u64>,
}

/// One breakpoint row of the Breakpoints pane.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BreakpointRow {
    pub label: Option<String>,
    /// Lowest first.
    pub addrs: Vec<u64>,
    /// Hits of every location.
    pub hits: u64,
    /// The first location's condition, ignore count, log text or trace mark.
    pub rule: Option<RuleInfo>,
}

#[derive(Clone, Debug, Default)]
pub struct BreakpointsModel {
    /// Sorted by address.
    pub list: Vec<BreakpointInfo>,
    pub by_line: Vec<LineBreakpoint>,
    /// By debug register.
    pub watches: Vec<WatchpointInfo>,
    /// Over `rows()` then `watches`.
    pub selected: usize,
    /// The last watchpoint hit, for the status line of the stop it caused.
    pub last_hit: Option<WatchHit>,
}

/// What `d` would delete.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Selected {
    /// Every location of the row.
    Breakpoint(BreakpointRow),
    Watchpoint(u64),
}

impl BreakpointsModel {
    /// The tracer's own lists, from a snapshot.
    pub fn replace(&mut self, list: &[BreakpointInfo], watches: &[WatchpointInfo]) {
        self.list = list.to_vec();
        self.watches = watches.to_vec();
        self.prune_lines();
        self.clamp();
    }

    /// A `b FILE:LINE` was set at `addrs` (each also `added` as its reply comes).
    pub fn add_line(&mut self, label: String, addrs: Vec<u64>) {
        self.by_line
            .retain(|l| !l.addrs.iter().any(|a| addrs.contains(a)));
        self.by_line.push(LineBreakpoint { label, addrs });
    }

    /// The breakpoint rows, by lowest address: each line breakpoint once, every other address
    /// alone. A line's address not listed by the tracer (its add failed) is left out.
    pub fn rows(&self) -> Vec<BreakpointRow> {
        let hits = |a: u64| self.list.iter().find(|b| b.addr == a).map(|b| b.hits);
        let rule = |a: Option<&u64>| {
            a.and_then(|a| self.list.iter().find(|b| b.addr == *a))
                .and_then(|b| b.rule.clone())
        };
        let mut rows: Vec<BreakpointRow> = self
            .by_line
            .iter()
            .map(|l| {
                let addrs: Vec<u64> = l
                    .addrs
                    .iter()
                    .copied()
                    .filter(|a| hits(*a).is_some())
                    .collect();
                BreakpointRow {
                    label: Some(l.label.clone()),
                    hits: addrs.iter().filter_map(|a| hits(*a)).sum(),
                    rule: rule(addrs.first()),
                    addrs,
                }
            })
            .filter(|r| !r.addrs.is_empty())
            .collect();
        for b in &self.list {
            if !self.by_line.iter().any(|l| l.addrs.contains(&b.addr)) {
                rows.push(BreakpointRow {
                    label: None,
                    addrs: vec![b.addr],
                    hits: b.hits,
                    rule: b.rule.clone(),
                });
            }
        }
        rows.sort_by_key(|r| r.addrs.first().copied());
        rows
    }

    fn prune_lines(&mut self) {
        let list = &self.list;
        for l in &mut self.by_line {
            l.addrs.retain(|a| list.iter().any(|b| b.addr == *a));
        }
        self.by_line.retain(|l| !l.addrs.is_empty());
    }

    pub fn watch_added(&mut self, w: WatchpointInfo) {
        self.watches
            .retain(|x| x.addr != w.addr && x.slot != w.slot);
        self.watches.push(w);
        self.watches.sort_by_key(|w| w.slot);
    }

    pub fn watch_removed(&mut self, addr: u64) {
        self.watches.retain(|w| w.addr != addr);
        self.clamp();
    }

    /// A hit: its count and value, before the snapshot of the stop brings the same.
    pub fn watch_hit(&mut self, hit: &WatchHit) {
        if let Some(w) = self.watches.iter_mut().find(|w| w.addr == hit.addr) {
            w.hits = hit.hits;
            w.value = hit.new;
        }
        self.last_hit = Some(*hit);
    }

    /// The last hit, when it was `tid`'s on a watchpoint at `addr`.
    pub fn hit_of(&self, tid: Tid, addr: u64) -> Option<&WatchHit> {
        self.last_hit
            .as_ref()
            .filter(|h| h.tid == tid && h.addr == addr)
    }

    /// The selected row, of either kind: what `d` deletes.
    pub fn selection(&self) -> Option<Selected> {
        let mut rows = self.rows();
        if self.selected < rows.len() {
            return Some(Selected::Breakpoint(rows.swap_remove(self.selected)));
        }
        self.watches
            .get(self.selected - rows.len())
            .map(|w| Selected::Watchpoint(w.addr))
    }

    pub fn watch_addrs(&self) -> impl Iterator<Item = u64> + '_ {
        self.watches.iter().map(|w| w.addr)
    }

    /// Rows of both kinds.
    fn len(&self) -> usize {
        self.rows().len() + self.watches.len()
    }

    pub fn added(&mut self, addr: u64) {
        if !self.list.iter().any(|b| b.addr == addr) {
            self.list.push(BreakpointInfo {
                addr,
                hits: 0,
                rule: None,
            });
            self.list.sort_by_key(|b| b.addr);
        }
    }

    /// A hit that did not stop (a logpoint's line, a trace hit): counted here, since no
    /// snapshot follows it.
    pub fn passed_hit(&mut self, addr: u64) {
        if let Some(b) = self.list.iter_mut().find(|b| b.addr == addr) {
            b.hits += 1;
        }
    }

    pub fn removed(&mut self, addr: u64) {
        self.list.retain(|b| b.addr != addr);
        self.prune_lines();
        self.clamp();
    }

    /// The selected breakpoint row (None when a watchpoint or nothing is selected).
    pub fn current(&self) -> Option<BreakpointRow> {
        match self.selection()? {
            Selected::Breakpoint(row) => Some(row),
            Selected::Watchpoint(_) => None,
        }
    }

    pub fn move_selection(&mut self, by: isize) {
        let last = self.len().saturating_sub(1) as isize;
        self.selected = (self.selected as isize).saturating_add(by).clamp(0, last) as usize;
    }

    pub fn addrs(&self) -> impl Iterator<Item = u64> + '_ {
        self.list.iter().map(|b| b.addr)
    }

    fn clamp(&mut self) {
        self.selected = self.selected.min(self.len().saturating_sub(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tracer::event::{Command, EventKind, Reply};
    use crate::ui::app::update;
    use crate::ui::fixtures::*;
    use crate::ui::model::{PromptKind, StatusKind};
    use crate::ui::msg::Msg;

    #[test]
    fn breakpoint_prompt_adds_and_the_reply_lists_it() {
        let mut m = demo_model();
        update(&mut m, Msg::Tracer(event(30, 3000, EventKind::Resumed)));
        update(&mut m, Msg::BreakpointPrompt);
        assert_eq!(
            m.prompt.current.as_ref().map(|p| p.kind),
            Some(PromptKind::Breakpoint)
        );
        for c in "0x401136".chars() {
            update(&mut m, Msg::PromptChar(c));
        }
        update(&mut m, Msg::PromptBackspace);
        update(&mut m, Msg::PromptChar('6'));
        let fx = update(&mut m, Msg::PromptSubmit);
        assert!(m.prompt.current.is_none());
        let cmds = commands(&answer_prompts(&mut m, fx, &FakeSymbols));
        assert_eq!(cmds, vec![Command::AddBreakpoint { addr: 0x401136 }]);
        m.sent(3, cmds[0].clone());
        reply(&mut m, 3, Ok(Reply::Done));
        assert!(m
            .breakpoints
            .list
            .iter()
            .any(|b| b.addr == 0x401136 && b.hits == 0));
        // A known name works too; garbage says why and sends nothing.
        let fx = type_prompt(
            &mut m,
            Msg::BreakpointPrompt,
            "ptscope_demo_hot",
            &FakeSymbols,
        );
        assert_eq!(commands(&fx), vec![Command::AddBreakpoint { addr: HOT }]);
        let fx = type_prompt(&mut m, Msg::BreakpointPrompt, "z", &FakeSymbols);
        assert!(commands(&fx).is_empty());
        assert_eq!(m.status.line.clone().unwrap().kind, StatusKind::Error);
        // Deleting: the reply takes it off the list.
        m.sent(4, Command::RemoveBreakpoint { addr: 0x401136 });
        reply(&mut m, 4, Ok(Reply::Done));
        assert!(!m.breakpoints.addrs().any(|a| a == 0x401136));
    }

    #[test]
    fn added_sorted_once_removed_and_the_selection_stays_inside() {
        let mut b = BreakpointsModel::default();
        b.added(0x30);
        b.added(0x10);
        b.added(0x30);
        assert_eq!(b.addrs().collect::<Vec<_>>(), vec![0x10, 0x30]);
        b.move_selection(isize::MAX / 2);
        assert_eq!(b.current().map(|x| x.addrs), Some(vec![0x30]));
        b.removed(0x30);
        assert_eq!(b.current().map(|x| x.addrs), Some(vec![0x10]));
        b.move_selection(isize::MIN / 2);
        assert_eq!(b.selected, 0);
        b.replace(&[], &[]);
        assert!(b.current().is_none());
        assert!(b.selection().is_none());
    }
}
