//! The inspector's model and its one pure update function: a message in (a key, a tracer
//! event, a worker's answer), the model changed, effects out for the run loop to carry out.
//! No I/O happens here, so every rule is a table test. The state itself lives in the parts
//! under `model/`; this file says which parts each message touches and what it asks for.

use super::assign::{self, Edit, EditAsk};
use super::breakpoint_spec;
use super::code_update;
use super::focus::Focus;
use super::hung_update;
use super::inspect::UnwindAsk;
use super::model::breakpoints::Selected;
use super::model::{
    BacktraceModel, BreakpointsModel, CodeModel, GroupsModel, LogBody, LogModel, MemoryModel,
    ProcessModel, PromptKind, PromptModel, ScreenModel, StatusKind, StatusModel, ThreadsModel,
    WaitsModel,
};
use super::msg::{Effect, Msg};
use super::resolve::{Purpose, ResolveAsk};
use super::watch_spec;
use crate::expr::ExprError;
use crate::text::sanitize;
use crate::tracer::event::{Command, Event, EventKind, ProcessState, Snapshot};
use crate::tracer::rules::spec;
use crate::tracer::status::ExitKind;
use crate::tracer::thread::{StopCause, ThreadState};
use std::collections::HashMap;

/// The /proc reading of every thread: asked for on ticks while running, and before a user's
/// stop (once stopped, /proc would only show our stop).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum KernelReading {
    #[default]
    Idle,
    Asked,
    /// `s` was pressed: the stop is sent once the reading on its way is back.
    AskedThenStop,
    /// The reading is back; the stop is sent once the pre-stop facts are (`Msg::PreStop`).
    ReadThenStop,
}

#[derive(Clone, Debug)]
pub struct Model {
    pub process: ProcessModel,
    pub threads: ThreadsModel,
    pub code: CodeModel,
    pub backtrace: BacktraceModel,
    pub breakpoints: BreakpointsModel,
    pub memory: MemoryModel,
    pub log: LogModel,
    pub prompt: PromptModel,
    pub screen: ScreenModel,
    pub status: StatusModel,
    /// What each thread waits on, and the deadlocks.
    pub waits: WaitsModel,
    /// `G`: the threads grouped by identical stack.
    pub groups: GroupsModel,
    /// Tracer commands sent and not answered yet, by id.
    pub pending: HashMap<u64, Command>,
    pub kernel_reading: KernelReading,
}

impl Model {
    pub fn new(pid: i32, cmdline: &str, launched: bool) -> Self {
        Model {
            process: ProcessModel::new(pid, cmdline, launched),
            threads: ThreadsModel::default(),
            code: CodeModel::default(),
            backtrace: BacktraceModel::default(),
            breakpoints: BreakpointsModel::default(),
            memory: MemoryModel::default(),
            log: LogModel::default(),
            prompt: PromptModel::default(),
            screen: ScreenModel::default(),
            status: StatusModel::default(),
            waits: WaitsModel::default(),
            groups: GroupsModel::default(),
            pending: HashMap::new(),
            kernel_reading: KernelReading::Idle,
        }
    }

    /// The run loop tells the model the id `Tracer::send` gave a command, so its reply can be
    /// matched to it.
    pub fn sent(&mut self, id: u64, cmd: Command) {
        self.pending.insert(id, cmd);
    }

    /// The time log lines that no tracer event carries are put at: the last event's (the
    /// analysis of a stop is logged at that stop).
    fn log_now(&self) -> std::time::Duration {
        self.log
            .lines
            .back()
            .map_or(std::time::Duration::ZERO, |l| l.at)
    }

    /// Thread rows the pane shows: the layout's, less the deadlock banner above it.
    pub fn threads_rows(&self) -> usize {
        let banner = self.waits.banner_lines() as usize;
        self.screen
            .layout()
            .threads_rows()
            .saturating_sub(banner)
            .max(1)
    }

