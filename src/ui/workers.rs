//! The two helper threads of a live session, so that nothing slow runs on the UI thread (which
//! draws) or the tracer thread (which owns ptrace):
//!
//! - the symbol thread keeps the one `Symbolizer` of the session (ELF files parsed once, the
//!   map re-read per batch) and answers PC names, stack walks, the prompts' expressions
//!   (`FILE:LINE` among them), the code pane's disassembly and the source files it names;
//! - the kernel-view thread reads /proc/PID/task/*/{stat,wchan,syscall} when asked: on each
//!   tick while the process runs, and just before a user's stop is sent (with, first, how long
//!   each thread has been off the CPU);
//! - the analysis thread works out why the process is hung at each stop (`hung.rs`): it walks
//!   stacks with a `Symbolizer` of its own that shares the symbol thread's parsed modules.
//!
//! All answer with `Msg`s on one channel the run loop waits on.

use super::assign::{self, EditAsk};
use super::breakpoint_spec;
use super::code_view::{self, CodeAsk, SourceAsk};
use super::hung::{self, AnalyseAsk};
use super::inspect::{BacktraceView, UnwindAsk};
use super::msg::Msg;
use super::resolve::{self, Purpose, ResolveAsk};
use crate::analysis::gather;
use crate::expr::{Env, ExprError};
use crate::procinfo::ProcReader;
use crate::symbols::{self, ModuleCache, Symbolizer};
use crate::tracer::memory::Memory;
use crossbeam_channel::{unbounded, Receiver, Sender};
use std::io;

#[derive(Clone, Debug)]
pub enum SymbolAsk {
    /// PCs of one program image (the model's count of execs), answered with the same.
    Names {
        image: u64,
        pcs: Vec<u64>,
    },
    Unwind(Box<UnwindAsk>),
    Resolve(Box<ResolveAsk>),
    Code(Box<CodeAsk>),
    Source(SourceAsk),
    Edit(Box<EditAsk>),
}

/// What the kernel-view thread reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KernelAsk {
    /// Every thread's kernel view: `Msg::Kernel`.
    View,
    /// Off-CPU times and D-state kernel stacks, just before a stop: `Msg::PreStop`.
    PreStop,
}

/// What the run loop talks to; tests build one from plain channels.
pub struct Workers {
    pub symbols: Sender<SymbolAsk>,
    pub kernel: Sender<KernelAsk>,
    pub analysis: Sender<Box<AnalyseAsk>>,
    pub answers: Receiver<Msg>,
}

pub fn spawn(pid: i32) -> io::Result<Workers> {
    let (answer, answers) = unbounded();
    let cache = ModuleCache::new();
    Ok(Workers {
        symbols: spawn_symbols(pid, cache.clone(), answer.clone())?,
        kernel: spawn_kernel(pid, answer.clone())?,
        analysis: spawn_analysis(pid, cache, answer)?,
        answers,
    })
}

fn name_of(symbols: Option<&Symbolizer>, pc: u64) -> Option<String> {
    let loc = symbols?.symbolize(pc, false);
    let func = loc.function?;
    Some(if loc.offset == 0 {
        func
    } else {
        format!("{func}+{:#x}", loc.offset)
    })
}

/// Stack memory is read with the engine's bulk reader (process_vm_readv, then /proc/PID/mem):
/// no ptrace call, so it can run here while the tracer thread holds every thread stopped, and
/// at rest no int3 of ours is in memory.
fn unwind(pid: i32, symbols: &Symbolizer, ask: &UnwindAsk) -> BacktraceView {
    let mem = Memory::open_thread(pid, ask.tid).or_else(|_| Memory::open(pid));
    let bt = match mem {
        Ok(mem) => {
            let mut read = |addr: u64, buf: &mut [u8]| read_into(&mem, addr, buf);
            symbols::unwind(symbols, &ask.regs, &mut read, symbols::MAX_DEPTH)
        }
        Err(_) => {
            let mut nothing = |_: u64, _: &mut [u8]| 0;
            symbols::unwind(symbols, &ask.regs, &mut nothing, symbols::MAX_DEPTH)
        }
    };
    BacktraceView::from_backtrace(ask.gen, ask.tid, &bt)
}

/// Fills the front of `buf` from the process; returns how many bytes it could read.
fn read_into(mem: &Memory, addr: u64, buf: &mut [u8]) -> usize {
    let got = mem.read(addr, buf.len());
    buf[..got.len()].copy_from_slice(&got);
    got.len()
}

/// No symbols at all: code is still decoded, with nothing named.
struct NoSymbols;

impl code_view::CodeSymbols for NoSymbols {
    fn name(&self, _: u64) -> Option<String> {
        None
    }
    fn function(&self, _: u64) -> Option<symbols::FunctionSpan> {
        None
    }
    fn starts(&self, _: u64, _: u64) -> Vec<u64> {
        Vec::new()
    }
    fn line(&self, _: u64) -> Option<symbols::LineSpan> {
        None
    }
    fn module(&self, _: u64) -> Option<String> {
        None
    }
}

