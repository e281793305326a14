//! The update rules of "why is it hung?", called from `app::update`: the analysis asked for at
//! every stop, its answers (the WAITS column, the deadlock banner and log lines, restarted
//! calls named in the kernel columns), and `G` with the keys that open and close its groups.

use super::app::Model;
use super::focus::Focus;
use super::hung::{AnalyseAsk, AskThread, GroupsView, WaitsView};
use super::model::groups::Grouping;
use super::model::waits::Told;
use super::model::{LogBody, StatusKind};
use super::msg::Effect;
use crate::tracer::thread::ThreadState;
use std::time::Duration;

/// What the worker is asked about the stop now on screen. Only threads that hold still have
/// registers to walk from: one that could not be stopped keeps the last stop's.
fn ask(m: &mut Model, waits: bool, groups: bool) -> AnalyseAsk {
    let threads = m
        .threads
        .rows
        .values()
        .map(|r| AskThread {
            tid: r.tid,
            name: r.name.clone(),
            regs: r
                .regs
                .filter(|_| matches!(r.state, ThreadState::Stopped | ThreadState::Exiting))
                .filter(|_| !r.zombie),
        })
        .collect();
    AnalyseAsk {
        gen: m.waits.gen,
        threads,
        kernel: m.waits.before.clone(),
        prestop: std::mem::take(&mut m.waits.prestop),
        waits,
        groups,
    }
}

fn walkable(m: &Model) -> usize {
    m.threads
        .rows
        .values()
        .filter(|r| r.regs.is_some() && !r.zombie)
        .count()
}

/// Every thread stopped: what they wait on is worked out at once, and their stacks walked
/// and grouped when `G` is on.
pub fn stopped(m: &mut Model) -> Vec<Effect> {
    m.waits.stopped();
    m.waits.status_at_stop = m.status.line.clone();
    let walk = m.groups.on();
    if walk {
        m.groups.grouping = Grouping::Walking {
            threads: walkable(m),
        };
    }
    m.waits.told = Told::Working;
    vec![Effect::Analyse(Box::new(ask(m, true, walk)))]
}

pub fn resumed(m: &mut Model) {
    m.waits.resumed();
    if let Grouping::Walking { .. } = m.groups.grouping {
        // The walk of that stop may never come: show the last one, or wait for the next.
        m.groups.grouping = if m.groups.view.is_some() {
            Grouping::Shown
        } else {
            Grouping::NextStop
        };
    }
}

/// The process is gone: nothing it waited on holds any more.
pub fn gone(m: &mut Model) {
    m.waits.cells.clear();
    m.waits.deadlocks.clear();
}

pub fn waits(m: &mut Model, at: Duration, v: WaitsView) {
    let restarted = v.restarted.clone();
    if !m.waits.apply(v) {
        return;
    }
    // The kernel said restart_syscall(); the wrapper the thread sits in says which call.
    for (tid, call) in restarted {
        if let Some(k) = m.threads.kernel.get_mut(&tid) {
            if k.call
                .as_deref()
                .is_some_and(|c| c.starts_with("restart_syscall"))
            {
                k.call = Some(call);
            }
        }
    }
    for d in &m.waits.deadlocks {
        m.log
            .push(at, d.tids.first().copied(), LogBody::Text(d.text.clone()));
    }
    if let Some(s) = m.waits.summary.clone() {
        say_unless_overtaken(m, format!("why: {s}"));
    }
}

/// An answer arrives a while after its stop: it says its piece on the status line unless a
/// key (a step, a prompt) has put something there since, or the stop is the end of the
/// user's own step, whose result they are reading.
fn say_unless_overtaken(m: &mut Model, text: String) {
    let answered = m
        .status
        .line
        .as_ref()
        .is_some_and(|l| l.kind == StatusKind::Answer);
    if m.status.line == m.waits.status_at_stop && !answered {
        m.status.info(text);
        m.waits.status_at_stop = m.status.line.clone();
    }
}

pub fn groups(m: &mut Model, v: GroupsView) {
    let n: usize = v.groups.iter().map(|g| g.tids.len()).sum();
    let k = v.groups.len();
    if m.groups.apply(v, m.waits.gen) {
        say_unless_overtaken(
            m,
            format!("grouped {n} threads into {k} stacks: Enter opens a group, Left closes it"),
        );
    }
}

pub fn toggle(m: &mut Model) -> Vec<Effect> {
    if m.groups.on() {
        m.groups.grouping = Grouping::Off;
        let rows = m.threads_rows();
        m.threads.keep_selection_visible(rows);
        m.status.info("grouping off: every thread listed");
        return Vec::new();
    }
    let fresh = m.groups.view.as_ref().is_some_and(|v| v.gen == m.waits.gen);
    if fresh || (!m.process.is_stopped() && m.groups.view.is_some()) {
        m.groups.grouping = Grouping::Shown;
        m.status.info(if fresh {
            "grouped by identical stack: Enter opens a group, Left closes it"
        } else {
            "grouped by the stacks of the last stop (threads born since are listed last)"
        });
        return Vec::new();
    }
    if let Some(why) = m.process.gone() {
        m.status.error(format!("cannot group the threads: {why}"));
        return Vec::new();
    }
    if !m.process.is_stopped() {
        m.groups.grouping = Grouping::NextStop;
        m.status
            .info("grouping: the stacks are walked at the next stop (press s)");
        return Vec::new();
    }
    let n = walkable(m);
    m.groups.grouping = Grouping::Walking { threads: n };
    m.status.info(format!("grouping: unwinding {n} threads..."));
    m.waits.status_at_stop = m.status.line.clone();
    vec![Effect::Analyse(Box::new(ask(m, false, true)))]
}

/// Enter/Right (`open`) or Left on the grouped threads pane.
pub fn open_close(m: &mut Model, open: bool) -> Vec<Effect> {
    if !m.groups.showing() {
        let why = match m.groups.grouping {
            Grouping::Off => "press G to group the threads by stack first",
            _ => "the groups are not ready yet",
        };
        m.status.info(why);
        return Vec::new();
    }
    if !matches!(m.screen.focus, Focus::Threads | Focus::Registers) {
        m.status
            .info("Enter and Left open and close stack groups in the Threads pane");
        return Vec::new();
    }
    let tid = if open {
        m.groups.expand(&m.threads.rows, m.threads.selected)
    } else {
        m.groups.collapse(&m.threads.rows, m.threads.selected)
    };
    if tid.is_some() {
        m.threads.selected = tid;
    }
    Vec::new()
}

/// Up/Down and paging over the grouped lines.
pub fn move_cursor(m: &mut Model, by: isize) {
    let rows = m.threads_rows();
    if let Some(t) = m
        .groups
        .move_cursor(by, rows, &m.threads.rows, m.threads.selected)
    {
        m.threads.selected = Some(t);
    }
}

#[cfg(test)]
#[path = "hung_update_tests.rs"]
mod tests;