    /// The read that fills the memory pane as it is laid out now.
    pub(super) fn memory_read(&self) -> Option<Effect> {
        let s = self.screen.layout();
        self.memory
            .read(s.memory_rows(), s.memory_row_bytes())
            .map(Effect::Tracer)
    }

    /// Every address on screen without a name that was not asked for yet.
    fn unnamed_pcs(&mut self) -> Vec<u64> {
        let wanted: Vec<u64> = self
            .threads
            .pcs()
            .chain(self.breakpoints.addrs())
            .chain(self.breakpoints.watch_addrs())
            .chain(self.memory.addr)
            .chain(self.log.addrs.iter().copied())
            .collect();
        self.threads.names.ask(wanted.into_iter())
    }

    fn want_backtrace(&mut self) -> Option<UnwindAsk> {
        let stopped = self.process.is_stopped();
        self.backtrace.want(self.threads.selected_row(), stopped)
    }

    pub(super) fn apply_snapshot(&mut self, s: &Snapshot) {
        self.process.state = s.state;
        let rows = self.threads_rows();
        let moved = self.threads.apply_snapshot(s, rows);
        self.breakpoints.replace(&s.breakpoints, &s.watchpoints);
        if moved {
            // A step moved a thread: its old stack is not its stack any more.
            self.backtrace.next_generation();
            self.backtrace.forget();
        }
    }
}

/// Applies one message. Returns what the run loop should do, in order.
pub fn update(m: &mut Model, msg: Msg) -> Vec<Effect> {
    let before = m.threads.selected;
    let addresses = may_show_new_addresses(&msg, m.screen.focus);
    let mut fx = apply(m, msg);
    m.screen.threads_lines = m.threads.rows.len() + m.waits.banner_lines() as usize;
    if m.threads.selected != before {
        m.backtrace.offset = 0;
        m.backtrace.selected = 0;
    }
    if addresses {
        let pcs = m.unnamed_pcs();
        if !pcs.is_empty() {
            let image = m.threads.names.image();
            fx.push(Effect::NamePcs { image, pcs });
        }
    }
    fx.extend(m.want_backtrace().map(Effect::Unwind));
    let stopped = m.process.is_stopped();
    fx.extend(
        m.code
            .want(m.threads.selected_row(), stopped)
            .map(Effect::Tracer),
    );
    fx
}

/// Whether the message may put an address on screen that wants a name: registers, a
/// breakpoint, a memory address, a breakpoint hit in the log, or an exec that makes every name
/// stale. The question is asked so that a storm of thread births does not rescan every row.
fn may_show_new_addresses(msg: &Msg, focus: Focus) -> bool {
    match msg {
        Msg::Tracer(e) => match &e.kind {
            EventKind::Transition(t) => matches!(
                t.cause,
                Some(StopCause::Exec | StopCause::Breakpoint { .. })
            ),
            EventKind::AllStopped(_) | EventKind::Reply { .. } => true,
            EventKind::WatchpointHit(_) => true,
            EventKind::Resumed
            | EventKind::Note { .. }
            | EventKind::ProcessExited(_)
            | EventKind::Detached => false,
            EventKind::Wrote(_) => false,
            EventKind::Logged(_) | EventKind::TraceHit(_) => false,
        },
        Msg::Resolved { .. } => true,
        Msg::Up | Msg::Down | Msg::PageUp | Msg::PageDown => focus == Focus::Memory,
        _ => false,
    }
}

