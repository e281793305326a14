//! The part of `update` that is about the code: the stepping keys (`o` step over, `f` finish,
//! `l` one source line), the syntax key, the code and source answers, `b FILE:LINE`, and the
//! stepping commands' replies. Pure like the rest of `update`.

use super::app::Model;
use super::msg::Effect;
use crate::symbols::LineMatch;
use crate::text::sanitize;
use crate::tracer::event::{Command, StepOutcome};
use crate::tracer::thread::{ThreadState, Tid};
use crate::ui::code_view::CodeView;

/// The selected thread, when a stepping key applies to it; otherwise the status says why.
fn steppable(m: &mut Model, what: &str) -> Option<Tid> {
    if let Some(why) = m.process.gone() {
        m.status.error(format!("cannot {what}: {why}"));
        return None;
    }
    if !m.process.is_stopped() {
        m.status.error(format!(
            "cannot {what} while running: press s to stop first"
        ));
        return None;
    }
    let Some(r) = m.threads.selected_row() else {
        m.status.error("no thread selected");
        return None;
    };
    let (tid, state) = (r.tid, r.state);
    if state != ThreadState::Stopped {
        m.status.error(format!(
            "thread {tid} is {state}: only a stopped thread steps"
        ));
        return None;
    }
    Some(tid)
}

pub fn step_over(m: &mut Model) -> Vec<Effect> {
    let Some(tid) = steppable(m, "step over") else {
        return Vec::new();
    };
    m.status
        .info(format!("thread {tid}: stepping over one instruction..."));
    vec![Effect::Tracer(Command::StepOver { tid })]
}

/// Runs until the frame selected in the Backtrace pane returns to its caller: the caller's pc
/// is the return address, the caller's sp the frame's CFA.
pub fn finish(m: &mut Model) -> Vec<Effect> {
    let Some(tid) = steppable(m, "finish") else {
        return Vec::new();
    };
    let stopped = m.process.is_stopped();
    let Some(bt) = m
        .backtrace
        .get(Some(tid))
        .filter(|b| m.backtrace.is_current(b, stopped))
    else {
        m.status.error(format!(
            "the stack of thread {tid} is not unwound yet: try again in a moment"
        ));
        return Vec::new();
    };
    let i = m.backtrace.selected.min(bt.frames.len().saturating_sub(1));
    let Some(caller) = bt.frames.get(i + 1) else {
        m.status.error(format!(
            "frame #{i} has no caller to return to{}",
            bt.ended
                .as_deref()
                .map(|w| format!(" (stack walk ended: {w})"))
                .unwrap_or_default()
        ));
        return Vec::new();
    };
    let (return_addr, cfa) = (caller.pc, caller.sp);
    m.status.info(format!(
        "thread {tid}: running until frame #{i} returns to {return_addr:#x} ({})...",
        caller.function
    ));
    vec![Effect::Tracer(Command::Finish {
        tid,
        return_addr,
        cfa,
    })]
}

pub fn step_line(m: &mut Model) -> Vec<Effect> {
    let Some(tid) = steppable(m, "step a line") else {
        return Vec::new();
    };
    let stopped = m.process.is_stopped();
    let ranges = match m.code.current(m.threads.selected_row(), stopped) {
        None => {
            m.status
                .error("the code at the pc is still being read: try again in a moment");
            return Vec::new();
        }
        Some(v) => match &v.line_ranges {
            Some(r) => r.clone(),
            None => {
                m.status.error(format!(
                    "no line information at {}: l needs the DWARF line tables (debug info); n and o still step",
                    v.place
                ));
                return Vec::new();
            }
        },
    };
    m.status
        .info(format!("thread {tid}: stepping one source line..."));
    vec![Effect::Tracer(Command::StepLine { tid, ranges })]
}

pub fn toggle_syntax(m: &mut Model) -> Vec<Effect> {
    m.code.toggle_syntax();
    let other = m.code.syntax.toggled().name();
    m.status.info(format!(
        "code in {} syntax (a: {other})",
        m.code.syntax.name()
    ));
    Vec::new()
}

pub fn code(m: &mut Model, view: CodeView) -> Vec<Effect> {
    m.code
        .apply(view)
        .map(Effect::ReadSource)
        .into_iter()
        .collect()
}

/// `b FILE:LINE` worked out: one breakpoint of the line's locations.
pub fn line_resolved(m: &mut Model, text: &str, result: Result<LineMatch, String>) -> Vec<Effect> {
    let lm = match result {
        Ok(lm) => lm,
        Err(e) => {
            m.status.error(e);
            return Vec::new();
        }
    };
    if let Some(why) = m.process.gone() {
        m.status.error(format!("cannot add a breakpoint: {why}"));
        return Vec::new();
    }
    let file = text.trim().rsplit_once(':').map_or(text, |(f, _)| f);
    let label = sanitize(&format!("{file}:{}", lm.line));
    let n = lm.addrs.len();
    let locations = if n == 1 {
        format!("{:#x}", lm.addrs[0])
    } else {
        format!("{n} locations")
    };
    if lm.line != lm.asked {
        m.status.info(format!(
            "{}:{} has no code; breakpoint at line {} instead ({locations})",
            sanitize(file),
            lm.asked,
            lm.line
        ));
    } else {
        m.status
            .info(format!("breakpoint at {label} ({locations})"));
    }
    m.breakpoints.add_line(label, lm.addrs.clone());
    lm.addrs
        .into_iter()
        .map(|addr| Effect::Tracer(Command::AddBreakpoint { addr }))
        .collect()
}

/// The reply to `o`, `f` or `l`: how it ended, then the registers and memory it changed.
pub fn stepped(m: &mut Model, cmd: &Command, outcome: StepOutcome) -> Vec<Effect> {
    let (tid, what) = match cmd {
        Command::StepOver { tid } => (*tid, "step over"),
        Command::Finish { tid, .. } => (*tid, "finish"),
        Command::StepLine { tid, .. } => (*tid, "line step"),
        _ => return Vec::new(),
    };
    match outcome {
        StepOutcome::Arrived { pc, instructions } => {
            let how = match cmd {
                Command::Finish { .. } => "returned to the caller".to_string(),
                _ if instructions == 1 => "1 instruction".to_string(),
                _ => format!("{instructions} instructions"),
            };
            m.status
                .answer(format!("thread {tid}: {what} done at {pc:#x}, {how}"));
        }
        StepOutcome::StillOnLine { pc, instructions } => m.status.answer(format!(
            "thread {tid}: still on the same line at {pc:#x} after {instructions} instructions (a loop?): stopped"
        )),
        StepOutcome::Interrupted { by, cause } => {
            let why = match (by, cause) {
                (Some(t), Some(c)) => format!("thread {t} {c}"),
                (Some(t), None) => format!("thread {t} stopped"),
                (None, _) => "stopped as asked".to_string(),
            };
            m.status
                .error(format!("{what} of thread {tid} ended early: {why}"));
        }
    }
    std::iter::once(Effect::Tracer(Command::Snapshot))
        .chain(m.memory_read())
        .collect()
}
