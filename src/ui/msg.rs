//! What flows through the inspector. `Msg` is everything that can happen (a key, a tracer
//! event, a worker's answer); `Effect` is everything `update` can ask the run loop to do. Each
//! effect that wants an answer names the `Msg` that brings it back.

use super::assign::{AssignError, Edit, EditAsk};
use super::code_view::{CodeAsk, CodeView, SourceAsk};
use super::hung::{AnalyseAsk, GroupsView, WaitsView};
use super::inspect::{BacktraceView, UnwindAsk};
use super::resolve::{Purpose, ResolveAsk};
use crate::analysis::gather::PreStop;
use crate::expr::ExprError;
use crate::procinfo::ThreadKernelView;
use crate::symbols::{LineMatch, SourceFile};
use crate::tracer::event::{Command, Event};
use std::sync::Arc;

#[derive(Clone, Debug)]
pub enum Msg {
    // Keys (keymap.rs).
    Quit,
    ToggleHelp,
    Stop,
    Continue,
    Step,
    BreakpointPrompt,
    DeleteBreakpoint,
    MemoryPrompt,
    /// `=`: change a register or memory.
    EditPrompt,
    /// `w`: add a hardware watchpoint.
    WatchPrompt,
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
    /// `o`: one instruction, a call run to its return.
    StepOver,
    /// `f`: run until the frame selected in the Backtrace pane returns.
    Finish,
    /// `l`: one source line, over calls.
    StepLine,
    /// `a`: Intel or AT&T syntax in the code pane.
    ToggleSyntax,
    /// `G`: group the threads pane by identical stack, or list every thread again.
    ToggleGroups,
    /// Enter or Right: open the stack group under the cursor to its threads.
    Expand,
    /// Left: close the stack group under the cursor (or the one its thread is in).
    Collapse,
    // The terminal and the outside world.
    Resize(u16, u16),
    /// SIGINT, SIGTERM or SIGHUP reached ptscope.
    Signal(&'static str),
    /// A periodic wake-up: the kernel view while running, names of threads born since the last
    /// look.
    Tick,
    // The tracer thread: events, and the replies to `Effect::Tracer`.
    Tracer(Event),
    // The workers (workers.rs), answering effects.
    /// Function names for PCs, answering `Effect::NamePcs` for the same program image.
    PcNames {
        image: u64,
        names: Vec<(u64, Option<String>)>,
    },
    /// Every thread as /proc showed it, answering `Effect::ReadKernel`.
    Kernel(Vec<ThreadKernelView>),
    /// A stack walk, answering `Effect::Unwind`.
    Backtrace(BacktraceView),
    /// A prompt's expression worked out, answering `Effect::Resolve`.
    Resolved {
        purpose: Purpose,
        /// What the user typed.
        text: String,
        result: Result<u64, ExprError>,
    },
    /// The code around a PC, answering `Effect::Disassemble`.
    Code(Box<CodeView>),
    /// A source file found and read (or why not), answering `Effect::ReadSource`.
    Source {
        path: String,
        result: Result<Arc<SourceFile>, String>,
    },
    /// A `b FILE:LINE` prompt worked out, answering `Effect::Resolve`.
    LineResolved {
        /// What the user typed.
        text: String,
        result: Result<LineMatch, String>,
    },
    /// An `=` prompt worked out, answering `Effect::ResolveEdit`.
    EditResolved {
        /// What the user typed.
        text: String,
        result: Result<Edit, AssignError>,
    },
    /// Off-CPU times and D-state kernel stacks read just before a stop, answering
    /// `Effect::ReadPreStop`.
    PreStop(Box<PreStop>),
    /// What each thread waits on and the deadlocks, answering `Effect::Analyse`.
    Waits(Box<WaitsView>),
    /// Every stack walked and grouped, answering `Effect::Analyse` with `groups`.
    Groups(Box<GroupsView>),
}

impl Msg {
    /// The answer to a `ResolveAsk`, as the message that brings it back.
    pub fn resolved(ask: &ResolveAsk, result: Result<u64, ExprError>) -> Msg {
        Msg::Resolved {
            purpose: ask.purpose.clone(),
            text: ask.text.clone(),
            result,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    /// A command for the tracer thread; its reply comes back as `Msg::Tracer` (an
    /// `EventKind::Reply` with the id the loop records through `Model::sent`).
    Tracer(Command),
    /// Read the kernel's view of every thread from /proc; answered by `Msg::Kernel`.
    ReadKernel,
    /// Name these addresses of program image `image` (bumped at exec); answered by
    /// `Msg::PcNames`.
    NamePcs { image: u64, pcs: Vec<u64> },
    /// Walk a stopped thread's stack; answered by `Msg::Backtrace`.
    Unwind(UnwindAsk),
    /// Work out what a prompt's text means; answered by `Msg::Resolved` (or
    /// `Msg::LineResolved` for `FILE:LINE`).
    Resolve(ResolveAsk),
    /// Decode and name the code a read brought; answered by `Msg::Code`.
    Disassemble(Box<CodeAsk>),
    /// Find and read a source file; answered by `Msg::Source`.
    ReadSource(SourceAsk),
    /// Work out the write an `=` prompt asks for; answered by `Msg::EditResolved`.
    ResolveEdit(EditAsk),
    /// Read the facts that only hold before a stop (how long each thread has been off the
    /// CPU); answered by `Msg::PreStop`.
    ReadPreStop,
    /// Work out why the stopped process is hung; answered by `Msg::Waits` and `Msg::Groups`.
    Analyse(Box<AnalyseAsk>),
    /// End the session: the loop returns and the tracer detaches (or kills what it launched).
    Quit,
}