fn apply(m: &mut Model, msg: Msg) -> Vec<Effect> {
    match msg {
        Msg::Quit => vec![Effect::Quit],
        Msg::Signal(name) => {
            m.status.info(format!("{name}: quitting"));
            vec![Effect::Quit]
        }
        Msg::ToggleHelp => {
            m.screen.help = !m.screen.help;
            Vec::new()
        }
        Msg::Stop => stop(m),
        Msg::Continue => continue_all(m),
        Msg::Step => step(m),
        Msg::StepOver => code_update::step_over(m),
        Msg::Finish => code_update::finish(m),
        Msg::StepLine => code_update::step_line(m),
        Msg::ToggleSyntax => code_update::toggle_syntax(m),
        Msg::BreakpointPrompt => {
            match m.process.gone() {
                Some(why) => m.status.error(format!("cannot add a breakpoint: {why}")),
                None => m.prompt.open(PromptKind::Breakpoint, String::new()),
            }
            Vec::new()
        }
        Msg::MemoryPrompt => {
            m.prompt
                .open(PromptKind::MemoryAddress, m.memory.expr.clone());
            Vec::new()
        }
        Msg::EditPrompt => {
            match at_rest_or_why(m, "write") {
                Some(why) => m.status.error(why),
                None => m.prompt.open(PromptKind::Edit, String::new()),
            }
            Vec::new()
        }
        Msg::WatchPrompt => {
            match at_rest_or_why(m, "add a watchpoint") {
                Some(why) => m.status.error(why),
                None => m.prompt.open(PromptKind::Watch, String::new()),
            }
            Vec::new()
        }
        Msg::EditResolved { text: _, result } => edit_resolved(m, result),
        Msg::DeleteBreakpoint => delete_breakpoint(m),
        Msg::FocusNext => {
            m.screen.focus = m.screen.focus.step(1);
            Vec::new()
        }
        Msg::FocusPrev => {
            m.screen.focus = m.screen.focus.step(-1);
            Vec::new()
        }
        Msg::Up => move_selection(m, -1),
        Msg::Down => move_selection(m, 1),
        Msg::PageUp => move_selection(m, -(m.screen.page() as isize)),
        Msg::PageDown => move_selection(m, m.screen.page() as isize),
        Msg::Home => match m.screen.focus {
            Focus::Log => {
                m.log.home(m.screen.layout().log_rows());
                Vec::new()
            }
            Focus::Memory => move_selection(m, 0),
            _ => move_selection(m, isize::MIN / 2),
        },
        Msg::End => match m.screen.focus {
            Focus::Log => {
                m.log.end();
                Vec::new()
            }
            Focus::Memory => move_selection(m, 0),
            _ => move_selection(m, isize::MAX / 2),
        },
        Msg::PromptChar(c) => {
            m.prompt.type_char(c);
            Vec::new()
        }
        Msg::PromptBackspace => {
            m.prompt.backspace();
            Vec::new()
        }
        Msg::PromptCancel => {
            m.prompt.cancel();
            Vec::new()
        }
        Msg::PromptSubmit => submit_prompt(m),
        Msg::Resize(w, h) => {
            m.screen.size = (w, h);
            let rows = m.threads_rows();
            m.threads.keep_selection_visible(rows);
            Vec::new()
        }
        Msg::Tracer(ev) => on_event(m, ev),
        Msg::PcNames { image, names } => {
            m.threads.names.answer(image, names);
            Vec::new()
        }
        Msg::Kernel(views) => {
            let then_stop = m.kernel_reading == KernelReading::AskedThenStop;
            m.kernel_reading = KernelReading::Idle;
            for ended in m.waits.apply_kernel(&views) {
                m.log.push(m.log_now(), None, LogBody::Text(ended));
            }
            m.threads.apply_kernel(views);
            if then_stop && m.waits.prestop_asked {
                m.kernel_reading = KernelReading::ReadThenStop;
                Vec::new()
            } else if then_stop {
                send_stop(m)
            } else {
                Vec::new()
            }
        }
        Msg::PreStop(p) => {
            m.waits.prestop = *p;
            m.waits.prestop_asked = false;
            if m.kernel_reading == KernelReading::ReadThenStop {
                m.kernel_reading = KernelReading::Idle;
                send_stop(m)
            } else {
                Vec::new()
            }
        }
        Msg::Waits(v) => {
            let at = m.log_now();
            hung_update::waits(m, at, *v);
            Vec::new()
        }
        Msg::Groups(v) => {
            hung_update::groups(m, *v);
            Vec::new()
        }
        Msg::ToggleGroups => hung_update::toggle(m),
        Msg::Expand => hung_update::open_close(m, true),
        Msg::Collapse => hung_update::open_close(m, false),
        Msg::Backtrace(bt) => {
            let stopped = m.process.is_stopped();
            m.backtrace.apply(bt, stopped);
            Vec::new()
        }
        Msg::Resolved {
            purpose,
            text,
            result,
        } => resolved(m, purpose, &text, result),
        Msg::Code(view) => code_update::code(m, *view),
        Msg::Source { path, result } => {
            m.code.apply_source(path, result);
            Vec::new()
        }
        Msg::LineResolved { text, result } => code_update::line_resolved(m, &text, result),
        Msg::Tick => tick(m),
    }
}