/// The symbols when they could not be loaded: every name says why.
struct Unavailable<'a>(&'a str);

impl Env for Unavailable<'_> {
    fn symbol(&self, _: Option<&str>, _: &str) -> Result<u64, ExprError> {
        Err(ExprError::NoSymbols(self.0.to_string()))
    }
}

/// A prompt's expression. Memory is lent only while the process is at rest (every thread
/// stopped, none of our int3 bytes in it), read like the stack above: no ptrace call.
fn evaluate(pid: i32, symbols: Result<&Symbolizer, &str>, ask: &ResolveAsk) -> Msg {
    let breakpoint = matches!(
        ask.purpose,
        Purpose::Breakpoint | Purpose::BreakpointWith { .. }
    );
    if let (true, Some((file, line))) = (breakpoint, symbols::parse_file_line(&ask.text)) {
        let result = match (&ask.purpose, symbols) {
            (Purpose::BreakpointWith { .. }, _) => Err(
                "a condition, ignore count or log text takes an address or a function, \
                 not a source line"
                    .to_string(),
            ),
            (_, Ok(s)) => s.addresses_of_line(file, line).map_err(|e| e.to_string()),
            (_, Err(why)) => Err(format!("no symbols: {why}")),
        };
        return Msg::LineResolved {
            text: ask.text.clone(),
            result,
        };
    }
    let result = evaluate_result(pid, symbols, ask);
    if !matches!(ask.purpose, Purpose::BreakpointWith { .. }) {
        return Msg::resolved(ask, result);
    }
    // The condition and log text bound here, where the symbols are.
    with_env(pid, symbols, None, false, |s, _| {
        breakpoint_spec::answer(ask, result, s)
    })
}

/// A source file by the line table's path: as it is, then under ptscope's working directory
/// and the binary's directory.
fn read_source(ask: &SourceAsk) -> Msg {
    let cwd = std::env::current_dir().ok();
    let binary = ask.binary.as_deref().map(std::path::Path::new);
    Msg::Source {
        path: ask.path.clone(),
        result: symbols::source::read(&ask.path, cwd.as_deref(), binary).map(std::sync::Arc::new),
    }
}

fn evaluate_result(
    pid: i32,
    symbols: Result<&Symbolizer, &str>,
    ask: &ResolveAsk,
) -> Result<u64, crate::expr::ExprError> {
    with_env(pid, symbols, ask.tid, ask.at_rest, |s, m| {
        resolve::answer(ask, Some(s), m)
    })
}

/// An `=` prompt's expressions, with the same symbols and memory as the other prompts'.
fn evaluate_edit(pid: i32, symbols: Result<&Symbolizer, &str>, ask: &EditAsk) -> Msg {
    let result = with_env(pid, symbols, ask.tid, ask.at_rest, |s, m| {
        assign::evaluate(ask, Some(s), m)
    });
    Msg::EditResolved {
        text: ask.text.clone(),
        result,
    }
}

/// Runs `f` with the symbols (or why there are none) and, at rest, the thread's memory.
fn with_env<T>(
    pid: i32,
    symbols: Result<&Symbolizer, &str>,
    tid: Option<crate::tracer::thread::Tid>,
    at_rest: bool,
    f: impl FnOnce(&dyn Env, Option<&resolve::ReadFn>) -> T,
) -> T {
    let unavailable = Unavailable(symbols.err().unwrap_or_default());
    let symbols: &dyn Env = match symbols {
        Ok(s) => s,
        Err(_) => &unavailable,
    };
    let mem = at_rest
        .then(|| {
            tid.map_or_else(|| Memory::open(pid), |t| Memory::open_thread(pid, t))
                .or_else(|_| Memory::open(pid))
                .ok()
        })
        .flatten();
    match mem {
        Some(mem) => {
            let read = |addr: u64, buf: &mut [u8]| read_into(&mem, addr, buf);
            f(symbols, Some(&read))
        }
        None => f(symbols, None),
    }
}

