//! The inspector's model and its one pure update function: messages (keys, tracer events,
//! resizes) in, tracer commands out. No I/O happens here, so every rule is a table test.

use super::addr::{self, Scope};
use super::inspect::{is_our_stop, BacktraceView, KernelRow, UnwindAsk};
use super::layout;
use super::panes::memory::bytes_per_row;
use crate::procinfo::ThreadKernelView;
use crate::regs::Registers;
use crate::text::sanitize;
use crate::tracer::error::TraceError;
use crate::tracer::event::{
    BreakpointInfo, Command, Event, EventKind, MemoryRead, ProcessState, Reply, Snapshot,
    ThreadInfo, Transition,
};
use crate::tracer::status::{ExitKind, RawStatus};
use crate::tracer::thread::{StopCause, ThreadState, Tid};
use ratatui::layout::Rect;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// Turns a symbol expression (`main`, `read+0x10`, `libc!read`) into an address. Injected by
/// the session (ELF symbols of the live process); the only lookup `update` makes that is not in
/// the model, and tests give it a table.
#[derive(Clone)]
pub struct Resolver(pub Arc<ResolveFn>);

pub type ResolveFn = dyn Fn(&str) -> Result<u64, String> + Send + Sync;

impl fmt::Debug for Resolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Resolver")
    }
}

/// Lines the event log keeps; older ones are dropped so a thread storm cannot eat memory.
pub const LOG_CAPACITY: usize = 5000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Focus {
    Threads,
    Backtrace,
    Registers,
    Breakpoints,
    Memory,
    Log,
}

impl Focus {
    pub const ALL: [Focus; 6] = [
        Focus::Threads,
        Focus::Backtrace,
        Focus::Registers,
        Focus::Breakpoints,
        Focus::Memory,
        Focus::Log,
    ];