/// The stop the readings before it were waiting for.
fn send_stop(m: &mut Model) -> Vec<Effect> {
    if m.process.gone().is_none() {
        vec![Effect::Tracer(Command::Stop)]
    } else {
        Vec::new()
    }
}

fn stop(m: &mut Model) -> Vec<Effect> {
    if let Some(why) = m.process.gone() {
        m.status.error(format!("cannot stop: {why}"));
        return Vec::new();
    }
    if m.process.is_stopped() {
        m.status.info("already stopped");
        return Vec::new();
    }
    m.status.info("stopping every thread...");
    // How long each thread has been off the CPU is read before the stop too (stopping a
    // thread makes it run); the kernel thread answers it before the reading asked after it.
    match m.kernel_reading {
        KernelReading::AskedThenStop | KernelReading::ReadThenStop => Vec::new(),
        // A reading is on its way already: it is the picture from before the stop.
        KernelReading::Asked => {
            m.process.state = ProcessState::Stopping;
            m.kernel_reading = KernelReading::AskedThenStop;
            m.waits.prestop_asked = true;
            vec![Effect::ReadPreStop]
        }
        // What the threads were doing is read first: once stopped, /proc shows our stop.
        KernelReading::Idle => {
            m.process.state = ProcessState::Stopping;
            m.kernel_reading = KernelReading::AskedThenStop;
            m.waits.prestop_asked = true;
            vec![Effect::ReadPreStop, Effect::ReadKernel]
        }
    }
}

fn continue_all(m: &mut Model) -> Vec<Effect> {
    if let Some(why) = m.process.gone() {
        m.status.error(format!("cannot continue: {why}"));
        Vec::new()
    } else if !m.process.is_stopped() {
        m.status.error("already running: press s to stop first");
        Vec::new()
    } else {
        m.status.info("continuing...");
        vec![Effect::Tracer(Command::Continue)]
    }
}

fn step(m: &mut Model) -> Vec<Effect> {
    if let Some(why) = m.process.gone() {
        m.status.error(format!("cannot step: {why}"));
        return Vec::new();
    }
    if !m.process.is_stopped() {
        m.status
            .error("cannot step while running: press s to stop first");
        return Vec::new();
    }
    let (tid, state) = match m.threads.selected_row() {
        None => {
            m.status.error("no thread selected");
            return Vec::new();
        }
        Some(r) => (r.tid, r.state),
    };
    if state != ThreadState::Stopped {
        m.status.error(format!(
            "thread {tid} is {state}: only a stopped thread steps"
        ));
        return Vec::new();
    }
    m.status.info(format!("stepping thread {tid}..."));
    vec![Effect::Tracer(Command::Step { tid })]
}