fn spawn_symbols(
    pid: i32,
    cache: std::sync::Arc<ModuleCache>,
    answer: Sender<Msg>,
) -> io::Result<Sender<SymbolAsk>> {
    let (ask, asks) = unbounded::<SymbolAsk>();
    std::thread::Builder::new()
        .name("ptscope-symbols".into())
        .spawn(move || {
            let mut symbols: Option<Symbolizer> = None;
            let mut why_none = String::new();
            while let Ok(first) = asks.recv() {
                // Everything already queued is one batch: one map refresh, every prompt in
                // order, and only the newest unwind (the selection may have moved on past the
                // others).
                let mut pcs: Vec<(u64, Vec<u64>)> = Vec::new();
                let mut walk = None;
                let mut prompts = Vec::new();
                let mut code = None;
                let mut sources = Vec::new();
                let mut edits = Vec::new();
                for a in std::iter::once(first).chain(asks.try_iter()) {
                    match a {
                        SymbolAsk::Names { image, pcs: p } => match pcs.last_mut() {
                            Some((i, all)) if *i == image => all.extend(p),
                            _ => pcs.push((image, p)),
                        },
                        SymbolAsk::Unwind(u) => walk = Some(u),
                        SymbolAsk::Resolve(r) => prompts.push(r),
                        // Only the newest: the selection or the syntax moved on past the others.
                        SymbolAsk::Code(c) => code = Some(c),
                        SymbolAsk::Source(s) => sources.push(s),
                        SymbolAsk::Edit(e) => edits.push(e),
                    }
                }
                match symbols.as_mut() {
                    Some(s) => {
                        let _ = s.refresh();
                    }
                    None => match Symbolizer::with_cache(pid, cache.clone()) {
                        Ok(s) => symbols = Some(s),
                        Err(e) => why_none = e.to_string(),
                    },
                }
                // Someone is waiting on these.
                for r in &prompts {
                    let s = symbols.as_ref().ok_or(why_none.as_str());
                    if answer.send(evaluate(pid, s, r)).is_err() {
                        return;
                    }
                }
                for e in &edits {
                    let s = symbols.as_ref().ok_or(why_none.as_str());
                    if answer.send(evaluate_edit(pid, s, e)).is_err() {
                        return;
                    }
                }
                if let Some(c) = code {
                    // GOT slots and PLT stubs, read like the stack: no ptrace call.
                    let mem = Memory::open_thread(pid, c.key.tid).or_else(|_| Memory::open(pid));
                    let read = |addr: u64, buf: &mut [u8]| match &mem {
                        Ok(m) => read_into(m, addr, buf),
                        Err(_) => 0,
                    };
                    let view = match symbols.as_ref() {
                        Some(s) => code_view::build(&c, s, &read),
                        None => code_view::build(&c, &NoSymbols, &read),
                    };
                    if answer.send(Msg::Code(Box::new(view))).is_err() {
                        return;
                    }
                }
                for s in &sources {
                    if answer.send(read_source(s)).is_err() {
                        return;
                    }
                }
                for (image, pcs) in pcs {
                    let names = pcs
                        .iter()
                        .map(|pc| (*pc, name_of(symbols.as_ref(), *pc)))
                        .collect();
                    if answer.send(Msg::PcNames { image, names }).is_err() {
                        return;
                    }
                }
                if let Some(u) = walk {
                    let view = match symbols.as_ref() {
                        Some(s) => unwind(pid, s, &u),
                        None => BacktraceView {
                            gen: u.gen,
                            tid: u.tid,
                            frames: Vec::new(),
                            ended: Some("no symbols: /proc/PID/maps unreadable".into()),
                        },
                    };
                    if answer.send(Msg::Backtrace(view)).is_err() {
                        return;
                    }
                }
            }
        })?;
    Ok(ask)
}

fn spawn_kernel(pid: i32, answer: Sender<Msg>) -> io::Result<Sender<KernelAsk>> {
    let (ask, asks) = unbounded::<KernelAsk>();
    std::thread::Builder::new()
        .name("ptscope-kernel".into())
        .spawn(move || {
            let mut reader = ProcReader::new();
            for a in asks {
                let msg = match a {
                    // A gone process reads as no threads; the model keeps its last picture.
                    KernelAsk::View => Msg::Kernel(reader.threads(pid).unwrap_or_default()),
                    KernelAsk::PreStop => Msg::PreStop(Box::new(gather::before_stop(pid))),
                };
                if answer.send(msg).is_err() {
                    return;
                }
            }
        })?;
    Ok(ask)
}

/// Only the newest stop's ask is worth working on: the process may have run on past the
/// others. Memory is read like the stacks above, without a ptrace call.
fn spawn_analysis(
    pid: i32,
    cache: std::sync::Arc<ModuleCache>,
    answer: Sender<Msg>,
) -> io::Result<Sender<Box<AnalyseAsk>>> {
    let (ask, asks) = unbounded::<Box<AnalyseAsk>>();
    std::thread::Builder::new()
        .name("ptscope-analysis".into())
        .spawn(move || {
            let mut symbols: Option<Symbolizer> = None;
            while let Ok(first) = asks.recv() {
                let job = asks.try_iter().fold(*first, |a, b| a.merge(*b));
                match symbols.as_mut() {
                    Some(s) => {
                        let _ = s.refresh();
                    }
                    // Without symbols waits are still told from /proc, with fewer kinds.
                    None => symbols = Symbolizer::with_cache(pid, cache.clone()).ok(),
                }
                let mut send = |m: Msg| answer.send(m).is_ok();
                hung::run(pid, &job, symbols.as_ref(), &mut send);
            }
        })?;
    Ok(ask)
}