    fn step(self, by: isize) -> Focus {
        let i = Focus::ALL.iter().position(|f| *f == self).unwrap_or(0) as isize;
        Focus::ALL[(i + by).rem_euclid(Focus::ALL.len() as isize) as usize]
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PromptKind {
    Breakpoint,
    MemoryAddress,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prompt {
    pub kind: PromptKind,
    pub input: String,
}

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
    fn new(tid: Tid) -> Self {
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
    fn set_regs(&mut self, regs: Registers) {
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
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogLine {
    pub at: Duration,
    pub tid: Option<Tid>,
    pub body: LogBody,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemoryView {
    /// What the user typed, shown in the title.
    pub expr: String,
    pub addr: Option<u64>,
    /// The last read; its `addr` may lag `addr` while a new read is on its way.
    pub data: Option<MemoryRead>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusKind {
    Info,
    Error,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    pub text: String,
    pub kind: StatusKind,
}

#[derive(Clone, Debug)]
pub enum Msg {
    Quit,
    ToggleHelp,
    Stop,
    Continue,
    Step,
    BreakpointPrompt,
    DeleteBreakpoint,
    MemoryPrompt,
    FocusNext,
    FocusPrev,
    Up,
    Down,
    PageUp,
    PageDown,
    Home,
    End,
    PromptChar(char),
    PromptBackspace,
    PromptSubmit,
    PromptCancel,
    Resize(u16, u16),
    Tracer(Event),
    /// A periodic wake-up while running: refresh names of threads born since the last look.
    Tick,
    /// SIGINT, SIGTERM or SIGHUP reached ptscope.
    Signal(&'static str),
    /// Function names for PCs, from the symbol thread.
    PcNames(Vec<(u64, Option<String>)>),
    /// Every thread as /proc showed it, from the kernel-view thread.
    Kernel(Vec<ThreadKernelView>),
    /// A stack walk from the symbol thread, answering an `UnwindAsk`.
    Backtrace(BacktraceView),
}

#[derive(Clone, Debug)]
pub struct Model {
    pub pid: i32,
    /// Already sanitised.
    pub cmdline: String,
    pub launched: bool,
    pub process: ProcessState,
    pub threads: BTreeMap<Tid, ThreadRow>,
    pub selected: Option<Tid>,
    /// First thread row shown; kept so scrolling up does not jump.
    pub threads_offset: usize,
    pub stopped_by: Option<Tid>,
    pub breakpoints: Vec<BreakpointInfo>,
    pub bp_selected: usize,
    pub memory: MemoryView,
    pub log: VecDeque<LogLine>,
    /// Lines scrolled back from the newest; 0 follows new events.
    pub log_back: usize,
    pub status: Option<Status>,
    /// A line that stays in the status bar (the demo's hot function address).
    pub banner: Option<String>,
    /// Names the prompts accept as addresses.
    pub symbols: BTreeMap<String, u64>,
    /// Symbol names of the process, for names `symbols` does not know.
    pub resolver: Option<Resolver>,
    /// Function names of the PCs seen so far, already sanitised (empty: no name); cleared at
    /// exec. Filled by `Msg::PcNames` from a symbol thread, so a slow first ELF parse never
    /// holds up keys or drawing.
    pub pc_names: HashMap<u64, String>,
    /// PCs handed out by `take_unnamed_pcs` and not answered yet.
    pub pc_asked: HashSet<u64>,
    pub focus: Focus,
    pub prompt: Option<Prompt>,
    pub help: bool,
    pub size: (u16, u16),
    pub quit: bool,
    /// Commands sent and not yet answered, by id.
    pub pending: HashMap<u64, Command>,
    /// Threads were born since the last snapshot, so their names are unknown.
    pub names_stale: bool,
    /// Addresses from the event log that want a name (breakpoint causes).
    pub log_addrs: BTreeSet<u64>,
    /// The kernel's view of each thread, from the last reading taken while it ran.
    pub kernel: BTreeMap<Tid, KernelRow>,
    /// A /proc reading should be taken (the run loop hands it to the kernel-view thread).
    pub kernel_wanted: bool,
    /// One is on its way; no second one is asked for meanwhile.
    pub kernel_asked: bool,
    /// `s` was pressed: the stop is sent once the reading before it is back.
    pub stop_after_kernel: bool,
    /// Bumped at every stop and resume: backtraces from an older one are dropped.
    pub stop_gen: u64,
    /// Backtraces of this stop (or, while running, the last one), by thread.
    pub backtraces: HashMap<Tid, BacktraceView>,
    /// The unwind asked for last and not answered yet: (generation, thread).
    pub bt_pending: Option<(u64, Tid)>,
    /// The next unwind to hand to the symbol thread.
    pub bt_wanted: Option<UnwindAsk>,
    /// First frame shown in the Backtrace pane.
    pub bt_offset: usize,
}

impl Model {
    pub fn new(pid: i32, cmdline: &str, launched: bool) -> Self {
        Model {
            pid,
            cmdline: sanitize(cmdline),
            launched,
            process: ProcessState::Stopping,
            threads: BTreeMap::new(),
            selected: None,
            threads_offset: 0,
            stopped_by: None,
            breakpoints: Vec::new(),
            bp_selected: 0,
            memory: MemoryView::default(),
            log: VecDeque::new(),
            log_back: 0,
            status: None,
            banner: None,
            symbols: BTreeMap::new(),
            resolver: None,
            pc_names: HashMap::new(),
            pc_asked: HashSet::new(),
            focus: Focus::Threads,
            prompt: None,
            help: false,
            size: (120, 35),
            quit: false,
            pending: HashMap::new(),
            names_stale: false,
            log_addrs: BTreeSet::new(),
            kernel: BTreeMap::new(),
            kernel_wanted: false,
            kernel_asked: false,
            stop_after_kernel: false,
            stop_gen: 0,
            backtraces: HashMap::new(),
            bt_pending: None,
            bt_wanted: None,
            bt_offset: 0,
        }
    }

    /// The run loop calls this with the id `TracerHandle::send` gave each command.
    pub fn sent(&mut self, id: u64, cmd: Command) {
        self.pending.insert(id, cmd);
    }

    pub fn selected_row(&self) -> Option<&ThreadRow> {
        self.selected.and_then(|t| self.threads.get(&t))
    }

    pub fn selected_index(&self) -> Option<usize> {
        let tid = self.selected?;
        self.threads
            .contains_key(&tid)
            .then(|| self.threads.range(..tid).count())
    }

    pub fn screen(&self) -> layout::Screen {
        layout::compute(Rect::new(0, 0, self.size.0, self.size.1), self.focus)
    }

    fn info(&mut self, text: impl Into<String>) {
        self.status = Some(Status {
            text: text.into(),
            kind: StatusKind::Info,
        });
    }

    fn error(&mut self, text: impl Into<String>) {
        self.status = Some(Status {
            text: sanitize(&text.into()),
            kind: StatusKind::Error,
        });
    }

    fn log_line(&mut self, at: Duration, tid: Option<Tid>, body: LogBody) {
        if let LogBody::Transition {
            cause: Some(StopCause::Breakpoint { addr }),
            ..
        } = body
        {
            self.log_addrs.insert(addr);
        }
        if self.log.len() == LOG_CAPACITY {
            self.log.pop_front();
        }
        self.log.push_back(LogLine { at, tid, body });
        if self.log_back > 0 {
            // Keep the lines the reader scrolled to in place while new ones arrive.
            self.log_back = (self.log_back + 1).min(self.log.len().saturating_sub(1));
        }
    }

    pub fn is_stopped(&self) -> bool {
        matches!(
            self.process,
            ProcessState::Stopped | ProcessState::GroupStopped { .. }
        )
    }

    /// Why a command that needs the process cannot be sent now, if it cannot.
    fn gone(&self) -> Option<String> {
        match self.process {
            ProcessState::Exited { status } => Some(format!("the process has exited ({status})")),
            ProcessState::Detached => Some("ptscope has detached from the process".into()),
            _ => None,
        }
    }

    fn threads_rows(&self) -> usize {
        self.screen()
            .threads
            .map(layout::inner_height)
            .unwrap_or(1)
            .saturating_sub(1)
            .max(1)
    }

    fn memory_rows(&self) -> usize {
        self.screen()
            .memory
            .map(layout::inner_height)
            .unwrap_or(8)
            .max(1)
    }

    fn memory_row_bytes(&self) -> usize {
        let w = self
            .screen()
            .memory
            .map(|r| r.width.saturating_sub(2))
            .unwrap_or(0);
        bytes_per_row(w)
    }

    fn backtrace_rows(&self) -> usize {
        self.screen()
            .backtrace
            .map(layout::inner_height)
            .unwrap_or(1)
            .max(1)
    }

    /// The selected thread's backtrace, if one was unwound for it.
    pub fn selected_backtrace(&self) -> Option<&BacktraceView> {
        self.backtraces.get(&self.selected?)
    }

    /// Hands the run loop the next unwind to ask for, once.
    pub fn take_unwind(&mut self) -> Option<UnwindAsk> {
        self.bt_wanted.take()
    }

    /// Hands the run loop a /proc reading to ask for, once; the answer is `Msg::Kernel`.
    pub fn take_kernel_request(&mut self) -> bool {
        if self.kernel_wanted && !self.kernel_asked {
            self.kernel_wanted = false;
            self.kernel_asked = true;
            true
        } else {
            false
        }
    }

    /// Asks for the selected thread's stack when the process holds still and it is not known
    /// for this stop yet.
    fn want_backtrace(&mut self) {
        if !self.is_stopped() {
            return;
        }
        let Some(r) = self.selected_row() else { return };
        let Some(regs) = r.regs else { return };
        if r.state == ThreadState::Running || r.state == ThreadState::Stepping {
            return;
        }
        let tid = r.tid;
        let fresh = self
            .backtraces
            .get(&tid)
            .is_some_and(|b| b.gen == self.stop_gen);
        if fresh || self.bt_pending == Some((self.stop_gen, tid)) {
            return;
        }
        self.bt_pending = Some((self.stop_gen, tid));
        self.bt_wanted = Some(UnwindAsk {
            gen: self.stop_gen,
            tid,
            regs,
        });
    }

    /// A new stop (or a resume): answers in flight describe an older stack.
    fn next_generation(&mut self) {
        self.stop_gen += 1;
        self.bt_pending = None;
        self.bt_wanted = None;
    }

    fn apply_kernel(&mut self, views: Vec<ThreadKernelView>) {
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

    fn log_rows(&self) -> usize {
        self.screen()
            .log
            .map(layout::inner_height)
            .unwrap_or(1)
            .max(1)
    }

    fn memory_read(&self) -> Option<Command> {
        let addr = self.memory.addr?;
        Some(Command::ReadMemory {
            addr,
            len: self.memory_rows() * self.memory_row_bytes(),
        })
    }

    fn select_index(&mut self, i: usize) {
        self.selected = self.threads.keys().nth(i).copied();
        self.keep_selection_visible();
    }

    fn keep_selection_visible(&mut self) {
        self.threads_offset = self.visible_offset(self.threads_rows());
    }

    /// The first thread row to show in `rows` lines: the stored offset, moved just enough to
    /// show the selection. Births between frames may have shifted the selection's index.
    pub fn visible_offset(&self, rows: usize) -> usize {
        let rows = rows.max(1);
        let i = self.selected_index().unwrap_or(0);
        let mut off = self.threads_offset;
        if i < off {
            off = i;
        } else if i >= off + rows {
            off = i + 1 - rows;
        }
        off.min(self.threads.len().saturating_sub(rows))
    }

    fn ensure_selection(&mut self) {
        let valid = self.selected.is_some_and(|t| self.threads.contains_key(&t));
        if !valid {
            self.selected = self
                .stopped_by
                .filter(|t| self.threads.contains_key(t))
                .or_else(|| self.threads.keys().next().copied());
        }
    }

    fn apply_snapshot(&mut self, s: &Snapshot) {
        let regs_before: Vec<(Tid, Option<Registers>)> =
            self.threads.values().map(|r| (r.tid, r.regs)).collect();
        self.process = s.state;
        self.stopped_by = s.stopped_by;
        let mut old = std::mem::take(&mut self.threads);
        // Gone threads stay in the log, not the table: a process that churns threads would
        // otherwise fill it with the dead.
        for t in s.threads.iter().filter(|t| t.state != ThreadState::Exited) {
            let mut row = old.remove(&t.tid).unwrap_or_else(|| ThreadRow::new(t.tid));
            row.apply_info(t);
            self.threads.insert(t.tid, row);
        }
        self.breakpoints = s.breakpoints.clone();
        self.bp_selected = self
            .bp_selected
            .min(self.breakpoints.len().saturating_sub(1));
        self.names_stale = false;
        self.ensure_selection();
        self.keep_selection_visible();
        let regs_after: Vec<(Tid, Option<Registers>)> =
            self.threads.values().map(|r| (r.tid, r.regs)).collect();
        if regs_before != regs_after {
            // A step moved a thread: its old stack is not its stack any more.
            self.next_generation();
            self.backtraces.clear();
        }
    }

    /// PCs of stopped threads that have no name yet and were not asked for: the run loop sends
    /// them to the symbol thread.
    pub fn take_unnamed_pcs(&mut self) -> Vec<u64> {
        let mut pcs: Vec<u64> = self
            .threads
            .values()
            .filter_map(|r| r.regs.map(|g| g.rip()))
            .chain(self.breakpoints.iter().map(|b| b.addr))
            .chain(self.memory.addr)
            .chain(self.log_addrs.iter().copied())
            .filter(|pc| !self.pc_names.contains_key(pc) && !self.pc_asked.contains(pc))
            .collect();
        pcs.sort_unstable();
        pcs.dedup();
        self.pc_asked.extend(&pcs);
        pcs
    }

    pub fn pc_name(&self, pc: u64) -> Option<&str> {
        self.pc_names
            .get(&pc)
            .map(|s| s.as_str())
            .filter(|s| !s.is_empty())
    }

    fn apply_transition(&mut self, at: Duration, t: Transition) {
        let row = self.threads.entry(t.tid).or_insert_with(|| {
            self.names_stale = true;
            ThreadRow::new(t.tid)
        });
        row.state = t.new;
        if t.cause.is_some() {
            row.cause = t.cause;
        }
        if t.cause == Some(StopCause::Exec) {
            // A new program image: old names would lie.
            self.pc_names.clear();
            self.pc_asked.clear();
        }
        if t.new == ThreadState::Exited {
            self.threads.remove(&t.tid);
        }
        if let Some(StopCause::ThreadCreated { tid }) = t.cause {
            if let std::collections::btree_map::Entry::Vacant(e) = self.threads.entry(tid) {
                e.insert(ThreadRow::new(tid));
                self.names_stale = true;
            }
        }
        self.log_line(
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
        self.ensure_selection();
    }

    fn on_reply(&mut self, id: u64, result: Result<Reply, TraceError>) -> Vec<Command> {
        let cmd = self.pending.remove(&id);
        let reply = match result {
            Ok(r) => r,
            Err(e) => {
                if let Some(Command::ReadMemory { addr, len }) = cmd {
                    // Nothing readable at all is still a picture: every byte unknown.
                    if self.memory.addr == Some(addr) {
                        self.memory.data = Some(MemoryRead {
                            addr,
                            bytes: Vec::new(),
                            requested: len,
                        });
                    }
                }
                self.error(e.to_string());
                return Vec::new();
            }
        };
        match (cmd, reply) {
            (_, Reply::Snapshot(s)) => {
                self.apply_snapshot(&s);
                Vec::new()
            }
            (_, Reply::Memory(m)) => {
                if self.memory.addr == Some(m.addr) {
                    self.memory.data = Some(m);
                }
                Vec::new()
            }
            (Some(Command::GetRegisters { tid }), Reply::Registers(r)) => {
                if let Some(row) = self.threads.get_mut(&tid) {
                    row.set_regs(*r);
                }
                Vec::new()
            }
            (Some(Command::AddBreakpoint { addr }), Reply::Done) => {
                if !self.breakpoints.iter().any(|b| b.addr == addr) {
                    self.breakpoints.push(BreakpointInfo { addr, hits: 0 });
                    self.breakpoints.sort_by_key(|b| b.addr);
                }
                self.info(format!("breakpoint set at {addr:#x}"));
                Vec::new()
            }
            (Some(Command::RemoveBreakpoint { addr }), Reply::Done) => {
                self.breakpoints.retain(|b| b.addr != addr);
                self.bp_selected = self
                    .bp_selected
                    .min(self.breakpoints.len().saturating_sub(1));
                self.info(format!("breakpoint at {addr:#x} deleted"));
                Vec::new()
            }
            (Some(Command::Step { tid }), Reply::Done) => {
                self.info(format!("thread {tid} stepped one instruction"));
                // The step's registers and any memory it wrote.
                [Some(Command::Snapshot), self.memory_read()]
                    .into_iter()
                    .flatten()
                    .collect()
            }
            (Some(Command::Stop), Reply::Done) => {
                self.info("every thread stopped");
                Vec::new()
            }
            (Some(Command::Continue), Reply::Done) => {
                self.info("continued");
                Vec::new()
            }
            _ => Vec::new(),
        }
    }

    fn on_event(&mut self, ev: Event) -> Vec<Command> {
        let at = ev.at;
        match ev.kind {
            EventKind::Transition(t) => {
                self.apply_transition(at, t);
                Vec::new()
            }
            EventKind::AllStopped(s) => {
                self.next_generation();
                self.backtraces.clear();
                self.bt_offset = 0;
                // Like a debugger switching to the thread that stopped: that is the one to read.
                if let Some(t) = s.stopped_by {
                    self.selected = Some(t);
                }
                self.apply_snapshot(&s);
                let why = match s.stopped_by.and_then(|t| self.threads.get(&t)) {
                    Some(row) => match row.cause {
                        Some(c) => format!("all threads stopped: thread {} {}", row.tid, c),
                        None => format!("all threads stopped by thread {}", row.tid),
                    },
                    None => "all threads stopped".to_string(),
                };
                self.log_line(at, s.stopped_by, LogBody::Text(why.clone()));
                self.info(why);
                self.memory_read().into_iter().collect()
            }
            EventKind::Resumed => {
                // The last stop's stacks stay on screen, marked as such, until the next one.
                self.next_generation();
                self.process = ProcessState::Running;
                self.stopped_by = None;
                self.log_line(at, None, LogBody::Text("resumed".into()));
                self.info("running");
                Vec::new()
            }
            EventKind::Note { tid, text } => {
                self.log_line(at, tid, LogBody::Text(sanitize(&text)));
                Vec::new()
            }
            EventKind::Reply { id, result } => self.on_reply(id, result),
            EventKind::ProcessExited(kind) => {
                self.process = ProcessState::Exited { status: kind };
                let text = match kind {
                    ExitKind::Code { code } => format!("process exited with code {code}"),
                    ExitKind::Signal { .. } => format!("process killed by {kind}"),
                };
                self.log_line(at, None, LogBody::Text(text.clone()));
                self.info(text);
                Vec::new()
            }
            EventKind::Detached => {
                self.process = ProcessState::Detached;
                self.log_line(at, None, LogBody::Text("detached".into()));
                Vec::new()
            }
        }
    }

    fn move_selection(&mut self, by: isize) -> Vec<Command> {
        match self.focus {
            Focus::Threads | Focus::Registers => {
                if self.threads.is_empty() {
                    return Vec::new();
                }
                let last = self.threads.len() - 1;
                let cur = self.selected_index().unwrap_or(0) as isize;
                self.select_index((cur + by).clamp(0, last as isize) as usize);
            }
            Focus::Backtrace => {
                let n = self.selected_backtrace().map_or(0, |b| b.frames.len());
                let max = n.saturating_sub(self.backtrace_rows()) as isize;
                self.bt_offset = (self.bt_offset as isize + by).clamp(0, max.max(0)) as usize;
            }
            Focus::Breakpoints => {
                let last = self.breakpoints.len().saturating_sub(1) as isize;
                self.bp_selected = (self.bp_selected as isize + by).clamp(0, last) as usize;
            }
            Focus::Memory => {
                let Some(a) = self.memory.addr else {
                    self.info("press g to choose a memory address first");
                    return Vec::new();
                };
                let row = self.memory_row_bytes() as i64;
                self.memory.addr = Some(a.wrapping_add_signed(by as i64 * row));
                return self.memory_read().into_iter().collect();
            }
            Focus::Log => {
                let max = self.log.len().saturating_sub(self.log_rows()) as isize;
                self.log_back = (self.log_back as isize - by).clamp(0, max.max(0)) as usize;
            }
        }
        Vec::new()
    }

    fn page(&self) -> isize {
        match self.focus {
            Focus::Memory => self.memory_rows() as isize,
            Focus::Log => self.log_rows() as isize,
            Focus::Backtrace => self.backtrace_rows() as isize,
            _ => self.threads_rows() as isize,
        }
    }

    fn submit_prompt(&mut self) -> Vec<Command> {
        let Some(p) = self.prompt.take() else {
            return Vec::new();
        };
        let regs = self.selected_row().and_then(|r| r.regs);
        let scope = Scope {
            regs: regs.as_ref(),
            symbols: &self.symbols,
        };
        let addr = match addr::eval(&p.input, &scope) {
            Ok(a) => a,
            Err(e) => match &self.resolver {
                // Registers and numbers failed; the ELF symbols may know the name.
                Some(r) if !e.contains("must be stopped") => match (r.0)(p.input.trim()) {
                    Ok(a) => a,
                    Err(e) => {
                        self.error(e);
                        return Vec::new();
                    }
                },
                _ => {
                    self.error(e);
                    return Vec::new();
                }
            },
        };
        match p.kind {
            PromptKind::Breakpoint => {
                if let Some(why) = self.gone() {
                    self.error(format!("cannot add a breakpoint: {why}"));
                    return Vec::new();
                }
                self.info(format!("adding breakpoint at {addr:#x}"));
                vec![Command::AddBreakpoint { addr }]
            }
            PromptKind::MemoryAddress => {
                self.memory.expr = sanitize(p.input.trim());
                self.memory.addr = Some(addr);
                self.memory.data = None;
                self.focus = Focus::Memory;
                self.memory_read().into_iter().collect()
            }
        }
    }
}

/// Applies one message. Returns the commands to send to the tracer, in order.
pub fn update(m: &mut Model, msg: Msg) -> Vec<Command> {
    let before = m.selected;
    let cmds = apply(m, msg);
    if m.selected != before {
        m.bt_offset = 0;
    }
    m.want_backtrace();
    cmds
}

fn apply(m: &mut Model, msg: Msg) -> Vec<Command> {
    match msg {
        Msg::Quit => {
            m.quit = true;
            Vec::new()
        }
        Msg::Signal(name) => {
            m.quit = true;
            m.info(format!("{name}: quitting"));
            Vec::new()
        }
        Msg::ToggleHelp => {
            m.help = !m.help;
            Vec::new()
        }
        Msg::Stop => {
            if let Some(why) = m.gone() {
                m.error(format!("cannot stop: {why}"));
                Vec::new()
            } else if m.is_stopped() {
                m.info("already stopped");
                Vec::new()
            } else if m.stop_after_kernel {
                m.info("stopping every thread...");
                Vec::new()
            } else {
                // What the threads were doing is read first: once stopped, /proc shows our stop.
                m.process = ProcessState::Stopping;
                m.stop_after_kernel = true;
                m.kernel_wanted = true;
                m.info("stopping every thread...");
                Vec::new()
            }
        }
        Msg::Continue => {
            if let Some(why) = m.gone() {
                m.error(format!("cannot continue: {why}"));
                Vec::new()
            } else if !m.is_stopped() {
                m.error("already running: press s to stop first");
                Vec::new()
            } else {
                m.info("continuing...");
                vec![Command::Continue]
            }
        }
        Msg::Step => {
            if let Some(why) = m.gone() {
                m.error(format!("cannot step: {why}"));
                return Vec::new();
            }
            if !m.is_stopped() {
                m.error("cannot step while running: press s to stop first");
                return Vec::new();
            }
            match m.selected_row() {
                None => {
                    m.error("no thread selected");
                    Vec::new()
                }
                Some(r) if r.state != ThreadState::Stopped => {
                    let why = format!(
                        "thread {} is {}: only a stopped thread steps",
                        r.tid, r.state
                    );
                    m.error(why);
                    Vec::new()
                }
                Some(r) => {
                    let tid = r.tid;
                    m.info(format!("stepping thread {tid}..."));
                    vec![Command::Step { tid }]
                }
            }
        }
        Msg::BreakpointPrompt => {
            if let Some(why) = m.gone() {
                m.error(format!("cannot add a breakpoint: {why}"));
            } else {
                m.prompt = Some(Prompt {
                    kind: PromptKind::Breakpoint,
                    input: String::new(),
                });
            }
            Vec::new()
        }
        Msg::MemoryPrompt => {
            let input = m.memory.expr.clone();
            m.prompt = Some(Prompt {
                kind: PromptKind::MemoryAddress,
                input,
            });
            Vec::new()
        }
        Msg::DeleteBreakpoint => {
            if let Some(why) = m.gone() {
                m.error(format!("cannot delete: {why}"));
                return Vec::new();
            }
            match m.breakpoints.get(m.bp_selected) {
                None => {
                    m.error("no breakpoint to delete: add one with b");
                    Vec::new()
                }
                Some(b) => {
                    let addr = b.addr;
                    m.info(format!("deleting breakpoint at {addr:#x}..."));
                    vec![Command::RemoveBreakpoint { addr }]
                }
            }
        }
        Msg::FocusNext | Msg::FocusPrev => {
            m.focus = m
                .focus
                .step(if matches!(msg, Msg::FocusNext) { 1 } else { -1 });
            Vec::new()
        }
        Msg::Up => m.move_selection(-1),
        Msg::Down => m.move_selection(1),
        Msg::PageUp => {
            let p = m.page();
            m.move_selection(-p)
        }
        Msg::PageDown => {
            let p = m.page();
            m.move_selection(p)
        }
        Msg::Home => match m.focus {
            Focus::Log => {
                m.log_back = m.log.len().saturating_sub(m.log_rows());
                Vec::new()
            }
            Focus::Memory => m.move_selection(0),
            _ => m.move_selection(isize::MIN / 2),
        },
        Msg::End => match m.focus {
            Focus::Log => {
                m.log_back = 0;
                Vec::new()
            }
            Focus::Memory => m.move_selection(0),
            _ => m.move_selection(isize::MAX / 2),
        },
        Msg::PromptChar(c) => {
            if let Some(p) = m.prompt.as_mut() {
                if !c.is_control() && p.input.len() < 64 {
                    p.input.push(c);
                }
            }
            Vec::new()
        }
        Msg::PromptBackspace => {
            if let Some(p) = m.prompt.as_mut() {
                p.input.pop();
            }
            Vec::new()
        }
        Msg::PromptCancel => {
            m.prompt = None;
            Vec::new()
        }
        Msg::PromptSubmit => m.submit_prompt(),
        Msg::Resize(w, h) => {
            m.size = (w, h);
            m.keep_selection_visible();
            Vec::new()
        }
        Msg::Tracer(ev) => m.on_event(ev),
        Msg::PcNames(names) => {
            for (pc, name) in names {
                if m.pc_asked.remove(&pc) {
                    m.pc_names
                        .insert(pc, name.map(|n| sanitize(&n)).unwrap_or_default());
                }
            }
            Vec::new()
        }
        Msg::Kernel(views) => {
            m.kernel_asked = false;
            m.apply_kernel(views);
            if m.stop_after_kernel {
                m.stop_after_kernel = false;
                if m.gone().is_none() {
                    return vec![Command::Stop];
                }
            }
            Vec::new()
        }
        Msg::Backtrace(bt) => {
            if m.bt_pending == Some((bt.gen, bt.tid)) {
                m.bt_pending = None;
            }
            if bt.gen == m.stop_gen && m.is_stopped() {
                m.backtraces.insert(bt.tid, bt);
            }
            Vec::new()
        }
        Msg::Tick => {
            if m.process == ProcessState::Running {
                m.kernel_wanted = true;
            }
            let asked = m.pending.values().any(|c| *c == Command::Snapshot);
            if m.names_stale && !asked && m.gone().is_none() {
                m.names_stale = false;
                vec![Command::Snapshot]
            } else {
                Vec::new()
            }
        }
    }
}

#[cfg(test)]
#[path = "app_tests.rs"]
mod tests;