fn delete_breakpoint(m: &mut Model) -> Vec<Effect> {
    if let Some(why) = m.process.gone() {
        m.status.error(format!("cannot delete: {why}"));
        return Vec::new();
    }
    match m.breakpoints.selection() {
        None => {
            m.status
                .error("nothing to delete: b adds a breakpoint, w a watchpoint");
            Vec::new()
        }
        Some(Selected::Breakpoint(b)) => {
            let what = match &b.label {
                Some(l) => l.clone(),
                None => format!("{:#x}", b.addrs[0]),
            };
            m.status.info(format!("deleting breakpoint at {what}..."));
            b.addrs
                .into_iter()
                .map(|addr| Effect::Tracer(Command::RemoveBreakpoint { addr }))
                .collect()
        }
        Some(Selected::Watchpoint(addr)) => {
            if let Some(why) = at_rest_or_why(m, "delete a watchpoint") {
                m.status.error(why);
                return Vec::new();
            }
            m.status
                .info(format!("deleting watchpoint at {addr:#x}..."));
            vec![Effect::Tracer(Command::RemoveWatchpoint { addr })]
        }
    }
}

/// Why `what` cannot be done now, when the process is gone or not at rest: writes and debug
/// registers need every thread stopped.
fn at_rest_or_why(m: &Model, what: &str) -> Option<String> {
    if let Some(why) = m.process.gone() {
        return Some(format!("cannot {what}: {why}"));
    }
    (!m.process.is_stopped())
        .then(|| format!("cannot {what} while the process runs: press s to stop it first"))
}

/// The `=` prompt worked out: the write goes to the tracer, which logs it with the old value.
fn edit_resolved(m: &mut Model, result: Result<Edit, assign::AssignError>) -> Vec<Effect> {
    let edit = match result {
        Ok(e) => e,
        Err(e) => {
            m.status.error(e.to_string());
            return Vec::new();
        }
    };
    if let Some(why) = at_rest_or_why(m, "write") {
        m.status.error(why);
        return Vec::new();
    }
    let cmd = match edit {
        Edit::Register { tid, name, value } => {
            m.status.info(format!("writing {name} of thread {tid}..."));
            Command::SetRegister { tid, name, value }
        }
        Edit::Memory { addr, bytes } => {
            m.status
                .info(format!("writing {} bytes at {addr:#x}...", bytes.len()));
            Command::WriteMemory { addr, bytes }
        }
    };
    vec![Effect::Tracer(cmd)]
}

/// Up/Down and paging: the focused pane's selection or scroll position.
fn move_selection(m: &mut Model, by: isize) -> Vec<Effect> {
    let s = m.screen.layout();
    match m.screen.focus {
        Focus::Threads | Focus::Registers if m.groups.showing() => hung_update::move_cursor(m, by),
        Focus::Threads | Focus::Registers => m.threads.move_selection(by, m.threads_rows()),
        Focus::Code => m.code.scroll_code(by),
        Focus::Source => m.code.scroll_source(by),
        Focus::Backtrace => {
            let frames = m
                .backtrace
                .get(m.threads.selected)
                .map_or(0, |b| b.frames.len());
            m.backtrace.select(by, frames, s.backtrace_rows());
        }
        Focus::Breakpoints => m.breakpoints.move_selection(by),
        Focus::Memory => {
            if !m.memory.scroll(by, s.memory_row_bytes()) {
                m.status.info("press g to choose a memory address first");
                return Vec::new();
            }
            return m.memory_read().into_iter().collect();
        }
        Focus::Log => m.log.scroll(by, s.log_rows()),
    }
    Vec::new()
}

/// Enter in a prompt: the text goes to the symbol worker to be worked out.
fn submit_prompt(m: &mut Model) -> Vec<Effect> {
    let Some(p) = m.prompt.submit() else {
        return Vec::new();
    };
    let row = m.threads.selected_row();
    let (purpose, text) = match p.kind {
        PromptKind::Breakpoint => match spec::parse(&p.input) {
            Ok(s) if breakpoint_spec::is_plain(&s) => (Purpose::Breakpoint, p.input),
            Ok(s) => (
                Purpose::BreakpointWith {
                    spec: Box::new(s.clone()),
                    rule: None,
                },
                s.location,
            ),
            Err(e) => {
                m.status.error(format!("b: {e}"));
                return Vec::new();
            }
        },
        PromptKind::MemoryAddress => (Purpose::MemoryAddress, p.input),
        PromptKind::Watch => match watch_spec::parse(&p.input) {
            Ok(w) => (
                Purpose::Watchpoint {
                    kind: w.kind,
                    len: w.len,
                },
                w.expr,
            ),
            Err(e) => {
                m.status.error(e.to_string());
                return Vec::new();
            }
        },
        PromptKind::Edit => {
            let assignment = match assign::parse(&p.input) {
                Ok(a) => a,
                Err(e) => {
                    m.status.error(e.to_string());
                    return Vec::new();
                }
            };
            return vec![Effect::ResolveEdit(EditAsk {
                text: p.input,
                assignment,
                tid: row.map(|r| r.tid),
                regs: row.and_then(|r| r.regs),
                names: m.process.names.clone(),
                at_rest: m.process.is_stopped(),
            })];
        }
    };
    let ask = ResolveAsk {
        purpose,
        text,
        tid: row.map(|r| r.tid),
        regs: row.and_then(|r| r.regs),
        names: m.process.names.clone(),
        at_rest: m.process.is_stopped(),
    };
    vec![Effect::Resolve(ask)]
}

fn resolved(
    m: &mut Model,
    purpose: Purpose,
    text: &str,
    result: Result<u64, ExprError>,
) -> Vec<Effect> {
    let addr = match result {
        Ok(a) => a,
        Err(e) => {
            m.status.error(e.to_string());
            return Vec::new();
        }
    };
    match purpose {
        Purpose::Breakpoint => {
            if let Some(why) = m.process.gone() {
                m.status.error(format!("cannot add a breakpoint: {why}"));
                return Vec::new();
            }
            m.status.info(format!("adding breakpoint at {addr:#x}"));
            vec![Effect::Tracer(Command::AddBreakpoint { addr })]
        }
        Purpose::BreakpointWith { rule, .. } => {
            if let Some(why) = m.process.gone() {
                m.status.error(format!("cannot add a breakpoint: {why}"));
                return Vec::new();
            }
            let Some(rule) = rule else {
                m.status
                    .error("the breakpoint's condition was not worked out");
                return Vec::new();
            };
            m.status.info(format!("adding breakpoint at {addr:#x}"));
            vec![Effect::Tracer(Command::AddBreakpointWith { addr, rule })]
        }
        Purpose::MemoryAddress => {
            m.memory.show(text, addr);
            m.screen.focus = Focus::Memory;
            m.memory_read().into_iter().collect()
        }
        Purpose::Watchpoint { kind, len } => {
            if let Some(why) = at_rest_or_why(m, "add a watchpoint") {
                m.status.error(why);
                return Vec::new();
            }
            m.status.info(format!("adding watchpoint at {addr:#x}"));
            vec![Effect::Tracer(Command::AddWatchpoint { addr, kind, len })]
        }
    }
}

fn tick(m: &mut Model) -> Vec<Effect> {
    let mut fx = Vec::new();
    if m.process.state == ProcessState::Running && m.kernel_reading == KernelReading::Idle {
        m.kernel_reading = KernelReading::Asked;
        fx.push(Effect::ReadKernel);
    }
    let asked = m.pending.values().any(|c| *c == Command::Snapshot);
    if m.threads.births_unnamed && !asked && m.process.gone().is_none() {
        m.threads.births_unnamed = false;
        fx.push(Effect::Tracer(Command::Snapshot));
    }
    fx
}

fn on_event(m: &mut Model, ev: Event) -> Vec<Effect> {
    let at = ev.at;
    match ev.kind {
        EventKind::Transition(t) => {
            m.threads.apply_transition(&t);
            m.log.push(
                at,
                Some(t.tid),
                LogBody::Transition {
                    old: t.old,
                    new: t.new,
                    cause: t.cause,
                    status: t.status,
                    note: t.note,
                },
            );
            Vec::new()
        }
        EventKind::AllStopped(s) => {
            m.backtrace.next_generation();
            m.backtrace.forget();
            m.backtrace.offset = 0;
            m.backtrace.selected = 0;
            m.code.next_generation();
            m.threads.select_stopper(s.stopped_by);
            m.apply_snapshot(&s);
            let why = match s.stopped_by.and_then(|t| m.threads.rows.get(&t)) {
                Some(row) => match row.cause {
                    Some(StopCause::Watchpoint { addr }) => {
                        match m.breakpoints.hit_of(row.tid, addr) {
                            Some(hit) => format!(
                                "all threads stopped: {}",
                                hit.describe(m.threads.names.get(hit.pc))
                            ),
                            None => format!(
                                "all threads stopped: thread {} watchpoint {addr:#x}",
                                row.tid
                            ),
                        }
                    }
                    Some(c) => format!("all threads stopped: thread {} {}", row.tid, c),
                    None => format!("all threads stopped by thread {}", row.tid),
                },
                None => "all threads stopped".to_string(),
            };
            m.log.push(at, s.stopped_by, LogBody::Text(why.clone()));
            // A step's reply can come before the stop it ends: its words stay.
            let answered = m
                .status
                .line
                .as_ref()
                .is_some_and(|l| l.kind == StatusKind::Answer);
            if !answered {
                m.status.info(why);
            }
            let mut fx: Vec<Effect> = m.memory_read().into_iter().collect();
            fx.extend(hung_update::stopped(m));
            fx
        }
        EventKind::Resumed => {
            // The last stop's stacks stay on screen, marked as such, until the next one.
            m.backtrace.next_generation();
            m.code.next_generation();
            m.process.state = ProcessState::Running;
            m.threads.stopped_by = None;
            hung_update::resumed(m);
            m.log.push(at, None, LogBody::Text("resumed".into()));
            m.status.info("running");
            Vec::new()
        }
        EventKind::Note { tid, text } => {
            m.log.push(at, tid, LogBody::Text(sanitize(&text)));
            Vec::new()
        }
        EventKind::Reply { id, result } => super::reply_update::on_reply(m, id, result),
        EventKind::Logged(line) => {
            m.breakpoints.passed_hit(line.addr);
            let text = format!("log {:#x}: {}", line.addr, sanitize(&line.text));
            m.log.push(at, Some(line.tid), LogBody::Text(text));
            Vec::new()
        }
        EventKind::TraceHit(hit) => {
            m.breakpoints.passed_hit(hit.addr);
            let a = hit.args;
            let text = format!(
                "trace {:#x}: rdi={:#x} rsi={:#x} rdx={:#x} rcx={:#x} r8={:#x} r9={:#x}",
                hit.addr, a[0], a[1], a[2], a[3], a[4], a[5]
            );
            m.log.push(at, Some(hit.tid), LogBody::Text(text));
            Vec::new()
        }
        EventKind::WatchpointHit(hit) => {
            m.breakpoints.watch_hit(&hit);
            m.log.push(at, Some(hit.tid), LogBody::Watch(hit));
            Vec::new()
        }
        EventKind::Wrote(rec) => {
            let text = sanitize(&rec.to_string());
            m.log.push(at, rec.tid(), LogBody::Text(text.clone()));
            m.status.info(text);
            Vec::new()
        }
        EventKind::ProcessExited(kind) => {
            m.process.state = ProcessState::Exited { status: kind };
            hung_update::gone(m);
            let text = match kind {
                ExitKind::Code { code } => format!("process exited with code {code}"),
                ExitKind::Signal { .. } => format!("process killed by {kind}"),
            };
            m.log.push(at, None, LogBody::Text(text.clone()));
            m.status.info(text);
            Vec::new()
        }
        EventKind::Detached => {
            m.process.state = ProcessState::Detached;
            hung_update::gone(m);
            m.log.push(at, None, LogBody::Text("detached".into()));
            Vec::new()
        }
    }
}

#[cfg(test)]
#[path = "app_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "app_edit_tests.rs"]
mod edit_tests;
